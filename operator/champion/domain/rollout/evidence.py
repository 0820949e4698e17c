"""What `.status` keeps and what the Rollout's evidence ConfigMap keeps.

People read `.status` (`kubectl describe`, Argo CD's diff), and etcd refuses objects over
1.5 MiB; the judge's working state and each decision's evidence grow with the metrics and the
releases. So the machine works on a whole status (`restore`), and each reconcile splits it
(`split`): the judge state and recent decisions with their evidence go to the ConfigMap, and
`.status` keeps the last few decisions without evidence plus the numbers saying which of the
ConfigMap's contents it committed to.

The ConfigMap is written before the status. A crash, or a 409, between the two leaves the
ConfigMap one reconcile ahead; `restore` then takes the previous judge state it kept and drops
the decisions the status never recorded, so that reconcile is redone from the same state:
nothing is lost and no interval is counted twice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from champion.api.v1alpha1.rollout import DecisionRecord, EvidenceRef, RolloutStatus
from champion.domain.rollout.machine import HISTORY_LIMIT

STATUS_DECISIONS = 5
"""Decisions `.status.history` shows (without evidence)."""
MACHINE_DECISIONS = HISTORY_LIMIT
"""Decisions the state machine is given: as many as it keeps."""
EVIDENCE_BYTES = 128 * 1024
"""Budget for the decisions with their evidence in the ConfigMap (newest first)."""
DECISION_BYTES = 32 * 1024
"""Further budget for older decisions kept without their evidence."""
EVIDENCE_SUFFIX = ".evidence"
"""A dot never appears in a child's DNS-1035 name, so the ConfigMap cannot collide with one."""


def evidence_name(rollout: str) -> str:
    return f"{rollout}{EVIDENCE_SUFFIX}"


@dataclass(frozen=True)
class Evidence:
    """The ConfigMap's content: the judge state at two revisions and the recent decisions."""

    revision: int = 0
    analysis: dict[str, Any] | None = None
    previous_revision: int = -1
    previous_analysis: dict[str, Any] | None = None
    records: tuple[DecisionRecord, ...] = field(default_factory=tuple)

    def analysis_at(self, revision: int) -> tuple[bool, dict[str, Any] | None]:
        """(found, state) of the judge at `revision`."""
        if revision == self.revision:
            return True, self.analysis
        if revision == self.previous_revision:
            return True, self.previous_analysis
        return False, None


@dataclass(frozen=True)
class Restored:
    status: RolloutStatus
    """The whole status the machine decides on."""
    lost: str | None = None
    """Set when the ConfigMap did not have what the status committed to (deleted by hand)."""


def committed(status: RolloutStatus, stored: Evidence | None) -> list[DecisionRecord]:
    """Every decision kept that the status recorded, oldest first: the ConfigMap's, with
    those only the status still lists (their evidence pruned, or the ConfigMap gone)."""
    ref = status.evidence
    if ref is None:
        return list(status.history)
    records = {r.seq: r for r in status.history if (r.seq or 0) <= ref.decisions}
    if stored is not None:
        records.update({r.seq: r for r in stored.records if (r.seq or 0) <= ref.decisions})
    return sorted(records.values(), key=lambda r: r.seq or 0)


def restore(status: RolloutStatus, stored: Evidence | None) -> Restored:
    """The status with the judge state and the recent decisions its pointers name."""
    ref = status.evidence
    whole = status.model_copy()
    if ref is None:
        # Written by an older Champion (judge state and history inline), or never split yet.
        return Restored(whole)
    # The machine sees the recent decisions only: it reads them to say a thing once, and
    # copies what it is given.
    whole.history = committed(status, stored)[-MACHINE_DECISIONS:]
    if stored is None:
        whole.analysis_state = None
        lost = (
            f"evidence ConfigMap {ref.config_map} is missing: the judge starts its analysis "
            "again and older evidence is gone"
            if ref.revision or ref.decisions
            else None
        )
        return Restored(whole, lost)
    found, whole.analysis_state = stored.analysis_at(ref.revision)
    lost = (
        None
        if found
        else f"evidence ConfigMap {ref.config_map} has no judge state at revision "
        f"{ref.revision}: the judge starts its analysis again"
    )
    return Restored(whole, lost)


@dataclass(frozen=True)
class Split:
    status: RolloutStatus
    """What `.status` is written as."""
    evidence: Evidence | None
    """What the ConfigMap is written as; None when it is unchanged."""


