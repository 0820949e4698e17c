"""Every phase change the Rollout state machine makes: (phase, event) -> phase. Pure.

The machine looks its transitions up here (machine.py `_Tick.goto`), so it cannot change phase
in a way this table does not list; docs/rollout.md shows it (`transition_table_markdown`), and
tests/rollout/test_transitions.py checks that the two agree and that every row happens.
"""

from __future__ import annotations

from enum import StrEnum

from champion.api.v1alpha1.rollout import Phase


class Event(StrEnum):
    """What makes a rollout change phase. The value is how docs/rollout.md says it."""

    NEW_VERSION = "spec.modelVersion names a version that is neither champion nor challenger"
    BACK_TO_CHAMPION = "spec.modelVersion is the champion again"
    RETRY = "`champion.dev/retry`"
    ABORT = "`champion.dev/abort`"
    PROMOTE = "`champion.dev/promote` (full), the challenger Ready"
    PROMOTE_STEP = "`champion.dev/promote=step…`, a canary step after this one"
    PROMOTE_STEP_LAST = "`champion.dev/promote=step…` at the last step, the challenger Ready"
    PAUSE = "`champion.dev/pause=true` (one set earlier takes effect on arrival)"
    RESUME_GATE = "`champion.dev/pause=false`, paused in EvalGate"
    RESUME_SHADOW = "`champion.dev/pause=false`, paused in Shadow"
    RESUME_CANARY = "`champion.dev/pause=false`, paused in a step (the same step again)"
    RESUME_STEP = "`champion.dev/pause=false` after a step's own pause (the next step)"
    NO_CAPACITY = "the challenger's GPUPool cannot fit it"
    CAPACITY_FITS = "the challenger's GPUPool fits it"
    FIRST_READY = "first rollout (no champion): the version is Ready"
    VALID_GATED = "the challenger is valid; an eval gate is configured"
    VALID_SHADOW = "the challenger is valid; no eval gate; a shadow is configured"
    VALID_CANARY = "the challenger is valid; no eval gate, no shadow"
    GATE_PASSED_SHADOW = "every eval gate suite passed; a shadow is configured"
    GATE_PASSED_CANARY = "every eval gate suite passed; no shadow"
    GATE_FAILED = "an eval gate suite failed"
    GATE_TIMED_OUT = "the eval gate's timeoutSeconds passed"
    SHADOW_DONE = "the shadow's time is up and the last interval had evidence"
    STEP_DONE = "the step's time is up and the last interval had evidence"
    STEP_PAUSE = "as above, and the step has `pause: true`"
    FINAL_PROMOTES = "the final look (last step done, evidence) finds no regression"
    FINAL_PAUSE = "as above, and the last step has `pause: true`"
    FINAL_REGRESSION = "the final look finds a regression"
    REGRESSION = "the judge finds a regression in an interval"
    TOO_INCONCLUSIVE_ROLLBACK = (
        "`maxInconclusive` intervals in a row without evidence, `onInconclusive: rollback`"
    )
    TOO_INCONCLUSIVE_PAUSE = (
        "`maxInconclusive` intervals in a row without evidence, `onInconclusive: pause`"
    )


P = Phase
E = Event
IN_FLIGHT = (P.PENDING, P.CAPACITY_PENDING, P.EVAL_GATE, P.SHADOW, P.CANARY, P.PAUSED)
FINISHED = (P.SUCCEEDED, P.ROLLED_BACK, P.ABORTED)
JUDGED = (P.SHADOW, P.CANARY, P.PAUSED)
"""Where the judge reads intervals (Paused: as the phase it was paused in)."""


