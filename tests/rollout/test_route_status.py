"""Issue 16: a route the Gateway rejects moves no traffic, so the rollout holds and says why."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from champion.api.v1alpha1.rollout import Phase
from champion.domain.rollout.machine import decide
from champion.domain.rollout.observations import Observations
from champion.domain.route_status import refusal
from tests.rollout.test_machine import SPEC, T0, facts, status


def route(*conditions: dict[str, Any], generation: int = 2) -> dict[str, Any]:
    return {
        "metadata": {"name": "chat", "generation": generation},
        "status": {
            "parents": [
                {
                    "parentRef": {"name": "inference-gateway"},
                    "controllerName": "example.com/gateway",
                    "conditions": list(conditions),
                }
            ]
        },
    }


def cond(
    type_: str, status_: str, reason: str, message: str = "", generation: int = 2
) -> dict[str, Any]:
    return {
        "type": type_,
        "status": status_,
        "reason": reason,
        "message": message,
        "observedGeneration": generation,
    }


def test_the_gateways_refusal_is_quoted() -> None:
    why = refusal(
        route(
            cond(
                "Accepted",
                "False",
                "NoMatchingListenerHostname",
                "no listener for chat.example.com",
            )
        )
    )
    assert why is not None
    assert "HTTPRoute chat" in why and "Gateway inference-gateway" in why
    assert "Accepted=False NoMatchingListenerHostname: no listener for chat.example.com" in why
    assert "ResolvedRefs=False BackendNotFound" in (
        refusal(
            route(
                cond("Accepted", "True", "Accepted"),
                cond("ResolvedRefs", "False", "BackendNotFound"),
            )
        )
        or ""
    )


def test_silence_or_an_older_generation_is_not_a_refusal() -> None:
    assert refusal(None) is None
    assert refusal({"metadata": {"name": "chat"}}) is None  # no controller writes route status
    assert refusal(route(cond("Accepted", "True", "Accepted"))) is None
    # About generation 1; the Gateway has not looked at the route with this step's weights yet.
    assert refusal(route(cond("Accepted", "False", "NotAllowedByListeners", generation=1))) is None


def test_a_canary_whose_route_is_refused_holds_and_is_degraded() -> None:
    refused = refusal(
        route(cond("Accepted", "False", "NotAllowedByListeners", "namespace demo not allowed"))
    )
    before = status(Phase.CANARY, step=0, started=T0 - timedelta(seconds=600))
    d = decide(SPEC, before, Observations(facts("v1", "v2"), route_refused=refused), T0, 1)
    # Long past the step's 60 s, yet it does not advance: the weights move no traffic.
    assert (d.status.phase, d.status.step) == (Phase.CANARY, 0)
    degraded = next(c for c in d.status.conditions if c.type == "Degraded")
    assert (degraded.status, degraded.reason) == ("True", "RouteNotAccepted")
    assert "namespace demo not allowed" in degraded.message
    assert d.status.reason == "RouteNotAccepted"
    assert any(e[1] == "RouteNotAccepted" for e in d.events)
    # Accepted again: the step's time starts then, not when it was first routed.
    later = T0 + timedelta(seconds=30)
    d2 = decide(SPEC, d.status, Observations(facts("v1", "v2")), later, 1)
    assert (d2.status.phase, d2.status.step) == (Phase.CANARY, 0)
    assert next(c for c in d2.status.conditions if c.type == "Degraded").status == "False"
    d3 = decide(SPEC, d2.status, Observations(facts("v1", "v2")), T0 + timedelta(seconds=61), 1)
    assert d3.status.step == 1
