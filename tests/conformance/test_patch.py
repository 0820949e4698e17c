"""PATCH per content type: merge patch, JSON patch, strategic merge patch on built-in kinds
(and 415 for it on custom resources), server-side apply."""

from __future__ import annotations

from typing import Any

import pytest
from tests.conformance.conftest import (
    CONFIGMAPS,
    JSON_PATCH,
    STRATEGIC,
    WIDGETS,
    Api,
    Response,
    configmap,
    widget,
)

DEPLOYMENTS = ("apps/v1", "deployments")
APPLY = "application/apply-patch+yaml"


def deployment(name: str = "web") -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "finalizers": ["a.dev/x"], "labels": {"x": "1", "y": "2"}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {"name": "app", "image": "app:v1", "ports": [{"containerPort": 80}],
                         "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
                        {"name": "sidecar", "image": "sidecar:v1"},
                    ],
                    "tolerations": [{"key": "gpu", "operator": "Exists"}],
                },
            },
        },
    }  # fmt: skip


async def _deployment(server: Api) -> str:
    await server.create(DEPLOYMENTS, deployment())
    return server.path(DEPLOYMENTS, "web")


async def _release(server: Api, path: str) -> None:
    await server.patch(path, {"metadata": {"finalizers": None}})


async def test_merge_patch_replaces_lists_and_null_deletes(server: Api) -> None:
    path = await _deployment(server)
    tolerations = [{"key": "other", "operator": "Exists"}]
    patch = {"metadata": {"labels": {"x": None}}, "spec": {"template": {"spec": {"tolerations": tolerations}}}}  # fmt: skip
    resp = await server.patch(path, patch)
    assert resp.status == 200, resp.body
    assert resp.body["metadata"]["labels"] == {"y": "2"}
    assert resp.body["spec"]["template"]["spec"]["tolerations"] == tolerations
    await _release(server, path)


@pytest.mark.emulator_differs("built-in kinds keep the empty lists a real server's Go types omit")
async def test_an_empty_list_in_a_built_in_kind_is_omitted(server: Api) -> None:
    path = await _deployment(server)
    patch: dict[str, Any] = {"spec": {"template": {"spec": {"tolerations": []}}}}
    resp = await server.patch(path, patch)
    await _release(server, path)
    assert resp.status == 200, resp.body
    assert "tolerations" not in resp.body["spec"]["template"]["spec"]


_STRATEGIC = {
    "metadata": {"finalizers": ["b.dev/y"]},
    "spec": {"template": {"spec": {
        "containers": [
            {"name": "app", "image": "app:v2", "env": [{"name": "B", "value": "3"}, {"name": "C", "value": "4"}],
             "ports": [{"containerPort": 81}]},
            {"name": "sidecar", "$patch": "delete"},
        ],
        "tolerations": [{"key": "other", "operator": "Exists"}],
    }}},
}  # fmt: skip


async def test_strategic_merge_merges_by_key_for_built_in_kinds(server: Api) -> None:
    path = await _deployment(server)
    resp = await server.patch(path, _STRATEGIC, STRATEGIC)
    await _release(server, path)
    assert resp.status == 200, resp.body
    spec = resp.body["spec"]["template"]["spec"]
    [app] = spec["containers"]
    assert app["image"] == "app:v2"
    assert [(e["name"], e["value"]) for e in app["env"]] == [("A", "1"), ("B", "3"), ("C", "4")]
    assert sorted(p["containerPort"] for p in app["ports"]) == [80, 81]
    assert sorted(resp.body["metadata"]["finalizers"]) == ["a.dev/x", "b.dev/y"]
    assert spec["tolerations"] == [{"key": "other", "operator": "Exists"}], "no merge key: replaced"


@pytest.mark.emulator_differs("a merged list's new items go last, not first")
async def test_strategic_merge_puts_new_items_before_the_servers_own(server: Api) -> None:
    path = await _deployment(server)
    resp = await server.patch(path, _STRATEGIC, STRATEGIC)
    await _release(server, path)
    # apimachinery's normalizeElementOrder: an item the server did not have comes first; an
    # item it had keeps its place (env: A, then the patched B, then C).
    [app] = resp.body["spec"]["template"]["spec"]["containers"]
    assert [p["containerPort"] for p in app["ports"]] == [81, 80]
    assert resp.body["metadata"]["finalizers"] == ["b.dev/y", "a.dev/x"]


