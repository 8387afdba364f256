"""`make bench`'s driver: every benchmark module runs with no arguments, and one area's failure, even an
argparse exit, leaves the others and the report alone."""

import sys
import types

from benchmarks import run_all


def test_a_module_that_exits_is_a_failure_of_its_area_only(monkeypatch, tmp_path):
    ran = []

    def module(name, main):
        fake = types.ModuleType(f"benchmarks.{name}")
        fake.main = main
        monkeypatch.setitem(sys.modules, f"benchmarks.{name}", fake)

    def exits(argv):
        ran.append("a")
        raise SystemExit(2)

    def passes(argv):
        ran.append("b")
        return 0

    module("a_bench", exits)
    module("b_bench", passes)
    monkeypatch.setattr(run_all, "discover", lambda: ["a_bench", "b_bench"])
    monkeypatch.setattr(run_all, "write_benchmarks_md", lambda: tmp_path / "BENCHMARKS.md")

    assert run_all.main([]) == 1
    assert ran == ["a", "b"]


def test_studies_are_not_run_by_run_all_and_do_nothing_without_arguments():
    # a study needs a run to study: called as run_all would call it, it says so and returns
    from benchmarks.studies import weight_selection_bench

    assert "weight_selection_bench" not in run_all.discover()
    assert "trainer_bench" in run_all.discover()
    assert weight_selection_bench.main([]) == 0
