"""The real kubectl (1.35) against both servers: apply (client- and server-side), server-side
printing of a CRD's columns, short names and categories, patches, status, watch, delete with
finalizers, `create`, `scale`, `explain`."""

from __future__ import annotations

import asyncio
import os

import pytest
import yaml
from tests.conformance.conftest import GROUP, Api
from tests.conftest import ROOT

WIDGET = """
apiVersion: conformance.champion.dev/v1
kind: Widget
metadata: {name: chat}
spec:
  model: llama
  strategy: {canary: {steps: [{name: a, weight: %s}]}}
"""
HEADER = ["NAME", "MODEL", "PHASE", "WEIGHT", "READY", "AGE"]


async def _apply_widget(server: Api, weight: int = 10, *flags: str) -> None:
    applied = await server.kubectl("apply", *flags, "-f", "-", stdin=WIDGET % weight)
    assert applied.code == 0, applied.err


async def test_apply_then_apply_again_is_unchanged(server: Api) -> None:
    first = await server.kubectl("apply", "-f", "-", stdin=WIDGET % 10)
    assert first.code == 0 and f"widget.{GROUP}/chat created" in first.out, first.err
    again = await server.kubectl("apply", "-f", "-", stdin=WIDGET % 10)
    assert again.code == 0 and f"widget.{GROUP}/chat unchanged" in again.out, again.err
    changed = await server.kubectl("apply", "-f", "-", stdin=WIDGET % 20)
    assert changed.code == 0 and f"widget.{GROUP}/chat configured" in changed.out, changed.err


async def test_server_side_apply(server: Api) -> None:
    first = await server.kubectl("apply", "--server-side", "-f", "-", stdin=WIDGET % 10)
    assert first.code == 0 and f"widget.{GROUP}/chat serverside-applied" in first.out, first.err
    dry = await server.kubectl("apply", "--server-side", "--dry-run=server", "-f", "-", stdin=WIDGET % 30)  # fmt: skip
    assert dry.code == 0, dry.err
    weight = await server.kubectl("get", "wd", "chat", "-o", "jsonpath={.spec.strategy.canary.steps[0].weight}")  # fmt: skip
    assert weight.out == "10", "a dry run changes nothing"


async def test_get_prints_the_crds_columns_by_any_name(server: Api) -> None:
    await _apply_widget(server)
    for resource in ("widgets", "wd", f"widget.{GROUP}", "conformance"):
        got = await server.kubectl("get", resource)
        assert got.code == 0, got.err
        lines = got.out.splitlines()
        assert lines[0].split() == HEADER, resource
        assert lines[1].split()[:2] == ["chat", "llama"]
    wide = await server.kubectl("get", "wd", "-o", "wide")
    assert wide.out.splitlines()[0].split() == [*HEADER[:5], "REPLICAS", "AGE"]
    assert wide.out.splitlines()[1].split()[:3] == ["chat", "llama", "1"], "empty cells print blank"


async def test_get_yaml_shows_server_fields(server: Api) -> None:
    await _apply_widget(server)
    obj = yaml.safe_load((await server.kubectl("get", "wd", "chat", "-o", "yaml")).out)
    meta = obj["metadata"]
    assert meta["generation"] == 1 and meta["uid"] and int(meta["resourceVersion"]) > 0
    assert meta["namespace"] == server.namespace
    assert obj["spec"]["replicas"] == 1, "defaulted by the schema"


async def test_patch_merge_and_the_status_subresource_then_columns(server: Api) -> None:
    await _apply_widget(server)
    spec = await server.kubectl("patch", "wd", "chat", "--type", "merge", "-p", '{"spec":{"model":"mistral"}}')  # fmt: skip
    assert spec.code == 0, spec.err
    status = await server.kubectl(
        "patch", "wd", "chat", "--type", "merge", "--subresource=status", "-p",
        '{"status":{"phase":"Canary","weight":20,"conditions":[{"type":"Ready","status":"True"}]}}',
    )  # fmt: skip
    assert status.code == 0, status.err
    row = (await server.kubectl("get", "wd", "chat", "--no-headers")).out.split()
    assert row[:5] == ["chat", "mistral", "Canary", "20", "True"]
    generation = await server.kubectl("get", "wd", "chat", "-o", "jsonpath={.metadata.generation}")  # fmt: skip
    assert generation.out == "2", "the status write did not bump it"
    strategic = await server.kubectl("patch", "wd", "chat", "-p", '{"spec":{"model":"x"}}')
    assert strategic.code != 0
    assert "application/strategic-merge-patch+json is not supported" in strategic.err


async def test_invalid_objects_are_refused_with_the_field_path(server: Api) -> None:
    too_heavy = await server.kubectl("apply", "-f", "-", stdin=(WIDGET % 150).replace("chat", "heavy"))  # fmt: skip
    assert too_heavy.code != 0
    assert (
        'The Widget "heavy" is invalid: spec.strategy.canary.steps[0].weight: Invalid value: 150: '
        "spec.strategy.canary.steps[0].weight in body should be less than or equal to 100"
    ) in too_heavy.err
    typo = (WIDGET % 10).replace("model: llama", "model: llama\n  typo: 1")
    unknown = await server.kubectl("apply", "-f", "-", stdin=typo)
    assert unknown.code != 0 and 'strict decoding error: unknown field "spec.typo"' in unknown.err


