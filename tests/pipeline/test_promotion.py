"""The promotion rule (promotion.py) as a pure function, and how a backend's evaluations become its input
(evaluation.automl_evaluations over the official client's types)."""

from __future__ import annotations

import pytest
from edgetrain_pipeline import model_evaluations as ev
from edgetrain_pipeline import promotion
from edgetrain_pipeline.promotion import Rule, decide, stored_value_rule
from google.cloud import automl_v1

RULE = Rule("boundingBoxMeanAveragePrecision", 0.01, 0.02, 2.0)


def summary(overall: float, **labels: float) -> dict:
    return {
        "boundingBoxMeanAveragePrecision": overall,
        "imageCount": 12,
        "testImagesDigest": "same",
        "perLabel": [{"label": name, "ap50": ap} for name, ap in labels.items()],
    }


def test_the_metric_must_improve_by_the_margin():
    small_gain = decide(RULE, summary(0.605, ace=0.9), summary(0.60, ace=0.9), 10.0, 10.0)
    assert not small_gain.promoted and small_gain.decided_by == promotion.METRIC
    assert "0.6050 vs the champion's 0.6000 on the same 12 images" in small_gain.reason
    enough = decide(RULE, summary(0.62, ace=0.9), summary(0.60, ace=0.9), 10.0, 10.0)
    assert enough.promoted and enough.decided_by == promotion.PROMOTED


def test_a_tie_is_not_an_improvement_even_without_a_margin():
    no_margin = Rule(RULE.metric, 0.0, 0.02, 2.0)
    assert not decide(no_margin, summary(0.6), summary(0.6), None, None).promoted


def test_a_label_that_drops_refuses_and_is_named():
    decision = decide(RULE, summary(0.70, ace=0.95, ten=0.50), summary(0.60, ace=0.80, ten=0.60), 10.0, 10.0)
    assert not decision.promoted and decision.decided_by == promotion.LABEL_DROP
    assert "ten 0.600 → 0.500" in decision.reason and "ace" not in decision.reason
    ten = next(row for row in decision.labels if row["label"] == "ten")
    assert ten == {"label": "ten", "challengerAp50": 0.50, "championAp50": 0.60, "drop": pytest.approx(0.10)}


def test_a_raised_guard_lets_the_same_challenger_through():
    lenient = Rule(RULE.metric, 0.01, 0.15, 2.0)
    decision = decide(
        lenient, summary(0.70, ace=0.95, ten=0.50), summary(0.60, ace=0.80, ten=0.60), 10.0, 10.0
    )
    assert decision.promoted and decision.decided_by == promotion.PROMOTED


def test_a_label_the_champion_never_saw_is_not_a_drop():
    decision = decide(RULE, summary(0.70, ace=0.9, ten=0.0), summary(0.60, ace=0.9), 10.0, 10.0)
    assert decision.promoted
    ten = next(row for row in decision.labels if row["label"] == "ten")
    assert ten["championAp50"] is None and ten["drop"] is None


def test_latency_may_rise_by_the_setting_only():
    slower = decide(RULE, summary(0.70, ace=0.9), summary(0.60, ace=0.9), 12.5, 10.0)
    assert not slower.promoted and slower.decided_by == promotion.LATENCY
    assert "12.5 ms vs 10.0 ms" in slower.reason
    assert decide(RULE, summary(0.70, ace=0.9), summary(0.60, ace=0.9), 11.9, 10.0).promoted


def test_a_missing_latency_skips_that_rule_and_says_so():
    decision = decide(RULE, summary(0.70, ace=0.9), summary(0.60, ace=0.9), None, 10.0)
    assert decision.promoted and "latency rule skipped" in decision.reason


def test_the_first_refusing_rule_decides_and_every_refusal_is_named():
    decision = decide(RULE, summary(0.60, ace=0.5), summary(0.65, ace=0.9), 20.0, 10.0)
    assert decision.decided_by == promotion.METRIC
    assert "AP@0.5 drops" in decision.reason and "20.0 ms" in decision.reason


def test_without_a_comparison_the_stored_value_decides_and_says_why():
    decision = stored_value_rule(RULE, 0.70, 0.60, "the champion was deleted")
    assert decision.promoted and "not the same images: the champion was deleted" in decision.reason
    assert not stored_value_rule(RULE, 0.605, 0.60, "why").promoted


def _evaluation(display_name: str, spec_id: str, ap50: float, count: int = 12) -> automl_v1.ModelEvaluation:
    entries = [
        {
            "iou_threshold": iou,
            "mean_average_precision": ap50 - (iou - 0.5),
            "confidence_metrics_entries": [
                {"confidence_threshold": c, "recall": 1 - c, "precision": c} for c in (0.9, 0.1, 0.5)
            ],
        }
        for iou in (0.5, 0.75)
    ]
    return automl_v1.ModelEvaluation(
        display_name=display_name,
        annotation_spec_id=spec_id,
        evaluated_example_count=count,
        image_object_detection_evaluation_metrics={
            "evaluated_bounding_box_count": 30,
            "bounding_box_mean_average_precision": ap50 / 2,
            "bounding_box_metrics_entries": entries,
        },
    )


