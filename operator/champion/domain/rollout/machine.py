"""The Rollout state machine: decide(spec, status, observations, now) -> Decision. Pure.

Pending -> [CapacityPending] -> [EvalGate] -> [Shadow] -> Canary(step i) -> Succeeded
                                 any analysis rollback -> RolledBack
Paused (annotation or a paused step), Aborted (annotation). A first rollout (no
champion) goes straight to 100% once the version is Ready. Every phase change is a
row of transitions.TRANSITIONS (`_Tick.goto` looks it up). All progress lives in
status, so deciding again with the same inputs gives the same answer.
"""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from typing import Any

from champion.api.v1alpha1 import reasons
from champion.api.v1alpha1.common import ConditionStatus, ConditionType
from champion.api.v1alpha1.modelversion import Stage
from champion.api.v1alpha1.rollout import (
    DecisionRecord,
    InconclusiveAction,
    MetricEvidence,
    Phase,
    RolloutSpec,
    RolloutStatus,
    Weights,
)
from champion.domain.conditions import get_condition, parse_time, rfc3339, set_condition
from champion.domain.judge import Judge, JudgeConfig, MetricConfig, Verdict
from champion.domain.metrics_catalog import expand
from champion.domain.rollout import transitions
from champion.domain.rollout.observations import Decision, Observations, Traffic
from champion.domain.rollout.transitions import Event, next_phase

HISTORY_LIMIT = 30
"""Decisions the machine keeps in memory (it is given as many); the evidence ConfigMap keeps
more, pruned by size, and `.status.history` shows the last few (domain/rollout/evidence.py)."""
IN_FLIGHT = set(transitions.IN_FLIGHT)
NO_EVIDENCE = {
    reasons.PROMETHEUS_UNAVAILABLE: "Prometheus unavailable: the metrics could not be read",
    reasons.INSUFFICIENT_EVIDENCE: "no traffic or no data on both versions",
    reasons.SAMPLE_RATIO_MISMATCH: "sample-ratio mismatch: the challenger's share of requests is far from its weight, routing may be broken",
}
"""Why an interval had no evidence, by the Analysis condition's reason (its message has more)."""
INCONCLUSIVE = {reasons.INSUFFICIENT_EVIDENCE, reasons.SAMPLE_RATIO_MISMATCH}
"""Judge verdicts that are no evidence either way: counted towards maxInconclusive."""
SERVING_CHALLENGER = {Phase.EVAL_GATE, Phase.SHADOW, Phase.CANARY, Phase.PAUSED}


def _srm_flagged(analysis_state: dict[str, Any] | None) -> bool:
    """Whether the judge's sample-ratio check has flagged this rollout (it stays flagged)."""
    srm = (analysis_state or {}).get("srm") or {}
    return bool(srm.get("flag"))


PAUSE_VALUES = ("true", "yes", "1")
RESUME_VALUES = ("false", "no", "0")
PAUSABLE = {Phase.EVAL_GATE, Phase.SHADOW, Phase.CANARY}


def _step_wise(promote: str) -> bool:
    """champion.dev/promote=step or step:<anything> asks for one stage; any other value
    (kubectl champion promote --full writes a bare timestamp) for 100%."""
    return promote == "step" or promote.startswith("step:")


def observing(status: RolloutStatus) -> Phase | None:
    """The phase whose signals decide() reads: status.phase, or while Paused the phase it
    was paused in (the judge keeps analysing a paused Shadow or Canary, and a paused eval
    gate's failure still rolls back). The reconciler reads metrics when this is Shadow or
    Canary and eval results when it is EvalGate."""
    phase = status.paused_from if status.phase == Phase.PAUSED else status.phase
    return Phase(phase) if phase else None


ROUTE_SETTLE_SECONDS = 5
"""After a change of weights, how long requests routed by the old split may still reach the
counters an analysis interval reads: that long, it is not checked for sample ratio (seen on the
real control plane: a first canary interval holding shadow's mirrored requests held the demo)."""


def judge_config(spec: RolloutSpec) -> JudgeConfig:
    metrics: dict[str, MetricConfig] = {}
    for m in expand(spec.analysis.metrics):
        metrics[m.name] = MetricConfig(
            direction=m.direction,  # type: ignore[arg-type]
            margin=m.margin,
            latency_margin=m.latency_margin,
        )
    return JudgeConfig(alpha=spec.analysis.alpha, metrics=metrics)


