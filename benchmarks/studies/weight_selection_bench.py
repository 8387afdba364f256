"""Weight selection study: a trainer benchmark run that also saves the weights its fine-tuning stage
validates after each epoch (their moving average); then every epoch's weights, and averages of the last
ones, are scored on TEST.

    python -m benchmarks.studies.weight_selection_bench train --dataset cards \\
        --model-type mobile-high-accuracy-1 \\
        --work-dir /tmp/study --compare-float
    python -m benchmarks.studies.weight_selection_bench score /tmp/study/snapshots-20261202-173000

`train` appends the run's record to benchmarks/results/trainer.jsonl as trainer_bench does (saving the
snapshots changes nothing in the training) and names the snapshot folder in it. `score` evaluates with the
float Keras model on the TEST rows (images stretched as in training, the export's post-processing) and
appends one record to benchmarks/results/weight_selection.jsonl: each epoch's TEST mAP@0.5 beside its
validation score, the uniform averages of the last n epochs, the run's own tail average if it evaluated one
(the trainer's tail_average_lr_fraction setting of 2026-12-02, since removed), and the weights the run kept.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path

import numpy as np

from benchmarks import trainer_bench
from benchmarks.report import RESULTS_DIR, save_record

RESULTS = RESULTS_DIR / "weight_selection.jsonl"
SNAPSHOT_DIR_ENV = "EDGETRAIN_SNAPSHOT_DIR"
TAIL_LENGTHS = (5, 10, 20)


def save_finetune_snapshots(out: Path) -> None:
    """Make the fine-tuning stage save the weights of each of its validations with the scores, numbered in
    order, and list them in out/index.json: every epoch's averaged weights, then the tail average if the
    stage evaluated one ("epoch": null)."""
    from edgetrain_trainer.training import loop
    from edgetrain_trainer.training.averaging import AveragedWeights

    run_stage, enter, exit_ = loop.run_stage, AveragedWeights.__enter__, AveragedWeights.__exit__
    index: list[dict] = []
    inside_epoch = [False]  # validations inside AveragedWeights are epochs; the one after is the tail average

    def entering(self):
        inside_epoch[0] = True
        return enter(self)

    def leaving(self, *exc):
        inside_epoch[0] = False
        return exit_(self, *exc)

    def recording_run_stage(stage, *args, **kwargs):
        if stage.name != "finetune":
            return run_stage(stage, *args, **kwargs)

        def recording_evaluate():
            map50, map50_95 = stage.evaluate()
            name = f"{len(index) + 1:03d}.npz"
            np.savez(out / name, *stage.model.get_weights())
            epochs = sum(1 for entry in index if entry["epoch"] is not None)
            index.append(
                {
                    "file": name,
                    "epoch": epochs + 1 if inside_epoch[0] else None,
                    "val_map50": map50,
                    "val_map50_95": map50_95,
                }
            )
            (out / "index.json").write_text(json.dumps(index, indent=1))
            return map50, map50_95

        return run_stage(dataclasses.replace(stage, evaluate=recording_evaluate), *args, **kwargs)

    AveragedWeights.__enter__, AveragedWeights.__exit__ = entering, leaving  # type: ignore[method-assign]
    loop.run_stage = recording_run_stage  # train() imports it from the module when it runs


def train(argv: list[str]) -> int:
    args = trainer_bench.parse_args(argv)
    if args.one:
        save_finetune_snapshots(Path(os.environ[SNAPSHOT_DIR_ENV]))
        return trainer_bench.main(argv)
    (dataset,), (model_type,) = args.dataset, args.model_type
    snapshots = args.work_dir / f"snapshots-{trainer_bench.datetime.now().strftime('%Y%m%d-%H%M%S')}"
    snapshots.mkdir(parents=True)
    os.environ[SNAPSHOT_DIR_ENV] = str(snapshots)
    record = trainer_bench.run_child(
        dataset, model_type, args, module="benchmarks.studies.weight_selection_bench"
    )
    record["snapshot_dir"] = str(snapshots)
    save_record(args.results, record)
    status, map50 = record["status"], record.get("map50")
    print(f"{dataset} {model_type}: {status} mAP@0.5 {map50}; snapshots in {snapshots}")
    return 0 if record["status"] == "ok" else 1


def score(snapshot_dir: Path, data_root: Path, results: Path, results_of_runs: Path) -> dict:
    from edgetrain_trainer.data.dataset import load_dataset
    from edgetrain_trainer.data.rows import TEST
    from edgetrain_trainer.export.package import load_model_dir

    record = next(
        r
        for r in map(json.loads, results_of_runs.read_text().splitlines())
        if r.get("snapshot_dir") == str(snapshot_dir)
    )
    full = load_dataset(data_root / record["dataset"] / "annotations.csv")
    test = full.split(TEST)
    trained = load_model_dir(Path(record["package_dir"]).parent / "model")
    kept = trained.detector.get_weights()  # before scoring swaps other weights in
    score_test = _scorer(trained, test, full.labels)
    index = json.loads((snapshot_dir / "index.json").read_text())
    epochs = [entry for entry in index if entry["epoch"] is not None]
    snapshots = [_weights(snapshot_dir / entry["file"]) for entry in epochs]
    val = [entry["val_map50"] for entry in epochs]
    rows = [
        {"epoch": entry["epoch"], "val_map50": entry["val_map50"], "test_map50": score_test(weights)}
        for entry, weights in zip(epochs, snapshots, strict=True)
    ]
    best = max(range(len(val)), key=lambda i: (val[i], i))  # ties: the later epoch, as run_stage keeps
    tails = {}
    for n in TAIL_LENGTHS:
        if n <= len(snapshots):
            tails[str(n)] = score_test(
                [np.mean(arrays, axis=0) for arrays in zip(*snapshots[-n:], strict=True)]
            )
    run_average = None
    for entry in index:
        if entry["epoch"] is None:  # the tail average the stage evaluated
            weights = _weights(snapshot_dir / entry["file"])
            kept_it = all(np.array_equal(a, b) for a, b in zip(weights, kept, strict=True))
            run_average = {
                "val_map50": entry["val_map50"],
                "test_map50": score_test(weights),
                "kept": kept_it,
            }
    study = {
        "bench": "weight_selection",
        "dataset": record["dataset"],
        "model_type": record["model_type"],
        "run_started": record["started"],
        "run_commit": record["git"]["commit"],
        "run_overrides": record["overrides"],
        "exported_test_map50_int8": record["map50"],
        "kept_weights_test_map50_keras": score_test(kept),
        "best_val_snapshot": rows[best],
        "snapshots": rows,
        "tail_average_test_map50": tails,
        "run_tail_average": run_average,
    }
    save_record(results, study)
    return study


def render_markdown(records: list[dict]) -> str:
    """BENCHMARKS.md section: per studied run, what its kept weights scored against its other epochs."""
    lines = [
        "## Weight selection study (Keras float model on TEST rows)",
        "",
        "`python -m benchmarks.studies.weight_selection_bench`: a trainer benchmark run that saves the",
        "weights of every fine-tuning epoch, each scored on TEST afterwards. Plateau: the last half of those",
        "epochs.",
        "Averages: uniform means of the weights of the last 5 / 10 / 20 epochs.",
        "",
        "| run started | dataset | model type | overrides | commit | epochs | kept: TEST (int8) "
        "| best validation: epoch, val → TEST | plateau TEST mean ± sd (min–max) | plateau r(val, TEST) "
        "| averages: TEST | the run's tail average: val → TEST |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    return "\n".join(lines + [_study_row(r) for r in records]) + "\n"


def _study_row(r: dict) -> str:
    rows = r["snapshots"]
    plateau = rows[len(rows) // 2 :]
    tests = np.array([x["test_map50"] for x in plateau])
    vals = np.array([x["val_map50"] for x in plateau])
    corr = "–"
    if len(plateau) > 2 and tests.std() > 0 and vals.std() > 0:
        corr = f"{np.corrcoef(vals, tests)[0, 1]:.2f}"
    best = r["best_val_snapshot"]
    averages = " / ".join(
        f"{r['tail_average_test_map50'][str(n)]:.3f}" if str(n) in r["tail_average_test_map50"] else "–"
        for n in TAIL_LENGTHS
    )
    tail = r.get("run_tail_average")
    if tail:
        verdict = "kept" if tail["kept"] else "not kept"
        tail_cell = f"{tail['val_map50']:.3f} → {tail['test_map50']:.3f}, {verdict}"
    else:
        tail_cell = "–"
    overrides = ", ".join(f"{k} {v}" for k, v in r["run_overrides"].items()) or "none"
    return (
        f"| {r['run_started'][:16]} | {r['dataset']} | {r['model_type']} | {overrides} "
        f"| {r['run_commit'][:7]} | {len(rows)} "
        f"| {r['kept_weights_test_map50_keras']:.3f} ({r['exported_test_map50_int8']:.3f}) "
        f"| {best['epoch']}, {best['val_map50']:.3f} → {best['test_map50']:.3f} "
        f"| {tests.mean():.3f} ± {tests.std():.3f} ({tests.min():.3f}–{tests.max():.3f}) "
        f"| {corr} | {averages} | {tail_cell} |"
    )


def _weights(path: Path) -> list[np.ndarray]:
    with np.load(path) as saved:
        return [saved[f"arr_{i}"] for i in range(len(saved.files))]


def _scorer(trained, test, full_labels):
    """weights → TEST mAP@0.5 of the Keras detector with those weights."""
    import tensorflow as tf

    from edgetrain_trainer.data.image_store import load_images
    from edgetrain_trainer.evaluation import evaluate
    from edgetrain_trainer.model.postprocess import PostProcessConfig, decode_detections

    images = load_images([e.image_path for e in test], trained.spec.input_size, 2**31, lambda: False)
    post = PostProcessConfig.from_trainer_config(trained.config)
    predict = tf.function(lambda x: trained.detector(x, training=False))

    def score_test(weights) -> float:
        trained.detector.set_weights(weights)
        found = []
        for i in range(0, len(images), 8):
            boxes, logits = predict(tf.constant(images[i : i + 8].astype(np.float32)))
            found += decode_detections(np.asarray(boxes), np.asarray(logits), trained.anchors, post)
        predictions = trainer_bench.in_dataset_classes(found, trained.labels, full_labels)
        return round(evaluate(test, full_labels, predictions).map50, 4)

    return score_test


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv:  # as run_all calls it: a study is started by hand, on the run it is about
        print("weight selection study: nothing to do without arguments (see the module's docstring)")
        return 0
    if argv[:1] == ["train"]:
        return train(argv[1:])
    if "--one" in argv:  # the training child that train() starts
        return train(argv)
    parser = argparse.ArgumentParser(prog="python -m benchmarks.studies.weight_selection_bench score")
    parser.add_argument("snapshot_dir", type=Path)
    parser.add_argument("--data-root", type=Path, default=trainer_bench.default_data_root())
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--runs", type=Path, default=trainer_bench.RESULTS, help="where train wrote the run")
    args = parser.parse_args(argv[1:] if argv[:1] == ["score"] else argv)
    study = score(args.snapshot_dir, args.data_root, args.results, args.runs)
    print(json.dumps({k: v for k, v in study.items() if k != "snapshots"}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
