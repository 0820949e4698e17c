"""The real kubectl (1.35) against the emulated API server."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest
import yaml

from tests.apiserver.conftest import TESTDATA, Kubectl
from tests.conftest import ROOT
from tests.emulator.apiserver import ApiServer
from tests.helpers import run

ROLLOUT = """
apiVersion: testing.champion.dev/v1
kind: Rollout
metadata: {name: chat, namespace: default}
spec:
  model: llama
  strategy: {canary: {steps: [{name: a, weight: %s}]}}
"""


async def _apply_rollout(kubectl: Kubectl, weight: int = 10) -> None:
    crd = await kubectl("apply", "-f", str(TESTDATA / "rollouts-crd.yaml"))
    assert crd.code == 0, crd.err
    applied = await kubectl("apply", "-f", "-", stdin=ROLLOUT % weight)
    assert applied.code == 0, applied.err


async def test_apply_get_printer_columns_yaml_shortnames_and_categories(kubectl: Kubectl) -> None:
    await _apply_rollout(kubectl)
    again = await kubectl("apply", "-f", "-", stdin=ROLLOUT % 10)
    assert "rollout.testing.champion.dev/chat unchanged" in again.out
    for resource in ("rollouts", "ro", "rollout.testing.champion.dev", "champion-test"):
        got = await kubectl("get", resource)
        assert got.code == 0, got.err
        assert got.out.splitlines()[0].split() == ["NAME", "MODEL", "PHASE", "WEIGHT", "READY", "AGE"]  # fmt: skip
        assert got.out.splitlines()[1].split()[:2] == ["chat", "llama"]
    wide = await kubectl("get", "ro", "-o", "wide")
    assert "REPLICAS" in wide.out.splitlines()[0]
    assert wide.out.splitlines()[1].split()[:3] == ["chat", "llama", "1"], "empty cells print blank"
    obj = yaml.safe_load((await kubectl("get", "ro", "chat", "-o", "yaml")).out)
    meta = obj["metadata"]
    assert meta["generation"] == 1 and meta["uid"] and int(meta["resourceVersion"]) > 0
    assert obj["spec"]["replicas"] == 1, "defaulted by the schema"
    explained = await kubectl("explain", "rollouts.spec.strategy")
    assert explained.code == 0 and "canary" in explained.out, explained.err


async def test_patch_merge_and_the_status_subresource(kubectl: Kubectl) -> None:
    await _apply_rollout(kubectl)
    spec = await kubectl("patch", "ro", "chat", "--type", "merge", "-p", '{"spec":{"model":"mistral"}}')  # fmt: skip
    assert spec.code == 0, spec.err
    status = await kubectl(
        "patch", "ro", "chat", "--type", "merge", "--subresource=status", "-p",
        '{"status":{"phase":"Canary","weight":20,"conditions":[{"type":"Ready","status":"True"}]}}',
    )  # fmt: skip
    assert status.code == 0, status.err
    row = (await kubectl("get", "ro", "chat", "--no-headers")).out.split()
    assert row[:5] == ["chat", "mistral", "Canary", "20", "True"]
    generation = await kubectl("get", "ro", "chat", "-o", "jsonpath={.metadata.generation}")
    assert generation.out == "2", "the status write did not bump it"
    strategic = await kubectl("patch", "ro", "chat", "-p", '{"spec":{"model":"x"}}')
    assert strategic.code != 0
    assert "application/strategic-merge-patch+json is not supported" in strategic.err


async def test_invalid_objects_are_rejected_with_the_field_path(kubectl: Kubectl) -> None:
    await _apply_rollout(kubectl)
    too_heavy = await kubectl("apply", "-f", "-", stdin=(ROLLOUT % 150).replace("chat", "heavy"))
    assert too_heavy.code != 0
    assert (
        'The Rollout "heavy" is invalid: spec.strategy.canary.steps[0].weight: Invalid value: 150: '
        "spec.strategy.canary.steps[0].weight in body should be less than or equal to 100"
    ) in too_heavy.err
    locked = await kubectl("patch", "ro", "chat", "--type", "merge", "-p", '{"spec":{"locked":true}}')  # fmt: skip
    assert locked.code == 0
    moved = await kubectl("patch", "ro", "chat", "--type", "merge", "-p", '{"spec":{"model":"other"}}')  # fmt: skip
    assert moved.code != 0 and 'spec.model: Invalid value: "object": model is locked' in moved.err
    unknown = await kubectl("apply", "-f", "-", stdin=(ROLLOUT % 10).replace("model: llama", "model: llama\n  typo: 1"))  # fmt: skip
    assert unknown.code != 0 and 'strict decoding error: unknown field "spec.typo"' in unknown.err


async def test_get_watch_sees_changes(
    kubectl: Kubectl, server: ApiServer, kubectl_bin: str
) -> None:
    await _apply_rollout(kubectl)
    env = {**os.environ, "KUBECONFIG": str(server.kubeconfig)}
    watch = await asyncio.create_subprocess_exec(
        kubectl_bin, "get", "ro", "-w", "--request-timeout=0",
        stdout=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    assert watch.stdout is not None
    try:
        async with asyncio.timeout(10):
            assert b"PHASE" in await watch.stdout.readline()
            assert (await watch.stdout.readline()).split()[0] == b"chat"
            patched = await kubectl(
                "patch", "ro", "chat", "--type", "merge", "--subresource=status",
                "-p", '{"status":{"phase":"Shadow","weight":5}}',
            )  # fmt: skip
            assert patched.code == 0, patched.err
            line = await watch.stdout.readline()
        assert line.split()[:4] == [b"chat", b"llama", b"Shadow", b"5"]
    finally:
        watch.kill()
        await watch.wait()


async def test_delete_waits_for_finalizers_then_the_object_is_gone(
    kubectl: Kubectl, server: ApiServer
) -> None:
    await _apply_rollout(kubectl)
    held = await kubectl("patch", "ro", "chat", "--type", "merge", "-p",
                         '{"metadata":{"finalizers":["testing.champion.dev/hold"]}}')  # fmt: skip
    assert held.code == 0
    marked = await kubectl("delete", "ro", "chat", "--wait=false")
    assert marked.code == 0
    assert (await kubectl("get", "ro", "chat", "-o", "jsonpath={.metadata.deletionTimestamp}")).out  # fmt: skip
    released = await kubectl("patch", "ro", "chat", "--type", "json", "-p",
                             '[{"op":"remove","path":"/metadata/finalizers"}]')  # fmt: skip
    assert released.code == 0, released.err
    gone = await kubectl("get", "ro", "chat")
    assert gone.code != 0 and "NotFound" in gone.err


async def test_namespaces_configmaps_and_secrets_from_kubectl_create_and_apply(
    kubectl: Kubectl,
) -> None:
    created = await kubectl("create", "namespace", "team-a")
    assert created.code == 0 and "namespace/team-a created" in created.out, created.err
    applied = await kubectl("apply", "-f", "-", stdin="apiVersion: v1\nkind: Namespace\nmetadata: {name: team-b}\n")  # fmt: skip
    assert applied.code == 0, applied.err
    cm = await kubectl("create", "configmap", "c", "-n", "team-a", "--from-literal=k=v")
    secret = await kubectl("create", "secret", "generic", "s", "-n", "team-a", "--from-literal=p=q")  # fmt: skip
    assert cm.code == 0 and secret.code == 0, cm.err + secret.err
    got = await kubectl("get", "cm,secret", "-n", "team-a", "--no-headers")
    rows = [line.split() for line in got.out.splitlines() if line.strip()]
    assert [r[:-1] for r in rows] == [["configmap/c", "1"], ["secret/s", "Opaque", "1"]]
    ns = await kubectl("get", "ns", "--no-headers")
    assert {line.split()[0] for line in ns.out.splitlines()} >= {"default", "kube-system", "team-a", "team-b"}  # fmt: skip
    deployment = await kubectl("create", "deployment", "web", "--image=nginx")
    assert deployment.code != 0 and "send JSON (kubectl apply -f)" in deployment.err


DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: web, image: "nginx:%s", env: [{name: A, value: "1"}]}
      - {name: sidecar, image: busybox}
"""


