"""`edgetrain train`: train an edge detector from an AutoML CSV or a Pascal VOC folder.

    edgetrain train --csv data.csv --model-type mobile-low-latency-1 \
        --budget-milli-node-hours 1000 --out runs/x
    edgetrain train --csv more.csv --model-type mobile-low-latency-1 --init-from runs/x --out runs/y

Exit codes: 0 trained; 2 invalid arguments or unusable data; 1 training failed; 130 cancelled (Ctrl-C).
The first Ctrl-C asks the trainer to stop (it cleans up; nothing is left in --out); a second one aborts.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .config import TrainerConfig
from .errors import DatasetError, InvalidArgumentError, TrainerError, TrainingCancelled
from .export.staging import check_destination
from .types import (
    DEFAULT_BUDGET_MILLI_NODE_HOURS,
    DEFAULT_MODEL_TYPE,
    EXPORT_FORMATS,
    MAX_BUDGET_MILLI_NODE_HOURS,
    MIN_BUDGET_MILLI_NODE_HOURS,
    MODEL_TYPES,
    TrainRequest,
)

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CANCELLED = 0, 1, 2, 130


def add_arguments(parser: argparse.ArgumentParser) -> None:
    data = parser.add_mutually_exclusive_group(required=True)
    data.add_argument("--csv", type=Path, metavar="PATH", help="AutoML Vision object-detection import CSV")
    data.add_argument("--voc", type=Path, metavar="DIR", help="Pascal VOC folder (XML annotations + images)")
    parser.add_argument(
        "--model-type",
        default=DEFAULT_MODEL_TYPE,
        choices=MODEL_TYPES,
        metavar="TYPE",
        help=f"one of {', '.join(MODEL_TYPES)} (default {DEFAULT_MODEL_TYPE})",
    )
    parser.add_argument(
        "--budget-milli-node-hours",
        type=_budget,
        default=DEFAULT_BUDGET_MILLI_NODE_HOURS,
        metavar="N",
        help="1,000–100,000; 1,000 = one hour of this machine (default 24,000); "
        "training stops earlier when validation mAP stops improving",
    )
    parser.add_argument(
        "--out", type=Path, required=True, metavar="DIR", help="output folder (must not exist or be empty)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--quantization",
        choices=("int8", "float32"),
        default="int8",
        help="TF Lite weights and activations (default int8)",
    )
    parser.add_argument(
        "--export-format",
        dest="export_formats",
        nargs="+",
        action="extend",
        choices=EXPORT_FORMATS,
        metavar="FORMAT",
        help=f"one or more of {', '.join(EXPORT_FORMATS)} (default tflite)",
    )
    parser.add_argument(
        "--init-from",
        type=Path,
        metavar="DIR",
        help="warm start: begin from an earlier model of the same model type (the --out of its training, "
        "or that folder's model/) instead of ImageNet weights; the labels may differ",
    )
    parser.add_argument(
        "--overrides",
        default="{}",
        metavar="JSON",
        help="trainer settings as a JSON object, e.g. '{\"max_epochs\": 2}'",
    )


def run(args: argparse.Namespace) -> int:
    try:
        request = _request(args)
    except InvalidArgumentError as exc:
        return _usage_error(str(exc))

    from .data.dataset import validate_import

    try:
        report = validate_import(request.data)
    except DatasetError as exc:
        return _usage_error(str(exc))
    for error in report.errors:
        print(f"bad row: {error}", file=sys.stderr)
    if not report.usable:
        return _usage_error(f"{request.data}: {report.unusable_reason()}")
    evaluated_on = "TEST" if report.dataset.split_counts()["TEST"] else "VALIDATION"
    if "tf_js" in request.export_formats:  # fail now, not after hours of training
        return _usage_error(
            "--export-format tf_js is unavailable in this installation: the tensorflowjs converter requires "
            "TensorFlow 2.19 and cannot be installed beside the trainer's TensorFlow 2.21; "
            "use tflite or tf_saved_model"
        )

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TF's C++ info lines out of the progress display
    from .train import train  # TensorFlow loads here, after the arguments and the data are known good

    with _ProgressBar() as bar, _CancelOnInterrupt() as cancel:
        try:
            result = train(request, bar.update, cancel)
        except TrainingCancelled as exc:
            bar.close()
            print(
                f"edgetrain train: cancelled ({exc}); nothing was written to {request.out_dir}",
                file=sys.stderr,
            )
            return EXIT_CANCELLED
        except KeyboardInterrupt:
            bar.close()
            print(f"edgetrain train: aborted; nothing was written to {request.out_dir}", file=sys.stderr)
            return EXIT_CANCELLED
        except (InvalidArgumentError, DatasetError) as exc:
            bar.close()
            return _usage_error(str(exc))
        except TrainerError as exc:
            bar.close()
            print(f"edgetrain train: training failed: {exc}", file=sys.stderr)
            return EXIT_FAILED
        except Exception as exc:  # a bug or an environment problem: keep the traceback for the report
            bar.close()
            traceback.print_exc()
            print(f"edgetrain train: training failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            return EXIT_FAILED
    try:
        exports = export_other_formats(result, request)
    except TrainerError as exc:
        print(summary(result, request, evaluated_on, len(report.errors)))
        print(f"edgetrain train: export failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(summary(result, request, evaluated_on, len(report.errors), exports))
    return EXIT_OK


def export_other_formats(result: Any, request: TrainRequest) -> dict[str, Path]:
    """Formats besides the TF Lite package, exported from result.model_dir into OUT/<format>/.

    A folder the trainer already filled is kept as it is.
    """
    exports = {}
    for fmt in request.export_formats:
        if fmt == "tflite":
            continue
        dest = Path(request.out_dir) / fmt
        if not (dest.is_dir() and any(dest.iterdir())):
            from .export.package import export_model

            export_model(result.model_dir, fmt, dest, quantization=request.quantization)
        exports[fmt] = dest
    return exports


def summary(
    result: Any,
    request: TrainRequest,
    evaluated_on: str,
    bad_rows: int,
    exports: dict[str, Path] | None = None,
) -> str:
    """The closing report: stop reason, cost, accuracy, latency, size and where the package is."""
    minutes, seconds = divmod(int(round(result.wall_seconds)), 60)
    lines = [
        f"Trained {result.model_type} ({', '.join(result.labels)}): {result.stop_reason.value}",
        f"  cost          {result.train_cost_milli_node_hours:,} milli node hours "
        f"(budget {request.budget_milli_node_hours:,}), wall time {minutes}m {seconds:02d}s",
        f"  mAP@0.5       {result.map50:.3f}  ({evaluated_on} rows, exported {request.quantization} TF Lite)",
        f"  mAP@[.5:.95]  {result.map50_95:.3f}",
        f"  latency       {result.latency_ms:.1f} ms (median, 2 threads)",
        f"  size          {result.size_bytes / 1e6:.2f} MB",
        f"  package       {result.package_dir}",
        f"  model         {result.model_dir}",
    ]
    lines += [f"  {fmt:<13} {path}" for fmt, path in (exports or {}).items()]
    if bad_rows:
        lines.append(f"  bad rows      {bad_rows} skipped (listed above)")
    return "\n".join(lines)


def _request(args: argparse.Namespace) -> TrainRequest:
    data = args.csv if args.csv is not None else args.voc
    try:
        overrides = json.loads(args.overrides)
    except json.JSONDecodeError as exc:
        raise InvalidArgumentError(f"--overrides: not valid JSON ({exc})") from None
    if not isinstance(overrides, dict):
        raise InvalidArgumentError("--overrides: must be a JSON object, e.g. '{\"max_epochs\": 2}'")
    _say_flag("--overrides", "overrides", lambda: TrainerConfig.from_overrides(overrides))
    request = TrainRequest(
        data=data,
        out_dir=args.out,
        model_type=args.model_type,
        budget_milli_node_hours=args.budget_milli_node_hours,
        seed=args.seed,
        quantization=args.quantization,
        export_formats=tuple(dict.fromkeys(args.export_formats or ["tflite"])),
        overrides=overrides,
        init_from=args.init_from,
    )
    if args.init_from is not None:  # fail now on a folder without a model or of another model type
        from .training.warm_start import find_warm_start

        _say_flag("--init-from", "init_from", lambda: find_warm_start(args.init_from, args.model_type))
    if args.csv is not None and not args.csv.is_file():
        raise InvalidArgumentError(f"--csv: {args.csv} is not a file")
    if args.voc is not None and not args.voc.is_dir():
        raise InvalidArgumentError(f"--voc: {args.voc} is not a folder")
    check_destination(args.out, "--out")
    return request


def _say_flag(flag: str, field: str, check: Callable[[], object]) -> None:
    """Run a check whose errors name the request's field (`field: ...`); they name the flag instead."""
    try:
        check()
    except InvalidArgumentError as exc:
        raise InvalidArgumentError(f"{flag}: {str(exc).removeprefix(field + ': ')}") from None


