"""Which URL path serves each kind the operator touches."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Resource:
    api_version: str
    kind: str
    plural: str
    namespaced: bool = True

    def path(
        self, namespace: str | None = None, name: str | None = None, subresource: str | None = None
    ) -> str:
        base = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        parts = [base]
        if self.namespaced and namespace:
            parts.append(f"namespaces/{namespace}")
        parts.append(self.plural)
        if name:
            parts.append(name)
            if subresource:
                parts.append(subresource)
        return "/".join(parts)


_KNOWN = [
    Resource("v1", "Namespace", "namespaces", namespaced=False),
    Resource("v1", "Node", "nodes", namespaced=False),
    Resource("v1", "Pod", "pods"),
    Resource("v1", "Service", "services"),
    Resource("v1", "ConfigMap", "configmaps"),
    Resource("v1", "ServiceAccount", "serviceaccounts"),
    Resource("v1", "Secret", "secrets"),
    Resource("v1", "Event", "events"),
    Resource("apps/v1", "Deployment", "deployments"),
    Resource("batch/v1", "Job", "jobs"),
    Resource("serving.kserve.io/v1beta1", "InferenceService", "inferenceservices"),
    Resource("gateway.networking.k8s.io/v1", "HTTPRoute", "httproutes"),
    Resource("champion.dev/v1alpha1", "ModelVersion", "modelversions"),
    Resource("champion.dev/v1alpha1", "GPUPool", "gpupools", namespaced=False),
    Resource("champion.dev/v1alpha1", "Rollout", "rollouts"),
    Resource("champion.dev/v1alpha1", "EvalSuite", "evalsuites"),
]
_BY_KIND = {(r.api_version, r.kind): r for r in _KNOWN}


def resource_for(api_version: str, kind: str) -> Resource:
    try:
        return _BY_KIND[(api_version, kind)]
    except KeyError:
        raise ValueError(f"no resource mapping for {api_version} {kind}") from None
