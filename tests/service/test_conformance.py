"""The AutoML v1 flow through the official client over gRPC: dataset → import → models of each type →
operations → model fields → evaluations → export → predict → delete."""

from __future__ import annotations

import grpc
import pytest
from google.api_core import exceptions
from google.cloud import automl_v1
from google.longrunning import operations_pb2

from edgetrain_trainer.export.tflite_detector import TFLiteDetector

from .conftest import CARDS, PARENT, start_training


def test_dataset_is_created_imported_and_listed(client, dataset):
    assert dataset.name.startswith(f"{PARENT}/datasets/IOD")
    assert dataset.example_count == 24
    assert dataset.name in [d.name for d in client.list_datasets(parent=PARENT)]
    assert client.get_dataset(name=dataset.name).display_name == "cards"


def test_update_dataset_display_name(client, cards_uri):
    created = client.create_dataset(
        parent=PARENT, dataset={"display_name": "before", "image_object_detection_dataset_metadata": {}}
    ).result()
    updated = client.update_dataset(
        dataset={"name": created.name, "display_name": "after"}, update_mask={"paths": ["display_name"]}
    )
    assert updated.display_name == "after"
    assert client.get_dataset(name=created.name).display_name == "after"


@pytest.mark.parametrize("budget", [999, 100_001])
def test_budget_outside_automl_range_is_invalid_argument_naming_the_field(client, dataset, budget):
    with pytest.raises(exceptions.InvalidArgument, match="trainBudgetMilliNodeHours"):
        start_training(client, dataset, "too_much", "mobile-versatile-1", budget=budget)


def test_cloud_model_type_is_rejected_clearly(client, dataset):
    with pytest.raises(exceptions.InvalidArgument, match="cloud model type.*edge"):
        start_training(client, dataset, "cloudy", "cloud-high-accuracy-1")


def test_each_edge_model_type_is_accepted_and_cancel_ends_with_code_1(client, trainings):
    # low-latency and versatile were trained; high-accuracy was accepted, started, then cancelled.
    assert trainings.low_latency.image_object_detection_model_metadata.model_type == "mobile-low-latency-1"
    assert trainings.versatile.image_object_detection_model_metadata.model_type == "mobile-versatile-1"
    cancelled = client.transport.operations_client.get_operation(trainings.queued)
    assert cancelled.done and cancelled.error.code == 1  # CANCELLED, as AutoML reports it
    meta = automl_v1.OperationMetadata.deserialize(cancelled.metadata.value)
    assert automl_v1.OperationMetadata.pb(meta).WhichOneof("details") == "create_model_details"


def test_trained_models_record_what_automl_records(client, trainings, dataset):
    for model, model_type in (
        (trainings.low_latency, "mobile-low-latency-1"),
        (trainings.versatile, "mobile-versatile-1"),
    ):
        fetched = client.get_model(name=model.name)
        meta = fetched.image_object_detection_model_metadata
        assert meta.model_type == model_type
        assert meta.stop_reason in ("MODEL_CONVERGED", "BUDGET_REACHED")
        assert 0 < meta.train_cost_milli_node_hours <= meta.train_budget_milli_node_hours == 1000
        assert meta.node_qps == -1
        assert fetched.dataset_id == dataset.name.rsplit("/", 1)[1]
        assert fetched.labels["suite"] == "service-tests"  # CreateModel's labels are kept
        # and the service adds its evaluation's TEST images and int8 latency (docs/service.md)
        assert set(fetched.labels) == {"suite", "edgetrain-test-images", "edgetrain-latency-us"}
        assert fetched.deployment_state == automl_v1.Model.DeploymentState.DEPLOYED
        assert fetched.create_time and fetched.update_time >= fetched.create_time


def test_operations_list_filters(client, trainings, dataset):
    ops = client.transport.operations_client
    train_names = set(trainings.operations)
    done = list(ops.list_operations(PARENT, filter_="done=true"))
    assert train_names <= {op.name for op in done}
    assert all(op.done for op in done)
    assert not any(op.done for op in ops.list_operations(PARENT, filter_="done=false"))
    on_models = list(ops.list_operations(PARENT, filter_=f"worksOn={PARENT}/models/*"))
    assert train_names <= {op.name for op in on_models}
    assert not any(
        op.name in train_names for op in ops.list_operations(PARENT, filter_=f"worksOn={dataset.name}")
    )
    one = sorted(train_names)[0]
    op_id = one.rsplit("/", 1)[1]
    assert op_id.startswith("IOD")
    assert [op.name for op in ops.list_operations(PARENT, filter_=f"operation_id={op_id}")] == [one]
    assert one not in {op.name for op in ops.list_operations(PARENT, filter_=f"operation_id!={op_id}")}
    assert one in {
        op.name for op in ops.list_operations(PARENT, filter_=f'done=true AND worksOn!="{dataset.name}"')
    }
    with pytest.raises(exceptions.InvalidArgument, match="filter"):
        list(ops.list_operations(PARENT, filter_="colour=blue"))


