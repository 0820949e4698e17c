"""The kinds served at start, and what the server itself fills in on built-in objects.

Built-in kinds are served schemaless (the client is trusted, as documented);
third-party kinds a cluster would have installed (Gateway API's HTTPRoute,
KServe's InferenceService, kopf's peering) are registered the way a cluster has
them: as CustomResourceDefinition objects, so `kubectl get crd` lists them and
they behave as custom resources (no strategic merge patch, schema pruning).
"""

from __future__ import annotations

import base64
from typing import Any

from tests.emulator.apiserver.types import ResourceType

_POD_FIELDS = [
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "status.phase",
    "status.podIP",
    "status.nominatedNodeName",
]
_EVENT_FIELDS = [
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
]


def _b(
    group: str,
    version: str,
    kind: str,
    plural: str,
    *,
    namespaced: bool = True,
    short: tuple[str, ...] = (),
    status: bool = False,
    generation: bool = False,
    categories: tuple[str, ...] = (),
    fields: tuple[str, ...] | list[str] = (),
    scale: bool = False,
) -> ResourceType:
    return ResourceType(
        group=group,
        version=version,
        kind=kind,
        plural=plural,
        singular=kind.lower(),
        namespaced=namespaced,
        short_names=list(short),
        status_subresource=status,
        generation=generation,
        categories=list(categories),
        selectable_fields=list(fields),
        scale={"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas"}
        if scale
        else None,
    )


def builtin_types() -> list[ResourceType]:
    """Kubernetes' own kinds that Champion, kopf and the sandbox use."""
    return [
        _b(
            "",
            "v1",
            "Namespace",
            "namespaces",
            namespaced=False,
            short=("ns",),
            status=True,
            fields=("status.phase",),
        ),
        _b(
            "",
            "v1",
            "Node",
            "nodes",
            namespaced=False,
            short=("no",),
            status=True,
            fields=("spec.unschedulable",),
        ),
        _b(
            "",
            "v1",
            "Pod",
            "pods",
            short=("po",),
            status=True,
            generation=True,
            categories=("all",),
            fields=_POD_FIELDS,
        ),
        _b("", "v1", "Service", "services", short=("svc",), status=True, categories=("all",)),
        _b("", "v1", "ConfigMap", "configmaps", short=("cm",)),
        _b("", "v1", "Secret", "secrets", fields=("type",)),
        _b("", "v1", "ServiceAccount", "serviceaccounts", short=("sa",)),
        _b("", "v1", "Event", "events", short=("ev",), fields=_EVENT_FIELDS),
        _b("events.k8s.io", "v1", "Event", "events", short=("ev",)),
        _b("coordination.k8s.io", "v1", "Lease", "leases"),
        _b(
            "apps",
            "v1",
            "Deployment",
            "deployments",
            short=("deploy",),
            status=True,
            generation=True,
            categories=("all",),
            scale=True,
        ),
        _b(
            "batch",
            "v1",
            "Job",
            "jobs",
            status=True,
            generation=True,
            categories=("all",),
            fields=("status.successful",),
        ),
        _b(
            "apiextensions.k8s.io",
            "v1",
            "CustomResourceDefinition",
            "customresourcedefinitions",
            namespaced=False,
            short=("crd", "crds"),
            status=True,
            generation=True,
            categories=("api-extensions",),
        ),
    ]


def _schemaless(status: bool) -> dict[str, Any]:
    props: dict[str, Any] = {
        "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
    }
    if status:
        props["status"] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    return {"openAPIV3Schema": {"type": "object", "properties": props}}


def _crd(
    group: str,
    version: str,
    kind: str,
    plural: str,
    *,
    namespaced: bool = True,
    short: list[str] | None = None,
    categories: list[str] | None = None,
    columns: list[dict[str, Any]] | None = None,
    status_subresource: bool = True,
) -> dict[str, Any]:
    age = {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
    names: dict[str, Any] = {
        "kind": kind,
        "listKind": f"{kind}List",
        "plural": plural,
        "singular": kind.lower(),
    }
    if short:
        names["shortNames"] = short
    if categories:
        names["categories"] = categories
    version_doc: dict[str, Any] = {
        "name": version,
        "served": True,
        "storage": True,
        "schema": _schemaless(status=True),
    }
    if status_subresource:
        version_doc["subresources"] = {"status": {}}
    if columns is not None:
        version_doc["additionalPrinterColumns"] = [*columns, age]
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "names": names,
            "scope": "Namespaced" if namespaced else "Cluster",
            "versions": [version_doc],
        },
    }


