"""Reads and writes a Rollout's evidence ConfigMap (what it holds: domain/rollout/evidence.py)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from champion.adapters.kube import KubeApi, resource_for
from champion.adapters.kube.client import Conflict
from champion.api.v1alpha1.rollout import RolloutStatus
from champion.builders.evidence import evidence_configmap
from champion.builders.workloads import Owner
from champion.domain.rollout.evidence import Evidence, committed, decode, evidence_name

CONFIGMAP = resource_for("v1", "ConfigMap")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Stored:
    evidence: Evidence | None
    live: dict[str, Any] | None
    """The ConfigMap as read (None: there is none of this Rollout's)."""


async def load_evidence(api: KubeApi, rollout: dict[str, Any]) -> Stored:
    """The Rollout's evidence, or none when its ConfigMap does not exist, belongs to an earlier
    Rollout of the same name (not yet garbage-collected), or is not one Champion wrote."""
    meta = rollout["metadata"]
    live = await api.get(CONFIGMAP, evidence_name(meta["name"]), meta["namespace"])
    if live is None:
        return Stored(None, None)
    owners = (live.get("metadata") or {}).get("ownerReferences") or []
    if not any(o.get("uid") == meta.get("uid") for o in owners):
        return Stored(None, live)
    try:
        return Stored(decode(live.get("data") or {}), live)
    except ValueError as e:
        log.warning(
            "Rollout %s/%s: evidence ConfigMap %s is unreadable (%s); it is rewritten",
            meta["namespace"],
            meta["name"],
            evidence_name(meta["name"]),
            e,
        )
        return Stored(None, live)


async def save_evidence(
    api: KubeApi, rollout: dict[str, Any], stored: Stored, evidence: Evidence
) -> None:
    meta = rollout["metadata"]
    owner = Owner(rollout["apiVersion"], rollout["kind"], meta["name"], meta["uid"])
    manifest = evidence_configmap(meta["namespace"], owner, evidence)
    live = stored.live
    if live is None:
        try:
            await api.create(manifest)
            return
        except Conflict:
            live = await api.get(CONFIGMAP, manifest["metadata"]["name"], meta["namespace"])
            if live is None:
                raise
    # The whole content and the owner: a stale ConfigMap of an earlier Rollout of the same
    # name becomes this one's. The resourceVersion makes a concurrent writer a 409, retried.
    patch = {
        "metadata": {
            "labels": manifest["metadata"]["labels"],
            "ownerReferences": manifest["metadata"]["ownerReferences"],
            "resourceVersion": live["metadata"]["resourceVersion"],
        },
        "data": manifest["data"],
    }
    await api.patch(CONFIGMAP, manifest["metadata"]["name"], patch, meta["namespace"])


async def read_decisions(api: KubeApi, rollout: dict[str, Any]) -> list[dict[str, Any]]:
    """Every decision kept for the Rollout, oldest first, with the evidence still kept: what
    `kubectl champion history` prints. Only what its status committed to."""
    status = RolloutStatus.model_validate(rollout.get("status") or {})
    stored = await load_evidence(api, rollout)
    records = committed(status, stored.evidence)
    return [r.model_dump(mode="json", by_alias=True, exclude_none=True) for r in records]
