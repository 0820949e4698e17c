"""A ModelVersion's identity: sha256 over what decides its behaviour.

The artifact digest (or URI when unpinned), the system prompt's *content* hash
(not its ConfigMap reference: renaming a ConfigMap changes nothing, editing the
prompt changes everything), guardrails, and the runtime image and arguments.
Where it runs (replicas, GPUs, pool) and who owns it are not identity.
"""

from __future__ import annotations

import hashlib
import json

from champion.api.v1alpha1.modelversion import ModelVersionSpec


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def content_hash(text: str) -> str:
    """`sha256:<hex>` of a text (the system prompt's content)."""
    return "sha256:" + sha256_text(text)


def fingerprint(spec: ModelVersionSpec, system_prompt: str | None) -> str:
    identity = {
        "artifact": spec.model.digest or f"unpinned:{spec.model.uri}",
        "format": spec.model.format,
        "systemPrompt": sha256_text(system_prompt) if system_prompt is not None else None,
        "guardrails": sorted(spec.policy.guardrails),
        "runtime": {
            "backend": spec.serving.backend,
            "runtime": spec.serving.runtime,
            "image": spec.serving.image,
            "args": list(spec.serving.args),
            "env": sorted((e.name, e.value) for e in spec.serving.env),
        },
    }
    return "sha256:" + sha256_text(json.dumps(identity, sort_keys=True))


def policy_hash(spec: ModelVersionSpec, system_prompt: str | None) -> str:
    """sha256 over the whole policy: prompt content, guardrails, regions, data classification."""
    policy = {
        "systemPrompt": sha256_text(system_prompt) if system_prompt is not None else None,
        "guardrails": sorted(spec.policy.guardrails),
        "regions": sorted(spec.policy.regions),
        "dataClassification": spec.policy.data_classification,
    }
    return "sha256:" + sha256_text(json.dumps(policy, sort_keys=True))