def test_operation_metadata_has_times_and_progress(client, trainings):
    op = client.transport.operations_client.get_operation(trainings.operations[0])
    meta = automl_v1.OperationMetadata.deserialize(op.metadata.value)
    assert meta.progress_percent == 100
    assert meta.update_time >= meta.create_time
    assert automl_v1.OperationMetadata.pb(meta).WhichOneof("details") == "create_model_details"


def test_list_models_filter_and_paging(client, trainings, dataset):
    dataset_id = dataset.name.rsplit("/", 1)[1]
    names = {trainings.low_latency.name, trainings.versatile.name}
    pages = client.list_models(
        request={"parent": PARENT, "filter": f"dataset_id={dataset_id}", "page_size": 1}
    )
    assert {m.name for m in pages} >= names
    first_page = client.list_models(request={"parent": PARENT, "page_size": 1})._response
    assert len(first_page.model) == 1 and first_page.next_page_token
    assert not names & {
        m.name for m in client.list_models(request={"parent": PARENT, "filter": f"dataset_id!={dataset_id}"})
    }


def test_evaluations_overall_and_per_label(client, trainings):
    evaluations = list(client.list_model_evaluations(parent=trainings.low_latency.name, filter=""))
    overall = [e for e in evaluations if not e.annotation_spec_id]
    per_label = [e for e in evaluations if e.annotation_spec_id]
    assert len(overall) == 1
    assert {e.display_name for e in per_label} <= {"ace", "jack", "king", "nine", "queen", "ten"}
    metrics = overall[0].image_object_detection_evaluation_metrics
    assert metrics.evaluated_bounding_box_count > 0
    assert metrics.bounding_box_metrics_entries[0].confidence_metrics_entries
    assert 0 <= metrics.bounding_box_mean_average_precision <= 1
    assert client.get_model_evaluation(name=per_label[0].name).display_name == per_label[0].display_name


def test_export_tflite_in_automl_folder_and_run_it(client, trainings, service):
    op = client.export_model(
        name=trainings.low_latency.name,
        output_config={
            "model_format": "tflite",
            "gcs_destination": {"output_uri_prefix": "gs://test-bucket/exports"},
        },
    )
    op.result(timeout=300)
    uri = op.metadata.export_model_details.output_info.gcs_output_directory
    assert uri.startswith("gs://test-bucket/exports/model-export/iod/tflite-cards_low_latency-")
    folder = service.storage_root / uri[len("gs://") :]
    assert {"model.tflite", "dict.txt", "tflite_metadata.json"} <= {p.name for p in folder.iterdir()}
    from PIL import Image

    found = TFLiteDetector(folder).detect(Image.open(CARDS / "images" / "IMG_2383.JPG"))
    assert found.boxes.shape[1] == 4 and len(found.scores) == len(found.classes)


def test_export_unknown_format_is_invalid_argument(client, trainings):
    with pytest.raises(exceptions.InvalidArgument, match="model_format"):
        client.export_model(
            name=trainings.low_latency.name,
            output_config={
                "model_format": "core_ml",
                "gcs_destination": {"output_uri_prefix": "gs://test-bucket/x"},
            },
        )


@pytest.mark.parametrize("prefix", ["gs://test-bucket/taken", "gs://test-bucket/taken/deeper/"])
def test_export_under_an_object_is_refused_before_it_starts(client, trainings, service, prefix):
    # Real GCS keeps an object and a prefix of the same name; a local storage root cannot
    (service.storage_root / "test-bucket").mkdir(parents=True, exist_ok=True)
    (service.storage_root / "test-bucket" / "taken").write_text("an object, not a folder")
    with pytest.raises(exceptions.FailedPrecondition, match="gs://test-bucket/taken is an object"):
        client.export_model(
            name=trainings.low_latency.name,
            output_config={"model_format": "tflite", "gcs_destination": {"output_uri_prefix": prefix}},
        )


