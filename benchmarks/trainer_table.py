"""BENCHMARKS.md section of the trainer benchmark: the headline table of today's recipe, the earlier
recipes', means over seeds and every run (which run is which: benchmarks/trainer_report.py)."""

from __future__ import annotations

import itertools
from statistics import mean
from typing import Any

from benchmarks.trainer_report import (
    BEFORE_RECORDED,
    EARLIER_RECIPES,
    EXPORT_ONLY,
    PEAK_RSS_TARGET_BYTES,
    Recipe,
    headline_groups,
    latest_default_runs,
    recorded_setting,
    seed_groups,
)
from edgetrain_trainer.config import TrainerConfig
from edgetrain_trainer.types import MODEL_TYPES


def _cpu(r: dict[str, Any]) -> str:
    """The CPU that timed the run's package: the re-export's machine for a re-export."""
    return ((r.get("reexport") or {}).get("machine") or r["machine"])["cpu_model"]


def _export_mark(r: dict[str, Any]) -> str:
    """‡ and the run's own score threshold when it was exported with another than today's default."""
    threshold = recorded_setting(r, "score_threshold")
    return "" if threshold == TrainerConfig().score_threshold else f" ‡ {threshold:g}"


def render_markdown(records: list[dict[str, Any]]) -> str:
    """BENCHMARKS.md section: the latest default-recipe run of each dataset x model type x budget, the
    same for each earlier recipe, means over seeds, every run, then failures."""
    latest = latest_default_runs(records)
    lines = [
        "## Trainer (exported int8 TF Lite on TEST rows; trained on TRAIN+VALIDATION)",
        "",
        *_run_table(latest),
    ]
    if latest:
        m = max(latest.values(), key=lambda r: r["started"])["machine"]
        lines += [
            "",
            f"Machine of the latest run: {m['cpu_model']}, {m['cores']} cores, "
            f"{(m['ram_bytes'] or 0) / 2**30:.0f} GB RAM, GPU {m['gpu'] or 'none'}, "
            f"load {m['load_average_1m']} at start, TF {m['tensorflow']}.",
            "",
            "Each row is the default-recipe training that started last (its recorded config is today's "
            "defaults, a time cap `max_train_seconds` aside), in its latest export, whatever its seed. Runs "
            "that try other settings, and earlier runs of the default, are listed under All runs; the "
            "earlier recipes' tables and the mean over each group's seeds follow the notes.",
            "",
            "threads: TF intra-op threads the training ran with. * = not recorded; inferred from the "
            "1-minute load average at the start, which is how runs before 2026-11-28 22:00 sized the pool "
            "(it lagged: a run started right after another got 1 of the 2 cores). commit: + uncommitted "
            "changes; ! the code changed while the run trained (run benchmarks from a checkout you do not "
            "edit).",
            "",
            "latency: median of 50 invokes right after the run, cycling through the first 8 TEST images. "
            "† timed on a constant gray image (runs before 2026-11-29 07:00), which is cheaper to "
            "post-process: a BCCD model returns 100 candidates on real images. The back-to-back table "
            "below compares the types under the same conditions.",
            "",
            "cpu: the machine the run trained on, where its latency was timed (a re-export's: the "
            "re-export's machine times it). Machines of this kind differ in CPU from day to day, and int8 "
            "latency with them: compare types in the back-to-back table, timed on one machine.",
            "",
            "‡ exported with another score threshold than today's default "
            f"({TrainerConfig().score_threshold:g}; the threshold after the mark): fewer candidates enter "
            "NMS at today's, which costs less time (docs/trainer_design.md).",
            "",
            "re-export: a training of an earlier commit exported and evaluated again with the commit "
            "after the arrow (`benchmarks/studies/trainer_reexport.py`), for changes to export or "
            "post-processing only; training figures are the original run's, mAP, latency and size the new "
            "export's.",
            "",
            "speed probe (All runs): one MobileNetV2 training step at 224 px, batch 8, 2 threads, timed "
            "just before and just after the run (`benchmarks/speed_probe.py`; lower is faster). The "
            "machine's speed moves by up to 50 % over hours; runs from before 2026-11-29 13:00 have none.",
        ]
    for recipe in EARLIER_RECIPES:
        lines += _earlier_recipe(records, recipe)
    lines += _seed_means(records)
    lines += _all_runs(records)
    failed = [r for r in records if r.get("status") != "ok"]
    if failed:
        lines += [
            "",
            "Failed runs: "
            + "; ".join(
                f"{r['dataset']} {r['model_type']} {r['started']} ({r['status']})" for r in failed[-10:]
            ),
        ]
    return "\n".join(lines) + "\n"


