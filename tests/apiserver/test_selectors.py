"""Label and field selectors, and how a selector-filtered watch sees objects come and go."""

from __future__ import annotations

from typing import Any

import pytest

from tests.emulator.apiserver.errors import ApiStatusError
from tests.emulator.apiserver.selectors import field_matcher, label_matcher
from tests.emulator.apiserver.store import transition

OBJS = [
    {"metadata": {"name": "1", "namespace": "a", "labels": {"app": "a", "tier": "web"}}},
    {"metadata": {"name": "2", "namespace": "b", "labels": {"app": "b", "tier": "db"}}},
    {"metadata": {"name": "3", "namespace": "b", "labels": {}}, "spec": {"nodeName": "n1"}},
]


def _select(match: Any) -> list[str]:
    return [o["metadata"]["name"] for o in OBJS if match(o)]


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("app=a", ["1"]),
        ("app==a", ["1"]),
        ("app!=a", ["2", "3"]),
        ("app in (a,b)", ["1", "2"]),
        ("app in (a, b)", ["1", "2"]),
        ("app notin (a)", ["2", "3"]),
        ("tier", ["1", "2"]),
        ("!tier", ["3"]),
        ("app=a,tier=web", ["1"]),
        ("app in (a,b),tier!=db", ["1"]),
        ("", ["1", "2", "3"]),
    ],
)
def test_label_selectors(selector: str, expected: list[str]) -> None:
    assert _select(label_matcher(selector)) == expected


def test_a_malformed_label_selector_is_a_bad_request() -> None:
    with pytest.raises(ApiStatusError) as exc:
        label_matcher("app in a")
    assert exc.value.code == 400


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("metadata.namespace=b", ["2", "3"]),
        ("metadata.name!=1", ["2", "3"]),
        ("metadata.namespace==b,metadata.name=3", ["3"]),
        ("spec.nodeName=n1", ["3"]),
    ],
)
def test_field_selectors(selector: str, expected: list[str]) -> None:
    assert _select(field_matcher(selector, ["spec.nodeName"])) == expected


def test_an_unsupported_field_is_a_bad_request_as_on_a_real_server() -> None:
    with pytest.raises(ApiStatusError) as exc:
        field_matcher("spec.model=x", [])
    assert (exc.value.code, exc.value.message) == (400, "field label not supported: spec.model")


def test_a_filtered_watch_sees_objects_enter_and_leave_the_selection() -> None:
    match = label_matcher("app=a")
    old, new = OBJS[1], OBJS[0]
    assert transition("MODIFIED", new, old, match) == "ADDED"
    assert transition("MODIFIED", old, new, match) == "DELETED"
    assert transition("MODIFIED", new, new, match) == "MODIFIED"
    assert transition("MODIFIED", old, old, match) is None