def test_a_compared_backend_report_becomes_two_evaluations_of_the_same_images():
    found = [
        _evaluation("", "", 0.8),
        _evaluation("ace", "11", 0.9),
        _evaluation("ten", "12", 0.7),
        _evaluation("compared-to:IOD42", "", 0.6),
        _evaluation("compared-to:IOD42:ace", "11", 0.85),
    ]
    labels = {
        ev.TEST_IMAGES_LABEL: "abc",
        ev.COMPARED_TEST_IMAGES_LABEL: "abc",
        ev.LATENCY_LABEL: "12500",
        ev.COMPARED_LATENCY_LABEL: "11000",
    }
    got = ev.automl_evaluations(found, labels)
    assert got.champion_model == "IOD42"
    assert (got.latency_ms, got.champion_latency_ms) == (12.5, 11.0)
    assert got.evaluation["testImagesDigest"] == got.champion["testImagesDigest"] == "abc"
    assert got.evaluation["imageCount"] == got.champion["imageCount"] == 12
    assert [e["label"] for e in got.evaluation["perLabel"]] == ["ace", "ten"]
    assert [(e["label"], e["ap50"]) for e in got.champion["perLabel"]] == [("ace", pytest.approx(0.85))]
    ace = got.evaluation["perLabel"][0]
    assert ace["annotationSpecId"] == "11" and ace["boxes"] == 30
    assert ace["ap5095"] == pytest.approx((0.9 + 0.65) / 2)  # the IoU .5:.95 entries it has
    assert ace["curve50"]["confidence"] == [0.1, 0.5, 0.9]
    assert ace["curve50"]["recall"] == [0.9, 0.5, pytest.approx(0.1)]
    assert got.evaluation["meanAveragePrecisionAt50"] == pytest.approx(0.8)
    assert got.champion["meanAveragePrecisionAt50"] == pytest.approx(0.6)


def test_an_uncompared_report_has_no_champion():
    got = ev.automl_evaluations([_evaluation("", "", 0.8)], {})
    assert got.champion is None and got.champion_model is None and got.latency_ms is None
    assert "testImagesDigest" not in got.evaluation


def test_the_pipeline_reads_the_labels_the_service_writes():
    comparison = pytest.importorskip("edgetrain_service.comparison")
    from edgetrain_service.job_payloads import COMPARE_TO_LABEL

    assert ev.COMPARE_TO_LABEL == COMPARE_TO_LABEL
    assert ev.COMPARED_PREFIX == comparison.COMPARED_PREFIX
    assert (ev.TEST_IMAGES_LABEL, ev.LATENCY_LABEL) == (
        comparison.TEST_IMAGES_LABEL,
        comparison.LATENCY_LABEL,
    )
    assert (ev.COMPARED_TEST_IMAGES_LABEL, ev.COMPARED_LATENCY_LABEL) == (
        comparison.COMPARED_TEST_IMAGES_LABEL,
        comparison.COMPARED_LATENCY_LABEL,
    )


def _vertex_metrics(ap50: float) -> dict:
    return {
        "boundingBoxMeanAveragePrecision": ap50 / 2,
        "evaluatedBoundingBoxCount": 30,
        "boundingBoxMetrics": [
            {
                "iouThreshold": 0.5,
                "meanAveragePrecision": ap50,
                "confidenceMetrics": [{"confidenceThreshold": 0.5, "recall": 0.7, "precision": 0.8}],
            }
        ],
    }


def test_a_vertex_report_reads_the_per_label_slices_of_each_evaluation():
    def label_slice(label: str, ap50: float) -> dict:
        return {"slice_": {"dimension": "annotationSpec", "value": label}, "metrics": _vertex_metrics(ap50)}

    found = [
        (
            {"display_name": "", "metrics": _vertex_metrics(0.8)},
            [label_slice("ace", 0.9), label_slice("ten", 0.7)],
        ),
        ({"display_name": "compared-to:IOD42", "metrics": _vertex_metrics(0.6)}, [label_slice("ace", 0.85)]),
    ]
    got = ev.vertex_evaluations(found, {ev.TEST_IMAGES_LABEL: "abc", ev.COMPARED_TEST_IMAGES_LABEL: "abc"})
    assert got.champion_model == "IOD42"
    assert [(e["label"], e["ap50"]) for e in got.evaluation["perLabel"]] == [("ace", 0.9), ("ten", 0.7)]
    assert [(e["label"], e["ap50"]) for e in got.champion["perLabel"]] == [("ace", 0.85)]
    assert got.evaluation["testImagesDigest"] == got.champion["testImagesDigest"] == "abc"
    assert "imageCount" not in got.evaluation  # Vertex metrics carry no image count
    decision = decide(RULE, got.evaluation, got.champion, None, None)
    assert decision.promoted and "latency rule skipped" in decision.reason
