"""`make bench`: benchmarks of every area, results in benchmarks/results/*.jsonl, tables in BENCHMARKS.md.

Add a benchmark by adding `benchmarks/<name>_bench.py` with `main(argv: list[str]) -> int`; it appends JSON
records to `benchmarks/results/<name>.jsonl`. Optionally it defines `render_markdown(records) -> str` for its
BENCHMARKS.md section (otherwise a generic table is written). run_all.py discovers the modules.
"""
