"""Which Rollouts use a ModelVersion, and what deleting it while they do means. Pure.

A version is in use by a Rollout when it is that Rollout's champion (it serves), its
challenger (it gets mirrored or live traffic, or is about to), or its `spec.modelVersion`
(the Rollout is about to roll it out). A Rollout that is itself being deleted uses nothing:
deleting it is how a user stops serving.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Use:
    rollout: str
    role: str
    """"champion", "challenger" or "spec.modelVersion"."""
    detail: str = ""
    """What the use means for traffic, e.g. "100% of traffic"."""

    def describe(self) -> str:
        return f"Rollout {self.rollout} ({self.role}{', ' + self.detail if self.detail else ''})"


def uses_of(version: str, rollouts: Iterable[dict[str, Any]]) -> list[Use]:
    """The uses of `version` by `rollouts` (raw Rollout bodies of its namespace), by name."""
    out: list[Use] = []
    for ro in sorted(rollouts, key=lambda r: r["metadata"]["name"]):
        meta = ro["metadata"]
        if meta.get("deletionTimestamp"):
            continue
        name = meta["name"]
        spec = ro.get("spec") or {}
        status = ro.get("status") or {}
        weights = status.get("weights") or {}
        if status.get("champion") == version:
            out.append(Use(name, "champion", f"{weights.get('champion', 0)}% of traffic"))
        elif status.get("challenger") == version:
            share = weights.get("challenger") or 0
            mirror = status.get("mirrorPercent") or 0
            detail = (
                f"{share}% of traffic"
                if share
                else f"{mirror}% of requests mirrored"
                if mirror
                else f"phase {status.get('phase') or 'Pending'}"
            )
            out.append(Use(name, "challenger", detail))
        elif spec.get("modelVersion") == version:
            out.append(Use(name, "spec.modelVersion", "about to be rolled out"))
    return out


def deletion_blocked_message(version: str, uses: list[Use]) -> str:
    """Why `version` is not deleted yet, and how to let it go."""
    names = [u.rollout for u in uses]
    refs = ", ".join(f"rollouts.champion.dev/{n}" for n in names)
    them = "them" if len(names) > 1 else "it"
    return (
        f"ModelVersion {version} is kept until no Rollout uses it; used by "
        + "; ".join(u.describe() for u in uses)
        + f". To release it: point {refs} at another version (spec.modelVersion) and let "
        f"{them} promote, or delete the Rollout{'s' if len(names) > 1 else ''}; the deletion "
        "then completes by itself"
    )


def deletion_released_message(version: str) -> str:
    return f"no Rollout uses ModelVersion {version} any more: its deletion goes ahead"


def recheck_delay(attempt: int, base: float, cap: float) -> float:
    """Back-off between checks of a held deletion: base, 2 x base, 4 x base, ... up to cap."""
    return float(min(cap, base * (2 ** min(attempt, 30))))
