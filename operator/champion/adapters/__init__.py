"""All I/O behind small interfaces: Kubernetes, Prometheus, HTTP model endpoints."""