class _Tick:
    """One decision in progress: mutable working copy of the status plus what to do."""

    def __init__(
        self,
        spec: RolloutSpec,
        status: RolloutStatus,
        obs: Observations,
        now: datetime,
        generation: int | None,
    ) -> None:
        self.spec = spec
        self.s = copy.deepcopy(status)
        self.obs = obs
        self.now = now
        self.stamp = rfc3339(now)
        self.generation = generation
        self.events: list[tuple[str, str, str]] = []
        self.stages: dict[str, Stage] = {}
        self.finished: str | None = None
        self.verdict: Verdict | None = None
        self.waiting = False
        """Shadow or Canary whose time is up, waiting for an interval with evidence."""
        self.blocked: tuple[str, str] | None = None
        """Why a pending rollout cannot start (reason, message): Degraded says so."""
        self.transitions: list[tuple[Phase | None, Event, Phase]] = []

    # --- helpers ----------------------------------------------------------------------------
    def goto(self, event: Event, reason: str, message: str, warning: bool = False) -> Phase:
        """The one way the phase changes: to what TRANSITIONS says for (phase, event). The new
        phase's (or step's) time starts now."""
        source = Phase(self.s.phase) if self.s.phase else None
        phase = next_phase(source, event)
        self.transitions.append((source, event, phase))
        if phase != Phase.PAUSED:
            self.s.paused_from = None
            self.s.pause_reason = None
        self.s.phase = phase
        self.s.phase_started_at = self.stamp
        self.s.message = message
        self.record("transition", reason, message)
        self.events.append(("Warning" if warning else "Normal", reason, message))
        return phase

    def record(
        self, decision: str, reason: str, message: str, verdict: Verdict | None = None
    ) -> None:
        if (
            verdict is None
            and decision == "transition"
            and reason in (reasons.REGRESSION_DETECTED, reasons.PROMOTED)
        ):
            verdict = self.verdict  # the phase change carries the evidence that caused it
        evidence = [
            MetricEvidence(
                metric=e.metric,
                challenger_events=e.challenger_events,
                challenger_total=e.challenger_total,
                champion_events=e.champion_events,
                champion_total=e.champion_total,
                statistic=e.statistic,
                threshold=e.threshold,
                detail=e.detail,
            )
            for e in (verdict.evidence if verdict else [])
        ]
        self.s.history = [
            *self.s.history,
            DecisionRecord(
                time=self.stamp,
                phase=(self.s.phase or Phase.PENDING).value
                if isinstance(self.s.phase, Phase)
                else str(self.s.phase),
                step=self.s.step,
                decision=decision,
                reason=reason,
                message=message,
                evidence=evidence,
            ),
        ][-HISTORY_LIMIT:]

    def elapsed(self) -> float:
        started = parse_time(self.s.phase_started_at)
        return 0.0 if started is None else (self.now - started).total_seconds()

    def routed(self) -> bool:
        """Whether the last decision already gave the route this phase's weight or mirror."""
        if self.s.phase == Phase.SHADOW:
            shadow = self.spec.strategy.shadow
            return shadow is None or self.s.mirror_percent == shadow.mirror_percent
        step = self.spec.strategy.canary.steps[self.s.step or 0]
        return self.s.weights.challenger == step.weight

    def challenger_ready(self) -> bool:
        facts = self.obs.facts(self.s.challenger)
        return bool(facts and facts.ready)

    def accrue_cost(self) -> None:
        facts = self.obs.facts(self.s.challenger)
        last = parse_time(self.s.cost_updated_at)
        if (
            facts is not None
            and last is not None
            and self.s.phase in SERVING_CHALLENGER | {Phase.PENDING}
        ):
            hours = max(0.0, (self.now - last).total_seconds()) / 3600.0
            gpus = facts.replicas * facts.gpus_per_replica
            self.s.gpu_hours = round(self.s.gpu_hours + hours * gpus, 6)
            self.s.cost = round(self.s.cost + hours * gpus * facts.cost_per_gpu_hour, 6)
        self.s.cost_updated_at = self.stamp

    def reset_analysis(self) -> None:
        self.s.analysis_state = None
        self.s.inconclusive_count = 0
        self.s.last_analysis_at = None

    # --- transitions -----------------------------------------------------------------------------
    def start(self, event: Event, version: str, reason: str, message: str) -> None:
        self.s.challenger = version
        self.s.step = None
        self.s.verdict = None  # the verdict column is this release's, not the last one's
        self.s.rollout_started_at = self.stamp
        self.s.gpu_hours = 0.0
        self.s.cost = 0.0
        self.s.cost_updated_at = self.stamp
        self.reset_analysis()
        self.goto(event, reason, message)

    def promote(self, event: Event, reason: str, message: str) -> None:
        old = self.s.champion
        new = self.s.challenger
        if old and old != new:
            self.s.retired = sorted({*self.s.retired, old})
            self.stages[old] = Stage.RETIRED
            self.s.scale_down_at = rfc3339(
                self.now + timedelta(seconds=self.spec.strategy.scale_down_delay_seconds)
            )
        if new:
            self.stages[new] = Stage.CHAMPION
        self.s.champion = new
        self.s.challenger = None
        self.s.step = None
        self.reset_analysis()
        self.goto(event, reason, message)
        self.finished = "Succeeded"

    def rollback(self, event: Event, reason: str, message: str) -> None:
        """Back to the champion alone: RolledBack, or Aborted (the table says which)."""
        if self.s.challenger:
            self.stages[self.s.challenger] = Stage.ROLLED_BACK
        self.s.step = None
        self.finished = self.goto(event, reason, message, warning=True).value

    # --- the tick --------------------------------------------------------------------------------
    def manual_actions(self) -> bool:
        """Acts on changed annotations; returns True when the tick is decided."""
        handled = dict(self.s.handled_actions)
        decided = False
        for action in ("abort", "retry", "promote", "pause"):
            value = self.obs.actions.get(action)
            if value is None or handled.get(action) == value:
                continue
            handled[action] = value
            if action == "abort" and self.s.phase in IN_FLIGHT and self.s.challenger:
                self.rollback(
                    Event.ABORT,
                    reasons.MANUAL_ABORT,
                    f"aborted by annotation champion.dev/abort={value}; {self.s.champion or 'no champion'} keeps all traffic",
                )
                decided = True
            elif action == "retry" and self.s.phase in (Phase.ROLLED_BACK, Phase.ABORTED):
                target = self.spec.model_version
                if target != self.s.champion:
                    self.start(
                        Event.RETRY,
                        target,
                        reasons.MANUAL_RETRY,
                        f"retrying the rollout to {target} (annotation champion.dev/retry={value})",
                    )
                    decided = True
            elif action == "promote" and _step_wise(value):
                decided = self.promote_step(value)
            elif action == "promote":
                decided = self.promote_fully(value)
            elif action == "pause":
                if value.lower() in PAUSE_VALUES and self.s.phase not in PAUSABLE | {Phase.PAUSED}:
                    # Nothing can pause yet (Pending, CapacityPending, or between rollouts):
                    # the value stays unhandled and takes effect where the rollout can pause.
                    handled.pop(action, None)
                    if previous := self.s.handled_actions.get(action):
                        handled[action] = previous
                    self.note_deferred_pause(value)
                elif value.lower() in PAUSE_VALUES and self.s.phase in PAUSABLE:
                    self.record(
                        "pause", reasons.MANUAL_PAUSE, "paused by annotation champion.dev/pause"
                    )
                    self.s.handled_actions = handled
                    self.pause(
                        Event.PAUSE,
                        reasons.MANUAL_PAUSE,
                        f"paused in {self.where()} by annotation champion.dev/pause={value}",
                    )
                    decided = True
                elif value.lower() in RESUME_VALUES and self.s.phase == Phase.PAUSED:
                    self.resume()
                    decided = True
        self.s.handled_actions = handled
        return decided

    def paused(self) -> None:
        """Paused: nothing advances, but the judge (or the eval gate) keeps deciding. A
        paused canary that regresses is rolled back; one without evidence for
        maxInconclusive intervals ends as spec.analysis.onInconclusive says."""
        origin = observing(self.s)
        if origin == Phase.EVAL_GATE:
            self.gate_failed()
        elif origin in (Phase.SHADOW, Phase.CANARY) and self.challenger_ready():
            self.analyse()

    def promote_fully(self, value: str, event: Event = Event.PROMOTE) -> bool:
        """champion.dev/promote=<anything but step…>: 100% to the challenger, now."""
        if self.s.phase in IN_FLIGHT and self.s.challenger and self.challenger_ready():
            self.promote(
                event,
                reasons.MANUAL_PROMOTE,
                f"{self.s.challenger} promoted by annotation champion.dev/promote={value}",
            )
            return True
        why = (
            f"{self.s.challenger} is not Ready"
            if self.s.phase in IN_FLIGHT and self.s.challenger
            else f"the rollout is {self.s.phase or 'not started'}: nothing to promote"
        )
        self.record(
            "ignored", reasons.MANUAL_PROMOTE, f"champion.dev/promote={value} ignored: {why}"
        )
        return False

    def promote_step(self, value: str) -> bool:
        """champion.dev/promote=step[:…]: one stage on. Shadow -> canary step 1, step i -> step
        i+1, the last step -> 100% (without the final look: a person decided). The eval gate
        is never skipped this way, and Pending or CapacityPending have no stage to leave."""
        origin = observing(self.s)
        if self.s.phase == Phase.PAUSED and origin is None:
            origin = Phase.CANARY if self.s.step is not None else Phase.SHADOW
        why = None
        if origin == Phase.EVAL_GATE:
            why = "the eval gate must pass first (a step promote never skips it; champion.dev/abort stops the rollout)"
        elif origin not in (Phase.SHADOW, Phase.CANARY) or not self.s.challenger:
            why = f"the rollout is {self.s.phase or 'not started'}: a step promote acts in Shadow, Canary or Paused"
        if why is not None:
            self.record(
                "ignored", reasons.MANUAL_PROMOTE, f"champion.dev/promote={value} ignored: {why}"
            )
            return False
        steps = self.spec.strategy.canary.steps
        nxt = 0 if origin == Phase.SHADOW else (self.s.step or 0) + 1
        if nxt >= len(steps):
            return self.promote_fully(value, Event.PROMOTE_STEP_LAST)
        self.s.step = nxt
        self.goto(
            Event.PROMOTE_STEP,
            reasons.MANUAL_PROMOTE,
            f"promoted to canary step {nxt + 1}/{len(steps)} by annotation champion.dev/promote={value}",
        )
        return True

    def note_deferred_pause(self, value: str) -> None:
        message = (
            f"champion.dev/pause={value} noted while the rollout is {self.s.phase or 'not started'}: "
            "it pauses on reaching EvalGate, Shadow or Canary"
        )
        if not any(h.message == message for h in self.s.history):
            self.record("pause", reasons.MANUAL_PAUSE, message)

    def deferred_pause(self) -> None:
        """A pause asked for before the rollout could pause, now that it can: in the same
        decision, so the new phase gets no more traffic than a paused one."""
        value = self.obs.actions.get("pause")
        if (
            value is None
            or value.lower() not in PAUSE_VALUES
            or self.s.handled_actions.get("pause") == value
            or self.s.phase not in PAUSABLE
        ):
            return
        self.s.handled_actions = {**self.s.handled_actions, "pause": value}
        self.pause(
            Event.PAUSE,
            reasons.MANUAL_PAUSE,
            f"paused on reaching {self.where()} by annotation champion.dev/pause={value} (set before the rollout could pause)",
        )

    def where(self) -> str:
        """The phase (and step) a rollout is in, as the messages say it."""
        phase = self.s.paused_from if self.s.phase == Phase.PAUSED else self.s.phase
        if phase == Phase.CANARY and self.s.step is not None:
            return f"canary step {self.s.step + 1}/{len(self.spec.strategy.canary.steps)}"
        return str(phase)

    def pause(self, event: Event, reason: str, message: str, warning: bool = False) -> None:
        """Holds where it is: the weights stay, and resuming returns here (status.pausedFrom)."""
        self.s.paused_from = Phase(self.s.phase) if self.s.phase else None
        self.s.pause_reason = reason
        self.goto(event, reason, message, warning)

    def resume(self) -> None:
        origin, why = self.s.paused_from, self.s.pause_reason
        self.s.paused_from = None
        self.s.pause_reason = None
        if why == reasons.INSUFFICIENT_EVIDENCE:
            self.s.inconclusive_count = 0  # a person asked for more intervals
        if origin is None:
            # Paused by an operator that did not record where from: the safest place back.
            if self.s.step is not None:
                origin = Phase.CANARY
            elif self.spec.strategy.eval_gate and self.spec.strategy.eval_gate.suites:
                origin = Phase.EVAL_GATE  # a gate that passed lets it on at the next tick
            else:
                origin = Phase.SHADOW
        if why == reasons.STEP_PAUSE and origin == Phase.CANARY:
            self.step_done(paused=True)
            if self.s.phase == Phase.PAUSED:  # the final look could not promote yet
                self.goto(
                    Event.RESUME_CANARY,
                    reasons.MANUAL_RESUME,
                    f"resumed; the final look cannot promote yet: {self.s.message}",
                )
            return
        # Back where it paused: the phase's (or step's) time starts again, the judge's
        # state is kept. Nothing is skipped: a step paused half-way runs its full time.
        event = {Phase.EVAL_GATE: Event.RESUME_GATE, Phase.SHADOW: Event.RESUME_SHADOW}.get(
            origin, Event.RESUME_CANARY
        )
        self.s.paused_from = origin  # for where()
        self.goto(event, reasons.MANUAL_RESUME, f"resumed: back in {self.where()}")

    def target_changed(self) -> bool:
        desired = self.spec.model_version
        if desired in (self.s.champion, self.s.challenger):
            if desired == self.s.champion and self.s.challenger and self.s.phase not in IN_FLIGHT:
                # Back to the version that serves: nothing to roll out, the endpoint is where Git wants it.
                self.s.challenger = None
                self.s.step = None
                self.goto(
                    Event.BACK_TO_CHAMPION,
                    reasons.STABLE,
                    f"spec.modelVersion is the champion {desired}: nothing to roll out",
                )
                return True
            if desired == self.s.champion and self.s.challenger and self.s.phase in IN_FLIGHT:
                # The desired version went back to the champion: drop the challenger.
                self.rollback(
                    Event.BACK_TO_CHAMPION,
                    reasons.SUPERSEDED,
                    f"spec.modelVersion is back to the champion {desired}; challenger {self.s.challenger} removed",
                )
                return True
            return False
        if self.s.challenger and self.s.phase in IN_FLIGHT:
            self.stages[self.s.challenger] = Stage.REGISTERED
            self.events.append(
                (
                    "Normal",
                    reasons.SUPERSEDED,
                    f"{self.s.challenger} superseded by {desired} before it finished",
                )
            )
        self.start(
            Event.NEW_VERSION,
            desired,
            reasons.ROLLOUT_PENDING,
            f"rolling out {desired}"
            + (f" to replace {self.s.champion}" if self.s.champion else " (first rollout)"),
        )
        return True

    def pending(self) -> None:
        facts = self.obs.facts(self.s.challenger)
        name = self.s.challenger
        if facts is None or not facts.exists:
            self.s.message = f'ModelVersion "{name}" not found: create it, or fix spec.modelVersion'
            self.blocked = (reasons.REFERENCE_NOT_FOUND, self.s.message)
            return
        if not facts.valid:
            self.s.message = f'ModelVersion "{name}" is not valid: {facts.message}'
            self.blocked = (reasons.INVALID_SPEC, self.s.message)
            return
        if not facts.pinned and not self.spec.strategy.allow_unpinned_artifacts:
            self.s.message = f'ModelVersion "{name}" has no spec.model.digest: it cannot become champion unless spec.strategy.allowUnpinnedArtifacts is true'
            self.blocked = (reasons.INVALID_SPEC, self.s.message)
            return
        adm = self.obs.admission
        if adm is not None and not adm.fits:
            self.goto(Event.NO_CAPACITY, reasons.CAPACITY_PENDING, adm.message, warning=True)
            return
        if self.s.champion is None:
            if facts.ready:
                self.promote(
                    Event.FIRST_READY,
                    reasons.FIRST_ROLLOUT,
                    f"first rollout: {name} is Ready and serves 100%",
                )
            else:
                self.s.message = f"first rollout: waiting for {name} to become Ready"
            return
        if self.spec.strategy.eval_gate and self.spec.strategy.eval_gate.suites:
            self.goto(
                Event.VALID_GATED,
                reasons.EVAL_GATE_RUNNING,
                f"evaluating {name} with {', '.join(self.spec.strategy.eval_gate.suites)} before any production traffic",
            )
            return
        self.after_gate(gated=False)

    def gate_failed(self) -> bool:
        """Rolls back if a gate suite failed; True if it did."""
        gate = self.spec.strategy.eval_gate
        suites = list(gate.suites) if gate else []
        states = {name: self.obs.evals.get(name) for name in suites}
        failed = {n: st for n, st in states.items() if st is not None and st.status == "failed"}
        if failed:
            parts = []
            for name, st in failed.items():
                cases = (
                    f"; failing cases: {', '.join(st.failing_cases[:10])}"
                    if st.failing_cases
                    else ""
                )
                parts.append(f"{name}: {st.message}{cases}")
            self.s.verdict = "rollback"
            self.rollback(
                Event.GATE_FAILED,
                reasons.EVAL_GATE_FAILED,
                f"eval gate failed before any production traffic: {' | '.join(parts)}",
            )
            return True
        return False

    def eval_gate(self) -> None:
        gate = self.spec.strategy.eval_gate
        suites = list(gate.suites) if gate else []
        states = {name: self.obs.evals.get(name) for name in suites}
        if self.gate_failed():
            return
        if suites and all(st is not None and st.status == "passed" for st in states.values()):
            scores = ", ".join(
                f"{n} {st.score:.3f}"
                for n, st in states.items()
                if st is not None and st.score is not None
            )
            self.events.append(("Normal", reasons.EVAL_GATE_PASSED, f"eval gate passed: {scores}"))
            self.record("transition", reasons.EVAL_GATE_PASSED, f"eval gate passed: {scores}")
            self.after_gate(gated=True)
            return
        timeout = gate.timeout_seconds if gate else 0
        if self.elapsed() >= timeout:
            self.rollback(
                Event.GATE_TIMED_OUT,
                reasons.EVAL_GATE_FAILED,
                f"eval gate timed out after {timeout}s (spec.strategy.evalGate.timeoutSeconds)",
            )
            return
        done = sum(1 for st in states.values() if st is not None and st.status == "passed")
        self.s.message = f"evaluating {self.s.challenger}: {done}/{len(suites)} suites passed; no production traffic until all pass"

    def after_gate(self, gated: bool) -> None:
        """On to production traffic: Shadow, or canary step 1 when there is no shadow."""
        shadow = self.spec.strategy.shadow
        if shadow is not None and shadow.duration_seconds > 0:
            self.goto(
                Event.GATE_PASSED_SHADOW if gated else Event.VALID_SHADOW,
                reasons.SHADOW_STARTED,
                f"shadow: mirroring {shadow.mirror_percent}% of requests to {self.s.challenger} for {shadow.duration_seconds}s",
            )
        else:
            self.s.step = -1
            self.next_step(Event.GATE_PASSED_CANARY if gated else Event.VALID_CANARY)

    def time_up(self) -> bool:
        """The shadow's (or the current step's) durationSeconds has passed."""
        if self.s.phase == Phase.SHADOW:
            shadow = self.spec.strategy.shadow
            return shadow is None or self.elapsed() >= shadow.duration_seconds
        step = self.spec.strategy.canary.steps[self.s.step or 0]
        return self.elapsed() >= step.duration_seconds

    def waiting_for_evidence(self) -> bool:
        """No evidence, no more traffic: True (and said, once) while the last interval was
        inconclusive, or the sample-ratio check has flagged the routing. The rollout waits at
        its weight until an interval has evidence or maxInconclusive decides."""
        if not self.s.inconclusive_count and not _srm_flagged(self.s.analysis_state):
            return False
        a = self.spec.analysis
        analysis = get_condition(self.s.conditions, ConditionType.ANALYSIS)
        code = (
            reasons.SAMPLE_RATIO_MISMATCH
            if _srm_flagged(self.s.analysis_state)
            else analysis.reason
            if analysis is not None
            else reasons.INSUFFICIENT_EVIDENCE
        )
        cause = NO_EVIDENCE.get(code, code)
        if self.s.phase == Phase.SHADOW:
            where, held = "in shadow", f"no live traffic goes to {self.s.challenger}"
        else:
            steps = self.spec.strategy.canary.steps
            i = self.s.step or 0
            where = (
                f"at the end of the canary (step {i + 1}/{len(steps)}, {steps[i].weight}%)"
                if i + 1 >= len(steps)
                else f"at canary step {i + 1}/{len(steps)} ({steps[i].weight}%)"
            )
            held = "no promotion" if i + 1 >= len(steps) else "the weight is not raised"
        message = (
            f"holding {where}: its time is up, but the last interval had no evidence ({cause}; "
            f"see the Analysis condition); {held} until an interval has evidence, and after "
            f"{a.max_inconclusive} in a row without (spec.analysis.maxInconclusive) it will "
            f"{a.on_inconclusive} (spec.analysis.onInconclusive)"
        )
        self.waiting = True
        if self.s.message != message:
            self.s.message = message
            self.record("continue", code, message)
            self.events.append(("Warning", code, message))
        return True

    def step_done(self, paused: bool = False) -> None:
        """The current canary step's time is up. `paused`: its own pause is over (resumed)."""
        steps = self.spec.strategy.canary.steps
        i = self.s.step or 0
        last = i + 1 >= len(steps)
        if steps[i].pause and not paused and not last:
            self.pause(
                Event.STEP_PAUSE,
                reasons.STEP_PAUSE,
                f"step {i + 1}/{len(steps)} done; paused until champion.dev/pause=false or champion.dev/promote",
            )
        elif last:
            # The last step's pause comes after the final look: a person approves a promotion
            # the analysis would make, not one it may still refuse.
            self.final_look(hold=steps[i].pause and not paused)
        else:
            self.next_step(Event.RESUME_STEP if paused else Event.STEP_DONE)

    def next_step(self, event: Event) -> None:
        """Into the canary step after status.step (-1: the first); there always is one."""
        steps = self.spec.strategy.canary.steps
        nxt = (self.s.step if self.s.step is not None else -1) + 1
        self.s.step = nxt
        self.goto(
            event,
            reasons.CANARY_STEP if event != Event.RESUME_STEP else reasons.MANUAL_RESUME,
            f"canary step {nxt + 1}/{len(steps)}: {steps[nxt].weight}% of live traffic to {self.s.challenger} for at least {steps[nxt].duration_seconds}s",
        )

    def final_look(self, hold: bool = False) -> None:
        a = self.spec.analysis
        if _srm_flagged(self.s.analysis_state):
            # The judge's counts do not say what the weights do: no promotion on them.
            message = (
                "holding at the end of the canary: sample-ratio mismatch (the challenger's share "
                "of requests is far from its weight: routing may be broken; see the Analysis "
                f"condition), so it is not promoted; after {a.max_inconclusive} intervals without "
                f"evidence (spec.analysis.maxInconclusive) it will {a.on_inconclusive} "
                "(spec.analysis.onInconclusive)"
            )
            self.s.verdict = "inconclusive"
            if self.s.message != message:
                self.s.message = message
                self.record("continue", reasons.SAMPLE_RATIO_MISMATCH, message)
                self.events.append(("Warning", reasons.SAMPLE_RATIO_MISMATCH, message))
            return
        judge = Judge.from_dict(judge_config(self.spec), copy.deepcopy(self.s.analysis_state))
        verdict = judge.finalize()
        self.verdict = verdict
        if verdict.decision == "continue":
            # No data at the horizon is never a promotion, nor a rollback on its own: the
            # rollout holds, the analysis keeps counting inconclusive intervals, and
            # maxInconclusive/onInconclusive decide as they would at any other step.
            self.s.verdict = "inconclusive"
            message = (
                f"holding at the end of the canary: {verdict.reason}; after {a.max_inconclusive} "
                f"intervals without evidence (spec.analysis.maxInconclusive) it will "
                f"{a.on_inconclusive} (spec.analysis.onInconclusive)"
            )
            if self.s.message != message:
                self.s.message = message
                self.record(verdict.decision, verdict.code, message, verdict)
                self.events.append(("Warning", verdict.code, message))
            return
        self.record(verdict.decision, verdict.code, verdict.reason, verdict)
        if verdict.decision == "rollback":
            self.s.verdict = "rollback"
            self.rollback(Event.FINAL_REGRESSION, reasons.REGRESSION_DETECTED, verdict.reason)
        elif hold:
            self.s.verdict = "promote"
            self.pause(
                Event.FINAL_PAUSE,
                reasons.STEP_PAUSE,
                f"final look passed ({verdict.reason}); the last step has pause: true, so "
                f"{self.s.challenger} is promoted on champion.dev/pause=false or champion.dev/promote",
            )
        else:
            self.s.verdict = "promote"
            self.promote(
                Event.FINAL_PROMOTES,
                reasons.PROMOTED,
                f"{self.s.challenger} promoted: {verdict.reason}",
            )

    def analyse(self) -> bool:
        """Applies this interval's analysis; True if it ended the rollout."""
        if self.obs.metrics is None and self.obs.metrics_error is None:
            return False
        self.accrue_cost()
        began = parse_time(self.s.last_analysis_at)
        self.s.last_analysis_at = self.stamp
        conds = self.s.conditions
        if self.obs.metrics_error is not None:
            cause = f"Prometheus unavailable: {self.obs.metrics_error}"
            self.record(
                "continue",
                reasons.PROMETHEUS_UNAVAILABLE,
                f"analysis inconclusive ({self.s.inconclusive_count + 1}/{self.spec.analysis.max_inconclusive}): {self.obs.metrics_error}",
            )
            return self.inconclusive(reasons.PROMETHEUS_UNAVAILABLE, cause)
        judge = Judge.from_dict(
            judge_config(self.spec),
            copy.deepcopy(self.s.analysis_state) if self.s.analysis_state else None,
        )
        if not self.s.analysis_state and self.obs.warmup:
            judge.warm_up(self.obs.warmup)
        expected = self.expected_share(began)
        verdict = judge.observe(self.obs.metrics or {}, expected_share=expected)
        self.verdict = verdict
        self.s.analysis_state = judge.to_dict()
        self.record(verdict.decision, verdict.code, verdict.reason, verdict)
        self.s.verdict = verdict.decision if verdict.code not in INCONCLUSIVE else "inconclusive"
        if verdict.decision == "rollback":
            self.s.conditions = set_condition(
                conds,
                ConditionType.ANALYSIS,
                True,
                reasons.REGRESSION_DETECTED,
                verdict.reason,
                self.now,
                self.generation,
            )
            self.rollback(
                Event.REGRESSION,
                reasons.REGRESSION_DETECTED,
                f"rolled back {self.s.challenger}: {verdict.reason}",
            )
            return True
        if verdict.code in INCONCLUSIVE:
            # No traffic on both versions, or broken routing (a sample-ratio mismatch: the
            # counts do not say what the weights do): this interval is no evidence either way.
            return self.inconclusive(verdict.code, verdict.reason)
        self.s.inconclusive_count = 0
        self.s.conditions = set_condition(
            conds,
            ConditionType.ANALYSIS,
            True,
            verdict.code,
            verdict.reason,
            self.now,
            self.generation,
        )
        return False

    def expected_share(self, interval_began: datetime | None) -> float | None:
        """The challenger's configured share of requests over this interval, for the
        sample-ratio check; None when there is no single one."""
        started = parse_time(self.s.phase_started_at)
        if (
            interval_began is not None
            and started is not None
            and interval_began < started + timedelta(seconds=ROUTE_SETTLE_SECONDS)
        ):
            # The interval straddles a change of weights (shadow → step, step → step), or began
            # so soon after it that requests sent by the old split (the gateway's route refresh,
            # a mirror in flight, the last scrape) are still in its counters.
            return None
        if observing(self.s) == Phase.CANARY and self.s.step is not None:
            w = self.spec.strategy.canary.steps[self.s.step].weight
            return w / 100.0 if 0 < w < 100 else None
        # Shadow: none. Mirrored requests are fire-and-forget (the gateway neither waits for
        # nor retries them), so a challenger that saw fewer than the mirror share is what
        # mirroring does under load, not broken routing; the check starts with the canary.
        return None

    def inconclusive(self, reason: str, cause: str) -> bool:
        """An interval without evidence: counted (consecutive), said in the Analysis condition
        with its cause; True if that ended the rollout (spec.analysis.maxInconclusive)."""
        self.s.inconclusive_count += 1
        self.s.verdict = "inconclusive"
        self.s.conditions = set_condition(
            self.s.conditions,
            ConditionType.ANALYSIS,
            False,
            reason,
            f"no evidence in {self.s.inconclusive_count}/{self.spec.analysis.max_inconclusive} intervals in a row: {cause}",
            self.now,
            self.generation,
        )
        return self.too_inconclusive(cause)

    def too_inconclusive(self, cause: str) -> bool:
        if self.s.inconclusive_count < self.spec.analysis.max_inconclusive:
            return False
        if self.spec.analysis.on_inconclusive == InconclusiveAction.PAUSE:
            if self.s.phase == Phase.PAUSED:
                return False  # already held; the Analysis condition counts on
            self.pause(
                Event.TOO_INCONCLUSIVE_PAUSE,
                reasons.INSUFFICIENT_EVIDENCE,
                f"paused: {self.s.inconclusive_count} consecutive intervals without enough evidence, the last: {cause} (spec.analysis.maxInconclusive={self.spec.analysis.max_inconclusive}, onInconclusive=pause)",
                warning=True,
            )
            return True
        self.rollback(
            Event.TOO_INCONCLUSIVE_ROLLBACK,
            reasons.INSUFFICIENT_EVIDENCE,
            f"rolled back: {self.s.inconclusive_count} consecutive intervals without enough evidence, the last: {cause} (spec.analysis.maxInconclusive={self.spec.analysis.max_inconclusive}, onInconclusive=rollback)",
        )
        return True

    def run(self) -> None:
        self.act()
        self.deferred_pause()

    def act(self) -> None:
        if self.manual_actions():
            return
        if self.target_changed():
            return
        phase = self.s.phase
        if phase in (Phase.PENDING, None) and self.s.challenger:
            self.s.phase = Phase.PENDING
            self.pending()
        elif phase == Phase.CAPACITY_PENDING:
            adm = self.obs.admission
            if adm is None or adm.fits:
                self.goto(
                    Event.CAPACITY_FITS,
                    reasons.CAPACITY_RESERVED,
                    f"{self.s.challenger} fits its GPUPool now",
                )
                self.pending()
            else:
                self.s.message = adm.message
        elif phase == Phase.EVAL_GATE:
            self.eval_gate()
        elif phase in (Phase.SHADOW, Phase.CANARY):
            if not self.challenger_ready():
                self.s.message = f"{self.s.challenger} is not Ready: it gets no traffic until it is"
                # A step's (or the shadow's) time counts from when the challenger gets its
                # traffic: otherwise a step that outlasted the wait is skipped, its weight never
                # reaching the route (seen on a real cluster, where Deployments take seconds).
                self.s.phase_started_at = rfc3339(self.now)
                return
            routed = self.routed()
            if routed and self.obs.route_refused:
                # The weights are written but move no traffic: nothing to count time or evidence
                # on. The phase's time, and the first interval, start once the route is accepted.
                self.blocked = (
                    reasons.ROUTE_NOT_ACCEPTED,
                    f"{self.obs.route_refused}; holding until the Gateway accepts it",
                )
                self.s.message = self.blocked[1]
                self.s.phase_started_at = self.stamp
                self.s.last_analysis_at = self.stamp
                return
            if not routed:
                # This tick puts the step's weight (or the mirror) on the route: its time starts
                # now. A busy operator can tick less often than a short step lasts, and counting
                # from the step's decision skipped steps whose weight never reached the route.
                self.s.phase_started_at = rfc3339(self.now)
            if self.analyse() or not routed or not self.time_up() or self.waiting_for_evidence():
                return
            if phase == Phase.SHADOW:
                self.s.step = -1
                self.next_step(Event.SHADOW_DONE)
            else:
                self.step_done()
        elif phase == Phase.PAUSED:
            self.paused()
        elif phase == Phase.SUCCEEDED and self.s.retired:
            at = parse_time(self.s.scale_down_at)
            if at is not None and self.now >= at:
                self.events.append(
                    (
                        "Normal",
                        "ScaledDown",
                        f"scaled down retired champion(s): {', '.join(self.s.retired)}",
                    )
                )
                self.s.retired = []
                self.s.scale_down_at = None


