"""The llm_judge scorer's pure half: the grading prompt and reading the grade back.

The judge model answers with a line `SCORE: n` (0-10); anything else is a malformed
grade, counted as the case's error rather than guessed at.
"""

from __future__ import annotations

import json
import re
from typing import Any

GRADE = re.compile(r"SCORE:\s*(\d+(?:\.\d+)?)\s*(?:/\s*10)?", re.IGNORECASE)
DEFAULT_RUBRIC = (
    "Grade whether the answer is correct and helpful for the question. A longer answer that "
    "is correct is as good as a short one; a wrong or evasive answer scores low."
)


class MalformedGrade(ValueError):
    """The judge's reply holds no `SCORE: n` line in 0-10."""


def _text(value: Any) -> str:
    if value is None:
        return "(none)"
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def grading_messages(
    rubric: str | None, question: Any, reference: Any, answer: str
) -> list[dict[str, str]]:
    """Chat messages asking the judge model for a 0-10 grade of one answer."""
    system = (
        "You are a strict evaluator of a model's answers. "
        f"Rubric: {rubric or DEFAULT_RUBRIC}\n"
        "Reply with one short sentence of justification, then a last line exactly of the form "
        "`SCORE: n` where n is an integer from 0 (fails the rubric) to 10 (fully meets it)."
    )
    user = (
        f"Question:\n{_text(question)}\n\nReference answer:\n{_text(reference)}\n\n"
        f"Answer to grade:\n{answer}"
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def parse_grade(reply: str) -> float:
    """The judge's `SCORE: n` (the last one, if it wrote several) as a score in [0, 1]."""
    found = GRADE.findall(reply)
    if not found:
        raise MalformedGrade(f"llm_judge reply has no 'SCORE: n' line: {reply[:120]!r}")
    value = float(found[-1])
    if not 0 <= value <= 10:
        raise MalformedGrade(f"llm_judge grade {value:g} is outside 0-10")
    return value / 10.0
