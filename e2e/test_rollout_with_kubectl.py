"""Drive a rollout with kubectl only: apply, change spec.modelVersion, read the evidence."""

from __future__ import annotations

import json
import subprocess
import time

import pytest

from e2e.conftest import ROOT, k, kubectl, needs_sandbox_behaviour, wait_rollout
from e2e.evidence import decisions

pytestmark = [pytest.mark.slow, needs_sandbox_behaviour]


def test_a_slow_version_is_rolled_back_with_the_evidence_in_describe(
    cluster: dict[str, str],
) -> None:
    k(cluster, "apply", "-f", str(ROOT / "examples" / "demo"))
    wait_rollout(cluster, "champion", "chat-v1", "Succeeded", 90)
    table = k(cluster, "get", "rollouts", "-n", "demo")
    assert "Succeeded" in table and "chat-v1" in table

    k(
        cluster,
        "patch",
        "rollout",
        "chat",
        "-n",
        "demo",
        "--type",
        "merge",
        "-p",
        '{"spec":{"modelVersion":"chat-v3"}}',
    )
    ro = wait_rollout(cluster, "challenger", "chat-v3", "RolledBack", 150)
    assert ro["status"]["champion"] == "chat-v1"
    assert ro["status"]["weights"] == {"champion": 100, "challenger": 0}
    rollback = next(h for h in reversed(decisions(cluster)) if h["decision"] == "rollback")
    assert rollback["phase"] == "Shadow" or (
        rollback["phase"] == "Canary" and rollback.get("step") == 0
    ), rollback

    describe = k(cluster, "describe", "rollout", "chat", "-n", "demo")
    assert "RegressionDetected" in describe
    assert "latency" in describe and "e-value" in describe
    stage = k(
        cluster, "get", "modelversion", "chat-v3", "-n", "demo", "-o", "jsonpath={.status.stage}"
    )
    assert stage == "RolledBack"
    # The pool is recounted on its own timer: only the champion's 2 replicas x 1 GPU remain.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        allocated = k(cluster, "get", "gpupool", "h100", "-o", "jsonpath={.status.allocated}")
        if allocated == "2":
            break
        time.sleep(1)
    assert allocated == "2"


def test_a_version_failing_its_eval_gate_never_gets_traffic(cluster: dict[str, str]) -> None:
    k(cluster, "apply", "-f", str(ROOT / "examples" / "demo"))
    wait_rollout(cluster, "champion", "chat-v1", "Succeeded", 90)
    bad = (
        (ROOT / "examples" / "demo" / "22-modelversion-v2.yaml")
        .read_text()
        .replace("chat-v2", "chat-v9")
    )
    bad = bad.replace('"errorRate": 0.005', '"errorRate": 0.005, "evalAccuracy": 0.5')
    subprocess.run(
        [kubectl(), "apply", "-f", "-"],
        input=bad,
        env=cluster,
        text=True,
        check=True,
        capture_output=True,
    )
    k(
        cluster,
        "patch",
        "rollout",
        "chat",
        "-n",
        "demo",
        "--type",
        "merge",
        "-p",
        '{"spec":{"modelVersion":"chat-v9"}}',
    )
    seen_weights = set()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        st = json.loads(k(cluster, "get", "rollout", "chat", "-n", "demo", "-o", "json"))["status"]
        seen_weights.add((st["weights"]["challenger"], st.get("mirrorPercent", 0)))
        if st.get("phase") == "RolledBack" and st.get("challenger") == "chat-v9":
            break
        time.sleep(0.5)
    assert st["phase"] == "RolledBack", st
    assert seen_weights == {(0, 0)}, "the challenger got traffic before its eval gate passed"
    assert "eval gate failed" in st["message"] and "failing cases: add-" in st["message"]
    suite = json.loads(k(cluster, "get", "evalsuite", "arithmetic", "-n", "demo", "-o", "json"))[
        "status"
    ]
    assert suite["passed"] is False and suite["modelVersion"] == "chat-v9"


def test_three_more_points_of_errors_are_rolled_back_in_shadow_or_the_first_step(
    cluster: dict[str, str],
) -> None:
    k(cluster, "apply", "-f", str(ROOT / "examples" / "demo"))
    wait_rollout(cluster, "champion", "chat-v1", "Succeeded", 90)
    flaky = (
        (ROOT / "examples" / "demo" / "22-modelversion-v2.yaml")
        .read_text()
        .replace("chat-v2", "chat-v8")
    )
    flaky = flaky.replace(
        '"latencyScale": 0.95, "errorRate": 0.005', '"latencyScale": 1.0, "errorRate": 0.035'
    )
    subprocess.run(
        [kubectl(), "apply", "-f", "-"],
        input=flaky,
        env=cluster,
        text=True,
        check=True,
        capture_output=True,
    )
    # 0.5% -> 3.5% against a 1.5x margin takes about 850 challenger requests to show at
    # alpha 0.05; a 90 s shadow at 20 rps mirrors about 1,800 (the demo's 20 s shadow: 400),
    # room enough for a busy machine's slower load generator.
    k(cluster, "patch", "rollout", "chat", "-n", "demo", "--type", "merge", "-p",
      '{"spec":{"modelVersion":"chat-v8","strategy":{"shadow":{"durationSeconds":90}}}}')  # fmt: skip
    wait_rollout(cluster, "challenger", "chat-v8", "RolledBack", 200)
    rollback = next(h for h in reversed(decisions(cluster)) if h["decision"] == "rollback")
    assert rollback["phase"] == "Shadow" or (
        rollback["phase"] == "Canary" and rollback.get("step") == 0
    ), rollback
    assert rollback["message"].startswith("errors:"), rollback["message"]
    errors = next(e for e in rollback["evidence"] if e["metric"] == "errors")
    assert errors["statistic"] >= errors["threshold"]
    challenger_rate = errors["challengerEvents"] / errors["challengerTotal"]
    assert challenger_rate > 2 * errors["championEvents"] / errors["championTotal"], errors
    k(cluster, "patch", "rollout", "chat", "-n", "demo", "--type", "merge", "-p",
      '{"spec":{"strategy":{"shadow":{"durationSeconds":20}}}}')  # fmt: skip
