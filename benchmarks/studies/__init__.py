"""One-off studies: each answered a question about the recipe or the export, and its results file in
benchmarks/results/ keeps the answer (BENCHMARKS.md renders it with the study's render_markdown). run_all
does not run them; run one by hand, e.g. `python -m benchmarks.studies.trainer_order_bench`."""
