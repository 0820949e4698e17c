"""The Rollout's traffic over Gateway API: weighted backendRefs, RequestMirror for shadow."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from champion.api.v1alpha1.rollout import Endpoint
from champion.builders.naming import MANAGED_BY, ROLLOUT_LABEL
from champion.builders.workloads import Owner


@dataclass(frozen=True)
class Backend:
    service: str
    port: int


@dataclass(frozen=True)
class TrafficState:
    champion: Backend | None
    challenger: Backend | None
    champion_weight: int
    challenger_weight: int
    mirror_percent: int


def routable(state: TrafficState, *, champion_expected: bool) -> TrafficState | None:
    """The traffic to write, given only backends whose Service exists (the others are None).

    A missing challenger Service drops the challenger (its weight goes to the champion,
    and nothing is mirrored). A missing champion Service, or no backend at all, gives
    None: keep the route as it is, the last one that worked, rather than send everything
    to a challenger nobody has judged, or write a route with no backend.
    """
    if state.champion is None and (champion_expected or state.challenger is None):
        return None
    if state.champion is not None and state.challenger is None and state.champion_weight < 100:
        return replace(state, champion_weight=100, challenger_weight=0, mirror_percent=0)
    return state


def httproute(
    name: str, namespace: str, owner: Owner, endpoint: Endpoint, state: TrafficState
) -> dict[str, Any]:
    backends: list[dict[str, Any]] = []
    if state.champion is not None and state.champion_weight > 0:
        backends.append(
            {
                "name": state.champion.service,
                "port": state.champion.port,
                "weight": state.champion_weight,
            }
        )
    if state.challenger is not None and state.challenger_weight > 0:
        backends.append(
            {
                "name": state.challenger.service,
                "port": state.challenger.port,
                "weight": state.challenger_weight,
            }
        )
    rule: dict[str, Any] = {
        "matches": [{"path": {"type": "PathPrefix", "value": endpoint.path}}],
        "backendRefs": backends,
    }
    # Always present, empty without a mirror: the client converges by containment (a real server
    # defaults fields inside list items), so a rule without the key would never drop a mirror.
    rule["filters"] = []
    if state.challenger is not None and state.mirror_percent > 0:
        rule["filters"] = [
            {
                "type": "RequestMirror",
                "requestMirror": {
                    "backendRef": {"name": state.challenger.service, "port": state.challenger.port},
                    "percent": state.mirror_percent,
                },
            }
        ]
    spec: dict[str, Any] = {"rules": [rule]}
    if endpoint.parent_refs:
        spec["parentRefs"] = [p.to_wire() for p in endpoint.parent_refs]
    if endpoint.hostnames:
        spec["hostnames"] = list(endpoint.hostnames)
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {**MANAGED_BY, ROLLOUT_LABEL: name},
            "ownerReferences": [owner.reference()],
        },
        "spec": spec,
    }
