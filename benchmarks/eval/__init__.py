"""Eval runner throughput: `python -m benchmarks.eval`."""
