"""The real kubectl binary against the emulated API server."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import yaml

from champion.sandbox.apiserver import ApiServer
from tests.conftest import ROOT
from tests.helpers import run

ROLLOUT = """
apiVersion: champion.dev/v1alpha1
kind: Rollout
metadata: {name: chat, namespace: demo}
spec:
  modelVersion: chat-v1
  strategy:
    canary:
      steps: [{weight: %s}]
"""


def _env(server: ApiServer) -> dict[str, str]:
    return {**os.environ, "KUBECONFIG": str(server.kubeconfig)}


async def test_kubectl_applies_crds_and_examples(tmp_path: Path, kubectl_bin: str) -> None:
    server = await ApiServer().start()
    server.write_kubeconfig(tmp_path / "kc")
    try:
        env = _env(server)
        crds = await run(kubectl_bin, "apply", "-f", str(ROOT / "crds"), env=env)
        assert crds.code == 0, crds.err
        assert "rollouts.champion.dev created" in crds.out
        demo = await run(kubectl_bin, "apply", "-f", str(ROOT / "examples" / "demo"), env=env)
        assert demo.code == 0, demo.err
        got = await run(kubectl_bin, "get", "ro", "-n", "demo", env=env)
        assert got.out.split("\n")[0].split() == [
            "NAME",
            "PHASE",
            "STEP",
            "WEIGHT",
            "CHAMPION",
            "CHALLENGER",
            "VERDICT",
            "AGE",
        ]
        assert got.out.split("\n")[1].startswith("chat")
        again = await run(kubectl_bin, "apply", "-f", str(ROOT / "examples" / "demo"), env=env)
        assert again.code == 0 and "unchanged" in again.out, again.out + again.err
    finally:
        await server.stop()


async def test_invalid_objects_are_rejected_with_the_field_named(
    apiserver: ApiServer, kubectl_bin: str
) -> None:
    env = _env(apiserver)
    await run(kubectl_bin, "apply", "-f", str(ROOT / "examples" / "demo"), env=env)
    too_heavy = await run(kubectl_bin, "apply", "-f", "-", env=env, stdin=ROLLOUT % 150)
    assert too_heavy.code != 0
    assert "spec.strategy.canary.steps[0].weight: Invalid value: 150" in too_heavy.err
    assert "less than or equal to 100" in too_heavy.err

    no_uri = yaml.safe_load((ROOT / "examples/demo/21-modelversion-v1.yaml").read_text())
    no_uri["metadata"]["name"] = "no-uri"
    del no_uri["spec"]["model"]["uri"]
    missing = await run(kubectl_bin, "apply", "-f", "-", env=env, stdin=yaml.safe_dump(no_uri))
    assert missing.code != 0 and "spec.model.uri: Required value" in missing.err

    edit = await run(
        kubectl_bin,
        "patch",
        "mv",
        "chat-v1",
        "-n",
        "demo",
        "--type",
        "merge",
        "-p",
        '{"spec":{"serving":{"replicas":5}}}',
        env=env,
    )
    assert edit.code != 0 and "ModelVersion spec is immutable" in edit.err


async def test_kubectl_get_patch_status_delete_and_watch(
    apiserver: ApiServer, kubectl_bin: str
) -> None:
    env = _env(apiserver)
    await run(kubectl_bin, "apply", "-f", str(ROOT / "examples" / "demo"), env=env)
    watch = await asyncio.create_subprocess_exec(
        kubectl_bin, "get", "ro", "-n", "demo", "-w", "--request-timeout=0",
        stdout=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    assert watch.stdout is not None
    header = await asyncio.wait_for(watch.stdout.readline(), 10)
    assert b"PHASE" in header
    patched = await run(
        kubectl_bin, "patch", "ro", "chat", "-n", "demo", "--type", "merge", "--subresource=status",
        "-p", '{"status":{"phase":"Canary","step":0,"weights":{"champion":80,"challenger":20}}}', env=env,
    )  # fmt: skip
    assert patched.code == 0, patched.err
    lines = []
    while not any(b"Canary" in line for line in lines):
        lines.append(await asyncio.wait_for(watch.stdout.readline(), 10))
    assert b"20" in lines[-1]
    watch.terminate()
    await watch.wait()
    yaml_out = await run(kubectl_bin, "get", "ro", "chat", "-n", "demo", "-o", "yaml", env=env)
    obj = yaml.safe_load(yaml_out.out)
    assert obj["status"]["phase"] == "Canary" and obj["metadata"]["generation"] == 1
    deleted = await run(kubectl_bin, "delete", "ro", "chat", "-n", "demo", env=env)
    assert deleted.code == 0
    gone = await run(kubectl_bin, "get", "ro", "chat", "-n", "demo", env=env)
    assert gone.code != 0 and "NotFound" in gone.err


async def test_standalone_server_writes_kubeconfig_once_serving(
    tmp_path: Path, kubectl_bin: str
) -> None:
    kc = tmp_path / "kc"
    proc = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "champion"), "sandbox", "apiserver", "--kubeconfig", str(kc),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        for _ in range(200):
            if kc.exists():
                break
            await asyncio.sleep(0.05)
        assert kc.exists(), "the kubeconfig never appeared"
        env = {**os.environ, "KUBECONFIG": str(kc)}
        applied = await run(kubectl_bin, "apply", "-f", str(ROOT / "crds"), env=env)
        assert applied.code == 0, applied.err
        ns = await run(kubectl_bin, "get", "ns", env=env)
        assert "default" in ns.out
    finally:
        proc.terminate()
        assert await asyncio.wait_for(proc.wait(), 10) == 0
