"""Reading a Rollout as the plugin's commands need it: where the release is, whether it has
ended and how, and which manual-action annotations the operator has handled. Pure: a Rollout
as the API returns it (a dict) in, plain values out.

How the operator handles an action (champion.domain.rollout.machine `manual_actions`): it
acts on an annotation `champion.dev/<action>` once per *value*, records the value in
`status.handledActions[<action>]` in the same status write as the phase it moves to, and
never removes the annotation (Git owns it). A value it has handled may have done nothing (a
promote while the challenger is not Ready, a pause outside EvalGate/Shadow/Canary): the
plugin compares the phase before and after to tell.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

ACTIONS = ("promote", "abort", "retry", "pause")  # the operator's (reconcile.rollout_observe)
FINISHED = ("Succeeded", "RolledBack", "Aborted")
FAILED_PHASES = ("RolledBack", "Aborted")
PAUSE_VALUES = ("true", "yes", "1")  # the machine's spellings of pause=true ...
RESUME_VALUES = ("false", "no", "0")  # ... and of pause=false
STEP_PREFIX = "step"


def status_of(ro: dict[str, Any]) -> dict[str, Any]:
    return ro.get("status") or {}


def phase_of(ro: dict[str, Any]) -> str | None:
    phase = status_of(ro).get("phase")
    return None if phase is None else str(phase)


def target_of(ro: dict[str, Any]) -> str | None:
    target = (ro.get("spec") or {}).get("modelVersion")
    return None if target is None else str(target)


def steps_of(ro: dict[str, Any]) -> list[dict[str, Any]]:
    strategy = (ro.get("spec") or {}).get("strategy") or {}
    return list((strategy.get("canary") or {}).get("steps") or [])


def annotation(ro: dict[str, Any], action: str) -> str | None:
    value = (ro["metadata"].get("annotations") or {}).get(f"champion.dev/{action}")
    return None if value is None else str(value)


def step_label(ro: dict[str, Any]) -> str:
    """The step as the operator's messages number it: "2/3"; "-" outside the canary."""
    step = status_of(ro).get("step")
    if step is None:
        return "-"
    if isinstance(step, int):
        if step < 0:
            return "-"
        n = len(steps_of(ro))
        return f"{step + 1}/{n}" if n else str(step + 1)
    return str(step)  # already a label


def observed(ro: dict[str, Any]) -> bool:
    """The operator has seen the current spec (status.observedGeneration ≥ generation)."""
    seen = status_of(ro).get("observedGeneration")
    generation = ro["metadata"].get("generation")
    return seen is None or generation is None or int(seen) >= int(generation)


def weights_line(ro: dict[str, Any]) -> str:
    s = status_of(ro)
    w = s.get("weights") or {}
    parts = []
    if s.get("champion"):
        parts.append(f"{s['champion']} {w.get('champion', 0)}%")
    if s.get("challenger"):
        share = f"{w.get('challenger', 0)}%"
        if s.get("mirrorPercent"):
            share += f" + {s['mirrorPercent']}% mirrored"
        parts.append(f"{s['challenger']} {share}")
    return " / ".join(parts) or "no traffic yet"


def degraded(ro: dict[str, Any]) -> tuple[str, str] | None:
    for c in status_of(ro).get("conditions") or []:
        if c.get("type") == "Degraded" and c.get("status") == "True":
            return str(c.get("reason", "")), str(c.get("message", ""))
    return None


def change_key(ro: dict[str, Any]) -> tuple[Any, ...]:
    """What a watcher prints a line for: the phase, the step, and Degraded's reason."""
    d = degraded(ro)
    return (phase_of(ro), step_label(ro), d[0] if d else None)


class Ending(StrEnum):
    PROMOTED = "promoted"
    ROLLED_BACK = "rolled back"
    ABORTED = "aborted"


@dataclass(frozen=True)
class Outcome:
    ending: Ending
    code: int  # 0 promoted, 1 rolled back or aborted
    message: str


def outcome(ro: dict[str, Any]) -> Outcome | None:
    """How the current release ended, None while it runs (or the operator has not yet seen
    the current spec: a Succeeded of the previous release is not this one's)."""
    if not observed(ro):
        return None
    s = status_of(ro)
    phase, target = phase_of(ro), target_of(ro)
    if phase == "Succeeded" and target and s.get("champion") == target:
        share = (s.get("weights") or {}).get("champion", 100)
        return Outcome(Ending.PROMOTED, 0, f"{target} is champion and serves {share}% of traffic")
    if phase in FAILED_PHASES and s.get("champion") != target:
        # (Aborted with the target as champion is spec.modelVersion going back to the
        # champion: the operator settles that to Succeeded on its next tick.)
        ending = Ending.ROLLED_BACK if phase == "RolledBack" else Ending.ABORTED
        return Outcome(ending, 1, str(s.get("message") or phase))
    return None


