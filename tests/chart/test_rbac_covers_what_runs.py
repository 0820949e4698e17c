"""The chart's RBAC against what really runs: every request the operator (and kopf) and an
eval Job make during a rollout with an eval gate must be allowed by the rules the chart
renders for them, and nothing they need is missing. Least privilege that cannot break."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
import yaml

from champion.adapters.kube import connect, resource_for
from champion.handlers.run import run_operator
from champion.reconcile.rollout_evidence import read_decisions
from champion.reconcile.settings import OperatorSettings
from tests.conftest import ROOT
from tests.emulator.apiserver import ApiServer
from tests.emulator.cluster import ClusterStandIn, sandbox_nodes
from tests.emulator.jobs import JobRunner
from tests.helpers import eventually

pytestmark = pytest.mark.slow

RO = resource_for("champion.dev/v1alpha1", "Rollout")
NON_RESOURCE = ("/api", "/apis", "/version", "/openapi", "/healthz", "/livez", "/readyz")


def attributes(method: str, path: str, query: str) -> tuple[str, str, str] | None:
    """(apiGroup, resource[/subresource], verb) as the authorizer sees the request; None for
    discovery (non-resource URLs every authenticated client may read)."""
    parts = [p for p in path.split("/") if p]
    if parts[:1] == ["api"] and len(parts) >= 2:
        group, rest = "", parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 3:
        group, rest = parts[1], parts[3:]
    else:
        return None
    if not rest:
        return None
    if rest[0] == "namespaces" and len(rest) >= 3:
        rest = rest[2:]  # namespaced: namespaces/{ns}/{resource}/...
    resource = rest[0]
    name = rest[1] if len(rest) > 1 else None
    if len(rest) > 2:
        resource = f"{resource}/{rest[2]}"
    watch = parse_qs(query).get("watch", [""])[0] in ("true", "1")
    verb = {
        "GET": "get" if name else ("watch" if watch else "list"),
        "POST": "create",
        "PUT": "update",
        "PATCH": "patch",
        "DELETE": "delete" if name else "deletecollection",
    }[method]
    return group, resource, verb


def allowed(rules: list[dict[str, Any]], group: str, resource: str, verb: str) -> bool:
    return any(
        group in r.get("apiGroups", [])
        and resource in r.get("resources", [])
        and verb in r.get("verbs", [])
        for r in rules
    )


def chart_rules(helm: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    out = subprocess.run(
        [helm, "template", "rel", str(ROOT / "charts" / "champion"), "--set", "watchNamespaces={demo}",
         "--set", "image.repository=registry.example.com/champion"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    docs = [d for d in yaml.safe_load_all(out) if d]
    # With watchNamespaces, namespaced writes are the watched namespace's Role's.
    operator = next(d for d in docs if d["kind"] == "ClusterRole")["rules"] + next(
        d for d in docs
        if d["kind"] == "Role" and d["metadata"]["name"] == "rel-champion"
        and d["metadata"]["namespace"] == "demo"
    )["rules"]  # fmt: skip
    evals = next(
        d for d in docs if d["kind"] == "Role" and d["metadata"]["name"] == "champion-eval"
    )["rules"]
    return operator, evals


def demo(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((ROOT / "examples" / "demo" / name).read_text())
    return doc


async def test_every_request_of_a_gated_rollout_is_allowed_by_the_charts_rbac(
    apiserver: ApiServer, tmp_path: Path, helm_bin: str
) -> None:
    operator_rules, eval_rules = chart_rules(helm_bin)
    for node in sandbox_nodes(1):
        apiserver.seed(node)
    for name in ("00-namespace.yaml", "10-gpupool.yaml", "21-modelversion-v1.yaml",
                 "22-modelversion-v2.yaml", "30-evalsuite.yaml"):  # fmt: skip
        apiserver.seed(demo(name))
    rollout = demo("40-rollout.yaml")
    rollout["spec"]["analysis"]["metrics"] = []
    rollout["spec"]["strategy"]["shadow"]["durationSeconds"] = 1
    for step in rollout["spec"]["strategy"]["canary"]["steps"]:
        step["durationSeconds"] = 1
    apiserver.seed(rollout)
    apiserver.seed(
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": "champion-eval", "namespace": "demo"},
        }
    )  # the chart makes it in evalJobs.namespaces
    apiserver.write_kubeconfig(tmp_path / "kubeconfig")
    cluster, jobs = ClusterStandIn(apiserver, prometheus=None), JobRunner(apiserver, tmp_path)
    stop_controllers = asyncio.Event()

    async def controllers() -> None:
        while not stop_controllers.is_set():
            await cluster.reconcile()
            jobs.reconcile()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop_controllers.wait(), 0.2)

    controllers_task = asyncio.create_task(controllers())
    settings = OperatorSettings(
        kubeconfig=str(apiserver.kubeconfig), metrics_port=None,
        rollout_tick_seconds=0.3, gpupool_tick_seconds=1, modelversion_tick_seconds=1,
    )  # fmt: skip
    stop, ready = asyncio.Event(), asyncio.Event()
    operator = asyncio.create_task(run_operator(settings, stop_flag=stop, ready_flag=ready))
    api = await connect(str(apiserver.kubeconfig), user_agent="the-test")

    async def phase(champion: str) -> dict[str, Any] | None:
        st = ((await api.get(RO, "chat", "demo")) or {}).get("status") or {}
        return st if st.get("phase") == "Succeeded" and st.get("champion") == champion else None

    try:
        await asyncio.wait_for(ready.wait(), 20)
        await eventually(lambda: phase("chat-v1"), timeout=60, what="chat-v1 to serve")
        await api.patch(RO, "chat", {"spec": {"modelVersion": "chat-v2"}}, "demo")
        await eventually(lambda: phase("chat-v2"), timeout=90, what="chat-v2 promoted")
        # The whole history is in the Rollout's evidence ConfigMap, written as the chart allows.
        history = await read_decisions(api, await api.get(RO, "chat", "demo") or {})
        assert any(h["reason"] == "EvalGatePassed" for h in history), history
    finally:
        await api.close()
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(operator, 20)
        stop_controllers.set()
        await controllers_task
        await cluster.close()
        jobs.close()

    seen: dict[str, set[tuple[str, str, str]]] = {"operator": set(), "eval": set()}
    for req in apiserver.request_log:
        who = (
            "eval" if req.agent.startswith("champion-eval")
            else "operator" if req.agent.startswith(("champion-operator", "kopf/"))
            else None
        )  # fmt: skip
        attrs = attributes(req.method, req.path, req.query)
        if who is not None and attrs is not None:
            seen[who].add(attrs)
    # The run really exercised both identities, the eval Job included.
    assert ("champion.dev", "evalsuites", "get") in seen["eval"], seen["eval"]
    assert ("batch", "jobs", "create") in seen["operator"], seen["operator"]
    denied = {
        who: sorted(a for a in attrs if not allowed(rules, *a))
        for who, rules, attrs in (
            ("operator", operator_rules, seen["operator"]),
            ("eval", eval_rules, seen["eval"]),
        )
    }
    assert denied == {"operator": [], "eval": []}, denied
