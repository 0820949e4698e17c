"""The transition table: the machine makes every row of it (and nothing else, since it looks its
moves up there), and docs/rollout.md shows it as generated.

    .venv/bin/python -m tests.rollout.test_transitions   # rewrites the table in docs/rollout.md
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from champion.api.v1alpha1.rollout import Phase, RolloutSpec, RolloutStatus
from champion.domain.judge import Counts, Judge
from champion.domain.placement import Admission
from champion.domain.rollout.machine import decide, judge_config
from champion.domain.rollout.observations import EvalState, Observations
from champion.domain.rollout.transitions import (
    TRANSITIONS,
    Event,
    UndefinedTransition,
    next_phase,
    transition_table_markdown,
)
from tests.rollout.test_machine import (
    ERRORS_BAD,
    GATED,
    SEEN_ERRORS_OK,
    SPEC,
    T0,
    facts,
    status,
)

DOC = Path(__file__).parents[2] / "docs" / "rollout.md"
BEGIN, END = "<!-- transition-table: begin -->\n", "<!-- transition-table: end -->\n"


def doc_with_table(doc: str) -> str:
    head, rest = doc.split(BEGIN)
    _, tail = rest.split(END)
    return head + BEGIN + transition_table_markdown() + END + tail


def test_the_docs_transition_table_is_generated_from_the_code() -> None:
    doc = DOC.read_text()
    assert doc == doc_with_table(doc), (
        "docs/rollout.md's transition table is stale: run .venv/bin/python -m tests.rollout.test_transitions"
    )


def test_a_move_the_table_does_not_have_is_refused() -> None:
    with pytest.raises(UndefinedTransition, match="Succeeded on STEP_DONE"):
        next_phase(Phase.SUCCEEDED, Event.STEP_DONE)


# --- one scenario per row: (spec, status, what is observed, seconds after T0) ---------------------


def _variant(**changes: Any) -> RolloutSpec:
    spec = SPEC.model_copy(deep=True)
    if "shadow" in changes:
        spec.strategy.shadow = changes["shadow"]
    if "gate" in changes:
        spec.strategy.eval_gate = GATED.strategy.eval_gate
    for i in changes.get("pause_steps", ()):
        spec.strategy.canary.steps[i].pause = True
    if "on_inconclusive" in changes:
        spec.analysis.on_inconclusive = changes["on_inconclusive"]
    if "model_version" in changes:
        spec.model_version = changes["model_version"]
    return spec


def _final_look_fails() -> dict[str, Any]:
    """The judge's state after intervals the sequential test lets pass but the final look
    does not (2.4% errors against 1%)."""
    judge = Judge(judge_config(SPEC))
    for _ in range(4):
        judge.observe({"errors": Counts(12, 500, 5, 500)}, expected_share=0.5)
    assert judge.finalize().decision == "rollback"
    return judge.to_dict()


@dataclass
class Scenario:
    spec: RolloutSpec
    before: RolloutStatus
    actions: dict[str, str] = field(default_factory=dict)
    at: float = 5
    ready: tuple[str, ...] = ("v1", "v2")
    obs: dict[str, Any] = field(default_factory=dict)
    ticks: int = 1
    """Decide this many times, 11 s apart, with the same observations (the judge needs a few)."""


def _at(phase: Phase | None, **extra: Any) -> RolloutStatus:
    """A status in `phase`, as the machine would have written it there."""
    if phase is None:
        return status(None, None, None)
    if phase == Phase.SUCCEEDED:
        return status(phase, "v1", None, **extra)
    if phase == Phase.CANARY:
        return status(phase, step=extra.pop("step", 0), **extra)
    if phase == Phase.PAUSED:
        origin = extra.pop("paused_from", Phase.CANARY)
        step = extra.pop("step", 0 if origin == Phase.CANARY else None)
        return status(
            phase,
            step=step,
            pausedFrom=origin,
            pauseReason=extra.pop("pause_reason", "ManualPause"),
            **extra,
        )
    return status(phase, **extra)


def scenario(source: Phase | None, event: Event) -> Scenario:
    E, P = Event, Phase
    spec = GATED if source == P.EVAL_GATE else SPEC
    if event == E.NEW_VERSION:
        return Scenario(_variant(model_version="v3"), _at(source))
    if event == E.BACK_TO_CHAMPION:
        return Scenario(_variant(model_version="v1"), _at(source))
    if event == E.RETRY:
        return Scenario(spec, _at(source), {"retry": "r"})
    if event == E.ABORT:
        return Scenario(spec, _at(source), {"abort": "a"})
    if event == E.PROMOTE:
        return Scenario(spec, _at(source), {"promote": "2026-11-24T12:00:05Z"})
    if event == E.PROMOTE_STEP:
        return Scenario(spec, _at(source), {"promote": "step:1"})
    if event == E.PROMOTE_STEP_LAST:
        return Scenario(spec, _at(source, step=1), {"promote": "step:1"})
    if event == E.PAUSE:
        return Scenario(spec, _at(source), {"pause": "true"})
    if event in (E.RESUME_GATE, E.RESUME_SHADOW, E.RESUME_CANARY):
        origin = {E.RESUME_GATE: P.EVAL_GATE, E.RESUME_SHADOW: P.SHADOW}.get(event, P.CANARY)
        gated = GATED if origin == P.EVAL_GATE else SPEC
        return Scenario(gated, _at(source, paused_from=origin), {"pause": "false"})
    if event == E.RESUME_STEP:
        before = _at(source, pause_reason="StepPause")
        return Scenario(_variant(pause_steps=[0]), before, {"pause": "false"})
    if event == E.NO_CAPACITY:
        return Scenario(spec, _at(source), obs={"admission": Admission(False, "1 GPU free")})
    if event == E.CAPACITY_FITS:
        return Scenario(spec, _at(source), obs={"admission": Admission(True, "fits")})
    if event == E.FIRST_READY:
        return Scenario(spec, status(P.PENDING, None, "v2"), ready=("v2",))
    if event == E.VALID_GATED:
        return Scenario(GATED, _at(source))
    if event == E.VALID_SHADOW:
        return Scenario(SPEC, _at(source))
    if event == E.VALID_CANARY:
        return Scenario(_variant(shadow=None), _at(source))
    if event in (E.GATE_PASSED_SHADOW, E.GATE_PASSED_CANARY):
        gated = _variant(gate=True, **({} if event == E.GATE_PASSED_SHADOW else {"shadow": None}))
        return Scenario(gated, _at(source), obs={"evals": {"qa": EvalState("passed", score=1.0)}})
    if event == E.GATE_FAILED:
        before = _at(source, paused_from=P.EVAL_GATE) if source == P.PAUSED else _at(source)
        failed = EvalState("failed", "score 0.5 < minScore 0.9", ("q3",))
        return Scenario(GATED, before, obs={"evals": {"qa": failed}})
    if event == E.GATE_TIMED_OUT:
        return Scenario(GATED, _at(source), at=121, obs={"evals": {"qa": EvalState("running")}})
    if event == E.SHADOW_DONE:
        return Scenario(spec, _at(source), at=61)
    if event == E.STEP_DONE:
        return Scenario(spec, _at(source), at=61)
    if event == E.STEP_PAUSE:
        return Scenario(_variant(pause_steps=[0]), _at(source), at=61)
    if event in (E.FINAL_PROMOTES, E.FINAL_REGRESSION):
        state = SEEN_ERRORS_OK if event == E.FINAL_PROMOTES else _final_look_fails()
        if source == P.PAUSED:  # resumed after the last step's own pause
            before = _at(source, step=1, pause_reason="StepPause", analysisState=state)
            return Scenario(_variant(pause_steps=[1]), before, {"pause": "false"})
        return Scenario(spec, _at(source, step=1, analysisState=state), at=61)
    if event == E.FINAL_PAUSE:
        return Scenario(
            _variant(pause_steps=[1]), _at(source, step=1, analysisState=SEEN_ERRORS_OK), at=61
        )
    if event == E.REGRESSION:
        return Scenario(spec, _at(source), at=11, obs={"metrics": ERRORS_BAD}, ticks=5)
    if event in (E.TOO_INCONCLUSIVE_ROLLBACK, E.TOO_INCONCLUSIVE_PAUSE):
        pausing = event == E.TOO_INCONCLUSIVE_PAUSE
        return Scenario(
            _variant(on_inconclusive="pause") if pausing else spec,
            _at(source, inconclusiveCount=2),
            at=11,
            obs={"metrics_error": "connection refused"},
        )
    raise AssertionError(f"no scenario for {source} on {event.name}")


@pytest.mark.parametrize(
    ("source", "event"),
    list(TRANSITIONS),
    ids=[f"{s or 'none'}-{e.name}" for s, e in TRANSITIONS],
)
def test_every_row_of_the_table_happens(source: Phase | None, event: Event) -> None:
    sc = scenario(source, event)
    s = sc.before
    seen: list[tuple[Phase | None, Event, Phase]] = []
    for i in range(sc.ticks):
        d = decide(
            sc.spec,
            s,
            Observations(facts(*sc.ready), actions=sc.actions, **sc.obs),
            T0 + timedelta(seconds=sc.at + 11 * i),
            1,
        )
        seen += d.transitions
        s = d.status
        if seen:
            break
    row = (source, event, TRANSITIONS[(source, event)])
    assert row in seen, (row, seen, s.message)
    assert seen[0] == row, "the scenario's first move is the row's"


if __name__ == "__main__":
    DOC.write_text(doc_with_table(DOC.read_text()))
    print(f"wrote the transition table ({len(TRANSITIONS)} rows) into {DOC}", file=sys.stderr)
