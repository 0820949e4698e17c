"""Metric faults on a real Prometheus scraping synthetic replicas whose counters the test sets."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web

from champion.adapters.prometheus import PrometheusClient, PrometheusUnavailable
from champion.api.v1alpha1.rollout import AnalysisMetric
from champion.domain.judge import Counts
from champion.domain.metrics_catalog import expand
from champion.sandbox.prometheus import PrometheusServer
from tests.helpers import eventually

pytestmark = pytest.mark.slow

ERRORS = expand([AnalysisMetric(name="errors", preset="vllm-errors")])


class Replicas:
    """Pods exporting http_requests_total; a pod is (version, requests, errors)."""

    def __init__(self) -> None:
        self.pods: dict[str, tuple[str, int, int]] = {}

    async def metrics(self, request: web.Request) -> web.Response:
        pod = request.match_info["pod"]
        if pod not in self.pods:
            return web.Response(status=404)
        _, req, err = self.pods[pod]
        body = (
            "# TYPE http_requests_total counter\n"
            f'http_requests_total{{status="2xx"}} {req - err}\n'
            f'http_requests_total{{status="5xx"}} {err}\n'
        )
        return web.Response(text=body)


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[tuple[PrometheusServer, Replicas, int]]:
    replicas = Replicas()
    app = web.Application()
    app.router.add_get("/{pod}/metrics", replicas.metrics)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    server = PrometheusServer(tmp_path)
    await asyncio.to_thread(server.start)
    yield server, replicas, port
    await asyncio.to_thread(server.stop)
    await runner.cleanup()


def publish(server: PrometheusServer, replicas: Replicas, port: int) -> None:
    server.write_targets(
        [
            {
                "targets": [f"127.0.0.1:{port}"],
                "labels": {"model_version": v, "pod": pod, "__metrics_path__": f"/{pod}/metrics"},
            }
            for pod, (v, _, _) in sorted(replicas.pods.items())
        ]
    )


async def scraped(client: PrometheusClient, replicas: Replicas) -> datetime:
    """Waits until Prometheus holds every pod's current total; returns that instant."""
    want = {p: r for p, (_, r, _) in replicas.pods.items()}

    async def check() -> bool:
        got = await client.query("sum by (pod) (http_requests_total)", datetime.now(UTC))
        return {s["metric"]["pod"]: int(float(s["value"][1])) for s in got} == want

    await eventually(check, timeout=20, what="Prometheus to scrape every pod")
    return datetime.now(UTC)


async def test_a_challenger_replica_restarting_counts_only_the_intervals_traffic(setup) -> None:  # type: ignore[no-untyped-def]
    server, replicas, port = setup
    client = PrometheusClient(server.url)
    replicas.pods = {
        "champ-0": ("v1", 10_000, 100),
        "chal-0": ("v2", 3_000, 30),
        "chal-1": ("v2", 3_000, 30),
        "chal-2": ("v2", 3_000, 30),
    }
    publish(server, replicas, port)
    start = await scraped(client, replicas)
    # The interval's traffic: 100 requests (1 error) per challenger pod, 300 (3) for the
    # champion; chal-1 restarts mid-way, so its counter reads only its 40 requests since.
    replicas.pods = {
        "champ-0": ("v1", 10_300, 103),
        "chal-0": ("v2", 3_100, 31),
        "chal-1": ("v2", 40, 0),
        "chal-2": ("v2", 3_100, 31),
    }
    end = await scraped(client, replicas)
    obs = await client.read_interval(ERRORS, "model_version", "v1", "v2", start, end)
    # Before per-series deltas: the sum fell (9,000 -> 6,240), read as a reset: 6,240 new.
    assert obs["errors"] == Counts(
        challenger_events=2, challenger_total=240, champion_events=3, champion_total=300
    )


async def test_a_champion_losing_replicas_counts_only_the_remaining_pods_traffic(setup) -> None:  # type: ignore[no-untyped-def]
    server, replicas, port = setup
    client = PrometheusClient(server.url)
    replicas.pods = {
        "champ-0": ("v1", 5_000, 50),
        "champ-1": ("v1", 5_000, 50),
        "champ-2": ("v1", 5_000, 50),
        "chal-0": ("v2", 1_000, 10),
    }
    publish(server, replicas, port)
    start = await scraped(client, replicas)
    # Swap mode frees two champion replicas: their series vanish.
    replicas.pods = {"champ-0": ("v1", 5_200, 52), "chal-0": ("v2", 1_200, 12)}
    publish(server, replicas, port)
    end = await scraped(client, replicas)
    obs = await client.read_interval(ERRORS, "model_version", "v1", "v2", start, end)
    # Before: 15,000 -> 5,200 read as a reset, 5,200 "new" champion requests.
    assert obs["errors"] == Counts(
        challenger_events=2, challenger_total=200, champion_events=2, champion_total=200
    )


async def test_a_hung_prometheus_fails_the_read_within_the_timeout() -> None:
    async def hang(request: web.Request) -> web.Response:
        await asyncio.sleep(30)
        return web.Response(text="{}")

    app = web.Application()
    app.router.add_get("/api/v1/query", hang)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        client = PrometheusClient(f"http://127.0.0.1:{port}", timeout=1.0)
        t0 = asyncio.get_running_loop().time()
        with pytest.raises(PrometheusUnavailable):
            now = datetime.now(UTC)
            await client.read_interval(ERRORS, "model_version", "v1", "v2", now, now)
        # urllib3 retries a read timeout 3 times: 4 attempts and backoff, still bounded.
        assert asyncio.get_running_loop().time() - t0 < 20
    finally:
        await runner.cleanup()
