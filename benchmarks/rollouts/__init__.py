"""Operator scale benchmark: `python -m benchmarks.rollouts [--rollouts N]`."""