def split(whole: RolloutStatus, stored: Evidence | None, rollout: str) -> Split:
    """The decided status cut in two: the ConfigMap's part and `.status`'s."""
    ref = whole.evidence or EvidenceRef(config_map=evidence_name(rollout))
    stored_found, stored_analysis = (
        stored.analysis_at(ref.revision) if stored is not None else (False, None)
    )
    # Decisions the machine appended this reconcile have no number yet.
    fresh = any(r.seq is None for r in whole.history)
    seq = max([ref.decisions, *(r.seq or 0 for r in whole.history)])
    numbered: list[DecisionRecord] = []
    for record in whole.history:
        if record.seq is None:
            seq += 1
            record = record.model_copy(update={"seq": seq})
        numbered.append(record)
    base = stored_analysis if stored_found else None
    moved = _canonical(whole.analysis_state) != _canonical(base)
    if not fresh and not moved and (stored is not None or whole.analysis_state is None):
        # Nothing new to keep (most reconciles): no ConfigMap write, and no pruning work.
        return Split(_status(whole, numbered, ref, ref.revision, seq), None)
    if moved:
        # Keep the state the status committed to beside the new one, until the status says
        # it has moved on (see the module's docstring).
        revision, previous = ref.revision + 1, (ref.revision, base)
    else:
        revision = ref.revision
        previous = (
            (stored.previous_revision, stored.previous_analysis)
            if stored is not None and stored.revision == ref.revision
            else (-1, None)
        )
    evidence = Evidence(
        revision=revision,
        analysis=whole.analysis_state,
        previous_revision=previous[0],
        previous_analysis=previous[1],
        records=tuple(prune(_merged(ref, stored, numbered))),
    )
    unchanged = stored is not None and _same(evidence, stored)
    return Split(
        _status(whole, numbered, ref, evidence.revision, seq), None if unchanged else evidence
    )


def _status(
    whole: RolloutStatus, numbered: list[DecisionRecord], ref: EvidenceRef, revision: int, seq: int
) -> RolloutStatus:
    return whole.model_copy(
        update={
            "analysis_state": None,
            "history": [
                r.model_copy(update={"evidence": []}) for r in numbered[-STATUS_DECISIONS:]
            ],
            "evidence": EvidenceRef(config_map=ref.config_map, revision=revision, decisions=seq),
        }
    )


def _merged(
    ref: EvidenceRef, stored: Evidence | None, numbered: list[DecisionRecord]
) -> list[DecisionRecord]:
    """The ConfigMap's committed decisions older than those the machine was given, then those."""
    first = min((r.seq or 0 for r in numbered), default=ref.decisions + 1)
    older = [
        r
        for r in (stored.records if stored is not None else ())
        if (r.seq or 0) < first and (r.seq or 0) <= ref.decisions
    ]
    return [*older, *numbered]


def prune(records: list[DecisionRecord]) -> list[DecisionRecord]:
    """The newest decisions with their evidence within EVIDENCE_BYTES, then older ones without
    it within DECISION_BYTES; the rest are dropped."""
    kept: list[DecisionRecord] = []
    full = bare = 0
    for record in reversed(records):
        size = len(_canonical(record.model_dump(mode="json", by_alias=True)))
        if full + size <= EVIDENCE_BYTES:
            full += size
            kept.append(record)
            continue
        stripped = record.model_copy(update={"evidence": []})
        size = len(_canonical(stripped.model_dump(mode="json", by_alias=True)))
        if bare + size > DECISION_BYTES:
            break
        bare += size
        full = EVIDENCE_BYTES + 1  # once one has lost its evidence, older ones have too
        kept.append(stripped)
    return kept[::-1]


def encode(evidence: Evidence) -> dict[str, str]:
    """The ConfigMap's `data`: compact JSON, one key per part."""
    return {
        "analysis.json": _canonical(
            {
                "revision": evidence.revision,
                "state": evidence.analysis,
                "previousRevision": evidence.previous_revision,
                "previousState": evidence.previous_analysis,
            }
        ),
        "decisions.json": _canonical(
            [r.model_dump(mode="json", by_alias=True, exclude_none=True) for r in evidence.records]
        ),
    }


def decode(data: dict[str, str]) -> Evidence:
    """The ConfigMap's `data` read back; raises ValueError when it is not what `encode` wrote."""
    try:
        analysis = json.loads(data.get("analysis.json") or "{}")
        records = json.loads(data.get("decisions.json") or "[]")
        return Evidence(
            revision=int(analysis.get("revision", 0)),
            analysis=analysis.get("state"),
            previous_revision=int(analysis.get("previousRevision", -1)),
            previous_analysis=analysis.get("previousState"),
            records=tuple(DecisionRecord.model_validate(r) for r in records),
        )
    except (ValueError, TypeError, AttributeError) as e:
        raise ValueError(f"not an evidence ConfigMap written by Champion: {e}") from e


def _same(a: Evidence, b: Evidence) -> bool:
    return encode(a) == encode(b)


def _canonical(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)