def _budget(text: str) -> int:
    """An argparse type: milli node hours within AutoML's range for mobile models."""
    try:
        value = int(text.replace(",", "").replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of milli node hours") from None
    if not MIN_BUDGET_MILLI_NODE_HOURS <= value <= MAX_BUDGET_MILLI_NODE_HOURS:
        raise argparse.ArgumentTypeError(
            f"{value:,} is outside {MIN_BUDGET_MILLI_NODE_HOURS:,}–{MAX_BUDGET_MILLI_NODE_HOURS:,}"
        )
    return value


def _usage_error(message: str) -> int:
    print(f"edgetrain train: error: {message}", file=sys.stderr)
    return EXIT_USAGE


class _ProgressBar:
    """A tqdm bar over 0–100 % with phase, epoch, losses and validation mAP; messages print above it."""

    def __enter__(self) -> _ProgressBar:
        from tqdm import tqdm

        self._bar = tqdm(
            total=100.0, unit="%", bar_format="{l_bar}{bar}| {n:.0f}% [{elapsed}<{remaining}]{postfix}"
        )
        self._last_message = ""
        return self

    def update(self, progress: Any) -> None:
        self._bar.n = min(max(float(progress.percent), 0.0), 100.0)
        parts = [progress.phase]
        if progress.epoch is not None:
            parts.append(f"epoch {progress.epoch}")
        parts += [f"{name} {value:.3f}" for name, value in progress.losses.items()]
        if progress.val_map is not None:
            parts.append(f"val mAP@0.5 {progress.val_map:.3f}")
        self._bar.set_postfix_str(", ".join(parts), refresh=False)
        if progress.message and progress.message != self._last_message:
            self._last_message = progress.message
            self._bar.write(f"[{progress.phase}] {progress.message}", file=sys.stderr)
        self._bar.refresh()

    def close(self) -> None:
        self._bar.close()

    def __exit__(self, *exc_info: object) -> None:
        self._bar.close()


class _CancelOnInterrupt:
    """Turns the first SIGINT into a cancel request (the trainer's cancel hook); the second aborts."""

    def __enter__(self):
        self._event = threading.Event()
        try:
            self._previous = signal.signal(signal.SIGINT, self._handle)
        except ValueError:  # not the main thread: no signal handling, the hook just never fires
            self._previous = None
        return self._event.is_set

    def _handle(self, _signum: int, _frame: object) -> None:
        if self._event.is_set():
            raise KeyboardInterrupt
        self._event.set()
        print("\ncancelling... (press Ctrl-C again to abort at once)", file=sys.stderr)

    def __exit__(self, *exc_info: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


def main(argv: list[str] | None = None) -> int:
    """`python -m edgetrain_trainer.cli ...`: the same command without the `edgetrain` dispatcher."""
    parser = argparse.ArgumentParser(prog="edgetrain train", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
