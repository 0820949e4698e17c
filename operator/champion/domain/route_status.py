"""What the Gateway said about a Rollout's HTTPRoute (`status.parents`, Gateway API v1)."""

from __future__ import annotations

from typing import Any

REFUSING = ("Accepted", "ResolvedRefs")
"""Conditions whose False means the route's weights do not reach the traffic."""


def refusal(route: dict[str, Any] | None) -> str | None:
    """Why a Gateway does not apply the route, quoting it; None when none says so.

    A route no controller has written status for is not refused: some gateways never write
    it, and holding on silence would hold every rollout there forever. Conditions about an
    older generation of the route are ignored (the Gateway has not seen this one yet)."""
    if not route:
        return None
    generation = (route.get("metadata") or {}).get("generation")
    name = (route.get("metadata") or {}).get("name", "?")
    problems: list[str] = []
    for parent in (route.get("status") or {}).get("parents") or []:
        ref = parent.get("parentRef") or {}
        who = f"{ref.get('kind', 'Gateway')} {ref.get('name', '?')}"
        for cond in parent.get("conditions") or []:
            seen = cond.get("observedGeneration")
            if cond.get("type") not in REFUSING or cond.get("status") != "False":
                continue
            if generation is not None and seen is not None and seen != generation:
                continue
            problems.append(
                f"{who} ({parent.get('controllerName', 'its controller')}) reports "
                f"{cond['type']}=False {cond.get('reason', '')}: {cond.get('message', '')}".rstrip(
                    ": "
                )
            )
    if not problems:
        return None
    return f"HTTPRoute {name} is not in effect: " + "; ".join(problems)