def test_predict_respects_threshold_and_max_boxes(prediction_client, trainings):
    image = (CARDS / "images" / "IMG_2383.JPG").read_bytes()
    response = prediction_client.predict(
        name=trainings.low_latency.name,
        payload={"image": {"image_bytes": image}},
        params={"score_threshold": "0", "max_bounding_box_count": "2"},
    )
    assert 0 < len(response.payload) <= 2
    for item in response.payload:
        vertices = item.image_object_detection.bounding_box.normalized_vertices
        assert len(vertices) == 2 and vertices[0].x <= vertices[1].x and vertices[0].y <= vertices[1].y
        assert item.display_name and item.annotation_spec_id
    strict = prediction_client.predict(
        name=trainings.low_latency.name,
        payload={"image": {"image_bytes": image}},
        params={"score_threshold": "1.0"},
    )
    assert all(item.image_object_detection.score >= 1.0 for item in strict.payload)


def test_update_then_delete_model(client, trainings):
    with pytest.raises(exceptions.InvalidArgument, match="model.labels: key 'Suite'"):
        client.update_model(
            model={"name": trainings.versatile.name, "labels": {"Suite": "x"}},
            update_mask={"paths": ["labels"]},
        )
    assert client.get_model(name=trainings.versatile.name).labels["suite"] == "service-tests"
    model = client.update_model(
        model={"name": trainings.versatile.name, "display_name": "renamed"},
        update_mask={"paths": ["display_name"]},
    )
    assert model.display_name == "renamed"
    client.delete_model(name=model.name).result()
    with pytest.raises(exceptions.NotFound):
        client.get_model(name=model.name)


def test_wait_operation_returns_the_finished_operation(service, trainings):
    channel = grpc.insecure_channel(service.grpc_target)
    wait = channel.unary_unary(
        "/google.longrunning.Operations/WaitOperation",
        request_serializer=operations_pb2.WaitOperationRequest.SerializeToString,
        response_deserializer=operations_pb2.Operation.FromString,
    )
    op = wait(operations_pb2.WaitOperationRequest(name=trainings.operations[0]))
    assert op.done and op.response.type_url.endswith("google.cloud.automl.v1.Model")


def test_export_tf_saved_model_and_tf_js(client, trainings, service):
    op = client.export_model(
        name=trainings.low_latency.name,
        output_config={
            "model_format": "tf_saved_model",
            "gcs_destination": {"output_uri_prefix": "gs://test-bucket/exports"},
        },
    )
    op.result(timeout=300)
    uri = op.metadata.export_model_details.output_info.gcs_output_directory
    assert "/model-export/iod/tf_saved_model-cards_low_latency-" in uri
    assert any((service.storage_root / uri[len("gs://") :]).iterdir())
    tf_js = client.export_model(
        name=trainings.low_latency.name,
        output_config={
            "model_format": "tf_js",
            "gcs_destination": {"output_uri_prefix": "gs://test-bucket/exports"},
        },
    )
    with pytest.raises(exceptions.GoogleAPICallError, match="tf_js"):
        tf_js.result(timeout=300)
    assert tf_js.operation.error.code == 9  # FAILED_PRECONDITION, with the reason in the message


def test_undeployed_model_refuses_predict_until_deployed_again(client, prediction_client, trainings):
    name = trainings.low_latency.name
    image = {"image": {"image_bytes": (CARDS / "images" / "IMG_2383.JPG").read_bytes()}}
    client.undeploy_model(name=name).result(timeout=30)
    try:
        assert client.get_model(name=name).deployment_state == automl_v1.Model.DeploymentState.UNDEPLOYED
        with pytest.raises(exceptions.FailedPrecondition, match="not deployed"):
            prediction_client.predict(name=name, payload=image)
    finally:
        client.deploy_model(name=name).result(timeout=30)
    assert client.get_model(name=name).deployment_state == automl_v1.Model.DeploymentState.DEPLOYED
    prediction_client.predict(name=name, payload=image)


def test_annotation_specs_match_the_per_label_evaluations(client, trainings, dataset):
    evaluations = client.list_model_evaluations(parent=trainings.low_latency.name, filter="")
    per_label = [e for e in evaluations if e.annotation_spec_id]
    assert per_label
    for evaluation in per_label:
        spec = client.get_annotation_spec(
            name=f"{dataset.name}/annotationSpecs/{evaluation.annotation_spec_id}"
        )
        assert spec.display_name == evaluation.display_name and spec.example_count > 0
    one = per_label[0].annotation_spec_id
    filtered = list(
        client.list_model_evaluations(parent=trainings.low_latency.name, filter=f"annotation_spec_id={one}")
    )
    assert [e.annotation_spec_id for e in filtered] == [one]
