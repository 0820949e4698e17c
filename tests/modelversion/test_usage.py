"""Who serves a ModelVersion and the stage that follows (domain.usage): pure, table-driven.

The stage is derived from the Rollouts' status alone (issue 20, section 3): a version that
is one Rollout's champion is Champion whatever another Rollout did with it, and a
re-created version (no stored stage) that serves is Champion too.
"""

from __future__ import annotations

from typing import Any

import pytest

from champion.api.v1alpha1.modelversion import ModelVersionStatus, Stage
from champion.domain.usage import RolloutUse, Usage, changed_uses, derive_usage


def ro(
    name: str,
    *,
    champion: str | None = None,
    challenger: str | None = None,
    phase: str = "Succeeded",
    weights: tuple[int, int] | None = None,
    mirror: int = 0,
    retired: tuple[str, ...] = (),
    deleting: bool = False,
) -> dict[str, Any]:
    """A Rollout body as the API server stores it (only what the derivation reads)."""
    status: dict[str, Any] = {"phase": phase, "mirrorPercent": mirror, "retired": list(retired)}
    if champion:
        status["champion"] = champion
    if challenger:
        status["challenger"] = challenger
    if weights is not None:
        status["weights"] = {"champion": weights[0], "challenger": weights[1]}
    meta: dict[str, Any] = {"name": name, "namespace": "demo"}
    if deleting:
        meta["deletionTimestamp"] = "2026-11-24T12:00:00Z"
    return {"metadata": meta, "status": status}


def champ(rollout: str, weight: int = 100) -> RolloutUse:
    return RolloutUse(rollout, "champion", weight)


def chall(rollout: str, weight: int = 0, mirror: int = 0) -> RolloutUse:
    return RolloutUse(rollout, "challenger", weight, mirror)


V = "chat-v1"

