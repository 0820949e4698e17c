"""A predictive model on KServe, through kubectl: real KServe ModelServers, their own metrics.

The sandbox runs a real `kserve.ModelServer` per InferenceService; Prometheus
scrapes KServe's `request_predict_seconds` histogram, and the judge decides on it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from e2e.conftest import ROOT, apply, k, needs_sandbox_behaviour, wait_rollout
from e2e.evidence import decisions

pytestmark = [pytest.mark.slow, needs_sandbox_behaviour]


def version(name: str, profile: dict[str, float]) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(
        (ROOT / "examples" / "modelversion-predictive.yaml").read_text()
    )
    doc["metadata"]["name"] = name
    doc["metadata"]["annotations"] = {"sandbox.champion.dev/profile": json.dumps(profile)}
    doc["spec"]["model"]["uri"] = f"s3://acme-models/churn/{name}/model.joblib"
    doc["spec"]["serving"]["replicas"] = 1
    return doc


ROLLOUT = {
    "apiVersion": "champion.dev/v1alpha1",
    "kind": "Rollout",
    "metadata": {"name": "churn", "namespace": "demo"},
    "spec": {
        "modelVersion": "churn-v7",
        "endpoint": {"parentRefs": [{"name": "inference-gateway"}], "path": "/"},
        "strategy": {
            "shadow": {"durationSeconds": 15, "mirrorPercent": 100},
            "canary": {"steps": [{"weight": 50, "durationSeconds": 20}]},
            "scaleDownDelaySeconds": 5,
        },
        "analysis": {
            "intervalSeconds": 5,
            "metrics": [{"name": "latency", "preset": "kserve-latency", "margin": 0.2}],
        },
    },
}


def test_a_kserve_model_is_promoted_then_a_slower_one_rolled_back_on_kserves_own_metrics(
    cluster: dict[str, str],
) -> None:
    k(cluster, "apply", "-f", str(ROOT / "examples" / "demo" / "00-namespace.yaml"))
    apply(cluster, version("churn-v7", {"latencyScale": 1.0}), ROLLOUT)
    wait_rollout(cluster, "champion", "churn-v7", "Succeeded", 90, name="churn")
    isvc = json.loads(k(cluster, "get", "inferenceservice", "-n", "demo", "-o", "json"))["items"]
    assert [i["metadata"]["name"] for i in isvc] == ["churn-churn-v7"]
    route = json.loads(k(cluster, "get", "httproute", "churn", "-n", "demo", "-o", "json"))
    backend = route["spec"]["rules"][0]["backendRefs"][0]
    service = json.loads(k(cluster, "get", "service", backend["name"], "-n", "demo", "-o", "json"))
    # The route follows the port KServe's Service really has.
    assert backend["port"] == service["spec"]["ports"][0]["port"]

    apply(cluster, version("churn-v8", {"latencyScale": 1.0}))
    k(cluster, "patch", "rollout", "churn", "-n", "demo", "--type", "merge",
      "-p", '{"spec":{"modelVersion":"churn-v8"}}')  # fmt: skip
    wait_rollout(cluster, "champion", "churn-v8", "Succeeded", 150, name="churn")
    history = decisions(cluster, "churn")
    looked = [h for h in history if h.get("evidence")]
    assert looked, history
    latency = [e for h in looked for e in h["evidence"] if e["metric"].startswith("latency")]
    assert max(e["challengerTotal"] or 0 for e in latency) > 50, latency

    apply(cluster, version("churn-v9", {"latencyScale": 4.0}))
    k(cluster, "patch", "rollout", "churn", "-n", "demo", "--type", "merge",
      "-p", '{"spec":{"modelVersion":"churn-v9"}}')  # fmt: skip
    rolled = wait_rollout(cluster, "challenger", "churn-v9", "RolledBack", 150, name="churn")
    rollback = next(h for h in reversed(decisions(cluster, "churn")) if h["decision"] == "rollback")
    assert rollback["message"].split(": ")[0].removeprefix("final look: ").startswith("latency"), (
        rollback["message"]
    )
    assert rolled["status"]["champion"] == "churn-v8"
