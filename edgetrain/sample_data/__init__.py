"""Datasets bundled with edgetrain so that `make run` needs nothing outside the repository."""

from pathlib import Path

SAMPLE_DATA_DIR = Path(__file__).resolve().parent
BCCD_SAMPLE_CSV = SAMPLE_DATA_DIR / "bccd_sample" / "annotations.csv"
