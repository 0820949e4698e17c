"""The Rollout state machine, table-driven over phases x signals (pure: no cluster, no clock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from champion.api.v1alpha1.modelversion import Stage
from champion.api.v1alpha1.rollout import EvalGate, Phase, RolloutSpec, RolloutStatus
from champion.domain.judge import Counts, Histogram, Judge
from champion.domain.placement import Admission
from champion.domain.rollout.machine import decide, judge_config
from champion.domain.rollout.observations import EvalState, Observations, VersionFacts
from champion.domain.rollout.transitions import Event

T0 = datetime(2026, 11, 24, 12, 0, 0, tzinfo=UTC)

SPEC = RolloutSpec.model_validate(
    {
        "modelVersion": "v2",
        "strategy": {
            "shadow": {"durationSeconds": 60, "mirrorPercent": 50},
            "canary": {
                "steps": [
                    {"weight": 10, "durationSeconds": 60},
                    {"weight": 50, "durationSeconds": 60},
                ]
            },
        },
        "analysis": {
            "intervalSeconds": 10,
            "maxInconclusive": 3,
            "metrics": [{"name": "errors", "preset": "vllm-errors", "margin": 0.2}],
        },
    }
)


def facts(*ready: str, invalid: tuple[str, ...] = ()) -> dict[str, VersionFacts]:
    out = {}
    for name in ("v1", "v2", "v3"):
        out[name] = VersionFacts(
            name,
            valid=name not in invalid,
            message="bad" if name in invalid else "",
            ready=name in ready,
            replicas=2,
            gpus_per_replica=1,
            cost_per_gpu_hour=2.0,
        )
    return out


def status(
    phase: Phase | None,
    champion: str | None = "v1",
    challenger: str | None = "v2",
    step: int | None = None,
    started: datetime = T0,
    **extra: object,
) -> RolloutStatus:
    """A stored status as the machine writes it: in Shadow or a canary step, the route already
    carries that phase's mirror or weight (pass `weights`/`mirrorPercent` to say it does not)."""
    routed: dict[str, object] = {}
    if phase == Phase.SHADOW and SPEC.strategy.shadow:
        routed["mirrorPercent"] = SPEC.strategy.shadow.mirror_percent
    elif phase == Phase.CANARY and step is not None:
        weight = SPEC.strategy.canary.steps[step].weight
        routed["weights"] = {"champion": 100 - weight, "challenger": weight}
    return RolloutStatus.model_validate(
        {
            **routed,
            "phase": phase,
            "champion": champion,
            "challenger": challenger,
            "step": step,
            "phaseStartedAt": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "costUpdatedAt": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
            **extra,
        }
    )


ERRORS_OK = {"errors": Counts(1, 100, 10, 1000)}  # the challenger has 9% of the requests
ERRORS_OK_HALF = {"errors": Counts(5, 500, 5, 500)}  # a healthy interval at the 50% step
ERRORS_BAD = {"errors": Counts(30, 100, 10, 1000)}
# The judge's state after one healthy interval at the 50% step: the horizon has evidence to
# promote on (and the split is the step's: no sample-ratio mismatch).
_judge = Judge(judge_config(SPEC))
_judge.observe(ERRORS_OK_HALF, expected_share=0.5)
SEEN_ERRORS_OK = _judge.to_dict()


@pytest.mark.parametrize(
    ("name", "before", "obs", "dt", "phase", "weights", "mirror"),
    [
        (
            "first rollout waits for Ready",
            status(None, None, None),
            Observations(facts()),
            0,
            Phase.PENDING,
            (0, 0),
            0,
        ),
        (
            "first rollout routes 100% once Ready",
            status(Phase.PENDING, None, "v2"),
            Observations(facts("v2")),
            0,
            Phase.SUCCEEDED,
            (100, 0),
            0,
        ),
        (
            "new version starts pending",
            status(Phase.SUCCEEDED, "v1", None),
            Observations(facts("v1")),
            0,
            Phase.PENDING,
            (100, 0),
            0,
        ),
        (
            "pending with a ready challenger goes to shadow",
            status(Phase.PENDING),
            Observations(facts("v1", "v2")),
            0,
            Phase.SHADOW,
            (100, 0),
            50,
        ),
        (
            "no capacity holds in CapacityPending",
            status(Phase.PENDING),
            Observations(facts("v1"), admission=Admission(False, 'GPUPool "h100" has 1 free')),
            0,
            Phase.CAPACITY_PENDING,
            (100, 0),
            0,
        ),
        (
            "invalid challenger stays pending",
            status(Phase.PENDING),
            Observations(facts("v1", "v2", invalid=("v2",))),
            0,
            Phase.PENDING,
            (100, 0),
            0,
        ),
        (
            "shadow holds until its duration",
            status(Phase.SHADOW),
            Observations(facts("v1", "v2")),
            30,
            Phase.SHADOW,
            (100, 0),
            50,
        ),
        (
            "shadow ends into canary step 0",
            status(Phase.SHADOW),
            Observations(facts("v1", "v2")),
            61,
            Phase.CANARY,
            (90, 10),
            0,
        ),
        (
            "challenger not ready gets no traffic",
            status(Phase.CANARY, step=0),
            Observations(facts("v1")),
            10,
            Phase.CANARY,
            (100, 0),
            0,
        ),
        (
            "canary step advances after its duration",
            status(Phase.CANARY, step=0),
            Observations(facts("v1", "v2")),
            61,
            Phase.CANARY,
            (50, 50),
            0,
        ),
        (
            "last step ends in promotion",
            status(Phase.CANARY, step=1, analysisState=SEEN_ERRORS_OK),
            Observations(facts("v1", "v2")),
            61,
            Phase.SUCCEEDED,
            (100, 0),
            0,
        ),
        (
            "judge rollback rolls back",
            status(Phase.CANARY, step=0),
            Observations(facts("v1", "v2"), metrics=ERRORS_BAD),
            11,
            Phase.CANARY,
            (90, 10),
            0,
        ),
        (
            "prometheus down holds",
            status(Phase.CANARY, step=0),
            Observations(facts("v1", "v2"), metrics_error="Prometheus unreachable"),
            11,
            Phase.CANARY,
            (90, 10),
            0,
        ),
        (
            "manual abort returns traffic",
            status(Phase.CANARY, step=0),
            Observations(facts("v1", "v2"), actions={"abort": "1"}),
            5,
            Phase.ABORTED,
            (100, 0),
            0,
        ),
        (
            "manual promote skips to 100%",
            status(Phase.SHADOW),
            Observations(facts("v1", "v2"), actions={"promote": "1"}),
            5,
            Phase.SUCCEEDED,
            (100, 0),
            0,
        ),
        (
            "manual pause holds the weight",
            status(Phase.CANARY, step=1, weights={"champion": 50, "challenger": 50}),
            Observations(facts("v1", "v2"), actions={"pause": "true"}),
            5,
            Phase.PAUSED,
            (50, 50),
            0,
        ),
    ],
)
def test_transitions(
    name: str,
    before: RolloutStatus,
    obs: Observations,
    dt: int,
    phase: Phase,
    weights: tuple[int, int],
    mirror: int,
) -> None:
    if name == "new version starts pending":
        before = before.model_copy(update={"challenger": None})
    if name == "judge rollback rolls back":
        # A tripled error rate crosses the threshold within a few intervals.
        d = None
        s = before
        for i in range(1, 6):
            d = decide(SPEC, s, obs, T0 + timedelta(seconds=11 * i), 1)
            s = d.status
            if s.phase == Phase.ROLLED_BACK:
                break
        assert d is not None and d.status.phase == Phase.ROLLED_BACK
        assert (d.status.weights.champion, d.status.weights.challenger) == (100, 0)
        assert d.stage_updates == {"v2": Stage.ROLLED_BACK}
        assert d.status.history[-1].evidence and "errors" in d.status.message
        return
    d = decide(SPEC, before, obs, T0 + timedelta(seconds=dt), 1)
    assert d.status.phase == phase, (name, d.status.message)
    assert (d.status.weights.champion, d.status.weights.challenger) == weights, name
    assert d.status.mirror_percent == mirror, name


