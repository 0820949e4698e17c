"""Resolving references a spec makes, with messages that name the field and the fix."""

from __future__ import annotations

from champion.adapters.kube import KubeApi, resource_for
from champion.api.v1alpha1.common import ConfigMapKeyRef

CONFIGMAP = resource_for("v1", "ConfigMap")
Problem = tuple[str, str]


async def configmap_key(
    api: KubeApi,
    namespace: str,
    ref: ConfigMapKeyRef,
    field: str,
    missing_reason: str,
    key_reason: str,
) -> tuple[str | None, Problem | None]:
    """The key's text, or the problem: which ConfigMap or key is missing, and where it was named."""
    cm = await api.get(CONFIGMAP, ref.name, namespace)
    if cm is None:
        return None, (
            missing_reason,
            f'{field}.name: ConfigMap "{ref.name}" not found in namespace {namespace}',
        )
    data = cm.get("data") or {}
    if ref.key not in data:
        keys = ", ".join(sorted(data)) or "none"
        return None, (
            key_reason,
            f'{field}.key: ConfigMap "{ref.name}" has no key "{ref.key}" (keys: {keys})',
        )
    return str(data[ref.key]), None
