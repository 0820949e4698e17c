"""The Prometheus adapter against a real Prometheus fed with backfilled history (promtool)."""

from __future__ import annotations

import math
import subprocess
from datetime import UTC, datetime, timedelta

import pytest

from champion.adapters.prometheus import PrometheusClient, PrometheusUnavailable
from champion.api.v1alpha1.rollout import AnalysisMetric
from champion.domain.judge import Counts, Histogram
from champion.domain.metrics_catalog import expand
from champion.sandbox.prometheus import PrometheusServer

pytestmark = pytest.mark.slow

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
EDGES = ["0.5", "1.0", "+Inf"]


def series(version: str, minute: int, requests: int, errors: int, buckets: list[int]) -> list[str]:
    ts = int((T0 + timedelta(minutes=minute)).timestamp())
    # The histogram's _sum: 0.4 s per request observed so far.
    out = [
        f'vllm:e2e_request_latency_seconds_sum{{model_version="{version}"}} {0.4 * buckets[-1]:g} {ts}',
        f'http_requests_total{{model_version="{version}",status="2xx"}} {requests - errors} {ts}',
        f'http_requests_total{{model_version="{version}",status="5xx"}} {errors} {ts}',
    ]
    for le, count in zip(EDGES, buckets, strict=True):
        out.append(
            f'vllm:e2e_request_latency_seconds_bucket{{model_version="{version}",le="{le}"}} {count} {ts}'
        )
    return out


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory, promtool_bin: str) -> PrometheusServer:
    workdir = tmp_path_factory.mktemp("prom")
    lines = [
        "# TYPE http_requests_total counter",
        "# TYPE vllm:e2e_request_latency_seconds_bucket counter",
        "# TYPE vllm:e2e_request_latency_seconds_sum counter",
    ]
    # Champion: steady. Challenger: restarts at minute 2 (its counters fall back to small values).
    for minute, (b_req, b_err, b_hist, c_req, c_err, c_hist) in enumerate(
        [
            (100, 1, [60, 90, 100], 50, 1, [20, 40, 50]),
            (200, 2, [120, 180, 200], 100, 4, [40, 80, 100]),
            (300, 3, [180, 270, 300], 30, 3, [10, 20, 30]),
        ]
    ):
        lines += series("v1", minute, b_req, b_err, b_hist) + series(
            "v2", minute, c_req, c_err, c_hist
        )
    # Per-GPU utilisation, as DCGM exports it: two busy GPUs, two nearly idle.
    for minute in range(3):
        ts = int((T0 + timedelta(minutes=minute)).timestamp())
        for gpu, util in enumerate((80, 5, 90, 2)):
            lines.append(f'DCGM_FI_DEV_GPU_UTIL{{Hostname="gpu-node-1",gpu="{gpu}"}} {util} {ts}')
    source = workdir / "history.om"
    source.write_text(
        "\n".join(sorted(set(lines), key=lambda s: (s.split("{")[0], s.split(" ")[-1])))
        + "\n# EOF\n"
    )
    server = PrometheusServer(workdir)
    server.dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            promtool_bin,
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            str(source),
            str(workdir / "data"),
        ],
        check=True,
        capture_output=True,
    )
    server.start()
    yield server
    server.stop()


async def test_counter_deltas_exact_and_reset_aware(prometheus: PrometheusServer) -> None:
    client = PrometheusClient(prometheus.url)
    errors = [m for m in expand([AnalysisMetric(name="errors", preset="vllm-errors")])]
    first = await client.read_interval(
        errors, "model_version", "v1", "v2", T0, T0 + timedelta(minutes=1)
    )
    assert first["errors"] == Counts(
        challenger_events=3, challenger_total=50, champion_events=1, champion_total=100
    )
    # Minute 1 -> 2: the challenger restarted; the new values are the deltas.
    second = await client.read_interval(
        errors, "model_version", "v1", "v2", T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)
    )
    assert second["errors"] == Counts(
        challenger_events=3, challenger_total=30, champion_events=1, champion_total=100
    )


async def test_histogram_bucket_deltas(prometheus: PrometheusServer) -> None:
    client = PrometheusClient(prometheus.url)
    latency = [
        m
        for m in expand([AnalysisMetric(name="latency", preset="vllm-latency")])
        if m.name == "latency_e2e"
    ]
    obs = await client.read_interval(
        latency, "model_version", "v1", "v2", T0, T0 + timedelta(minutes=1)
    )
    h = obs["latency_e2e"]
    assert isinstance(h, Histogram)
    assert h.edges == [0.5, 1.0, math.inf]
    assert h.champion_counts == [60, 30, 10]  # cumulative 120/180/200 minus 60/90/100, per bucket
    assert h.challenger_counts == [20, 20, 10]
    # The _sum deltas, for the mean-latency test: 0.4 s × the requests of the interval.
    assert h.champion_sum == pytest.approx(40.0) and h.challenger_sum == pytest.approx(20.0)