def _run_table(latest: dict[tuple, dict[str, Any]]) -> list[str]:
    """The headline table's header and one row per run of `latest` (latest_default_runs' keys)."""
    lines = [
        "| dataset | model type | budget | mAP@0.5 (target) | mAP@[.5:.95] | stop | cost | wall | threads "
        "| time to target | latency 2 thr (target) | size (target) | peak RSS (≤ 4 GB), phase "
        "| int8 loss | seed | commit | date | cpu |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key in sorted(latest):
        r = latest[key]
        t, met = r["targets"], r["targets"]["met"]
        lat_target = f" (≤ {t['latency_ms']:g} {_mark(met['latency'])})" if t["latency_ms"] else ""
        loss = r.get("int8_map50_loss")
        lines.append(
            f"| {r['dataset']} | {r['model_type']} | {r['budget_milli_node_hours']:,} "
            f"| {r['map50']:.3f} (≥ {t['map50']:.2f} {_mark(met['map50'])}) | {r['map50_95']:.3f} "
            f"| {r['stop_reason']} | {r['train_cost_milli_node_hours']:,} | {r['wall_s'] / 60:.1f} min "
            f"| {_threads(r)} "
            f"| {_minutes(r.get('time_to_target_s'))} | {r['latency_ms_median_2threads']:.1f} ms"
            f"{'' if r.get('latency_images') else '†'}{_export_mark(r)}{lat_target} "
            f"| {r['size_bytes'] / 1e6:.2f} MB (≤ {t['size_mb']:g} {_mark(met['size'])}) "
            f"| {_peak(r)} | {'' if loss is None else f'{loss:+.3f}'} | {r.get('seed', 0)} "
            f"| {_commit(r)} | {r['started'][:10]} | {_cpu(r)} |"
        )
    return lines


def _earlier_recipe(records: list[dict[str, Any]], recipe: Recipe) -> list[str]:
    """The latest run of an earlier default recipe per dataset x model type x budget: a "before" of the
    table above, where the two share a machine kind (compare only rows of the same cpu)."""
    latest = latest_default_runs(records, recipe.changes)
    if not latest:
        return []
    today = latest_default_runs(records)
    missing = sorted(f"{d} {MODEL_TYPES[t]}" for d, t, _ in set(latest) - set(today))
    lines = [
        "",
        f"### Earlier recipe: {recipe.label} ({recipe.name})",
        "",
        "The same table for the latest run of a recipe before today's: today's defaults but "
        + ", ".join(f"`{k}` {v}" for k, v in recipe.changes.items())
        + ". A run recorded before a setting existed counts at the value it then had ("
        + ", ".join(f"`{k}` {v}" for k, v in BEFORE_RECORDED.items() if k not in EXPORT_ONLY)
        + ").",
    ]
    if missing:
        lines.append(f"Not yet trained with today's recipe: {', '.join(missing)}.")
    return [*lines, "", *_run_table(latest)]


def _seed_means(records: list[dict[str, Any]]) -> list[str]:
    """Mean TEST figures over the seeds of each group of today's recipe and of the earlier ones, and
    whether the headline groups' means are strictly ordered by model type."""
    lines = [
        "",
        "### Mean over seeds (default recipe, then the earlier ones)",
        "",
        "| dataset | model type | budget | time cap | trainings (seeds) | mAP@0.5 mean (min–max) "
        "| mAP@[.5:.95] mean | wall mean | recipe |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    recipes = [(None, "today's"), *((r.changes, r.label) for r in EARLIER_RECIPES)]
    earlier = "; ".join(f"{r.label}: {r.name}" for r in EARLIER_RECIPES)
    for changes, recipe in recipes:
        for (dataset, type_index, budget, cap), runs in sorted(
            seed_groups(records, changes).items(), key=_group_order
        ):
            map50 = [r["map50"] for r in runs]
            cap_text = "none" if cap is None else f"{cap:g} s"
            lines.append(
                f"| {dataset} | {MODEL_TYPES[type_index]} | {budget:,} | {cap_text} "
                f"| {len(runs)} ({', '.join(str(r.get('seed', 0)) for r in runs)}) "
                f"| {mean(map50):.3f} ({min(map50):.3f}–{max(map50):.3f}) "
                f"| {mean(r['map50_95'] for r in runs):.3f} | {mean(r['wall_s'] for r in runs) / 60:.1f} min "
                f"| {recipe} |"
            )
    lines.append("")
    for dataset, by_type in headline_groups(records).items():
        means = [mean(r["map50"] for r in by_type[t]) for t in MODEL_TYPES if t in by_type]
        ordered = len(means) == len(MODEL_TYPES) and all(a < b for a, b in itertools.pairwise(means))
        figures = (" < " if ordered else " / ").join(f"{m:.3f}" for m in means)
        verdict = "strictly ordered" if ordered else "not strictly ordered"
        if len(means) < len(MODEL_TYPES):
            verdict = f"{len(means)} of {len(MODEL_TYPES)} types trained"
        lines.append(f"- {dataset}, the headline rows' groups by model type: {figures} ({verdict})")
    lines += [
        "",
        "A group is every training of one recipe, dataset, model type, budget and time cap; only the seed "
        f"differs ({earlier}). The verdict compares the mean mAP@0.5 of the groups "
        "the headline rows (today's recipe) belong to, low-latency, versatile, high-accuracy.",
    ]
    return lines


def _group_order(item: tuple[tuple, list]) -> tuple:
    (dataset, type_index, budget, cap), _ = item
    return dataset, type_index, budget, cap or 0


def _all_runs(records: list[dict[str, Any]]) -> list[str]:
    """Every successful run in order, with its overrides, the box loss and the selection metric it trained
    with (settings whose default changed): the tables above keep only the latest of the default recipes."""
    lines = [
        "",
        "### All runs",
        "",
        "| started | dataset | model type | overrides | box loss | selected on | seed | threads "
        "| speed probe | stop | wall | mAP@0.5 | mAP@[.5:.95] | commit |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in records:
        if r.get("status") != "ok":
            continue
        overrides = ", ".join(f"{k} {v}" for k, v in r["overrides"].items()) or "none"
        lines.append(
            f"| {r['started'][:16]} | {r['dataset']} | {r['model_type']} | {overrides} "
            f"| {recorded_setting(r, 'box_loss')} | {recorded_setting(r, 'selection_metric')} "
            f"| {r.get('seed', 0)} "
            f"| {_threads(r)} "
            f"| {_probe(r)} | {r['stop_reason']} | {r['wall_s'] / 60:.1f} min | {r['map50']:.3f} "
            f"| {r['map50_95']:.3f} | {_commit(r)} |"
        )
    return lines


def _threads(r: dict[str, Any]) -> str:
    """TF threads of the run. Runs before they were recorded sized the pool as the cores minus the
    1-minute load average, so that is what they had (marked *): right after another run it was 1 of 2."""
    if "threads" in r:
        return str(r["threads"])
    cores = r["machine"]["cores"] or 1
    return f"{max(1, min(cores, round(cores - r['machine']['load_average_1m'])))}*"


def _probe(r: dict[str, Any]) -> str:
    """The speed probe's step time before → after the run (lower is faster); blank for older runs."""
    probes = r.get("speed_probe") or {}
    times = [f"{p['step_ms']:.0f}" for p in (probes.get("before"), probes.get("after")) if p]
    return f"{' → '.join(times)} ms" if times else ""


def _peak(r: dict[str, Any]) -> str:
    """Peak RSS in GB (the target's unit) and, where recorded, the training phase it fell in."""
    by_phase = r.get("peak_rss_by_phase") or {}
    where = f", {max(by_phase, key=by_phase.__getitem__)}" if by_phase else ""
    ok = r["peak_rss_bytes"] <= PEAK_RSS_TARGET_BYTES
    return f"{r['peak_rss_bytes'] / 1e9:.2f} GB {_mark(ok)}{where}"


def _commit(r: dict[str, Any]) -> str:
    """The commit; + uncommitted changes; ! the code changed while the run trained; for a re-export, the
    training's commit → the export's."""
    git = r["git"]
    marks = ("+" if git["dirty"] else "") + ("!" if git.get("changed_during_run") else "")
    trained = f"{(git['commit'] or '')[:7]}{marks}"
    if "reexport" not in r:
        return trained
    again = r["reexport"]["git"]
    return f"{trained} → {(again['commit'] or '')[:7]}{'+' if again['dirty'] else ''} re-export"


def _mark(ok: bool | None) -> str:
    return "" if ok is None else ("✓" if ok else "✗")


def _minutes(seconds: float | None) -> str:
    return "" if seconds is None else f"{seconds / 60:.1f} min"