class Handling(StrEnum):
    PENDING = "pending"  # set, not yet handled by the operator
    HANDLED = "handled"
    SUPERSEDED = "superseded"  # someone set another value before the operator got to ours
    DELETED = "deleted"  # the Rollout went away meanwhile


def handling(ro: dict[str, Any], action: str, value: str) -> Handling:
    current = annotation(ro, action)
    if current is None:
        return Handling.HANDLED  # an operator that removes handled annotations
    if current != value:
        return Handling.SUPERSEDED
    handled = (status_of(ro).get("handledActions") or {}).get(action)
    return Handling.HANDLED if handled == value else Handling.PENDING


def action_states(ro: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(action, annotation value, handled) for each action annotation on the Rollout."""
    handled = status_of(ro).get("handledActions") or {}
    out = []
    for action in ACTIONS:
        value = annotation(ro, action)
        if value is not None:
            out.append((action, value, handled.get(action) == value))
    return out


def refusal(command: str, ro: dict[str, Any]) -> str | None:
    """Why `command` has nothing to act on in this state (said before any annotation is set),
    None when it may."""
    phase = phase_of(ro)
    s = status_of(ro)
    where = f"the rollout is {phase}" + (f" ({s['message']})" if s.get("message") else "")
    if command in ("abort", "promote") and phase in FINISHED:
        return f"nothing to {command}: {where}"
    if command == "retry":
        if phase not in FAILED_PHASES:
            return f"nothing to retry: {where if phase else 'the rollout has not started'}; retry restarts a RolledBack or Aborted rollout"
        if target_of(ro) == s.get("champion"):
            return f"nothing to retry: spec.modelVersion {target_of(ro)} is already the champion"
    if command == "pause" and phase == "Paused":
        return f"nothing to pause: {where}"
    if command == "resume" and phase != "Paused":
        pending = annotation(ro, "pause")
        if (
            pending is None
            or pending.lower() not in PAUSE_VALUES
            or handling(ro, "pause", pending) is Handling.HANDLED
        ):
            return f"nothing to resume: {where if phase else 'the rollout has not started'}"
    return None


def pause_value(ro: dict[str, Any], pause: bool) -> str:
    """A spelling of pause=true/false the operator has not handled yet: it acts on a value
    once, so resuming a step's pause when pause=false is already set needs another one."""
    current = annotation(ro, "pause")
    handled = (status_of(ro).get("handledActions") or {}).get("pause")
    for value in PAUSE_VALUES if pause else RESUME_VALUES:
        if value != current and value != handled:
            return value
    return (PAUSE_VALUES if pause else RESUME_VALUES)[0]


def promote_value(stamp: str, full: bool) -> str:
    """`--full`: a bare timestamp, today's value (any new value promotes to 100%). One step:
    "step:<timestamp>"; the timestamp makes every request a new value."""
    return stamp if full else f"{STEP_PREFIX}:{stamp}"


def effect(
    command: str, before: dict[str, Any], after: dict[str, Any], full: bool = False
) -> str | None:
    """None when the handled action did what `command` asks; else what did not happen."""
    pa = phase_of(after)
    done = {
        "abort": pa == "Aborted",
        "retry": pa not in FAILED_PHASES,
        "pause": pa == "Paused",
        "resume": pa != "Paused",
    }
    if command == "promote":
        if full:
            ok = pa in ("Promoting", "Succeeded")
        else:
            ok = pa not in FAILED_PHASES and (
                (phase_of(before), step_label(before)) != (pa, step_label(after))
            )
        verb = "promote to 100%" if full else "go to the next step"
    else:
        ok = done[command]
        verb = {"abort": "abort", "retry": "restart", "pause": "pause", "resume": "resume"}[command]
    if ok:
        return None
    return f"the operator handled it but did not {verb}: the rollout is {pa or 'not started'}" + (
        f" ({status_of(after)['message']})" if status_of(after).get("message") else ""
    )


def overshot(before: dict[str, Any], after: dict[str, Any]) -> bool:
    """A one-step promote that ended at 100% while steps remained: an operator that reads
    every champion.dev/promote value as a full promote."""
    if phase_of(after) not in ("Promoting", "Succeeded"):
        return False
    phase = phase_of(before)
    if phase in ("EvalGate", "Shadow"):
        return bool(steps_of(before))
    if phase in ("Canary", "Paused"):
        step = status_of(before).get("step")
        n = len(steps_of(before))
        return step is None or (isinstance(step, int) and step + 1 < n)
    return False
