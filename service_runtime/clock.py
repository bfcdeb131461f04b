"""The business clock: the one place any service reads "today" from.

Business days are counted in America/Sao_Paulo. The clock service publishes a `DayStarted`
for every date on the `clock.days` topic; every process follows that topic
(`service_runtime.clock_follower.ClockFollower`) and its `BusinessClock` holds the latest date
seen, never moving back. Before the first `DayStarted` arrives, the clock falls back to the
manual clock's start date (COBRANCA_CLOCK_START), else the date pinned with COBRANCA_TODAY,
else today's date in America/Sao_Paulo.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import threading
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from service_runtime.settings import Settings

log = logging.getLogger(__name__)

BUSINESS_TZ = ZoneInfo("America/Sao_Paulo")


def wall_today() -> dt.date:
    """The calendar date in America/Sao_Paulo right now (the wall clock's, not the business
    date: only the clock service and the fallback read it)."""
    return dt.datetime.now(BUSINESS_TZ).date()


class BusinessClock:
    def __init__(self, pinned_today: dt.date | None = None, *, fallback_source: str = "") -> None:
        self._pinned = pinned_today
        self._fallback_source = fallback_source or (
            "COBRANCA_TODAY" if pinned_today is not None else "the date in America/Sao_Paulo"
        )
        self._observed: dt.date | None = None
        self._lock = threading.Lock()
        self._waiters: list[tuple[dt.date, asyncio.Future[dt.date]]] = []
        self._fallback_logged = False

    @classmethod
    def from_setting(cls, today: str | None) -> BusinessClock:
        return cls(dt.date.fromisoformat(today) if today else None)

    @classmethod
    def from_settings(cls, settings: Settings) -> BusinessClock:
        """The clock of a service process. Until the first DayStarted is observed it falls
        back to the manual clock's start date (the date that clock opens at), else to the date
        pinned with COBRANCA_TODAY, else to today in America/Sao_Paulo."""
        if settings.clock_mode == "manual" and settings.clock_start:
            return cls(
                dt.date.fromisoformat(settings.clock_start),
                fallback_source="COBRANCA_CLOCK_START",
            )
        if settings.today:
            return cls(dt.date.fromisoformat(settings.today), fallback_source="COBRANCA_TODAY")
        return cls()

    # -- following the clock topic -------------------------------------------------------------
    @property
    def observed(self) -> dt.date | None:
        """The latest date a DayStarted announced, None before the first one."""
        return self._observed

    def observe(self, date: dt.date) -> bool:
        """A DayStarted for `date` was read. The clock only moves forward: an older date (read
        again after a restart, or a republished topic) changes nothing. True when it moved."""
        with self._lock:
            if self._observed is not None and date <= self._observed:
                return False
            previous, self._observed = self._observed, date
            ready = [(d, f) for d, f in self._waiters if d <= date]
            self._waiters = [(d, f) for d, f in self._waiters if d > date]
        if previous is None:
            log.info("business date %s (from the clock topic)", date.isoformat())
        else:
            log.info("business date moved from %s to %s", previous.isoformat(), date.isoformat())
        for _, future in ready:
            # Possibly another thread than the waiter's loop: hand it over.
            future.get_loop().call_soon_threadsafe(_resolve, future, date)
        return True

    async def wait_for(self, date: dt.date, timeout: float) -> dt.date:
        """Wait until a DayStarted for `date` or a later date was observed; returns the observed
        date. Raises TimeoutError when none came in time."""
        future: asyncio.Future[dt.date] = asyncio.get_running_loop().create_future()
        with self._lock:
            if self._observed is not None and self._observed >= date:
                return self._observed
            self._waiters.append((date, future))
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            with self._lock:
                self._waiters = [(d, f) for d, f in self._waiters if f is not future]

    # -- reading it ----------------------------------------------------------------------------
    def today(self) -> dt.date:
        observed = self._observed
        if observed is not None:
            return observed
        fallback = self._pinned if self._pinned is not None else wall_today()
        if not self._fallback_logged:
            self._fallback_logged = True
            log.info(
                "no DayStarted seen yet: the business date is %s (%s) until the clock says",
                fallback.isoformat(),
                self._fallback_source,
            )
        return fallback

    def now(self) -> dt.datetime:
        """Aware UTC timestamp; when the business date is not the calendar date, the time of day
        is still real, on the business date."""
        real = dt.datetime.now(dt.UTC)
        business = self.today()
        local = real.astimezone(BUSINESS_TZ)
        if local.date() == business:
            return real
        return local.replace(year=business.year, month=business.month, day=business.day).astimezone(
            dt.UTC
        )


def _resolve(future: asyncio.Future[dt.date], date: dt.date) -> None:
    if not future.done():
        future.set_result(date)


def days_overdue(due_date: dt.date, today: dt.date) -> int:
    return max(0, (today - due_date).days)
