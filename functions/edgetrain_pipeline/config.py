"""Every setting of the pipeline, read from the environment in one place (`get_env()`).

Terraform sets these on each function; the local stack and the tests set them on the process. Topic names
live in topics.py (the contract shared with infra/), not here.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from functools import lru_cache

from .errors import ConfigurationException

TRAINING_BACKENDS = ("automl-v1", "vertex-ai")
MODEL_TYPES = ("mobile-low-latency-1", "mobile-versatile-1", "mobile-high-accuracy-1")
MIN_BUDGET_MILLI_NODE_HOURS, MAX_BUDGET_MILLI_NODE_HOURS = 1_000, 100_000  # AutoML's range for edge models
EXPORT_FORMATS = ("tflite", "tf_saved_model", "tf_js")
CHAMPION_METRICS = ("boundingBoxMeanAveragePrecision", "meanAveragePrecisionAt50")


@dataclass(frozen=True)
class Settings:
    project: str  # GOOGLE_CLOUD_PROJECT: Firestore, Pub/Sub and the training resource names
    location: str  # AUTOML_LOCATION: location in resource names; with vertex-ai, the Vertex AI region
    training_backend: str  # TRAINING_BACKEND: automl-v1 or vertex-ai (training_backend.py)
    automl_endpoint: str | None  # AUTOML_ENDPOINT: host:port of the AutoML v1 service (insecure gRPC)
    vertex_endpoint: str | None  # VERTEX_ENDPOINT: host:port of a local Vertex service; None = Google
    automl_token: str | None  # AUTOML_TOKEN: bearer token the self-hosted service requires (either API)
    default_model_type: str  # DEFAULT_MODEL_TYPE
    default_budget_milli_node_hours: int  # DEFAULT_BUDGET_MILLI_NODE_HOURS
    min_new_examples: int  # MIN_NEW_EXAMPLES since the last training, for import-triggered trainings
    champion_metric: str  # CHAMPION_METRIC
    champion_min_improvement: float  # CHAMPION_MIN_IMPROVEMENT: a challenger must beat the champion by more
    max_label_ap_drop: float  # MAX_LABEL_AP_DROP: largest fall of one label's AP@0.5 a promotion allows
    max_latency_increase_ms: float  # MAX_LATENCY_INCREASE_MS: largest int8 latency rise a promotion allows
    retrain_from_champion: bool  # RETRAIN_FROM_CHAMPION: warm-start trainings from the champion (default on)
    export_formats: tuple[str, ...]  # EXPORT_FORMATS, comma-separated; tflite always first
    export_uri_prefix: str  # EXPORT_URI_PREFIX, e.g. gs://bucket/model-export/
    retain_models: int  # RETAIN_MODELS: non-champion models kept per dataset (older ones are deleted)
    retry_deadline_s: float  # RETRY_DEADLINE_S: how long transient AutoML/Firestore errors are retried
    create_lease_s: float  # CREATE_LEASE_S: a CreateModel claim older than this is reconciled by the poller
    poll_max_age_s: float  # POLL_MAX_AGE_S: older scheduler ticks (a redelivered backlog) are dropped
    status_page_size: int  # STATUS_PAGE_SIZE: trainings, and imports, per page
    status_refresh_s: int  # STATUS_REFRESH_S: auto-refresh interval of the status page
    csrf_secret: str  # CSRF_SECRET: signs the form tokens; one random per process when unset
    # TRAINING_PROGRESS_URI_PREFIX: where the service writes running trainings' learning curves (its
    # --progress-uri-prefix), gs://BUCKET/PATH/; "" reads none
    training_progress_uri_prefix: str
    # STORAGE_LOCAL_ROOT: a local folder holding gs://BUCKET/PATH as BUCKET/PATH (the local stack: the
    # service's storage root); unset reads Cloud Storage
    storage_local_root: str | None
    predict_max_bytes: int  # PREDICT_MAX_BYTES: the largest image the status page's "Try an image" takes


def _int(name: str, default: int, low: int, high: int) -> int:
    raw = os.environ.get(name, str(default))
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationException(f"{name}={raw!r} is not an integer") from None
    if not low <= value <= high:
        raise ConfigurationException(f"{name}={value} is outside {low}..{high}")
    return value


def _float(name: str, default: float, low: float) -> float:
    raw = os.environ.get(name, str(default))
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationException(f"{name}={raw!r} is not a number") from None
    if value < low:
        raise ConfigurationException(f"{name}={value} is below {low}")
    return value


def _choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = os.environ.get(name, default)
    if value not in choices:
        raise ConfigurationException(f"{name}={value!r} must be one of {', '.join(choices)}")
    return value


def _export_formats() -> tuple[str, ...]:
    raw = os.environ.get("EXPORT_FORMATS", "tflite")
    formats = ["tflite"] + [f.strip() for f in raw.split(",") if f.strip() and f.strip() != "tflite"]
    for fmt in formats:
        if fmt not in EXPORT_FORMATS:
            raise ConfigurationException(
                f"EXPORT_FORMATS: {fmt!r} must be one of {', '.join(EXPORT_FORMATS)}"
            )
    return tuple(dict.fromkeys(formats))


def _project() -> str:
    for name in ("GOOGLE_CLOUD_PROJECT", "GCP_PROJECT"):
        if os.environ.get(name):
            return os.environ[name]
    raise ConfigurationException("GOOGLE_CLOUD_PROJECT is not set")


def _automl_endpoint(backend: str) -> str | None:
    endpoint = os.environ.get("AUTOML_ENDPOINT") or None
    if backend == "automl-v1" and endpoint is None:
        raise ConfigurationException(
            "AUTOML_ENDPOINT is not set: TRAINING_BACKEND=automl-v1 needs the host:port of an AutoML Vision "
            "v1 service such as `edgetrain serve` (Google shut its own AutoML Vision endpoint down in 2024); "
            "for Google's managed AutoML set TRAINING_BACKEND=vertex-ai"
        )
    return endpoint


@lru_cache(maxsize=1)
def get_env() -> Settings:
    """The settings of this process, read once (tests call get_env.cache_clear() after changing env)."""
    backend = _choice("TRAINING_BACKEND", "automl-v1", TRAINING_BACKENDS)
    return Settings(
        project=_project(),
        location=os.environ.get("AUTOML_LOCATION", "us-central1"),
        training_backend=backend,
        automl_endpoint=_automl_endpoint(backend),
        vertex_endpoint=os.environ.get("VERTEX_ENDPOINT") or None,
        automl_token=os.environ.get("AUTOML_TOKEN") or None,
        default_model_type=_choice("DEFAULT_MODEL_TYPE", "mobile-versatile-1", MODEL_TYPES),
        default_budget_milli_node_hours=_int(
            "DEFAULT_BUDGET_MILLI_NODE_HOURS",
            24_000,
            MIN_BUDGET_MILLI_NODE_HOURS,
            MAX_BUDGET_MILLI_NODE_HOURS,
        ),
        min_new_examples=_int("MIN_NEW_EXAMPLES", 1, 0, 10_000_000),
        champion_metric=_choice("CHAMPION_METRIC", "boundingBoxMeanAveragePrecision", CHAMPION_METRICS),
        champion_min_improvement=_float("CHAMPION_MIN_IMPROVEMENT", 0.005, 0.0),
        max_label_ap_drop=_float("MAX_LABEL_AP_DROP", 0.02, 0.0),
        max_latency_increase_ms=_float("MAX_LATENCY_INCREASE_MS", 2.0, 0.0),
        retrain_from_champion=_choice("RETRAIN_FROM_CHAMPION", "true", ("true", "false")) == "true",
        export_formats=_export_formats(),
        export_uri_prefix=os.environ.get("EXPORT_URI_PREFIX", "gs://edgetrain-models/model-export/"),
        retain_models=_int("RETAIN_MODELS", 3, 0, 1000),
        retry_deadline_s=_float("RETRY_DEADLINE_S", 60.0, 0.1),
        create_lease_s=_float("CREATE_LEASE_S", 300.0, 1.0),
        poll_max_age_s=_float("POLL_MAX_AGE_S", 300.0, 1.0),
        status_page_size=_int("STATUS_PAGE_SIZE", 20, 1, 200),
        status_refresh_s=_int("STATUS_REFRESH_S", 10, 1, 3600),
        csrf_secret=os.environ.get("CSRF_SECRET") or _PROCESS_SECRET,
        training_progress_uri_prefix=os.environ.get("TRAINING_PROGRESS_URI_PREFIX", ""),
        storage_local_root=os.environ.get("STORAGE_LOCAL_ROOT") or None,
        predict_max_bytes=_int("PREDICT_MAX_BYTES", 8 * 2**20, 1024, 30 * 2**20),
    )


_PROCESS_SECRET = secrets.token_hex(32)
