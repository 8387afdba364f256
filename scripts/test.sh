#!/usr/bin/env bash
# The whole test suite (what `make test` and CI run). Tests start and stop their own emulators and services.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin

echo "== lint"
$BIN/ruff check . && $BIN/ruff format --check . || exit 1

echo "== mypy"
# The packages it checks are [tool.mypy] files in pyproject.toml.
$BIN/mypy || exit 1

echo "== terraform fmt"
# Some machines point TF_CLI_CONFIG_FILE at a file that does not exist; terraform then warns on every call.
[ -f "${TF_CLI_CONFIG_FILE:-}" ] || unset TF_CLI_CONFIG_FILE
terraform fmt -check -recursive infra || exit 1

echo "== pytest"
# Two workers: most test trainings use one thread, and much of the rest waits on emulators and services.
# tests/conftest.py keeps each module, and each costly session fixture's users, on one worker; xdist names a
# test with its group after an @ (drop it to run the test alone). `-n 0` after this script's name runs
# everything in one process.
$BIN/python -m pytest -q -ra -n 2 --dist loadgroup "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
    echo "pytest collected no tests" >&2
    exit 1
fi
exit $rc
