"""train(): AutoML CSV / VOC folder → trained detector → evaluated TF Lite package.

    from edgetrain_trainer.train import train
    from edgetrain_trainer.types import TrainRequest
    request = TrainRequest(data="annotations.csv", out_dir="runs/cards", model_type="mobile-low-latency-1",
                           budget_milli_node_hours=1000, overrides={"max_epochs": 2})
    result = train(request, progress=print, cancel=lambda: False)
    result.package_dir  # model.tflite, dict.txt, tflite_metadata.json, evaluation.json

Steps: load and validate the data → stage 1, head on cached frozen-backbone features → stage 2, whole-network
fine-tuning while budget remains (training/stages.py builds the two `Stage` values, training/loop.py runs
each; a warm start from request.init_from loads an earlier model and skips stage 1 when stage 2 follows,
training/warm_start.py) → export int8 / float32 TF Lite → evaluate the exported model on TEST rows
(VALIDATION if there are none; data/splits.py picks each role's images, and the result names them by content
id, data/image_ids.py). Output is written to a temporary sibling of out_dir and renamed into place
at the end: out_dir never holds a half-written package.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import numpy as np

from .config import TrainerConfig
from .data.dataset import load_dataset
from .data.image_ids import image_ids
from .data.image_store import load_images
from .data.rows import TEST
from .data.splits import split_examples
from .errors import TrainingCancelled
from .export.staging import check_destination, staged_directory
from .model.catalog import spec_for
from .training.budget import BudgetClock
from .training.cpu import free_cores
from .training.warm_start import find_warm_start, trained_images, why_no_bar
from .types import (
    CancelCheck,
    EvaluatedImage,
    Progress,
    ProgressCallback,
    StopReason,
    TrainRequest,
    TrainResult,
)

# Share of the progress percentage before / after training (data loading; export and evaluation).
_PCT_DATA, _PCT_TRAIN_END, _PCT_EXPORT_END = 5.0, 88.0, 95.0


def train(
    request: TrainRequest, progress: ProgressCallback | None = None, cancel: CancelCheck | None = None
) -> TrainResult:
    """Train, export and evaluate one model. Raises InvalidArgumentError (bad request or overrides),
    DatasetError (no usable rows), TrainingCancelled (cancel() returned True; nothing is left in out_dir)."""
    started = time.monotonic()
    report = progress or (lambda p: None)
    cancelled = cancel or (lambda: False)
    config = TrainerConfig.from_overrides(request.overrides)
    out_dir = Path(request.out_dir)
    check_destination(out_dir, "out_dir")
    clock = BudgetClock(
        request.budget_milli_node_hours, config.export_reserve_seconds, config.max_train_seconds
    )
    warm = find_warm_start(request.init_from, request.model_type) if request.init_from else None
    threads = configure_runtime(config.threads, request.seed, config.max_threads)

    # TensorFlow is imported only once the request is valid
    from .export.package import save_model_dir, write_tflite_package
    from .export.tflite_detector import evaluate_package
    from .training.loop import StageOutcome, run_stage
    from .training.stages import DetectorTraining

    # ---------------------------------------------------------------- data
    spec = spec_for(request.model_type)
    if config.input_size is not None:
        spec = dataclasses.replace(spec, input_size=config.input_size)
    report(Progress(0.0, "data", message=f"loading {request.data} ({threads} threads)"))
    dataset = load_dataset(request.data)
    rng = np.random.default_rng(request.seed)
    ids = image_ids(e.image_path for e in dataset.examples)
    seen = (warm.trained_images if warm else None) or frozenset()
    split = split_examples(dataset.examples, config, rng, ids, seen)
    train_ex, val_ex, test_ex = split.train, split.validation, split.test
    max_bytes = config.images_max_mib * 2**20
    train_images = load_images([e.image_path for e in train_ex], spec.input_size, max_bytes, cancelled)
    val_images = load_images([e.image_path for e in val_ex], spec.input_size, max_bytes, cancelled)
    loaded = (("train", train_images), ("validation", val_images))
    from_files = [name for name, images in loaded if not isinstance(images, np.ndarray)]
    has_test = any(e.split == TEST for e in dataset.examples)
    evaluated_on = f"{len(test_ex)} test images" if has_test else "no TEST rows: evaluating on validation"
    report(
        Progress(
            _PCT_DATA,
            "data",
            message=f"{len(train_ex)} train / {len(val_ex)} validation / {evaluated_on}, "
            f"{len(dataset.errors)} bad rows"
            + (f"; {' and '.join(from_files)} images decoded on use (images_max_mib)" if from_files else ""),
        )
    )

    # ---------------------------------------------------------------- the two training stages
    run = DetectorTraining(
        spec,
        dataset.labels,
        config,
        clock,
        rng,
        report,
        cancelled,
        pct_range=(_PCT_DATA, _PCT_TRAIN_END),
        warm=warm,
    )
    run.set_data(train_ex, train_images, val_ex, val_images)
    # warm: the earlier model's weights as loaded are the score to beat (a stage keeps them otherwise),
    # unless they were trained on validation images
    keep_above = run.start_score() if warm else -1.0
    unfair = why_no_bar(warm, split.validation_seen, len(val_ex)) if warm else ""
    if unfair:
        keep_above = -1.0
        report(Progress(_PCT_DATA, "data", message=f"the warm-start score is no bar to beat: {unfair}"))
    outcomes: list[StageOutcome] = []
    # Each Stage is a temporary: the head stage's batches hold the feature cache (up to cache_max_mib),
    # which must be freed before fine-tuning and export, not when train() returns.
    if run.runs_head_stage:  # stage 1: the head on cached frozen-backbone features
        head = run.head_stage(last=not config.finetune, keep_above=keep_above)
        outcomes.append(run_stage(head, clock, run.epoch_report, cancelled))
        del head
    if config.finetune and clock.train_fraction() < 1.0:  # stage 2: the whole network, to beat stage 1
        finetune = run.finetune_stage(keep_above=outcomes[-1].best_score if outcomes else keep_above)
        outcomes.append(run_stage(finetune, clock, run.epoch_report, cancelled))
        del finetune
    # The last stage decides: stage 1 handing over to stage 2 at its time share is not the budget running out.
    stop_reason = (
        StopReason.BUDGET_REACHED
        if not outcomes or outcomes[-1].ended_by == "budget"
        else StopReason.MODEL_CONVERGED
    )

    # ---------------------------------------------------------------- export and evaluate
    with staged_directory(out_dir) as tmp:
        calibration = train_images[rng.permutation(len(train_images))[: config.calibration_images]]
        report(Progress(_PCT_TRAIN_END, "export", message=f"exporting {request.quantization} TF Lite"))
        config_dict, post = config.to_dict(), run.post_config()
        trained = trained_images(warm, {ids[e.image_path] for e in train_ex})
        save_model_dir(tmp / "model", run.detector, spec, dataset.labels, config_dict, calibration, trained)
        write_tflite_package(
            tmp / "package",
            run.detector,
            spec,
            dataset.labels,
            request.quantization,
            calibration,
            post,
            run.anchors,
            cancelled,
        )
        if cancelled():
            raise TrainingCancelled("training cancelled during export")
        report(
            Progress(
                _PCT_EXPORT_END, "evaluate", message=f"evaluating the TF Lite model on {len(test_ex)} images"
            )
        )
        evaluation, latency_ms = evaluate_package(tmp / "package", test_ex, dataset.labels, cancelled)
        evaluated = [EvaluatedImage(ids[e.image_path], e.image_ref) for e in test_ex]
        # the metrics and the images they rest on, by content: a path can be the service's private copy
        record = {**evaluation.to_dict(), "evaluatedImageIds": [image.image_id for image in evaluated]}
        for name in ("package", "model"):
            (tmp / name / "evaluation.json").write_text(json.dumps(record, indent=1))
    package_dir = out_dir / "package"
    size = (package_dir / "model.tflite").stat().st_size
    report(
        Progress(
            100.0,
            "evaluate",
            message=f"mAP@0.5 {evaluation.map50:.3f}, {latency_ms:.1f} ms, {size / 1e6:.2f} MB",
        )
    )
    return TrainResult(
        package_dir=package_dir,
        model_dir=out_dir / "model",
        model_type=request.model_type,
        labels=list(dataset.labels),
        stop_reason=stop_reason,
        train_cost_milli_node_hours=max(clock.cost_milli_node_hours(), 1),
        wall_seconds=time.monotonic() - started,
        evaluation=record,
        map50=evaluation.map50,
        map50_95=evaluation.map50_95,
        latency_ms=latency_ms,
        size_bytes=size,
        bad_rows=list(dataset.errors),
        threads=threads,
        evaluated_images=evaluated,
        validation_images=[ids[e.image_path] for e in val_ex],
    )


def configure_runtime(threads: int, seed: int, max_threads: int = 0) -> int:
    """Seed everything and size TF's thread pools: `threads`, else the free cores capped by `max_threads`
    when that is set (the pools collapse when oversubscribed)."""
    if threads <= 0:
        threads = min(free_cores(), max_threads) if max_threads > 0 else free_cores()
    import keras
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(min(threads, 2))
    except RuntimeError:
        pass  # TF already initialized in this process (a second training): keep its pools
    keras.utils.set_random_seed(seed)
    return threads
