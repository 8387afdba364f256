"""Event pipeline benchmarks on the real emulators and the real AutoML service (no training runs: the
service starts with --workers 0, so every CreateModel stays queued and counts as a running operation).

    python -m benchmarks.pipeline_bench                      # defaults: 10 events, 1,000 operations
    python -m benchmarks.pipeline_bench --events 20 --operations 2000 --changed 100

Measures (1) event → CreateModel latency: one dataset-imported CloudEvent into start_training until its
CreateModel operation is recorded in Firestore; (2) one poll tick over N running operations, where only
--changed of the trainings' Firestore documents differ from AutoML (the tick must write exactly those),
and a second tick with nothing changed (no writes). Appends one record to benchmarks/results/pipeline.jsonl.
"""

from __future__ import annotations

import argparse
import base64
import csv
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.interrupts import stop_cleanly_on_sigterm
from benchmarks.machine import git_info, machine_info
from benchmarks.report import RESULTS_DIR, save_record

ROOT = Path(__file__).resolve().parents[1]
RESULTS = RESULTS_DIR / "pipeline.jsonl"
SAMPLE = ROOT / "edgetrain" / "sample_data" / "bccd_sample"
PROJECT = "edgetrain-bench"
TICK_TARGET_S = 5.0  # issue 4: one tick over 1,000 running operations within 5 s


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.pipeline_bench", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--events", type=int, default=10, help="start_training events timed (one dataset each)"
    )
    parser.add_argument("--operations", type=int, default=1000, help="running operations for the poll tick")
    parser.add_argument("--changed", type=int, default=100, help="trainings whose progress changed")
    parser.add_argument("--results", type=Path, default=RESULTS)
    return parser.parse_args(argv)


def _tiny_csv(storage_root: Path) -> str:
    """Four bundled sample images as gs://bench/sample/annotations.csv under the service's storage root."""
    rows = list(csv.reader((SAMPLE / "annotations.csv").open()))
    images = list(dict.fromkeys(r[1] for r in rows if r[0] == "TRAIN"))[:4]
    folder = storage_root / "bench" / "sample"
    (folder / "images").mkdir(parents=True, exist_ok=True)
    for image in images:
        shutil.copy(SAMPLE / image, folder / image)
    with (folder / "annotations.csv").open("w", newline="") as out:
        csv.writer(out).writerows([r[0], f"gs://bench/sample/{r[1]}", *r[2:]] for r in rows if r[1] in images)
    return "gs://bench/sample/annotations.csv"


def _datasets(automl, csv_uri: str, count: int) -> list[str]:
    from google.cloud import automl_v1

    names = []
    for i in range(count):
        dataset = automl_v1.Dataset(display_name=f"bench_{i}", image_object_detection_dataset_metadata={})
        name = (
            automl.client.create_dataset(parent=automl.location_path, dataset=dataset)
            .result(timeout=120)
            .name
        )
        config = automl_v1.InputConfig(gcs_source=automl_v1.GcsSource(input_uris=[csv_uri]))
        automl.client.import_data(name=name, input_config=config).result(timeout=300)
        names.append(name)
    return names


def _pubsub_cloud_event(payload: dict, event_id: str):
    from cloudevents.http import CloudEvent

    data = base64.b64encode(json.dumps(payload).encode()).decode()
    attributes = {
        "type": "google.cloud.pubsub.topic.v1.messagePublished",
        "id": event_id,
        "source": f"//pubsub.googleapis.com/projects/{PROJECT}/topics/bench",
    }
    return CloudEvent(attributes, {"message": {"data": data, "messageId": event_id}})


def _event_latency(deps, datasets: list[str]) -> list[float]:
    """Seconds from posting each dataset's event to start_training (as a push would) to its response."""
    import functions_framework
    from cloudevents.conversion import to_structured

    client = functions_framework.create_app(
        "start_training", str(ROOT / "functions" / "main.py"), "cloudevent"
    )
    client = client.test_client()
    seconds = []
    for i, dataset in enumerate(datasets):
        headers, body = to_structured(
            _pubsub_cloud_event({"schemaVersion": 1, "dataset": dataset}, f"bench-{i}")
        )
        started = time.perf_counter()
        status = client.post("/", headers=headers, data=body).status_code
        seconds.append(time.perf_counter() - started)
        (training,) = deps.store.query("trainings", "dataset", "==", dataset)
        if status != 200 or not training.get("operation"):
            raise RuntimeError(f"event {i} did not start a training: HTTP {status}, {training}")
    return seconds


class _QueuedOperations:
    """AutoML's operation listing as it would look with `count` queued CreateModel operations; used when the
    service cannot hold operations queued (a service that refuses --workers 0 would start training them)."""

    def __init__(self, prefix: str, count: int):
        from edgetrain_pipeline.training_backend import TRAINING, OperationView

        self.ops = {
            f"{prefix}/operations/BENCH{i}": OperationView(
                name=f"{prefix}/operations/BENCH{i}",
                done=False,
                kind=TRAINING,
                progress_percent=0,
            )
            for i in range(count)
        }

    def list_operations(self, filter_: str = "") -> list:
        return list(self.ops.values())

    def get_operation(self, name: str):
        return self.ops[name]


