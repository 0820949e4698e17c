"""The benchmark's machinery on a tiny config, so CI exercises what the README's table comes from."""

from __future__ import annotations

from benchmarks.judge.__main__ import run


def test_quick_benchmark_rows_show_no_false_rollbacks_and_a_detection() -> None:
    rows = run(runs=20, rps_list=[100.0], horizon=300, interval=10, seed=1)
    champion = {r["scenario"]: r for r in rows if r["method"] == "Champion judge"}
    assert champion["A/A identical"]["rate"] <= 0.1
    assert champion["errors 1% -> 3%"]["rate"] >= 0.9
    assert champion["latency +50%"]["median"] is not None