def _weights(spec: RolloutSpec, s: RolloutStatus, obs: Observations) -> Traffic:
    ready = bool((f := obs.facts(s.challenger)) and f.ready)
    challenger_weight = 0
    mirror = 0
    if s.challenger and ready:
        if s.phase == Phase.CANARY and s.step is not None:
            challenger_weight = spec.strategy.canary.steps[s.step].weight
        elif s.phase == Phase.SHADOW and spec.strategy.shadow:
            mirror = spec.strategy.shadow.mirror_percent
        elif s.phase == Phase.PAUSED and s.paused_from == Phase.CANARY and s.step is not None:
            challenger_weight = spec.strategy.canary.steps[s.step].weight  # the step's, held
        elif s.phase == Phase.PAUSED and s.paused_from == Phase.SHADOW and spec.strategy.shadow:
            mirror = spec.strategy.shadow.mirror_percent
        elif s.phase == Phase.PAUSED and s.paused_from is None:
            # Paused by an operator that did not record where from: what it held.
            challenger_weight = s.weights.challenger
            mirror = s.mirror_percent
    if s.champion is None:
        challenger_weight = 0
    return Traffic(
        champion=s.champion,
        challenger=s.challenger if (challenger_weight or mirror) else None,
        champion_weight=100 - challenger_weight,
        challenger_weight=challenger_weight,
        mirror_percent=mirror,
    )


