"""The two training backends and the GPU option in infra/: what vertex-ai lets Vertex AI's service agent do,
and how a GPU VM for the self-hosted service is built, installed and kept (see docs/backends.md)."""

from __future__ import annotations

import re
import subprocess
import tomllib

from . import contract
from .conftest import REPO
from .terraform_config import expression, single
from .test_automl_service import render_boot_script


def test_vertex_service_agent_may_read_imports_and_write_exports_only(modules, dev):
    vertex = modules["vertex_ai"]
    identity = vertex.resources_of("google_project_service_identity")["vertex"]
    assert identity["service"] == "aiplatform.googleapis.com"
    grants = {
        (expression(body["bucket"]), body["role"])
        for type_, _, body in vertex.all_resources()
        if "_iam_" in type_
    }
    assert grants == {
        ("var.imports_bucket", "roles/storage.objectViewer"),
        ("var.exports_bucket", "roles/storage.objectCreator"),
    }
    for type_, name, body in vertex.all_resources():
        if "_iam_" in type_:
            assert type_ == "google_storage_bucket_iam_member", name  # nothing at project level
            assert body["member"] == "serviceAccount:${google_project_service_identity.vertex.email}"
    call = next(m for m in dev.modules.values() if m["source"] == "../../modules/vertex_ai")
    assert call["imports_bucket"] == "${module.storage.imports_bucket}"
    assert call["exports_bucket"] == "${module.storage.exports_bucket}"


def test_vertex_role_goes_only_to_functions_that_call_the_backend(dev):
    assert dev.locals["backend_roles"] == {"automl-v1": [], "vertex-ai": ["roles/aiplatform.user"]}
    reach = {name for name, spec in dev.locals["functions"].items() if spec["automl"]}
    role = {name for name, spec in dev.locals["functions"].items() if spec["backend_role"]}
    pubsub_functions = {"import_dataset", "start_training", "poll_operations", "export_and_notify"}
    # the status page reaches the backend ("Try an image" asks automl-v1's Predict through the connector,
    # with the token) but gets no role: Vertex's predict is refused in the gateway, no API call is made
    assert reach == pubsub_functions | {"status_page"}
    assert role == pubsub_functions  # docs/deploy.md and docs/backends.md: the four that call it
    deployed = contract.deployed_functions(dev, "vertex-ai")
    assert deployed["status_page"]["roles"] == {"roles/datastore.viewer"}
    for name in pubsub_functions:
        assert "roles/aiplatform.user" in deployed[name]["roles"], name
    assert all(
        f["roles"] == set(dev.locals["functions"][n]["roles"])
        for n, f in contract.deployed_functions(dev, "automl-v1").items()
    )


def test_gpu_choices_agree_between_the_environment_and_the_module(modules, dev):
    service = modules["automl_service"]
    gpus = set(service.locals["gpus"])
    assert gpus == {"nvidia-l4"}
    for folder, name in ((dev, "automl_vm_gpu"), (service, "gpu")):
        assert folder.variables[name]["default"] is None
        condition = single(folder.variables[name]["validation"])["condition"]
        assert set(re.findall(r'"([a-z0-9-]+)"', condition)) == gpus, condition
    call = next(m for m in dev.modules.values() if m["source"] == "../../modules/automl_service")
    assert call["gpu"] == "${var.automl_vm_gpu}"
    assert service.locals["gpus"]["nvidia-l4"]["machine_type"].startswith("g2-")  # L4s come on G2 machines


def test_a_gpu_vm_gets_its_accelerator_and_stops_for_maintenance(modules):
    service = modules["automl_service"]
    vm = service.resources_of("google_compute_instance")["service"]
    assert vm["machine_type"] == "${local.machine_type}"
    assert "local.gpu == null ? var.machine_type : local.gpu.machine_type" in service.locals["machine_type"]
    accelerator = single(vm["dynamic"])["guest_accelerator"]
    assert accelerator["for_each"] == "${local.gpu == null ? [] : [local.gpu]}"
    assert single(accelerator["content"])["count"] == 1
    scheduling = single(vm["scheduling"])
    assert scheduling["on_host_maintenance"] == '${local.gpu == null ? "MIGRATE" : "TERMINATE"}'
    assert scheduling["automatic_restart"] is True


def test_boot_script_installs_the_driver_and_cuda_tensorflow_only_on_a_gpu_vm(modules, tmp_path):
    cpu = render_boot_script(modules, tmp_path, gpu=False, extra="ml")
    gpu = render_boot_script(modules, tmp_path, gpu=True, extra="gpu")

    assert "cuda_installer.pyz install_driver" in gpu and "cuda_installer" not in cpu
    assert "cuda-installer-v" in gpu  # a pinned release of Google's installer, not "latest"
    assert "TF_FORCE_GPU_ALLOW_GROWTH=true" in gpu and "TF_FORCE_GPU_ALLOW_GROWTH" not in cpu
    assert 'test-wheel_name[gpu]"' in gpu and 'test-wheel_name[ml]"' in cpu
    for script in (cpu, gpu):
        assert subprocess.run(["bash", "-n"], input=script, text=True).returncode == 0
    driver, install = gpu.index("install_driver"), gpu.index("pip install")
    assert driver < install


def test_gpu_extra_is_the_ml_extra_with_cuda_tensorflow_at_the_same_version():
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    cpu = [r for r in extras["ml"] if r.startswith("tensorflow-cpu==")]
    gpu = [r for r in extras["gpu"] if r.startswith("tensorflow[and-cuda]==")]
    assert len(cpu) == len(gpu) == 1
    assert cpu[0].split("==")[1] == gpu[0].split("==")[1]
    assert set(extras["ml"]) - set(cpu) == set(extras["gpu"]) - set(gpu)
    assert not any(r.startswith("tensorflow-cpu") for r in extras["gpu"])
