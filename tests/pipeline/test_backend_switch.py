"""TRAINING_BACKEND picks the gateway; bad combinations are refused at configuration time with the reason;
retraining from the champion (on by default, both backends) reaches the gateway as its base model."""

from __future__ import annotations

import pytest
from edgetrain_pipeline.automl_gateway import AutoMlGateway
from edgetrain_pipeline.config import get_env
from edgetrain_pipeline.deps import training_backend
from edgetrain_pipeline.errors import ConfigurationException
from edgetrain_pipeline.usecases.exports import export_and_notify
from edgetrain_pipeline.vertex_gateway import VertexGateway
from google.api_core import exceptions as gexc

from .test_export_and_notify import as_event, finish_exports, train


def _settings(pipeline_env, **env: str | None):
    for name, value in env.items():
        if value is None:
            pipeline_env.delenv(name, raising=False)
        else:
            pipeline_env.setenv(name, value)
    get_env.cache_clear()
    return get_env()


def test_unknown_backend_is_refused_naming_the_choices(pipeline_env):
    with pytest.raises(ConfigurationException, match="TRAINING_BACKEND='vertex'.*automl-v1, vertex-ai"):
        _settings(pipeline_env, TRAINING_BACKEND="vertex")


def test_automl_v1_without_an_endpoint_says_google_no_longer_serves_it(pipeline_env):
    with pytest.raises(ConfigurationException, match="AUTOML_ENDPOINT is not set") as raised:
        _settings(pipeline_env, TRAINING_BACKEND="automl-v1", AUTOML_ENDPOINT=None)
    assert "2024" in str(raised.value) and "TRAINING_BACKEND=vertex-ai" in str(raised.value)


def test_each_backend_gets_its_own_gateway(pipeline_env):
    automl = _settings(pipeline_env, TRAINING_BACKEND="automl-v1")
    assert isinstance(training_backend(automl), AutoMlGateway)

    vertex = _settings(pipeline_env, TRAINING_BACKEND="vertex-ai", AUTOML_ENDPOINT=None, VERTEX_ENDPOINT=None)
    assert vertex.vertex_endpoint is None  # Google's regional endpoint
    assert isinstance(training_backend(vertex), VertexGateway)


@pytest.mark.parametrize("backend", ["automl-v1", "vertex-ai"])
def test_retraining_from_the_champion_is_on_by_default_on_both_backends(pipeline_env, backend):
    assert _settings(pipeline_env, TRAINING_BACKEND=backend, RETRAIN_FROM_CHAMPION=None).retrain_from_champion
    off = _settings(pipeline_env, TRAINING_BACKEND=backend, RETRAIN_FROM_CHAMPION="false")
    assert not off.retrain_from_champion
    with pytest.raises(ConfigurationException, match="RETRAIN_FROM_CHAMPION"):
        _settings(pipeline_env, TRAINING_BACKEND=backend, RETRAIN_FROM_CHAMPION="yes")


def test_automl_v1_refuses_what_it_cannot_do_before_calling(pipeline_env):
    gateway = AutoMlGateway(_settings(pipeline_env, TRAINING_BACKEND="automl-v1"))

    with pytest.raises(gexc.InvalidArgument, match="CSV files only.*gs://b/a.jsonl"):
        gateway.import_data("ds", ["gs://b/a.jsonl"])


@pytest.mark.emulators
@pytest.mark.parametrize("backend", ["automl-v1", "vertex-ai"])
def test_a_retraining_starts_from_the_champion_of_its_model_type(deps, pipeline_env, backend):
    deps.settings = _settings(pipeline_env, TRAINING_BACKEND=backend, RETRAIN_FROM_CHAMPION=None)
    first = train(deps, map_value=0.5)
    export_and_notify(deps, as_event(first))
    finish_exports(deps)
    train(deps)  # the same (default) model type: starts from the champion
    deps.store.update("datasets", "cards", {"policy": {"modelType": "mobile-low-latency-1"}})
    train(deps)  # another type cannot start from it

    assert deps.backend.base_models == [None, first["model"], None]
    started = sorted(deps.store.query("trainings", "datasetId", "==", "cards"), key=lambda t: t["createdAt"])
    assert [t["baseModel"] for t in started] == [None, first["model"], None]


@pytest.mark.emulators
def test_a_champion_the_backend_no_longer_has_is_not_a_base_model(deps, pipeline_env):
    deps.settings = _settings(pipeline_env, TRAINING_BACKEND="automl-v1", RETRAIN_FROM_CHAMPION=None)
    first = train(deps, map_value=0.5)
    export_and_notify(deps, as_event(first))
    finish_exports(deps)
    del deps.backend.models[first["model"]]  # deleted outside the pipeline: Firestore still names it
    train(deps)

    assert deps.store.get("datasets", "cards")["championModel"] == first["model"]
    assert deps.backend.base_models == [None, None]


@pytest.mark.emulators
def test_retrain_from_champion_off_trains_every_model_from_scratch(deps, pipeline_env):
    deps.settings = _settings(pipeline_env, TRAINING_BACKEND="automl-v1", RETRAIN_FROM_CHAMPION="false")
    first = train(deps, map_value=0.5)
    export_and_notify(deps, as_event(first))
    finish_exports(deps)
    train(deps)

    assert deps.backend.base_models == [None, None]


def test_without_an_endpoint_vertex_is_googles_regional_endpoint(pipeline_env, monkeypatch):
    import google.auth
    from google.auth.credentials import AnonymousCredentials

    # No Google account here: default credentials are the only thing stood in for; the clients are real.
    monkeypatch.setattr(google.auth, "default", lambda *a, **k: (AnonymousCredentials(), "edgetrain-test"))
    settings = _settings(
        pipeline_env, TRAINING_BACKEND="vertex-ai", AUTOML_LOCATION="europe-west4", VERTEX_ENDPOINT=None
    )

    clients = VertexGateway(settings).clients

    for client in (clients.datasets, clients.pipelines, clients.models):
        assert client.api_endpoint == "europe-west4-aiplatform.googleapis.com"
    assert VertexGateway(settings).location_path == "projects/edgetrain-test/locations/europe-west4"


def test_with_an_endpoint_vertex_calls_go_to_it_in_plain_grpc(pipeline_env):
    settings = _settings(pipeline_env, TRAINING_BACKEND="vertex-ai", VERTEX_ENDPOINT="127.0.0.1:9")
    pipelines = VertexGateway(settings).clients.pipelines

    with pytest.raises(gexc.ServiceUnavailable, match="127.0.0.1:9"):  # nothing listens on the discard port
        name = "projects/p/locations/l/trainingPipelines/1"
        pipelines.get_training_pipeline(name=name, retry=None, timeout=5)
