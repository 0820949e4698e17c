"""Resource types the emulated server serves: built-ins, and those CRDs register."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ResourceType:
    group: str
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool = True
    short_names: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    status_subresource: bool = False
    schema: dict[str, Any] | None = None
    printer_columns: list[dict[str, Any]] = field(default_factory=list)
    verbs: tuple[str, ...] = (
        "create",
        "delete",
        "deletecollection",
        "get",
        "list",
        "patch",
        "update",
        "watch",
    )

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.group, self.version, self.plural)


def _b(
    group: str,
    version: str,
    kind: str,
    plural: str,
    namespaced: bool = True,
    short: list[str] | None = None,
    status: bool = False,
) -> ResourceType:
    return ResourceType(
        group=group, version=version, kind=kind, plural=plural, singular=kind.lower(),
        namespaced=namespaced, short_names=short or [], status_subresource=status,
    )  # fmt: skip


def builtin_types() -> list[ResourceType]:
    """Built-in kinds (schemaless here: a real server validates them; we trust the client)."""
    return [
        _b("", "v1", "Namespace", "namespaces", False, ["ns"], True),
        _b("", "v1", "Node", "nodes", False, ["no"], True),
        _b("", "v1", "Pod", "pods", True, ["po"], True),
        _b("", "v1", "Service", "services", True, ["svc"], True),
        _b("", "v1", "ConfigMap", "configmaps", True, ["cm"]),
        _b("", "v1", "Secret", "secrets", True),
        _b("", "v1", "Event", "events", True, ["ev"]),
        _b("", "v1", "ServiceAccount", "serviceaccounts", True, ["sa"]),
        _b("events.k8s.io", "v1", "Event", "events", True, ["ev"]),
        _b("coordination.k8s.io", "v1", "Lease", "leases", True),
        _b("apps", "v1", "Deployment", "deployments", True, ["deploy"], True),
        _b("batch", "v1", "Job", "jobs", True, [], True),
        _b(
            "apiextensions.k8s.io",
            "v1",
            "CustomResourceDefinition",
            "customresourcedefinitions",
            False,
            ["crd", "crds"],
            True,
        ),
        # Third-party CRDs a cluster would have installed: served schemaless.
        _b("gateway.networking.k8s.io", "v1", "HTTPRoute", "httproutes", True, [], True),
        _b(
            "serving.kserve.io",
            "v1beta1",
            "InferenceService",
            "inferenceservices",
            True,
            ["isvc"],
            True,
        ),
        _b("kopf.dev", "v1", "ClusterKopfPeering", "clusterkopfpeerings", False),
        _b("kopf.dev", "v1", "KopfPeering", "kopfpeerings", True),
    ]


def types_from_crd(crd: dict[str, Any]) -> list[ResourceType]:
    spec = crd.get("spec", {})
    names = spec.get("names", {})
    out = []
    for version in spec.get("versions", []):
        if not version.get("served", True):
            continue
        out.append(
            ResourceType(
                group=spec["group"],
                version=version["name"],
                kind=names["kind"],
                plural=names["plural"],
                singular=names.get("singular", names["kind"].lower()),
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                short_names=list(names.get("shortNames", [])),
                categories=list(names.get("categories", [])),
                status_subresource="status" in (version.get("subresources") or {}),
                schema=(version.get("schema") or {}).get("openAPIV3Schema"),
                printer_columns=list(version.get("additionalPrinterColumns", [])),
            )
        )
    return out
