"""functions/ deploys on its own: main.py imports with only functions/requirements.txt's packages."""

from __future__ import annotations

import ast
import subprocess
import sys

from .conftest import FUNCTIONS_DIR

# import name -> distribution in requirements.txt
DISTRIBUTIONS = {
    "functions_framework": "functions-framework",
    "cloudevents": "cloudevents",
    "flask": "Flask",
    "google": "google-",
    "grpc": "grpcio",
    "pydantic": "pydantic",
    "jinja2": "Jinja2",
}


def test_main_imports_without_the_trainer_service_or_tensorflow():
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import main; "
        "print(sorted({m.split('.')[0] for m in sys.modules}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(FUNCTIONS_DIR)],
        capture_output=True,
        text=True,
        check=True,
        cwd=FUNCTIONS_DIR,
    )
    loaded = set(ast.literal_eval(result.stdout.strip().splitlines()[-1]))
    assert not loaded & {
        "tensorflow",
        "keras",
        "torch",
        "edgetrain_trainer",
        "edgetrain_service",
        "edgetrain",
    }


def test_every_third_party_import_is_pinned_in_requirements():
    requirements = (FUNCTIONS_DIR / "requirements.txt").read_text()
    local = {"edgetrain_pipeline", "main"}
    for path in FUNCTIONS_DIR.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else (
                    [node.module]
                    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module
                    else []
                )
            )
            for name in names:
                top = name.split(".")[0]
                if top in local or top in sys.stdlib_module_names or top == "__future__":
                    continue
                assert top in DISTRIBUTIONS, f"{path.name} imports {top}, unknown to this test"
                assert f"\n{DISTRIBUTIONS[top]}" in "\n" + requirements, f"{top} ({path.name}) is not pinned"
