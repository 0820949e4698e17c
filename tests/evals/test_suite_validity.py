"""An EvalSuite that cannot be scored is refused at admission or marked Valid=False: an empty
case list, repeated case ids, a regex or JSON Schema that does not compile."""

from __future__ import annotations

import copy
import json
import subprocess
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from champion.adapters.kube import KubeApi, connect, resource_for
from champion.adapters.kube.client import ApiError
from champion.builders.eval_job import EvalRunner
from champion.reconcile.evalsuite import reconcile_evalsuite
from tests.conftest import ROOT
from tests.emulator.apiserver import ApiServer
from tests.emulator.apiserver.types import types_from_crd
from tests.emulator.apiserver.validation import validate

SUITE = resource_for("champion.dev/v1alpha1", "EvalSuite")
CRD = yaml.safe_load((ROOT / "crds" / "evalsuites.yaml").read_text())
_SCHEMA = next(t.schema for t in types_from_crd(CRD))
assert _SCHEMA is not None
SCHEMA: dict[str, Any] = _SCHEMA


def case(id_: str, reference: str = "1") -> dict[str, Any]:
    return {"id": id_, "input": {"prompt": f"say {reference}"}, "reference": reference}


def suite(
    cases: dict[str, Any] | None = None,
    scorers: list[dict[str, Any]] | None = None,
    name: str = "qa",
) -> dict[str, Any]:
    return {
        "apiVersion": "champion.dev/v1alpha1",
        "kind": "EvalSuite",
        "metadata": {"name": name, "namespace": "demo"},
        "spec": {
            "cases": cases if cases is not None else {"inline": [case("a"), case("b")]},
            "scorers": scorers or [{"type": "exact"}],
        },
    }


# --- admission: the generated CRD's schema and CEL rules ---------------------------------------


def test_a_suite_with_cases_is_admitted() -> None:
    assert validate(suite(), None, SCHEMA) == []


def test_an_empty_inline_case_list_is_refused_naming_the_field_and_the_fix() -> None:
    causes = validate(suite({"inline": []}), None, SCHEMA)
    assert [c.field for c in causes] == ["spec.cases.inline"], causes
    assert "at least one case" in causes[0].message
    assert "configMap or url" in causes[0].message


def test_repeated_case_ids_are_refused_naming_the_id() -> None:
    doc = suite({"inline": [case("a"), case("b"), case("a", "2")]})
    causes = validate(doc, None, SCHEMA)
    assert [(c.field, c.reason) for c in causes] == [
        ("spec.cases.inline[2]", "FieldValueDuplicate")
    ]
    assert '"a"' in causes[0].message


def test_the_crds_case_rules_compile_in_cel() -> None:
    """The rules are on the inline list; cel-python compiles and runs each of them."""
    import celpy

    inline = SCHEMA["properties"]["spec"]["properties"]["cases"]["properties"]["inline"]
    assert inline["x-kubernetes-list-type"] == "map"
    assert inline["x-kubernetes-list-map-keys"] == ["id"]
    env = celpy.Environment()
    for rule in inline["x-kubernetes-validations"]:
        program = env.program(env.compile(rule["rule"]))
        assert bool(program.evaluate({"self": celpy.json_to_cel([case("a")])}))  # type: ignore[arg-type]
        assert not program.evaluate({"self": celpy.json_to_cel([])})  # type: ignore[arg-type]


async def test_the_api_server_refuses_them_with_a_message(apiserver: ApiServer) -> None:
    api = await connect(str(apiserver.kubeconfig))
    try:
        await api.create(yaml.safe_load((ROOT / "examples/demo/00-namespace.yaml").read_text()))
        for bad, words in (
            (suite({"inline": []}), ["spec.cases.inline", "at least one case"]),
            (
                suite({"inline": [case("x"), case("x")]}),
                ["spec.cases.inline[1]", "Duplicate value", '"x"'],
            ),
        ):
            with pytest.raises(ApiError) as info:
                await api.create(bad)
            assert all(w in str(info.value) for w in words), str(info.value)
    finally:
        await api.close()


# --- the reconciler: what admission cannot see ---------------------------------------------------


def crd_before_the_case_rules() -> dict[str, Any]:
    """The CRD as it was before the case-list rules: objects stored then may still be empty."""
    crd = copy.deepcopy(CRD)
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    inline = schema["properties"]["spec"]["properties"]["cases"]["properties"]["inline"]
    for key in ("x-kubernetes-validations", "x-kubernetes-list-type", "x-kubernetes-list-map-keys"):
        inline.pop(key, None)
    return crd


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[KubeApi]:
    server = await ApiServer().start()
    for crd in sorted((ROOT / "crds").glob("*.yaml")):
        doc = yaml.safe_load(crd.read_text())
        server.seed(crd_before_the_case_rules() if crd.name == "evalsuites.yaml" else doc)
    server.write_kubeconfig(tmp_path / "kubeconfig")
    client = await connect(str(tmp_path / "kubeconfig"))
    try:
        await client.create(yaml.safe_load((ROOT / "examples/demo/00-namespace.yaml").read_text()))
        yield client
    finally:
        await client.close()
        await server.stop()


async def valid(api: KubeApi, body: dict[str, Any]) -> tuple[dict[str, Any], list[Any]]:
    stored = await api.create(body)
    result = await reconcile_evalsuite(api, stored, datetime.now(UTC), EvalRunner("champion:test"))
    fresh = await api.get(SUITE, body["metadata"]["name"], "demo")
    assert fresh is not None
    cond = next(c for c in fresh["status"]["conditions"] if c["type"] == "Valid")
    return cond, result.events


