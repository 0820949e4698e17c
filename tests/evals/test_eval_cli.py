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


def spec_file(tmp_path: Path, spec: dict[str, Any]) -> Path:
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump({"spec": spec}))
    return path


async def invoke(*args: str) -> Any:
    return await asyncio.to_thread(CliRunner().invoke, app, ["eval", "run", *args])


async def test_an_empty_suite_is_bad_input_exit_2_not_a_failed_run(tmp_path: Path) -> None:
    path = spec_file(tmp_path, {"cases": {"inline": []}, "scorers": [{"type": "exact"}]})
    result = await invoke("--suite", str(path), "--endpoint", "http://127.0.0.1:9")
    assert result.exit_code == 2, result.output
    assert "spec.cases.inline" in result.output and "at least one case" in result.output
    assert "score 0.000" not in result.output


async def test_an_empty_case_file_over_https_is_exit_2(tmp_path: Path) -> None:
    import hashlib

    from aiohttp import web

    async def empty_file(_: web.Request) -> web.Response:
        return web.Response(text="\n")

    app_ = web.Application()
    app_.router.add_get("/cases.jsonl", empty_file)
    runner = web.AppRunner(app_, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        digest = "sha256:" + hashlib.sha256(b"\n").hexdigest()
        url = {"url": f"http://127.0.0.1:{port}/cases.jsonl", "sha256": digest}
        path = spec_file(tmp_path, {"cases": {"url": url}, "scorers": [{"type": "exact"}]})
        result = await invoke("--suite", str(path), "--endpoint", "http://127.0.0.1:9")
        assert result.exit_code == 2, result.output
        assert "spec.cases.url" in result.output and "no cases" in result.output
    finally:
        await runner.cleanup()


async def test_repeated_case_ids_are_exit_2_naming_them(tmp_path: Path) -> None:
    cases = [{"id": i, "input": {"prompt": "x"}, "reference": "1"} for i in ("a", "b", "a")]
    path = spec_file(tmp_path, {"cases": {"inline": cases}, "scorers": [{"type": "exact"}]})
    result = await invoke("--suite", str(path), "--endpoint", "http://127.0.0.1:9")
    assert result.exit_code == 2, result.output
    assert '"a" (2 times)' in result.output


async def test_a_regex_that_does_not_compile_is_exit_2_not_a_crash(tmp_path: Path) -> None:
    cases = [{"id": "a", "input": {"prompt": "x"}, "reference": "1"}]
    scorers = [{"type": "regex", "pattern": "[0-9"}]
    path = spec_file(tmp_path, {"cases": {"inline": cases}, "scorers": scorers})
    result = await invoke("--suite", str(path), "--endpoint", "http://127.0.0.1:9")
    assert result.exit_code == 2, result.output
    assert "spec.scorers[0].pattern" in result.output
    assert "unterminated character set" in result.output


async def test_failing_cases_carry_the_answer_and_the_reference_truncated(tmp_path: Path) -> None:
    long = "I think " + "very " * 400 + "much 7"

    def answers(q: str) -> tuple[int, Any]:
        n = number(q)
        return 200, long if n == 1 else str(n + 1 if n == 2 else n)

    runner, url = await serve(answers)
    try:
        code, out = await cli(
            "--suite", str(suite(tmp_path, 3, [{"type": "exact"}])), "--endpoint", url
        )
    finally:
        await runner.cleanup()
    assert code == 1 and isinstance(out, dict)
    by_id = {c["id"]: c for c in out["cases"]}
    assert out["failing_cases"] == ["q0", "q1"]
    assert by_id["q0"]["reference"] == "1"
    assert by_id["q0"]["answer"].startswith("I think very very") and len(long) > 2000
    assert by_id["q0"]["answer"].endswith(f"… ({len(long) - 500} more characters)")
    assert len(by_id["q0"]["answer"]) < 540
    assert (by_id["q1"]["answer"], by_id["q1"]["reference"]) == ("3", "2")
    assert "answer" not in by_id["q2"] and "reference" not in by_id["q2"]


async def test_an_in_cluster_suite_reads_its_configmap_cases(
    apiserver: Any, tmp_path: Path
) -> None:
    """`--suite-ref` (how eval Jobs run): ConfigMap cases are read with the Job's credentials;
    an empty case file there is bad input too."""
    from champion.adapters.kube import connect, resource_for

    api = await connect(str(apiserver.kubeconfig))
    runner, url = await serve(lambda q: (200, str(number(q))))
    try:
        await api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "demo"}})
        lines = [
            json.dumps({"id": f"q{i}", "input": {"messages": [{"role": "user",
                        "content": f"what is {i}+1?"}]}, "reference": str(i + 1)})
            for i in range(3)
        ]  # fmt: skip
        for name, text in (("cases", "\n".join(lines)), ("empty", "")):
            await api.create(
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": name, "namespace": "demo"},
                    "data": {"cases.jsonl": text},
                }
            )
            await api.create(
                {
                    "apiVersion": "champion.dev/v1alpha1",
                    "kind": "EvalSuite",
                    "metadata": {"name": name, "namespace": "demo"},
                    "spec": {
                        "cases": {"configMap": {"name": name, "key": "cases.jsonl"}},
                        "scorers": [{"type": "exact"}],
                    },
                }
            )
        kc = str(apiserver.kubeconfig)
        code, out = await cli(
            "--suite-ref", "demo/cases", "--kubeconfig", kc, "--endpoint", url,
            "--output-configmap", "demo/result",
        )  # fmt: skip
        assert code == 0 and isinstance(out, dict) and out["score"] == 1.0, out
        written = await api.get(resource_for("v1", "ConfigMap"), "result", "demo")
        assert written is not None and json.loads(written["data"]["result.json"])["passed"]
        empty = await invoke("--suite-ref", "demo/empty", "--kubeconfig", kc, "--endpoint", url)
        assert empty.exit_code == 2, empty.output
        assert 'ConfigMap "empty" key "cases.jsonl"' in empty.output
        assert "no cases" in empty.output
    finally:
        await runner.cleanup()
        await api.close()
