"""The two training stages' loops: head on cached features, then whole-network fine-tuning.

Both share one epoch loop: train an epoch (checking the budget and the cancel hook between batches),
evaluate validation mAP, keep the best weights, stop early when mAP stops improving.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from ..data.augment import Augmenter
from ..errors import TrainingCancelled
from ..evaluation import evaluate
from ..model.box_coding import AnchorMatcher
from ..model.losses import DetectionLoss, count_positives
from ..model.postprocess import PostProcessConfig, decode_detections
from .averaging import TailAverage
from .budget import BudgetClock, EarlyStopping
from .schedule import BudgetCosine, planned_epochs

PREDICT_BATCH = 8


@dataclass
class StageOutcome:
    """How a stage ended: "converged" (early stopping), "epochs" (epoch cap) or "budget" (time spent)."""

    ended_by: str
    epochs: int
    best_map50: float
    best_map50_95: float


@dataclass
class StageSettings:
    name: str  # "head" or "finetune" (progress phase)
    max_epochs: int
    batch_size: int
    learning_rate: float
    deadline_fraction: float  # the stage ends when the clock's train fraction reaches this
    cooldown_epochs: int = 0  # on a validation plateau: decay the rate over this many epochs, then stop
    # > 0: average the validated weights of the epochs that end at or below this fraction of the peak
    # learning rate (tail_average.py), and keep the average when it validates as well as they do
    tail_average_lr_fraction: float = 0.0
    warmup_epochs: float = 1.0  # the learning rate rises linearly to its peak over this many epochs


def make_optimizer(
    settings: StageSettings, steps_per_epoch: int, weight_decay: float, clip: float, ema_epochs: float
):
    """AdamW on a BudgetCosine schedule (settings.warmup_epochs of warm-up, at most half the stage);
    returns (optimizer, schedule).
    ema_epochs > 0: the optimizer also keeps an exponential moving average of the weights over about that
    many epochs of steps, which run_stage evaluates and keeps instead of the raw weights."""
    total = max(settings.max_epochs * steps_per_epoch, 2)
    warmup = max(round(settings.warmup_epochs * steps_per_epoch), 1)
    schedule = BudgetCosine(settings.learning_rate, min(warmup, total // 2), total)
    optimizer = keras.optimizers.AdamW(
        learning_rate=schedule,
        weight_decay=weight_decay,
        global_clipnorm=clip,
        use_ema=ema_epochs > 0,
        ema_momentum=ema_momentum(ema_epochs, steps_per_epoch),
    )
    return optimizer, schedule


def ema_momentum(ema_epochs: float, steps_per_epoch: int) -> float:
    """Momentum whose averaging horizon, 1 / (1 - momentum) steps, spans ema_epochs epochs."""
    if ema_epochs <= 0:
        return 0.99  # unused: Keras checks the value even when the average is off
    return min(1.0 - 1.0 / max(ema_epochs * steps_per_epoch, 1.0), 0.9999)


class AveragedWeights:
    """Swaps the optimizer's moving average of the weights into `model` for an evaluation and back out.

    with AveragedWeights(model, optimizer): ...   # model holds the averaged weights inside the block
    A no-op for an optimizer without use_ema."""

    def __init__(self, model: keras.Model, optimizer: keras.optimizers.Optimizer):
        self.model, self.optimizer = model, optimizer
        self._training: list[np.ndarray] | None = None

    def __enter__(self) -> AveragedWeights:
        # Before the first step the optimizer has no average yet; the weights are what there is.
        if self.optimizer.use_ema and self.optimizer.built:
            self._training = self.model.get_weights()
            self.optimizer.finalize_variable_values(self.model.trainable_variables)
        return self

    def __exit__(self, *exc) -> None:
        if self._training is not None:
            self.model.set_weights(self._training)
            self._training = None


def make_train_step(model: keras.Model, optimizer, loss_fn: DetectionLoss, micro_batch: int = 0):
    """step(inputs, class_targets, box_targets) → losses: one optimizer step on a batch.

    micro_batch > 0: forward and backward passes run on at most that many samples at a time and their
    gradients are summed before the one optimizer step, so only a micro-batch's activations are in memory.
    The losses of every slice are normalized by the whole batch's positive anchors, so the update is the
    batch's own; only batch-norm layers in training mode (the head's) see micro-batch statistics."""

    @tf.function
    def gradients(inputs, class_targets, box_targets, num_positive):
        with tf.GradientTape() as tape:
            box_pred, class_logits = model(inputs, training=True)
            losses = loss_fn(class_targets, box_targets, box_pred, class_logits, num_positive)
        return tape.gradient(losses["total"], model.trainable_variables), losses

    @tf.function
    def apply(grads):
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))

    def step(inputs, class_targets, box_targets):
        batch = int(class_targets.shape[0])
        size = micro_batch if 0 < micro_batch < batch else batch
        num_positive = count_positives(class_targets)
        grads, losses = None, None
        for start in range(0, batch, size):
            part = slice(start, start + size)
            part_grads, part_losses = gradients(
                tf.nest.map_structure(lambda t, part=part: t[part], inputs),
                class_targets[part],
                box_targets[part],
                num_positive,
            )
            if grads is None:
                grads, losses = part_grads, part_losses
            else:
                grads = [a + b for a, b in zip(grads, part_grads, strict=True)]
                losses = {k: losses[k] + part_losses[k] for k in losses}
        apply(grads)
        return losses

    return step


def pass_size(batch_size: int, input_size: int, megapixels: float) -> int:
    """Samples per forward/backward pass: the largest divisor of batch_size whose input pixels stay within
    `megapixels` (at least 1; equal-sized passes keep one traced graph)."""
    fitting = int(megapixels * 1e6 // (input_size * input_size))
    return max([d for d in range(1, batch_size + 1) if batch_size % d == 0 and d <= fitting], default=1)


def targets_for(matcher: AnchorMatcher, boxes: list[np.ndarray], classes: list[np.ndarray]):
    """Per-sample matching → class_targets int32 [B, N], box_targets float32 [B, N, 4]."""
    pairs = [matcher.match(b, c) for b, c in zip(boxes, classes, strict=True)]
    return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])


def predict_map(
    predict: Callable,
    batches: Iterator,
    examples: list,
    labels: list[str],
    anchors: np.ndarray,
    post: PostProcessConfig,
    cancel: Callable[[], bool],
) -> tuple[float, float]:
    """Validation (mAP@0.5, mAP@[.5:.95]) of `predict` (inputs → [box_encodings, class_logits]) over
    `batches` of inputs aligned with `examples` (dataset.Example, for their ground truth), decoded with the
    export's post-processing `post`."""
    detections = []
    for inputs in batches:
        if cancel():
            raise TrainingCancelled("training cancelled during validation")
        box_pred, class_logits = predict(inputs)
        detections += decode_detections(np.asarray(box_pred), np.asarray(class_logits), anchors, post)
    result = evaluate(examples, labels, [(d.boxes, d.classes, d.scores) for d in detections])
    return result.map50, result.map50_95


