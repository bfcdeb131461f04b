"""The platform's business calendar: every business date that has started, in order.

One aggregate per platform. A date is recorded once, dates only move forward and none is ever
skipped: moving from D to D+N records N `DayStarted` events, so whoever follows the calendar
lives through every day (a collection ruler that acts on the 3rd day overdue must see it).
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from typing import Any, get_args

import holidays
from eventsourcing.domain import Aggregate, event

from contracts.clock import ClockMode
from contracts.envelope import COBRANCA_NAMESPACE

CLOCK_MODES: tuple[str, ...] = get_args(ClockMode)

CALENDAR_ID = uuid.uuid5(COBRANCA_NAMESPACE, "business-calendar")

# Cause of the days a clock records by itself (a command's days carry its correlation id).
WALL_CAUSE = "wall-clock"
MANUAL_START_CAUSE = "manual-start"


@functools.cache
def _national_holidays() -> holidays.HolidayBase:
    return holidays.country_holidays("BR")


def is_business_day(date: dt.date) -> bool:
    """Monday to Friday, except Brazilian national holidays."""
    return date.weekday() < 5 and date not in _national_holidays()


def parse_day_start(text: str) -> dt.time:
    """'06:00' → 06:00. Raises ValueError naming the expected shape."""
    try:
        hours, minutes = text.strip().split(":")
        if len(hours) != 2 or len(minutes) != 2:
            raise ValueError
        return dt.time(int(hours), int(minutes))
    except ValueError:
        raise ValueError(
            f"COBRANCA_CLOCK_DAY_STARTS_AT must be HH:MM (America/Sao_Paulo), not {text!r}"
        ) from None


def latest_started_date(now_local: dt.datetime, day_starts_at: dt.time) -> dt.date:
    """The last date whose start time has passed at `now_local` (a time in America/Sao_Paulo):
    today once `day_starts_at` is reached, before it yesterday."""
    today = now_local.date()
    if now_local.time() >= day_starts_at:
        return today
    return today - dt.timedelta(days=1)


def next_day_start(now_local: dt.datetime, day_starts_at: dt.time, tz: dt.tzinfo) -> dt.datetime:
    """When the next date starts, after `now_local`."""
    date = latest_started_date(now_local, day_starts_at) + dt.timedelta(days=1)
    return dt.datetime.combine(date, day_starts_at, tzinfo=tz)


def dates_between(last: dt.date | None, target: dt.date) -> list[dt.date]:
    """The dates to record to move a calendar at `last` to `target`: every date after `last` up
    to `target`, none when `target` is not later; just `target` for an empty calendar."""
    if last is None:
        return [target]
    return [last + dt.timedelta(days=n) for n in range(1, (target - last).days + 1)]


class BusinessCalendar(Aggregate):
    @staticmethod
    def create_id(**_: Any) -> uuid.UUID:
        return CALENDAR_ID

    @event("Opened")
    def __init__(self, *, mode: str) -> None:
        self.mode = mode
        self.today: dt.date | None = None
        self.days_recorded = 0
        # The command that last moved the calendar: a command delivered twice moves it once.
        self.last_cause_id: str | None = None

    def advance_to(self, target: dt.date, *, mode: ClockMode, cause_id: str) -> list[dt.date]:
        """Record every date after the current one up to `target`, in order. A `target` that is
        not later than today records nothing: dates never go back. Returns the dates recorded."""
        if mode not in CLOCK_MODES:
            raise ValueError(f"unknown clock mode {mode!r}")
        dates = dates_between(self.today, target)
        for date in dates:
            self._day_started(
                date=date, business_day=is_business_day(date), mode=mode, cause_id=cause_id
            )
        return dates

    def advance_by(self, days: int, *, mode: ClockMode, cause_id: str) -> list[dt.date]:
        """Move the calendar `days` dates forward (each one recorded)."""
        if days < 1:
            raise ValueError("a clock advances by at least one day")
        if self.today is None:
            raise ValueError("the calendar has no date yet")
        return self.advance_to(self.today + dt.timedelta(days=days), mode=mode, cause_id=cause_id)

    @event("DayStarted")
    def _day_started(self, *, date: dt.date, business_day: bool, mode: str, cause_id: str) -> None:
        self.today = date
        self.mode = mode
        self.days_recorded += 1
        self.last_cause_id = cause_id