def _children(spec: RolloutSpec, s: RolloutStatus, obs: Observations) -> dict[str, int]:
    out: dict[str, int] = {}
    champion = obs.facts(s.champion)
    challenger = obs.facts(s.challenger)
    if champion is not None and s.champion:
        replicas = champion.replicas
        if (
            spec.strategy.capacity_mode == "swap"
            and challenger is not None
            and s.challenger
            and s.phase in SERVING_CHALLENGER
        ):
            replicas = max(1, champion.replicas - challenger.replicas)
        out[s.champion] = replicas
    runs_challenger = s.phase in SERVING_CHALLENGER or (
        s.phase == Phase.PENDING and (obs.admission is None or obs.admission.fits)
    )
    if (
        challenger is not None
        and s.challenger
        and challenger.exists
        and challenger.valid
        and runs_challenger
    ):
        out[s.challenger] = challenger.replicas
    for name in s.retired:
        facts = obs.facts(name)
        if facts is not None and name not in out:
            out[name] = facts.replicas
    return out


def _serving_problem(t: _Tick) -> tuple[str, str] | None:
    """Why the champion cannot serve at full strength (reason, message), None when it can."""
    name = t.s.champion
    facts = t.obs.facts(name)
    if not name or facts is None:
        return None
    who = f"champion {name}"
    if not facts.exists:
        return (
            reasons.SERVING_VERSION_MISSING,
            f"the ModelVersion of the {who} does not exist any more (was its finalizer removed by hand?): "
            f"its children are kept as they are but cannot be rebuilt; recreate ModelVersion {name}, or roll out another version",
        )
    if facts.missing:
        many = len(facts.missing) > 1
        return (
            reasons.SERVING_CHILD_MISSING,
            f"{who}: {' and '.join(facts.missing)} {'are' if many else 'is'} missing (deleted?): "
            f"recreating {'them' if many else 'it'}; Degraded until {'they are' if many else 'it is'} Ready again",
        )
    if facts.short:
        return (
            reasons.SERVING_CHILD_NOT_READY,
            f"{who}: {'; '.join(facts.short)}; Degraded until it is Ready again",
        )
    return None


