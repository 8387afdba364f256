"""Paths and parsed Terraform shared by the infra tests (all offline: no provider registry, no cloud)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .terraform_config import env_folders, module_folders

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"
FUNCTIONS = REPO / "functions"


@pytest.fixture(scope="session")
def modules():
    return module_folders(INFRA)


@pytest.fixture(scope="session")
def envs():
    return env_folders(INFRA)


@pytest.fixture(scope="session")
def dev(envs):
    return envs["dev"]
