"""infra/ deploys what functions/ needs: entry points, trigger topics, publish rights, settings, indexes.

The expectations are derived from functions/main.py and functions/edgetrain_pipeline (see pipeline_code.py);
the mutation tests change one side of a copy of the tree and show the check notices.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from . import contract, pipeline_code
from .conftest import FUNCTIONS, INFRA

BACKENDS = pipeline_code.training_backends(FUNCTIONS / "edgetrain_pipeline" / "config.py")


@pytest.mark.parametrize("backend", BACKENDS)
def test_infra_matches_the_functions_code(backend):
    assert contract.violations(FUNCTIONS, INFRA, backend=backend) == []


def test_both_backends_are_checked():
    assert set(BACKENDS) == {"automl-v1", "vertex-ai"}


def test_every_entry_point_is_deployed_exactly_once_with_its_trigger(dev):
    entry_points = pipeline_code.entry_points(FUNCTIONS / "main.py")
    topics = pipeline_code.topic_contract(FUNCTIONS / "edgetrain_pipeline" / "topics.py")
    deployed = contract.deployed_functions(dev)

    assert sorted(deployed) == sorted(entry_points)
    for entry_point, kind in entry_points.items():
        want = topics.defaults[topics.pubsub_triggers[entry_point]] if kind == "cloud_event" else None
        assert deployed[entry_point]["trigger"] == want, entry_point


def test_only_the_function_module_declares_cloud_functions(modules, envs):
    declaring = [
        (name, resource_name)
        for name, folder in {**modules, **envs}.items()
        for resource_name in folder.resources_of("google_cloudfunctions2_function")
    ] + [
        (name, resource_name)
        for name, folder in {**modules, **envs}.items()
        for resource_name in folder.resources_of("google_cloudfunctions_function")
    ]
    assert declaring == [("cloudfunction", "this")]


@pytest.fixture
def tree_copy(tmp_path) -> tuple[Path, Path]:
    functions = tmp_path / "functions"
    infra = tmp_path / "infra"
    shutil.copytree(FUNCTIONS, functions, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(INFRA, infra, ignore=shutil.ignore_patterns(".terraform", ".build"))
    return functions, infra


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def _baseline(functions: Path, infra: Path) -> set[str]:
    return set(contract.violations(functions, infra))


def test_renaming_a_topic_in_the_code_only_is_caught(tree_copy):
    functions, infra = tree_copy
    before = _baseline(functions, infra)
    _replace(
        functions / "edgetrain_pipeline" / "topics.py", '"edgetrain-poll-tick"', '"edgetrain-poll-ticks"'
    )

    new = set(contract.violations(functions, infra)) - before
    assert any("TOPIC_POLL_TICK" in v and "edgetrain-poll-ticks" in v for v in new), new
    assert any(v.startswith("poll_operations: triggered by") for v in new), new


def test_renaming_a_topic_in_infra_only_is_caught(tree_copy):
    functions, infra = tree_copy
    before = _baseline(functions, infra)
    _replace(
        infra / "envs" / "dev" / "main.tf",
        '"${var.name_prefix}-notifications"',
        '"${var.name_prefix}-notify"',
    )

    new = set(contract.violations(functions, infra)) - before
    assert any("TOPIC_NOTIFICATIONS" in v and "edgetrain-notify" in v for v in new), new


def test_retriggering_a_function_in_infra_only_is_caught(tree_copy):
    functions, infra = tree_copy
    before = _baseline(functions, infra)
    _replace(
        infra / "envs" / "dev" / "main.tf",
        'trigger = "TOPIC_IMPORT_REQUESTS"',
        'trigger = "TOPIC_DATASET_IMPORTED"',
    )

    new = set(contract.violations(functions, infra)) - before
    assert any(v.startswith("import_dataset: triggered by 'edgetrain-dataset-imported'") for v in new), new


def test_a_new_entry_point_that_is_not_deployed_is_caught(tree_copy):
    functions, infra = tree_copy
    before = _baseline(functions, infra)
    main = functions / "main.py"
    main.write_text(
        main.read_text() + '\n\n@functions_framework.http\ndef health(request):\n    return "ok"\n'
    )

    new = set(contract.violations(functions, infra)) - before
    assert "entry point health of main.py is not deployed" in new


def test_publishing_to_a_topic_without_the_right_to_is_caught(tree_copy):
    functions, infra = tree_copy
    before = _baseline(functions, infra)
    app = functions / "edgetrain_pipeline" / "status_page" / "app.py"
    app.write_text(
        app.read_text() + "\n\ndef _also_notify(deps, message):\n"
        "    deps.publisher.publish(topics.TOPIC_NOTIFICATIONS, message)\n"
    )

    new = set(contract.violations(functions, infra)) - before
    assert any(v.startswith("status_page: may publish to") for v in new), new


def test_a_setting_the_code_does_not_read_is_caught(tree_copy):
    functions, infra = tree_copy
    before = _baseline(functions, infra)
    _replace(
        infra / "envs" / "dev" / "main.tf",
        "AUTOML_LOCATION                 =",
        "AUTOML_REGION                   =",
    )

    new = set(contract.violations(functions, infra)) - before
    assert any("sets AUTOML_REGION, which the functions' code never reads" in v for v in new), new


def test_a_query_without_its_composite_index_is_caught(tree_copy):
    functions, infra = tree_copy
    before = _baseline(functions, infra)
    _replace(infra / "envs" / "dev" / "main.tf", 'field_path = "datasetId"', 'field_path = "dataset"')

    new = set(contract.violations(functions, infra)) - before
    assert any(v.startswith("Firestore query on trainings") for v in new), new


def test_every_topic_of_the_code_is_created_with_a_dead_letter_topic(modules, dev):
    topics = pipeline_code.topic_contract(FUNCTIONS / "edgetrain_pipeline" / "topics.py")
    deployed = {dev.render(name) for name in dev.locals["topics"].values()}
    assert set(topics.defaults.values()) <= deployed
    assert {topics.defaults[t] for t in topics.published} <= deployed
    pubsub = modules["pubsub"]
    assert pubsub.locals["topic_names"] == "${toset(values(var.topics))}"
    for resource in ("this", "dead_letter"):
        assert pubsub.resources_of("google_pubsub_topic")[resource]["for_each"] == "${local.topic_names}"


def test_publishing_from_a_main_py_helper_is_caught(tree_copy):
    functions, infra = tree_copy
    before = _baseline(functions, infra)
    main = functions / "main.py"
    import_topics = "import functions_framework\nfrom edgetrain_pipeline import topics\n"
    _replace(main, "import functions_framework\n", import_topics)
    _replace(main, "_import_dataset, cloud_event)\n", "_import_dataset, cloud_event)\n    _announce()\n")
    helper = "def _announce():\n    get_deps().publisher.publish(topics.TOPIC_NOTIFICATIONS, {})\n"
    main.write_text(main.read_text() + "\n\n" + helper)

    new = set(contract.violations(functions, infra)) - before
    assert any(v.startswith("import_dataset: may publish to") and "notifications" in v for v in new), new


def test_a_backend_only_the_code_accepts_is_caught(tree_copy):
    functions, infra = tree_copy
    before = _baseline(functions, infra)
    config = functions / "edgetrain_pipeline" / "config.py"
    _replace(
        config,
        'TRAINING_BACKENDS = ("automl-v1", "vertex-ai")',
        'TRAINING_BACKENDS = ("automl-v1", "vertex-ai", "sagemaker")',
    )

    new = set(contract.violations(functions, infra)) - before
    assert "variable training_backend does not accept 'sagemaker', which config.py does" in new, new
    assert any("local.backend_env has no entry for 'sagemaker'" in v for v in new), new


def test_functions_without_the_vertex_role_are_caught(tree_copy):
    functions, infra = tree_copy
    before = _baseline(functions, infra)
    _replace(
        infra / "envs" / "dev" / "main.tf", '"vertex-ai" = ["roles/aiplatform.user"]', '"vertex-ai" = []'
    )

    new = set(contract.violations(functions, infra, backend="vertex-ai")) - before
    assert "vertex-ai: poll_operations lacks roles/aiplatform.user" in new, new
    assert contract.violations(functions, infra, backend="automl-v1") == []


def test_a_local_vertex_endpoint_in_the_cloud_is_caught(tree_copy):
    functions, infra = tree_copy
    _replace(
        infra / "envs" / "dev" / "main.tf",
        '"vertex-ai" = { TRAINING_BACKEND = "vertex-ai" }',
        '"vertex-ai" = { TRAINING_BACKEND = "vertex-ai", VERTEX_ENDPOINT = "10.0.0.5:8600" }',
    )

    problems = contract.violations(functions, infra, backend="vertex-ai")
    assert "vertex-ai: start_training sets VERTEX_ENDPOINT" in problems, problems


def test_automl_v1_without_its_endpoint_is_caught(tree_copy):
    functions, infra = tree_copy
    _replace(
        infra / "envs" / "dev" / "main.tf",
        '"automl-v1" = { TRAINING_BACKEND = "automl-v1", AUTOML_ENDPOINT = local.automl_endpoint }',
        '"automl-v1" = { TRAINING_BACKEND = "automl-v1" }',
    )

    problems = contract.violations(functions, infra, backend="automl-v1")
    assert any(v.startswith("automl-v1: import_dataset lacks AUTOML_ENDPOINT") for v in problems), problems


def test_a_vertex_deployment_that_keeps_the_vm_is_caught(tree_copy):
    functions, infra = tree_copy
    _replace(
        infra / "envs" / "dev" / "main.tf",
        "self_hosted_automl  = !local.vertex && var.automl_endpoint == null",
        "self_hosted_automl  = var.automl_endpoint == null",
    )

    problems = contract.violations(functions, infra, backend="vertex-ai")
    assert any("self_hosted_automl does not exclude vertex-ai" in v for v in problems), problems


def test_a_function_that_calls_the_backend_without_its_access_is_caught(tree_copy):
    functions, infra = tree_copy
    main_tf = infra / "envs" / "dev" / "main.tf"
    deployed = main_tf.read_text()
    marker = 'trigger = null, publishes = ["TOPIC_DATASET_IMPORTED"], automl = true'
    assert marker in deployed  # the status page's entry ("Try an image" calls the backend's Predict)
    main_tf.write_text(deployed.replace(marker, marker.replace("automl = true", "automl = false")))

    for backend in BACKENDS:
        problems = contract.violations(functions, infra, backend=backend)
        assert "status_page: automl = False, its code calls the backend: True" in problems, problems


def test_the_vertex_role_on_a_function_that_only_predicts_is_caught(tree_copy):
    functions, infra = tree_copy
    main_tf = infra / "envs" / "dev" / "main.tf"
    status_page = main_tf.read_text().split("status_page = {", 1)[1].split("}", 1)[0]
    assert "backend_role = false" in status_page
    _replace(main_tf, status_page, status_page.replace("backend_role = false", "backend_role = true"))

    problems = contract.violations(functions, infra, backend="vertex-ai")
    assert "vertex-ai: status_page has roles/aiplatform.user" in problems, problems
    assert contract.violations(functions, infra, backend="automl-v1") == []
