"""Names of children: valid DNS-1035 labels (≤ 63 chars, start with a letter), stable per input."""

from __future__ import annotations

import hashlib
import re

ROLLOUT_LABEL = "champion.dev/rollout"
VERSION_LABEL = "champion.dev/model-version"
FINGERPRINT_LABEL = "champion.dev/fingerprint"
FINGERPRINT_ANNOTATION = "champion.dev/fingerprint"
PROFILE_ANNOTATION = "sandbox.champion.dev/profile"
MANAGED_BY = {"app.kubernetes.io/managed-by": "champion"}


def dns_label(*parts: str, max_len: int = 63) -> str:
    raw = "-".join(p for p in parts if p)
    name = re.sub(r"[^a-z0-9-]", "-", raw.lower()).strip("-")
    if not name or not name[0].isalpha():
        name = f"c-{name}"
    if len(name) <= max_len:
        return name
    digest = hashlib.sha256(raw.encode()).hexdigest()[:8]
    return f"{name[: max_len - 9].rstrip('-')}-{digest}"


def child_name(rollout: str, version: str) -> str:
    return dns_label(rollout, version)