PROGRESSING: dict[Phase | None, tuple[ConditionStatus, str]] = {
    None: (ConditionStatus.FALSE, reasons.STABLE),
    Phase.PENDING: (ConditionStatus.TRUE, reasons.ROLLOUT_PENDING),
    Phase.CAPACITY_PENDING: (ConditionStatus.TRUE, reasons.WAITING_FOR_CAPACITY),
    Phase.EVAL_GATE: (ConditionStatus.TRUE, Phase.EVAL_GATE.value),
    Phase.SHADOW: (ConditionStatus.TRUE, Phase.SHADOW.value),
    Phase.CANARY: (ConditionStatus.TRUE, Phase.CANARY.value),
    # A paused Deployment's Progressing is Unknown too (reason DeploymentPaused).
    Phase.PAUSED: (ConditionStatus.UNKNOWN, Phase.PAUSED.value),
    Phase.SUCCEEDED: (ConditionStatus.FALSE, Phase.SUCCEEDED.value),
    Phase.ROLLED_BACK: (ConditionStatus.FALSE, Phase.ROLLED_BACK.value),
    Phase.ABORTED: (ConditionStatus.FALSE, Phase.ABORTED.value),
}
"""Progressing's status and reason by phase; Shadow and Canary say more while they wait."""
DEGRADED_PHASES = {Phase.ROLLED_BACK, Phase.ABORTED, Phase.CAPACITY_PENDING}
"""Phases that are Degraded=True (reason: the phase): the desired version does not serve,
and will not without a change (a retry, another version, free GPUs)."""


