"""The llm_judge scorer's I/O: one chat completion per graded answer.

The API key comes from the environment, never from the suite file: in the cluster the
eval Job maps the scorer's `apiKeySecret` to `CHAMPION_LLM_JUDGE_API_KEY_<n>` (n = the
scorer's index); locally `CHAMPION_LLM_JUDGE_API_KEY` serves every llm_judge scorer.
"""

from __future__ import annotations

import os
from typing import Any

import httpx

from champion.api.v1alpha1.evalsuite import Scorer
from champion.domain.evals.llm_judge import grading_messages, parse_grade

KEY_ENV = "CHAMPION_LLM_JUDGE_API_KEY"


def key_env(index: int) -> str:
    return f"{KEY_ENV}_{index}"


def api_key(index: int) -> str | None:
    return os.environ.get(key_env(index)) or os.environ.get(KEY_ENV) or None


class JudgeUnavailable(Exception):
    """The judge endpoint did not give a grade (down, 4xx/5xx, or not OpenAI-shaped)."""


async def grade(
    client: httpx.AsyncClient,
    scorer: Scorer,
    index: int,
    question: Any,
    reference: Any,
    answer: str,
) -> float:
    """Asks the judge model to grade one answer; a score in [0, 1]."""
    headers = {"content-type": "application/json"}
    key = api_key(index)
    if key:
        headers["authorization"] = f"Bearer {key}"
    body = {
        "model": scorer.judge_model,
        "messages": grading_messages(scorer.rubric, question, reference, answer),
        "temperature": 0,
        "max_tokens": 200,
    }
    url = (scorer.endpoint or "").rstrip("/")
    url = url if url.endswith("/chat/completions") else url + "/v1/chat/completions"
    try:
        resp = await client.post(url, json=body, headers=headers)
    except httpx.HTTPError as exc:
        raise JudgeUnavailable(f"llm_judge endpoint unreachable: {exc.__class__.__name__}") from exc
    if resp.status_code >= 400:
        # The body may echo the request; the status is enough and cannot leak the key.
        raise JudgeUnavailable(f"llm_judge endpoint answered HTTP {resp.status_code}")
    try:
        reply = resp.json()["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise JudgeUnavailable(
            "llm_judge endpoint's reply is not an OpenAI chat completion"
        ) from exc
    return parse_grade(str(reply))
