"""Eval I/O: loading suites and cases, calling model endpoints."""
