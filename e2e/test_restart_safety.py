"""Kill -9 the operator again and again during a rollout: no step repeated or skipped, one promotion."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from e2e.conftest import ROOT, k
from e2e.evidence import decisions

pytestmark = pytest.mark.slow


def status(env: dict[str, str]) -> dict:
    return (
        json.loads(k(env, "get", "rollout", "chat", "-n", "demo", "-o", "json")).get("status") or {}
    )


def test_rollout_survives_repeated_operator_kills(tmp_path: Path) -> None:
    if os.environ.get("E2E_KUBECONFIG"):
        pytest.skip(
            "kills a local operator process; against a real cluster, delete the operator pod instead"
        )
    from champion.sandbox.lifecycle import down, operator_command, read_env, up

    up(tmp_path, rps=20, gpu_nodes=2)
    env = read_env(tmp_path)
    log = open(tmp_path / "operator.log", "ab")  # noqa: SIM115 - closed below

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            operator_command(rollout_tick=1), env=env, stdout=log, stderr=subprocess.STDOUT
        )

    operator = start()
    kills = 0
    try:
        k(env, "apply", "-f", str(ROOT / "crds"))
        k(env, "apply", "-f", str(ROOT / "examples" / "demo"))
        deadline = time.monotonic() + 90
        while status(env).get("champion") != "chat-v1":
            assert time.monotonic() < deadline, status(env)
            time.sleep(1)
        k(
            env,
            "patch",
            "rollout",
            "chat",
            "-n",
            "demo",
            "--type",
            "merge",
            "-p",
            '{"spec":{"modelVersion":"chat-v2"}}',
        )
        deadline = time.monotonic() + 240
        next_kill = time.monotonic() + 3
        while True:
            st = status(env)
            if st.get("phase") == "Succeeded" and st.get("champion") == "chat-v2":
                history = decisions(env)
                break
            assert time.monotonic() < deadline, st
            if time.monotonic() >= next_kill:
                operator.send_signal(signal.SIGKILL)
                operator.wait()
                kills += 1
                operator = start()
                next_kill = time.monotonic() + 4 + (kills % 3) * 2  # 4, 6, 8 s: land in every phase
            time.sleep(0.5)
        stages = {
            mv: k(env, "get", "modelversion", mv, "-n", "demo", "-o", "jsonpath={.status.stage}")
            for mv in ("chat-v1", "chat-v2")
        }
        assert stages == {"chat-v1": "Retired", "chat-v2": "Champion"}
    finally:
        operator.send_signal(signal.SIGKILL)
        operator.wait()
        log.close()
        down(tmp_path)
    assert kills >= 8
    transitions = [(h["reason"], h.get("step")) for h in history if h["decision"] == "transition"]
    v2 = transitions[[r for r, _ in transitions].index("Pending") :]
    assert [r for r, _ in v2 if r in ("ShadowStarted", "CanaryStep", "Promoted")] == [
        "ShadowStarted",
        "CanaryStep",
        "CanaryStep",
        "Promoted",
    ], v2
    assert [s for r, s in v2 if r == "CanaryStep"] == [0, 1]
