"""N Rollouts progressing at once against the emulated API server, the operator in its own process.

Measures what an SRE sizes an operator by: API requests per phase transition,
the operator's CPU seconds and peak memory, and how long after a canary step is
due the HTTPRoute's weights change. The API server and the stand-in
controllers run in this process; the operator is a real `champion run`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import resource
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from champion.sandbox.apiserver.server import ApiServer
from champion.sandbox.apiserver.store import Watcher
from champion.sandbox.cluster import ClusterStandIn, sandbox_nodes
from champion.sandbox.lifecycle import operator_command

NS = "bench"
STEP_SECONDS = 3


def manifests(i: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for v in (1, 2):
        out.append(
            {
                "apiVersion": "champion.dev/v1alpha1",
                "kind": "ModelVersion",
                "metadata": {"name": f"m{i}-v{v}", "namespace": NS},
                "spec": {
                    "model": {
                        "uri": f"hf://bench/m{i}-v{v}",
                        "format": "vllm",
                        "digest": "sha256:" + f"{i:032d}{v:032d}",
                    },
                    "serving": {
                        "backend": "deployment",
                        "image": "vllm/vllm-openai:v0.11.0",
                        "gpusPerReplica": 0,
                        "replicas": 1,
                    },
                },
            }
        )
    out.append(
        {
            "apiVersion": "champion.dev/v1alpha1",
            "kind": "Rollout",
            "metadata": {"name": f"r{i}", "namespace": NS},
            "spec": {
                "modelVersion": f"m{i}-v1",
                "strategy": {
                    "shadow": {"durationSeconds": 0},
                    "canary": {
                        "steps": [
                            {"weight": 20, "durationSeconds": STEP_SECONDS},
                            {"weight": 60, "durationSeconds": STEP_SECONDS},
                        ]
                    },
                    "scaleDownDelaySeconds": 0,
                },
                "analysis": {"metrics": []},
            },
        }
    )
    return out


async def run(n: int) -> dict[str, float]:
    workdir = Path(tempfile.mkdtemp(prefix="champion-bench-"))
    api = await ApiServer().start()
    for node in sandbox_nodes(2):
        api.seed(node)
    for crd in sorted((Path(__file__).resolve().parents[2] / "crds").glob("*.yaml")):
        import yaml

        api.seed(yaml.safe_load(crd.read_text()))
    api.seed({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    for i in range(n):
        for m in manifests(i):
            api.seed(m)
    kubeconfig = api.write_kubeconfig(workdir / "kubeconfig")
    cluster = ClusterStandIn(api, prometheus=None)
    stop = asyncio.Event()

    async def controllers() -> None:
        while not stop.is_set():
            await cluster.reconcile()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.25)

    route_changes: dict[str, list[tuple[float, int]]] = {}
    route_watch = Watcher("gateway.networking.k8s.io", "httproutes", NS, lambda o: True)
    api.store.watchers.append(route_watch)

    async def watch_routes() -> None:
        while True:
            item = await route_watch.queue.get()
            if item is None:
                return
            _, obj = item
            refs = obj["spec"]["rules"][0]["backendRefs"]
            challenger = next(
                (r["weight"] for r in refs if r["weight"] < 100 and "-v2" in r["name"]), 0
            )
            route_changes.setdefault(obj["metadata"]["name"], []).append(
                (time.monotonic(), challenger)
            )

    tasks = [asyncio.create_task(controllers()), asyncio.create_task(watch_routes())]
    log = open(workdir / "operator.log", "wb")  # noqa: SIM115 - closed below
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "CHAMPION_LOG_LEVEL": "WARNING"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    operator = subprocess.Popen(
        operator_command(rollout_tick=1, gpupool_tick=30),
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    ro_t = api.store.type_for("champion.dev", "rollouts")

    def all_at(version: str, phase: str) -> bool:
        items = api.store.select(ro_t, NS, lambda o: True)
        return len(items) == n and all(
            (o.get("status") or {}).get("champion") == version
            and (o.get("status") or {}).get("phase") == phase
            for o in items
        )

    try:
        deadline = time.monotonic() + 300
        while not all_at("m{}-v1", "Succeeded") and time.monotonic() < deadline:
            if all(
                ((o.get("status") or {}).get("phase") == "Succeeded")
                for o in api.store.select(ro_t, NS, lambda o: True)
            ):
                break
            await asyncio.sleep(0.5)
        requests_before = len(api.request_log)
        started = time.monotonic()
        for i in range(n):
            obj = api.store.get(ro_t, NS, f"r{i}")
            obj["spec"]["modelVersion"] = f"m{i}-v2"
            api.store.update(ro_t, NS, f"r{i}", obj)
        while time.monotonic() < deadline:
            items = api.store.select(ro_t, NS, lambda o: True)
            if all(
                (o.get("status") or {}).get("champion", "").endswith("-v2")
                and o["status"]["phase"] == "Succeeded"
                for o in items
            ):
                break
            await asyncio.sleep(0.5)
        wall = time.monotonic() - started
        requests = len(api.request_log) - requests_before
        items = api.store.select(ro_t, NS, lambda o: True)
        done = sum(1 for o in items if (o.get("status") or {}).get("champion", "").endswith("-v2"))
        transitions = (
            sum(
                sum(
                    1
                    for h in o["status"]["history"]
                    if h["decision"] == "transition" and h["time"] >= ""
                )
                for o in items
            )
            - n
        )  # the first rollout's single transition happened before the measurement
        # Time from a canary step being due to the route's weight change.
        delays: list[float] = []
        for _name, changes in route_changes.items():
            ups = [t for t, w in changes if w > 0]
            for a, b in itertools.pairwise(ups):
                delays.append(max(0.0, b - a - STEP_SECONDS))
    finally:
        operator.terminate()
        operator.wait(timeout=30)
        log.close()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        stop.set()
        route_watch.queue.put_nowait(None)
        for t in tasks:
            await t
        await cluster.close()
        await api.stop()
    return {
        "rollouts": n,
        "completed": done,
        "wall_seconds": wall,
        "api_requests": requests,
        "transitions": transitions,
        "requests_per_transition": requests / max(1, transitions),
        "operator_cpu_seconds": (after.ru_utime - before.ru_utime)
        + (after.ru_stime - before.ru_stime),
        "operator_peak_rss_mib": after.ru_maxrss / 1024,
        "step_to_traffic_median_s": statistics.median(delays) if delays else float("nan"),
        "step_to_traffic_p95_s": sorted(delays)[int(0.95 * (len(delays) - 1))]
        if delays
        else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rollouts", type=int, default=100)
    args = parser.parse_args()
    r = asyncio.run(run(args.rollouts))
    print(
        f"| rollouts | completed | wall s (v1→v2, 2 steps x {STEP_SECONDS}s) | API requests | phase transitions | requests/transition | operator CPU s | operator peak RSS MiB | step due → weights changed, median / p95 s |\n"
        "|---|---|---|---|---|---|---|---|---|\n"
        f"| {r['rollouts']} | {r['completed']} | {r['wall_seconds']:.1f} | {r['api_requests']} | {r['transitions']} | {r['requests_per_transition']:.1f} | {r['operator_cpu_seconds']:.1f} | {r['operator_peak_rss_mib']:.0f} | {r['step_to_traffic_median_s']:.2f} / {r['step_to_traffic_p95_s']:.2f} |"
    )


if __name__ == "__main__":
    main()
