"""Use cases of the clock: open the calendar, catch up with the wall clock, advance a manual
clock on command. Each saves the dates it records in one transaction; the outbox relay
publishes them as `DayStarted`."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from eventsourcing.application import AggregateNotFoundError

from contracts.clock import ClockMode, ClockState
from service_runtime.eventstore import ServiceApplication
from services.clock.domain.calendar import (
    CALENDAR_ID,
    MANUAL_START_CAUSE,
    WALL_CAUSE,
    BusinessCalendar,
    latest_started_date,
)

log = logging.getLogger(__name__)


class ClockConfigError(ValueError):
    """The clock cannot start with this configuration (said in words for the operator)."""


class ClockNotManual(Exception):
    """Only a manual clock moves on command."""


@dataclass(frozen=True)
class Recorded:
    """What a use case did: the dates it recorded (maybe none) and where the calendar stands."""

    dates: list[dt.date]
    today: dt.date


class ClockApplication(ServiceApplication):
    name = "clock"

    def calendar(self) -> BusinessCalendar | None:
        try:
            aggregate: Any = self.repository.get(CALENDAR_ID)
        except AggregateNotFoundError:
            return None
        assert isinstance(aggregate, BusinessCalendar)
        return aggregate

    def today(self) -> dt.date | None:
        calendar = self.calendar()
        return None if calendar is None else calendar.today

    def _advance_to(
        self, calendar: BusinessCalendar | None, target: dt.date, mode: ClockMode, cause_id: str
    ) -> Recorded:
        if calendar is None:
            calendar = BusinessCalendar(mode=mode)
        dates = calendar.advance_to(target, mode=mode, cause_id=cause_id)
        if dates:
            self.save(calendar)
        for date in dates:
            log.info("day %s started (%s clock)", date.isoformat(), mode)
        assert calendar.today is not None
        return Recorded(dates, calendar.today)

    def catch_up_wall(self, now_local: dt.datetime, day_starts_at: dt.time) -> Recorded:
        """The wall clock: record every date after the last one up to the last date that has
        started at `now_local` (America/Sao_Paulo). An empty calendar records today at once,
        whatever the time, so the platform has a date."""
        calendar = self.calendar()
        if calendar is None or calendar.today is None:
            return self._advance_to(calendar, now_local.date(), "wall", WALL_CAUSE)
        target = latest_started_date(now_local, day_starts_at)
        if target < calendar.today:
            # A manual clock ran ahead of the wall: the date stays until the wall catches up.
            log.debug(
                "the calendar is at %s, ahead of the wall clock (%s): waiting",
                calendar.today.isoformat(),
                target.isoformat(),
            )
        return self._advance_to(calendar, target, "wall", WALL_CAUSE)

    def start_manual(self, start: dt.date | None) -> Recorded:
        """The manual clock at start: the first time at `start`; later, where it stood (moved
        forward to `start` when that is later, day by day)."""
        calendar = self.calendar()
        if calendar is None or calendar.today is None:
            if start is None:
                raise ClockConfigError(
                    "the manual clock needs its first date: set COBRANCA_CLOCK_START=YYYY-MM-DD "
                    "(cobranca up --clock manual --date YYYY-MM-DD)"
                )
            return self._advance_to(calendar, start, "manual", MANUAL_START_CAUSE)
        if start is not None and start < calendar.today:
            log.warning(
                "COBRANCA_CLOCK_START is %s but the clock already reached %s: dates never go "
                "back, keeping %s",
                start.isoformat(),
                calendar.today.isoformat(),
                calendar.today.isoformat(),
            )
            return Recorded([], calendar.today)
        if start is None:
            return Recorded([], calendar.today)
        return self._advance_to(calendar, start, "manual", MANUAL_START_CAUSE)

    def advance(self, days: int, *, mode: ClockMode, cause_id: str) -> Recorded:
        """`cobranca clock advance --days N`: N more dates, each recorded. A command already
        applied (the same `cause_id`, delivered again) records nothing."""
        if mode != "manual":
            raise ClockNotManual
        calendar = self.calendar()
        if calendar is None or calendar.today is None:
            raise ClockConfigError("the manual clock has no date yet")
        if calendar.last_cause_id == cause_id:
            return Recorded([], calendar.today)
        dates = calendar.advance_by(days, mode="manual", cause_id=cause_id)
        self.save(calendar)
        for date in dates:
            log.info("day %s started (manual clock)", date.isoformat())
        assert calendar.today is not None
        return Recorded(dates, calendar.today)

    def state(self, mode: ClockMode) -> ClockState | None:
        today = self.today()
        return None if today is None else ClockState(mode=mode, today=today)
