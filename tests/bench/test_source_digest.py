"""A benchmark record can tell when the code changed while it ran (autograph re-reads source files)."""

from __future__ import annotations

import subprocess

from benchmarks import machine
from benchmarks.trainer_table import _commit


def _repo(tmp_path):
    def git(*args):
        identity = ["-c", "user.name=t", "-c", "user.email=t@t"]
        subprocess.run(["git", *identity, *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "train.py").write_text("x = 1\n")
    git("add", ".")
    git("commit", "-qm", "one")
    return git


def test_source_digest_changes_with_an_edit_and_with_a_commit(tmp_path, monkeypatch):
    git = _repo(tmp_path)
    monkeypatch.setattr(machine, "ROOT", tmp_path)
    clean = machine.git_info()
    assert not clean["dirty"]
    (tmp_path / "train.py").write_text("x = 2\n")
    edited = machine.git_info()
    assert edited["dirty"] and edited["source_digest"] != clean["source_digest"]
    git("commit", "-qam", "two")
    committed = machine.git_info()
    assert not committed["dirty"] and committed["source_digest"] not in (
        clean["source_digest"],
        edited["source_digest"],
    )
    assert machine.git_info() == committed  # nothing changed: the same digest


def test_results_written_during_a_run_do_not_count_as_a_code_change(tmp_path, monkeypatch):
    git = _repo(tmp_path)
    (tmp_path / "BENCHMARKS.md").write_text("old\n")
    git("add", ".")
    git("commit", "-qm", "results")
    monkeypatch.setattr(machine, "ROOT", tmp_path)
    before = machine.git_info()
    (tmp_path / "BENCHMARKS.md").write_text("new\n")
    assert machine.git_info() == before


def test_report_marks_dirty_and_changed_runs():
    assert _commit({"git": {"commit": "abcdef123", "dirty": False}}) == "abcdef1"
    assert _commit({"git": {"commit": "abcdef123", "dirty": True, "changed_during_run": True}}) == "abcdef1+!"
