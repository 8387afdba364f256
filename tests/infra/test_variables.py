"""The environment refuses at plan time the values that would plan but break the deployment at run time: a
fractional budget or worker count, a zone outside the region, pipeline_settings that collide with what
Terraform sets itself. Checked by behaviour: `terraform console` over a copy of envs/dev/variables.tf runs the
variables' validations (no provider needed)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from . import pipeline_code
from .conftest import FUNCTIONS, INFRA
from .terraform_config import single

DEV_VARIABLES = INFRA / "envs" / "dev" / "variables.tf"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_REFUSED = re.compile(r"Error: Invalid value for variable.*?variable \"(\w+)\"", re.S)


@pytest.fixture(scope="module")
def console_dir(tmp_path_factory):
    if shutil.which("terraform") is None:
        pytest.skip("terraform is not installed")
    folder = tmp_path_factory.mktemp("variables")
    shutil.copy(DEV_VARIABLES, folder / "variables.tf")
    return folder


def refused(console_dir, **values: str) -> set[str]:
    """Names of the variables whose validation refuses `values` (HCL literals), the rest left at defaults."""
    env = dict(os.environ)
    if not os.path.isfile(env.get("TF_CLI_CONFIG_FILE", "")):
        env.pop("TF_CLI_CONFIG_FILE", None)
    args = ["-var=project_id=test-project"] + [f"-var={name}={value}" for name, value in values.items()]
    result = subprocess.run(
        ["terraform", "console", *args],
        input="var.project_id\n",
        capture_output=True,
        text=True,
        cwd=console_dir,
        env=env,
        timeout=60,
    )
    errors = _ANSI.sub("", result.stderr)
    assert "test-project" in result.stdout or "Invalid value for variable" in errors, errors
    return set(_REFUSED.findall(errors))


def test_the_defaults_pass(console_dir):
    assert refused(console_dir) == set()


@pytest.mark.parametrize(
    ("value", "ok"), [("24000", True), ("1000", True), ("24000.5", False), ("999", False), ("100001", False)]
)
def test_the_default_budget_is_a_whole_number_of_milli_node_hours(console_dir, value, ok):
    # config.py reads DEFAULT_BUDGET_MILLI_NODE_HOURS with int(): "24000.5" would fail every function
    assert refused(console_dir, default_budget_milli_node_hours=value) == (
        set() if ok else {"default_budget_milli_node_hours"}
    )


@pytest.mark.parametrize(
    ("value", "ok"), [("1", True), ("4", True), ("0", False), ("1.5", False), ("-1", False)]
)
def test_automl_workers_is_a_whole_number_of_at_least_one(console_dir, value, ok):
    # `edgetrain serve --workers 1.5` does not start; 0 accepts trainings and never runs them
    assert refused(console_dir, automl_workers=value) == (set() if ok else {"automl_workers"})


@pytest.mark.parametrize(
    ("region", "zone", "ok"),
    [
        ("us-central1", None, True),  # null: REGION-b
        ("us-central1", "us-central1-a", True),
        ("europe-west4", "europe-west4-b", True),
        ("us-central1", "europe-west4-a", False),
        ("europe-west4", "us-central1-a", False),
        ("us-central1", "us-central1", False),
    ],
)
def test_the_zone_is_inside_the_region(console_dir, region, zone, ok):
    values = {"region": region} | ({} if zone is None else {"zone": zone})
    assert refused(console_dir, **values) == (set() if ok else {"zone"})


def _names_terraform_sets(dev) -> set[str]:
    """Every environment variable name main.tf itself sets on the functions: settings, topics, the backends'
    settings, and the secrets (each function's own and the AutoML token)."""
    names = set(dev.locals["function_env"]) | set(dev.locals["topics"])
    for settings in dev.locals["backend_env"].values():
        names |= set(settings)
    for spec in dev.locals["functions"].values():
        names |= set(spec["secrets"])
    secrets = dev.modules["functions"]["secret_environment_variables"]
    names |= set(re.findall(r"\{(\w+) = local\.automl_token_secret\}", secrets))
    return names


def test_pipeline_settings_cannot_set_what_terraform_sets(console_dir, dev):
    names = _names_terraform_sets(dev)
    assert {"AUTOML_TOKEN", "CSRF_SECRET", "TRAINING_BACKEND", "GOOGLE_CLOUD_PROJECT"} <= names
    assert {"TOPIC_POLL_TICK", "AUTOML_ENDPOINT", "DEFAULT_BUDGET_MILLI_NODE_HOURS"} <= names
    for name in sorted(names):
        assert refused(console_dir, pipeline_settings=f'{{{name} = "x"}}') == {"pipeline_settings"}, name


def test_pipeline_settings_take_the_other_settings_of_config_py(console_dir):
    settings = '{MIN_NEW_EXAMPLES = "50", CREATE_LEASE_S = "240", RETRY_DEADLINE_S = "90"}'
    assert refused(console_dir, pipeline_settings=settings) == set()


def test_pipeline_settings_refuse_exactly_the_names_terraform_sets(dev):
    condition = single(dev.variables["pipeline_settings"]["validation"])["condition"]
    assert set(re.findall(r'"([A-Z][A-Z0-9_]+)"', condition)) == _names_terraform_sets(dev)


@pytest.mark.parametrize(
    ("attempts", "lease", "ok"),
    [("10", None, True), ("7", None, True), ("6", None, False), ("10", "600", False), ("20", "600", True)],
)
def test_deliveries_outlast_the_claim_lease(console_dir, attempts, lease, ok):
    """A claim left by a delivery that died is taken over only after CREATE_LEASE_S: with deliveries at least
    60 s apart, (attempts - 1) x 60 s must pass it (6 attempts: 300 s, not past the 300 s lease)."""
    values = {"max_delivery_attempts": attempts}
    if lease is not None:
        values["pipeline_settings"] = f'{{CREATE_LEASE_S = "{lease}"}}'
    assert refused(console_dir, **values) == (set() if ok else {"max_delivery_attempts"})


def test_the_lease_the_validation_assumes_is_config_pys(dev):
    condition = dev.variables["max_delivery_attempts"]["validation"][-1]["condition"]
    default = re.search(r'"CREATE_LEASE_S", "(\d+)"', condition)
    config_py = FUNCTIONS / "edgetrain_pipeline" / "config.py"
    assert default and float(default.group(1)) == pipeline_code.setting_default(config_py, "CREATE_LEASE_S")
