"""Loads what `kubectl champion lineage` shows: a ModelVersion, its prompt, its base ModelVersions."""

from __future__ import annotations

from champion.adapters.kube import KubeApi, resource_for
from champion.api.v1alpha1 import reasons
from champion.api.v1alpha1.common import ConfigMapKeyRef
from champion.domain.lineage import LineageVersion, TreeNode, lineage_tree
from champion.reconcile.references import configmap_key

MV = resource_for("champion.dev/v1alpha1", "ModelVersion")
MAX_DEPTH = 32


async def load_lineage(
    api: KubeApi, name: str, namespace: str, max_depth: int = MAX_DEPTH
) -> dict[str, LineageVersion]:
    """The version and each base ModelVersion it names, by name (stops at a cycle or a missing one)."""
    chain: dict[str, LineageVersion] = {}
    current: str | None = name
    while current is not None and current not in chain and len(chain) < max_depth:
        body = await api.get(MV, current, namespace)
        spec = (body or {}).get("spec") or {}
        prompt, error = None, None
        ref = (spec.get("policy") or {}).get("systemPrompt")
        if ref:
            prompt, problem = await configmap_key(
                api,
                namespace,
                ConfigMapKeyRef.model_validate(ref),
                "spec.policy.systemPrompt",
                reasons.CONFIGMAP_NOT_FOUND,
                reasons.CONFIGMAP_KEY_NOT_FOUND,
            )
            error = problem[1] if problem else None
        chain[current] = LineageVersion(current, namespace, body, prompt, error)
        current = ((spec.get("lineage") or {}).get("baseModel") or {}).get("modelVersion")
    return chain


async def lineage(api: KubeApi, name: str, namespace: str) -> TreeNode:
    return lineage_tree(await load_lineage(api, name, namespace), name)