def _seed_running(deps, dataset: str, operations: list[str], changed: int) -> None:
    """A RUNNING training document per operation; `changed` of them are recorded with a progress AutoML no
    longer reports (so the tick must write exactly those)."""
    stamp = datetime.now(UTC)
    docs = [
        (
            f"bench-{i:05d}",
            {
                "trainingId": f"bench-{i:05d}",
                "dataset": dataset,
                "datasetId": dataset.rsplit("/", 1)[-1],
                "state": "RUNNING",
                "operation": op,
                "progressPercent": -1 if i < changed else 0,
                "partialFailures": [],
                "createdAt": stamp,
            },
        )
        for i, op in enumerate(operations)
    ]
    deps.store.write_many("trainings", docs)


def _start_service(work: Path):
    """The service with no training worker if it allows that (operations stay queued), else one worker."""
    from edgetrain_service.process import ServiceProcess, ServiceStartError

    try:
        return ServiceProcess(data_dir=work / "service", workers=0).start(), True
    except ServiceStartError:
        return ServiceProcess(data_dir=work / "service-1", workers=1).start(), False


def _cancel_all(automl) -> None:
    """Cancel every unfinished operation, so no real training keeps the shared CPU busy."""
    for op in automl.list_operations("done=false"):
        automl.client.transport.operations_client.cancel_operation(op.name)


def _tick(deps) -> dict[str, Any]:
    from edgetrain_pipeline.usecases.poll_operations import poll_operations

    started = time.perf_counter()
    report = poll_operations(deps).data
    return {
        "seconds": round(time.perf_counter() - started, 3),
        "writes": report["progressWrites"],
        "running_operations": report["runningOperations"],
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT / "functions"))
    from edgetrain_pipeline.config import get_env
    from edgetrain_pipeline.deps import build, set_deps

    from edgetrain.localstack import emulators

    work = Path(tempfile.mkdtemp(prefix="pipeline-bench-"))
    with emulators.start_pubsub(work) as pubsub, emulators.start_firestore(work) as firestore:
        service, queue_only = _start_service(work)
        try:
            env = {
                **pubsub.env(),
                **firestore.env(),
                "GOOGLE_CLOUD_PROJECT": PROJECT,
                "AUTOML_ENDPOINT": service.grpc_target,
                "MIN_NEW_EXAMPLES": "0",
            }
            os.environ.update(env)
            get_env.cache_clear()
            deps = build(get_env())
            set_deps(deps)
            deps.publisher.publish = lambda topic, message, **attrs: "0"  # nothing subscribes here
            datasets = _datasets(deps.backend, _tiny_csv(Path(service.storage_root)), args.events)
            latency = _event_latency(deps, datasets)
            if not queue_only:
                _cancel_all(deps.backend)
            emulators.reset_firestore(firestore.host, PROJECT)
            if queue_only:
                ops = [
                    deps.backend.create_model(datasets[0], f"bench_{i}", "mobile-low-latency-1", 1000, {})
                    for i in range(args.operations)
                ]
            else:
                deps.backend = _QueuedOperations(deps.backend.location_path, args.operations)
                ops = list(deps.backend.ops)
            _seed_running(deps, datasets[0], ops, args.changed)
            first, second = _tick(deps), _tick(deps)
        finally:
            service.stop()
            set_deps(None)
    shutil.rmtree(work, ignore_errors=True)
    return {
        "benchmark": "pipeline",
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "events": args.events,
        "event_to_create_model_median_s": round(statistics.median(latency), 3),
        "event_to_create_model_max_s": round(max(latency), 3),
        "operations": args.operations,
        "changed": args.changed,
        "tick_automl": "service" if queue_only else "in-memory listing",
        "tick_seconds": first["seconds"],
        "tick_writes": first["writes"],
        "tick_running_operations": first["running_operations"],
        "unchanged_tick_seconds": second["seconds"],
        "unchanged_tick_writes": second["writes"],
        "tick_within_target": first["seconds"] <= TICK_TARGET_S and first["writes"] == args.changed,
        **git_info(),
        **machine_info(),
    }


def render_markdown(records: list[dict[str, Any]]) -> str:
    lines = [
        "## pipeline",
        "",
        f"Event → CreateModel latency (start_training on the real emulators and service) and one poll tick "
        f"over N running operations (target ≤ {TICK_TARGET_S:.0f} s for 1,000; writes only for changed). "
        "Operations listed by: the real service (queue-only, `--workers 0`) or an in-memory listing.",
        "",
        "| time | commit | load | events | latency median / max (s) | operations | listed by | changed | "
        "tick (s) | writes | unchanged tick (s) | writes |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in records[-20:]:
        lines.append(
            f"| {r['time']} | {(r.get('commit') or '')[:8]} | {r.get('load_average_1m')} | {r['events']} | "
            f"{r['event_to_create_model_median_s']} / {r['event_to_create_model_max_s']} | "
            f"{r['operations']} | {r.get('tick_automl', '')} | "
            f"{r['changed']} | {r['tick_seconds']} | {r['tick_writes']} | {r['unchanged_tick_seconds']} | "
            f"{r['unchanged_tick_writes']} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    stop_cleanly_on_sigterm()  # `kill` or `timeout`: stop what the benchmark started
    args = parse_args(sys.argv[1:] if argv is None else argv)
    record = run(args)
    save_record(args.results, record)
    print(json.dumps({k: v for k, v in record.items() if not isinstance(v, dict)}, indent=1))
    return 0 if record["tick_within_target"] else 1


if __name__ == "__main__":
    sys.exit(main())
