"""What `.status` keeps and what the evidence ConfigMap keeps (pure: no cluster, no clock)."""

from __future__ import annotations

import json
from typing import Any

from champion.api.v1alpha1.rollout import DecisionRecord, MetricEvidence, RolloutStatus
from champion.domain.rollout.evidence import (
    STATUS_DECISIONS,
    Evidence,
    committed,
    decode,
    encode,
    evidence_name,
    restore,
    split,
)

ANALYSIS = {"M": 2, "metrics": {"errors": {"kind": "counts", "tests": {"e": [0.1, 0.2]}}}}


def record(i: int, metrics: int = 4) -> DecisionRecord:
    return DecisionRecord(
        time=f"2026-12-03T12:{i // 60 % 60:02d}:{i % 60:02d}Z",
        phase="Canary",
        step=0,
        decision="continue",
        reason="NoRegression",
        message=f"interval {i}: no regression yet",
        evidence=[
            MetricEvidence(
                metric=f"metric-{m}",
                challenger_events=3.0,
                challenger_total=100.0 + i,
                champion_events=30.0,
                champion_total=1000.0 + i,
                statistic=0.4,
                threshold=20.0,
                detail="x" * 400,  # a latency test's detail is a few hundred characters
            )
            for m in range(metrics)
        ],
    )


def both_written(
    status: RolloutStatus, stored: Evidence | None
) -> tuple[RolloutStatus, Evidence | None]:
    """One reconcile's two writes, both landing."""
    parts = split(status, stored, "chat")
    return parts.status, parts.evidence or stored


def tick(
    stored_status: RolloutStatus,
    stored: Evidence | None,
    analysis: dict[str, Any],
    *new: DecisionRecord,
) -> RolloutStatus:
    """What the machine decides: the restored status with a new judge state and decisions."""
    whole = restore(stored_status, stored).status
    whole.analysis_state = analysis
    whole.history = [*whole.history, *new]
    return whole


def size(obj: Any) -> int:
    return len(json.dumps(obj, separators=(",", ":")))


def test_status_keeps_the_last_decisions_without_evidence_and_the_configmap_the_rest() -> None:
    whole = RolloutStatus(
        phase="Canary", analysis_state=ANALYSIS, history=[record(i) for i in range(12)]
    )
    parts = split(whole, None, "chat")
    assert parts.status.analysis_state is None
    assert [h.seq for h in parts.status.history] == list(range(8, 13))
    assert all(not h.evidence for h in parts.status.history)
    assert parts.status.evidence is not None
    assert parts.status.evidence.config_map == evidence_name("chat") == "chat.evidence"
    assert parts.evidence is not None and parts.evidence.analysis == ANALYSIS
    assert [r.seq for r in parts.evidence.records] == list(range(1, 13))
    assert all(r.evidence for r in parts.evidence.records)
    # Read back, the machine sees everything it wrote.
    back = restore(parts.status, decode(encode(parts.evidence))).status
    assert back.analysis_state == ANALYSIS
    assert [r.message for r in back.history] == [r.message for r in whole.history]
    assert back.history[-1].evidence == whole.history[-1].evidence


def test_a_configmap_written_but_a_status_not_is_redone_from_the_committed_state() -> None:
    status, stored = both_written(
        RolloutStatus(phase="Canary", analysis_state=ANALYSIS, history=[record(0)]), None
    )
    assert status.evidence is not None and (
        status.evidence.revision,
        status.evidence.decisions,
    ) == (1, 1)
    # The next reconcile stores its ConfigMap, then its status write fails (a crash, a 409).
    ahead = {**ANALYSIS, "M": 3}
    lost_write = split(tick(status, stored, ahead, record(1)), stored, "chat")
    assert lost_write.evidence is not None and lost_write.evidence.revision == 2
    # Redone from the status that was stored: the judge state before that interval, and
    # only the decisions that status recorded, so the interval is counted once.
    again = restore(status, lost_write.evidence).status
    assert again.analysis_state == ANALYSIS
    assert [r.seq for r in again.history] == [1]
    redone = split(tick(status, lost_write.evidence, ahead, record(1)), lost_write.evidence, "chat")
    assert redone.status.evidence is not None
    assert (redone.status.evidence.revision, redone.status.evidence.decisions) == (2, 2)
    assert redone.evidence is None or [r.seq for r in redone.evidence.records] == [1, 2]


def test_nothing_changed_writes_no_configmap() -> None:
    status, stored = both_written(
        RolloutStatus(phase="Canary", analysis_state=ANALYSIS, history=[record(0)]), None
    )
    again = split(restore(status, stored).status, stored, "chat")
    assert again.evidence is None
    assert again.status.evidence == status.evidence
    # And a first rollout with no judge state and no decision needs no ConfigMap at all.
    assert split(RolloutStatus(phase="Pending"), None, "chat").evidence is None


def test_twenty_releases_stay_within_the_size_goals() -> None:
    """Issue 20: `.status` ≤ 8 KiB and no object over 256 KiB, however long it runs."""
    status, stored = RolloutStatus(phase="Canary"), None
    for i in range(20 * 20):  # 20 releases of 20 decisions, each with 10 metrics' evidence
        status, stored = both_written(
            tick(status, stored, {**ANALYSIS, "i": i}, record(i, metrics=10)), stored
        )
    assert stored is not None
    assert size(status.to_wire()) <= 8 * 1024
    assert size(encode(stored)) <= 256 * 1024
    kept = committed(status, stored)
    assert kept[-1].seq == 400 and kept[-1].evidence  # the newest keep their evidence
    assert len(kept) > 50  # older ones kept as one line each, within the budget
    assert any(not r.evidence for r in kept)


def test_a_status_from_an_older_champion_is_moved_to_the_configmap() -> None:
    old = RolloutStatus.model_validate(
        {
            "phase": "Canary",
            "analysisState": ANALYSIS,
            "history": [record(i).model_dump(by_alias=True) for i in range(8)],
        }
    )
    assert restore(old, None).status.analysis_state == ANALYSIS
    parts = split(restore(old, None).status, None, "chat")
    assert parts.evidence is not None and parts.evidence.analysis == ANALYSIS
    assert len(parts.evidence.records) == 8
    assert len(parts.status.history) == STATUS_DECISIONS


def test_a_deleted_configmap_is_reported_and_the_analysis_starts_again() -> None:
    status, _ = both_written(
        RolloutStatus(phase="Canary", analysis_state=ANALYSIS, history=[record(0)]), None
    )
    restored = restore(status, None)
    assert restored.lost is not None and "chat.evidence" in restored.lost
    assert restored.status.analysis_state is None
    assert [h.seq for h in restored.status.history] == [1]  # what the status kept stays


def test_an_unreadable_configmap_is_an_error_not_a_crash() -> None:
    try:
        decode({"analysis.json": "{", "decisions.json": "[]"})
    except ValueError as e:
        assert "not an evidence ConfigMap" in str(e)
    else:
        raise AssertionError("decode accepted a broken ConfigMap")
