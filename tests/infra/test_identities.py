"""Who runs what and who may call what: a service account per function, never the default compute account,
no primitive roles, Pub/Sub-only functions closed to the internet, the status page closed by default."""

from __future__ import annotations

import re

from .conftest import INFRA
from .terraform_config import expression, single

PRIMITIVE = re.compile(r"roles/(owner|editor|viewer)\b")


def _all_tf_text() -> str:
    return "\n".join(p.read_text() for p in sorted(INFRA.rglob("*.tf")))


def test_no_primitive_role_is_granted_anywhere(modules, dev):
    for name, folder in modules.items():
        for type_, resource_name, body in folder.all_resources():
            if "role" in body:
                assert not PRIMITIVE.search(str(body["role"])), f"{name}.{type_}.{resource_name}"
    for entry_point, spec in dev.locals["functions"].items():
        for role in spec["roles"]:
            assert not PRIMITIVE.search(role), f"{entry_point}: {role}"
    validation = single(modules["cloudfunction"].variables["project_roles"]["validation"])
    assert all(r in validation["condition"] for r in ("roles/owner", "roles/editor", "roles/viewer"))


def test_nothing_runs_as_the_default_compute_service_account(modules):
    assert "-compute@developer.gserviceaccount.com" not in _all_tf_text()
    function = modules["cloudfunction"].resources_of("google_cloudfunctions2_function")["this"]
    service = single(function["service_config"])
    assert expression(service["service_account_email"]) == "google_service_account.function.email"
    assert expression(single(function["build_config"])["service_account"]) == "var.build_service_account_id"
    vm = modules["automl_service"].resources_of("google_compute_instance")["service"]
    assert expression(single(vm["service_account"])["email"]) == "google_service_account.service.email"


def test_each_function_has_a_service_account_of_its_own(dev):
    call = dev.modules["functions"]
    assert call["service_account_id"] == "${var.name_prefix}-${each.value.sa}"
    accounts = [spec["sa"] for spec in dev.locals["functions"].values()]
    assert len(accounts) == len(set(accounts)), accounts
    prefix = dev.variable_default("name_prefix")
    for account in accounts:
        assert 6 <= len(f"{prefix}-{account}") <= 30, account


def test_pubsub_functions_accept_only_internal_traffic_from_the_push_identity(modules):
    module = modules["cloudfunction"]
    service = single(module.resources_of("google_cloudfunctions2_function")["this"]["service_config"])
    assert expression(service["ingress_settings"]).startswith(
        'local.pubsub_triggered ? "ALLOW_INTERNAL_ONLY"'
    )
    invoker = module.resources_of("google_cloud_run_v2_service_iam_member")["invoker"]
    assert invoker["role"] == "roles/run.invoker"
    assert (
        'local.pubsub_triggered ? tomap({push = "serviceAccount:${var.push_invoker_email}"})'
        in invoker["for_each"]
    )


def test_status_page_is_authenticated_unless_opened_explicitly(dev):
    assert dev.variables["status_page_public"]["default"] is False
    assert dev.variables["status_page_invokers"]["default"] == []
    assert expression(dev.modules["functions"]["http_invokers"]) == (
        'var.status_page_public ? ["allUsers"] : var.status_page_invokers'
    )
    text = _all_tf_text()
    assert text.count('"allUsers"') == 1 and '"allAuthenticatedUsers"' not in text, "public access elsewhere"


def test_automl_service_is_private(modules):
    service = modules["automl_service"]
    vm = service.resources_of("google_compute_instance")["service"]
    assert "access_config" not in single(vm["network_interface"]), "the service VM must have no external IP"
    firewalls = service.resources_of("google_compute_firewall")
    for name, rule in firewalls.items():
        assert "0.0.0.0/0" not in rule["source_ranges"], name
    api_rule = firewalls["service_from_connector"]
    assert api_rule["source_ranges"] == ["${var.connector_cidr}"]
    shielded = single(vm["shielded_instance_config"])
    assert shielded["enable_vtpm"] is True and shielded["enable_integrity_monitoring"] is True
    # Secure Boot on every VM but the GPU one: Google's installer builds an unsigned NVIDIA driver, which a
    # Secure Boot kernel refuses to load (docs/backends.md)
    assert expression(shielded["enable_secure_boot"]) == "local.gpu == null"
