"""Champion: a Kubernetes operator for the lifecycle of ML and LLM models."""

__version__ = "0.1.0"