def _conditions(t: _Tick) -> None:
    s, now, gen = t.s, t.now, t.generation
    phase = Phase(s.phase) if s.phase else None  # a stored status holds it as a plain string
    status, reason = PROGRESSING.get(phase, (ConditionStatus.TRUE, str(phase)))
    if phase in (Phase.SHADOW, Phase.CANARY) and not t.challenger_ready():
        reason = reasons.CHALLENGER_NOT_READY
    elif phase in (Phase.SHADOW, Phase.CANARY) and t.waiting:
        reason = reasons.WAITING_FOR_EVIDENCE
    s.conditions = set_condition(
        s.conditions,
        ConditionType.PROGRESSING,
        status,
        reason,
        s.message or (_PHASE_DOCS[phase] if phase else "no rollout yet"),
        now,
        gen,
    )
    serving_problem = _serving_problem(t)
    problem = serving_problem or t.blocked
    before = get_condition(s.conditions, ConditionType.DEGRADED)
    degraded_phase = phase in DEGRADED_PHASES
    if degraded_phase and phase is not None:
        reason = phase.value
        message = (s.message or _PHASE_DOCS[phase]) + (f"; {problem[1]}" if problem else "")
    elif problem is not None:
        reason, message = problem
    else:
        reason, message = reasons.AS_EXPECTED, _not_degraded(t)
    s.conditions = set_condition(
        s.conditions,
        ConditionType.DEGRADED,
        degraded_phase or problem is not None,
        reason,
        message,
        now,
        gen,
    )
    if problem is not None and (
        before is None or before.status != "True" or before.reason != problem[0]
    ):
        t.events.append(("Warning", problem[0], problem[1]))
    facts = t.obs.facts(s.champion)
    serving = facts is None or facts.serving
    ready = s.champion is not None and serving
    if ready:
        message = f"{s.champion} serves {s.weights.champion}% of traffic"
        if facts is not None and facts.deleting:
            message += f"; its ModelVersion is being deleted and is kept while this Rollout uses it (see ModelVersion {s.champion}'s Deleting condition)"
    elif s.champion is not None and not serving and serving_problem is not None:
        message = serving_problem[1]
    else:
        message = "no version serves this endpoint yet"
    s.conditions = set_condition(
        s.conditions,
        ConditionType.READY,
        ready,
        reasons.STABLE
        if ready
        else serving_problem[0]
        if s.champion is not None and not serving and serving_problem is not None
        else reasons.CHAMPION_MISSING,
        message,
        now,
        gen,
    )


