"""Which trainer benchmark runs are which recipe (records of benchmarks/results/trainer.jsonl): the default
recipe's runs, the earlier recipes', the latest of each, the seed groups. benchmarks/trainer_table.py renders
them for BENCHMARKS.md."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from edgetrain_trainer.config import TrainerConfig
from edgetrain_trainer.errors import InvalidArgumentError
from edgetrain_trainer.types import MODEL_TYPES

PEAK_RSS_TARGET_BYTES = 4 * 10**9  # "peak memory ≤ 4 GB"
# Overrides that only cap the training time: a run with none but these trained the default recipe.
TIME_CAPS = frozenset({"max_train_seconds"})
# Settings that change how fast a run trains on the machine, not what it trains: a benchmark pins `threads`
# so that a run started right after other work still gets every core.
SPEED_ONLY = frozenset({"threads"})
# Settings read only when the model is exported (the post-processing op's): a run exported with another
# value trained the default recipe all the same; the headline table marks it (‡). score_threshold's default
# rose from 0.01 to 0.05 on 2026-12-03, after the runs it shows.
EXPORT_ONLY = frozenset({"score_threshold"})
# Settings that came with a new default: a record whose trainer_config predates one ran at the value here
# (the behaviour before the setting existed), not at today's default. Other settings a record lacks were
# added with the behaviour of before as their default, so today's default is what it ran.
BEFORE_RECORDED: dict[str, Any] = {"score_threshold": 0.01, "box_loss": "huber", "selection_metric": "map50"}


@dataclass(frozen=True)
class Recipe:
    """An earlier default recipe: today's defaults with `changes`; `label` names it in the tables."""

    label: str
    changes: dict[str, Any]
    until: str  # when today's default replaced it

    @property
    def name(self) -> str:
        return f"{', '.join(f'{k} {v}' for k, v in self.changes.items())}, the default until {self.until}"


# The default recipes before today's, newest first: each gets a table of its latest runs (the "before").
EARLIER_RECIPES = (
    Recipe("mAP@0.5 selection", {"selection_metric": "map50"}, "2026-12-06 10:00 UTC"),
    Recipe("Huber", {"box_loss": "huber", "selection_metric": "map50"}, "2026-12-06 02:00 UTC"),
)


def recorded_setting(record: dict[str, Any], name: str) -> Any:
    """The value of setting `name` a run used: its trainer_config's, else the value before the setting was
    recorded (BEFORE_RECORDED), else today's default."""
    config = record.get("trainer_config") or {}
    if name in config:
        return config[name]
    return BEFORE_RECORDED.get(name, getattr(TrainerConfig(), name))


def default_recipe_runs(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Successful runs of today's default recipe, time caps aside, judged by `trainer_config`: every setting
    the run used (recorded since 2026-12-03; earlier records carry the config of their commit, backfilled from
    git, `trainer_config_source`). A run at an older default is an experiment; settings added or removed since
    it ran are left out, except those that came with a new default (BEFORE_RECORDED: a run from before GIoU
    trained with Huber, one from before selection_metric selected on mAP@0.5). A record without a config
    (trained from a tree with uncommitted changes before configs were recorded) is not counted: what it
    trained is not known. The headline table, the means over seeds and the latency and order benchmarks show
    these runs; the others are listed only among every run."""
    return recipe_runs(records)


def recipe_runs(records: list[dict[str, Any]], changes: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Successful runs of today's defaults with `changes` (time caps, thread counts and export-only settings
    aside)."""
    recipe = dataclasses.replace(TrainerConfig(), **(changes or {}))
    return [r for r in records if r.get("status") == "ok" and _trained_config(r) == recipe]


def _trained_config(record: dict[str, Any]) -> TrainerConfig | None:
    """The config a run trained with, time caps, thread counts and export-only settings at today's
    defaults; None when not known (no recorded config, or a value this version no longer accepts)."""
    if "trainer_config" not in record:
        return None
    known = {f.name for f in fields(TrainerConfig)}
    ignored = TIME_CAPS | SPEED_ONLY | EXPORT_ONLY
    recorded = {**BEFORE_RECORDED, **record["trainer_config"]}
    settings = {k: v for k, v in recorded.items() if k in known and k not in ignored}
    # the config the trainer builds from them, so JSON spellings (a list for a tuple) compare as it reads them
    try:
        return TrainerConfig.from_overrides(settings)
    except InvalidArgumentError:
        return None


def latest_default_runs(
    records: list[dict[str, Any]], changes: dict[str, Any] | None = None
) -> dict[tuple, dict[str, Any]]:
    """The headline runs by (dataset, model type index, budget): the default-recipe training (with
    `changes`: that recipe's) that started last, in its latest export. Re-exporting an earlier training
    does not put it in front of a later one."""
    return _latest_by(
        recipe_runs(records, changes),
        lambda r: (r["dataset"], MODEL_TYPES.index(r["model_type"]), r.get("budget_milli_node_hours")),
    )


def latest_packages(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The packages the trainer table shows, one per dataset x model type (of several budgets, the
    highest's), ordered by dataset then model type: what the latency, order and re-export benchmarks use."""
    latest = {(dataset, t): r for (dataset, t, _), r in sorted(latest_default_runs(records).items())}
    return [latest[key] for key in sorted(latest)]


def _latest_by(
    runs: list[dict[str, Any]], key: Callable[[dict[str, Any]], tuple]
) -> dict[tuple, dict[str, Any]]:
    """Per key, the run that started last, in its latest export."""
    latest: dict[tuple, dict[str, Any]] = {}
    for r in runs:
        k = key(r)
        if k not in latest or _recency(r) >= _recency(latest[k]):
            latest[k] = r
    return latest


def _recency(r: dict[str, Any]) -> tuple[str, str]:
    return r["started"], (r.get("reexport") or {}).get("at", "")


def seed_group_key(r: dict[str, Any]) -> tuple:
    """Runs with the same key trained the same recipe for the same time; only their seeds differ."""
    cap = r["trainer_config"].get("max_train_seconds")
    return r["dataset"], MODEL_TYPES.index(r["model_type"]), r.get("budget_milli_node_hours"), cap


def seed_groups(
    records: list[dict[str, Any]], changes: dict[str, Any] | None = None
) -> dict[tuple, list[dict[str, Any]]]:
    """Default-recipe trainings (with `changes`: that recipe's) by seed_group_key, each training once (in
    its latest export), in the order they started: what a mean over seeds averages."""
    trainings = _latest_by(
        recipe_runs(records, changes),
        lambda r: (r["dataset"], r["model_type"], r.get("budget_milli_node_hours"), r["started"]),
    )
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for r in sorted(trainings.values(), key=_recency):
        groups.setdefault(seed_group_key(r), []).append(r)
    return groups


def headline_groups(records: list[dict[str, Any]]) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Per dataset and model type, the trainings of the headline run's seed group (the highest budget's),
    in the order they started."""
    groups = seed_groups(records)
    out: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for r in latest_packages(records):
        out.setdefault(r["dataset"], {})[r["model_type"]] = groups[seed_group_key(r)]
    return out
