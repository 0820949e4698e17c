"""Fuzz layer 0: every fuzzed document through the operator's own pure validators.

The cheapest layer: no API server. A validator may refuse a document (the operator turns
the message into Valid=False or Degraded=True), but must never raise, and its message must
name a field under `spec.`, since it is all a user sees of what to fix.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from tests.fuzz.oracle import validate
from tests.fuzz.strategies import Fuzzed, dotted, fuzzed

EXAMPLES = 1500


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(fuzzed("fuzz"))
def test_the_validators_refuse_or_accept_and_never_crash(case: Fuzzed) -> None:
    message = validate(case.kind, case.doc)
    if message is not None:
        assert message.startswith("spec"), message
        # It becomes a condition's message, which the API server caps at 32768 characters.
        assert len(message) <= 4096, (len(message), message[:200])
        spec_paths = tuple(dotted(p) for p in case.paths if p[0] == "spec")
        assert spec_paths, f"the unmutated parts were refused: {message}"


def test_a_huge_refused_value_is_quoted_short() -> None:
    from champion.api.v1alpha1.modelversion import ModelVersionSpec
    from champion.reconcile.spec_validity import parse_spec

    body = {"spec": {"model": {"uri": "s3://b/m", "format": "vllm", "digest": "a" * 70000},
                     "serving": {"image": "x"}}}  # fmt: skip
    _, message = parse_spec(ModelVersionSpec, body)
    assert message is not None and message.startswith("spec.model.digest: String should match")
    assert len(message) < 300
