"""The sandbox's Job stand-in resolves env the way a kubelet does, Secret keys included."""

from __future__ import annotations

import base64
from pathlib import Path

from tests.emulator.apiserver import ApiServer
from tests.emulator.jobs import JobRunner


async def test_secret_keys_reach_the_eval_process_and_missing_ones_stay_unset(
    apiserver: ApiServer, tmp_path: Path
) -> None:
    apiserver.seed({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "demo"}})
    apiserver.seed(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "judge", "namespace": "demo"},
            "data": {"token": base64.b64encode(b"sk-abc").decode()},
        }
    )
    container = {
        "env": [
            {"name": "PLAIN", "value": "1"},
            {"name": "KEY", "valueFrom": {"secretKeyRef": {"name": "judge", "key": "token"}}},
            {"name": "NOKEY", "valueFrom": {"secretKeyRef": {"name": "judge", "key": "nope"}}},
            {"name": "NOSECRET", "valueFrom": {"secretKeyRef": {"name": "gone", "key": "t"}}},
        ]
    }
    env = JobRunner(apiserver, tmp_path)._container_env("demo", container)
    assert env == {"PLAIN": "1", "KEY": "sk-abc"}
