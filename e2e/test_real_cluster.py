"""What only a real control plane can show: its version, the chart's RBAC enforced by the real
authorizer, a refused request reported on the Rollout, and GPU placement by the real scheduler."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from champion.api.v1alpha1.gpupool import GPUPoolSpec
from champion.domain.placement import Request, admit, pool_state
from e2e.conftest import ROOT, apply, k, kubectl, wait_rollout

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        bool(os.environ.get("E2E_KUBECONFIG")),
        reason="edits the chart's ClusterRole and creates GPU pods: sandbox only",
    ),
]
SA = "system:serviceaccount:champion-system:champion"


def wait_for(what: str, check: Any, timeout: float, every: float = 1.0) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last}")


def example(name: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / "examples" / "demo" / name).read_text())


def test_the_api_server_is_a_real_kube_apiserver(cluster: dict[str, str]) -> None:
    version = json.loads(k(cluster, "version", "-o", "json"))["serverVersion"]
    assert version["gitVersion"] == "v1.36.3"
    nodes = json.loads(k(cluster, "get", "nodes", "-o", "json"))["items"]
    assert {n["status"]["nodeInfo"]["kubeletVersion"] for n in nodes} == {"kwok-v0.8.0"}
    assert all(n["status"]["allocatable"]["nvidia.com/gpu"] == "8" for n in nodes)


def _can_i(env: dict[str, str], namespace: str) -> set[tuple[str, str]]:
    out = k(env, "auth", "can-i", "--list", f"--as={SA}", "-n", namespace)
    pairs = set()
    for line in out.splitlines()[1:]:
        resource = line.split()[0]
        if resource.startswith("["):  # a non-resource URL every user may GET (discovery)
            continue
        verbs = line[line.rindex("[") + 1 : line.rindex("]")].split()
        if resource.startswith("selfsubject"):  # every authenticated user may ask about itself
            continue
        pairs |= {(resource, v) for v in verbs}
    return pairs


def _granted(rules: list[dict[str, Any]]) -> set[tuple[str, str]]:
    pairs = set()
    for rule in rules:
        for group in rule.get("apiGroups", []):
            for resource in rule.get("resources", []):
                base, _, sub = resource.partition("/")
                name = f"{base}.{group}" if group else base
                name += f"/{sub}" if sub else ""
                pairs |= {(name, v) for v in rule.get("verbs", [])}
    return pairs


def test_the_operators_permissions_are_exactly_the_charts(cluster: dict[str, str]) -> None:
    role = json.loads(k(cluster, "get", "clusterrole", "champion", "-o", "json"))
    # What the real authorizer answers for the ServiceAccount = what the chart's ClusterRole says.
    assert _can_i(cluster, "demo") == _granted(role["rules"])


def _rollout(name: str) -> dict[str, Any]:
    body = example("40-rollout.yaml")
    body["metadata"]["name"] = name
    body["spec"]["endpoint"]["hostnames"] = [f"{name}.demo.example.com"]
    body["spec"]["strategy"].pop("evalGate")
    return body


def _condition(ro: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(
        (c for c in (ro.get("status") or {}).get("conditions") or [] if c["type"] == kind), {}
    )


def test_a_request_outside_the_charts_rbac_is_refused_and_reported(
    cluster: dict[str, str],
) -> None:
    apply(cluster, example("00-namespace.yaml"), example("10-gpupool.yaml"))
    apply(cluster, example("21-modelversion-v1.yaml"))
    original = json.loads(k(cluster, "get", "clusterrole", "champion", "-o", "json"))
    narrowed = json.loads(json.dumps(original))
    for rule in narrowed["rules"]:
        if "httproutes" in rule.get("resources", []):
            rule["verbs"] = [v for v in rule["verbs"] if v != "create"]
    for key in ("resourceVersion", "uid", "creationTimestamp", "managedFields"):
        narrowed["metadata"].pop(key, None)
    apply(cluster, narrowed, verb="replace")
    try:
        apply(cluster, _rollout("forbidden"))

        def degraded() -> dict[str, Any] | None:
            ro = json.loads(
                k(cluster, "get", "rollouts.champion.dev", "forbidden", "-n", "demo", "-o", "json")
            )
            c = _condition(ro, "Degraded")
            return c if c.get("status") == "True" and c.get("reason") == "Forbidden" else None

        condition = wait_for("Degraded=True (Forbidden)", degraded, 60)
        assert "may not create httproutes" in condition["message"]
        assert "gateway.networking.k8s.io" in condition["message"]
        events = json.loads(
            k(
                cluster,
                "get",
                "events",
                "-n",
                "demo",
                "-o",
                "json",
                "--field-selector",
                "involvedObject.name=forbidden",
            )
        )["items"]
        forbidden = [e for e in events if e["type"] == "Warning" and e["reason"] == "Forbidden"]
        assert forbidden, events
        assert forbidden[0]["reportingComponent"] == "champion-operator"  # not "kopf"
        assert forbidden[0]["source"]["component"] == "champion-operator"
    finally:
        restored = {
            **original,
            "metadata": {
                "name": "champion",
                **{
                    key: v
                    for key, v in original["metadata"].items()
                    if key in ("labels", "annotations")
                },
            },
        }
        apply(cluster, restored, verb="replace")

    # The operator did not crash: with the permission back, the same Rollout goes through.
    def succeeded() -> bool:
        ro = json.loads(
            k(cluster, "get", "rollouts.champion.dev", "forbidden", "-n", "demo", "-o", "json")
        )
        return (ro.get("status") or {}).get("phase") == "Succeeded"

    wait_for("the Rollout to succeed once allowed", succeeded, 120)
    k(cluster, "delete", "rollouts.champion.dev", "forbidden", "-n", "demo", "--wait=true")


def _pool(env: dict[str, str], namespace: str) -> tuple[GPUPoolSpec, Any]:
    spec = GPUPoolSpec.model_validate(example("10-gpupool.yaml")["spec"])
    nodes = json.loads(k(env, "get", "nodes", "-o", "json"))["items"]
    pods = json.loads(k(env, "get", "pods", "-A", "-o", "json"))["items"]
    return spec, pool_state("h100", spec, nodes, pods, [])


def _gpu_deployment(name: str, replicas: int, gpus: int) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "gpu-fit"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "nodeSelector": {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"},
                    "containers": [
                        {
                            "name": "server",
                            "image": "vllm/vllm-openai:v0.11.0",
                            "resources": {
                                "requests": {"nvidia.com/gpu": str(gpus)},
                                "limits": {"nvidia.com/gpu": str(gpus)},
                            },
                        }
                    ],
                },
            },
        },
    }


@pytest.mark.parametrize(("replicas", "gpus"), [(5, 3), (2, 8), (3, 5), (4, 4)])
def test_gpupool_admission_predicts_the_real_schedulers_placement(
    cluster: dict[str, str], replicas: int, gpus: int
) -> None:
    apply(cluster, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "gpu-fit"}})
    _, pool = _pool(cluster, "gpu-fit")
    # Admission's prediction: the most replicas of this shape the pool can take now.
    predicted = max(
        (
            n
            for n in range(replicas + 1)
            if n == 0 or admit(pool, Request("", "gpu-fit", "x", n, gpus), "now").fits
        ),
    )
    name = f"fit-{replicas}x{gpus}"
    apply(cluster, _gpu_deployment(name, replicas, gpus))
    try:

        def settled() -> tuple[int, int] | None:
            pods = json.loads(
                k(cluster, "get", "pods", "-n", "gpu-fit", "-l", f"app={name}", "-o", "json")
            )["items"]
            bound = sum(1 for p in pods if p["spec"].get("nodeName"))
            unschedulable = sum(
                1
                for p in pods
                if any(
                    c.get("reason") == "Unschedulable" for c in p["status"].get("conditions", [])
                )
            )
            return (bound, unschedulable) if bound + unschedulable == replicas else None

        bound, unschedulable = wait_for("every pod bound or unschedulable", settled, 60, 0.5)
        assert bound == predicted, (bound, predicted)
        if unschedulable:
            events = k(
                cluster,
                "get",
                "events",
                "-n",
                "gpu-fit",
                "--field-selector",
                "reason=FailedScheduling",
            )
            assert "Insufficient nvidia.com/gpu" in events
    finally:
        k(cluster, "delete", "deployment", name, "-n", "gpu-fit", "--wait=true")
        wait_for(
            "the pods to go",
            lambda: (
                not json.loads(k(cluster, "get", "pods", "-n", "gpu-fit", "-o", "json"))["items"]
            ),
            60,
            0.5,
        )


def test_sandbox_down_stops_every_process_it_started(tmp_path: Path) -> None:
    from champion.sandbox.controlplane import read_pids
    from champion.sandbox.lifecycle import down, up

    up(tmp_path, rps=1, gpu_nodes=1)
    pids = read_pids(tmp_path / "pids.json")
    assert {
        "supervisor",
        "etcd",
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
        "kwok",
        "prometheus",
    } <= set(pids)
    assert down(tmp_path)

    def alive(pid: int) -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        # A child that exited but was not reaped yet counts as gone.
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"

    assert not [name for name, pid in pids.items() if alive(pid)]
    assert not down(tmp_path)  # twice is safe


def _readme_kubectl_lines() -> list[str]:
    lines, fenced = [], False
    for line in (ROOT / "README.md").read_text().splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif fenced and "kubectl " in line and "rollout" in line.split("#", 1)[0]:
            lines.append(line.split("#", 1)[0].strip())
    return lines


def test_the_readmes_commands_reach_champions_rollouts_beside_argo_rollouts(
    cluster: dict[str, str],
) -> None:
    from champion.sandbox.controlplane import k8s_dir
    from champion.sandbox.install import wait_established

    argo = k8s_dir() / "argo-rollouts-crds" / "rollout-crd.yaml"
    k(cluster, "apply", "--server-side", "-f", str(argo))
    wait_established(Path(cluster["KUBECONFIG"]))
    try:
        commands = _readme_kubectl_lines()
        assert commands, "the README shows kubectl commands on Rollouts"
        wrong = [c for c in commands if "rollouts.champion.dev" not in c and " mro" not in c]
        assert not wrong, f"these README commands would reach Argo Rollouts' kind: {wrong}"
        apply(cluster, example("00-namespace.yaml"), example("10-gpupool.yaml"))
        apply(cluster, example("21-modelversion-v1.yaml"), _rollout("beside-argo"))
        ours = k(
            cluster,
            "get",
            "rollouts.champion.dev",
            "beside-argo",
            "-n",
            "demo",
            "-o",
            "jsonpath={.apiVersion}",
        )
        assert ours == "champion.dev/v1alpha1"
        # The bare plural is Argo's now, which is why the README never uses it.
        assert "beside-argo" not in k(cluster, "get", "rollouts", "-n", "demo")
        assert "beside-argo" in k(cluster, "get", "mro", "-n", "demo")
        assert "beside-argo" in k(cluster, "get", "champion", "-n", "demo")  # the category
    finally:
        k(cluster, "delete", "--ignore-not-found", "-f", str(argo))
        k(
            cluster,
            "delete",
            "--ignore-not-found",
            "rollouts.champion.dev",
            "beside-argo",
            "-n",
            "demo",
        )


def test_converging_an_unchanged_child_writes_nothing(cluster: dict[str, str]) -> None:
    """The real server defaults fields inside list items (a backendRef's group and kind, a
    container's terminationMessagePath): an unchanged child must not be PATCHed every tick."""
    import asyncio

    from champion.adapters.kube import connect

    apply(cluster, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "converge"}})
    route = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "r", "namespace": "converge"},
        "spec": {"rules": [{"backendRefs": [{"name": "a", "port": 8000, "weight": 100}]}]},
    }
    deployment = _gpu_deployment("d", 0, 1)
    deployment["metadata"]["namespace"] = "converge"

    async def converge() -> list[bool]:
        api = await connect(cluster["KUBECONFIG"])
        try:
            changed = []
            for obj in (route, deployment):
                for _ in range(3):
                    changed.append((await api.ensure(obj))[1])
            return changed
        finally:
            await api.close()

    assert asyncio.run(converge()) == [True, False, False, True, False, False]

    # A mirror the route no longer wants is removed (the rule says `filters: []`).

    mirrored = json.loads(json.dumps(route))
    mirrored["spec"]["rules"][0]["filters"] = [
        {
            "type": "RequestMirror",
            "requestMirror": {"backendRef": {"name": "b", "port": 8000}, "percent": 50},
        }
    ]
    plain = json.loads(json.dumps(route))
    plain["spec"]["rules"][0]["filters"] = []

    async def unmirror() -> list[Any]:
        api = await connect(cluster["KUBECONFIG"])
        try:
            await api.ensure(mirrored)
            changed = (await api.ensure(plain))[1]
            again = (await api.ensure(plain))[1]
            return [changed, again, (await api.ensure(plain))[0]["spec"]["rules"][0].get("filters")]
        finally:
            await api.close()

    assert asyncio.run(unmirror()) == [True, False, []]


