"""infra/ follows the layout of STYLE.md: one folder per module, one file per role, environments that only
compose modules, every variable and output typed and described, providers pinned."""

from __future__ import annotations

import fnmatch
import re

import pytest

from .conftest import INFRA, REPO
from .terraform_config import single

MODULE_FILES = ("main.tf", "variables.tf", "outputs.tf", "versions.tf")


def test_every_module_has_one_file_per_role(modules):
    assert modules, "no modules under infra/modules"
    for name, folder in modules.items():
        missing = [f for f in MODULE_FILES if f not in folder.files]
        assert not missing, f"module {name} lacks {missing}"
        iam_resources = [
            (t, n)
            for file, parsed in folder.files.items()
            if file != "iam.tf"
            for block in parsed.get("resource", [])
            for t, named in block.items()
            for n in named
            if "_iam_" in t
        ]
        assert not iam_resources, f"module {name}: IAM bindings belong in iam.tf, found {iam_resources}"


@pytest.mark.parametrize("kind", ["variables", "outputs"])
def test_every_variable_and_output_is_described(modules, envs, kind):
    for name, folder in {**modules, **envs}.items():
        for item, body in getattr(folder, kind).items():
            assert str(body.get("description", "")).strip(), f"{name}: {kind[:-1]} {item} has no description"
            if kind == "variables":
                assert "type" in body, f"{name}: variable {item} has no type"


def test_environments_only_compose_modules_with_a_gcs_backend(envs):
    assert "dev" in envs
    for name, env in envs.items():
        main = env.files["main.tf"]
        blocks = {k for k in main if not k.startswith("__")}
        assert blocks <= {"terraform", "locals", "module"}, f"envs/{name}/main.tf declares {sorted(blocks)}"
        assert not env.resources, f"envs/{name} declares resources; put them in a module"
        backends = [b for t in env.terraform for b in t.get("backend", [])]
        assert [list(b) for b in backends] == [["gcs"]], f"envs/{name}: backend {backends}"
        for call, body in env.modules.items():
            assert body["source"].startswith("../../modules/"), (
                f"envs/{name}: module {call} is not a local module"
            )


def test_providers_are_pinned(envs, modules):
    for name, env in envs.items():
        required = {
            k: v for t in env.terraform for rp in t.get("required_providers", []) for k, v in rp.items()
        }
        for provider in ("google", "archive"):
            assert provider in required, f"envs/{name} does not pin {provider}"
            assert re.match(r"^~> \d+\.\d+", required[provider]["version"]), required[provider]
    for name, module in modules.items():
        required = {k for t in module.terraform for rp in t.get("required_providers", []) for k in rp}
        used = {t.split("_")[0] for t in module.resources} | {t.split("_")[0] for t in module.data}
        assert used <= required, f"module {name} uses providers {sorted(used - required)} it does not declare"


def test_modules_called_by_an_environment_exist(envs):
    for env in envs.values():
        for call, body in env.modules.items():
            assert (env.path / body["source"]).resolve().is_dir(), f"module {call}: {body['source']} missing"


def test_firestore_is_native_mode(modules):
    database = single([modules["firestore"].resources_of("google_firestore_database")["this"]])
    assert database["type"] == "FIRESTORE_NATIVE"


def test_buckets_are_private_uniform_and_versioned(modules):
    buckets = [
        (m, n, b) for m, f in modules.items() for n, b in f.resources_of("google_storage_bucket").items()
    ]
    assert {m for m, _, _ in buckets} >= {"storage", "function_source", "automl_service"}
    for module, name, bucket in buckets:
        where = f"{module}.{name}"
        assert bucket["uniform_bucket_level_access"] is True, where
        assert bucket["public_access_prevention"] == "enforced", where
        assert single(bucket["versioning"])["enabled"] is True, where


def test_function_source_object_name_carries_the_source_hash(modules):
    source = modules["function_source"]
    obj = source.resources_of("google_storage_bucket_object")["functions"]
    assert "local.source_hash" in obj["name"]
    assert "filesha256" in source.locals["source_hash"]


def test_terraform_fmt_is_clean():
    import shutil
    import subprocess

    if shutil.which("terraform") is None:
        pytest.skip("terraform is not installed (see README: Deploy to Google Cloud)")
    result = subprocess.run(
        ["terraform", "fmt", "-check", "-recursive", str(INFRA)], capture_output=True, text=True
    )
    assert result.returncode == 0, f"not formatted: {result.stdout}"


def test_the_documented_plan_file_is_git_ignored():
    # a saved plan holds the prior state, and with it the random_password results (token, CSRF key)
    deploy = (REPO / "docs" / "deploy.md").read_text()
    plans = re.findall(r"terraform plan -out=(\S+)", deploy)
    assert plans, "docs/deploy.md no longer saves a plan: drop this test"
    ignored = [
        line.strip()
        for line in (INFRA / ".gitignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for plan in plans:
        assert any(fnmatch.fnmatch(plan, pattern) for pattern in ignored), f"{plan} matches none of {ignored}"
        assert f"terraform apply {plan}" in deploy


def test_a_secret_is_handed_on_only_once_it_has_a_version(modules):
    # consumers (the functions' "latest", the VM's boot script) need a version, not only the secret
    output = modules["secret"].outputs["secret_id"]
    assert output["depends_on"] == ["${google_secret_manager_secret_version.this}"], output