async def test_strategic_merge_directives(server: Api) -> None:
    path = await _deployment(server)
    patch = {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a.dev/x"],
                          "labels": {"$patch": "replace", "z": "3"}}}  # fmt: skip
    resp = await server.patch(path, patch, STRATEGIC)
    assert resp.status == 200, resp.body
    assert "finalizers" not in resp.body["metadata"]
    assert resp.body["metadata"]["labels"] == {"z": "3"}


async def test_strategic_merge_on_a_custom_resource_is_415(server: Api) -> None:
    await server.create(WIDGETS, widget())
    resp = await server.patch(server.path(WIDGETS, "chat"), {"spec": {"model": "x"}}, STRATEGIC)
    assert resp.status == 415 and resp.body["reason"] == "UnsupportedMediaType"
    assert resp.body["message"] == (
        "the body of the request was in an unknown format - accepted media types include: "
        "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
    )


async def test_json_patch_ops_and_a_failing_test_op(server: Api) -> None:
    await server.create(CONFIGMAPS, configmap("j"))
    path = server.path(CONFIGMAPS, "j")
    ops = [
        {"op": "add", "path": "/data", "value": {"a": "1", "b": "2"}},
        {"op": "replace", "path": "/data/a", "value": "10"},
        {"op": "remove", "path": "/data/b"},
        {"op": "copy", "from": "/data/a", "path": "/data/c"},
        {"op": "move", "from": "/data/c", "path": "/data/d"},
    ]
    resp = await server.patch(path, ops, JSON_PATCH)
    assert resp.status == 200 and resp.body["data"] == {"a": "10", "d": "10"}
    failing = [{"op": "test", "path": "/data/a", "value": "other"}, {"op": "remove", "path": "/data"}]  # fmt: skip
    failed = await server.patch(path, failing, JSON_PATCH)
    assert failed.status == 422 and failed.body["reason"] == "Invalid"
    missing = await server.patch(path, [{"op": "remove", "path": "/data/nope"}], JSON_PATCH)
    assert missing.status == 422


async def test_patching_a_missing_object_is_404(server: Api) -> None:
    resp = await server.patch(server.path(CONFIGMAPS, "nope"), {"data": {"a": "b"}})
    assert resp.status == 404 and resp.body["reason"] == "NotFound"


def _cm_manifest(**data: str) -> str:
    lines = "".join(f"  {k}: '{v}'\n" for k, v in data.items())
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata:\n{lines}"


async def _apply(
    server: Api, manifest: str, manager: str = "test", force: bool = False
) -> Response:
    params = {"fieldManager": manager, **({"force": "true"} if force else {})}
    return await server.call("PATCH", server.path(CONFIGMAPS, "ssa"), raw=manifest,
                             content_type=APPLY, params=params)  # fmt: skip


async def test_server_side_apply_creates_then_updates(server: Api) -> None:
    first = await _apply(server, _cm_manifest(a="1", b="2"))
    assert first.status == 201 and first.body["data"] == {"a": "1", "b": "2"}
    second = await _apply(server, _cm_manifest(a="10", b="2"))
    assert second.status == 200 and second.body["data"] == {"a": "10", "b": "2"}


@pytest.mark.emulator_differs("server-side apply is a merge patch: no field ownership")
async def test_server_side_apply_removes_fields_the_manager_no_longer_sets(server: Api) -> None:
    await _apply(server, _cm_manifest(a="1", b="2"))
    applied = await _apply(server, _cm_manifest(a="1"))
    assert applied.status == 200 and applied.body["data"] == {"a": "1"}


@pytest.mark.emulator_differs("server-side apply is a merge patch: no conflicts between managers")
async def test_server_side_apply_conflicts_between_managers(server: Api) -> None:
    await _apply(server, _cm_manifest(a="1"), manager="one")
    conflict = await _apply(server, _cm_manifest(a="2"), manager="two")
    assert conflict.status == 409 and conflict.body["reason"] == "Conflict"
    assert 'conflict with "one"' in conflict.body["message"]
    forced = await _apply(server, _cm_manifest(a="2"), manager="two", force=True)
    assert forced.status == 200 and forced.body["data"] == {"a": "2"}


@pytest.mark.emulator_differs("it keeps no managedFields")
async def test_writes_record_managed_fields(server: Api) -> None:
    applied = await _apply(server, _cm_manifest(a="1"), manager="one")
    managers = [(m["manager"], m["operation"]) for m in applied.body["metadata"]["managedFields"]]
    assert managers == [("one", "Apply")]
