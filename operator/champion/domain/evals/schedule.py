"""When a scheduled EvalSuite run is due (cron, UTC). Pure: the caller passes `now`.

Like a CronJob with `concurrencyPolicy: Forbid`: runs missed while the operator was
down are not replayed one by one; the latest missed slot runs once and the count of
skipped ones is reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from croniter import croniter


class BadSchedule(ValueError):
    """The cron expression does not parse."""


@dataclass(frozen=True)
class Due:
    run_at: datetime | None
    """The slot to run now (None: nothing is due)."""
    next_at: datetime
    """The next slot after now."""
    missed: int = 0
    """Slots between the last run and `run_at` that were skipped."""


def check(cron: str) -> None:
    if not croniter.is_valid(cron):
        raise BadSchedule(
            f"spec.schedule: {cron!r} is not a cron expression (five fields: minute hour "
            "day-of-month month day-of-week, e.g. '0 * * * *' for hourly)"
        )


def due(cron: str, last_run: datetime | None, since: datetime, now: datetime) -> Due:
    """The slot due at `now`, counting from the last run (or `since`, e.g. creation)."""
    check(cron)
    start = last_run or since
    it = croniter(cron, start)
    slot: datetime = it.get_next(datetime)
    run_at: datetime | None = None
    missed = -1
    while slot <= now:
        run_at, missed = slot, missed + 1
        slot = it.get_next(datetime)
        if missed > 10_000:  # a every-minute schedule down for a week: stop counting
            break
    return Due(run_at, slot, max(0, missed))
