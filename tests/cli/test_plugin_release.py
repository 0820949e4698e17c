"""The plugin's reading of a Rollout: when a release has ended, and what an action needs."""

from __future__ import annotations

from typing import Any

import pytest

from champion.cli import plugin_release as rel


def _ro(status: dict[str, Any], target: str = "v2", generation: int = 2, **meta: Any) -> Any:
    return {
        "metadata": {"name": "chat", "namespace": "demo", "generation": generation, **meta},
        "spec": {"modelVersion": target, "strategy": {"canary": {"steps": [{}, {}, {}]}}},
        "status": {"observedGeneration": 2, **status},
    }


def test_a_succeeded_before_the_operator_saw_the_spec_is_not_the_end() -> None:
    stale = _ro({"phase": "Succeeded", "champion": "v1", "observedGeneration": 1})
    assert rel.outcome(stale) is None
    done = rel.outcome(_ro({"phase": "Succeeded", "champion": "v2"}))
    assert done is not None and done.code == 0


def test_going_back_to_the_champion_is_not_a_failure() -> None:
    # spec.modelVersion back to the champion: Aborted (Superseded), then Succeeded.
    assert rel.outcome(_ro({"phase": "Aborted", "champion": "v2", "challenger": "v3"})) is None
    failed = rel.outcome(_ro({"phase": "RolledBack", "champion": "v1", "challenger": "v2"}))
    assert failed is not None and failed.code == 1 and failed.ending == rel.Ending.ROLLED_BACK


@pytest.mark.parametrize(
    ("step", "label"), [(None, "-"), (-1, "-"), (0, "1/3"), (2, "3/3"), ("2/3", "2/3")]
)
def test_step_is_numbered_as_in_the_messages(step: Any, label: str) -> None:
    assert rel.step_label(_ro({"phase": "Canary", "step": step})) == label


def test_handling_reads_handled_actions_and_removed_annotations() -> None:
    live = _ro({"handledActions": {}}, annotations={"champion.dev/abort": "t1"})
    assert rel.handling(live, "abort", "t1") is rel.Handling.PENDING
    done = _ro({"handledActions": {"abort": "t1"}}, annotations={"champion.dev/abort": "t1"})
    assert rel.handling(done, "abort", "t1") is rel.Handling.HANDLED
    assert rel.handling(_ro({}), "abort", "t1") is rel.Handling.HANDLED  # removed once handled
    other = _ro({}, annotations={"champion.dev/abort": "t2"})
    assert rel.handling(other, "abort", "t1") is rel.Handling.SUPERSEDED


def test_refusals() -> None:
    assert rel.refusal("abort", _ro({"phase": "Canary"})) is None
    assert rel.refusal("abort", _ro({})) is None  # not reconciled yet: the operator decides
    assert "nothing to retry" in (rel.refusal("retry", _ro({"phase": "Canary"})) or "")
    assert "already the champion" in (
        rel.refusal("retry", _ro({"phase": "RolledBack", "champion": "v2"})) or ""
    )
    assert "nothing to pause" in (rel.refusal("pause", _ro({"phase": "Paused"})) or "")
    # A pause not yet handled can be cancelled by resume.
    pending = _ro({"phase": "Canary"}, annotations={"champion.dev/pause": "true"})
    assert rel.refusal("resume", pending) is None


def test_overshot() -> None:
    before = _ro({"phase": "Canary", "step": 0})
    after = _ro({"phase": "Succeeded", "champion": "v2"})
    assert rel.overshot(before, after)
    assert not rel.overshot(_ro({"phase": "Canary", "step": 2}), after)  # the last step
    assert not rel.overshot(before, _ro({"phase": "Canary", "step": 1}))
