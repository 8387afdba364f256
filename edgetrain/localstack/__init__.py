"""The local stack: the whole pipeline on 127.0.0.1 (emulators, `edgetrain serve`, functions-framework).

`edgetrain local-stack run` (cli.py) drives it; emulators.py and processes.py are also the tests' helpers.
"""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_FUNCTIONS_SOURCE = REPO_ROOT / "functions" / "main.py"
BACKENDS = ("automl-v1", "vertex-ai")  # TRAINING_BACKEND of the functions; `edgetrain serve` speaks both
EXPORT_BUCKET = "edgetrain-local"  # gs://edgetrain-local/… lives under the service's storage root
PROGRESS_URI_PREFIX = f"gs://{EXPORT_BUCKET}/training-progress/"  # running trainings' learning curves
