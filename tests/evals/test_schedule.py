"""Scheduled eval runs: which cron slot is due, with missed slots counted, never replayed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from champion.domain.evals.schedule import BadSchedule, due

T0 = datetime(2026, 11, 30, 10, 0, 30, tzinfo=UTC)


def test_nothing_is_due_before_the_first_slot() -> None:
    d = due("0 * * * *", None, T0, T0 + timedelta(minutes=10))
    assert d.run_at is None and d.next_at == datetime(2026, 11, 30, 11, 0, tzinfo=UTC)


def test_the_slot_runs_once_and_then_the_next_one_is_awaited() -> None:
    d = due("*/15 * * * *", None, T0, T0 + timedelta(minutes=16))
    assert d.run_at == datetime(2026, 11, 30, 10, 15, tzinfo=UTC) and d.missed == 0
    again = due("*/15 * * * *", d.run_at, T0, T0 + timedelta(minutes=16))
    assert again.run_at is None and again.next_at == datetime(2026, 11, 30, 10, 30, tzinfo=UTC)


def test_slots_missed_while_down_run_once_with_the_count() -> None:
    last = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
    d = due("0 * * * *", last, T0, last + timedelta(hours=5, minutes=3))
    assert d.run_at == datetime(2026, 11, 30, 15, 0, tzinfo=UTC) and d.missed == 4


def test_a_bad_expression_names_the_field_and_the_form() -> None:
    with pytest.raises(BadSchedule, match=r"spec.schedule: 'every hour' .*five fields"):
        due("every hour", None, T0, T0)