async def test_built_in_deployment_apply_strategic_update_and_scale(kubectl: Kubectl) -> None:
    assert (await kubectl("apply", "-f", "-", stdin=DEPLOYMENT % "1")).code == 0
    kept = await kubectl("patch", "deploy", "web", "-p",
                         '{"spec":{"template":{"spec":{"containers":[{"name":"web","env":[{"name":"B","value":"2"}]}]}}}}')  # fmt: skip
    assert kept.code == 0, kept.err
    updated = await kubectl("apply", "-f", "-", stdin=DEPLOYMENT % "2")
    assert updated.code == 0 and "configured" in updated.out, updated.err
    scaled = await kubectl("scale", "deploy", "web", "--replicas=3")
    assert scaled.code == 0, scaled.err
    got = yaml.safe_load((await kubectl("get", "deploy", "web", "-o", "yaml")).out)
    web, sidecar = got["spec"]["template"]["spec"]["containers"]
    assert (web["image"], sidecar["name"], got["spec"]["replicas"]) == ("nginx:2", "sidecar", 3)
    assert {e["name"] for e in web["env"]} == {"A", "B"}, "merged by name, not replaced"
    assert got["metadata"]["generation"] == 4


@pytest.mark.skipif(not list((ROOT / "crds").glob("*.yaml")), reason="no generated CRDs yet")
async def test_kubectl_applies_champions_crds(kubectl: Kubectl) -> None:
    applied = await kubectl("apply", "-f", str(ROOT / "crds"))
    assert applied.code == 0, applied.err
    names = (await kubectl("get", "crd", "-o", "name")).out
    assert "customresourcedefinition.apiextensions.k8s.io/rollouts.champion.dev" in names


async def test_standalone_server_writes_its_kubeconfig_once_serving(
    tmp_path: Path, kubectl_bin: str
) -> None:
    kc = tmp_path / "kc"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.emulator.apiserver.standalone", "--kubeconfig", str(kc),
        "--port", "0", "--crd", str(TESTDATA / "rollouts-crd.yaml"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        async with asyncio.timeout(20):
            while not kc.exists():
                assert proc.returncode is None, await proc.stderr.read()  # type: ignore[union-attr]
                await asyncio.sleep(0.05)
        env = {**os.environ, "KUBECONFIG": str(kc)}
        got = await run(kubectl_bin, "get", "crd", "rollouts.testing.champion.dev", env=env)
        assert got.code == 0, got.err
    finally:
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 10) == 0