@pytest.mark.parametrize("length", [63, 64, 200])
def test_names_that_cannot_be_label_values_are_refused_at_admission(
    cluster: dict[str, str], length: int
) -> None:
    apply(cluster, example("00-namespace.yaml"))
    name = ("v" + "x" * 300)[:length]
    docs = []
    for doc in (example("21-modelversion-v1.yaml"), _rollout("r")):
        doc["metadata"]["name"] = name
        docs.append(doc)
    docs[1]["spec"]["modelVersion"] = name
    for doc in docs:
        result = subprocess.run(
            [kubectl(), "apply", "--dry-run=server", "-f", "-"],
            input=yaml.safe_dump(doc),
            env=cluster,
            capture_output=True,
            text=True,
        )
        if length <= 63:
            assert result.returncode == 0, result.stderr
        else:
            assert result.returncode != 0
            assert "limits to 63 characters" in result.stderr, result.stderr
            assert "metadata.name" in result.stderr


def test_a_gate_without_its_service_account_is_reported_not_left_running(
    cluster: dict[str, str],
) -> None:
    """The chart creates `champion-eval` only in evalJobs.namespaces. Elsewhere the real
    ServiceAccount admission refuses every pod of a gate's Job: the Rollout says so instead."""
    ns = "no-eval-sa"
    apply(cluster, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    apply(cluster, example("10-gpupool.yaml"))
    docs = [example(f) for f in ("21-modelversion-v1.yaml", "22-modelversion-v2.yaml")]
    docs += [example("30-evalsuite.yaml"), example("40-rollout.yaml")]
    for doc in docs:
        doc["metadata"]["namespace"] = ns
    rollout = docs[-1]
    rollout["spec"]["endpoint"]["hostnames"] = ["chat.no-eval-sa.example.com"]
    apply(cluster, *docs)
    wait_rollout(cluster, "champion", "chat-v1", "Succeeded", 90, namespace=ns)
    k(cluster, "patch", "rollouts.champion.dev", "chat", "-n", ns, "--type=merge",
      "-p", '{"spec":{"modelVersion":"chat-v2"}}')  # fmt: skip

    def reported() -> dict[str, Any] | None:
        ro = json.loads(k(cluster, "get", "rollouts.champion.dev", "chat", "-n", ns, "-o", "json"))
        c = _condition(ro, "Degraded")
        return c if c.get("reason") == "EvalServiceAccountMissing" else None

    condition = wait_for("Degraded=True (EvalServiceAccountMissing)", reported, 60)
    assert condition["status"] == "True"
    assert (
        '"champion-eval"' in condition["message"] and "evalJobs.namespaces" in condition["message"]
    )
    events = json.loads(k(cluster, "get", "events", "-n", ns, "-o", "json",
                          "--field-selector", "involvedObject.name=chat"))["items"]  # fmt: skip
    assert [
        e for e in events if e["reason"] == "EvalServiceAccountMissing" and e["type"] == "Warning"
    ]
    assert "chat" not in k(cluster, "get", "jobs", "-n", ns, "-o", "name"), "no Job whose pods fail"

    # Once the ServiceAccount exists the gate's Job is made and the condition clears.
    apply(cluster, {"apiVersion": "v1", "kind": "ServiceAccount",
                    "metadata": {"name": "champion-eval", "namespace": ns}})  # fmt: skip

    def job_made() -> bool:
        return "chat" in k(cluster, "get", "jobs", "-n", ns, "-o", "name")

    wait_for("the gate's Job once the ServiceAccount exists", job_made, 60)
    wait_for("the condition to clear", lambda: reported() is None, 60)
    k(cluster, "delete", "namespace", ns, "--wait=false")
