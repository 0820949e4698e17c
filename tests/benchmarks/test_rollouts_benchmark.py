"""The scale benchmark's machinery on 5 Rollouts on the real control plane: every one completes
and the numbers are sane."""

from __future__ import annotations

import pytest
from benchmarks.rollouts.__main__ import run

pytestmark = pytest.mark.slow


async def test_five_rollouts_all_complete() -> None:
    r = await run(5)
    assert r["api_server"] == "kube-apiserver v1.36.3"
    assert r["completed"] == 5
    assert 3 <= r["transitions"] / 5 <= 6  # Pending, step 1, step 2, promoted (+ final look)
    # Counted from the real API server's audit log: the operator's ServiceAccount's requests.
    assert r["api_requests"] > 0
    assert r["api_requests"] == sum(r["api_requests_by_verb"].values())
    assert r["requests_per_transition"] < 100
    assert r["operator_cpu_seconds"] > 0
    assert r["operator_peak_rss_mib"] > 0
