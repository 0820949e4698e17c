"""HTTP-level fidelity the clients rely on: PUT, JSON-patch `test`, list kind, watch resume."""

from __future__ import annotations

import json

import aiohttp

from champion.sandbox.apiserver import ApiServer

CM = "/api/v1/namespaces/default/configmaps"


async def test_put_json_patch_list_and_watch_resume(apiserver: ApiServer) -> None:
    async with aiohttp.ClientSession(apiserver.url) as http:
        created = await http.post(
            CM,
            json={
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "a"},
                "data": {"k": "1"},
            },
        )
        assert created.status == 201
        first = await created.json()
        rv = first["metadata"]["resourceVersion"]

        replaced = await http.put(f"{CM}/a", json={**first, "data": {"k": "2"}})
        assert replaced.status == 200 and (await replaced.json())["data"] == {"k": "2"}
        stale = await http.put(f"{CM}/a", json={**first, "data": {"k": "3"}})
        assert stale.status == 409 and (await stale.json())["reason"] == "Conflict"

        bad_test = await http.patch(
            f"{CM}/a",
            data=json.dumps(
                [
                    {"op": "test", "path": "/metadata/resourceVersion", "value": rv},
                    {"op": "replace", "path": "/data/k", "value": "4"},
                ]
            ),
            headers={"Content-Type": "application/json-patch+json"},
        )
        assert bad_test.status == 422
        listed = await (await http.get(CM)).json()
        assert listed["kind"] == "ConfigMapList" and int(
            listed["metadata"]["resourceVersion"]
        ) > int(rv)

        # Resume a watch from the first version: the replacement is replayed, nothing else.
        async with http.get(
            CM, params={"watch": "true", "resourceVersion": rv, "timeoutSeconds": "1"}
        ) as stream:
            lines = [json.loads(line) for line in (await stream.text()).splitlines() if line]
        assert [(e["type"], e["object"]["data"]["k"]) for e in lines] == [("MODIFIED", "2")]

        missing = await http.get(f"{CM}/nope")
        assert missing.status == 404 and (await missing.json())["kind"] == "Status"
