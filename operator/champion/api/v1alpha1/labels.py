"""Label and annotation keys Champion puts on the objects it creates (pods included).

Prometheus relabelling tells versions apart by the pod labels; GPU accounting
attributes pods to rollouts and versions by the same labels.
"""

from __future__ import annotations

from typing import Final

ROLLOUT_LABEL: Final = "champion.dev/rollout"
VERSION_LABEL: Final = "champion.dev/model-version"
FINGERPRINT_LABEL: Final = "champion.dev/fingerprint"
"""The fingerprint's first 12 hex digits: a label value is at most 63 characters, no colon."""
FINGERPRINT_ANNOTATION: Final = "champion.dev/fingerprint"
"""The whole fingerprint, `sha256:<64 hex>`."""
PROFILE_ANNOTATION: Final = "sandbox.champion.dev/profile"
"""Copied from the ModelVersion to the pod template: read by the local sandbox only."""
MANAGED_BY: Final = {"app.kubernetes.io/managed-by": "champion"}
FINGERPRINT_SHORT_LEN: Final = 12


def short_fingerprint(fingerprint: str) -> str:
    """`sha256:abcdef...` -> `abcdef012345` (a valid label value)."""
    return fingerprint.removeprefix("sha256:")[:FINGERPRINT_SHORT_LEN]
