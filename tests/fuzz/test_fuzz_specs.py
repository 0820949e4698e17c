"""Fuzz layers 1 and 2: fuzzed specs against a real API server, then a running operator.

Layer 1 (admission): thousands of fuzzed Rollouts, ModelVersions, GPUPools and EvalSuites
are sent to a real kube-apiserver with server-side dry run. Each is admitted, or refused
as invalid with the broken field named in the error (message or `details.causes[].field`).
An admitted document the operator's own validators refuse must be refused naming a field.

Layer 2 (operator): a sample of the admitted documents, as the real server stored them
(pruned and defaulted), is created for real in a namespace a running operator (real kopf,
in-process, against the emulated API server) watches. Each gets a status; one the
operator's validators refuse gets a condition naming the field and the fix. The operator
logs no error, settles (its writes per object over a window are bounded), and leaves the
objects next to them alone (their resourceVersions do not change).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from champion.adapters.kube import KubeApi, connect, resource_for
from champion.handlers.run import run_operator
from champion.reconcile.settings import OperatorSettings
from tests.emulator.apiserver import ApiServer
from tests.fuzz.admission import Answer, dry_run
from tests.fuzz.conftest import NAMESPACE, RealApiServer
from tests.fuzz.oracle import names_a_field, validate
from tests.fuzz.strategies import Fuzzed, dotted, fuzzed
from tests.helpers import eventually

pytestmark = pytest.mark.slow

ADMISSION_EXAMPLES = 2000
OPERATOR_EXAMPLES = 900
"""Drawn for layer 2; about a third are admitted and created."""
WINDOW_SECONDS = 4.0
MAX_WRITES_PER_OBJECT = 3
"""In the window, once settled: a ticking Rollout may rewrite a timestamp, never loop."""


def draw_cases(n: int, seed_label: str) -> list[Fuzzed]:
    """`n` fuzzed documents, the same ones every run (derandomized hypothesis)."""
    cases: list[Fuzzed] = []

    @settings(
        max_examples=n,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.just(seed_label), fuzzed(NAMESPACE))
    def collect(_: str, case: Fuzzed) -> None:
        cases.append(case)

    collect()
    return cases


async def _dry_run(server: RealApiServer, cases: list[Fuzzed]) -> list[Answer]:
    connector = aiohttp.TCPConnector(ssl=server.ssl_context())
    async with aiohttp.ClientSession(connector=connector) as session:
        return await dry_run(session, server.url, cases)


async def test_the_api_server_admits_or_names_the_broken_field(
    real_apiserver: RealApiServer,
) -> None:
    cases = draw_cases(ADMISSION_EXAMPLES, "admission")
    answers = await _dry_run(real_apiserver, cases)
    problems = []
    for answer in answers:
        why = answer.problem()
        if why is None and answer.admitted:
            message = validate(answer.case.kind, answer.body)
            paths = tuple(dotted(p) for p in answer.case.paths)
            if message is not None and not names_a_field(message, paths):
                why = f"admitted, and the operator's refusal names no mutated field: {message}"
        if why:
            problems.append((why, answer.case.kind, answer.case.paths, answer.refusal_text()))
    assert not problems, problems[:5]
    admitted = sum(a.admitted for a in answers)
    print(f"fuzz layer 1: {len(answers)} dry runs, {admitted} admitted")
    # Both outcomes happen: a fuzz that only ever hits one side tests little.
    assert 0.1 * len(answers) < admitted < 0.9 * len(answers), admitted


def _stored(answer: Answer) -> dict[str, Any]:
    """The object as the real API server would have stored it, without server metadata."""
    meta = answer.body["metadata"]
    keep = {k: meta[k] for k in ("name", "namespace") if k in meta}
    return {**{k: v for k, v in answer.body.items() if k != "metadata"}, "metadata": keep}


SENTINELS: list[dict[str, Any]] = [
    {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "sentinel", "namespace": NAMESPACE},
        "data": {"prompt.txt": "be nice"},
    },
    {
        "apiVersion": "champion.dev/v1alpha1",
        "kind": "GPUPool",
        "metadata": {"name": "sentinel-pool"},
        "spec": {"nodeSelector": {"pool": "sentinel"}},
    },
    {
        "apiVersion": "champion.dev/v1alpha1",
        "kind": "ModelVersion",
        "metadata": {"name": "sentinel-mv", "namespace": NAMESPACE},
        "spec": {
            "model": {"uri": "s3://b/m", "format": "vllm", "digest": "sha256:" + "b" * 64},
            "serving": {"image": "vllm:1", "gpusPerReplica": 0},
        },
    },
]


def _key(obj: dict[str, Any]) -> tuple[str, str]:
    return obj["kind"], obj["metadata"]["name"]


def _path(obj: dict[str, Any]) -> str:
    res = resource_for(obj["apiVersion"], obj["kind"])
    return res.path(obj["metadata"].get("namespace"), obj["metadata"]["name"])


@contextlib.asynccontextmanager
async def _operator(server: ApiServer) -> AsyncIterator[None]:
    settings_ = OperatorSettings(
        kubeconfig=str(server.kubeconfig), metrics_port=None, namespaces=(NAMESPACE,),
        rollout_tick_seconds=1, gpupool_tick_seconds=60, modelversion_tick_seconds=60,
    )  # fmt: skip
    stop, ready = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(run_operator(settings_, stop_flag=stop, ready_flag=ready))
    try:
        await asyncio.wait_for(ready.wait(), 20)
        yield
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 30)


async def _rv(api: KubeApi, obj: dict[str, Any]) -> str:
    res = resource_for(obj["apiVersion"], obj["kind"])
    got = await api.get(res, obj["metadata"]["name"], obj["metadata"].get("namespace"))
    assert got is not None
    return str(got["metadata"]["resourceVersion"])


def _conditions(obj: dict[str, Any] | None) -> list[dict[str, Any]]:
    return list(((obj or {}).get("status") or {}).get("conditions") or [])


def _reports(conditions: list[dict[str, Any]], field: str) -> bool:
    """A Valid=False or Degraded=True condition whose message names `field`."""
    return any(
        field in c.get("message", "")
        and ((c["type"] == "Valid" and c["status"] == "False") or
             (c["type"] == "Degraded" and c["status"] == "True"))
        for c in conditions
    )  # fmt: skip


async def test_the_operator_reports_admitted_specs_and_stays_calm(
    real_apiserver: RealApiServer, apiserver: ApiServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    answers = await _dry_run(real_apiserver, draw_cases(OPERATOR_EXAMPLES, "operator"))
    objects: dict[tuple[str, str], dict[str, Any]] = {}
    for answer in answers:
        if answer.admitted:
            objects.setdefault(_key(answer.body), _stored(answer))
    apiserver.seed({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
    for sentinel in SENTINELS:
        apiserver.seed(sentinel)
    api = await connect(str(apiserver.kubeconfig))
    try:
        async with _operator(apiserver):
            mv, pool = SENTINELS[2], SENTINELS[1]

            async def sentinels_settled() -> bool:
                got = [await api.get(resource_for(o["apiVersion"], o["kind"]), *_name(o))
                       for o in (mv, pool)]  # fmt: skip
                return all(_conditions(g) for g in got)

            await eventually(sentinels_settled, what="the sentinel objects reconciled")
            before = {_key(o): await _rv(api, o) for o in SENTINELS}

            for obj in objects.values():
                await api.create(obj)

            async def all_reported() -> bool | None:
                missing = []
                for key, obj in objects.items():
                    got = await api.get(resource_for(obj["apiVersion"], obj["kind"]), *_name(obj))
                    if not _conditions(got):
                        missing.append(key)
                return None if missing else True

            await eventually(all_reported, timeout=90, what="every fuzzed object with a status")

            wrong, refused = [], 0
            for key, obj in objects.items():
                got = await api.get(resource_for(obj["apiVersion"], obj["kind"]), *_name(obj))
                conditions = _conditions(got)
                message = validate(obj["kind"], obj)
                if message is not None:
                    refused += 1
                    field = message.split(":", 1)[0]
                    if not _reports(conditions, field):
                        wrong.append((key, message, conditions))
                elif any(c.get("reason") == "InvalidSpec" for c in conditions):
                    wrong.append((key, "a valid spec reported invalid", conditions))
            assert not wrong, wrong[:3]
            print(
                f"fuzz layer 2: {len(objects)} objects created, {refused} refused by the operator"
            )

            writes = {k: _writes(apiserver, o) for k, o in objects.items()}
            await asyncio.sleep(WINDOW_SECONDS)  # the window writes are counted over
            looping = {
                k: n - writes[k]
                for k, o in objects.items()
                if (n := _writes(apiserver, o)) - writes[k] > MAX_WRITES_PER_OBJECT
            }
            assert not looping, looping
            print("fuzz layer 2: most writes per object in the window:",
                  max(_writes(apiserver, o) - writes[k] for k, o in objects.items()))  # fmt: skip

            after = {_key(o): await _rv(api, o) for o in SENTINELS}
            assert after == before, "the operator wrote to objects no fuzzed one names"
    finally:
        await api.close()
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, errors[:5]
    assert not apiserver.errors, apiserver.errors[:3]
    kinds = {k for k, _ in objects}
    assert len(objects) >= 100 and len(kinds) == 4, (len(objects), kinds)


def _name(obj: dict[str, Any]) -> tuple[str, str | None]:
    return obj["metadata"]["name"], obj["metadata"].get("namespace")


def _writes(server: ApiServer, obj: dict[str, Any]) -> int:
    path = _path(obj)
    return sum(
        n
        for (method, p), n in server.requests.items()
        if method in ("PATCH", "PUT", "POST") and (p == path or p.startswith(path + "/"))
    )