_PHASE_DOCS: dict[Phase, str] = {
    Phase.PENDING: "waiting for the challenger's ModelVersion to be valid",
    Phase.CAPACITY_PENDING: "the challenger's GPUPool cannot fit it yet",
    Phase.EVAL_GATE: "offline evaluations run against the challenger; no production traffic",
    Phase.SHADOW: "the challenger receives mirrored traffic",
    Phase.CANARY: "the challenger serves a share of live traffic",
    Phase.PAUSED: "paused: nothing advances until champion.dev/pause=false",
    Phase.SUCCEEDED: "the desired version is champion and serves all traffic",
    Phase.ROLLED_BACK: "the challenger was rejected; the champion serves all traffic",
    Phase.ABORTED: "stopped by an abort annotation; the champion serves all traffic",
}
"""What each phase means: the conditions' message when status.message is empty."""


def step_label(spec: RolloutSpec, s: RolloutStatus) -> str | None:
    """Where the rollout is in its strategy, numbered as the messages number it ("2/3")."""
    phase = s.paused_from if s.phase == Phase.PAUSED else s.phase
    steps = spec.strategy.canary.steps
    if phase == Phase.CANARY and s.step is not None and steps:
        return f"{s.step + 1}/{len(steps)}"
    return {Phase.EVAL_GATE: "gate", Phase.SHADOW: "shadow"}.get(Phase(phase)) if phase else None