CASES: list[tuple[str, list[dict[str, Any]], str | None, Stage, list[RolloutUse]]] = [
    # (case, rollouts in the namespace, stored stage, derived stage, usedBy)
    ("never used", [], None, Stage.REGISTERED, []),
    ("another version's rollout", [ro("a", champion="chat-v0", weights=(100, 0))], None, Stage.REGISTERED, []),
    ("champion of one rollout", [ro("a", champion=V, weights=(100, 0))], None, Stage.CHAMPION, [champ("a")]),
    (
        "issue: champion of A, rolled back as challenger of B (B wrote RolledBack last)",
        [
            ro("a", champion=V, weights=(100, 0)),
            ro("b", champion="chat-v0", challenger=V, phase="RolledBack", weights=(100, 0)),
        ],
        Stage.ROLLED_BACK,
        Stage.CHAMPION,
        [champ("a")],
    ),
    ("issue: re-created while serving (no stored stage)", [ro("a", champion=V, weights=(100, 0))], None, Stage.CHAMPION, [champ("a")]),
    ("stored Registered while serving", [ro("a", champion=V, weights=(100, 0))], Stage.REGISTERED, Stage.CHAMPION, [champ("a")]),
    (
        "champion during its own canary keeps the rest",
        [ro("a", champion=V, challenger="chat-v2", phase="Canary", weights=(80, 20))],
        None,
        Stage.CHAMPION,
        [champ("a", 80)],
    ),
    (
        "champion of A, canary of B: Champion, both named, by rollout",
        [
            ro("b", champion="chat-v0", challenger=V, phase="Canary", weights=(80, 20)),
            ro("a", champion=V, weights=(100, 0)),
        ],
        None,
        Stage.CHAMPION,
        [champ("a"), chall("b", 20)],
    ),
    ("canary", [ro("a", champion="chat-v0", challenger=V, phase="Canary", weights=(50, 50))], None, Stage.CANARY, [chall("a", 50)]),
    ("paused at a canary step", [ro("a", champion="chat-v0", challenger=V, phase="Paused", weights=(80, 20))], None, Stage.CANARY, [chall("a", 20)]),
    ("shadow", [ro("a", champion="chat-v0", challenger=V, phase="Shadow", weights=(100, 0), mirror=100)], None, Stage.SHADOW, [chall("a", 0, 100)]),
    (
        "canary in one rollout beats shadow in another",
        [
            ro("a", champion="chat-v0", challenger=V, phase="Shadow", weights=(100, 0), mirror=10),
            ro("b", champion="chat-v0", challenger=V, phase="Canary", weights=(90, 10)),
        ],
        None,
        Stage.CANARY,
        [chall("a", 0, 10), chall("b", 10)],
    ),
    (
        "challenger waiting for traffic (eval gate): used, not serving",
        [ro("a", champion="chat-v0", challenger=V, phase="EvalGate", weights=(100, 0))],
        Stage.ROLLED_BACK,
        Stage.REGISTERED,
        [chall("a")],
    ),
    ("first rollout, not ready yet", [ro("a", challenger=V, phase="Pending", weights=(0, 0))], None, Stage.REGISTERED, [chall("a")]),
    ("rolled back", [ro("b", champion="chat-v0", challenger=V, phase="RolledBack", weights=(100, 0))], Stage.CANARY, Stage.ROLLED_BACK, []),
    ("aborted", [ro("b", champion="chat-v0", challenger=V, phase="Aborted", weights=(100, 0))], Stage.SHADOW, Stage.ROLLED_BACK, []),
    ("rolled back, re-created", [ro("b", champion="chat-v0", challenger=V, phase="RolledBack", weights=(100, 0))], None, Stage.ROLLED_BACK, []),
    ("retired, waiting for scale-down", [ro("a", champion="chat-v2", weights=(100, 0), retired=(V,))], Stage.CHAMPION, Stage.RETIRED, []),
    ("retired, scaled down (the stored outcome)", [ro("a", champion="chat-v2", weights=(100, 0))], Stage.RETIRED, Stage.RETIRED, []),
    ("rolled back, then the rollout moved on", [ro("b", champion="chat-v0", challenger="chat-v3", phase="Canary", weights=(80, 20))], Stage.ROLLED_BACK, Stage.ROLLED_BACK, []),
    ("was champion, its rollout deleted", [], Stage.CHAMPION, Stage.RETIRED, []),
    ("was a canary, superseded", [ro("a", champion="chat-v0", challenger="chat-v3", phase="Pending", weights=(100, 0))], Stage.CANARY, Stage.REGISTERED, []),
    ("a rollout being deleted uses nothing", [ro("a", champion=V, weights=(100, 0), deleting=True)], Stage.CHAMPION, Stage.RETIRED, []),
    ("no weights stored: the champion has all traffic", [ro("a", champion=V)], None, Stage.CHAMPION, [champ("a")]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("rollouts", "previous", "stage", "uses"),
    [pytest.param(r, p, s, u, id=case) for case, r, p, s, u in CASES],
)
def test_the_stage_follows_from_the_uses(
    rollouts: list[dict[str, Any]], previous: str | None, stage: Stage, uses: list[RolloutUse]
) -> None:
    usage = derive_usage(V, rollouts, previous)
    assert usage == Usage(tuple(uses), stage)
    # What the status stores parses back into the API model.
    wire = {"stage": usage.stage, "usedBy": [u.to_wire() for u in usage.used_by]}
    assert ModelVersionStatus.model_validate(wire).to_wire()["usedBy"] == wire["usedBy"]


@pytest.mark.parametrize(
    ("uses", "summary"),
    [
        ([], None),
        ([champ("chat")], "chat champion 100%"),
        ([champ("a", 80), chall("b", 20)], "a champion 80%, b challenger 20%"),
        ([chall("ab", 0, 10)], "ab challenger 0% +10% mirrored"),
        ([champ(n) for n in "abcde"], "a champion 100%, b champion 100%, c champion 100%, +2 more"),
    ],
)
def test_the_one_line_summary(uses: list[RolloutUse], summary: str | None) -> None:
    assert Usage(tuple(uses), Stage.CHAMPION).summary == summary


def _st(**fields: Any) -> dict[str, Any]:
    return ro("a", **fields)["status"]


@pytest.mark.parametrize(
    ("before", "after", "changed"),
    [
        (_st(champion=V, weights=(100, 0)), _st(champion=V, weights=(100, 0)), set()),
        (
            _st(champion=V, challenger="v2", phase="Shadow", weights=(100, 0)),
            _st(champion=V, challenger="v2", phase="Shadow", weights=(100, 0), mirror=100),
            {"v2"},
        ),
        (
            _st(champion=V, challenger="v2", phase="Canary", weights=(80, 20)),
            _st(champion=V, challenger="v2", phase="Canary", weights=(50, 50)),
            {V, "v2"},
        ),
        (
            _st(champion=V, challenger="v2", phase="Canary", weights=(50, 50)),
            _st(champion="v2", phase="Succeeded", weights=(100, 0), retired=(V,)),
            {V, "v2"},
        ),
        (
            _st(champion=V, challenger="v2", phase="Canary", weights=(80, 20)),
            _st(champion=V, challenger="v2", phase="RolledBack", weights=(100, 0)),
            {V, "v2"},
        ),
        ({}, _st(champion=V, weights=(100, 0)), {V}),
    ],
)
def test_a_rollout_refreshes_only_the_versions_whose_use_changed(
    before: dict[str, Any], after: dict[str, Any], changed: set[str]
) -> None:
    assert changed_uses("a", before, after) == changed
