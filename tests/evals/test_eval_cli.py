"""`champion eval run` against a local OpenAI-compatible server: outcomes a user relies on."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner

from champion.cli.main import app
from tests.evals.fake_openai import serve


def suite(tmp_path: Path, n: int, scorers: list[dict[str, Any]], **thresholds: Any) -> Path:
    cases = [
        {
            "id": f"q{i}",
            "input": {"messages": [{"role": "user", "content": f"what is {i}+1?"}]},
            "reference": str(i + 1),
            "tags": ["even" if i % 2 == 0 else "odd"],
        }
        for i in range(n)
    ]
    doc = {
        "apiVersion": "champion.dev/v1alpha1",
        "kind": "EvalSuite",
        "metadata": {"name": "s"},
        "spec": {
            "cases": {"inline": cases},
            "scorers": scorers,
            "thresholds": {"minScore": 0.9, **thresholds},
            "concurrency": 8,
            "timeoutSeconds": 2,
            "retries": 0,
        },
    }
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def number(question: str) -> int:
    return int(question.split()[2].split("+")[0]) + 1


async def cli(*args: str) -> tuple[int, dict[str, Any] | str]:
    result = await asyncio.to_thread(
        CliRunner().invoke, app, ["eval", "run", *args, "--format", "json"]
    )
    try:
        return result.exit_code, json.loads(result.stdout)
    except ValueError:
        return result.exit_code, result.output


async def test_verbose_but_correct_passes_contains_and_fails_exact(tmp_path: Path) -> None:
    runner, url = await serve(lambda q: (200, f"The answer is {number(q)}, of course."))
    try:
        code, out = await cli(
            "--suite", str(suite(tmp_path, 10, [{"type": "contains"}])), "--endpoint", url
        )
        assert code == 0 and isinstance(out, dict) and out["passed"] and out["score"] == 1.0
        code, out = await cli(
            "--suite", str(suite(tmp_path, 10, [{"type": "exact"}])), "--endpoint", url
        )
        assert code == 1 and isinstance(out, dict) and out["score"] == 0.0
        assert out["slices"] == {"even": 0.0, "odd": 0.0} and out["reasons"]
    finally:
        await runner.cleanup()


async def test_ten_percent_wrong_fails_the_no_worse_than_champion_gate(tmp_path: Path) -> None:
    good, good_url = await serve(lambda q: (200, str(number(q))))
    bad, bad_url = await serve(lambda q: (200, str(number(q) + (1 if number(q) % 10 == 0 else 0))))
    try:
        path = suite(tmp_path, 100, [{"type": "exact"}], minScore=0.5, maxRegressionVsChampion=0.05)
        code, out = await cli(
            "--suite", str(path), "--endpoint", bad_url, "--baseline-endpoint", good_url
        )
        assert code == 1 and isinstance(out, dict)
        cmp = out["comparison"]
        assert (cmp["wins"], cmp["losses"], cmp["ties"]) == (0, 10, 90)
        assert cmp["p_value"] < 0.01 and "sign test p=" in cmp["message"]
        assert any("worse than the champion" in r for r in out["reasons"])
        assert len(out["failing_cases"]) == 10
    finally:
        await good.cleanup()
        await bad.cleanup()


async def test_errors_are_per_case_results_not_crashes(tmp_path: Path) -> None:
    def flaky(q: str) -> tuple[int, Any]:
        n = number(q)
        if n == 1:
            return 500, None
        if n == 2:
            return 200, {"unexpected": True}
        if n == 3:
            return 599, None  # slower than the 2 s timeout
        return 200, str(n)

    runner, url = await serve(flaky)
    try:
        code, out = await cli(
            "--suite", str(suite(tmp_path, 6, [{"type": "exact"}])), "--endpoint", url
        )
        assert code == 1 and isinstance(out, dict)
        errors = {c["id"]: c["error"] for c in out["cases"] if c["error"]}
        assert errors["q0"] == "HTTP 500"
        assert "malformed openai-chat response" in errors["q1"]
        assert errors["q2"].startswith("timeout")
        assert out["errors"] == 3 and out["score"] == 0.5
    finally:
        await runner.cleanup()


async def test_an_endpoint_that_is_down_fails_with_that_reason(tmp_path: Path) -> None:
    code, out = await cli(
        "--suite", str(suite(tmp_path, 3, [{"type": "exact"}])), "--endpoint", "http://127.0.0.1:9"
    )
    assert code == 1 and isinstance(out, dict)
    assert out["reasons"][0].startswith("endpoint http://127.0.0.1:9 is down")


async def test_bad_suite_is_exit_2_naming_the_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        yaml.safe_dump({"spec": {"cases": {"inline": []}, "scorers": [{"type": "nope"}]}})
    )
    result = await asyncio.to_thread(
        CliRunner().invoke, app, ["eval", "run", "--suite", str(path), "--endpoint", "http://x"]
    )
    assert result.exit_code == 2
    assert "scorers" in result.output and "type" in result.output


async def test_a_thousand_cases_at_concurrency_32_finish_in_seconds() -> None:
    from benchmarks.eval.__main__ import measure

    elapsed, _ = await measure(1000, 32)
    assert elapsed < 20, elapsed