def _headline_reason(s: RolloutStatus) -> str | None:
    """The one reason `kubectl get -o wide` shows: what is wrong if anything is, else what
    is happening."""
    degraded = get_condition(s.conditions, ConditionType.DEGRADED)
    if degraded is not None and degraded.status == "True":
        return degraded.reason
    progressing = get_condition(s.conditions, ConditionType.PROGRESSING)
    return progressing.reason if progressing is not None else None


def _not_degraded(t: _Tick) -> str:
    """Degraded=False's message: what was checked."""
    s = t.s
    if not s.champion:
        return "nothing is wrong: no version serves this endpoint yet (first rollout)"
    return f"nothing is wrong: champion {s.champion} serves at full strength"


def decide(
    spec: RolloutSpec,
    status: RolloutStatus,
    obs: Observations,
    now: datetime,
    generation: int | None = None,
) -> Decision:
    tick = _Tick(spec, status, obs, now, generation)
    tick.run()
    s = tick.s
    traffic = _weights(spec, s, obs)
    s.weights = Weights(
        champion=traffic.champion_weight if s.champion else 0, challenger=traffic.challenger_weight
    )
    s.mirror_percent = traffic.mirror_percent
    s.observed_generation = generation
    _conditions(tick)
    s.step_label = step_label(spec, s)
    s.reason = _headline_reason(s)
    children = _children(spec, s, obs)
    challenger = obs.facts(s.challenger)
    reserve = None
    if s.challenger and challenger is not None and s.phase in SERVING_CHALLENGER | {Phase.PENDING}:
        reserve = (
            challenger.replicas * challenger.gpus_per_replica
            if obs.admission is None or obs.admission.fits
            else 0
        )
    elif s.reserved_gpus:
        reserve = 0
    if reserve is not None:
        s.reserved_gpus = reserve
    start_evals: list[str] = []
    if s.phase == Phase.EVAL_GATE and spec.strategy.eval_gate:
        start_evals = [
            n
            for n in spec.strategy.eval_gate.suites
            if (st := obs.evals.get(n)) is None or st.status == "missing"
        ]
    return Decision(
        start_evals=start_evals,
        status=s,
        traffic=traffic,
        children=children,
        events=tick.events,
        stage_updates=tick.stages,
        reserve=reserve,
        finished=tick.finished,
        verdict_reason=tick.verdict.code if tick.verdict else None,
        verdict_decision=tick.verdict.decision if tick.verdict else None,
        transitions=tick.transitions,
    )
