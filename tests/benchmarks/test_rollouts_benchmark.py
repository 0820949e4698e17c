"""The scale benchmark's machinery on 5 Rollouts: every one completes and the numbers are sane."""

from __future__ import annotations

import pytest
from benchmarks.rollouts.__main__ import run

pytestmark = pytest.mark.slow


async def test_five_rollouts_all_complete() -> None:
    r = await run(5)
    assert r["completed"] == 5
    assert 3 <= r["transitions"] / 5 <= 6  # Pending, step 1, step 2, promoted (+ final look)
    assert r["requests_per_transition"] < 100
