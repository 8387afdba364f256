"""The training loop: one `Stage` value in, one `StageOutcome` out. Both stages of a training run through it
(stages.py builds them); read `run_stage` top to bottom for the whole of what happens in an epoch.

    outcome = run_stage(stage, clock, report, cancel)

Per epoch: train on the stage's batches (checking cancel and the stage's deadline between them) → validate
the optimizer's moving average of the weights → keep them when they are the best so far → re-plan the
learning-rate decay from the time left → on a plateau, cool the rate down, then stop. At the end the stage
keeps its best weights, best by the stopping rule's validation metric (mAP@[.5:.95] by default).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from ..errors import TrainingCancelled
from ..model.losses import count_positives
from ..types import CancelCheck
from .averaging import AveragedWeights, ema_momentum
from .budget import BudgetClock, EarlyStopping
from .schedule import BudgetCosine, planned_epochs

# One training batch: (inputs, class_targets int32 [B, N], box_targets float32 [B, N, 4]).
Batch = tuple[Any, Any, Any]
# loss(class_targets, box_targets, box_pred, class_logits, num_positive) -> {"total": ..., ...}
Loss = Callable[..., dict[str, tf.Tensor]]


@dataclass(frozen=True, kw_only=True)
class RateSchedule:
    """AdamW at `learning_rate` after `warmup_epochs` of linear warm-up (at most half the stage), cosine
    decay over the epochs the time allows (schedule.BudgetCosine); decoupled `weight_decay`, gradients
    clipped to a global norm of `grad_clip_norm`. ema_epochs > 0: the optimizer also keeps a moving average
    of the weights over about that many epochs, and that average is what the loop validates and keeps."""

    learning_rate: float
    warmup_epochs: float = 1.0
    weight_decay: float = 0.0
    grad_clip_norm: float = 10.0
    ema_epochs: float = 0.0


@dataclass(frozen=True, kw_only=True)
class Stopping:
    """Early stopping: no gain of the validation `metric` ("map50" or "map50_95") above `min_delta` for
    `patience` epochs and at least `patience_seconds` (budget.EarlyStopping); the same metric picks the
    weights a stage keeps. Then, with cooldown_epochs > 0, the rate decays from where it is to its floor over
    that many more epochs before the stage ends: validation on a plateau at a high rate swings between
    epochs instead of settling."""

    patience: int
    min_delta: float = 0.0
    patience_seconds: float = 0.0
    cooldown_epochs: int = 0
    metric: str = "map50_95"

    def score(self, map50: float, map50_95: float) -> float:
        return selection_score(self.metric, map50, map50_95)


def selection_score(metric: str, map50: float, map50_95: float) -> float:
    """The validation figure `metric` ("map50" or "map50_95", config.selection_metric) names."""
    return map50_95 if metric == "map50_95" else map50


@dataclass(frozen=True, kw_only=True)
class Stage:
    """One training stage.

    What trains: `model` (inputs → [box_encodings, class_logits]), updated by `loss` on `batches()`, a fresh
    shuffled epoch of Batch, in forward/backward passes of at most `micro_batch` samples (0: whole batches);
    `evaluate()` is validation (mAP@0.5, mAP@[.5:.95]) of the model's current weights.
    How long: at most `max_epochs` of `steps_per_epoch` steps, until the clock's train fraction reaches
    `deadline_fraction`. `keep_above`: a score the stage must beat to replace the weights it starts with
    (the previous stage's best)."""

    name: str  # "head" or "finetune": the progress phase
    model: keras.Model
    loss: Loss
    batches: Callable[[], Iterable[Batch]]
    evaluate: Callable[[], tuple[float, float]]
    steps_per_epoch: int
    max_epochs: int
    rates: RateSchedule
    stopping: Stopping
    micro_batch: int = 0
    deadline_fraction: float = 1.0
    keep_above: float = -1.0


@dataclass(frozen=True)
class StageOutcome:
    """How a stage ended: "converged" (early stopping), "epochs" (epoch cap) or "budget" (time spent).
    best_score: the kept weights' validation score on the stopping metric (or the score they had to beat)."""

    ended_by: str
    epochs: int
    best_score: float


@dataclass(frozen=True)
class EpochReport:
    """What the loop tells its caller after each epoch (and after validating a tail average)."""

    phase: str
    epoch: int
    losses: dict[str, float] = field(default_factory=dict)
    val_map: float | None = None
    learning_rate: float = 0.0
    note: str = ""


def run_stage(
    stage: Stage, clock: BudgetClock, report: Callable[[EpochReport], None], cancel: CancelCheck
) -> StageOutcome:
    """Train `stage`; leaves the weights it keeps in stage.model. Raises TrainingCancelled."""
    optimizer, schedule = make_optimizer(stage.rates, stage.steps_per_epoch, stage.max_epochs)
    step = make_train_step(stage.model, optimizer, stage.loss, stage.micro_batch)
    s = stage.stopping
    stopper = EarlyStopping(s.patience, s.min_delta, s.patience_seconds)
    stage_end = clock.seconds_at(stage.deadline_fraction)
    best_weights, keep_above = stage.model.get_weights(), stage.keep_above
    ended_by, epoch, cooling_until = "epochs", 0, None

    for epoch in range(1, stage.max_epochs + 1):
        epoch_start = clock.elapsed()
        # -- train one epoch; the stage's share of the budget can run out between two batches
        sums: dict[str, float] = {}
        steps = 0
        for inputs, class_targets, box_targets in stage.batches():
            if cancel():
                raise TrainingCancelled("training cancelled")
            if clock.train_fraction() >= stage.deadline_fraction:
                ended_by = "budget"
                break
            for name, value in step(inputs, class_targets, box_targets).items():
                sums[name] = sums.get(name, 0.0) + float(value)
            steps += 1
        if ended_by == "budget":
            break
        losses = {name: total / max(steps, 1) for name, total in sums.items()}

        # -- validate the moving average of the weights; keep the best
        with AveragedWeights(stage.model, optimizer):
            map50, map50_95 = stage.evaluate()
            score = s.score(map50, map50_95)
            if stopper.update(score, epoch, clock.elapsed()) and score >= keep_above:
                best_weights, keep_above = stage.model.get_weights(), score

        # -- re-plan the decay from the time left; on a plateau, cool down before stopping
        took = clock.elapsed() - epoch_start
        plan = planned_epochs(epoch, stage.max_epochs, stage_end - clock.elapsed(), took)
        schedule.replan(plan * stage.steps_per_epoch)
        note = ""
        if cooling_until is None and stopper.converged and s.cooldown_epochs > 0 and epoch < stage.max_epochs:
            cooling_until = epoch + s.cooldown_epochs
            schedule.cool_down(int(optimizer.iterations.numpy()), s.cooldown_epochs * stage.steps_per_epoch)
            note = (
                f"no validation gain for {stopper.epochs_without_gain} epochs "
                f"({stopper.seconds_without_gain / 60:.0f} min): decaying the learning rate "
                f"over {s.cooldown_epochs} more epochs, then stopping"
            )
        rate_now = float(schedule(optimizer.iterations))
        report(EpochReport(stage.name, epoch, losses, map50, rate_now, note))

        # -- stop: converged (after the cool-down, if any), or the stage's time is up
        if (cooling_until is None and stopper.converged) or epoch == cooling_until:
            ended_by = "converged"
            break
        if clock.train_fraction() >= stage.deadline_fraction:
            ended_by = "budget"
            break

    stage.model.set_weights(best_weights)
    return StageOutcome(ended_by, epoch, max(stopper.best, keep_above, 0.0))


def make_optimizer(
    rates: RateSchedule, steps_per_epoch: int, max_epochs: int
) -> tuple[keras.optimizers.AdamW, BudgetCosine]:
    """AdamW on a BudgetCosine schedule planned over max_epochs; returns (optimizer, schedule)."""
    total = max(max_epochs * steps_per_epoch, 2)
    warmup = max(round(rates.warmup_epochs * steps_per_epoch), 1)
    schedule = BudgetCosine(rates.learning_rate, min(warmup, total // 2), total)
    optimizer = keras.optimizers.AdamW(
        learning_rate=schedule,
        weight_decay=rates.weight_decay,
        global_clipnorm=rates.grad_clip_norm,
        use_ema=rates.ema_epochs > 0,
        ema_momentum=ema_momentum(rates.ema_epochs, steps_per_epoch),
    )
    return optimizer, schedule


def make_train_step(
    model: keras.Model, optimizer: keras.optimizers.Optimizer, loss_fn: Loss, micro_batch: int = 0
) -> Callable[[Any, Any, Any], dict[str, tf.Tensor]]:
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

    # Created here, the optimizer's slots are not created inside `apply`'s first call, which would make
    # tf.function trace it twice (the longest part of a short training's first epoch).
    optimizer.build(model.trainable_variables)

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
            if grads is None or losses is None:
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


def epoch_order(count: int, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Shuffled index batches of exactly batch_size (last partial one dropped; an epoch has ≥ 1)."""
    batch_size = min(batch_size, count)
    order = rng.permutation(count)
    return [order[i : i + batch_size] for i in range(0, count - batch_size + 1, batch_size)]
