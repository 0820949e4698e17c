"""A good challenger through eval gate, shadow and every canary step to champion, with kubectl
only. It injects no fault, so it runs the same against a real cluster (E2E_KUBECONFIG)."""

from __future__ import annotations

import json

import pytest

from e2e.conftest import ROOT, k, wait_rollout
from e2e.evidence import decisions

pytestmark = pytest.mark.slow


def test_a_good_version_goes_through_every_step_to_champion(cluster: dict[str, str]) -> None:
    k(cluster, "apply", "-f", str(ROOT / "examples" / "demo"))
    wait_rollout(cluster, "champion", "chat-v1", "Succeeded", 90)
    k(cluster, "patch", "rollout", "chat", "-n", "demo", "--type", "merge",
      "-p", '{"spec":{"modelVersion":"chat-v2"}}')  # fmt: skip
    ro = wait_rollout(cluster, "champion", "chat-v2", "Succeeded", 150)

    passed = [
        (h["phase"], h.get("step")) for h in decisions(cluster) if h["decision"] == "transition"
    ]
    start = max(i for i, p in enumerate(passed) if p[0] == "Pending")
    # Gate, shadow, each canary step in order, then champion: nothing skipped or repeated
    # (a phase may record more than one transition, e.g. the gate starting and passing).
    visited = [
        p for i, p in enumerate(passed[start:], start) if p[0] != "Pending" and p != passed[i - 1]
    ]
    assert visited == [
        ("EvalGate", None), ("Shadow", None), ("Canary", 0), ("Canary", 1), ("Succeeded", None),
    ], passed  # fmt: skip
    assert ro["status"]["weights"] == {"champion": 100, "challenger": 0}

    route = json.loads(k(cluster, "get", "httproute", "chat", "-n", "demo", "-o", "json"))
    refs = route["spec"]["rules"][0]["backendRefs"]
    assert [r.get("weight", 1) for r in refs if r.get("weight", 1) > 0] == [100]
    assert "v2" in next(r["name"] for r in refs if r.get("weight", 1) > 0)
    assert not route["spec"]["rules"][0].get("filters"), "shadow mirror left in place"

    stages = {
        v: k(cluster, "get", "modelversion", v, "-n", "demo", "-o", "jsonpath={.status.stage}")
        for v in ("chat-v1", "chat-v2")
    }
    assert stages == {"chat-v1": "Retired", "chat-v2": "Champion"}
