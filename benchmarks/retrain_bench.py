"""Retraining benchmark (issue 29 item 5): BCCD arriving in three rounds, each driven by the real pipeline.

    python -m benchmarks.retrain_bench                                # 40/70/100 % of TRAIN, caps 840 / 240 s
    python -m benchmarks.retrain_bench --cold-seconds 420 --warm-seconds 120   # shorter, unconverged
    python -m benchmarks.retrain_bench --images-per-split 4 --overrides '{"max_epochs": 1}'   # smoke run

How: the real pipeline on the local stack, as `make run` starts it (Pub/Sub and Firestore emulators,
`edgetrain serve`, every function under functions-framework, the scheduler loop). The bench acts only as
upstream does: it creates the dataset with the official AutoML client and publishes each round's CSV on the
import-requests topic. The pipeline imports it, starts the training (from the champion's weights when the
dataset has one, its default), has the service evaluate the champion on the challenger's TEST images and
decides; the bench reads what the pipeline recorded (Firestore trainings/: evaluation, comparison,
championReason) and GetModel (the edgetrain-base-model label marks a warm start).

Rounds: the TRAIN images in a seeded order; round 1 brings every VALIDATION and TEST row and the first 40 % of
the TRAIN images (all of an image's rows), rounds 2 and 3 the next shares (to 70 %, to 100 %). A second
dataset gets round 3's data in one import: its first model is the cold-start reference.

Time: the service's `max_train_seconds` override applies to every training it runs, so the bench restarts
`edgetrain serve` (same data, same ports) between the cold trainings (round 1 and the reference,
--cold-seconds) and the warm ones (--warm-seconds). The target is measured by those caps, not by per-epoch
snapshots: round 3, warm-started and given at most a third of the cold reference's training time, ends with
a TEST mAP@0.5 no lower than the reference's. When the reference stopped early (MODEL_CONVERGED) its cap says
nothing, and the two trainings' whole wall times (the service's train cost × 3.6 s) are compared instead.
Appends one record to benchmarks/results/retrain.jsonl, also when a round fails (with the error).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.interrupts import stop_cleanly_on_sigterm
from benchmarks.machine import git_info, machine_info
from benchmarks.report import RESULTS_DIR, measured_on, save_record
from benchmarks.retrain_pipeline import PipelineDriver
from benchmarks.retrain_rounds import split_rounds, subsample, target, write_csv

ROOT = Path(__file__).resolve().parents[1]
RESULTS = RESULTS_DIR / "retrain.jsonl"
DATA = Path(os.environ.get("EDGETRAIN_BENCH_DATA", ROOT.parent / "shared" / "datasets")) / "bccd"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.retrain_bench", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--data", type=Path, default=DATA, help="AutoML-CSV dataset folder (default BCCD)")
    parser.add_argument("--fractions", default="0.4,0.7,1.0", help="TRAIN shares after each round")
    parser.add_argument("--seed", type=int, default=29, help="the TRAIN images' order")
    parser.add_argument("--cold-seconds", type=float, default=840, help="max_train_seconds, cold trainings")
    parser.add_argument("--warm-seconds", type=float, default=240, help="max_train_seconds, warm trainings")
    parser.add_argument("--overrides", type=json.loads, default={}, help="more trainer overrides (JSON)")
    parser.add_argument("--images-per-split", type=int, default=0, help="a smoke run: N images per ML_USE")
    parser.add_argument("--model-type", default="mobile-low-latency-1")
    parser.add_argument("--function-env", action="append", default=[], metavar="K=V", help="pipeline setting")
    parser.add_argument("--poll-interval", type=float, default=5.0, help="scheduler tick seconds")
    parser.add_argument("--round-timeout", type=float, default=20.0, help="minutes per round")
    parser.add_argument("--stop-after", type=float, default=0, help="minutes in all; record what is done")
    parser.add_argument("--results", type=Path, default=RESULTS)
    return parser.parse_args(argv)


def run(args: argparse.Namespace, record: dict[str, Any]) -> None:
    """Fill record["rounds"], ["cold"] and ["target"] as the run goes (a failure keeps what was measured)."""
    from edgetrain.localstack import upstream
    from edgetrain.localstack.stack import LocalStack, StackConfig

    rows = list(csv.reader((args.data / "annotations.csv").open()))
    if args.images_per_split:
        rows = subsample(rows, args.images_per_split, args.seed)
    fractions = tuple(float(f) for f in args.fractions.split(","))
    rounds = split_rounds(rows, fractions, args.seed)
    tag = record["started"][:19].replace(":", "").replace("-", "")  # request ids and folders: no + or :
    work = ROOT / "var" / "retrain-bench" / tag
    image_root = args.data.resolve()
    csvs = [write_csv(r, work / f"round{k}.csv", image_root) for k, r in enumerate(rounds, start=1)]
    cold_csv = write_csv(rows, work / "all.csv", image_root)
    new_train = [len({row[1] for row in r if row[0] == "TRAIN"}) for r in rounds]
    train_counts = [sum(new_train[: k + 1]) for k in range(len(rounds))]
    cold_overrides = {**args.overrides, "max_train_seconds": args.cold_seconds}
    warm_overrides = {**args.overrides, "max_train_seconds": args.warm_seconds}
    function_env = dict(item.split("=", 1) for item in args.function_env)
    config = StackConfig(
        run_dir=work / "stack",
        trainer_overrides=cold_overrides,
        poll_interval_s=args.poll_interval,
        allow_local_dirs=(work, image_root),
        function_env={"DEFAULT_MODEL_TYPE": args.model_type, "DEFAULT_BUDGET_MILLI_NODE_HOURS": "1000",
                      "MIN_NEW_EXAMPLES": "1", **function_env},
    )  # fmt: skip
    say = lambda message: print(f"[retrain {datetime.now(UTC):%H:%M:%S}] {message}", flush=True)  # noqa: E731
    stack = LocalStack(config)
    try:
        stack.start(on_step=say)
        deadline = time.monotonic() + args.stop_after * 60 if args.stop_after else float("inf")
        bench = PipelineDriver(stack, args.round_timeout * 60, deadline)
        grpc, project, location = stack.service.grpc_target, config.project, config.location
        rounds_ds = upstream.create_dataset(grpc, project, location, "retrain_rounds")
        cold_ds = upstream.create_dataset(grpc, project, location, "retrain_cold")
        for k, path in enumerate(csvs, start=1):
            if k == 2 and args.warm_seconds != args.cold_seconds:
                say(f"restarting edgetrain serve with max_train_seconds {args.warm_seconds:g}")
                bench.restart_service(warm_overrides)
            cap = args.cold_seconds if k == 1 else args.warm_seconds
            say(f"round {k}: importing {path.name} ({train_counts[k - 1]} TRAIN images in all)")
            training, wall = bench.drive(rounds_ds, path, f"retrain-{tag}-round{k}")
            entry = {
                "round": k,
                "train_images": train_counts[k - 1],
                **bench.round_record(training, wall, cap),
                "load_1m": round(os.getloadavg()[0], 2),  # at the decision: the machine is shared
            }
            record["rounds"].append(entry)
            shown = ("start", "map50", "champion_map50", "decided_by")
            say(f"round {k}: {json.dumps({x: entry[x] for x in shown})}")
            if k == 1:
                say("cold reference: round 3's data in one import into a second dataset")
                training, wall = bench.drive(cold_ds, cold_csv, f"retrain-{tag}-cold")
                record["cold"] = {
                    "train_images": train_counts[-1],
                    **bench.round_record(training, wall, cap),
                    "load_1m": round(os.getloadavg()[0], 2),
                }
                say(f"cold reference: mAP@0.5 {record['cold']['map50']}")
        record["target"] = target(record["rounds"], record["cold"])
    finally:
        stack.stop()


# ---------------------------------------------------------------- BENCHMARKS.md
def _pair(a: float | None, b: float | None) -> str:
    return "–" if a is None else f"{a:.3f} / {b:.3f}" if b is not None else f"{a:.3f} / –"


def _row(name: str, r: dict[str, Any]) -> str:
    champion = _pair(r.get("champion_map50"), r.get("champion_map50_95"))
    if r.get("champion_model") and r.get("same_images") is not None:
        champion += " (same images)" if r["same_images"] else " (other images!)"
    decision = "promoted" if r.get("promoted") else "refused"
    reason = (r.get("reason") or "").replace("|", "\\|")
    return (
        f"| {name} | {r.get('train_images')} | {r.get('start')} | {r.get('max_train_seconds'):g} s | "
        f"{_pair(r.get('map50'), r.get('map50_95'))} | {champion} | "
        f"{decision} ({r.get('decided_by') or '–'}) | "
        f"{reason} | {r.get('train_wall_s')} s | {r.get('round_wall_s')} s | {r.get('load_1m', '–')} |"
    )


def _why(goal: dict[str, Any], record: dict[str, Any]) -> str:
    if goal.get("met"):
        return f"judged by the {goal.get('basis')}"
    return goal.get("why") or record.get("error") or "no result"


def _versus(record: dict[str, Any]) -> str:
    """': round 3 … vs the cold reference …' when both finished."""
    warm, cold = (record.get("rounds") or [None])[-1], record.get("cold")
    if not warm or not cold or warm.get("map50") is None or cold.get("map50") is None:
        return ""
    return (
        f": round {warm['round']} ({warm['start']}, cap {warm['max_train_seconds']:g} s, wall "
        f"{warm['train_wall_s']} s) {warm['map50']:.3f} vs the cold reference (cap "
        f"{cold['max_train_seconds']:g} s, wall {cold['train_wall_s']} s) {cold['map50']:.3f}"
    )


def render_markdown(records: list[dict[str, Any]]) -> str:
    lines = [
        "## Retraining: BCCD in three rounds through the pipeline (issue 29)",
        "",
        "`python -m benchmarks.retrain_bench`: the real pipeline on the local stack (emulators, "
        "`edgetrain serve`, functions); TEST rows fixed from round 1, TRAIN arriving 40 / 70 / 100 %. Per "
        "round the challenger's and the champion's TEST mAP@0.5 / mAP@[.5:.95] on the same TEST images (the "
        "service evaluates the champion on the challenger's), the pipeline's decision and reason, the "
        "training's wall time (the service's train cost) and the round's (import request to decision). "
        "Target: warm-started with a third of the cold reference's training time (the caps), round 3 ends no "
        "lower than the reference's TEST mAP@0.5.",
        "",
    ]
    full = [r for r in records if not r.get("smoke") and r.get("rounds")]
    shown = (full or [r for r in records if r.get("rounds")] or records)[-1]
    m = shown.get("machine", {})
    lines.append(
        f"{measured_on(shown)}; load {m.get('load_average_1m')} at the start, "
        f"{shown.get('load_end')} at the end; {shown.get('minutes')} min in all"
        + ("; a smoke run" if shown.get("smoke") else "")
        + "."
    )
    lines += [
        "",
        "| round | TRAIN images | start | cap | challenger mAP@0.5 / @[.5:.95] | "
        "champion, same TEST images | decision (by) | reason | train wall | round wall | load |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [_row(str(r["round"]), r) for r in shown.get("rounds", [])]
    if shown.get("cold"):
        lines.append(_row("cold reference", shown["cold"]))
    goal = shown.get("target") or {}
    verdict = {True: "✓ met", False: "✗ not met", None: "–"}[goal.get("met")]
    lines += [
        "",
        f"Target: {verdict} ({_why(goal, shown)}){_versus(shown)}.",
        "",
    ]
    lines += [
        "| started | commit | smoke | load | caps cold / warm | decisions | target | error |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in records[-10:]:
        decisions = ", ".join(
            ("P" if x.get("promoted") else "R") + f"({x.get('decided_by')})" for x in r.get("rounds", [])
        )
        met = {True: "✓", False: "✗", None: "–"}[(r.get("target") or {}).get("met")]
        commit = (r["git"].get("commit") or "")[:7] + (
            "!" if r["git"].get("dirty") else ""
        )  # ! = uncommitted
        lines.append(
            f"| {r['started'][:16]} | {commit} | "
            f"{'yes' if r.get('smoke') else ''} | {r['machine'].get('load_average_1m')} | "
            f"{r['cold_seconds']:g} / {r['warm_seconds']:g} | {decisions} | "
            f"{met} | {(r.get('error') or '').replace('|', '/')[:120]} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    started = time.monotonic()
    record: dict[str, Any] = {
        "benchmark": "retrain",
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "smoke": bool(args.images_per_split or args.overrides),
        "dataset": args.data.name,
        "model_type": args.model_type,
        "fractions": args.fractions,
        "seed": args.seed,
        "cold_seconds": args.cold_seconds,
        "warm_seconds": args.warm_seconds,
        "overrides": args.overrides,
        "function_env": args.function_env,
        "git": git_info(),
        "machine": machine_info(),
        "rounds": [],
        "cold": None,
    }
    stop_cleanly_on_sigterm()  # `kill` or `timeout`: stop the stack, keep the record
    try:
        run(args, record)
    except (Exception, KeyboardInterrupt) as error:  # keep what was measured; the record says why it stopped
        record["error"] = f"{type(error).__name__}: {error}"
    record["minutes"] = round((time.monotonic() - started) / 60, 1)
    record["load_end"] = round(os.getloadavg()[0], 2)
    if args.results == RESULTS:
        save_record(args.results, record)  # appends and regenerates BENCHMARKS.md
    else:  # a trial run elsewhere leaves BENCHMARKS.md alone
        with args.results.open("a", encoding="utf-8") as out:
            out.write(json.dumps(record) + "\n")
    print(json.dumps({k: record.get(k) for k in ("rounds", "cold", "target", "error", "minutes")}, indent=1))
    return 0 if (record.get("target") or {}).get("met") else 1


if __name__ == "__main__":
    sys.exit(main())
