"""`edgetrain serve`: the self-hosted AutoML Vision v1 service (gRPC and REST) until SIGTERM or Ctrl-C.

    edgetrain serve --data-dir var/service --storage-root var/gcs
    edgetrain serve --host 0.0.0.0 --token "$TOKEN"          # other interfaces need a bearer token

Prints one line "edgetrain serve ready grpc=HOST:PORT rest=http://HOST:PORT vertex_rest=http://HOST:PORT" on
stdout once it accepts requests (ports 0 pick free ones), then one log line per request on stderr. The Vertex
AI surface shares the gRPC port and has a REST port of its own.
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path

READY_PREFIX = "edgetrain serve ready"


def _port(text: str) -> int:
    """An argparse type: a TCP port, 0 (any free port) to 65535."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port: 0 (any free port) to 65535")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--grpc-port", type=_port, default=8600, help="gRPC port (default 8600; 0 = any free port)"
    )
    parser.add_argument(
        "--rest-port", type=_port, default=8601, help="REST port (default 8601; 0 = any free port)"
    )
    parser.add_argument(
        "--vertex-rest-port",
        type=_port,
        default=8602,
        help="Vertex AI surface REST port (default 8602; 0 = any free port)",
    )
    parser.add_argument(
        "--data-dir", type=Path, default=Path("var/service"), help="database and files (default var/service)"
    )
    parser.add_argument(
        "--storage-root",
        type=Path,
        default=None,
        help="local directory holding gs://BUCKET/… as BUCKET/… (default DATA_DIR/storage)",
    )
    parser.add_argument(
        "--allow-local-dir",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help="a local folder ImportData may read CSVs and images from, besides the storage root (repeatable; "
        "by default imports read only the storage root)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="trainings run at once (default 1); more are queued. 0: queue-only (accept and keep trainings, "
        "run none; for draining a machine or load tests)",
    )
    parser.add_argument(
        "--token",
        default=os.environ.get("EDGETRAIN_TOKEN"),
        help="bearer token clients must send (required off loopback; env EDGETRAIN_TOKEN)",
    )
    parser.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="HOST:PORT",
        help="a Host header the REST port answers to besides 127.0.0.1, localhost and [::1] with its port "
        "(repeatable; checked only without --token)",
    )
    parser.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="a browser origin (e.g. http://localhost:3000) allowed to call the REST API; any other request "
        "with an Origin header is refused (repeatable)",
    )
    parser.add_argument(
        "--cancel-grace-seconds",
        type=float,
        default=30.0,
        help="how long a cancelled running training or export may take to stop by itself before its "
        "worker process is killed (default 30)",
    )
    parser.add_argument(
        "--progress-uri-prefix",
        default="",
        metavar="gs://BUCKET/PATH/",
        help="where each running training writes its learning curve as OPERATION_ID.json (under the storage "
        "root), for the pipeline's poll to carry to the status page (default: none written)",
    )
    parser.add_argument(
        "--trainer-overrides",
        type=Path,
        default=None,
        metavar="FILE",
        help='a JSON file of trainer settings every training uses, e.g. one holding {"max_epochs": 1}',
    )


def _load_overrides(path: Path | None) -> dict:
    """The --trainer-overrides file's settings; ValueError says what is wrong with it."""
    if path is None:
        return {}
    if not path.is_file():
        hint = " (it takes the path of a JSON file)" if str(path).lstrip().startswith("{") else ""
        raise ValueError(f"no such file{hint}")
    try:
        overrides = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise ValueError(str(error)) from error
    if not isinstance(overrides, dict):
        raise ValueError("must hold a JSON object")
    from edgetrain_trainer.config import TrainerConfig
    from edgetrain_trainer.errors import InvalidArgumentError

    try:  # fail at start-up, not in every training
        TrainerConfig.from_overrides(overrides)
    except InvalidArgumentError as error:
        raise ValueError(str(error)) from error
    return overrides


def _progress_prefix_problem(prefix: str) -> str | None:
    """Why trainings could not write their curves under `prefix`, or None."""
    from .errors import ServiceError
    from .gcs_names import split_gcs_uri

    if not prefix.startswith("gs://"):
        return f"{prefix!r}: must be gs://BUCKET/PATH/"
    try:
        split_gcs_uri(prefix, "--progress-uri-prefix")
    except ServiceError as error:
        return error.message.removeprefix("--progress-uri-prefix: ")
    return None


