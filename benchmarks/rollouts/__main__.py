"""N Rollouts progressing at once on a real control plane, the operator in its own process.

Measures what an SRE sizes an operator by: API requests per phase transition,
the operator's CPU seconds and peak memory, and how long after a canary step is
due the HTTPRoute's weights change.

The cluster is real: etcd, kube-apiserver, kube-controller-manager and
kube-scheduler 1.36.3, with KWOK playing the kubelets of GPU Nodes
(`champion.sandbox.controlplane`); Champion is installed by `helm install` of
charts/champion (`champion.sandbox.install`) and the operator is a real
`champion run` process on a token of the chart's ServiceAccount, so every
request passes the chart's RBAC. The real controller-manager, scheduler and
KWOK make the Deployments ready; the Rollouts have no metrics, so no model
servers or Prometheus run.

The operator's API requests are counted by the real API server's audit log:
every `ResponseComplete` line whose user is the chart's ServiceAccount and
whose request was received between the v1→v2 switch and the moment every
Rollout was seen Succeeded on v2. HTTPRoute weight changes are seen through a
watch on the API server (admin client certificate), stamped when each event
arrives here. A step is due STEP_SECONDS after the route took the previous
step's weight; a step whose weight never reached the route (the operator went
past it) has no such pair, and is counted apart as "never routed".
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import os
import shutil
import signal
import ssl
import statistics
import subprocess
import tempfile
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp

from champion.adapters.kube import KubeApi, connect, resource_for
from champion.reconcile.rollout_evidence import read_decisions
from champion.sandbox.controlplane import K8S_VERSION, ControlPlane, ensure_binaries
from champion.sandbox.install import OPERATOR_SA, RELEASE_NAMESPACE, install, token_kubeconfig
from champion.sandbox.lifecycle import operator_command

NS = "bench"
STEP_SECONDS = 3
STEP_WEIGHTS = (20, 60)
ROLLOUT = resource_for("champion.dev/v1alpha1", "Rollout")
OPERATOR_USER = f"system:serviceaccount:{RELEASE_NAMESPACE}:{OPERATOR_SA}"
AUDIT_FLUSH_SECONDS = 3.0  # the control plane's --audit-log-batch-max-wait is 1 s
PODS_PER_NODE = 100  # a KWOK GPU Node holds 110 pods; leave some slack


def gpu_node_count(n: int) -> int:
    """Enough Nodes for both versions of every Rollout at once (2N pods)."""
    return math.ceil(2 * n / PODS_PER_NODE) + 1


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
                            {"weight": w, "durationSeconds": STEP_SECONDS} for w in STEP_WEIGHTS
                        ]
                    },
                    "scaleDownDelaySeconds": 0,
                },
                "analysis": {"metrics": []},
            },
        }
    )
    return out


def admin_ssl(cp: ControlPlane) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(cp.pki / "ca.crt"))
    ctx.load_cert_chain(str(cp.pki / "admin.crt"), str(cp.pki / "admin.key"))
    return ctx


def challenger_weight(route: dict[str, Any]) -> int:
    rules = (route.get("spec") or {}).get("rules") or [{}]
    refs = rules[0].get("backendRefs") or []
    return next(
        (r.get("weight", 1) for r in refs if r.get("weight", 1) < 100 and "-v2" in r["name"]), 0
    )


async def watch_routes(cp: ControlPlane, changes: dict[str, list[tuple[float, int]]]) -> None:
    """Records (arrival time, challenger weight) each time a route's challenger weight changes.

    A real watch on the API server (`?watch=1`); resumed from the last resourceVersion if the
    server ends it, relisted (initial ADDED events, deduplicated here) if that version is gone.
    """
    url = f"{cp.url}/apis/gateway.networking.k8s.io/v1/namespaces/{NS}/httproutes"
    rv = ""
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(ssl=admin_ssl(cp)),
        timeout=aiohttp.ClientTimeout(total=None, sock_read=None),
    ) as session:
        while True:
            params = {"watch": "1", "allowWatchBookmarks": "true"}
            if rv:
                params["resourceVersion"] = rv
            async with session.get(url, params=params) as resp:
                resp.raise_for_status()
                async for line in resp.content:
                    if not line.strip():
                        continue
                    event = json.loads(line)
                    if event["type"] == "ERROR":  # 410 Gone: start again from now
                        rv = ""
                        break
                    obj = event["object"]
                    rv = obj["metadata"].get("resourceVersion", rv)
                    if event["type"] not in ("ADDED", "MODIFIED"):
                        continue
                    seen = changes.setdefault(obj["metadata"]["name"], [])
                    weight = challenger_weight(obj)
                    if not seen or seen[-1][1] != weight:
                        seen.append((time.monotonic(), weight))


def count_operator_requests(
    audit_log: Path, offset: int, since: float, until: float
) -> tuple[int, Counter[str], int]:
    """The operator's requests received in [since, until] (epoch seconds), from the audit log.

    Returns (count, count by verb, count answered with a status >= 400). `offset` is the log's
    size before `since`: every line before it is an earlier request.
    """
    total, errors = 0, 0
    verbs: Counter[str] = Counter()
    with audit_log.open("rb") as f:
        f.seek(offset)
        for raw in f:
            try:
                event = json.loads(raw)
            except ValueError:  # a line still being written
                continue
            if event.get("stage") != "ResponseComplete":
                continue
            if (event.get("user") or {}).get("username") != OPERATOR_USER:
                continue
            received = datetime.fromisoformat(event["requestReceivedTimestamp"]).timestamp()
            if not since <= received <= until:
                continue
            total += 1
            verbs[event.get("verb", "?")] += 1
            if (event.get("responseStatus") or {}).get("code", 200) >= 400:
                errors += 1
    return total, verbs, errors


def stop_operator(proc: subprocess.Popen[bytes], timeout: float = 30) -> Any:
    """SIGTERM, then the operator's own rusage from wait4 (not every child this process reaped,
    which would include kubectl, helm and the control plane)."""
    if proc.poll() is not None:
        raise RuntimeError(f"the operator exited early with code {proc.returncode}")
    proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return usage
        if time.monotonic() > deadline:
            proc.kill()
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            return usage
        time.sleep(0.1)


async def transitions_of(api: KubeApi, rollout: dict[str, Any]) -> int:
    """From all its decisions (the evidence ConfigMap's), not the few `.status` keeps."""
    history = await read_decisions(api, rollout)
    return sum(1 for h in history if h["decision"] == "transition")


async def create_all(api: KubeApi, objs: list[dict[str, Any]], parallel: int = 16) -> None:
    sem = asyncio.Semaphore(parallel)

    async def one(obj: dict[str, Any]) -> None:
        async with sem:
            await api.create(obj)

    await asyncio.gather(*(one(o) for o in objs))


async def wait_for(
    api: KubeApi, n: int, version_suffix: str, deadline: float
) -> list[dict[str, Any]]:
    """Polls (admin client, not counted) until all n Rollouts are Succeeded on `-vN`."""
    while True:
        items = await api.list(ROLLOUT, NS)
        if len(items) == n and all(
            (o.get("status") or {}).get("champion", "").endswith(version_suffix)
            and (o.get("status") or {}).get("phase") == "Succeeded"
            for o in items
        ):
            return items
        if time.monotonic() > deadline:
            return items
        await asyncio.sleep(0.5)


async def run(n: int, keep_workdir: bool = False) -> dict[str, Any]:
    await asyncio.to_thread(ensure_binaries)
    workdir = Path(tempfile.mkdtemp(prefix="champion-bench-"))
    cp = ControlPlane(workdir, audit=True)
    api: KubeApi | None = None
    operator: subprocess.Popen[bytes] | None = None
    watcher: asyncio.Task[None] | None = None
    done = 0
    try:
        await asyncio.to_thread(cp.start)
        admin = cp.admin_kubeconfig
        # The eval namespaces are created by install(): the benchmark's one namespace.
        await asyncio.to_thread(install, admin, gpu_node_count(n), "", [NS])
        operator_kc = await asyncio.to_thread(
            token_kubeconfig, admin, cp.url, cp.pki / "ca.crt", RELEASE_NAMESPACE, OPERATOR_SA,
            workdir / "operator.kubeconfig",
        )  # fmt: skip
        api = await connect(str(admin), user_agent="champion-benchmark")
        route_changes: dict[str, list[tuple[float, int]]] = {}
        watcher = asyncio.create_task(watch_routes(cp, route_changes))
        await create_all(api, [m for i in range(n) for m in manifests(i)])

        log = open(workdir / "operator.log", "wb")  # noqa: SIM115 - closed below
        env = {**os.environ, "KUBECONFIG": str(operator_kc), "CHAMPION_LOG_LEVEL": "WARNING"}
        operator = subprocess.Popen(
            operator_command(rollout_tick=1, gpupool_tick=30, kubeconfig=str(operator_kc)),
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        await wait_for(api, n, "-v1", time.monotonic() + 120 + 3 * n)

        offset = cp.audit_log.stat().st_size
        since = time.time()
        started = time.monotonic()
        await asyncio.gather(
            *(
                api.patch(ROLLOUT, f"r{i}", {"spec": {"modelVersion": f"m{i}-v2"}}, NS)
                for i in range(n)
            )
        )
        items = await wait_for(api, n, "-v2", time.monotonic() + 120 + 3 * n)
        wall = time.monotonic() - started
        until = time.time()
        done = sum(1 for o in items if (o.get("status") or {}).get("champion", "").endswith("-v2"))
        usage = await asyncio.to_thread(stop_operator, operator)
        await asyncio.sleep(AUDIT_FLUSH_SECONDS)
        requests, verbs, errors = count_operator_requests(cp.audit_log, offset, since, until)
        # The first rollout's single transition happened before the measurement.
        transitions = sum([await transitions_of(api, o) for o in items]) - n
        if watcher.done():
            watcher.result()  # the route watch ended: raise why, rather than report no delays
        # Time from a canary step being due to the route's weight change.
        delays: list[float] = []
        for changes in route_changes.values():
            ups = [t for t, w in changes if w > 0]
            for a, b in itertools.pairwise(ups):
                delays.append(max(0.0, b - a - STEP_SECONDS))
        # A step whose weight never reached the route has no pair above: count those apart.
        missed = {
            name: [w for w in STEP_WEIGHTS if w not in {cw for _, cw in changes}]
            for name, changes in route_changes.items()
        }
        (workdir / "rollouts.json").write_text(
            json.dumps({o["metadata"]["name"]: o.get("status") for o in items}, indent=1)
        )
        (workdir / "route_changes.json").write_text(json.dumps(route_changes, indent=1))
        deployments = await api.list(resource_for("apps/v1", "Deployment"), NS)
        (workdir / "deployments.json").write_text(
            json.dumps({d["metadata"]["name"]: d.get("status") for d in deployments}, indent=1)
        )
    finally:
        if watcher is not None:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)
        if operator is not None and operator.returncode is None:
            operator.kill()
            operator.wait()
        if api is not None:
            await api.close()
        await asyncio.to_thread(cp.stop)
    kept = keep_workdir or done < n
    if not kept:
        shutil.rmtree(workdir, ignore_errors=True)
    return {
        "rollouts": n,
        "completed": done,
        "wall_seconds": wall,
        "api_requests": requests,
        "api_requests_by_verb": dict(verbs),
        "api_request_errors": errors,
        "transitions": transitions,
        "requests_per_transition": requests / max(1, transitions),
        "operator_cpu_seconds": usage.ru_utime + usage.ru_stime,
        "operator_peak_rss_mib": usage.ru_maxrss / 1024,
        "step_to_traffic_median_s": statistics.median(delays) if delays else float("nan"),
        "step_to_traffic_p95_s": sorted(delays)[int(0.95 * (len(delays) - 1))]
        if delays
        else float("nan"),
        "canary_steps_never_routed": sum(len(m) for m in missed.values()),
        "rollouts_with_a_step_never_routed": sum(1 for m in missed.values() if m),
        "api_server": f"kube-apiserver {K8S_VERSION}",
        "workdir": str(workdir) if kept else "",
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rollouts", type=int, default=100)
    parser.add_argument(
        "--keep-workdir", action="store_true", help="keep the logs (kept anyway on a shortfall)"
    )
    args = parser.parse_args()
    r = asyncio.run(run(args.rollouts, args.keep_workdir))
    print(
        f"| API server | rollouts | completed | wall s (v1→v2, 2 steps x {STEP_SECONDS}s) | API requests (audit log) | phase transitions | requests/transition | operator CPU s | operator peak RSS MiB | step due → weights changed, median / p95 s |\n"
        "|---|---|---|---|---|---|---|---|---|---|\n"
        f"| {r['api_server']} | {r['rollouts']} | {r['completed']} | {r['wall_seconds']:.1f} | {r['api_requests']} | {r['transitions']} | {r['requests_per_transition']:.1f} | {r['operator_cpu_seconds']:.1f} | {r['operator_peak_rss_mib']:.0f} | {r['step_to_traffic_median_s']:.2f} / {r['step_to_traffic_p95_s']:.2f} |"
    )
    verbs = ", ".join(f"{v} {c}" for v, c in sorted(r["api_requests_by_verb"].items()))
    print(
        f"API requests: the operator's ({OPERATOR_USER}), counted by the real API server's audit"
        f" log (stage ResponseComplete) from the v1→v2 switch to the end: {verbs};"
        f" {r['api_request_errors']} answered >= 400."
    )
    print(
        f"canary steps whose weight never reached the HTTPRoute: {r['canary_steps_never_routed']}"
        f" (in {r['rollouts_with_a_step_never_routed']} rollouts; the delay above is measured"
        " only where both steps were routed)"
    )
    if r["workdir"]:
        print(f"logs kept in {r['workdir']}")


if __name__ == "__main__":
    main()
