"""Custom resource validation: OpenAPI schema errors naming the field, unknown fields (Strict,
Warn), pruning, defaults, nullable, int-or-string, CEL rules (message, messageExpression,
fieldPath, transition rules), ratcheting, and Champion's own CRDs' rules."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from tests.conformance.conftest import CRDS, GROUP, WIDGETS, Api, crd_copy, served_crd, widget
from tests.conftest import ROOT
from tests.helpers import eventually

EXAMPLES = ROOT / "examples" / "demo"


# Schema errors that make CEL rules meaningless (a wrong type, a missing field, a value not in
# the enum, too long, too many) skip them all, which kube-apiserver 1.36 reports as one more
# cause, worded so.
NOT_CHECKED = (
    "<nil>: Invalid value: null: some validation rules were not checked because the object was "
    "invalid; correct the existing errors to complete validation"
)


def _example(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((EXAMPLES / name).read_text())
    doc["metadata"].pop("namespace", None)
    return doc


def _resource(obj: dict[str, Any]) -> tuple[str, str]:
    return (obj["apiVersion"], obj["kind"].lower() + "s")


async def _invalid(server: Api, obj: dict[str, Any]) -> list[str]:
    """Creates `obj`, which must be refused as 422 Invalid; its causes as `field: message`."""
    resp = await server.post(server.path(_resource(obj)), obj)
    assert resp.status == 422, resp.body
    assert resp.body["reason"] == "Invalid" and resp.body["kind"] == "Status"
    return [f"{c.get('field', '<nil>')}: {c['message']}" for c in resp.body["details"]["causes"]]


async def _rule_failures(server: Api, obj: dict[str, Any]) -> list[tuple[str, str]]:
    """Creates `obj`, which CEL rules must refuse; each cause as (field, the rule's message).
    The exact wording around the message is checked once, in test_cel_failures_are_worded_as_
    kube_apiserver_1_36_words_them."""
    resp = await server.post(server.path(_resource(obj)), obj)
    assert resp.status == 422, resp.body
    out = []
    for cause in resp.body["details"]["causes"]:
        assert cause["reason"] == "FieldValueInvalid" and cause["message"].startswith("Invalid value: ")  # fmt: skip
        out.append((cause["field"], cause["message"]))
    return out


def _ends(failures: list[tuple[str, str]], expected: list[tuple[str, str]]) -> bool:
    return len(failures) == len(expected) and all(
        field == f and message.endswith(": " + m) for (field, message), (f, m) in zip(failures, expected, strict=True)
    )  # fmt: skip


async def test_a_valid_widget_is_created_with_defaults(server: Api) -> None:
    created = await server.create(WIDGETS, widget(strategy={"canary": {"steps": [{"name": "a", "weight": 5}]}}))  # fmt: skip
    assert created["spec"]["replicas"] == 1, "defaulted by the schema"


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"strategy": {"canary": {"steps": [{"name": "a", "weight": 150}]}}},
         "spec.strategy.canary.steps[0].weight: Invalid value: 150: spec.strategy.canary.steps[0].weight in body should be less than or equal to 100"),
        ({"replicas": -1}, "spec.replicas: Invalid value: -1: spec.replicas in body should be greater than or equal to 0"),
        ({"tier": "bronze"}, 'spec.tier: Unsupported value: "bronze": supported values: "gold", "silver"'),
        ({"model": "Not OK"}, "spec.model: Invalid value: \"Not OK\": spec.model in body should match '^[a-z0-9-]+$'"),
        ({"model": "x" * 31}, "spec.model: Too long: may not be more than 30 bytes"),
        ({"model": ""}, 'spec.model: Invalid value: "": spec.model in body should be at least 1 chars long'),
        ({"replicas": "two"}, 'spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"'),
        pytest.param({"port": 1.5}, 'spec.port: Invalid value: "number": spec.port in body must be of type integer,string: "number"',
                     marks=pytest.mark.emulator_differs("an int-or-string of another type fails as an anyOf, not a type error")),
        ({"strategy": {"canary": {"steps": [{"name": str(i), "weight": i} for i in range(6)]}}},
         "spec.strategy.canary.steps: Too many: 6: must have at most 5 items"),
        ({"strategy": {"canary": {"steps": [{"name": "a"}]}}}, "spec.strategy.canary.steps[0].weight: Required value"),
        pytest.param({"strategy": {"canary": {"steps": [{"name": "a", "weight": 1}, {"name": "a", "weight": 2}]}}},
                     'spec.strategy.canary.steps[1]: Duplicate value: {"name":"a"}',
                     marks=pytest.mark.emulator_differs('a duplicate map-list key is shown as Go\'s map[string]interface {}{"name":"a"}')),
    ],
)  # fmt: skip
async def test_schema_errors_name_the_field(server: Api, spec: dict[str, Any], expected: str) -> None:  # fmt: skip
    assert expected in await _invalid(server, widget(**spec))


async def test_the_whole_message_names_kind_object_and_field(server: Api) -> None:
    resp = await server.post(server.path(WIDGETS), widget(replicas=-1))
    assert resp.body["message"] == (
        f'Widget.{GROUP} "chat" is invalid: spec.replicas: Invalid value: -1: '
        "spec.replicas in body should be greater than or equal to 0"
    )
    assert resp.body["details"]["name"] == "chat" and resp.body["details"]["group"] == GROUP
    assert resp.body["details"]["kind"] == "Widget"


async def test_a_missing_required_field_is_required_value(server: Api) -> None:
    obj = widget()
    del obj["spec"]["model"]
    assert (await _invalid(server, obj))[0] == "spec.model: Required value"


@pytest.mark.emulator_differs("only a type error stops CEL rules, not a missing field, an enum, too long or too many")  # fmt: skip
async def test_a_missing_required_field_stops_cel_rules(server: Api) -> None:
    obj = widget(replicas=20)  # the replicas rule would fail
    del obj["spec"]["model"]
    causes = await _invalid(server, obj)
    assert [c.split(":")[0] for c in causes] == ["spec.model", "<nil>"]
    assert "some validation rules were not checked" in causes[1]


async def test_int_or_string_accepts_both(server: Api) -> None:
    await server.create(WIDGETS, widget("a", port=8080))
    await server.create(WIDGETS, widget("b", port="http"))


async def test_unknown_fields_strict_is_400_and_warn_is_a_warning(server: Api) -> None:
    strict = await server.post(server.path(WIDGETS), widget(bogus=1), params={"fieldValidation": "Strict"})  # fmt: skip
    assert strict.status == 400
    assert strict.body["message"] == (
        'Widget in version "v1" cannot be handled as a Widget: strict decoding error: '
        'unknown field "spec.bogus"'
    )
    warned = await server.post(server.path(WIDGETS), widget(bogus=1), params={"fieldValidation": "Warn"})  # fmt: skip
    assert warned.status == 201 and "bogus" not in warned.body["spec"], "pruned"
    assert warned.warnings == ['299 - "unknown field \\"spec.bogus\\""']


async def test_unknown_fields_are_pruned_except_under_preserve_unknown_fields(server: Api) -> None:
    obj = widget(bogus=1, extra={"anything": {"goes": True}})
    obj["metadata"]["bogusMeta"] = "x"
    obj["topLevel"] = 1
    resp = await server.post(server.path(WIDGETS), obj)
    assert resp.status == 201
    assert "bogus" not in resp.body["spec"] and "topLevel" not in resp.body
    assert "bogusMeta" not in resp.body["metadata"]
    assert resp.body["spec"]["extra"] == {"anything": {"goes": True}}


async def test_defaults_and_nulls(server: Api) -> None:
    resp = await server.post(server.path(WIDGETS), widget(replicas=None, note=None, locked=None))
    assert resp.status == 201, resp.body
    # replicas: null becomes its default; note is nullable, kept; locked has no default, dropped.
    assert resp.body["spec"] == {"model": "llama", "replicas": 1, "note": None}


async def test_cel_rule_with_a_message(server: Api) -> None:
    steps = [{"name": "a", "weight": 50}, {"name": "b", "weight": 10}]
    failures = await _rule_failures(server, widget(strategy={"canary": {"steps": steps}}))
    assert _ends(failures, [("spec.strategy.canary", "step weights must not decrease")]), failures


async def test_cel_message_expression(server: Api) -> None:
    failures = await _rule_failures(server, widget(replicas=20))
    assert _ends(failures, [("spec", "model llama may not run more than 10 replicas")]), failures
    await server.create(WIDGETS, widget(model="big-one", replicas=20))


async def test_a_transition_rule_uses_old_self_on_update_and_names_its_field_path(server: Api) -> None:  # fmt: skip
    await server.create(WIDGETS, widget(model="mistral", locked=True))  # no oldSelf on create
    path = server.path(WIDGETS, "chat")
    moved = await server.patch(path, {"spec": {"model": "other"}})
    assert moved.status == 422
    [cause] = moved.body["details"]["causes"]
    assert cause["field"] == "spec.model" and cause["message"].endswith(": model is locked")
    unlocked = await server.patch(path, {"spec": {"locked": False}})
    assert unlocked.status == 200
    assert (await server.patch(path, {"spec": {"model": "other"}})).status == 200


async def test_a_type_error_stops_cel_rules(server: Api) -> None:
    causes = await _invalid(server, widget(replicas="many"))
    assert causes[0] == 'spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"'  # fmt: skip
    assert len(causes) == 2 and causes[1].startswith("<nil>: Invalid value: ")
    assert causes[1].endswith(
        ": some validation rules were not checked because the object was invalid; "
        "correct the existing errors to complete validation"
    )


@pytest.mark.emulator_differs(
    'CEL failures say the type of the value, `Invalid value: "object": MESSAGE`, and the rules'
    ' left unchecked `Invalid value: "object"`'
)
async def test_cel_failures_are_worded_as_kube_apiserver_1_36_words_them(server: Api) -> None:
    steps = [{"name": "a", "weight": 50}, {"name": "b", "weight": 10}]
    assert await _invalid(server, widget(strategy={"canary": {"steps": steps}})) == [
        "spec.strategy.canary: Invalid value: step weights must not decrease"
    ]
    assert (await _invalid(server, widget(replicas="many")))[1] == NOT_CHECKED


async def test_ratcheting_lets_unchanged_invalid_values_through_updates(server: Api) -> None:
    # An object stored before its CRD's schema became stricter: `tier` allowed "bronze".
    crd = crd_copy(server, "Ratchet")
    tier = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["tier"]  # fmt: skip
    tier["enum"] = ["gold", "silver", "bronze"]
    resource = await served_crd(server, crd)
    kind = crd["spec"]["names"]["kind"]
    obj = {**widget(tier="bronze"), "kind": kind}
    assert (await server.post(server.path(resource), obj)).status == 201
    crd_path = server.path(CRDS, crd["metadata"]["name"], namespaced=False)
    current = (await server.get(crd_path)).body
    tier["enum"] = ["gold", "silver"]
    stricter = await server.put(crd_path, {**crd, "metadata": current["metadata"]})
    assert stricter.status == 200, stricter.body

    async def strict_now() -> bool:
        probe = await server.post(server.path(resource), {**obj, "metadata": {"name": "probe"}},
                                  params={"dryRun": "All"})  # fmt: skip
        return probe.status == 422

    await eventually(strict_now, timeout=20, what="the stricter schema in force")
    path = server.path(resource, "chat")
    relabelled = await server.patch(path, {"metadata": {"labels": {"team": "a"}}})
    assert relabelled.status == 200, relabelled.body
    other = await server.patch(path, {"spec": {"model": "other"}})
    assert other.status == 200, "the untouched tier stays ratcheted"
    changed = await server.patch(path, {"spec": {"tier": "copper"}})
    assert changed.status == 422


# --- Champion's own CRDs -------------------------------------------------------------------


async def test_champions_examples_are_valid(server: Api) -> None:
    for name in ("21-modelversion-v1.yaml", "30-evalsuite.yaml", "40-rollout.yaml"):
        obj = _example(name)
        resp = await server.post(server.path(_resource(obj)), obj, params={"fieldValidation": "Strict"})  # fmt: skip
        assert resp.status == 201, (name, resp.body)


async def test_a_modelversion_spec_is_immutable(server: Api) -> None:
    mv = _example("21-modelversion-v1.yaml")
    await server.create(_resource(mv), mv)
    path = server.path(_resource(mv), mv["metadata"]["name"])
    changed = await server.patch(path, {"spec": {"serving": {"replicas": 3}}})
    assert changed.status == 422
    assert "ModelVersion spec is immutable: create a new ModelVersion for a new release" in changed.body["message"]  # fmt: skip
    assert (await server.patch(path, {"metadata": {"labels": {"a": "b"}}})).status == 200


async def test_a_modelversion_needs_an_image_for_a_deployment_backend(server: Api) -> None:
    mv = _example("21-modelversion-v1.yaml")
    del mv["spec"]["serving"]["image"]
    failures = await _rule_failures(server, mv)
    expected = [("spec.serving.image", "serving.image is required when serving.backend is 'deployment'")]  # fmt: skip
    assert _ends(failures, expected), failures


async def test_a_rollouts_canary_weights_must_increase(server: Api) -> None:
    ro = _example("40-rollout.yaml")
    ro["spec"]["strategy"]["canary"]["steps"][1]["weight"] = 20
    failures = await _rule_failures(server, ro)
    expected = [("spec.strategy.canary.steps", "canary step weights must strictly increase (e.g. 10, 25, 50)")]  # fmt: skip
    assert _ends(failures, expected), failures


async def test_an_evalsuite_names_exactly_one_case_source(server: Api) -> None:
    suite = _example("30-evalsuite.yaml")
    suite["spec"]["cases"]["configMap"] = {"name": "cases", "key": "cases.jsonl"}
    failures = await _rule_failures(server, suite)
    expected = [("spec.cases", "give exactly one case source: inline, configMap or url")]
    assert _ends(failures, expected), failures


async def test_a_rollout_field_error_names_its_path(server: Api) -> None:
    ro = _example("40-rollout.yaml")
    ro["spec"]["analysis"]["alpha"] = 2
    causes = await _invalid(server, ro)
    assert len(causes) == 1 and causes[0].startswith("spec.analysis.alpha: Invalid value: 2: spec.analysis.alpha in body should be less than")  # fmt: skip


# --- CRDs themselves -------------------------------------------------------------------------


def _broken_crd(server: Api) -> dict[str, Any]:
    crd = crd_copy(server, "Broken")
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["x-kubernetes-validations"] = [
        {"rule": "self.spec.(("}
    ]
    return crd


async def test_a_crd_with_a_cel_syntax_error_is_refused(server: Api) -> None:
    resp = await server.post(server.path(CRDS, namespaced=False), _broken_crd(server))
    assert resp.status == 422, resp.body
    [cause] = resp.body["details"]["causes"]
    assert cause["field"].endswith("openAPIV3Schema.x-kubernetes-validations[0].rule")
    assert "compilation failed" in cause["message"]


@pytest.mark.emulator_differs(
    "a CRD's rule errors are at spec.versions[i].schema.openAPIV3Schema (a real server names"
    " spec.validation.openAPIV3Schema when the versions share one schema) and quote the rule"
    " rather than the whole ValidationRule"
)
async def test_a_crd_cel_syntax_error_names_the_rule_as_kube_apiserver_does(server: Api) -> None:
    resp = await server.post(server.path(CRDS, namespaced=False), _broken_crd(server))
    [cause] = resp.body["details"]["causes"]
    assert cause["field"] == "spec.validation.openAPIV3Schema.x-kubernetes-validations[0].rule"
    assert cause["message"].startswith(
        'Invalid value: {"Rule":"self.spec.((","Message":"","MessageExpression":"","Reason":null,'
        '"FieldPath":"","OptionalOldSelf":null}: compilation failed: ERROR: <input>:1:'
    )


async def test_a_crd_whose_name_does_not_match_is_refused(server: Api) -> None:
    crd = crd_copy(server, "Misnamed")
    crd["metadata"]["name"] = f"wrong{crd['metadata']['name']}"
    resp = await server.post(server.path(CRDS, namespaced=False), crd)
    assert resp.status == 422
    assert [c["field"] for c in resp.body["details"]["causes"]] == ["metadata.name"]


@pytest.mark.emulator_differs("it does not estimate the cost of CEL rules")
async def test_a_crd_whose_message_expression_costs_too_much_is_refused(server: Api) -> None:
    crd = crd_copy(server, "Costly")
    rule = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["x-kubernetes-validations"][1]  # fmt: skip
    rule["messageExpression"] = '"only big- models may run " + string(self.replicas) + " replicas"'
    resp = await server.post(server.path(CRDS, namespaced=False), crd)
    assert resp.status == 422, resp.body
    assert "estimated messageExpression cost exceeds budget" in resp.body["message"]
