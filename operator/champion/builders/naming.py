"""Names of children: valid DNS-1035 labels (≤ 63 chars, start with a letter), stable per input."""

from __future__ import annotations

import hashlib
import re

from champion.api.v1alpha1.labels import (
    FINGERPRINT_ANNOTATION,
    FINGERPRINT_LABEL,
    MANAGED_BY,
    PROFILE_ANNOTATION,
    ROLLOUT_LABEL,
    VERSION_LABEL,
)

__all__ = [
    "FINGERPRINT_ANNOTATION",
    "FINGERPRINT_LABEL",
    "MANAGED_BY",
    "PROFILE_ANNOTATION",
    "ROLLOUT_LABEL",
    "VERSION_LABEL",
    "child_name",
    "dns_label",
]


def dns_label(*parts: str, max_len: int = 63) -> str:
    """`parts` joined by '-', lower-cased, invalid characters replaced, starting with a letter.

    Too long a name keeps a readable prefix and ends with 8 hex digits of the
    sha256 of the untruncated input, so two long names stay distinct.
    """
    raw = "-".join(p for p in parts if p)
    name = re.sub(r"[^a-z0-9-]", "-", raw.lower()).strip("-")
    if not name or not name[0].isalpha():
        name = f"c-{name}".rstrip("-")
    if len(name) <= max_len:
        return name
    digest = hashlib.sha256(raw.encode()).hexdigest()[:8]
    return f"{name[: max_len - 9].rstrip('-')}-{digest}"


KSERVE_SUFFIX = "-predictor"


def child_name(rollout: str, version: str, *, kserve: bool = False) -> str:
    """`<rollout>-<modelversion>`: the Deployment and Service (or InferenceService) of one version.

    A DNS-1035 label, as a Service name must be. KServe names the Service it
    creates `<name>-predictor`, so an InferenceService's name is kept short
    enough for that to fit in 63 characters too.
    """
    return dns_label(rollout, version, max_len=63 - (len(KSERVE_SUFFIX) if kserve else 0))
