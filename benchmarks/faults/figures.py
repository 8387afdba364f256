"""The figure each scenario must reach, and which figures of a record are off."""

from __future__ import annotations

from typing import Any

# scenario -> figure -> the value it must have
EXPECTED: dict[str, dict[str, int]] = {
    "messages": {"crashes": 0, "unanswered": 0, "unrecorded": 0, "functions_died": 0},
    "requests": {"internal": 0, "no_answer": 0, "server_restarts": 0},
    "kills": {
        "stuck_running": 0,
        "trainings_run_twice": 0,
        "rows_lost": 0,
        "models_lost": 0,
        "outcomes_changed": 0,
        "firestore_disagreements": 0,
    },
    # a 5xx answer to a duplicate is expected: a delivery that finds another one of the same event under way
    # asks Pub/Sub to deliver it again (duplicates.py counts them as nacked)
    "duplicates": {"imports_made": 1, "trainings_started": 1, "notifications_sent": 1, "unanswered": 0},
}


def off_figures(record: dict[str, Any]) -> list[str]:
    """'scenario.figure = value (must be expected)' for every figure of the scenarios the record ran that is
    off, and 'scenario: error' for a scenario that could not finish."""
    problems = []
    for scenario, expected in EXPECTED.items():
        result = record.get(scenario)
        if result is None:
            continue
        if "error" in result:
            problems.append(f"{scenario}: {result['error']}")
            continue
        for figure, value in expected.items():
            if result.get(figure) != value:
                problems.append(f"{scenario}.{figure} = {result.get(figure)} (must be {value})")
        if scenario == "duplicates" and result.get("exports_made") != result.get("export_formats"):
            problems.append(
                f"duplicates.exports_made = {result.get('exports_made')} (must be one per format: "
                f"{result.get('export_formats')})"
            )
    return problems
