"""Resource labels: Google Cloud's rules for them, as AutoML and Vertex AI refuse labels that break them, and
the labels this service writes on a trained model.

Google's rules: at most 64 labels; keys of 1 to 63 characters that start with a lower-case letter; keys and
values of lower-case letters, digits, `_` and `-` (international letters allowed); values up to 63 characters.
"""

from __future__ import annotations

from collections.abc import Mapping

from .errors import invalid_field
from .job_payloads import BASE_MODEL_LABEL, COMPARE_TO_LABEL

MAX_LABELS = 64
MAX_LENGTH = 63

# Written on each trained model (comparison.py); a CreateModel leaves room for them within MAX_LABELS.
TEST_IMAGES_LABEL = "edgetrain-test-images"  # images_digest of the TEST images the model was evaluated on
LATENCY_LABEL = "edgetrain-latency-us"  # int8 TF Lite median invoke time, 2 threads, microseconds
COMPARED_TEST_IMAGES_LABEL = "edgetrain-compared-test-images"
COMPARED_LATENCY_LABEL = "edgetrain-compared-latency-us"
RESULT_LABELS = (TEST_IMAGES_LABEL, LATENCY_LABEL, COMPARED_TEST_IMAGES_LABEL, COMPARED_LATENCY_LABEL)
MAX_CREATE_MODEL_LABELS = MAX_LABELS - len(RESULT_LABELS)

# Their values may also be a full model name (docs/service.md); the training checks the model they name.
MODEL_NAME_VALUES = frozenset({BASE_MODEL_LABEL, COMPARE_TO_LABEL})

_RULE = "lower-case letters, digits, '_' and '-'"


def validate_labels(labels: Mapping[str, str], field: str, limit: int = MAX_LABELS) -> None:
    """INVALID_ARGUMENT naming `field` for labels Google would refuse."""
    if len(labels) > limit:
        raise invalid_field(field, f"has {len(labels)} labels; at most {limit} are allowed here")
    for key, value in sorted(labels.items()):
        if not 1 <= len(key) <= MAX_LENGTH or not _lower(key[0]) or not all(map(_allowed, key)):
            raise invalid_field(
                field, f"key {key!r} must be 1 to {MAX_LENGTH} {_RULE}, starting with a lower-case letter"
            )
        if key in MODEL_NAME_VALUES:
            continue
        if len(value) > MAX_LENGTH or not all(map(_allowed, value)):
            raise invalid_field(field, f"value {value!r} of {key!r} must be up to {MAX_LENGTH} {_RULE}")


def _lower(char: str) -> bool:
    """A lower-case letter, or a letter without case (CJK, Arabic…): Google allows international ones."""
    return char.islower() or (char.isalpha() and not char.isupper())


def _allowed(char: str) -> bool:
    return _lower(char) or char.isdigit() or char in "_-"
