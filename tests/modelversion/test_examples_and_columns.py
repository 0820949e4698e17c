"""The examples validate against the generated CRD schemas, reconcile Valid, and read well in kubectl."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from champion.adapters.kube import connect, resource_for
from champion.reconcile.gpupool import reconcile_gpupool
from champion.reconcile.modelversion import reconcile_modelversion
from tests.conftest import ROOT
from tests.emulator.apiserver import ApiServer
from tests.gpupool.seed import node, seed_all
from tests.helpers import run

EXAMPLES = ("gpupool.yaml", "system-prompt-configmap.yaml", "modelversion-llm-v1.yaml", "modelversion-predictive.yaml")  # fmt: skip
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def crd_schema(kind: str) -> dict[str, Any]:
    for path in (ROOT / "crds").glob("*.yaml"):
        crd = yaml.safe_load(path.read_text())
        if crd["spec"]["names"]["kind"] == kind:
            schema: dict[str, Any] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
            return schema
    raise KeyError(kind)


def table(out: str) -> list[dict[str, str]]:
    """kubectl's table as rows by column name: cells are cut at the header's column starts
    (a header such as USED BY, and a cell such as "chat champion 100%", hold spaces); an
    empty cell, or kubectl's <none>, is ""."""
    header, *lines = [line for line in out.splitlines() if line.strip()]
    cols = [(m.group(), m.start()) for m in re.finditer(r"\S+(?: \S+)*", header)]
    rows = []
    for line in lines:
        cells = {}
        for i, (name, start) in enumerate(cols):
            end = cols[i + 1][1] if i + 1 < len(cols) else None
            cell = line[start:end].strip()
            cells[name] = "" if cell == "<none>" else cell
        rows.append(cells)
    return rows


@pytest.mark.parametrize("name", [n for n in EXAMPLES if n != "system-prompt-configmap.yaml"])
def test_example_validates_against_the_crd_openapi_schema(name: str) -> None:
    doc = yaml.safe_load((ROOT / "examples" / name).read_text())
    schema = crd_schema(doc["kind"])
    jsonschema.validate(doc, schema)
    broken = {**doc, "spec": {**doc["spec"], "unknownField": 1}}
    if doc["kind"] == "ModelVersion":
        broken["spec"]["model"] = {**doc["spec"]["model"], "digest": "sha256:short"}
    else:
        broken["spec"]["costPerGPUHour"] = -1
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


async def _apply_examples(apiserver: ApiServer, kubectl_bin: str) -> dict[str, str]:
    env = {**os.environ, "KUBECONFIG": str(apiserver.kubeconfig)}
    seed_all(
        apiserver,
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "demo"}},
        node("gpu-1", 8),
        node("gpu-2", 8),
    )
    args = [a for name in EXAMPLES for a in ("-f", str(ROOT / "examples" / name))]
    applied = await run(kubectl_bin, "apply", *args, env=env)
    assert applied.code == 0, applied.err
    return env


async def test_the_examples_apply_with_kubectl_reconcile_valid_and_show_useful_columns(
    apiserver: ApiServer, kubectl_bin: str, tmp_path: Path
) -> None:
    env = await _apply_examples(apiserver, kubectl_bin)
    mv_res = resource_for("champion.dev/v1alpha1", "ModelVersion")
    pool_res = resource_for("champion.dev/v1alpha1", "GPUPool")
    api = await connect(str(apiserver.kubeconfig))
    try:
        pool = await api.get(pool_res, "h100")
        assert pool is not None
        await reconcile_gpupool(api, pool, NOW)
        for name in ("support-llm-v1", "churn-v7"):
            body = await api.get(mv_res, name, "demo")
            assert body is not None
            await reconcile_modelversion(api, body, NOW)
            body = await api.get(mv_res, name, "demo")
            assert body is not None
            valid = next(c for c in body["status"]["conditions"] if c["type"] == "Valid")
            assert valid["status"] == "True", valid["message"]
        llm = await api.get(mv_res, "support-llm-v1", "demo")
        assert llm is not None
    finally:
        await api.close()

    got = await run(kubectl_bin, "get", "modelversions,gpupools", "-n", "demo", env=env)
    assert got.code == 0, got.err
    lines = got.out.splitlines()
    assert lines[0].split() == ["NAME", "STAGE", "USED", "BY", "FINGERPRINT", "FORMAT", "POOL", "VALID", "AGE"]  # fmt: skip
    rows = {r["NAME"].rsplit("/")[-1]: r for r in table(got.out.split("\n\n")[0])}
    row = rows["support-llm-v1"]
    # No Rollout uses it: Registered, and USED BY is empty.
    assert [row[c] for c in ("STAGE", "USED BY", "FINGERPRINT", "FORMAT", "POOL", "VALID")] == [
        "Registered", "", llm["status"]["fingerprintShort"], "vllm", "h100", "True"
    ]  # fmt: skip
    assert len(row["FINGERPRINT"]) == 12
    churn = rows["churn-v7"]
    assert (churn["STAGE"], churn["USED BY"], churn["FORMAT"], churn["VALID"]) == ("Registered", "", "sklearn", "True")  # fmt: skip
    assert churn["POOL"] == "", "a CPU version names no pool"
    header = next(line.split() for line in lines if line.startswith("NAME") and "CAPACITY" in line)
    assert header == ["NAME", "RESOURCE", "NODES", "CAPACITY", "ALLOCATED", "RESERVED", "FREE", "COST/H", "AGE"]  # fmt: skip
    pool_row = next(line.split() for line in lines if "h100" in line and "nvidia.com/gpu" in line)
    assert pool_row[1:8] == ["nvidia.com/gpu", "2", "16", "0", "0", "16", "0"]

    wide = await run(kubectl_bin, "get", "gpupools", "-o", "wide", env=env)
    assert wide.out.splitlines()[0].split()[-5:] == ["READY-NODES", "ALLOCATABLE", "UTIL%", "STRANDED", "AGE"]  # fmt: skip
