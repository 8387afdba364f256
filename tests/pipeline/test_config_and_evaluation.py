"""Settings from the environment, and the evaluation summary the pipeline stores and charts (no emulators)."""

from __future__ import annotations

import pytest
from edgetrain_pipeline.config import get_env
from edgetrain_pipeline.errors import ConfigurationException
from edgetrain_pipeline.evaluation import MAX_CURVE_POINTS, summarize_evaluation
from google.cloud import automl_v1


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("DEFAULT_MODEL_TYPE", "cloud-high-accuracy-1", "DEFAULT_MODEL_TYPE"),
        ("DEFAULT_BUDGET_MILLI_NODE_HOURS", "500", "outside"),
        ("EXPORT_FORMATS", "tflite,onnx", "onnx"),
        ("RETAIN_MODELS", "many", "not an integer"),
        ("CHAMPION_METRIC", "accuracy", "CHAMPION_METRIC"),
    ],
)
def test_invalid_settings_name_the_variable(pipeline_env, name, value, message):
    pipeline_env.setenv(name, value)
    get_env.cache_clear()

    with pytest.raises(ConfigurationException, match=message):
        get_env()


def test_missing_project_is_a_configuration_error(pipeline_env):
    pipeline_env.delenv("GOOGLE_CLOUD_PROJECT")
    pipeline_env.delenv("GCP_PROJECT", raising=False)
    get_env.cache_clear()

    with pytest.raises(ConfigurationException, match="GOOGLE_CLOUD_PROJECT"):
        get_env()


def test_tflite_is_always_exported_first(pipeline_env):
    pipeline_env.setenv("EXPORT_FORMATS", "tf_js, tflite,tf_js")
    get_env.cache_clear()

    assert get_env().export_formats == ("tflite", "tf_js")


def _evaluation(points_per_curve: int) -> automl_v1.ModelEvaluation:
    entries = []
    for iou, map_value in ((0.75, 0.4), (0.5, 0.8)):
        confidence = [
            automl_v1.BoundingBoxMetricsEntry.ConfidenceMetricsEntry(
                confidence_threshold=1 - i / points_per_curve,
                recall=i / points_per_curve,
                precision=1 - i / 200,
            )
            for i in range(points_per_curve)
        ]
        entries.append(
            automl_v1.BoundingBoxMetricsEntry(
                iou_threshold=iou, mean_average_precision=map_value, confidence_metrics_entries=confidence
            )
        )
    metrics = automl_v1.ImageObjectDetectionEvaluationMetrics(
        evaluated_bounding_box_count=17,
        bounding_box_metrics_entries=entries,
        bounding_box_mean_average_precision=0.6,
    )
    return automl_v1.ModelEvaluation(image_object_detection_evaluation_metrics=metrics)


def test_evaluation_summary_has_headline_metrics_and_thinned_curves_by_iou():
    summary = summarize_evaluation(_evaluation(points_per_curve=101))

    assert summary["boundingBoxMeanAveragePrecision"] == pytest.approx(0.6)
    assert summary["meanAveragePrecisionAt50"] == pytest.approx(0.8)
    assert summary["evaluatedBoundingBoxCount"] == 17
    assert [c["iouThreshold"] for c in summary["curves"]] == [0.5, 0.75]
    curve = summary["curves"][0]
    assert len(curve["recall"]) == len(curve["precision"]) == MAX_CURVE_POINTS
    assert curve["recall"] == sorted(curve["recall"], reverse=True)  # ordered by rising confidence
    assert curve["recall"][0] == pytest.approx(100 / 101, abs=1e-4)
    assert curve["recall"][-1] == pytest.approx(0.0)
