"""functions-framework apps built from functions/main.py, as Cloud Functions would run each target."""

from __future__ import annotations

import functions_framework

from .conftest import FUNCTIONS_DIR

MAIN = str(FUNCTIONS_DIR / "main.py")


def cloudevent_client(target: str):
    return functions_framework.create_app(target, MAIN, "cloudevent").test_client()


def http_client(target: str = "status_page"):
    return functions_framework.create_app(target, MAIN, "http").test_client()