def test_promotion_retires_the_old_champion_and_updates_stages() -> None:
    looked = decide(
        SPEC,
        status(Phase.CANARY, step=1),
        Observations(facts("v1", "v2"), metrics=ERRORS_OK_HALF),
        T0 + timedelta(seconds=30),
        1,
    )
    assert looked.status.phase == Phase.CANARY
    d = decide(
        SPEC,
        looked.status,
        Observations(facts("v1", "v2")),
        T0 + timedelta(seconds=61),
        1,
    )
    assert d.status.champion == "v2" and d.status.challenger is None
    assert d.stage_updates == {"v1": Stage.RETIRED, "v2": Stage.CHAMPION}
    assert d.status.retired == ["v1"] and d.children.get("v1") == 2  # kept until scale-down delay
    later = decide(
        SPEC, d.status, Observations(facts("v1", "v2")), T0 + timedelta(seconds=61 + 301), 1
    )
    assert later.status.retired == [] and "v1" not in later.children


@pytest.mark.parametrize(
    ("action", "phase"), [("rollback", Phase.ROLLED_BACK), ("pause", Phase.PAUSED)]
)
def test_the_horizon_without_any_data_holds_until_max_inconclusive(
    action: str, phase: Phase
) -> None:
    spec = SPEC.model_copy(deep=True)
    spec.analysis.on_inconclusive = action  # type: ignore[assignment]
    no_traffic = Observations(facts("v1", "v2"), metrics={"errors": Counts(0, 0, 0, 0)})
    s = status(Phase.CANARY, step=1)
    held = []
    for i in range(1, 4):
        d = decide(spec, s, no_traffic, T0 + timedelta(seconds=61 + 11 * i), 1)
        s = d.status
        held.append(s.phase)
        if i == 1:
            # Never promoted on no data, and not rolled back by the horizon alone.
            assert s.phase == Phase.CANARY and s.champion == "v1", s.message
            assert "holding at the end of the canary" in s.message
            assert f"it will {action}" in s.message
    assert held == [Phase.CANARY, Phase.CANARY, phase], held
    assert s.champion == "v1" and "maxInconclusive=3" in s.message
    # The hold is said once in history, not once per tick.
    assert sum("holding at the end" in h.message for h in s.history) == 1


def test_prometheus_down_rolls_back_only_after_max_inconclusive() -> None:
    s = status(Phase.CANARY, step=0)
    for i in range(1, 3):
        d = decide(
            SPEC,
            s,
            Observations(facts("v1", "v2"), metrics_error="connection refused"),
            T0 + timedelta(seconds=11 * i),
            1,
        )
        s = d.status
        assert s.phase == Phase.CANARY and s.inconclusive_count == i
        assert any(
            c.type == "Analysis" and c.reason == "PrometheusUnavailable" for c in s.conditions
        )
    d = decide(
        SPEC,
        s,
        Observations(facts("v1", "v2"), metrics_error="connection refused"),
        T0 + timedelta(seconds=33),
        1,
    )
    assert d.status.phase == Phase.ROLLED_BACK and "maxInconclusive=3" in d.status.message


def test_spec_changed_mid_rollout_to_a_third_version() -> None:
    spec = SPEC.model_copy(update={"model_version": "v3"})
    d = decide(
        spec,
        status(Phase.CANARY, step=0),
        Observations(facts("v1", "v2", "v3")),
        T0 + timedelta(seconds=5),
        2,
    )
    assert d.status.challenger == "v3" and d.status.phase == Phase.PENDING
    assert d.stage_updates == {"v2": Stage.REGISTERED}
    assert "v2" not in d.children and d.status.weights.challenger == 0


def test_manual_actions_are_acted_on_once() -> None:
    obs = Observations(facts("v1", "v2"), actions={"abort": "a"})
    d = decide(SPEC, status(Phase.CANARY, step=0), obs, T0, 1)
    assert d.status.phase == Phase.ABORTED and d.status.handled_actions == {"abort": "a"}
    again = decide(SPEC, d.status, obs, T0 + timedelta(seconds=5), 1)
    assert again.status.phase == Phase.ABORTED and not again.events
    retry = decide(
        SPEC,
        again.status,
        Observations(facts("v1", "v2"), actions={"abort": "a", "retry": "r"}),
        T0 + timedelta(seconds=9),
        1,
    )
    assert retry.status.phase == Phase.PENDING and retry.status.challenger == "v2"


def test_conditions_for_argo_cd() -> None:
    d = decide(
        SPEC,
        status(Phase.CANARY, step=0),
        Observations(facts("v1", "v2"), actions={"abort": "x"}),
        T0,
        1,
    )
    by_type = {c.type: c for c in d.status.conditions}
    assert by_type["Degraded"].status == "True" and by_type["Progressing"].status == "False"
    assert by_type["Ready"].status == "True"


def test_gpu_hours_accrue_while_the_challenger_runs() -> None:
    d = decide(
        SPEC,
        status(Phase.CANARY, step=0),
        Observations(facts("v1", "v2"), metrics=ERRORS_OK),
        T0 + timedelta(hours=1),
        1,
    )
    assert d.status.gpu_hours == pytest.approx(2.0)  # 2 replicas x 1 GPU x 1 h
    assert d.status.cost == pytest.approx(4.0)


GATED = SPEC.model_copy(
    update={
        "strategy": SPEC.strategy.model_copy(
            update={"eval_gate": EvalGate(suites=["qa"], timeout_seconds=120)}
        )
    }
)


@pytest.mark.parametrize(
    ("state", "dt", "phase", "starts"),
    [
        (None, 1, Phase.EVAL_GATE, ["qa"]),
        (EvalState("running"), 1, Phase.EVAL_GATE, []),
        (EvalState("passed", score=0.97), 1, Phase.SHADOW, []),
        (EvalState("failed", "score 0.500 < minScore 0.9", ("q3", "q7")), 1, Phase.ROLLED_BACK, []),
        (EvalState("running"), 121, Phase.ROLLED_BACK, []),
    ],
)
def test_eval_gate(state: EvalState | None, dt: int, phase: Phase, starts: list[str]) -> None:
    evals = {"qa": state} if state else {}
    d = decide(
        GATED,
        status(Phase.EVAL_GATE),
        Observations(facts("v1", "v2"), evals=evals),
        T0 + timedelta(seconds=dt),
        1,
    )
    assert d.status.phase == phase, d.status.message
    assert d.start_evals == starts
    assert d.status.weights.challenger == 0
    if phase != Phase.SHADOW:
        assert (
            d.status.mirror_percent == 0
        )  # no production traffic during the gate or after it fails
    if phase == Phase.ROLLED_BACK and state and state.status == "failed":
        assert "q3, q7" in d.status.message and "minScore" in d.status.message
        assert d.stage_updates == {"v2": Stage.ROLLED_BACK}


