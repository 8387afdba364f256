"""`edgetrain local-stack run`: the whole pipeline on this machine, from a labeled CSV to a TF Lite model.

    edgetrain local-stack run                      # the bundled BCCD sample (what `make run` does)
    edgetrain local-stack run --keep               # keep the stack up afterwards, until Ctrl-C
    edgetrain local-stack run --data my/annotations.csv --model-type mobile-versatile-1 --budget 2000
    edgetrain local-stack run --backend vertex-ai   # the functions speak Vertex AI to the local service

Starts the Pub/Sub and Firestore emulators, `edgetrain serve` and every function under functions-framework,
wires them with push subscriptions and a scheduler loop, creates a dataset, publishes an import request and
follows the events until the MODEL_EXPORTED notification. Progress goes to stderr; the last line on stdout is
the absolute path of the exported model.tflite. Logs: var/localstack/<run>/. Exit codes: 0 model exported,
1 the pipeline or the stack failed, 2 bad arguments, 130 interrupted. Ctrl-C stops every process it started.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from edgetrain.localstack import BACKENDS, DEFAULT_FUNCTIONS_SOURCE, EXPORT_BUCKET, upstream
from edgetrain.localstack.console import make_console, say
from edgetrain.localstack.errors import LocalStackError
from edgetrain.sample_data import BCCD_SAMPLE_CSV, DEMO_TRAINER_OVERRIDES

if TYPE_CHECKING:  # the trainer (TensorFlow) is imported only when the rows are checked
    from edgetrain_trainer.data.dataset import ImportReport

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
MODEL_TYPES = ("mobile-low-latency-1", "mobile-versatile-1", "mobile-high-accuracy-1")
DEFAULT_MODEL_TYPE = "mobile-low-latency-1"  # the fastest to train: the default run must end in 15 minutes
MAX_IMPORT_FOLDERS = 20  # more folders of images than this: their common folder is allowed instead
DEFAULT_BUDGET = 1_000  # AutoML's minimum (one node hour); the demo overrides stop training earlier


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    run_parser = sub.add_parser("run", help="start the stack, train on a dataset, print the model path")
    run_parser.add_argument(
        "--keep", action="store_true", help="keep the stack up until Ctrl-C (prints URLs)"
    )
    run_parser.add_argument(
        "--data",
        type=Path,
        default=BCCD_SAMPLE_CSV,
        metavar="CSV",
        help="AutoML import CSV, image paths relative to it or absolute (default: bundled BCCD sample)",
    )
    run_parser.add_argument(
        "--model-type",
        default=DEFAULT_MODEL_TYPE,
        choices=MODEL_TYPES,
        metavar="TYPE",
        help=f"{', '.join(MODEL_TYPES)} (default {DEFAULT_MODEL_TYPE})",
    )
    run_parser.add_argument(
        "--budget",
        type=int,
        default=DEFAULT_BUDGET,
        metavar="N",
        help=f"train budget in milli node hours, 1,000-100,000 (default {DEFAULT_BUDGET:,})",
    )
    run_parser.add_argument(
        "--backend",
        default=BACKENDS[0],
        choices=BACKENDS,
        help="the API the functions train through: automl-v1 (AutoML Vision v1) or vertex-ai (the Vertex AI "
        f"subset, as against Google's managed AutoML); `edgetrain serve` speaks both (default {BACKENDS[0]})",
    )
    run_parser.add_argument(
        "--trainer-overrides",
        type=Path,
        default=DEMO_TRAINER_OVERRIDES,
        metavar="FILE",
        help="JSON trainer settings for `edgetrain serve` (default: the demo's, which cap training time; "
        "see --full-training)",
    )
    run_parser.add_argument(
        "--full-training",
        action="store_true",
        help="no trainer overrides: train until convergence or the budget, as the service does by default",
    )
    run_parser.add_argument(
        "--poll-interval",
        type=float,
        default=10.0,
        metavar="S",
        help="seconds between scheduler ticks to poll_operations (default 10; Cloud Scheduler: 60)",
    )
    run_parser.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        metavar="MIN",
        help="give up when no model is exported after this many minutes (default 60)",
    )
    run_parser.add_argument(
        "--functions-source",
        type=Path,
        default=DEFAULT_FUNCTIONS_SOURCE,
        metavar="MAIN_PY",
        help="the Cloud Functions source to serve (default: this checkout's functions/main.py)",
    )
    run_parser.add_argument(
        "--var-dir", type=Path, default=Path("var/localstack"), metavar="DIR",
        help="where each run's logs and service data go, in a folder per run (default var/localstack)",
    )  # fmt: skip


def _usage_error(args: argparse.Namespace) -> str | None:
    if not 1_000 <= args.budget <= 100_000:
        return f"--budget {args.budget}: must be 1,000-100,000 milli node hours"
    if not (0 < args.poll_interval < math.inf and 0 < args.timeout < math.inf):  # nan fails both
        return "--poll-interval and --timeout must be positive numbers"
    if not args.functions_source.is_file():
        return f"--functions-source {args.functions_source}: no such file (run from a checkout of edgetrain)"
    if not args.full_training and not args.trainer_overrides.is_file():
        return f"--trainer-overrides {args.trainer_overrides}: no such file"
    return None


def _load_overrides(args: argparse.Namespace) -> dict | None:
    if args.full_training:
        return None
    overrides = json.loads(args.trainer_overrides.read_text())
    if not isinstance(overrides, dict):
        raise ValueError(f"--trainer-overrides {args.trainer_overrides}: must hold a JSON object")
    return overrides


def _check_rows(console, csv_path: Path) -> ImportReport:
    """Validate the rows as ImportData will, before any process starts: the bad ones are listed (the import
    skips them); LocalStackError when no image would have a box to train on."""
    from edgetrain_trainer.data.dataset import validate_import
    from edgetrain_trainer.errors import DatasetError

    try:
        # As the service checks rows: each file apart, so every folder an image is read from is known.
        report = validate_import(csv_path, by_content=False)
    except DatasetError as error:
        raise LocalStackError(f"--data {error}") from error
    for error in report.errors:
        console.print(f"bad row: {error}", markup=False)
    if not report.usable:
        raise LocalStackError(f"--data {csv_path}: {report.unusable_reason()}")
    return report


def _import_folders(csv_path: Path, report: ImportReport) -> tuple[Path, ...]:
    """The folders the stack's service may import from: the CSV's and its images' (as the service resolves
    them), none inside another."""
    folders = {csv_path.parent.resolve(), *(ex.image_path.resolve().parent for ex in report.dataset.examples)}
    kept: list[Path] = []
    for folder in sorted(folders, key=lambda f: f.parts):  # a folder sorts right before those inside it
        if not kept or kept[-1] not in folder.parents:
            kept.append(folder)
    # A folder per class or per image would make a long list the service checks each image against: their
    # common folder instead, unless that opens the whole home folder or more.
    common = Path(os.path.commonpath(kept))
    if len(kept) > MAX_IMPORT_FOLDERS and common not in (
        Path(common.anchor),
        Path.home(),
        *Path.home().parents,
    ):
        return (common,)
    return tuple(kept)


# Set by Ctrl-C or `kill` as well as raising: a KeyboardInterrupt that lands in a weakref callback or a
# finalizer is printed and swallowed ("Exception ignored in ..."), and the run would go on to the end.
_STOP_ASKED = threading.Event()


def _raise_interrupt(signum, _frame) -> None:
    _STOP_ASKED.set()
    raise KeyboardInterrupt(f"signal {signum}")


def run(args: argparse.Namespace) -> int:
    from edgetrain.localstack.follow import NotificationListener  # these import the Google clients
    from edgetrain.localstack.stack import LocalStack, StackConfig

    console = make_console()
    problem = _usage_error(args)
    if problem:
        console.print(f"edgetrain local-stack run: {problem}", markup=False)
        return EXIT_USAGE
    try:
        csv_path = upstream.check_csv(args.data)
        overrides = _load_overrides(args)
        import_folders = _import_folders(csv_path, _check_rows(console, csv_path))
    except (LocalStackError, ValueError) as error:
        console.print(f"edgetrain local-stack run: {error}", markup=False)
        return EXIT_USAGE
    run_id = datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir = args.var_dir / run_id
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:  # --var-dir under a file, or not writable
        problem = f"--var-dir {args.var_dir}: cannot create a run folder in it ({error.strerror or error})"
        console.print(f"edgetrain local-stack run: {problem}", markup=False)
        return EXIT_USAGE

    config = StackConfig(
        run_dir=run_dir,
        functions_source=args.functions_source.resolve(),
        trainer_overrides=overrides,
        poll_interval_s=args.poll_interval,
        allow_local_dirs=import_folders,
        backend=args.backend,
        function_env={
            "DEFAULT_MODEL_TYPE": args.model_type,
            "DEFAULT_BUDGET_MILLI_NODE_HOURS": str(args.budget),
            "STATUS_REFRESH_S": "5",
        },
    )
    _STOP_ASKED.clear()
    for signum in (signal.SIGINT, signal.SIGTERM):  # `kill` stops the stack as cleanly as Ctrl-C
        signal.signal(signum, _raise_interrupt)
    started = time.monotonic()
    stack = LocalStack(config)
    model_path, code, listener = None, EXIT_FAILED, None
    try:
        stack.start(on_step=lambda message: say(console, message))
        _print_urls(console, stack)
        # Open for the whole run: with --keep it goes on printing notifications (form-started trainings).
        listener = NotificationListener(stack, console)
        model_path = _train_once(console, stack, listener, csv_path, run_id, args)
        if _STOP_ASKED.is_set():  # asked while a swallowed interrupt let the run go on
            raise KeyboardInterrupt("stop asked")
        say(console, f"model exported after {(time.monotonic() - started) / 60:.1f} min", "green")
        code = EXIT_OK
        if args.keep:
            _keep(console, stack, model_path)
    except KeyboardInterrupt:
        say(console, "interrupted")
        code = EXIT_INTERRUPTED
    except Exception as error:  # any failure: say why, then stop every process below
        say(console, f"failed: {error}", "red")
        say(console, f"logs: {stack.run_dir}")
        if args.keep:
            _keep_after_failure(console, stack)
    finally:
        # A second Ctrl-C must not cut the clean-up short and leave processes behind.
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, signal.SIG_IGN)
        say(console, "stopping the stack (Ctrl-C is ignored until every process is down)")
        if listener is not None:
            listener.close()
        stack.stop()
        say(console, f"stopped; total {(time.monotonic() - started) / 60:.1f} min; logs in {stack.run_dir}")
    if model_path is not None:
        print(model_path, flush=True)
    return code


def _train_once(console, stack, listener, csv_path: Path, run_id: str, args: argparse.Namespace) -> Path:
    from edgetrain.localstack.follow import RunFollower

    dataset = upstream.create_dataset(
        stack.service.grpc_target,
        stack.config.project,
        stack.config.location,
        upstream.display_name_for(csv_path),
        stack.config.backend,
    )
    say(console, f"dataset {dataset} ({stack.config.backend})")
    source = str(csv_path)
    if stack.config.backend == "vertex-ai":
        prefix = f"gs://{EXPORT_BUCKET}/imports/{run_id}"
        source = upstream.vertex_import_file(csv_path, stack.service.storage_root, prefix)
        say(console, f"wrote Vertex's JSON Lines import file {source}")
    request = upstream.import_request(dataset, source, f"localstack-{run_id}")
    stack.publish(stack.topics.TOPIC_IMPORT_REQUESTS, request, origin="localstack")
    say(console, f"published the import request for {csv_path} ({args.model_type}, budget {args.budget:,})")
    follower = RunFollower(stack, dataset.rsplit("/", 1)[-1], console)
    model = follower.wait_for_model(listener, args.timeout * 60, stop_asked=_STOP_ASKED.is_set)
    if follower.training_id:
        url = evaluation_url(stack, follower.training_id)
        if args.keep:
            say(console, f"evaluation view: {url}", "bold")
        try:
            saved = save_evaluation_view(url, stack.run_dir / "evaluation.html")
            say(console, f"evaluation view, saved as one file: {saved}", "bold")
        except OSError as error:  # requests' errors are OSErrors too; the model is exported all the same
            say(console, f"evaluation view {url} not saved: {error}", "yellow")
    return model


def save_evaluation_view(url: str, dest: Path) -> Path:
    """The status page's view of the model as one HTML file (its pictures inside), to open once the stack is
    down."""
    import requests

    response = requests.get(url, params={"inline": "1"}, timeout=60)
    response.raise_for_status()
    dest.write_text(response.text, encoding="utf-8")
    return dest


def evaluation_url(stack, training_id: str) -> str:
    """The status page's view of one training's model (functions/edgetrain_pipeline/status_page)."""
    return f"{stack.urls()['status_page']}/training/{quote(training_id, safe='')}"


def _print_urls(console, stack) -> None:
    urls = stack.urls()
    say(console, f"status page: {urls['status_page']}/", "bold")
    say(console, f"AutoML service: REST {urls.get('automl_rest')}  gRPC {urls.get('automl_grpc')}")
    if stack.config.backend == "vertex-ai":
        say(console, f"Vertex AI subset (what the functions use): REST {urls.get('vertex_rest')}  same gRPC")
    say(console, f"emulators: Pub/Sub {stack.pubsub.host}  Firestore {stack.firestore.host}")


def _keep(console, stack, model_path: Path) -> None:
    say(console, f"model: {model_path}")
    _keep_after_failure(console, stack)


def _keep_after_failure(console, stack) -> None:
    say(console, "stack kept up; Ctrl-C stops it. Point clients at it with:")
    for name, value in stack.client_env().items():
        console.print(f"  export {name}={value}", markup=False)
    endpoint = "VERTEX_ENDPOINT" if stack.config.backend == "vertex-ai" else "AUTOML_ENDPOINT"
    console.print(f"  export TRAINING_BACKEND={stack.config.backend}", markup=False)
    console.print(f"  export {endpoint}={stack.service.grpc_target}", markup=False)
    for name, url in stack.urls().items():
        console.print(f"  {name:<20} {url}", markup=False)
    try:
        while not stack.dead_processes():
            time.sleep(1)
        say(console, f"stack process exited: {'; '.join(stack.dead_processes())}", "red")
    except KeyboardInterrupt:
        pass
