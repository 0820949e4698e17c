"""The `apiserver` fixture (tests/conftest.py) as the operator's tests use it."""

from __future__ import annotations

import json

import aiohttp
import yaml

from tests.apiserver.conftest import CM, configmap
from tests.emulator.apiserver import ApiServer


async def test_the_apiserver_fixture_serves_seeds_and_counts(apiserver: ApiServer) -> None:
    assert apiserver.url.startswith("http://127.0.0.1:")
    assert apiserver.kubeconfig is not None
    config = yaml.safe_load(apiserver.kubeconfig.read_text())
    assert config["clusters"][0]["cluster"]["server"] == apiserver.url
    assert ("champion.dev", "rollouts") in apiserver.store.types, "Champion's CRDs are applied"

    seeded = apiserver.seed({**configmap("seeded", namespace="default"), "data": {"k": "v"}})
    assert seeded["metadata"]["resourceVersion"]
    async with aiohttp.ClientSession(apiserver.url) as http:
        for value in ("1", "2"):
            patch = json.dumps({"data": {"k": value}})
            headers = {"Content-Type": "application/merge-patch+json"}
            assert (await http.patch(f"{CM}/seeded", data=patch, headers=headers)).status == 200
    assert apiserver.count("PATCH", "/configmaps/seeded") == 2
    assert apiserver.count("GET", "/configmaps/seeded") == 0
    inspected = apiserver.store.get(apiserver.store.type_for("", "configmaps"), "default", "seeded")
    assert inspected["data"] == {"k": "2"}