def _rows() -> dict[tuple[Phase | None, Event], Phase]:
    t: dict[tuple[Phase | None, Event], Phase] = {}

    def add(sources: tuple[Phase | None, ...], event: Event, to: Phase) -> None:
        for source in sources:
            t[(source, event)] = to

    # Git and the annotations, from wherever they can act.
    add((None, *IN_FLIGHT, *FINISHED), E.NEW_VERSION, P.PENDING)
    add(IN_FLIGHT, E.BACK_TO_CHAMPION, P.ABORTED)
    add((P.ROLLED_BACK, P.ABORTED), E.BACK_TO_CHAMPION, P.SUCCEEDED)
    add((P.ROLLED_BACK, P.ABORTED), E.RETRY, P.PENDING)
    add(IN_FLIGHT, E.ABORT, P.ABORTED)
    add(IN_FLIGHT, E.PROMOTE, P.SUCCEEDED)
    add((P.SHADOW, P.CANARY, P.PAUSED), E.PROMOTE_STEP, P.CANARY)
    add((P.CANARY, P.PAUSED), E.PROMOTE_STEP_LAST, P.SUCCEEDED)
    add((P.EVAL_GATE, P.SHADOW, P.CANARY), E.PAUSE, P.PAUSED)
    add((P.PAUSED,), E.RESUME_GATE, P.EVAL_GATE)
    add((P.PAUSED,), E.RESUME_SHADOW, P.SHADOW)
    add((P.PAUSED,), E.RESUME_CANARY, P.CANARY)
    add((P.PAUSED,), E.RESUME_STEP, P.CANARY)
    # Getting the challenger going.
    add((P.PENDING,), E.NO_CAPACITY, P.CAPACITY_PENDING)
    add((P.CAPACITY_PENDING,), E.CAPACITY_FITS, P.PENDING)
    add((P.PENDING,), E.FIRST_READY, P.SUCCEEDED)
    add((P.PENDING,), E.VALID_GATED, P.EVAL_GATE)
    add((P.PENDING,), E.VALID_SHADOW, P.SHADOW)
    add((P.PENDING,), E.VALID_CANARY, P.CANARY)
    add((P.EVAL_GATE,), E.GATE_PASSED_SHADOW, P.SHADOW)
    add((P.EVAL_GATE,), E.GATE_PASSED_CANARY, P.CANARY)
    add((P.EVAL_GATE, P.PAUSED), E.GATE_FAILED, P.ROLLED_BACK)
    add((P.EVAL_GATE,), E.GATE_TIMED_OUT, P.ROLLED_BACK)
    # Time and the judge.
    add((P.SHADOW,), E.SHADOW_DONE, P.CANARY)
    add((P.CANARY,), E.STEP_DONE, P.CANARY)
    add((P.CANARY,), E.STEP_PAUSE, P.PAUSED)
    add((P.CANARY, P.PAUSED), E.FINAL_PROMOTES, P.SUCCEEDED)
    add((P.CANARY,), E.FINAL_PAUSE, P.PAUSED)
    add((P.CANARY, P.PAUSED), E.FINAL_REGRESSION, P.ROLLED_BACK)
    add(JUDGED, E.REGRESSION, P.ROLLED_BACK)
    add(JUDGED, E.TOO_INCONCLUSIVE_ROLLBACK, P.ROLLED_BACK)
    add((P.SHADOW, P.CANARY), E.TOO_INCONCLUSIVE_PAUSE, P.PAUSED)
    return t


TRANSITIONS: dict[tuple[Phase | None, Event], Phase] = _rows()
"""(phase, event) -> the next phase. A phase absent with an event: the event does not move it."""


class UndefinedTransition(LookupError):
    """The machine tried a phase change the table does not have: a bug in machine.py."""


def next_phase(phase: Phase | str | None, event: Event) -> Phase:
    source = Phase(phase) if phase else None
    try:
        return TRANSITIONS[(source, event)]
    except KeyError:
        raise UndefinedTransition(
            f"no transition from {source or 'no phase'} on {event.name}"
        ) from None


def transition_table_markdown() -> str:
    """The table as docs/rollout.md shows it: one row per event and destination, with the
    phases it leaves from, in the order the phases and events are declared."""
    order = {p: i for i, p in enumerate(Phase)}
    grouped: dict[tuple[Event, Phase], list[Phase | None]] = {}
    for (source, event), to in TRANSITIONS.items():
        grouped.setdefault((event, to), []).append(source)
    rows = sorted(
        grouped.items(),
        key=lambda kv: (
            min(-1 if s is None else order[s] for s in kv[1]),
            list(Event).index(kv[0][0]),
        ),
    )
    lines = ["| From | Event | To |", "|---|---|---|"]
    for (event, to), sources in rows:
        names = ", ".join(
            "(none)" if s is None else s.value
            for s in sorted(sources, key=lambda s: -1 if s is None else order[s])
        )
        if set(sources) == {None, *IN_FLIGHT, *FINISHED}:
            names = "any (or none)"
        elif set(sources) == set(IN_FLIGHT):
            names = "any in flight"
        lines.append(f"| {names} | {event.value} | {to.value} |")
    return "\n".join(lines) + "\n"
