"""The similarity scorer with the real all-MiniLM-L6-v2 from the `similarity` extra (offline)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from champion.adapters.evals.runner import similarity_embedder
from tests.evals.fake_openai import serve
from tests.evals.test_eval_cli import cli

pytestmark = pytest.mark.slow

CASES = [
    ("legs", "How many legs do humans have?", "Humans have two legs."),
    ("capital", "What is the capital of France?", "The capital of France is Paris."),
    ("water", "What is water made of?", "Water is made of hydrogen and oxygen."),
]
VERBOSE = {
    "How many legs do humans have?": "A human being normally has two legs, which they use to walk.",
    "What is the capital of France?": "Paris is the capital city of France, on the Seine.",
    "What is water made of?": "Each water molecule is made of two hydrogen atoms and one oxygen atom.",
}


def suite(tmp_path: Path, scorer: dict[str, Any]) -> Path:
    doc = {
        "spec": {
            "cases": {
                "inline": [
                    {
                        "id": i,
                        "input": {"messages": [{"role": "user", "content": q}]},
                        "reference": r,
                    }
                    for i, q, r in CASES
                ]
            },
            "scorers": [scorer],
            "thresholds": {"minScore": 0.9},
            "retries": 0,
        }
    }
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


async def score(tmp_path: Path, scorer: dict[str, Any], url: str) -> tuple[int, Any]:
    """`champion eval run` of the suite with this one scorer against `url`."""
    return await cli("--suite", str(suite(tmp_path, scorer)), "--endpoint", url)


def test_the_extra_loads_without_the_network() -> None:
    assert os.environ.get("HF_HUB_OFFLINE") in (None, "1")
    embed = similarity_embedder()
    assert embed is not None, "the similarity extra is part of the dev install (hack/bootstrap.sh)"
    a, b = embed(["Humans have two legs.", "The capital of France is Paris."])
    assert len(a) == 384 and len(b) == 384


async def test_a_verbose_correct_answer_passes_similarity_where_exact_fails(tmp_path: Path) -> None:
    runner, url = await serve(lambda q: (200, VERBOSE[q]))
    try:
        code, out = await score(tmp_path, {"type": "similarity", "threshold": 0.6}, url)
        assert isinstance(out, dict), out
        assert code == 0 and out["score"] == 1.0, out["cases"]
        code, out = await score(tmp_path, {"type": "exact"}, url)
        assert isinstance(out, dict) and code == 1 and out["score"] == 0.0
    finally:
        await runner.cleanup()


async def test_an_off_topic_answer_fails_similarity(tmp_path: Path) -> None:
    runner, url = await serve(lambda q: (200, "I like turtles and long walks on the beach."))
    try:
        code, out = await score(tmp_path, {"type": "similarity", "threshold": 0.6}, url)
        assert isinstance(out, dict) and code == 1 and out["score"] == 0.0, out
    finally:
        await runner.cleanup()