def third_party_crds() -> list[dict[str, Any]]:
    """Schemaless stand-ins for CRDs a cluster running Champion has installed.

    The printer columns are those of the real CRDs, so `kubectl get` looks the same.
    """
    traffic = ".status.components.predictor.traffic"
    return [
        _crd(
            "gateway.networking.k8s.io",
            "v1",
            "HTTPRoute",
            "httproutes",
            categories=["gateway-api"],
            columns=[{"name": "Hostnames", "type": "string", "jsonPath": ".spec.hostnames"}],
        ),
        _crd(
            "serving.kserve.io",
            "v1beta1",
            "InferenceService",
            "inferenceservices",
            short=["isvc"],
            columns=[
                {"name": "URL", "type": "string", "jsonPath": ".status.url"},
                {
                    "name": "Ready",
                    "type": "string",
                    "jsonPath": ".status.conditions[?(@.type=='Ready')].status",
                },
                {
                    "name": "Prev",
                    "type": "integer",
                    "jsonPath": f"{traffic}[?(@.tag=='prev')].percent",
                },
                {
                    "name": "Latest",
                    "type": "integer",
                    "jsonPath": f"{traffic}[?(@.latestRevision==true)].percent",
                },
                {
                    "name": "PrevRolledoutRevision",
                    "type": "string",
                    "priority": 1,
                    "jsonPath": f"{traffic}[?(@.tag=='prev')].revisionName",
                },
                {
                    "name": "LatestReadyRevision",
                    "type": "string",
                    "priority": 1,
                    "jsonPath": f"{traffic}[?(@.latestRevision==true)].revisionName",
                },
            ],
        ),
        *kopf_peering_crds(),
    ]


def kopf_peering_crds() -> list[dict[str, Any]]:
    """kopf's peering CRDs (kopf.dev/v1), as kopf's docs install them: no subresources."""
    return [
        _crd(
            "kopf.dev",
            "v1",
            "ClusterKopfPeering",
            "clusterkopfpeerings",
            namespaced=False,
            status_subresource=False,
        ),
        _crd("kopf.dev", "v1", "KopfPeering", "kopfpeerings", status_subresource=False),
    ]


def fill_in(rt: ResourceType, obj: dict[str, Any], allocate_ip: Any) -> None:
    """What the real server (its strategies and controllers) sets on built-in objects."""
    if rt.group == "" and rt.plural == "namespaces":
        spec = obj.setdefault("spec", {})
        spec.setdefault("finalizers", ["kubernetes"])
        if not obj["metadata"].get("deletionTimestamp"):
            obj["status"] = {"phase": "Active"}
    elif rt.group == "" and rt.plural == "services":
        spec = obj.setdefault("spec", {})
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        if spec.get("type") != "ExternalName":
            if "clusterIP" not in spec:
                spec["clusterIP"] = allocate_ip()
            spec.setdefault("clusterIPs", [spec["clusterIP"]])
            spec.setdefault("ipFamilies", ["IPv4"])
            spec.setdefault("ipFamilyPolicy", "SingleStack")
            spec.setdefault("internalTrafficPolicy", "Cluster")
        for port in spec.get("ports") or []:
            if isinstance(port, dict):
                port.setdefault("protocol", "TCP")
                port.setdefault("targetPort", port.get("port"))
    elif rt.group == "" and rt.plural == "secrets":
        if not obj.get("type"):
            obj["type"] = "Opaque"
        # stringData is write-only: the server folds it into data, base64-encoded.
        string_data = obj.pop("stringData", None) or {}
        if string_data:
            data = obj.setdefault("data", {})
            for key, value in string_data.items():
                data[key] = base64.b64encode(str(value).encode()).decode()