def run_stage(
    settings: StageSettings,
    train_epoch: Callable[[int], dict[str, float]],
    evaluate: Callable[[], tuple[float, float]],
    model: keras.Model,
    clock: BudgetClock,
    stopper: EarlyStopping,
    report: Callable[[str, int, dict[str, float], float | None, str], None],
    optimizer: keras.optimizers.Optimizer,
    schedule: BudgetCosine,
    steps_per_epoch: int,
    keep_above: float = -1.0,
) -> StageOutcome:
    """Epoch loop shared by both stages. train_epoch(epoch) returns mean losses, or raises
    OutOfTime from inside the epoch. Evaluates (and keeps) the optimizer's moving average of the weights when
    it has one. Leaves the best weights in `model`: the weights it started with when no epoch reached
    `keep_above` (the previous stage's best). Early stopping counts from this stage's own best, so a stage
    that starts below the previous one gets its full patience to climb past it.

    When early stopping fires and settings.cooldown_epochs > 0, the stage does not stop yet: the learning rate
    decays from where it is to its floor over that many more epochs (BudgetCosine.cool_down), and the stage
    ends "converged" after them. Until then the rate is only as low as the time left forces it to be, and
    validation on a plateau at a high rate swings between epochs instead of settling.

    With settings.tail_average_lr_fraction > 0 the stage also averages the weights of its low-learning-rate
    epochs (tail_average.py) and, at its end, keeps that average instead when it validates as well as they
    do on average (_try_tail_average)."""
    best_weights = model.get_weights()
    best50_95 = 0.0
    previous_best = keep_above
    ended_by = "epochs"
    epoch = 0
    cooling_until: int | None = None
    stage_end = clock.seconds_at(settings.deadline_fraction)
    tail = TailAverage()
    for epoch in range(1, settings.max_epochs + 1):
        epoch_start = clock.elapsed()
        try:
            losses = train_epoch(epoch)
        except OutOfTime:
            ended_by = "budget"
            break
        rate = float(schedule(optimizer.iterations))
        with AveragedWeights(model, optimizer):
            map50, map50_95 = evaluate()
            if stopper.update(map50, epoch, clock.elapsed()) and map50 >= keep_above:
                best_weights, best50_95, keep_above = model.get_weights(), map50_95, map50
            if rate <= settings.tail_average_lr_fraction * settings.learning_rate:
                tail.add(model.get_weights(), map50)
        took = clock.elapsed() - epoch_start
        plan = planned_epochs(epoch, settings.max_epochs, stage_end - clock.elapsed(), took)
        schedule.replan(plan * steps_per_epoch)
        note = ""
        start_cooling = cooling_until is None and stopper.converged and settings.cooldown_epochs > 0
        if start_cooling and epoch < settings.max_epochs:
            cooling_until = epoch + settings.cooldown_epochs
            schedule.cool_down(int(optimizer.iterations.numpy()), settings.cooldown_epochs * steps_per_epoch)
            note = (
                f"no validation gain for {stopper.epochs_without_gain} epochs "
                f"({stopper.seconds_without_gain / 60:.0f} min): decaying the learning rate "
                f"over {settings.cooldown_epochs} more epochs, then stopping"
            )
        report(settings.name, epoch, losses, map50, note)
        if (cooling_until is None and stopper.converged) or epoch == cooling_until:
            ended_by = "converged"
            break
        if clock.train_fraction() >= settings.deadline_fraction:
            ended_by = "budget"
            break
    best_map50 = max(stopper.best, keep_above, 0.0)
    if tail.count >= 2:
        kept = _try_tail_average(tail, settings, model, evaluate, report, epoch, previous_best, best_map50)
        if kept is not None:
            return StageOutcome(ended_by, epoch, *kept)
    model.set_weights(best_weights)
    return StageOutcome(ended_by, epoch, best_map50, best50_95)


