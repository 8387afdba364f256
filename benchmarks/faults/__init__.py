"""The fault suite's parts (issue 27): the stack it runs against, the generators of bad input, one module per
scenario, and the figures each scenario must reach. benchmarks/fault_bench.py runs them."""
