"""Scorers: (answer text, case reference, scorer spec) -> score in [0, 1]. Pure."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any

import jsonschema

from champion.api.v1alpha1.evalsuite import Scorer, ScorerType

Embed = Callable[[list[str]], list[list[float]]]
NUMBER = re.compile(r"-?\d+(?:[.,]\d+)?")
WORDS = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
}


class ScorerUnavailable(Exception):
    """A scorer that cannot run here (e.g. the similarity extra is not installed)."""


def _norm(text: str) -> str:
    return " ".join(text.lower().strip().rstrip(".!").split())


def _reference_text(reference: Any) -> str:
    return reference if isinstance(reference, str) else json.dumps(reference)


def _numbers(text: str) -> list[float]:
    found = [float(n.replace(",", ".")) for n in NUMBER.findall(text)]
    found += [float(WORDS[w]) for w in re.findall(r"[a-z]+", text.lower()) if w in WORDS]
    return found


def cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    na, nb = math.sqrt(sum(x * x for x in a)), math.sqrt(sum(y * y for y in b))
    return dot / (na * nb) if na and nb else 0.0


def score(answer: str, reference: Any, scorer: Scorer, embed: Embed | None = None) -> float:
    kind = scorer.type
    ref = _reference_text(reference) if reference is not None else ""
    if kind == ScorerType.EXACT:
        return float(_norm(answer) == _norm(ref))
    if kind == ScorerType.CONTAINS:
        if _norm(ref) in _norm(answer):
            return 1.0
        # "two" and "2" are the same answer.
        ref_numbers = _numbers(ref)
        return float(bool(ref_numbers) and all(n in _numbers(answer) for n in ref_numbers))
    if kind == ScorerType.REGEX:
        return float(re.search(scorer.pattern or "", answer) is not None)
    if kind == ScorerType.JSON_SCHEMA:
        try:
            jsonschema.validate(json.loads(answer), scorer.json_schema or {})
        except (ValueError, jsonschema.ValidationError):
            return 0.0
        return 1.0
    if kind == ScorerType.NUMERIC:
        wanted = _numbers(ref)
        got = _numbers(answer)
        if not wanted or not got:
            return 0.0
        return float(any(abs(g - wanted[0]) <= scorer.tolerance for g in got))
    if kind == ScorerType.SIMILARITY:
        if embed is None:
            raise ScorerUnavailable(
                "the similarity scorer needs the `similarity` extra: pip install 'champion[similarity]'"
            )
        a, b = embed([answer, ref])
        return float(cosine(a, b) >= scorer.threshold)
    raise ScorerUnavailable(f"scorer {kind} runs through an endpoint, not here")
