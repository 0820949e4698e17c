"""PATCH semantics per content type."""

from __future__ import annotations

import pytest

from tests.emulator.apiserver.errors import ApiStatusError
from tests.emulator.apiserver.patching import JSON_PATCH, MERGE, STRATEGIC, apply_patch

POD = {
    "metadata": {"name": "p", "finalizers": ["a"], "labels": {"x": "1", "y": "2"}},
    "spec": {
        "containers": [
            {"name": "app", "image": "v1", "ports": [{"containerPort": 80}],
             "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
            {"name": "sidecar", "image": "s1"},
        ],
        "tolerations": [{"key": "gpu"}],
    },
}  # fmt: skip


def test_merge_patch_replaces_lists_and_null_deletes() -> None:
    out = apply_patch(POD, {"metadata": {"labels": {"x": None}}, "spec": {"tolerations": []}}, MERGE)  # fmt: skip
    assert out["metadata"]["labels"] == {"y": "2"} and out["spec"]["tolerations"] == []
    assert POD["metadata"]["labels"] == {"x": "1", "y": "2"}, "the input is not mutated"


def test_strategic_merge_merges_by_key_for_built_in_kinds() -> None:
    patch = {
        "metadata": {"finalizers": ["b"]},
        "spec": {
            "containers": [
                {"name": "app", "image": "v2", "env": [{"name": "B", "value": "3"}, {"name": "C", "value": "4"}],
                 "ports": [{"containerPort": 81}]},
                {"name": "sidecar", "$patch": "delete"},
            ],
            "tolerations": [{"key": "other"}],
        },
    }  # fmt: skip
    out = apply_patch(POD, patch, STRATEGIC)
    [app] = out["spec"]["containers"]
    assert app["image"] == "v2"
    assert app["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "3"}, {"name": "C", "value": "4"}]  # fmt: skip
    assert app["ports"] == [{"containerPort": 80}, {"containerPort": 81}]
    assert out["metadata"]["finalizers"] == ["a", "b"]
    assert out["spec"]["tolerations"] == [{"key": "other"}], "no merge key: replaced"


def test_strategic_merge_directives() -> None:
    out = apply_patch(
        POD,
        {
            "metadata": {
                "$deleteFromPrimitiveList/finalizers": ["a"],
                "labels": {"$patch": "replace", "z": "3"},
            }
        },
        STRATEGIC,
    )
    assert out["metadata"]["finalizers"] == [] and out["metadata"]["labels"] == {"z": "3"}


def test_strategic_merge_on_a_custom_resource_is_415_as_on_a_real_server() -> None:
    with pytest.raises(ApiStatusError) as exc:
        apply_patch({"spec": {}}, {"spec": {"a": 1}}, STRATEGIC, custom=True)
    assert exc.value.code == 415
    assert "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml" in exc.value.message  # fmt: skip


def test_json_patch_with_a_failing_test_op_is_422() -> None:
    ops = [{"op": "test", "path": "/metadata/name", "value": "other"}, {"op": "remove", "path": "/spec"}]  # fmt: skip
    with pytest.raises(ApiStatusError) as exc:
        apply_patch(POD, ops, JSON_PATCH)
    assert exc.value.code == 422
    ok = apply_patch(POD, [{"op": "test", "path": "/metadata/name", "value": "p"}, {"op": "remove", "path": "/spec"}], JSON_PATCH)  # fmt: skip
    assert "spec" not in ok
