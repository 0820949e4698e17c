"""kopf wiring only: each handler delegates to champion.reconcile."""
