"""What a backend reports about a trained model, gathered for the promotion rule (promotion.py).

A backend that compared the model with the dataset's champion on the same TEST images (`edgetrain serve`,
asked with COMPARE_TO_LABEL) also returns the champion's evaluation: ModelEvaluations whose display name
starts with COMPARED_PREFIX (on Vertex: evaluations, each with its per-label slices), and model labels that
carry the TEST images' digest and both int8 latencies (docs/service.md, "Comparing with an earlier model").
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .evaluation import (
    automl_label_summary,
    summarize_evaluation,
    summarize_vertex_metrics,
    vertex_label_summary,
    with_images,
)

# The service's comparison (edgetrain_service/comparison.py; tests/pipeline checks the two agree)
COMPARE_TO_LABEL = "edgetrain-compare-to"
COMPARED_PREFIX = "compared-to:"
TEST_IMAGES_LABEL = "edgetrain-test-images"
LATENCY_LABEL = "edgetrain-latency-us"
COMPARED_TEST_IMAGES_LABEL = "edgetrain-compared-test-images"
COMPARED_LATENCY_LABEL = "edgetrain-compared-latency-us"


def latency_from_label(labels: Mapping[str, str], key: str) -> float | None:
    """A latency label (integer microseconds) in milliseconds; None when absent or not a number."""
    try:
        return int(labels[key]) / 1000.0
    except (KeyError, ValueError):
        return None


@dataclass(frozen=True)
class Evaluations:
    """What a backend reports about a trained model. evaluation: with_images() of its own evaluation ({} when
    there is none); champion: the same for the compared model on the same TEST images, None when the backend
    made no comparison; champion_model: the compared model's id as its evaluations name it."""

    evaluation: dict[str, Any]
    latency_ms: float | None = None
    champion: dict[str, Any] | None = None
    champion_model: str | None = None
    champion_latency_ms: float | None = None


def _compared(display_name: str) -> tuple[str, str] | None:
    """(model id, label) of a compared model's evaluation display name; None for the model's own."""
    if not display_name.startswith(COMPARED_PREFIX):
        return None
    model_id, _, label = display_name[len(COMPARED_PREFIX) :].partition(":")
    return model_id, label


def automl_evaluations(evaluations: Iterable[Any], labels: Mapping[str, str]) -> Evaluations:
    """Evaluations from an AutoML v1 model's ModelEvaluations and its labels."""
    overall: dict[bool, Any] = {}
    per_label: dict[bool, list[dict[str, Any]]] = {False: [], True: []}
    compared_model = None
    for item in evaluations:
        compared = _compared(item.display_name)
        if compared:
            compared_model = compared[0]
        if item.annotation_spec_id:
            label = compared[1] if compared else item.display_name
            per_label[bool(compared)].append(automl_label_summary(item, label))
        else:
            overall.setdefault(bool(compared), item)

    def summary(theirs: bool, digest_label: str) -> dict[str, Any]:
        item = overall[theirs]
        count = item.evaluated_example_count
        return with_images(summarize_evaluation(item), per_label[theirs], count, labels.get(digest_label))

    return _evaluations(summary, overall, compared_model, labels)


def _evaluations(
    summary: Callable[[bool, str], dict[str, Any]],
    found: Container[bool],
    compared_model: str | None,
    labels: Mapping[str, str],
) -> Evaluations:
    """Evaluations from `summary(theirs, digest label)` of the model's own evaluation (theirs False) and of
    the compared model's (True), for those `found` holds, with the two latencies from the model's labels."""
    has_theirs = True in found
    return Evaluations(
        evaluation=summary(False, TEST_IMAGES_LABEL) if False in found else {},
        latency_ms=latency_from_label(labels, LATENCY_LABEL),
        champion=summary(True, COMPARED_TEST_IMAGES_LABEL) if has_theirs else None,
        champion_model=compared_model if has_theirs else None,
        champion_latency_ms=latency_from_label(labels, COMPARED_LATENCY_LABEL),
    )


def _dimension(evaluation_slice: Mapping[str, Any]) -> str:
    return (evaluation_slice.get("slice_") or {}).get("dimension", "")


def vertex_evaluations(
    evaluations: Iterable[tuple[Mapping[str, Any], list[Mapping[str, Any]]]], labels: Mapping[str, str]
) -> Evaluations:
    """Evaluations from a Vertex model's ModelEvaluations, each with its annotationSpec slices (all as
    dicts), and the model's labels."""
    found: dict[bool, tuple[Mapping[str, Any], list[Mapping[str, Any]]]] = {}
    compared_model = None
    for item, slices in evaluations:
        if not item.get("metrics"):
            continue
        compared = _compared(item.get("display_name") or "")
        if compared and True not in found:
            compared_model = compared[0]
        found.setdefault(bool(compared), (item, slices))

    def summary(theirs: bool, digest_label: str) -> dict[str, Any]:
        item, slices = found[theirs]
        figures = summarize_vertex_metrics(item["metrics"])  # Vertex reports no image count
        per_label = [vertex_label_summary(s) for s in slices if _dimension(s) == "annotationSpec"]
        return with_images(figures, per_label, None, labels.get(digest_label))

    return _evaluations(summary, found, compared_model, labels)
