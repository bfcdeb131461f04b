"""The business clock: the one place any service reads "today" from.

Business days are counted in America/Sao_Paulo. The date can be pinned with
COBRANCA_TODAY (demos, tests); the negotiation issue adds a clock driven by events.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

BUSINESS_TZ = ZoneInfo("America/Sao_Paulo")


class BusinessClock:
    def __init__(self, pinned_today: dt.date | None = None) -> None:
        self._pinned = pinned_today

    @classmethod
    def from_setting(cls, today: str | None) -> BusinessClock:
        return cls(dt.date.fromisoformat(today) if today else None)

    def now(self) -> dt.datetime:
        """Aware UTC timestamp; when the date is pinned, the time of day is still real."""
        real = dt.datetime.now(dt.UTC)
        if self._pinned is None:
            return real
        local = real.astimezone(BUSINESS_TZ)
        return local.replace(
            year=self._pinned.year, month=self._pinned.month, day=self._pinned.day
        ).astimezone(dt.UTC)

    def today(self) -> dt.date:
        if self._pinned is not None:
            return self._pinned
        return dt.datetime.now(BUSINESS_TZ).date()


def days_overdue(due_date: dt.date, today: dt.date) -> int:
    return max(0, (today - due_date).days)
