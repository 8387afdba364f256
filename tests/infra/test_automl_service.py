"""The self-hosted AutoML service VM: its boot script renders with exactly the values Terraform passes, is
valid bash, and starts `edgetrain serve` with options and a token variable the CLI really has."""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess

import pytest

from .conftest import INFRA, REPO
from .terraform_config import expression

SERVE_CLI = REPO / "edgetrain_service" / "cli.py"
TEMPLATE = INFRA / "modules" / "automl_service" / "startup.sh.tftpl"


def _templatefile_keys(modules) -> list[str]:
    vm = modules["automl_service"].resources_of("google_compute_instance")["service"]
    call = expression(vm["metadata_startup_script"])
    assert call.startswith('templatefile("${path.module}/startup.sh.tftpl", {'), call
    return re.findall(r"(\w+) = ", call[call.index("{", call.index(",")) :])


def render_boot_script(modules, workdir, **overrides) -> str:
    """The boot script as Terraform renders it (terraform console needs no provider for templatefile)."""
    if shutil.which("terraform") is None:
        pytest.skip("terraform is not installed")
    values = {key: f"test-{key}" for key in _templatefile_keys(modules)}
    values.update(
        {"grpc_port": 8600, "rest_port": 8601, "workers": 1, "extra": "ml", "gpu": False} | overrides
    )
    expr = f"jsonencode(templatefile({json.dumps(str(TEMPLATE))}, {json.dumps(values)}))"
    result = subprocess.run(
        ["terraform", "console"], input=expr, capture_output=True, text=True, cwd=workdir, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return json.loads(json.loads(result.stdout))


@pytest.fixture(scope="module")
def rendered(modules, tmp_path_factory) -> str:
    return render_boot_script(modules, tmp_path_factory.mktemp("console"))


def test_boot_script_is_valid_bash(rendered):
    result = subprocess.run(["bash", "-n"], input=rendered, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert rendered.startswith("#!/bin/bash\n") and "set -euo pipefail" in rendered


def _serve_options_and_token_env() -> tuple[set[str], str]:
    tree = ast.parse(SERVE_CLI.read_text())
    options, token_env = set(), None
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "add_argument":
            options.update(a.value for a in node.args if isinstance(a, ast.Constant))
            if any(isinstance(a, ast.Constant) and a.value == "--token" for a in node.args):
                default = next(k.value for k in node.keywords if k.arg == "default")
                token_env = default.args[0].value  # os.environ.get("NAME")
    return options, token_env


def test_service_starts_with_options_edgetrain_serve_has(rendered):
    options, token_env = _serve_options_and_token_env()
    exec_start = next(
        line for line in rendered.splitlines() if line.startswith("ExecStart=") and " serve " in line
    )
    used = set(re.findall(r"(--[a-z-]+)", exec_start))
    assert used, exec_start
    assert used <= options, f"edgetrain serve has no {sorted(used - options)}"
    assert "--host 0.0.0.0" in exec_start and "--storage-root" in exec_start
    assert f"{token_env}=%s" in rendered, f"the token must reach the service as {token_env}"


def test_service_listens_where_the_functions_and_firewall_expect(modules):
    service = modules["automl_service"]
    rule = service.resources_of("google_compute_firewall")["service_from_connector"]
    ports = rule["allow"][0]["ports"]
    assert ports == ["${tostring(var.grpc_port)}", "${tostring(var.rest_port)}"]
    endpoint = service.outputs["grpc_endpoint"]["value"]
    assert endpoint == "${google_compute_address.service.address}:${var.grpc_port}"


def test_service_starts_only_after_its_data_disk_is_mounted(rendered):
    mount = rendered.index('mount -o discard,defaults "$DISK" "$DATA_DIR"')
    start = rendered.index("systemctl restart edgetrain-gcs.service edgetrain.service")
    assert mount < start
    assert "systemctl enable" not in rendered and "WantedBy=" not in rendered  # boot order is the script's
    assert "RequiresMountsFor=$DATA_DIR" in rendered


def _token_step(rendered: str, env_dir) -> str:
    """The boot script's retry helper and its token step (5.), writing under env_dir, with sleep a no-op."""
    helper = re.search(r"^retry\(\) \{\n.*?^\}\n", rendered, re.S | re.M)
    assert helper, "the boot script defines no retry() helper"
    step = rendered[rendered.index("# 5. ") : rendered.index("# 6. ")]
    assert step.count("/etc/edgetrain/env") == 1, step
    return (
        "set -euo pipefail\nsleep() { :; }\n"
        + helper.group(0)
        + step.replace("/etc/edgetrain/env", f"{env_dir}/env")
    )


def _fake_gcloud(bin_dir, body: str) -> dict:
    gcloud = bin_dir / "gcloud"
    gcloud.write_text(f"#!/bin/bash\n{body}\n")
    gcloud.chmod(0o755)
    return {"PATH": f"{bin_dir}:/usr/bin:/bin", "COUNT": str(bin_dir / "count")}


@pytest.mark.parametrize(
    ("gcloud", "written"),
    [
        # Secret Manager (or the new IAM grant) answers only at the third try: retried, then written
        (
            'n=$(($(cat "$COUNT" 2>/dev/null || echo 0) + 1)); echo $n > "$COUNT"; [ $n -ge 3 ] || exit 1; '
            "echo s3cret",
            "EDGETRAIN_TOKEN=s3cret\n",
        ),
        ("exit 1", None),  # never readable: the boot stops, no token file with an empty token
        ("echo", None),  # an empty secret is refused too
    ],
    ids=["retried", "never-readable", "empty"],
)
def test_boot_script_retries_the_token_and_never_writes_an_empty_one(rendered, tmp_path, gcloud, written):
    env = _fake_gcloud(tmp_path, gcloud)
    script = _token_step(rendered, tmp_path)
    result = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=60)
    if written is None:
        assert result.returncode != 0, result.stderr
        assert not (tmp_path / "env").exists(), (tmp_path / "env").read_text()
    else:
        assert result.returncode == 0, result.stderr
        assert (tmp_path / "env").read_text() == written
        assert (tmp_path / "count").read_text().strip() == "3"


def test_boot_script_retries_the_wheel_download(rendered):
    copy = next(line for line in rendered.splitlines() if "gcloud storage cp" in line)
    assert copy.strip().startswith("retry gcloud storage cp "), copy
    tries = re.search(r"for try in \$\(seq 1 (\d+)\)", rendered)
    assert tries and int(tries.group(1)) >= 5, "retry() should try several times"
