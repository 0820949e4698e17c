"""Every scorer against hand-computed expectations (pure)."""

from __future__ import annotations

import pytest

from champion.api.v1alpha1.evalsuite import Scorer
from champion.domain.evals.scorers import ScorerUnavailable, score
from champion.domain.evals.summary import CaseResult, compare


@pytest.mark.parametrize(
    ("scorer", "answer", "reference", "expected"),
    [
        ({"type": "exact"}, "Two.", "two", 1.0),
        ({"type": "exact"}, "Humans have two legs.", "two", 0.0),
        ({"type": "contains"}, "Humans have two legs.", "two", 1.0),
        ({"type": "contains"}, "Humans have 2 legs.", "two", 1.0),
        ({"type": "contains"}, "Humans have three legs.", "two", 0.0),
        ({"type": "regex", "pattern": r"\b30 days\b"}, "You have 30 days.", None, 1.0),
        ({"type": "regex", "pattern": r"\b30 days\b"}, "You have a month.", None, 0.0),
        (
            {"type": "json_schema", "jsonSchema": {"type": "object", "required": ["label"]}},
            '{"label": "spam"}',
            None,
            1.0,
        ),
        (
            {"type": "json_schema", "jsonSchema": {"type": "object", "required": ["label"]}},
            "spam",
            None,
            0.0,
        ),
        ({"type": "numeric", "tolerance": 0.5}, "about 41.7", "42", 1.0),
        ({"type": "numeric", "tolerance": 0.5}, "about 40", "42", 0.0),
    ],
)
def test_scorers(scorer: dict, answer: str, reference: str | None, expected: float) -> None:
    assert score(answer, reference, Scorer.model_validate(scorer)) == expected


def test_similarity_without_the_extra_says_which_extra() -> None:
    with pytest.raises(ScorerUnavailable, match=r"champion\[similarity\]"):
        score("a", "b", Scorer.model_validate({"type": "similarity"}), embed=None)


def test_similarity_with_an_embedder() -> None:
    embed = lambda texts: [[1.0, 0.0] if "two" in t or "2" in t else [0.0, 1.0] for t in texts]  # noqa: E731
    assert (
        score(
            "Humans have 2 legs",
            "two",
            Scorer.model_validate({"type": "similarity", "threshold": 0.9}),
            embed,
        )
        == 1.0
    )


def test_paired_comparison_is_a_sign_test_on_discordant_cases() -> None:
    champ = [CaseResult(str(i), [], True, 1.0) for i in range(100)]
    chall = [CaseResult(str(i), [], i >= 10, 0.0 if i < 10 else 1.0) for i in range(100)]
    cmp = compare(chall, champ, max_regression=0.05)
    assert (cmp.wins, cmp.losses, cmp.ties) == (0, 10, 90)
    assert cmp.p_value == pytest.approx(0.5**10)
    assert cmp.regressed and "p=0.000977" in cmp.message
