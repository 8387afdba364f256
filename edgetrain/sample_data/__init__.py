"""Datasets bundled with edgetrain so that `make run` needs nothing outside the repository."""

from pathlib import Path

SAMPLE_DATA_DIR = Path(__file__).resolve().parent
BCCD_SAMPLE_CSV = SAMPLE_DATA_DIR / "bccd_sample" / "annotations.csv"
# Trainer overrides `make run` passes to `edgetrain serve`: the demo must end within 15 min on 2 cores.
DEMO_TRAINER_OVERRIDES = SAMPLE_DATA_DIR / "demo_trainer_overrides.json"
