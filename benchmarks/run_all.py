"""Run every area's benchmark, then regenerate BENCHMARKS.md (what `make bench` does).

    python -m benchmarks.run_all                    # every benchmarks/*_bench.py, defaults
    python -m benchmarks.run_all --only trainer     # one area (module name with or without _bench)
    python -m benchmarks.run_all --list             # what would run
    python -m benchmarks.run_all --report-only      # only rewrite BENCHMARKS.md from the results files

Modules are discovered, not registered: any `benchmarks/<name>_bench.py` defining `main(argv) -> int` runs
with an empty argv (its defaults). Options of one area go to that module directly, e.g.
`python -m benchmarks.trainer_bench --dataset bccd --model-type mobile-low-latency-1`.
Exit status: 0 when every module returned 0, else 1.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import time
import traceback

import benchmarks
from benchmarks.report import write_benchmarks_md

SUFFIX = "_bench"


def discover() -> list[str]:
    """Names of the benchmark modules in this package, sorted."""
    return sorted(m.name for m in pkgutil.iter_modules(benchmarks.__path__) if m.name.endswith(SUFFIX))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run_all", description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", default=[], metavar="NAME", help="run only these modules")
    parser.add_argument("--list", action="store_true", help="list the benchmark modules and exit")
    parser.add_argument("--report-only", action="store_true", help="only regenerate BENCHMARKS.md")
    args = parser.parse_args(argv)

    names = discover()
    if args.only:
        wanted = {n if n.endswith(SUFFIX) else n + SUFFIX for item in args.only for n in item.split(",")}
        unknown = wanted - set(names)
        if unknown:
            parser.error(f"unknown benchmark(s) {', '.join(sorted(unknown))}; have {', '.join(names)}")
        names = [n for n in names if n in wanted]
    if args.list:
        print("\n".join(names))
        return 0

    failed = []
    if not args.report_only:
        for name in names:
            print(f"== {name}", flush=True)
            started = time.monotonic()
            try:
                code = importlib.import_module(f"benchmarks.{name}").main([])
            except SystemExit as exit_:  # argparse exits on bad arguments: a failure of this area only
                code = exit_.code if isinstance(exit_.code, int) else 1
            except Exception:  # one area's failure must not hide the others' results
                traceback.print_exc()
                code = 1
            print(f"== {name}: exit {code} after {time.monotonic() - started:.0f} s", flush=True)
            if code:
                failed.append(name)
    path = write_benchmarks_md()
    print(f"wrote {path}")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
