"""Traffic providers: how a Rollout's weights and mirror become routing objects.

Gateway API is the default (one HTTPRoute per Rollout). A KServe provider
(`spec.predictor.canaryTrafficPercent` on one InferenceService in Standard
mode) or an Istio one (a VirtualService with weighted routes and `mirror`)
would implement the same `render` and register under their
`spec.endpoint.provider` name.
"""

from __future__ import annotations

from typing import Any, Protocol

from champion.api.v1alpha1.rollout import Endpoint, TrafficProvider
from champion.builders.httproute import TrafficState, httproute
from champion.builders.workloads import Owner


class Provider(Protocol):
    def render(
        self, name: str, namespace: str, owner: Owner, endpoint: Endpoint, state: TrafficState
    ) -> list[dict[str, Any]]:
        """The routing objects that realise `state` (pure)."""
        ...


class GatewayAPI:
    def render(
        self, name: str, namespace: str, owner: Owner, endpoint: Endpoint, state: TrafficState
    ) -> list[dict[str, Any]]:
        return [httproute(name, namespace, owner, endpoint, state)]


PROVIDERS: dict[str, Provider] = {TrafficProvider.GATEWAY_API.value: GatewayAPI()}


def provider_for(endpoint: Endpoint) -> Provider:
    return PROVIDERS[str(endpoint.provider)]
