"""Which Rollouts use a ModelVersion: what it serves (its `usedBy` and `stage`), and what
deleting it while they do means. Pure.

Serving: a version is used by a Rollout when it is that Rollout's `status.champion` (it
gets `weights.champion` percent of the live traffic) or its `status.challenger` while the
release is in flight (`weights.challenger` percent, and `mirrorPercent` of the requests
mirrored to it). Its stage is derived from those uses, from the Rollouts' state alone, so
a restart or a re-created ModelVersion gets it right; only when no Rollout uses it does
the stage tell the last outcome (RolledBack, Retired, Registered).

Deletion: a version is kept while it is a Rollout's champion, its challenger (even a
rolled-back one), or its `spec.modelVersion` (the Rollout is about to roll it out).

A Rollout that is itself being deleted uses nothing: deleting it is how a user stops
serving.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from champion.api.v1alpha1.modelversion import Stage

CHAMPION = "champion"
CHALLENGER = "challenger"
ROLLED_BACK_PHASES = frozenset({"RollingBack", "RolledBack", "Aborted"})
"""Rollout phases in which `status.challenger` names the version that was rolled back."""
SUMMARY_USES = 3
"""Uses spelled out in the one-line summary (the `kubectl get` column); more are counted."""


@dataclass(frozen=True)
class RolloutUse:
    """One Rollout's use of a version, as that Rollout's status (and so its route) has it."""

    rollout: str
    role: str
    """"champion" or "challenger"."""
    weight: int
    """Percent of that Rollout's live traffic the version serves."""
    mirror_percent: int = 0
    """Percent of that Rollout's requests mirrored to it (shadow; answers discarded)."""

    def describe(self) -> str:
        mirrored = f" +{self.mirror_percent}% mirrored" if self.mirror_percent else ""
        return f"{self.rollout} {self.role} {self.weight}%{mirrored}"

    def to_wire(self) -> dict[str, Any]:
        return {
            "rollout": self.rollout,
            "role": self.role,
            "weight": self.weight,
            "mirrorPercent": self.mirror_percent,
        }


@dataclass(frozen=True)
class Usage:
    """What a version serves, and the stage that follows from it."""

    used_by: tuple[RolloutUse, ...]
    stage: Stage

    @property
    def summary(self) -> str | None:
        """One line for `kubectl get`, e.g. "chat champion 100%, ab challenger 20%"."""
        if not self.used_by:
            return None
        shown = ", ".join(u.describe() for u in self.used_by[:SUMMARY_USES])
        more = len(self.used_by) - SUMMARY_USES
        return shown + (f", +{more} more" if more > 0 else "")


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _live(rollouts: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The Rollouts not being deleted, by name."""
    return sorted(
        (r for r in rollouts if not (r.get("metadata") or {}).get("deletionTimestamp")),
        key=lambda r: r["metadata"]["name"],
    )


def used_by(version: str, rollouts: Iterable[Mapping[str, Any]]) -> list[RolloutUse]:
    """Who serves `version`, as champion or in-flight challenger, from the Rollouts' status.

    `rollouts` are the raw Rollout bodies of the version's namespace. A challenger whose
    release was rolled back or aborted is not a use: it gets no traffic.
    """
    out: list[RolloutUse] = []
    for ro in _live(rollouts):
        name = ro["metadata"]["name"]
        status = ro.get("status") or {}
        weights = status.get("weights") or {}
        if status.get("champion") == version:
            out.append(RolloutUse(name, CHAMPION, _int(weights.get("champion"), 100)))
        if status.get("challenger") == version and status.get("phase") not in ROLLED_BACK_PHASES:
            out.append(
                RolloutUse(
                    name,
                    CHALLENGER,
                    _int(weights.get("challenger"), 0),
                    _int(status.get("mirrorPercent"), 0),
                )
            )
    return out


def outcome_of(version: str, rollouts: Iterable[Mapping[str, Any]]) -> Stage | None:
    """The outcome the Rollouts' state still shows for a version none of them serves:
    RolledBack (the challenger of a rolled-back or aborted release), Retired (an old
    champion waiting for scale-down), or None."""
    rolled_back = retired = False
    for ro in _live(rollouts):
        status = ro.get("status") or {}
        if status.get("challenger") == version and status.get("phase") in ROLLED_BACK_PHASES:
            rolled_back = True
        if version in (status.get("retired") or []):
            retired = True
    return Stage.ROLLED_BACK if rolled_back else Stage.RETIRED if retired else None


def derive_stage(
    uses: Iterable[RolloutUse], outcome: Stage | None, previous: Stage | str | None
) -> Stage:
    """The stage that follows from the uses; the outcome only when nothing uses the version.

    Champion if it is any Rollout's champion; else Canary if a challenger with live
    traffic, Shadow if a challenger with mirrored traffic, Registered if a challenger
    waiting for traffic (eval gate, capacity). Used by no Rollout: the outcome the
    Rollouts show (`outcome_of`), else the last one recorded (`previous`): a version that
    was serving and no longer is was Champion (now Retired) or a challenger (now
    Registered, as a superseded one); a version never seen in use is Registered.
    """
    uses = list(uses)
    if any(u.role == CHAMPION for u in uses):
        return Stage.CHAMPION
    if any(u.weight > 0 for u in uses):
        return Stage.CANARY
    if any(u.mirror_percent > 0 for u in uses):
        return Stage.SHADOW
    if uses:
        return Stage.REGISTERED
    if outcome is not None:
        return outcome
    if previous in (Stage.ROLLED_BACK, Stage.RETIRED, Stage.CHAMPION):
        return Stage.RETIRED if previous == Stage.CHAMPION else Stage(previous)
    return Stage.REGISTERED


def derive_usage(
    version: str, rollouts: Iterable[Mapping[str, Any]], previous: Stage | str | None = None
) -> Usage:
    """`usedBy` and `stage` of `version` from the Rollouts of its namespace (raw bodies);
    `previous` is its stored stage, read only when no Rollout uses it."""
    rollouts = list(rollouts)
    uses = used_by(version, rollouts)
    return Usage(tuple(uses), derive_stage(uses, outcome_of(version, rollouts), previous))


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


def changed_uses(rollout: str, before: Mapping[str, Any], after: Mapping[str, Any]) -> set[str]:
    """The versions whose use by one Rollout differs between two of its statuses (wire
    form): their `usedBy` or stage may have changed, and nobody else's did."""

    def view(status: Mapping[str, Any], version: str) -> tuple[Any, ...]:
        ro = [{"metadata": {"name": rollout}, "status": status}]
        return tuple(used_by(version, ro)), outcome_of(version, ro)

    names = {
        v
        for st in (before, after)
        for v in (st.get("champion"), st.get("challenger"), *(st.get("retired") or []))
        if isinstance(v, str) and v
    }
    return {v for v in names if view(before, v) != view(after, v)}