async def test_history_is_one_versions_histograms_over_the_window(
    prometheus: PrometheusServer,
) -> None:
    """The judge's warm-up: the champion's buckets over the minutes before the analysis;
    counters are ignored, and a version without series gives nothing rather than zeros."""
    client = PrometheusClient(prometheus.url)
    metrics = expand(
        [
            AnalysisMetric(name="latency", preset="vllm-latency"),
            AnalysisMetric(name="errors", preset="vllm-errors"),
        ]
    )
    history = await client.read_history(
        metrics, "model_version", "v1", T0, T0 + timedelta(minutes=2)
    )
    assert set(history) == {"latency_e2e"}
    assert history["latency_e2e"].champion_counts == [120, 60, 20]
    assert history["latency_e2e"].challenger_counts == []
    assert history["latency_e2e"].champion_sum == pytest.approx(80.0)
    assert history["latency_e2e"].champion_windows == []  # no step: no per-interval read
    # Per analysis interval, for the mean test's spread: (requests, _sum) in each step; v2
    # restarted at minute 2, so its second step counts from zero.
    stepped = await client.read_history(
        metrics, "model_version", "v1", T0, T0 + timedelta(minutes=2), step=timedelta(minutes=1)
    )
    assert stepped["latency_e2e"].champion_windows == [
        (100.0, pytest.approx(40.0)),
        (100.0, pytest.approx(40.0)),
    ]
    restarted = await client.read_history(
        metrics, "model_version", "v2", T0, T0 + timedelta(minutes=2), step=timedelta(minutes=1)
    )
    assert restarted["latency_e2e"].champion_windows == [
        (50.0, pytest.approx(20.0)),
        (30.0, pytest.approx(12.0)),
    ]
    assert (
        await client.read_history(metrics, "model_version", "v9", T0, T0 + timedelta(minutes=2))
        == {}
    )


async def test_missing_series_is_no_data_and_down_is_unavailable(
    prometheus: PrometheusServer,
) -> None:
    client = PrometheusClient(prometheus.url)
    errors = expand([AnalysisMetric(name="errors", preset="vllm-errors")])
    obs = await client.read_interval(
        errors, "model_version", "v1", "v9", T0, T0 + timedelta(minutes=1)
    )
    assert obs["errors"] is None
    down = PrometheusClient("http://127.0.0.1:9")
    with pytest.raises(PrometheusUnavailable, match="did not answer"):
        await down.read_interval(errors, "model_version", "v1", "v2", T0, T0 + timedelta(minutes=1))


async def test_gpupool_shows_mean_utilisation_and_stranded_gpus(
    prometheus: PrometheusServer, apiserver
) -> None:  # type: ignore[no-untyped-def]
    from champion.adapters.kube import connect, resource_for
    from champion.reconcile.gpupool import reconcile_gpupool

    apiserver.seed({"apiVersion": "champion.dev/v1alpha1", "kind": "GPUPool", "metadata": {"name": "h100"},
                    "spec": {"utilization": {"query": "DCGM_FI_DEV_GPU_UTIL", "strandedBelowPercent": 10}}})  # fmt: skip
    # Its four GPUs are allocated to a pod: stranded GPUs are allocated ones sitting idle.
    apiserver.seed({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "gpu-node-1"},
                    "status": {"allocatable": {"nvidia.com/gpu": "4"}, "conditions": [{"type": "Ready", "status": "True"}]}})  # fmt: skip
    apiserver.seed({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "llm", "namespace": "default"},
                    "spec": {"nodeName": "gpu-node-1", "containers": [{"name": "c", "resources": {"limits": {"nvidia.com/gpu": "4"}}}]},
                    "status": {"phase": "Running"}})  # fmt: skip
    api = await connect(str(apiserver.kubeconfig))
    try:
        pool = resource_for("champion.dev/v1alpha1", "GPUPool")
        await reconcile_gpupool(
            api,
            await api.get(pool, "h100"),
            T0 + timedelta(minutes=2),
            PrometheusClient(prometheus.url),
        )
        status = (await api.get(pool, "h100"))["status"]
    finally:
        await api.close()
    assert status.get("utilizationPercent") == 44.25, status["conditions"]  # (80 + 5 + 90 + 2) / 4
    assert status["strandedGPUs"] == 2  # 5% and 2% are under the 10% threshold


async def test_a_failed_range_read_costs_only_the_spread(
    prometheus: PrometheusServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = PrometheusClient(prometheus.url)

    async def refuse(*args: object, **kwargs: object) -> list[tuple[float, float]]:
        raise PrometheusUnavailable("too many points")

    monkeypatch.setattr(client, "windows", refuse)
    metrics = expand([AnalysisMetric(name="latency", preset="vllm-latency")])
    history = await client.read_history(
        metrics, "model_version", "v1", T0, T0 + timedelta(minutes=2), step=timedelta(seconds=1)
    )
    assert history["latency_e2e"].champion_counts == [120, 60, 20]  # the edges' totals
    assert history["latency_e2e"].champion_sum == pytest.approx(80.0)
    assert history["latency_e2e"].champion_windows == []
