"""Crash at every write: SIGKILL the operator right after its k-th API write, through a proxy.

The operator talks to the real sandbox apiserver through tests/faults/proxy.FaultProxy. A crash-free
rollout (gate, shadow, two canary steps, promote) counts its writes N; then for each chosen k the
same rollout runs in a fresh namespace with the operator killed once the k-th write has been applied
by the apiserver and before the operator sees the response (the worst moment: done, unacknowledged),
and restarted. Each run must end as the crash-free one did.
"""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.faults.proxy import FaultProxy

from e2e.conftest import ROOT, apply, k

pytestmark = pytest.mark.slow

DEMO = ROOT / "examples" / "demo"


def objects(namespace: str) -> list[dict[str, Any]]:
    """The demo's ModelVersions, EvalSuite and a Rollout with short stages, in `namespace`."""
    docs: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
    ]
    for name in (
        "21-modelversion-v1.yaml",
        "22-modelversion-v2.yaml",
        "30-evalsuite.yaml",
        "40-rollout.yaml",
    ):
        doc = copy.deepcopy(yaml.safe_load((DEMO / name).read_text()))
        doc["metadata"]["namespace"] = namespace
        docs.append(doc)
    rollout = docs[-1]["spec"]
    # The gate's Job needs the chart's eval ServiceAccount in the namespace; it is not cheap here.
    del rollout["strategy"]["evalGate"]
    rollout["strategy"]["shadow"]["durationSeconds"] = 4
    for step in rollout["strategy"]["canary"]["steps"]:
        step["durationSeconds"] = 4
    rollout["strategy"]["scaleDownDelaySeconds"] = 1
    rollout["analysis"]["intervalSeconds"] = 2
    return docs  # fmt: skip


def rollout_status(env: dict[str, str], ns: str) -> dict[str, Any]:
    out = k(env, "get", "rollouts.champion.dev", "chat", "-n", ns, "-o", "json")
    return json.loads(out).get("status") or {}


def wait_for(env: dict[str, str], ns: str, champion: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    st: dict[str, Any] = {}
    while time.monotonic() < deadline:
        st = rollout_status(env, ns)
        if st.get("phase") == "Succeeded" and st.get("champion") == champion:
            return st
        time.sleep(0.5)
    raise AssertionError(f"{ns}: never reached Succeeded with champion={champion}: {st}")


def outcome(env: dict[str, str], ns: str, st: dict[str, Any]) -> dict[str, Any]:
    """What the user sees at the end, in a form two runs can be compared by."""
    history = st.get("history") or []
    transitions = [(h["reason"], h.get("step")) for h in history if h["decision"] == "transition"]
    stages = {
        mv: k(env, "get", "modelversion", mv, "-n", ns, "-o", "jsonpath={.status.stage}")
        for mv in ("chat-v1", "chat-v2")
    }
    jobs = json.loads(k(env, "get", "jobs", "-n", ns, "-o", "json"))["items"]
    deployments = json.loads(k(env, "get", "deployments", "-n", ns, "-o", "json"))["items"]
    return {
        "champion": st.get("champion"),
        "transitions": transitions,
        "stages": stages,
        "jobs": len(jobs),
        "live_deployments": sorted(
            d["metadata"]["name"] for d in deployments if (d["spec"].get("replicas") or 0) > 0
        ),
    }


class Operator:
    """`champion run` as a subprocess pointed at the proxy; restartable after a SIGKILL."""

    def __init__(self, env: dict[str, str], kubeconfig: Path, log: Path) -> None:
        from champion.sandbox.lifecycle import operator_command

        self.cmd = operator_command(rollout_tick=0.5, gpupool_tick=2, kubeconfig=str(kubeconfig))
        self.env, self.log = env, open(log, "ab")  # noqa: SIM115 - closed in stop()
        self.proc: subprocess.Popen[bytes] | None = None
        self.kills = 0
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock:
            self.proc = subprocess.Popen(
                self.cmd, env=self.env, stdout=self.log, stderr=subprocess.STDOUT
            )

    def kill(self) -> None:
        with self._lock:
            if self.proc is not None:
                self.proc.send_signal(signal.SIGKILL)
                self.proc.wait()
                self.kills += 1

    def stop(self) -> None:
        self.kill()
        self.log.close()  # fmt: skip


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, str], Path]]:
    if os.environ.get("E2E_KUBECONFIG"):
        pytest.skip("kills a local operator process behind a local proxy")
    from champion.sandbox.lifecycle import down, read_env, up

    workdir = tmp_path_factory.mktemp("sandbox")
    up(workdir, rps=20, gpu_nodes=2)
    env = read_env(workdir)
    try:
        k(env, "apply", "-f", str(ROOT / "crds"))
        k(env, "apply", "-f", str(DEMO / "10-gpupool.yaml"))
        yield env, workdir
    finally:
        down(workdir)


def run_rollout(
    env: dict[str, str], workdir: Path, ns: str, crash_at: int | None
) -> tuple[dict[str, Any], int, int]:
    """One rollout chat-v1 -> chat-v2 in `ns`; returns (outcome, writes counted, kills)."""
    proxy = FaultProxy.from_kubeconfig(env["CHAMPION_OPERATOR_KUBECONFIG"]).start()
    operator = Operator(
        env, proxy.write_kubeconfig(workdir / f"{ns}.kubeconfig"), workdir / f"{ns}.log"
    )
    try:
        apply(env, *objects(ns))
        operator.start()
        wait_for_champion = time.monotonic() + 90
        while rollout_status(env, ns).get("champion") != "chat-v1":
            assert time.monotonic() < wait_for_champion, rollout_status(env, ns)
            time.sleep(0.5)
        base = proxy.write_count
        if crash_at is not None:

            def crash() -> None:
                operator.kill()
                threading.Thread(target=operator.start, daemon=True).start()

            proxy.after_write(base + crash_at, crash)
        k(env, "patch", "rollouts.champion.dev", "chat", "-n", ns, "--type", "merge",
          "-p", '{"spec":{"modelVersion":"chat-v2"}}')  # fmt: skip
        wait_for(env, ns, "chat-v2", 180)
        time.sleep(3)  # the scale-down delay, so a leftover child would show
        return outcome(env, ns, rollout_status(env, ns)), proxy.write_count - base, operator.kills
    finally:
        operator.stop()
        proxy.stop()


def test_crash_after_every_write_ends_like_the_crash_free_run(
    sandbox: tuple[dict[str, str], Path],
) -> None:
    env, workdir = sandbox
    reference, n, _ = run_rollout(env, workdir, "crash-free", None)
    assert reference["champion"] == "chat-v2"
    assert [r for r, _ in reference["transitions"] if r in ("ShadowStarted", "CanaryStep", "Promoted")][-4:] == [
        "ShadowStarted", "CanaryStep", "CanaryStep", "Promoted"]  # fmt: skip
    budget = time.monotonic() + float(os.environ.get("CRASH_EVERY_WRITE_BUDGET", "360"))
    results: dict[int, dict[str, Any]] = {}
    for crash_at in range(1, n + 1):
        if time.monotonic() > budget:
            break
        got, _, kills = run_rollout(env, workdir, f"crash-{crash_at}", crash_at)
        assert kills == 1, f"k={crash_at}: the hook fired {kills} times"
        results[crash_at] = got
    failures = {c: got for c, got in results.items() if got != reference}
    print(f"crash-every-write: N={n}, tried {len(results)}, passed {len(results) - len(failures)}")
    assert not failures, {"reference": reference, "failures": failures}
