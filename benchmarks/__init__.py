"""Benchmarks: `python -m benchmarks.judge [--quick]`."""
