"""End-to-end test helpers: a tiny dataset cut from the bundled sample, the runner as a process."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

from edgetrain.sample_data import BCCD_SAMPLE_CSV

# Just enough for a real training to run its stages in seconds: CI-sized, not a quality run.
TINY_TRAINER_OVERRIDES = {
    "max_epochs": 1,
    "max_train_images": 8,
    "max_eval_images": 4,
    "cache_views": 1,
    "calibration_images": 4,
    "finetune": False,
}


def tiny_dataset(folder: Path, per_split: dict[str, int] | None = None) -> Path:
    """A copy of the first images of each split of the bundled sample; returns its annotations.csv."""
    per_split = per_split or {"TRAIN": 8, "VALIDATION": 4, "TEST": 4}
    rows = list(csv.reader(BCCD_SAMPLE_CSV.open(newline="")))
    chosen: dict[str, list[str]] = {use: [] for use in per_split}
    for row in rows:
        images = chosen.get(row[0])
        if images is not None and row[1] not in images and len(images) < per_split[row[0]]:
            images.append(row[1])
    keep = {image for images in chosen.values() for image in images}
    (folder / "images").mkdir(parents=True, exist_ok=True)
    for image in keep:
        shutil.copy(BCCD_SAMPLE_CSV.parent / image, folder / image)
    out = folder / "annotations.csv"
    with out.open("w", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(row for row in rows if row[1] in keep)
    return out


def runner_command(data: Path, var_dir: Path, overrides_file: Path, *extra: str) -> list[str]:
    overrides_file.write_text(json.dumps(TINY_TRAINER_OVERRIDES))
    return [
        sys.executable, "-m", "edgetrain.cli", "local-stack", "run",
        "--data", str(data),
        "--trainer-overrides", str(overrides_file),
        "--poll-interval", "2",
        "--var-dir", str(var_dir),
        "--timeout", "10",
        *extra,
    ]  # fmt: skip


def run_dir_of(var_dir: Path) -> Path:
    [run_dir] = [p for p in var_dir.iterdir() if p.is_dir()]
    return run_dir


def live_process_groups(run_dir: Path) -> dict[str, list[int]]:
    """For each process group the run recorded, the pids still alive in it (empty lists: all gone)."""
    manifest = json.loads((run_dir / "processes.json").read_text())
    alive = {}
    for name, entry in manifest.items():
        out = subprocess.run(["ps", "-o", "pid=", "-g", str(entry["pgid"])], capture_output=True, text=True)
        alive[name] = [int(pid) for pid in out.stdout.split()]
    return alive


def processes_mentioning(path: Path) -> list[str]:
    """Command lines of live processes that name `path` (e.g. the service's --data-dir under a run dir)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if proc.name.isdigit() and str(path) in cmdline:
            found.append(cmdline)
    return found