def test_pending_enters_the_eval_gate_with_the_challenger_deployed() -> None:
    d = decide(GATED, status(Phase.PENDING), Observations(facts("v1")), T0, 1)
    assert (
        d.status.phase == Phase.EVAL_GATE
        and d.children.get("v2") == 2
        and d.status.weights.challenger == 0
    )


def test_latency_margin_reaches_the_judge_for_histograms_only() -> None:
    spec = RolloutSpec.model_validate(
        {
            "modelVersion": "v2",
            "analysis": {
                "metrics": [
                    {
                        "name": "latency",
                        "preset": "vllm-latency",
                        "margin": 0.3,
                        "latencyMargin": 0,
                    },
                    {"name": "errors", "preset": "vllm-errors", "margin": 0.5},
                ]
            },
        }
    )
    cfg = judge_config(spec)
    assert {n: (c.margin, c.latency_margin) for n, c in cfg.metrics.items()} == {
        "latency_e2e": (0.3, 0.0),
        "latency_ttft": (0.3, 0.0),
        "latency_tpot": (0.3, 0.0),
        "errors": (0.5, None),
    }
    # Without latencyMargin the margin is how much slower the challenger may be.
    assert judge_config(SPEC).metrics["errors"].histogram_margins() == (0.2, 0.0)


def test_the_champions_history_places_the_edges_so_the_first_interval_is_tested() -> None:
    spec = RolloutSpec.model_validate(
        {
            "modelVersion": "v2",
            "strategy": {"shadow": {"durationSeconds": 60, "mirrorPercent": 100}},
            "analysis": {
                "intervalSeconds": 10,
                "metrics": [{"name": "latency", "preset": "kserve-latency"}],
            },
        }
    )
    edges = [0.1, 0.25, 0.5, 1.0]
    history = {"latency": Histogram(edges, [], [3000, 4000, 2000, 900, 100])}
    now = {"latency": Histogram(edges, [30, 40, 20, 9, 1], [30, 40, 20, 9, 1])}
    before, at = status(Phase.SHADOW), T0 + timedelta(seconds=10)

    def tested(obs: Observations) -> dict[str, float]:
        state = decide(spec, before, obs, at, 1).status.analysis_state or {}
        latency = state["metrics"]["latency"]
        return {name: t["cum"][1] for name, t in latency["tests"].items()}

    # The champion's 10,000 requests before the analysis chose the edges: the first interval's
    # 100 challenger requests are already tested at each of them.
    first = tested(Observations(facts("v1", "v2"), metrics=now, warmup=history))
    assert first and set(first.values()) == {100.0}
    # Without that history the same interval only starts the warm-up.
    assert tested(Observations(facts("v1", "v2"), metrics=now)) == {}


