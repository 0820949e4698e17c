"""The llm_judge scorer against a judge model served by a local OpenAI-compatible server."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from champion.builders.eval_job import llm_judge_env
from champion.domain.evals.llm_judge import MalformedGrade, grading_messages, parse_grade
from tests.evals.fake_openai import serve, start
from tests.evals.test_eval_cli import cli, number, suite

KEY = "sk-test-not-a-real-key-0123456789"


async def judge_server(
    seen: list[dict[str, Any]], reply: str | None = None
) -> tuple[web.AppRunner, str]:
    """Grades 9 when the answer contains the reference's number, 2 otherwise; records requests."""

    async def chat(request: web.Request) -> web.Response:
        body = await request.json()
        seen.append({"auth": request.headers.get("authorization"), "body": body})
        user = body["messages"][-1]["content"]
        reference = re.search(r"Reference answer:\n(.*)\n", user).group(1)  # type: ignore[union-attr]
        graded = user.split("Answer to grade:\n", 1)[1]
        content = reply or ("Correct.\nSCORE: 9" if reference in graded else "Wrong.\nSCORE: 2")
        return web.json_response(
            {"choices": [{"message": {"role": "assistant", "content": content}}]}
        )

    return await start(chat)


def judged(tmp_path: Path, n: int, judge_url: str, **extra: Any) -> Path:
    scorer = {
        "type": "llm_judge",
        "endpoint": judge_url,
        "judgeModel": "grader-1",
        "rubric": "Is the number right? Verbosity is fine.",
        "apiKeySecret": {"name": "judge", "key": "token"},
        **extra,
    }
    return suite(tmp_path, n, [scorer], minScore=0.8)


async def test_a_verbose_correct_answer_is_graded_by_the_judge_with_the_key_from_the_secret_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHAMPION_LLM_JUDGE_API_KEY_0", KEY)
    seen: list[dict[str, Any]] = []
    judge, judge_url = await judge_server(seen)
    # Every fourth answer is wrong: graded 0.2, the rest 0.9.
    model, url = await serve(
        lambda q: (200, f"Let me think: it is {number(q) + (5 if number(q) % 4 == 0 else 0)}.")
    )
    try:
        code, out = await cli("--suite", str(judged(tmp_path, 8, judge_url)), "--endpoint", url)
        assert isinstance(out, dict), out
        scores = {c["id"]: c["scores"]["llm_judge"] for c in out["cases"]}
        assert scores == {f"q{i}": (0.2 if (i + 1) % 4 == 0 else 0.9) for i in range(8)}
        assert out["score"] == pytest.approx((6 * 0.9 + 2 * 0.2) / 8)
        assert code == 0 if out["score"] >= 0.8 else code == 1
        assert {s["auth"] for s in seen} == {f"Bearer {KEY}"}
        assert {s["body"]["model"] for s in seen} == {"grader-1"}
        assert "Verbosity is fine." in seen[0]["body"]["messages"][0]["content"]
        assert KEY not in str(out)
    finally:
        await judge.cleanup()
        await model.cleanup()


async def test_a_judge_that_is_down_or_ungraded_is_a_per_case_error(tmp_path: Path) -> None:
    model, url = await serve(lambda q: (200, str(number(q))))
    seen: list[dict[str, Any]] = []
    judge, judge_url = await judge_server(seen, reply="I refuse to grade.")
    try:
        _, out = await cli("--suite", str(judged(tmp_path, 2, judge_url)), "--endpoint", url)
        assert isinstance(out, dict)
        assert all("no 'SCORE: n' line" in c["error"] for c in out["cases"])
        assert not out["passed"]
        _, out = await cli(
            "--suite", str(judged(tmp_path, 2, "http://127.0.0.1:9")), "--endpoint", url
        )
        assert isinstance(out, dict)
        assert all(c["error"].startswith("llm_judge endpoint unreachable") for c in out["cases"])
    finally:
        await judge.cleanup()
        await model.cleanup()


def test_grades_are_read_from_the_last_score_line_and_checked() -> None:
    assert parse_grade("The first draft said SCORE: 3, but on reflection\nSCORE: 7") == 0.7
    assert parse_grade("score: 10/10") == 1.0
    with pytest.raises(MalformedGrade, match="outside 0-10"):
        parse_grade("SCORE: 12")
    with pytest.raises(MalformedGrade, match="no 'SCORE: n' line"):
        parse_grade("looks good to me")
    messages = grading_messages(None, "How many legs do humans have?", "2", "Two, usually.")
    assert "longer answer that is correct" in messages[0]["content"]
    assert "Answer to grade:\nTwo, usually." in messages[1]["content"]


def test_the_eval_job_maps_each_judge_secret_to_its_own_env_var() -> None:
    from champion.api.v1alpha1.evalsuite import EvalSuiteSpec

    spec = EvalSuiteSpec.model_validate(
        {
            "cases": {"inline": [{"id": "a", "input": {"prompt": "x"}}]},
            "scorers": [
                {"type": "exact"},
                {
                    "type": "llm_judge",
                    "endpoint": "https://judge.example.com",
                    "apiKeySecret": {"name": "judge", "key": "token"},
                },
            ],
        }
    )
    assert llm_judge_env(spec) == [
        {
            "name": "CHAMPION_LLM_JUDGE_API_KEY_1",
            "valueFrom": {"secretKeyRef": {"name": "judge", "key": "token"}},
        }
    ]
