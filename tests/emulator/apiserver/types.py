"""What the server serves: one `ResourceType` per served group/version/resource, and CRD parsing."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

ALL_VERBS: tuple[str, ...] = (
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
)


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
    verbs: tuple[str, ...] = ALL_VERBS
    # Served from a CustomResourceDefinition: validated and pruned by its schema,
    # no strategic merge patch (a real server answers 415), conversion "None".
    custom: bool = False
    # Whether the server keeps metadata.generation (ConfigMaps, Secrets... have none).
    generation: bool = True
    # Field selectors allowed besides metadata.name and metadata.namespace.
    selectable_fields: list[str] = field(default_factory=list)
    storage: bool = True
    deprecation_warning: str | None = None
    # The /scale subresource: specReplicasPath, statusReplicasPath[, labelSelectorPath].
    scale: dict[str, str] | None = None

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.group, self.version, self.plural)

    @property
    def qualified_kind(self) -> str:
        """`Rollout.champion.dev`, `ConfigMap`: how errors name the kind."""
        return f"{self.kind}.{self.group}" if self.group else self.kind

    @property
    def qualified_resource(self) -> str:
        """`rollouts.champion.dev`, `configmaps`: how errors name the resource."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


_VERSION = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")


def version_priority(version: str) -> tuple[int, int, int, str]:
    """Sort key in Kubernetes' order: v2 > v1 > v1beta2 > v1beta1 > v1alpha1 > anything else."""
    m = _VERSION.match(version)
    if not m:
        return (3, 0, 0, version)
    major, stage, minor = int(m.group(1)), m.group(2), int(m.group(3) or 0)
    rank = {None: 0, "beta": 1, "alpha": 2}[stage]
    return (rank, -major, -minor, version)


def types_from_crd(crd: dict[str, Any]) -> list[ResourceType]:
    """One ResourceType per served version of a CustomResourceDefinition."""
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
                singular=names.get("singular") or names["kind"].lower(),
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                short_names=list(names.get("shortNames", [])),
                categories=list(names.get("categories", [])),
                status_subresource="status" in (version.get("subresources") or {}),
                scale=(version.get("subresources") or {}).get("scale"),
                schema=(version.get("schema") or {}).get("openAPIV3Schema"),
                printer_columns=list(version.get("additionalPrinterColumns", [])),
                custom=True,
                selectable_fields=[
                    f["jsonPath"].lstrip(".") for f in version.get("selectableFields", [])
                ],
                storage=bool(version.get("storage", False)),
                deprecation_warning=(
                    version.get("deprecationWarning")
                    or f"{spec['group']}/{version['name']} {names['kind']} is deprecated"
                )
                if version.get("deprecated")
                else None,
            )
        )
    out.sort(key=lambda t: version_priority(t.version))
    return out