def _try_tail_average(tail, settings, model, evaluate, report, epoch, previous_best, best_map50):
    """Validate the tail average in `model`; its (mAP@0.5, mAP@[.5:.95]) when it is kept, else None.

    It is compared with the epochs it averages, not with their best: on a plateau the best single score is
    the luckiest draw of validation noise (docs/trainer_design.md, selection study). It must also beat the
    previous stage, as any epoch must."""
    model.set_weights(tail.weights())
    map50, map50_95 = evaluate()
    kept = map50 >= tail.mean_metric and map50 >= previous_best
    verdict = "kept" if kept else f"not kept, the best epoch's weights ({best_map50:.3f}) are"
    report(
        settings.name,
        epoch,
        {},
        map50,
        f"average of the weights of {tail.count} epochs at a learning rate ≤ "
        f"{settings.tail_average_lr_fraction:g} × peak: validation {map50:.3f} against their mean "
        f"{tail.mean_metric:.3f}; {verdict}",
    )
    return (map50, map50_95) if kept else None


class OutOfTime(Exception):
    """Raised inside an epoch when the stage's share of the budget is spent."""


def epoch_batches(count: int, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Shuffled index batches of exactly batch_size (last partial one dropped; an epoch has ≥ 1)."""
    batch_size = min(batch_size, count)
    order = rng.permutation(count)
    return [order[i : i + batch_size] for i in range(0, count - batch_size + 1, batch_size)]


def check_between_batches(clock: BudgetClock, settings: StageSettings, cancel: Callable[[], bool]) -> None:
    if cancel():
        raise TrainingCancelled("training cancelled")
    if clock.train_fraction() >= settings.deadline_fraction:
        raise OutOfTime()


def head_epoch_fn(head, step, cache, settings, clock, cancel, rng):
    """One epoch over the feature cache."""

    def train_epoch(epoch: int) -> dict[str, float]:
        sums: dict[str, float] = {}
        batches = epoch_batches(len(cache), settings.batch_size, rng)
        for idx in batches:
            check_between_batches(clock, settings, cancel)
            idx = np.sort(idx)  # sorted fancy indexing reads the cache faster
            feats = [tf.constant(f[idx].astype(np.float32)) for f in cache.features]
            cls_t = tf.constant(cache.class_targets[idx].astype(np.int32))
            box_t = tf.constant(cache.box_targets[idx].astype(np.float32))
            losses = step(feats, cls_t, box_t)
            for k, v in losses.items():
                sums[k] = sums.get(k, 0.0) + float(v)
        return {k: v / len(batches) for k, v in sums.items()}

    return train_epoch


def finetune_epoch_fn(
    detector, step, images, boxes, classes, augmenter: Augmenter, matcher, settings, clock, cancel, rng
):
    """One epoch of whole-network training on freshly augmented images."""

    def train_epoch(epoch: int) -> dict[str, float]:
        sums: dict[str, float] = {}
        batches = epoch_batches(len(images), settings.batch_size, rng)
        for idx in batches:
            check_between_batches(clock, settings, cancel)
            views = [augmenter(images[i], boxes[i], classes[i], rng) for i in idx]
            cls_t, box_t = targets_for(matcher, [v[1] for v in views], [v[2] for v in views])
            x = tf.constant(np.stack([v[0] for v in views]).astype(np.float32))
            losses = step(x, cls_t, box_t)
            for k, v in losses.items():
                sums[k] = sums.get(k, 0.0) + float(v)
        return {k: v / len(batches) for k, v in sums.items()}

    return train_epoch


def feature_batches(features: list[np.ndarray]) -> Iterator[list[tf.Tensor]]:
    for i in range(0, len(features[0]), PREDICT_BATCH):
        yield [tf.constant(f[i : i + PREDICT_BATCH].astype(np.float32)) for f in features]


def image_batches(images) -> Iterator[tf.Tensor]:
    """images: uint8 [M, S, S, 3], an ndarray or an image_store.ImagesFromFiles."""
    for i in range(0, len(images), PREDICT_BATCH):
        yield tf.constant(images[i : i + PREDICT_BATCH].astype(np.float32))