async def test_a_regex_that_does_not_compile_is_invalid_naming_the_scorer_and_the_error(
    api: KubeApi,
) -> None:
    cond, events = await valid(
        api, suite(scorers=[{"type": "exact"}, {"type": "regex", "pattern": "answer: (\\d+"}])
    )
    assert (cond["status"], cond["reason"]) == ("False", "InvalidRegex")
    assert "spec.scorers[1].pattern" in cond["message"]
    assert "missing ), unterminated subpattern" in cond["message"]
    assert [(e.type, e.reason) for e in events] == [("Warning", "InvalidRegex")]


async def test_a_json_schema_that_is_not_a_schema_is_invalid(api: KubeApi) -> None:
    cond, _ = await valid(api, suite(scorers=[{"type": "json_schema", "jsonSchema": {"type": 5}}]))
    assert (cond["status"], cond["reason"]) == ("False", "InvalidJSONSchema")
    assert "spec.scorers[0].jsonSchema" in cond["message"]


async def test_an_empty_suite_stored_before_the_rule_is_invalid(api: KubeApi) -> None:
    cond, events = await valid(api, suite({"inline": []}))
    assert (cond["status"], cond["reason"]) == ("False", "NoCases")
    assert "spec.cases.inline" in cond["message"] and "at least one case" in cond["message"]
    assert [e.reason for e in events] == ["NoCases"]


async def test_repeated_ids_stored_before_the_rule_are_invalid_naming_them(api: KubeApi) -> None:
    cases = [case("a"), case("b"), case("a"), case("c"), case("b"), case("a")]
    cond, _ = await valid(api, suite({"inline": cases}))
    assert (cond["status"], cond["reason"]) == ("False", "DuplicateCaseIds")
    assert '"a" (3 times)' in cond["message"] and '"b" (2 times)' in cond["message"]
    assert '"c"' not in cond["message"]


async def cases_configmap(api: KubeApi, text: str) -> dict[str, Any]:
    await api.create(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "cases", "namespace": "demo"},
            "data": {"cases.jsonl": text},
        }
    )
    return {"configMap": {"name": "cases", "key": "cases.jsonl"}}


async def test_an_empty_configmap_case_file_is_invalid(api: KubeApi) -> None:
    cond, _ = await valid(api, suite(await cases_configmap(api, "\n\n")))
    assert (cond["status"], cond["reason"]) == ("False", "NoCases")
    assert 'ConfigMap "cases" key "cases.jsonl"' in cond["message"]


async def test_repeated_ids_in_a_configmap_case_file_are_invalid(api: KubeApi) -> None:
    text = "\n".join(json.dumps(c) for c in [case("a"), case("b"), case("a")])
    cond, _ = await valid(api, suite(await cases_configmap(api, text)))
    assert (cond["status"], cond["reason"]) == ("False", "DuplicateCaseIds")
    assert '"a" (2 times)' in cond["message"]


async def test_an_unreadable_line_of_a_configmap_case_file_is_named(api: KubeApi) -> None:
    text = json.dumps(case("a")) + "\n{not json\n" + json.dumps({"input": {}})
    cond, _ = await valid(api, suite(await cases_configmap(api, text)))
    assert (cond["status"], cond["reason"]) == ("False", "InvalidCases")
    assert "line 2" in cond["message"] and "line 3" in cond["message"]
    assert "id" in cond["message"]


async def test_a_good_configmap_case_file_is_valid(api: KubeApi) -> None:
    text = "\n".join(json.dumps(c) for c in [case("a"), case("b")])
    cond, events = await valid(api, suite(await cases_configmap(api, text)))
    assert (cond["status"], cond["reason"]) == ("True", "Valid") and events == []


# --- a real kube-apiserver accepts the CRD and enforces the rules --------------------------------


@pytest.mark.slow
def test_a_real_api_server_accepts_the_crd_and_refuses_bad_suites(tmp_path: Path) -> None:
    from champion.sandbox.controlplane import ControlPlane, binaries_present, tool

    if not binaries_present():
        pytest.fail("the control plane is not built: run `bash hack/build-k8s.sh`")
    plane = ControlPlane(tmp_path).start()
    kubectl = [tool("kubectl"), "--kubeconfig", str(plane.admin_kubeconfig)]

    def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*kubectl, *args], input=stdin, capture_output=True, text=True, timeout=60
        )

    try:
        applied = run("apply", "--server-side", "-f", str(ROOT / "crds" / "evalsuites.yaml"))
        assert applied.returncode == 0, applied.stderr
        established = run(
            "wait", "--for=condition=Established", "--timeout=30s", "crd/evalsuites.champion.dev"
        )
        assert established.returncode == 0, established.stderr
        assert run("create", "namespace", "demo").returncode == 0
        ok = run("create", "-f", "-", stdin=yaml.safe_dump(suite()))
        assert ok.returncode == 0, ok.stderr
        empty = run("create", "-f", "-", stdin=yaml.safe_dump(suite({"inline": []}, name="e")))
        assert empty.returncode != 0
        assert "spec.cases.inline" in empty.stderr and "at least one case" in empty.stderr
        dup = run(
            "create",
            "-f",
            "-",
            stdin=yaml.safe_dump(suite({"inline": [case("x"), case("x")]}, name="d")),
        )
        assert dup.returncode != 0
        assert "spec.cases.inline[1]" in dup.stderr and "Duplicate value" in dup.stderr
        assert '"x"' in dup.stderr
    finally:
        plane.stop()
