"""`champion demo`: a whole model lifecycle in a local sandbox, in a few minutes.

v1 becomes champion, a good v2 goes through shadow and canary to champion, a
slower v3 is rolled back with the evidence shown. Everything it starts, it stops.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from champion.adapters.kube import KubeApi, connect, resource_for
from champion.reconcile.rollout_evidence import read_decisions
from champion.sandbox.controlplane import tool as _tool
from champion.sandbox.demo_view import Timeline
from champion.sandbox.lifecycle import operator_command, read_env

ROOT = Path(__file__).resolve().parents[3]
ROLLOUT = resource_for("champion.dev/v1alpha1", "Rollout")
TERMINAL = {"Succeeded", "RolledBack", "Aborted"}


def _champion() -> list[str]:
    return [sys.executable, "-m", "champion.cli"]


class Demo:
    def __init__(
        self, console: Console, workdir: Path, rps: int, keep: bool, verbose: bool = False
    ) -> None:
        self.console = console
        self.dir = workdir
        self.rps = rps
        self.keep = keep
        self.timeline = Timeline(console, verbose=verbose)
        self.operator: subprocess.Popen[bytes] | None = None
        self.env: dict[str, str] = {}

    def sandbox_up(self) -> None:
        self.timeline.say(
            "starting the local sandbox: a real control plane (kube-apiserver, etcd, controllers, "
            "scheduler, KWOK GPU nodes), Champion installed by helm, real Prometheus, simulated "
            "model servers and load…"
        )
        subprocess.run(
            [*_champion(), "sandbox", "up", "--dir", str(self.dir), "--rps", str(self.rps)],
            check=True,
        )
        self.env = read_env(self.dir)
        info = json.loads((self.dir / "ready").read_text())
        self.timeline.say(
            f"API server: kube-apiserver {info['version']} (real) at {info['apiserver']}; "
            "the operator runs as the chart's ServiceAccount"
        )

    def kubectl(self, *args: str) -> None:
        subprocess.run(
            [_tool("kubectl"), *args], check=True, env=self.env, stdout=subprocess.DEVNULL
        )

    def start_operator(self) -> None:
        log = open(self.dir / "operator.log", "wb")  # noqa: SIM115 - closed by the process's end
        self.operator = subprocess.Popen(
            operator_command(
                rollout_tick=1, gpupool_tick=3, kubeconfig=self.env["CHAMPION_OPERATOR_KUBECONFIG"]
            ),
            env={**self.env, "CHAMPION_LOG_FORMAT": "json"},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.timeline.say(
            f"operator running (pid {self.operator.pid}); logs in {self.dir / 'operator.log'}"
        )

    def stop(self) -> None:
        if self.operator is not None and self.operator.poll() is None:
            self.operator.send_signal(signal.SIGINT)
            try:
                self.operator.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.operator.kill()
        subprocess.run([*_champion(), "sandbox", "down", "--dir", str(self.dir)], check=False)

    async def wait_for(self, api: KubeApi, version: str, deadline_s: float) -> dict[str, Any]:
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            ro = await api.get(ROLLOUT, "chat", "demo")
            if ro is not None:
                decisions = await read_decisions(api, ro) if self.timeline.verbose else None
                self.timeline.observe(ro, decisions)
                status = ro.get("status") or {}
                target_seen = (
                    status.get("challenger") == version or status.get("champion") == version
                )
                if (
                    status.get("phase") in TERMINAL
                    and target_seen
                    and (status.get("observedGeneration") == ro["metadata"].get("generation"))
                ):
                    return ro
            if self.operator is not None and self.operator.poll() is not None:
                raise SystemExit(
                    f"the operator exited ({self.operator.returncode}); see {self.dir / 'operator.log'}"
                )
            await asyncio.sleep(0.5)
        raise SystemExit(
            f"timed out waiting for the rollout to {version}; see {self.dir / 'operator.log'}"
        )

    async def scenario(self) -> bool:
        api = await connect(str(self.dir / "kubeconfig"))
        try:
            self.timeline.say(
                "rollout chat → chat-v1 (first rollout: no champion yet)", style="bold"
            )
            ro = await self.wait_for(api, "chat-v1", 90)
            self._record("v1 first rollout", ro)
            for version, what in (("chat-v2", "v2 (faster)"), ("chat-v3", "v3 (60% slower)")):
                self.timeline.say(
                    f"spec.modelVersion → {version}, as a GitOps commit would", style="bold"
                )
                await api.patch(ROLLOUT, "chat", {"spec": {"modelVersion": version}}, "demo")
                ro = await self.wait_for(api, version, 150)
                self._record(what, ro)
        finally:
            await api.close()
        phases = [row[1] for row in self.timeline.rows]
        return phases == ["Succeeded", "Succeeded", "RolledBack"]

    def _record(self, what: str, ro: dict[str, Any]) -> None:
        status = ro.get("status") or {}
        history = status.get("history") or []
        last = history[-1] if history else {}
        why = status.get("message") or last.get("message", "")
        self.timeline.record(what, status.get("phase", "?"), why)


def run_demo(
    rps: int = 20, workdir: str | None = None, keep: bool = False, verbose: bool = False
) -> int:
    # soft_wrap: one event per line, not wrapped at 80 columns when piped to a file or CI log.
    console = Console(soft_wrap=True)
    console.rule(
        "[bold]Champion demo[/bold] — a real control plane, simulated GPUs and model servers"
    )
    path = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="champion-demo-"))
    path.mkdir(parents=True, exist_ok=True)
    demo = Demo(console, path, rps, keep, verbose)
    started = time.monotonic()
    ok = False
    try:
        demo.sandbox_up()
        demo.kubectl("apply", "-f", str(ROOT / "examples" / "demo"))
        demo.start_operator()
        ok = asyncio.run(demo.scenario())
    finally:
        demo.stop()
    console.print(demo.timeline.summary())
    console.print(
        f"{'[green]demo passed' if ok else '[red]demo did not go as expected'}[/] in "
        f"{time.monotonic() - started:.0f}s; nothing left running. Work dir: {path}"
    )
    return 0 if ok else 1