def test_an_interval_straddling_a_change_of_weights_is_not_checked_for_sample_ratio() -> None:
    """Shadow mirrored half the requests; the first canary interval still holds some of
    them. Comparing its split with the step's 10% would flag broken routing that is not."""
    half = {"errors": Counts(1, 500, 1, 500)}  # a 50/50 split, far from the step's 10%

    def srm_requests(last_analysis: datetime) -> list[float]:
        before = status(
            Phase.CANARY,
            step=0,
            started=T0,
            lastAnalysisAt=last_analysis.strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        d = decide(
            SPEC,
            before,
            Observations(facts("v1", "v2"), metrics=half),
            T0 + timedelta(seconds=15),
            1,
        )
        return (d.status.analysis_state or {})["srm"]["n"]

    assert srm_requests(T0 - timedelta(seconds=5)) == [0.0, 0.0]  # began in shadow: not checked
    assert srm_requests(T0 + timedelta(seconds=5)) == [500.0, 1000.0]  # inside the step: checked


def test_a_step_counts_from_when_the_challenger_gets_its_weight() -> None:
    """A challenger that becomes Ready after its step's duration has passed still gets the step:
    the route carries that weight for the whole duration before the next step."""
    s = status(Phase.CANARY, step=0, weights={"champion": 100, "challenger": 0})
    not_ready = Observations(facts("v1"))
    for t in (10, 40, 90):  # longer than the step's 60 s
        d = decide(SPEC, s, not_ready, T0 + timedelta(seconds=t), 1)
        s = d.status
        assert (s.phase, s.step, s.weights.challenger) == (Phase.CANARY, 0, 0)
    ready = Observations(facts("v1", "v2"), metrics=ERRORS_OK)
    d = decide(SPEC, s, ready, T0 + timedelta(seconds=91), 1)
    assert (d.status.step, d.status.weights.challenger) == (0, 10), d.status.message
    d = decide(SPEC, d.status, ready, T0 + timedelta(seconds=140), 1)
    assert (d.status.step, d.status.weights.challenger) == (0, 10), "left the step early"
    d = decide(SPEC, d.status, ready, T0 + timedelta(seconds=152), 1)
    assert (d.status.step, d.status.weights.challenger) == (1, 50)


def test_a_tick_slower_than_the_step_still_routes_the_step_before_leaving_it() -> None:
    """A busy operator ticks less often than a short step lasts: the first tick that finds the
    challenger Ready gives the route the step's weight, and the step's time starts there."""
    s = status(Phase.CANARY, step=0, weights={"champion": 100, "challenger": 0})
    s = decide(SPEC, s, Observations(facts("v1")), T0 + timedelta(seconds=1), 1).status
    ready = Observations(facts("v1", "v2"), metrics=ERRORS_OK)
    d = decide(SPEC, s, ready, T0 + timedelta(seconds=200), 1)  # 199 s later: > the step's 60 s
    assert (d.status.step, d.status.weights.challenger) == (0, 10), d.status.message
    d = decide(SPEC, d.status, ready, T0 + timedelta(seconds=261), 1)
    assert (d.status.step, d.status.weights.challenger) == (1, 50)


# --- pause and resume: a pause returns where it came from ------------------------------------


def _act(
    spec: RolloutSpec,
    s: RolloutStatus,
    at: float,
    ready: tuple[str, ...] = ("v1", "v2"),
    **obs: Any,
) -> RolloutStatus:
    """One tick `at` seconds after T0, the challenger and champion Ready unless told."""
    return decide(spec, s, Observations(facts(*ready), **obs), T0 + timedelta(seconds=at), 1).status


def test_pause_then_resume_returns_to_the_eval_gate() -> None:
    """Paused in EvalGate, resumed: back in the gate, not on to Shadow with no eval passed."""
    paused = _act(GATED, status(Phase.EVAL_GATE), 5, actions={"pause": "true"})
    assert paused.phase == Phase.PAUSED
    resumed = _act(GATED, paused, 10, actions={"pause": "false"})
    assert resumed.phase == Phase.EVAL_GATE, resumed.message
    assert (resumed.weights.challenger, resumed.mirror_percent) == (0, 0)
    assert paused.paused_from == Phase.EVAL_GATE and resumed.paused_from is None
    # The gate still decides: it passes into Shadow only once the suite has passed.
    passed = _act(GATED, resumed, 15, evals={"qa": EvalState("passed", score=0.97)})
    assert passed.phase == Phase.SHADOW


@pytest.mark.parametrize(
    ("before", "back"),
    [
        (status(Phase.SHADOW), (Phase.SHADOW, None, 0, 50)),
        (status(Phase.CANARY, step=0), (Phase.CANARY, 0, 10, 0)),
        (status(Phase.CANARY, step=1), (Phase.CANARY, 1, 50, 0)),
    ],
)
def test_a_manual_pause_mid_phase_resumes_the_same_phase_and_step(
    before: RolloutStatus, back: tuple[Phase, int | None, int, int]
) -> None:
    """Pausing half-way through a step and resuming does not skip the rest of the step."""
    paused = _act(SPEC, before, 20, actions={"pause": "true"})
    assert paused.phase == Phase.PAUSED
    resumed = _act(SPEC, paused, 30, actions={"pause": "false"})
    got = (resumed.phase, resumed.step, resumed.weights.challenger, resumed.mirror_percent)
    assert got == back, resumed.message
    assert paused.paused_from == before.phase


def test_resume_after_a_steps_own_pause_goes_to_the_next_step() -> None:
    spec = SPEC.model_copy(deep=True)
    spec.strategy.canary.steps[0].pause = True
    paused = _act(spec, status(Phase.CANARY, step=0), 61)
    assert (paused.phase, paused.paused_from, paused.weights.challenger) == (
        Phase.PAUSED,
        Phase.CANARY,
        10,
    )
    assert paused.pause_reason == "StepPause"
    resumed = _act(spec, paused, 70, actions={"pause": "false"})
    assert (resumed.phase, resumed.step, resumed.weights.challenger) == (Phase.CANARY, 1, 50)


# --- sample-ratio mismatch: routing is broken, so nothing moves --------------------------------

# A gateway that sends the challenger half its weight: 5% of the requests at the 10% step.
HALF_ITS_WEIGHT = {"errors": Counts(1, 100, 38, 1900)}


def test_a_sample_ratio_mismatch_holds_the_step_and_rolls_back_after_max_inconclusive() -> None:
    spec = SPEC.model_copy(deep=True)
    spec.analysis.max_inconclusive = 10  # more intervals than the step lasts
    s = status(Phase.CANARY, step=0)
    seen: list[tuple[str, int | None, int, int]] = []
    for i in range(1, 20):  # 11 s apart: the step's 60 s are up by the 6th
        s = _act(spec, s, 11 * i, metrics=HALF_ITS_WEIGHT)
        seen.append((s.phase, s.step, s.weights.challenger, s.inconclusive_count))
        if s.phase != Phase.CANARY:
            break
    assert any(h.reason == "SampleRatioMismatch" for h in s.history)
    # Never past the 10% step, each SRM interval counted as inconclusive, then rolled back.
    assert all(step == 0 and weight == 10 for _, step, weight, _ in seen[:-1]), seen
    counts = [n for *_, n in seen[:-1] if n]
    assert counts == list(range(1, 10)), seen
    assert s.phase == Phase.ROLLED_BACK and s.champion == "v1", s.message
    assert "sample-ratio mismatch" in s.message


def test_a_sample_ratio_mismatch_is_reported_in_the_analysis_condition() -> None:
    s = status(Phase.CANARY, step=0)
    for i in range(1, 4):
        s = _act(SPEC, s, 11 * i, metrics=HALF_ITS_WEIGHT)
        if s.inconclusive_count:
            break
    analysis = next(c for c in s.conditions if c.type == "Analysis")
    assert (analysis.status, analysis.reason) == ("False", "SampleRatioMismatch")
    assert "sample-ratio mismatch" in analysis.message


def test_a_sample_ratio_mismatch_blocks_promotion_at_the_final_look() -> None:
    """The judge flagged broken routing; the last step's time is up: no promotion."""
    judge = Judge(judge_config(SPEC))
    for _ in range(5):
        judge.observe({"errors": Counts(2, 100, 18, 1900)}, expected_share=0.5)
    state = judge.to_dict()
    assert state["srm"].get("flag"), "the judge flags this split"
    d = decide(
        SPEC,
        status(Phase.CANARY, step=1, analysisState=state),
        Observations(facts("v1", "v2")),
        T0 + timedelta(seconds=61),
        1,
    )
    assert d.status.phase == Phase.CANARY and d.status.champion == "v1", d.status.message
    assert d.stage_updates.get("v2") != Stage.CHAMPION
    assert "sample-ratio mismatch" in d.status.message


# --- the judge keeps watching while paused: only advancing waits -------------------------------


def _paused_at_step_0(spec: RolloutSpec = SPEC) -> RolloutStatus:
    paused = _act(spec, status(Phase.CANARY, step=0), 5, actions={"pause": "true"})
    assert paused.phase == Phase.PAUSED and paused.weights.challenger == 10
    return paused


def test_a_paused_canary_that_regresses_is_rolled_back() -> None:
    s = _paused_at_step_0()
    for i in range(1, 8):
        s = _act(SPEC, s, 5 + 11 * i, actions={"pause": "true"}, metrics=ERRORS_BAD)
        if s.phase != Phase.PAUSED:
            break
    assert s.phase == Phase.ROLLED_BACK, s.message
    assert (s.weights.champion, s.weights.challenger) == (100, 0)
    assert "errors" in s.message and s.history[-1].evidence


def test_a_paused_canary_keeps_counting_intervals_without_evidence() -> None:
    s = _paused_at_step_0()
    for i in range(1, 4):
        s = _act(SPEC, s, 5 + 11 * i, actions={"pause": "true"}, metrics_error="connection refused")
        if s.phase != Phase.PAUSED:
            break
        assert s.inconclusive_count == i and s.weights.challenger == 10
    # onInconclusive=rollback applies while paused as it does in the step.
    assert s.phase == Phase.ROLLED_BACK and "Prometheus unavailable" in s.message


def test_a_paused_canary_with_healthy_intervals_stays_paused_at_its_weight() -> None:
    s = _paused_at_step_0()
    for i in range(1, 12):  # far past the step's 60 s
        s = _act(SPEC, s, 5 + 11 * i, actions={"pause": "true"}, metrics=ERRORS_OK)
        assert (s.phase, s.step, s.weights.challenger) == (Phase.PAUSED, 0, 10), s.message
    assert s.analysis_state and s.analysis_state["looks"] == 11  # every interval was judged


def test_paused_with_on_inconclusive_pause_stays_paused_without_new_transitions() -> None:
    spec = SPEC.model_copy(deep=True)
    spec.analysis.on_inconclusive = "pause"  # type: ignore[assignment]
    s = _paused_at_step_0(spec)
    transitions = sum(h.decision == "transition" for h in s.history)
    for i in range(1, 6):
        s = _act(spec, s, 5 + 11 * i, actions={"pause": "true"}, metrics_error="down")
        assert s.phase == Phase.PAUSED and s.paused_from == Phase.CANARY
    assert sum(h.decision == "transition" for h in s.history) == transitions


def test_a_paused_eval_gate_that_fails_is_rolled_back() -> None:
    paused = _act(GATED, status(Phase.EVAL_GATE), 5, actions={"pause": "true"})
    failed = EvalState("failed", "score 0.500 < minScore 0.9", ("q3",))
    s = _act(GATED, paused, 10, actions={"pause": "true"}, evals={"qa": failed})
    assert s.phase == Phase.ROLLED_BACK and "q3" in s.message
    # A gate that passes while paused waits for the resume.
    passed = _act(
        GATED, paused, 10, actions={"pause": "true"}, evals={"qa": EvalState("passed", score=1.0)}
    )
    assert passed.phase == Phase.PAUSED and passed.weights.challenger == 0


def test_a_paused_canary_gets_its_steps_weight_back_after_the_challenger_was_not_ready() -> None:
    s = _paused_at_step_0()
    s = _act(SPEC, s, 10, ready=("v1",), actions={"pause": "true"})
    assert s.weights.challenger == 0  # not Ready: no traffic
    s = _act(SPEC, s, 15, actions={"pause": "true"})
    assert (s.phase, s.weights.challenger) == (Phase.PAUSED, 10)


def test_the_phase_whose_signals_are_read_while_paused_is_where_it_paused() -> None:
    """What the reconciler asks before reading metrics or eval results."""
    from champion.domain.rollout.machine import observing

    assert observing(status(Phase.CANARY, step=0)) == Phase.CANARY
    assert observing(_paused_at_step_0()) == Phase.CANARY
    assert (
        observing(_act(GATED, status(Phase.EVAL_GATE), 5, actions={"pause": "true"}))
        == Phase.EVAL_GATE
    )
    assert observing(status(Phase.SUCCEEDED, challenger=None)) == Phase.SUCCEEDED


# --- no evidence, no more traffic --------------------------------------------------------------


def test_prometheus_down_from_the_start_never_raises_a_weight() -> None:
    """The incident: Prometheus down, every interval inconclusive, and the rollout still went
    Shadow → 20% → 50%, then rolled back blaming "no metric ever had traffic on both versions"."""
    spec = SPEC.model_copy(deep=True)
    spec.analysis.max_inconclusive = 12
    s = status(Phase.SHADOW)
    seen = []
    for i in range(1, 20):  # 11 s apart: the shadow's 60 s are up by the 6th
        s = _act(spec, s, 11 * i, metrics_error="Prometheus at http://prom:9090 unreachable")
        seen.append((s.phase, s.weights.challenger))
        if s.phase not in (Phase.SHADOW, Phase.CANARY):
            break
    assert all(weight == 0 for _, weight in seen) and Phase.CANARY not in [p for p, _ in seen]
    assert s.phase == Phase.ROLLED_BACK and s.inconclusive_count == 12
    assert "Prometheus" in s.message and "unreachable" in s.message, s.message
    assert "no metric ever had traffic" not in s.message


def test_a_step_whose_time_is_up_without_evidence_waits_at_its_weight_naming_the_cause() -> None:
    spec = SPEC.model_copy(deep=True)
    spec.analysis.max_inconclusive = 20
    no_traffic = {"errors": Counts(0, 0, 0, 0)}
    s = status(Phase.CANARY, step=0)
    for i in range(1, 10):  # to 99 s, past the step's 60 s
        s = _act(spec, s, 11 * i, metrics=no_traffic)
        assert (s.phase, s.step, s.weights.challenger) == (Phase.CANARY, 0, 10), s.message
    assert "no traffic" in s.message and "10%" in s.message, s.message
    analysis = next(c for c in s.conditions if c.type == "Analysis")
    assert (analysis.status, analysis.reason) == ("False", "InsufficientEvidence")
    # The hold is said once, not once per tick.
    assert sum("time is up" in h.message for h in s.history) == 1
    # An interval with evidence lets the step go on.
    s = _act(spec, s, 110, metrics=ERRORS_OK)
    assert (s.phase, s.step, s.weights.challenger) == (Phase.CANARY, 1, 50), s.message


def test_a_tick_without_analysis_does_not_advance_after_an_inconclusive_interval() -> None:
    """Between intervals no metrics are read: the last one's lack of evidence still holds."""
    s = _act(SPEC, status(Phase.CANARY, step=0), 55, metrics_error="connection refused")
    s = _act(SPEC, s, 61)  # time up, no interval due
    assert (s.step, s.weights.challenger) == (0, 10), s.message
    assert "Prometheus" in s.message


@pytest.mark.parametrize(
    ("obs", "cause"),
    [
        ({"metrics_error": "connection refused"}, "connection refused"),
        ({"metrics": {"errors": Counts(0, 0, 0, 0)}}, "no traffic"),
        ({"metrics": HALF_ITS_WEIGHT}, "sample-ratio mismatch"),
    ],
)
def test_the_rollback_after_max_inconclusive_keeps_the_cause(
    obs: dict[str, Any], cause: str
) -> None:
    s = status(Phase.CANARY, step=0)
    for i in range(1, 30):
        s = _act(SPEC, s, 11 * i, **obs)
        if s.phase != Phase.CANARY:
            break
    assert s.phase == Phase.ROLLED_BACK and cause in s.message, s.message
    assert "maxInconclusive=3" in s.message


# --- conditions as kstatus and Argo CD read them -----------------------------------------------


def stored(s: RolloutStatus) -> RolloutStatus:
    """The status as the API server gives it back: phases are plain strings."""
    return RolloutStatus.model_validate(s.to_wire())


def _no_evidence_at_step_0() -> RolloutStatus:
    return _act(SPEC, status(Phase.CANARY, step=0), 61, metrics_error="connection refused")


def _rolled_back() -> RolloutStatus:
    s = status(Phase.CANARY, step=0)
    for i in range(1, 6):
        s = _act(SPEC, s, 11 * i, metrics=ERRORS_BAD)
    assert s.phase == Phase.ROLLED_BACK
    return s


@pytest.mark.parametrize(
    ("name", "spec", "before", "obs", "expected"),
    [
        (
            "pending",
            SPEC,
            status(Phase.PENDING),
            {"ready": ("v1",), "versions_invalid": True},
            ("True", "Pending"),
        ),
        (
            "capacity",
            SPEC,
            status(Phase.CAPACITY_PENDING),
            {"admission": Admission(False, "1 GPU free")},
            ("True", "WaitingForCapacity"),
        ),
        (
            "eval gate",
            GATED,
            status(Phase.EVAL_GATE),
            {"evals": {"qa": EvalState("running")}},
            ("True", "EvalGate"),
        ),
        (
            "shadow",
            SPEC,
            status(Phase.SHADOW, started=T0 + timedelta(seconds=30)),
            {},
            ("True", "Shadow"),
        ),
        ("canary", SPEC, status(Phase.CANARY, step=0), {}, ("True", "Canary")),
        (
            "challenger not ready",
            SPEC,
            status(Phase.CANARY, step=0),
            {"ready": ("v1",)},
            ("True", "ChallengerNotReady"),
        ),
        (
            "waiting for evidence",
            SPEC,
            _no_evidence_at_step_0(),
            {},
            ("True", "WaitingForEvidence"),
        ),
        (
            "paused",
            SPEC,
            status(
                Phase.PAUSED,
                step=0,
                pausedFrom="Canary",
                pauseReason="ManualPause",
                message="paused",
            ),
            {},
            ("Unknown", "Paused"),
        ),
        (
            "succeeded",
            SPEC,
            status(Phase.SUCCEEDED, "v2", None, message="v2 promoted"),
            {},
            ("False", "Succeeded"),
        ),
        ("rolled back", SPEC, _rolled_back(), {}, ("False", "RolledBack")),
        (
            "aborted",
            SPEC,
            status(Phase.ABORTED, message="aborted by annotation"),
            {},
            ("False", "Aborted"),
        ),
    ],
)
def test_progressing_says_what_is_happening(
    name: str,
    spec: RolloutSpec,
    before: RolloutStatus,
    obs: dict[str, Any],
    expected: tuple[str, str],
) -> None:
    ready = obs.pop("ready", ("v1", "v2"))
    if obs.pop("versions_invalid", False):
        obs["versions"] = facts(*ready, invalid=("v2",))
    versions = obs.pop("versions", facts(*ready))
    d = decide(spec, stored(before), Observations(versions, **obs), T0 + timedelta(seconds=65), 1)
    c = {c.type: c for c in d.status.conditions}
    assert (c["Progressing"].status, c["Progressing"].reason) == expected, (name, c["Progressing"])
    assert c["Progressing"].message, name


@pytest.mark.parametrize(
    ("name", "before", "expected"),
    [
        ("canary", status(Phase.CANARY, step=0), ("False", "AsExpected")),
        (
            "succeeded",
            status(Phase.SUCCEEDED, "v2", None, message="v2 promoted"),
            ("False", "AsExpected"),
        ),
        ("rolled back", _rolled_back(), ("True", "RolledBack")),
        ("aborted", status(Phase.ABORTED, message="aborted by annotation"), ("True", "Aborted")),
    ],
)
def test_degraded_is_true_only_when_something_is_wrong_and_always_says_why(
    name: str, before: RolloutStatus, expected: tuple[str, str]
) -> None:
    d = decide(SPEC, stored(before), Observations(facts("v1", "v2")), T0 + timedelta(seconds=65), 1)
    degraded = next(c for c in d.status.conditions if c.type == "Degraded")
    assert (degraded.status, degraded.reason) == expected, (name, degraded)
    assert degraded.message, name
    if name == "rolled back":
        assert "errors" in degraded.message  # the cause, not just the phase


def test_the_docs_progressing_table_is_the_machines() -> None:
    from pathlib import Path

    from champion.domain.rollout.machine import PROGRESSING

    doc = (Path(__file__).parents[2] / "docs" / "rollout.md").read_text()
    table = doc.split("<!-- progressing-table: begin -->")[1].split(
        "<!-- progressing-table: end -->"
    )[0]
    rows = {
        tuple(cell.strip().strip("`") for cell in line.strip("|").split("|"))
        for line in table.strip().splitlines()[2:]
    }
    machine = {(str(p), str(st), r) for p, (st, r) in PROGRESSING.items() if p is not None}
    assert rows == machine


# --- manual promote, one stage at a time ---------------------------------------------------------

STEP_VALUE = "step:2026-11-24T12:00:05Z"


def _paused(before: RolloutStatus) -> RolloutStatus:
    paused = _act(SPEC, before, 2, actions={"pause": "true"})
    assert paused.phase == Phase.PAUSED
    return paused


@pytest.mark.parametrize(
    ("name", "before", "value", "after"),
    [
        ("shadow to step 1", status(Phase.SHADOW), STEP_VALUE, (Phase.CANARY, 0, 10)),
        ("step 1 to step 2", status(Phase.CANARY, step=0), STEP_VALUE, (Phase.CANARY, 1, 50)),
        ("plain 'step'", status(Phase.CANARY, step=0), "step", (Phase.CANARY, 1, 50)),
        (
            "paused at step 1 to step 2",
            _paused(status(Phase.CANARY, step=0)),
            STEP_VALUE,
            (Phase.CANARY, 1, 50),
        ),
        (
            "paused in shadow to step 1",
            _paused(status(Phase.SHADOW)),
            STEP_VALUE,
            (Phase.CANARY, 0, 10),
        ),
        (
            "last step: full promote, no final look",
            status(Phase.CANARY, step=1),
            STEP_VALUE,
            (Phase.SUCCEEDED, None, 0),
        ),
    ],
)
def test_a_step_promote_advances_one_stage(
    name: str, before: RolloutStatus, value: str, after: tuple[Phase, int | None, int]
) -> None:
    d = decide(
        SPEC,
        before,
        Observations(facts("v1", "v2"), actions={"promote": value}),
        T0 + timedelta(seconds=5),
        1,
    )
    s = d.status
    assert (s.phase, s.step, s.weights.challenger) == after, (name, s.message)
    assert s.handled_actions.get("promote") == value
    last = s.history[-1]
    assert (last.decision, last.reason) == ("transition", "ManualPromote"), name
    assert d.events[-1][:2] == ("Normal", "ManualPromote"), name
    if after[0] == Phase.CANARY:
        k = (after[1] or 0) + 1
        assert (
            last.message
            == f"promoted to canary step {k}/2 by annotation champion.dev/promote={value}"
        )
    else:
        assert s.champion == "v2" and d.stage_updates == {"v1": Stage.RETIRED, "v2": Stage.CHAMPION}
        assert f"champion.dev/promote={value}" in last.message


@pytest.mark.parametrize(
    ("name", "spec", "before", "why"),
    [
        ("eval gate", GATED, status(Phase.EVAL_GATE), "eval gate"),
        (
            "paused eval gate",
            GATED,
            _act(GATED, status(Phase.EVAL_GATE), 2, actions={"pause": "true"}),
            "eval gate",
        ),
        ("pending", SPEC, status(Phase.PENDING), "Pending"),
        ("capacity pending", SPEC, status(Phase.CAPACITY_PENDING), "CapacityPending"),
    ],
)
def test_a_step_promote_is_handled_and_ignored_where_it_cannot_act(
    name: str, spec: RolloutSpec, before: RolloutStatus, why: str
) -> None:
    obs = Observations(
        facts("v1", "v2"),
        actions={"promote": STEP_VALUE},
        admission=Admission(False, "no GPUs") if before.phase == Phase.CAPACITY_PENDING else None,
        evals={"qa": EvalState("running")},
    )
    d = decide(spec, before, obs, T0 + timedelta(seconds=5), 1)
    s = d.status
    assert s.phase in (before.phase, Phase.EVAL_GATE, Phase.SHADOW), (name, s.phase)
    assert s.phase != Phase.SUCCEEDED and s.weights.challenger == 0, name
    assert s.handled_actions.get("promote") == STEP_VALUE
    ignored = [h for h in s.history if h.decision == "ignored" and h.reason == "ManualPromote"]
    assert ignored and why in ignored[-1].message and STEP_VALUE in ignored[-1].message, name


def test_a_full_promote_still_goes_to_100() -> None:
    s = _act(SPEC, status(Phase.CANARY, step=0), 5, actions={"promote": "2026-11-24T12:00:05Z"})
    assert s.phase == Phase.SUCCEEDED and s.champion == "v2"


def test_a_pause_set_while_pending_takes_effect_when_the_rollout_can_pause() -> None:
    pending = status(Phase.PENDING)
    # Pending, the challenger not valid yet: the pause is noted, not spent.
    s = decide(
        SPEC,
        pending,
        Observations(facts("v1", "v2", invalid=("v2",)), actions={"pause": "true"}),
        T0 + timedelta(seconds=1),
        1,
    ).status
    assert s.phase == Phase.PENDING and "pause" not in s.handled_actions
    assert any("pause" in h.message and "Pending" in h.message for h in s.history)
    # Valid now: it reaches Shadow and is paused there in the same decision.
    s = _act(SPEC, s, 2, actions={"pause": "true"})
    assert (s.phase, s.paused_from) == (Phase.PAUSED, Phase.SHADOW), s.message
    assert s.handled_actions.get("pause") == "true"
    resumed = _act(SPEC, s, 10, actions={"pause": "false"})
    assert resumed.phase == Phase.SHADOW


def test_a_pause_set_while_pending_with_a_gate_pauses_in_the_gate() -> None:
    s = _act(GATED, status(Phase.PENDING), 1, actions={"pause": "true"})
    assert (s.phase, s.paused_from) == (Phase.PAUSED, Phase.EVAL_GATE), s.message
    assert s.weights.challenger == 0 and s.mirror_percent == 0


# --- the phases the schema allows are the ones the machine holds --------------------------------


def test_every_phase_the_schema_allows_is_one_the_machine_holds() -> None:
    """Promoting and RollingBack were documented and in the CRD's enum, but no decision ever
    stored them (promote() passed through Promoting within one call; RollingBack was never
    set): a status never reads them, and nothing waits in them."""
    from pathlib import Path

    import yaml

    from champion.domain.rollout.machine import PROGRESSING

    crd = yaml.safe_load((Path(__file__).parents[2] / "crds" / "rollouts.yaml").read_text())
    status_schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"]
    allowed = set(status_schema["properties"]["phase"]["enum"])
    held = {str(p) for p in PROGRESSING if p is not None}
    assert allowed == held
    assert {str(p) for p in Phase} == held


# --- invariants over any sequence of signals, at every phase ------------------------------------


def _spec_variant(name: str) -> RolloutSpec:
    spec = (GATED if name.startswith("gated") else SPEC).model_copy(deep=True)
    if name in ("no shadow", "gated, no shadow"):
        spec.strategy.shadow = None
    if name == "step pauses":
        spec.strategy.canary.steps[0].pause = True
        spec.strategy.canary.steps[1].pause = True
    if name == "pause on inconclusive":
        spec.analysis.on_inconclusive = "pause"  # type: ignore[assignment]
    return spec


SPECS = st.sampled_from(
    ["plain", "gated", "gated, no shadow", "no shadow", "step pauses", "pause on inconclusive"]
)
SIGNALS = st.sampled_from(
    [
        "ok",
        "ok",
        "ok",
        "ok",
        "ok",
        "idle",
        "idle",  # healthy intervals, so rollouts finish
        "bad",
        "down",
        "none",
        "no traffic",
        "srm",
        "notready",
        "abort",
        "promote",
        "step",
        "pause",
        "resume",
        "retry",
        "gate passed",
        "gate passed",
        "gate failed",
        "gate running",
        "no capacity",
        "v1",
        "v3",  # spec.modelVersion back to the first champion, or a third version
    ]
)
ADVANCING = {Event.SHADOW_DONE, Event.STEP_DONE, Event.STEP_PAUSE, Event.FINAL_PAUSE}
NO_EVIDENCE_SIGNALS = {"down", "none", "no traffic"}
"""Intervals that never have evidence ("srm" only once the check has flagged it in a canary)."""


def _interval(sig: str, weight: int) -> dict[str, Counts | None] | None:
    """This interval's counts, split as the route says (Shadow: the mirror's 9%)."""
    share = weight or 9
    if sig == "ok":
        return {"errors": Counts(share / 10, share * 10, (100 - share) / 10, (100 - share) * 10)}
    if sig == "srm":  # the gateway sends the challenger half its weight
        return {"errors": Counts(share / 20, share * 5, (100 - share) / 10, (100 - share) * 10)}
    return {
        "bad": ERRORS_BAD,
        "none": {"errors": None},
        "no traffic": {"errors": Counts(0, 0, 0, 0)},
    }.get(sig)  # type: ignore[return-value]


def _seed(name: str) -> RolloutStatus:
    """Where a sequence starts: every phase, as the machine leaves it there."""
    paused = {"pausedFrom": "Canary", "pauseReason": "ManualPause"}
    return {
        "first rollout": lambda: status(None, None, None),
        "succeeded": lambda: status(Phase.SUCCEEDED, "v1", None),
        "pending": lambda: status(Phase.PENDING),
        "capacity pending": lambda: status(Phase.CAPACITY_PENDING),
        "eval gate": lambda: status(Phase.EVAL_GATE),
        "shadow": lambda: status(Phase.SHADOW),
        "shadow, no evidence": lambda: status(Phase.SHADOW, inconclusiveCount=2),
        "step 1": lambda: status(Phase.CANARY, step=0),
        "last step": lambda: status(Phase.CANARY, step=1, analysisState=SEEN_ERRORS_OK),
        "last step, no evidence": lambda: status(Phase.CANARY, step=1, inconclusiveCount=2),
        "paused in the gate": lambda: status(Phase.PAUSED, **{**paused, "pausedFrom": "EvalGate"}),
        "paused in shadow": lambda: status(Phase.PAUSED, **{**paused, "pausedFrom": "Shadow"}),
        "paused at step 1": lambda: status(Phase.PAUSED, step=0, **paused),
        "paused after the last step": lambda: status(
            Phase.PAUSED,
            step=1,
            analysisState=SEEN_ERRORS_OK,
            **{**paused, "pauseReason": "StepPause"},
        ),
        "rolled back": lambda: status(Phase.ROLLED_BACK),
        "aborted": lambda: status(Phase.ABORTED),
    }[name]()


SEEDS = st.sampled_from(
    [
        "first rollout",
        "succeeded",
        "succeeded",
        "pending",
        "capacity pending",
        "eval gate",
        "shadow",
        "shadow, no evidence",
        "step 1",
        "last step",
        "last step, no evidence",
        "paused in the gate",
        "paused in shadow",
        "paused at step 1",
        "paused after the last step",
        "rolled back",
        "aborted",
    ]
)


@settings(max_examples=800, deadline=None)
@given(
    SPECS,
    SEEDS,
    st.lists(st.tuples(SIGNALS, st.sampled_from([11, 31, 65])), min_size=1, max_size=40),
)
def test_invariants_hold_for_any_sequence_of_signals(
    variant: str, seed: str, signals: list[tuple[str, int]]
) -> None:
    """Gated specs, step pauses, pauses, SRM, Prometheus down and every manual action, from
    every phase: each move is a row of the table and the rollout's promises hold."""
    from champion.domain.rollout.machine import PAUSABLE
    from champion.domain.rollout.transitions import TRANSITIONS

    spec = _spec_variant(variant)
    gated = bool(spec.strategy.eval_gate)
    s = _seed(seed)
    now = T0
    promotions: dict[str, int] = {}
    in_flight = s.phase not in (None, Phase.SUCCEEDED, Phase.ROLLED_BACK, Phase.ABORTED)
    starts: dict[str, int] = {s.challenger: 1} if s.challenger and in_flight else {}
    # A sequence that starts past the gate had it passed (or had none).
    gate_passed = s.phase in (Phase.SHADOW, Phase.CANARY) or s.paused_from in (
        Phase.SHADOW,
        Phase.CANARY,
    )
    for i, (sig, dt) in enumerate(signals):
        now += timedelta(seconds=dt)
        if sig in ("v1", "v3"):
            spec = spec.model_copy(update={"model_version": sig})
        target = spec.model_version
        ready = ("v1",) if sig == "notready" else ("v1", "v2", "v3")
        actions = {
            "abort": {"abort": str(i)},
            "promote": {"promote": str(i)},
            "step": {"promote": f"step:{i}"},
            "pause": {"pause": "true"},
            "resume": {"pause": "false"},
            "retry": {"retry": str(i)},
        }.get(sig, {})
        evals = {
            "gate passed": {"qa": EvalState("passed", score=1.0)},
            "gate failed": {"qa": EvalState("failed", "score 0.1 < minScore 0.9", ("q1",))},
            "gate running": {"qa": EvalState("running")},
        }.get(sig, {})
        obs = Observations(
            facts(*ready),
            actions=actions,
            metrics=_interval(sig, s.weights.challenger),
            metrics_error="Prometheus unreachable" if sig == "down" else None,
            evals=evals,  # type: ignore[arg-type]
            admission=Admission(False, "1 GPU free") if sig == "no capacity" else None,
        )
        d = decide(spec, s, obs, now, 1)
        twice = decide(spec, s, obs, now, 1)
        assert twice.status == d.status, "deciding twice on the same inputs must agree"
        after = d.status
        w = after.weights
        if after.champion:
            assert w.champion + w.challenger == 100
        else:  # a first rollout: nothing serves until the version is promoted
            assert (w.champion, w.challenger, after.mirror_percent) == (0, 0, 0)
        if w.challenger > 0:
            assert after.challenger in ready and after.challenger is not None
        # Every move is a row of the table (the machine cannot make another), in sequence.
        phase = s.phase
        for source, event, to in d.transitions:
            assert TRANSITIONS[(source, event)] == to
            assert source == (Phase(phase) if phase else None), (phase, d.transitions)
            phase = to
        assert phase == after.phase
        events = {e for _, e, _ in d.transitions}
        # The eval gate is never skipped: no production traffic before it passed.
        if Event.NEW_VERSION in events or Event.RETRY in events:
            gate_passed = False
            starts[target] = starts.get(target, 0) + 1
        gate_passed |= bool(events & {Event.GATE_PASSED_SHADOW, Event.GATE_PASSED_CANARY})
        if gated and after.challenger and (w.challenger or after.mirror_percent):
            assert gate_passed, d.transitions
        assert Event.PROMOTE_STEP not in events or s.paused_from != Phase.EVAL_GATE
        # No evidence, no more traffic: nothing advances on an interval without evidence,
        # nor while the last one had none or the sample-ratio check is flagged.
        if sig in NO_EVIDENCE_SIGNALS:
            assert not events & (ADVANCING | {Event.FINAL_PROMOTES}), (sig, d.transitions)
        if events & ADVANCING:
            assert after.inconclusive_count == 0
            assert not ((after.analysis_state or {}).get("srm") or {}).get("flag")
        if ((s.analysis_state or {}).get("srm") or {}).get("flag"):
            assert Event.FINAL_PROMOTES not in events, "promoted with broken routing"
        # Paused: where from is known, and its weight is the one it paused at.
        if after.phase == Phase.PAUSED:
            assert after.paused_from in PAUSABLE and after.pause_reason
            if s.phase == Phase.PAUSED:
                assert after.step == s.step and after.paused_from == s.paused_from
        else:
            assert after.paused_from is None and after.pause_reason is None
        if after.phase == Phase.EVAL_GATE:
            assert (w.challenger, after.mirror_percent) == (0, 0)
        conditions = {c.type: c for c in after.conditions}
        assert conditions["Progressing"].message and conditions["Degraded"].message
        for version, stage in d.stage_updates.items():
            promotions[version] = promotions.get(version, 0) + (stage == Stage.CHAMPION)
        assert target == spec.model_version
        s = stored(after) if i % 2 else after  # sometimes as the API server hands it back
        # A version becomes champion at most once per rollout of it.
        assert all(n <= starts.get(v, 0) for v, n in promotions.items()), (promotions, starts)


def test_an_interval_that_began_just_after_a_change_of_weights_is_not_checked() -> None:
    """Requests sent by the old split reach the counters a little after the route changes: an
    interval beginning within ROUTE_SETTLE_SECONDS of the step is not checked for sample ratio."""
    half = {"errors": Counts(1, 500, 1, 500)}

    def srm_requests(began: datetime) -> list[float]:
        before = status(
            Phase.CANARY, step=0, started=T0, lastAnalysisAt=began.strftime("%Y-%m-%dT%H:%M:%SZ")
        )
        d = decide(
            SPEC,
            before,
            Observations(facts("v1", "v2"), metrics=half),
            T0 + timedelta(seconds=15),
            1,
        )
        return (d.status.analysis_state or {})["srm"]["n"]

    assert srm_requests(T0 + timedelta(seconds=2)) == [0.0, 0.0]
    assert srm_requests(T0 + timedelta(seconds=5)) == [500.0, 1000.0]


# --- what `kubectl get rollouts` shows (issue 20 §4) ---------------------------------------------


def test_the_step_column_numbers_steps_as_the_messages_do() -> None:
    d = decide(SPEC, status(Phase.CANARY, step=0), Observations(facts("v1", "v2")), T0, 1)
    assert d.status.step_label == "1/2"  # as in "canary step 1/2: 10% of live traffic"
    d = decide(SPEC, status(Phase.CANARY, step=1), Observations(facts("v1", "v2")), T0, 1)
    assert d.status.step_label == "2/2"
    d = decide(SPEC, status(Phase.SHADOW), Observations(facts("v1", "v2")), T0, 1)
    assert d.status.step_label == "shadow"
    d = decide(SPEC, status(Phase.SUCCEEDED, "v2", None), Observations(facts("v2")), T0, 1)
    assert d.status.step_label is None


def test_a_new_release_does_not_show_the_last_releases_verdict() -> None:
    before = status(Phase.ROLLED_BACK, "v1", "v2", verdict="rollback")
    spec = SPEC.model_copy(update={"model_version": "v3"})
    d = decide(spec, before, Observations(facts("v1", "v3")), T0, 1)
    assert d.status.challenger == "v3"
    assert d.status.verdict is None


def test_the_reason_column_says_what_is_wrong_else_what_is_happening() -> None:
    d = decide(SPEC, status(Phase.SHADOW), Observations(facts("v1", "v2")), T0, 1)
    assert d.status.reason == "Shadow"
    del_v2 = {k: v for k, v in facts("v1").items() if k != "v2"}
    d = decide(SPEC, status(Phase.PENDING), Observations(del_v2), T0, 1)
    assert d.status.reason == "ReferenceNotFound"


def test_a_rollout_naming_a_missing_or_invalid_version_is_degraded() -> None:
    """Found by the fuzz tests: it said Progressing/Pending with Degraded=False, forever."""
    missing = {k: v for k, v in facts("v1").items() if k != "v2"}
    d = decide(SPEC, status(Phase.PENDING), Observations(missing), T0, 1)
    degraded = next(c for c in d.status.conditions if c.type == "Degraded")
    assert (degraded.status, degraded.reason) == ("True", "ReferenceNotFound")
    assert 'ModelVersion "v2" not found' in degraded.message
    assert ("Warning", "ReferenceNotFound", degraded.message) in d.events
    d = decide(SPEC, status(Phase.PENDING), Observations(facts("v1", invalid=("v2",))), T0, 1)
    degraded = next(c for c in d.status.conditions if c.type == "Degraded")
    assert (degraded.status, degraded.reason) == ("True", "InvalidSpec")
    # The champion still serves: Ready stays True.
    ready = next(c for c in d.status.conditions if c.type == "Ready")
    assert ready.status == "True"
