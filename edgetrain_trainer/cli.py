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
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .cli_terminal import CancelOnInterrupt, ProgressBar, summary
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

    with ProgressBar() as bar, CancelOnInterrupt() as cancel:
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


def main(argv: list[str] | None = None) -> int:
    """`python -m edgetrain_trainer.cli ...`: the same command without the `edgetrain` dispatcher."""
    parser = argparse.ArgumentParser(prog="edgetrain train", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
