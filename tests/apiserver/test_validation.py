"""CRD schema semantics (pruning, defaults, nullable, int-or-string, preserve-unknown-fields)
and CEL rules, with the messages a real server writes."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.apiserver.conftest import CRD, rollout
from tests.emulator.apiserver.schema import apply_defaults, prune_collect
from tests.emulator.apiserver.validation import validate

SCHEMA: dict[str, Any] = CRD["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


def _messages(obj: dict[str, Any], old: dict[str, Any] | None = None) -> list[str]:
    return [f"{c.field}: {c.message}" for c in validate(obj, old, SCHEMA)]


def test_a_valid_object_passes() -> None:
    assert _messages(rollout(strategy={"canary": {"steps": [{"name": "a", "weight": 5}]}})) == []


def test_unknown_fields_are_pruned_except_under_preserve_unknown_fields() -> None:
    obj = rollout(bogus=1, extra={"anything": {"goes": True}})
    obj["metadata"]["bogusMeta"] = "x"
    obj["topLevel"] = 1
    pruned, unknown = prune_collect(copy.deepcopy(obj), SCHEMA)
    assert sorted(unknown) == ["metadata.bogusMeta", "spec.bogus", "topLevel"]
    assert pruned["spec"]["extra"] == {"anything": {"goes": True}}
    assert pruned["metadata"] == {"name": "chat", "namespace": "default"}


def test_defaults_and_non_nullable_nulls() -> None:
    obj = apply_defaults(rollout(replicas=None, note=None, locked=None), SCHEMA)
    # replicas: null becomes its default; note is nullable, kept; locked has no default, dropped.
    assert obj["spec"] == {"model": "llama", "replicas": 1, "note": None}
    assert _messages(obj) == []


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
        ({"port": 1.5}, "spec.port: Invalid value: 1.5: spec.port in body must validate at least one schema (anyOf)"),
        ({"strategy": {"canary": {"steps": [{"name": str(i), "weight": i} for i in range(6)]}}},
         "spec.strategy.canary.steps: Too many: 6: must have at most 5 items"),
        ({"strategy": {"canary": {"steps": [{"name": "a"}]}}}, "spec.strategy.canary.steps[0].weight: Required value"),
        ({"strategy": {"canary": {"steps": [{"name": "a", "weight": 1}, {"name": "a", "weight": 2}]}}},
         'spec.strategy.canary.steps[1]: Duplicate value: map[string]interface {}{"name":"a"}'),
    ],
)  # fmt: skip
def test_schema_errors_name_the_field_as_kube_apiserver_does(
    spec: dict[str, Any], expected: str
) -> None:
    obj = rollout(**spec)
    assert expected in _messages(obj)


def test_int_or_string_accepts_both() -> None:
    assert _messages(rollout(port=8080)) == _messages(rollout(port="http")) == []


def test_a_missing_required_field_is_required_value() -> None:
    obj = rollout()
    del obj["spec"]["model"]
    assert _messages(obj) == ["spec.model: Required value"]


def test_cel_rule_with_message_and_type_of_self() -> None:
    steps = [{"name": "a", "weight": 50}, {"name": "b", "weight": 10}]
    assert _messages(rollout(strategy={"canary": {"steps": steps}})) == [
        'spec.strategy.canary: Invalid value: "object": step weights must not decrease'
    ]


def test_cel_message_expression() -> None:
    assert _messages(rollout(replicas=20)) == [
        'spec: Invalid value: "object": only big- models may run 20 replicas'
    ]
    assert _messages(rollout(model="big-one", replicas=20)) == []


def test_transition_rule_uses_old_self_only_on_update_and_names_field_path() -> None:
    locked = rollout(locked=True)
    changed = rollout(model="mistral", locked=True)
    assert _messages(changed) == [], "no oldSelf on create: transition rules do not run"
    assert _messages(changed, locked) == ['spec.model: Invalid value: "object": model is locked']
    assert _messages(changed, rollout(locked=False)) == []


def test_type_errors_stop_cel_rules_as_on_a_real_server() -> None:
    assert _messages(rollout(replicas="many")) == [
        'spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"',
        '<nil>: Invalid value: "object": some validation rules were not checked because the object '
        "was invalid; correct the existing errors to complete validation",
    ]


def test_ratcheting_lets_unchanged_invalid_values_through_updates() -> None:
    # Stored before today's schema: an enum value and a CEL failure at spec.
    old = rollout(tier="bronze", replicas=20)
    relabelled = copy.deepcopy(old)
    relabelled["metadata"]["labels"] = {"team": "a"}
    assert _messages(relabelled, old) == [], "nothing under spec changed"
    assert _messages(rollout(tier="bronze", replicas=20, model="other"), old) == [
        'spec: Invalid value: "object": only big- models may run 20 replicas'
    ], "spec changed: its rule runs again; the untouched tier stays ratcheted"