async def test_get_watch_sees_changes(server: Api) -> None:
    await _apply_widget(server)
    env = {**os.environ, "KUBECONFIG": str(server.kubeconfig), "KUBECACHEDIR": str(server.cache_dir)}  # fmt: skip
    watch = await asyncio.create_subprocess_exec(
        server.kubectl_bin, "get", "wd", "-w", "--request-timeout=0",
        stdout=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    assert watch.stdout is not None
    try:
        async with asyncio.timeout(15):
            assert b"PHASE" in await watch.stdout.readline()
            assert (await watch.stdout.readline()).split()[0] == b"chat"
            patched = await server.kubectl(
                "patch", "wd", "chat", "--type", "merge", "--subresource=status",
                "-p", '{"status":{"phase":"Shadow","weight":5}}',
            )  # fmt: skip
            assert patched.code == 0, patched.err
            line = await watch.stdout.readline()
        assert line.split()[:4] == [b"chat", b"llama", b"Shadow", b"5"]
    finally:
        watch.kill()
        await watch.wait()


async def test_delete_with_a_finalizer_then_release_it(server: Api) -> None:
    await _apply_widget(server)
    held = await server.kubectl("patch", "wd", "chat", "--type", "merge", "-p",
                                '{"metadata":{"finalizers":["conformance.champion.dev/hold"]}}')  # fmt: skip
    assert held.code == 0, held.err
    marked = await server.kubectl("delete", "wd", "chat", "--wait=false")
    assert marked.code == 0, marked.err
    stamp = await server.kubectl("get", "wd", "chat", "-o", "jsonpath={.metadata.deletionTimestamp}")  # fmt: skip
    assert stamp.out
    released = await server.kubectl("patch", "wd", "chat", "--type", "json", "-p",
                                    '[{"op":"remove","path":"/metadata/finalizers"}]')  # fmt: skip
    assert released.code == 0, released.err
    gone = await server.kubectl("get", "wd", "chat")
    assert gone.code != 0 and "NotFound" in gone.err


async def test_kubectl_create_configmap_secret_and_namespace(server: Api) -> None:
    cm = await server.kubectl("create", "configmap", "c", "--from-literal=k=v")
    secret = await server.kubectl("create", "secret", "generic", "s", "--from-literal=p=q")
    assert cm.code == 0 and secret.code == 0, cm.err + secret.err
    got = await server.kubectl("get", "cm/c", "secret/s", "--no-headers")
    rows = [line.split() for line in got.out.splitlines() if line.strip()]
    assert [r[:-1] for r in rows] == [["configmap/c", "1"], ["secret/s", "Opaque", "1"]]
    ns = server.unique("made")
    server.cluster_scoped.append(f"/api/v1/namespaces/{ns}")
    created = await server.kubectl("create", "namespace", ns)
    assert created.code == 0 and f"namespace/{ns} created" in created.out, created.err


@pytest.mark.emulator_differs("protobuf bodies are decoded for four kinds only")
async def test_kubectl_create_deployment(server: Api) -> None:
    created = await server.kubectl("create", "deployment", "web", "--image=nginx")
    assert created.code == 0, created.err


DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
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


async def test_deployment_apply_strategic_patch_and_scale(server: Api) -> None:
    assert (await server.kubectl("apply", "-f", "-", stdin=DEPLOYMENT % "1")).code == 0
    kept = await server.kubectl("patch", "deploy", "web", "-p",
                                '{"spec":{"template":{"spec":{"containers":[{"name":"web","env":[{"name":"B","value":"2"}]}]}}}}')  # fmt: skip
    assert kept.code == 0, kept.err
    updated = await server.kubectl("apply", "-f", "-", stdin=DEPLOYMENT % "2")
    assert updated.code == 0 and "configured" in updated.out, updated.err
    scaled = await server.kubectl("scale", "deploy", "web", "--replicas=3")
    assert scaled.code == 0, scaled.err
    got = yaml.safe_load((await server.kubectl("get", "deploy", "web", "-o", "yaml")).out)
    web, sidecar = got["spec"]["template"]["spec"]["containers"]
    assert (web["image"], sidecar["name"], got["spec"]["replicas"]) == ("nginx:2", "sidecar", 3)
    assert {e["name"] for e in web["env"]} == {"A", "B"}, "merged by name, not replaced"
    assert got["metadata"]["generation"] == 4


async def test_explain_a_custom_resource(server: Api) -> None:
    explained = await server.kubectl("explain", "widgets.spec.strategy")
    assert explained.code == 0 and "canary" in explained.out, explained.err


async def test_champions_crds_are_listed_and_apply_unchanged(server: Api) -> None:
    names = (await server.kubectl("get", "crd", "-o", "name")).out
    for plural in ("rollouts", "modelversions", "evalsuites", "gpupools"):
        assert f"customresourcedefinition.apiextensions.k8s.io/{plural}.champion.dev" in names
    short_names = [
        yaml.safe_load(f.read_text())["spec"]["names"]["shortNames"][0]
        for f in sorted((ROOT / "crds").glob("*.yaml"))
    ]
    for resource in (*short_names, "champion"):
        got = await server.kubectl("get", resource)
        assert got.code == 0, (resource, got.err)
