"""What an API server's refusal means for the user, and what to do about it (pure).

A reconcile that fails on a request the user can fix (RBAC, a missing CRD, an object the API
server rejects) must not look like "waiting" forever: it becomes Degraded=True with a reason
naming the class of cause and a message a person can act on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from champion.api.v1alpha1 import reasons

# /api/v1/namespaces/ns/pods/name or /apis/group/version/namespaces/ns/plural/name[/sub]
_PATH = re.compile(
    r"^/(?:api/(?P<core>v1)|apis/(?P<group>[^/]+)/(?P<version>[^/]+))"
    r"(?:/namespaces/(?P<ns>[^/]+))?/(?P<plural>[^/]+)(?:/(?P<name>[^/]+))?(?:/(?P<sub>[^/]+))?"
)
_VERBS = {"GET": "get", "POST": "create", "PATCH": "patch", "PUT": "update", "DELETE": "delete"}

# Where each API the operator writes comes from, for the "install …" hint.
_PROVIDERS = {
    "gateway.networking.k8s.io": "the Gateway API CRDs, or choose another traffic provider",
    "serving.kserve.io": "KServe (its InferenceService CRD), or use serving.backend: deployment",
    "champion.dev": "Champion's CRDs (helm install charts/champion, or kubectl apply -f crds/)",
}


@dataclass(frozen=True)
class ApiFailure:
    reason: str
    message: str
    permanent: bool
    """True when retrying soon cannot help: the user must change something (back off long)."""


def _target(method: str, path: str) -> tuple[str, str, str, str]:
    """(verb, resource, api group/version, namespace) of a request path."""
    m = _PATH.match(path.split("?", 1)[0])
    verb = _VERBS.get(method.upper(), method.lower() or "request")
    if not m:
        return verb, path or "?", "", ""
    group_version = "v1" if m["core"] else f"{m['group']}/{m['version']}"
    if method.upper() == "GET" and not m["name"]:
        verb = "list"
    resource = m["plural"] + (f"/{m['sub']}" if m["sub"] else "")
    return verb, resource, group_version, m["ns"] or ""


def classify(status: int, message: str, method: str, path: str) -> ApiFailure | None:
    """The user-facing meaning of an API error, or None for a transient one (409, 5xx, 429)."""
    verb, resource, group_version, ns = _target(method, path)
    where = f" in namespace {ns}" if ns else ""
    if status == 403:
        return ApiFailure(
            reasons.FORBIDDEN,
            f"the operator may not {verb} {resource} ({group_version}){where}: {message}. "
            "Grant it in the chart's ClusterRole (charts/champion/templates/rbac.yaml), "
            "or reinstall the chart",
            permanent=True,
        )
    if status == 404 and 'namespaces "' in message:
        return ApiFailure(
            reasons.REFERENCE_NOT_FOUND,
            f"cannot {verb} {resource}: {message}; create the namespace first",
            permanent=True,
        )
    if status == 404 and method.upper() == "POST":
        group = group_version.split("/", 1)[0]
        hint = _PROVIDERS.get(group, "the CRD that serves it")
        return ApiFailure(
            reasons.MISSING_API,
            f"{resource} ({group_version}) is not served by this cluster: install {hint}",
            permanent=True,
        )
    if status in (400, 422):
        return ApiFailure(
            reasons.INVALID_SPEC,
            f"the API server refused to {verb} {resource}{where}: {message}",
            permanent=True,
        )
    return None
