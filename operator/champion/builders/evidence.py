"""The Rollout's evidence ConfigMap: the judge's working state and the recent decisions."""

from __future__ import annotations

from typing import Any

from champion.builders.naming import MANAGED_BY, ROLLOUT_LABEL
from champion.builders.workloads import Owner
from champion.domain.rollout.evidence import Evidence, encode, evidence_name

EVIDENCE_COMPONENT = {"app.kubernetes.io/component": "rollout-evidence"}


def evidence_configmap(namespace: str, owner: Owner, evidence: Evidence) -> dict[str, Any]:
    """Owned by the Rollout, so it goes when the Rollout does."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": evidence_name(owner.name),
            "namespace": namespace,
            "labels": {**MANAGED_BY, **EVIDENCE_COMPONENT, ROLLOUT_LABEL: owner.name},
            "ownerReferences": [owner.reference()],
        },
        "data": encode(evidence),
    }
