"""Pure: whether an EvalSuite can be scored at all, as (reason, message) problems.

A suite with no cases, with case ids that repeat (results are paired with the champion's
by id), or with a scorer whose regex or JSON Schema does not compile would fail every
challenger for a reason that is not the challenger's. The EvalSuite reconciler reports
these as Valid=False; `champion eval run` refuses them as bad input (exit 2).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence

import jsonschema
from pydantic import ValidationError

from champion.api.v1alpha1 import reasons
from champion.api.v1alpha1.evalsuite import EvalCase, Scorer, ScorerType
from champion.domain.spec_errors import describe

Problem = tuple[str, str]
SHOWN = 10
"""At most this many repeated ids or unreadable lines are named in one message."""


def _clip(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def case_problems(cases: Sequence[EvalCase], where: str) -> list[Problem]:
    """An empty list, or ids that repeat; `where` names the source (`spec.cases.inline`)."""
    if not cases:
        return [
            (
                reasons.NO_CASES,
                f"{where} has no cases: list at least one case (an empty suite fails every "
                "challenger with score 0)",
            )
        ]
    return duplicate_problems((c.id for c in cases), where)


def duplicate_problems(ids: Iterable[str], where: str) -> list[Problem]:
    repeated = [(i, n) for i, n in Counter(ids).items() if n > 1]
    if not repeated:
        return []
    named = ", ".join(f'"{_clip(i, 80)}" ({n} times)' for i, n in repeated[:SHOWN])
    more = f" and {len(repeated) - SHOWN} more" if len(repeated) > SHOWN else ""
    return [
        (
            reasons.DUPLICATE_CASE_IDS,
            f"{where}: case ids repeat: {named}{more}; give each case its own id (results are "
            "paired with the champion's by id)",
        )
    ]


def scorer_problems(scorers: Sequence[Scorer]) -> list[Problem]:
    """Regexes (Python `re`, as the runner uses them) and JSON Schemas that do not compile."""
    problems: list[Problem] = []
    for i, scorer in enumerate(scorers):
        if scorer.type == ScorerType.REGEX and scorer.pattern is not None:
            try:
                re.compile(scorer.pattern)
            except re.error as exc:
                problems.append(
                    (
                        reasons.INVALID_REGEX,
                        f"spec.scorers[{i}].pattern: {_clip(scorer.pattern)!r} does not compile: "
                        f"{exc} (Python regular expression syntax)",
                    )
                )
        if scorer.type == ScorerType.JSON_SCHEMA and scorer.json_schema is not None:
            try:
                jsonschema.validators.validator_for(scorer.json_schema).check_schema(
                    scorer.json_schema
                )
            except jsonschema.SchemaError as exc:
                path = "".join(f"[{p!r}]" for p in exc.path)
                problems.append(
                    (
                        reasons.INVALID_JSON_SCHEMA,
                        f"spec.scorers[{i}].jsonSchema{path}: not a valid JSON Schema: "
                        f"{_clip(exc.message, 200)}",
                    )
                )
    return problems


def parse_cases(text: str, where: str) -> tuple[list[EvalCase], list[Problem]]:
    """JSONL (one case per line, blank lines skipped) -> the cases, and what is wrong with them:
    unreadable lines first (each named by its line number), else an empty file or repeated ids."""
    cases: list[EvalCase] = []
    bad: list[str] = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            cases.append(EvalCase.model_validate(json.loads(line)))
        except ValidationError as exc:
            bad.append(f"line {n}: {describe(exc, 'case')}")
        except ValueError as exc:
            bad.append(f"line {n}: not JSON: {exc}")
    if bad:
        more = f"; and {len(bad) - SHOWN} more lines" if len(bad) > SHOWN else ""
        shown = "; ".join(_clip(b, 200) for b in bad[:SHOWN])
        return cases, [(reasons.INVALID_CASES, f"{where}: {shown}{more}")]
    return cases, case_problems(cases, where)
