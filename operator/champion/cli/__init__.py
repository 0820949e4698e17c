"""Command-line entry points: `champion` and `kubectl-champion`."""