def _cannot_create(folder: Path) -> str | None:
    """Why `folder` cannot be the service's folder, or None (it exists or was created)."""
    nearest = next(path for path in (folder, *folder.parents) if path.exists())
    if not nearest.is_dir():
        return f"{nearest} is a file, not a folder"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        return f"cannot create it ({error.strerror or error})"
    return None


def run(args: argparse.Namespace) -> int:
    from .auth import is_loopback
    from .config import ServiceConfig
    from .http_guard import HttpGuard
    from .server import Service

    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if not is_loopback(args.host) and not args.token:
        print(f"edgetrain serve: binding {args.host} (not loopback) requires --token", file=sys.stderr)
        return 2
    if args.workers < 0:
        print("edgetrain serve: --workers must be 0 (queue-only) or more", file=sys.stderr)
        return 2
    if not args.cancel_grace_seconds >= 0:  # nan too: it killed every cancelled worker at once
        print("edgetrain serve: --cancel-grace-seconds must be a number, 0 or more", file=sys.stderr)
        return 2
    for flag, folder in (("--data-dir", args.data_dir), ("--storage-root", args.storage_root)):
        problem = folder and _cannot_create(folder)
        if problem:
            print(f"edgetrain serve: {flag} {folder}: {problem}", file=sys.stderr)
            return 2
    missing = [str(folder) for folder in args.allow_local_dir if not folder.is_dir()]
    if missing:
        print(f"edgetrain serve: --allow-local-dir {', '.join(missing)}: no such folder", file=sys.stderr)
        return 2
    problem = args.progress_uri_prefix and _progress_prefix_problem(args.progress_uri_prefix)
    if problem:  # checked now, not by every training that would write there
        print(f"edgetrain serve: --progress-uri-prefix {problem}", file=sys.stderr)
        return 2
    try:
        overrides = _load_overrides(args.trainer_overrides)
    except ValueError as error:
        print(f"edgetrain serve: --trainer-overrides {args.trainer_overrides}: {error}", file=sys.stderr)
        return 2
    if args.workers == 0:
        logging.getLogger("edgetrain.serve").warning(
            "--workers 0: trainings stay queued until the service starts with --workers 1 or more"
        )
    config = ServiceConfig(
        data_dir=args.data_dir,
        storage_root=args.storage_root or args.data_dir / "storage",
        workers=args.workers,
        trainer_overrides=overrides,
        cancel_grace_s=args.cancel_grace_seconds,
        allowed_dirs=args.allow_local_dir,
        progress_uri_prefix=args.progress_uri_prefix,
    )
    try:
        guard = HttpGuard(
            check_host=not args.token,
            hosts=frozenset(host.lower() for host in args.allow_host),
            origins=frozenset(args.allow_origin),
        )
        service = Service(
            config, args.host, args.grpc_port, args.rest_port, args.token, guard, args.vertex_rest_port
        )
    except (OSError, RuntimeError) as error:  # a port in use, an unwritable data dir
        print(f"edgetrain serve: cannot start: {error}", file=sys.stderr)
        return 1
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    service.start()
    ready = f"grpc={service.grpc_target} rest={service.rest_url} vertex_rest={service.vertex_rest_url}"
    print(f"{READY_PREFIX} {ready}", flush=True)
    stopping.wait()
    service.stop()
    return 0


def dump_stacks_on_crash() -> None:
    """On a crash in native code (gRPC, TensorFlow) print every Python thread's stack to stderr before the
    process dies, so the report says where instead of a bare signal."""
    if faulthandler.is_enabled():
        return
    try:
        faulthandler.enable()
    except (AttributeError, ValueError, OSError, RuntimeError):  # no stderr, or one without a file descriptor
        pass


def main(argv: list[str] | None = None) -> int:
    """`python -m edgetrain_service.cli`: the same as `edgetrain serve`, without loading other subcommands."""
    dump_stacks_on_crash()
    parser = argparse.ArgumentParser(prog="edgetrain serve", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
