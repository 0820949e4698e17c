"""champion.dev/v1alpha1: ModelVersion, GPUPool, EvalSuite, Rollout."""

GROUP = "champion.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
