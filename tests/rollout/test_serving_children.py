"""What serves is never lost in silence (pure): usage of a version, the champion's children in
the Rollout's conditions, the route's backends, a live child's strength."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from champion.api.v1alpha1.rollout import RolloutSpec, RolloutStatus
from champion.builders.httproute import Backend, TrafficState, routable
from champion.builders.workloads import answers, shortfall
from champion.domain.rollout.machine import decide
from champion.domain.rollout.observations import Observations, VersionFacts
from champion.domain.usage import deletion_blocked_message, recheck_delay, uses_of

T0 = datetime(2026, 11, 24, 12, 0, 0, tzinfo=UTC)
SPEC = RolloutSpec.model_validate({"modelVersion": "v1", "analysis": {"metrics": []}})


def succeeded(**extra: Any) -> RolloutStatus:
    return RolloutStatus.model_validate(
        {
            "phase": "Succeeded",
            "champion": "v1",
            "weights": {"champion": 100, "challenger": 0},
            "phaseStartedAt": "2026-11-24T11:00:00Z",
            **extra,
        }
    )


def conditions(status: RolloutStatus) -> dict[str, Any]:
    return {c.type: c for c in status.conditions}


def test_a_missing_champion_child_degrades_the_rollout_once_with_a_warning() -> None:
    v1 = VersionFacts("v1", ready=False, missing=("Deployment chat-v1",), serving=False)
    d = decide(SPEC, succeeded(), Observations({"v1": v1}), T0, 1)
    c = conditions(d.status)
    assert c["Degraded"].status == "True" and c["Degraded"].reason == "ServingChildMissing"
    assert "champion v1: Deployment chat-v1 is missing" in c["Degraded"].message
    assert c["Ready"].status == "False" and c["Ready"].reason == "ServingChildMissing"
    assert [e[:2] for e in d.events] == [("Warning", "ServingChildMissing")]
    assert d.children == {"v1": 1} and d.traffic.champion == "v1"
    # The same problem on the next tick: the condition stays, no second event.
    again = decide(SPEC, d.status, Observations({"v1": v1}), T0 + timedelta(seconds=5), 1)
    assert conditions(again.status)["Degraded"].status == "True" and not again.events


def test_a_champion_below_strength_is_degraded_until_ready() -> None:
    short = VersionFacts("v1", short=("Deployment chat-v1 has 0/2 replicas available",), serving=False)  # fmt: skip
    d = decide(SPEC, succeeded(), Observations({"v1": short}), T0, 1)
    c = conditions(d.status)
    assert c["Degraded"].reason == "ServingChildNotReady"
    assert "Deployment chat-v1 has 0/2 replicas available" in c["Degraded"].message
    ok = decide(SPEC, d.status, Observations({"v1": VersionFacts("v1", ready=True)}), T0, 1)
    c = conditions(ok.status)
    # Degraded=False says what was checked (issue 20: it used to be an empty message).
    assert c["Degraded"].status == "False" and c["Degraded"].reason == "AsExpected"
    assert c["Degraded"].message == "nothing is wrong: champion v1 serves at full strength"
    assert c["Ready"].status == "True" and c["Ready"].message == "v1 serves 100% of traffic"


def test_one_replica_of_two_serves_but_is_degraded() -> None:
    half = VersionFacts("v1", short=("Deployment chat-v1 has 1/2 replicas available",))
    c = conditions(decide(SPEC, succeeded(), Observations({"v1": half}), T0, 1).status)
    assert c["Degraded"].status == "True" and c["Ready"].status == "True"


def test_a_champion_whose_modelversion_is_gone_keeps_its_children() -> None:
    gone = VersionFacts("v1", exists=False, valid=False, message="not found")
    d = decide(SPEC, succeeded(), Observations({"v1": gone}), T0, 1)
    assert conditions(d.status)["Degraded"].reason == "ServingModelVersionMissing"
    assert "v1" in d.children  # the reconciler keeps what runs it, it cannot rebuild it


def test_a_rolled_back_rollout_keeps_its_reason_and_adds_the_child() -> None:
    v1 = VersionFacts("v1", missing=("Service chat-v1",), serving=False)
    before = succeeded(phase="RolledBack", message="rolled back v2: errors")
    c = conditions(decide(SPEC, before, Observations({"v1": v1}), T0, 1).status)
    assert c["Degraded"].reason == "RolledBack"
    assert c["Degraded"].message.startswith("rolled back v2: errors; champion v1: Service chat-v1")


def test_a_champion_being_deleted_says_so_in_ready() -> None:
    v1 = VersionFacts("v1", ready=True, deleting=True)
    c = conditions(decide(SPEC, succeeded(), Observations({"v1": v1}), T0, 1).status)
    assert c["Ready"].status == "True" and "being deleted" in c["Ready"].message


def rollout(name: str, spec_version: str, **status: Any) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"modelVersion": spec_version}, "status": status}


def test_uses_of_a_version_by_role() -> None:
    rollouts = [
        rollout("b", "v2", champion="v1", challenger="v2", weights={"champion": 80, "challenger": 20}),
        rollout("a", "v1", champion="v1", weights={"champion": 100}),
        rollout("c", "v3", champion="v0", challenger="v1", mirrorPercent=50),
        rollout("d", "v1", champion="v0"),
        rollout("e", "v9", champion="v0"),
    ]  # fmt: skip
    gone = rollout("f", "v1", champion="v1")
    gone["metadata"]["deletionTimestamp"] = "2026-11-24T12:00:00Z"
    uses = uses_of("v1", [*rollouts, gone])
    assert [u.describe() for u in uses] == [
        "Rollout a (champion, 100% of traffic)",
        "Rollout b (champion, 80% of traffic)",
        "Rollout c (challenger, 50% of requests mirrored)",
        "Rollout d (spec.modelVersion, about to be rolled out)",
    ]
    message = deletion_blocked_message("v1", uses[:1])
    assert "used by Rollout a (champion, 100% of traffic)" in message
    assert "point rollouts.champion.dev/a at another version" in message
    assert "or delete the Rollout;" in message
    assert uses_of("v1", []) == []


def test_recheck_backs_off_to_a_cap() -> None:
    assert [recheck_delay(i, 2, 60) for i in range(7)] == [2, 4, 8, 16, 32, 60, 60]
    assert recheck_delay(10_000, 2, 60) == 60


CHAMPION, CHALLENGER = Backend("chat-v1", 8000), Backend("chat-v2", 8000)


@pytest.mark.parametrize(
    ("state", "expected", "champion_expected"),
    [
        (TrafficState(CHAMPION, CHALLENGER, 80, 20, 0), TrafficState(CHAMPION, CHALLENGER, 80, 20, 0), True),
        # The challenger's Service is missing: all traffic to the champion, nothing mirrored.
        (TrafficState(CHAMPION, None, 80, 20, 50), TrafficState(CHAMPION, None, 100, 0, 0), True),
        # The champion's Service is missing: keep the route as it was (None), never 100% to
        # a challenger nobody judged.
        (TrafficState(None, CHALLENGER, 80, 20, 0), None, True),
        (TrafficState(None, None, 100, 0, 0), None, True),
        (TrafficState(None, None, 100, 0, 0), None, False),
    ],
)  # fmt: skip
def test_the_route_only_names_services_that_exist(
    state: TrafficState, expected: TrafficState | None, champion_expected: bool
) -> None:
    assert routable(state, champion_expected=champion_expected) == expected


def deployment(want: int, available: int | None) -> dict[str, Any]:
    status = {} if available is None else {"availableReplicas": available}
    return {"kind": "Deployment", "metadata": {"name": "d"}, "spec": {"replicas": want}, "status": status}  # fmt: skip


def test_shortfall_and_answers_of_live_children() -> None:
    assert shortfall(deployment(2, 2)) is None and answers(deployment(2, 2))
    assert shortfall(deployment(2, 1)) == "Deployment d has 1/2 replicas available"
    assert answers(deployment(2, 1))
    assert shortfall(deployment(2, None)) == "Deployment d has 0/2 replicas available"
    assert not answers(deployment(2, None)) and not answers(None)
    assert shortfall({"kind": "Service", "metadata": {"name": "s"}}) is None
    isvc = {
        "kind": "InferenceService",
        "metadata": {"name": "i", "generation": 1},
        "status": {"conditions": [{"type": "Ready", "status": "False", "message": "no pods"}]},
    }
    assert shortfall(isvc) == "InferenceService i is not Ready: no pods" and not answers(isvc)
