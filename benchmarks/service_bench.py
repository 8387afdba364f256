"""Service benchmark: p50/p99 latency of GetOperation and ListOperations(filter) over gRPC with 10,000 stored
operations and 50 concurrent clients; optionally the service's overhead around one (tiny) training.

    python -m benchmarks.service_bench                       # 10,000 operations, 50 clients, 20 s
    python -m benchmarks.service_bench --seconds 5 --operations 2000
    python -m benchmarks.service_bench --training            # + service wall time minus trainer wall time

Operations are seeded straight into a fresh data dir's database (half done, spread over datasets and
models), then `edgetrain serve` is started on it. Clients are threads of this process, each with its own
channel; latency is measured at the client, so it includes client-side Python overhead. Results are appended
to benchmarks/results/service.jsonl.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
from google.cloud import automl_v1
from google.longrunning import operations_pb2

from benchmarks.interrupts import stop_cleanly_on_sigterm
from benchmarks.machine import git_info, machine_info
from benchmarks.report import RESULTS_DIR, save_record
from edgetrain_service import operations
from edgetrain_service.config import ServiceConfig
from edgetrain_service.process import ServiceProcess
from edgetrain_service.protos import Empty
from edgetrain_service.store import Store

RESULTS = RESULTS_DIR / "service.jsonl"
PARENT = "projects/bench/locations/us-central1"
LIST_FILTER = f"done=false AND worksOn={PARENT}/models/*"


def seed(data_dir: Path, count: int) -> list[str]:
    """Insert `count` operations (every other one done) in one transaction; returns their names."""
    config = ServiceConfig(data_dir=data_dir, storage_root=data_dir / "storage")
    data_dir.mkdir(parents=True, exist_ok=True)
    store = Store(config.db_path)
    names = []
    with store.tx() as db:
        for i in range(count):
            works_on = f"{PARENT}/{'models' if i % 3 else 'datasets'}/IOD{1000 + i % 97}"
            op = operations.start(db, PARENT, works_on, "create_model_details")
            if i % 2:
                operations.finish(db, op.name, response=Empty())
            names.append(op.name)
    return names


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered), 2),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 2),
        "requests": len(ordered),
    }


def load(target: str, names: list[str], clients: int, seconds: float) -> dict[str, Any]:
    """`clients` threads, each alternating GetOperation (random name) and ListOperations(filter)."""
    get_ms: list[float] = []
    list_ms: list[float] = []
    errors = []
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def client(seed_value: int) -> None:
        rng = random.Random(seed_value)
        channel = grpc.insecure_channel(target)
        get = channel.unary_unary(
            "/google.longrunning.Operations/GetOperation",
            request_serializer=operations_pb2.GetOperationRequest.SerializeToString,
            response_deserializer=operations_pb2.Operation.FromString,
        )
        lst = channel.unary_unary(
            "/google.longrunning.Operations/ListOperations",
            request_serializer=operations_pb2.ListOperationsRequest.SerializeToString,
            response_deserializer=operations_pb2.ListOperationsResponse.FromString,
        )
        mine_get, mine_list = [], []
        try:
            while time.monotonic() < stop_at:
                started = time.perf_counter()
                get(operations_pb2.GetOperationRequest(name=rng.choice(names)), timeout=30)
                mine_get.append((time.perf_counter() - started) * 1000)
                started = time.perf_counter()
                lst(
                    operations_pb2.ListOperationsRequest(name=PARENT, filter=LIST_FILTER, page_size=50),
                    timeout=30,
                )
                mine_list.append((time.perf_counter() - started) * 1000)
        except grpc.RpcError as error:
            errors.append(str(error.code()))
        finally:
            channel.close()
        with lock:
            get_ms.extend(mine_get)
            list_ms.extend(mine_list)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {
        "get_operation": percentiles(get_ms),
        "list_operations": percentiles(list_ms),
        "errors": len(errors),
        "seconds": seconds,
    }


def training_overhead(root: Path) -> dict[str, Any]:
    """Service wall time (created → done) minus the trainer's own wall time, for one tiny training."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.service.conftest import (
        TINY_TRAINER,
        create_imported_dataset,
        grpc_clients,
        start_training,
        write_cards_subset,
    )

    with ServiceProcess(
        root / "train-data", storage_root=root / "gcs", trainer_overrides=TINY_TRAINER
    ) as service:
        client, _ = grpc_clients(service.grpc_target)
        dataset = create_imported_dataset(client, "bench", write_cards_subset(root / "gcs", "bench"))
        op = start_training(client, dataset, "bench", "mobile-low-latency-1")
        model = op.result(timeout=1800)
        # Server-side times (operation created → finished), so client polling does not count.
        meta = client.transport.operations_client.get_operation(op.operation.name).metadata
        times = automl_v1.OperationMetadata.deserialize(meta.value)
        service_s = (times.update_time - times.create_time).total_seconds()
        model_id = model.name.rsplit("/", 1)[1]
        result = json.loads((root / "train-data" / "models" / model_id / "result.json").read_text())
        trainer_s = result["wall_seconds"]
    return {
        "service_wall_s": round(service_s, 1),
        "trainer_wall_s": round(trainer_s, 1),
        "overhead_pct": round(100 * (service_s - trainer_s) / trainer_s, 2),
    }


def main(argv: list[str] | None = None) -> int:
    stop_cleanly_on_sigterm()  # `kill` or `timeout`: stop what the benchmark started
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.service_bench", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--operations", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--training", action="store_true", help="also measure the overhead around a training")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="service-bench-") as tmp:
        root = Path(tmp)
        names = seed(root / "data", args.operations)
        with ServiceProcess(root / "data", workers=1) as service:
            result = load(service.grpc_target, names, args.clients, args.seconds)
        record = {
            "benchmark": "service",
            "time": datetime.now(UTC).isoformat(timespec="seconds"),
            "stored_operations": args.operations,
            "clients": args.clients,
            "filter": LIST_FILTER,
            **result,
            "machine": machine_info(),
            "git": git_info(),
        }
        if args.training:
            record["training"] = training_overhead(root)
    print(json.dumps(record, indent=1))
    save_record(RESULTS, record)
    return 0 if result["errors"] == 0 else 1


def render_markdown(records: list[dict[str, Any]]) -> str:
    lines = [
        "## service",
        "",
        "gRPC latency at the client, 50 concurrent clients (threads), seeded operations.",
        "",
        "| time | ops stored | clients | GetOperation p50 / p99 ms | ListOperations(filter) p50 / p99 ms | "
        "errors | training overhead % | load 1m |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in records[-20:]:
        get, lst = r["get_operation"], r["list_operations"]
        overhead = r.get("training", {}).get("overhead_pct", "")
        lines.append(
            f"| {r['time']} | {r['stored_operations']} | {r['clients']} | {get['p50_ms']} / {get['p99_ms']} "
            f"| {lst['p50_ms']} / {lst['p99_ms']} | {r['errors']} | {overhead} | "
            f"{r['machine']['load_average_1m']} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
