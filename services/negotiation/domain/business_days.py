"""Business days: Saturdays, Sundays and Brazilian national holidays are not.

Only the `holidays` package's default (public) category counts: its "optional" observances
(Carnaval, Corpus Christi, Christmas Eve...) are pontos facultativos, not national holidays,
and state or municipal holidays are not considered.
"""

from __future__ import annotations

import calendar
import datetime as dt
import functools

import holidays

_ONE_DAY = dt.timedelta(days=1)
_SATURDAY = 5


@functools.lru_cache(maxsize=256)
def _national_holidays(year: int) -> frozenset[dt.date]:
    # Built once per year: the package computes movable feasts (Good Friday) on every call.
    return frozenset(holidays.country_holidays("BR", years=year).keys())


def is_business_day(d: dt.date) -> bool:
    return d.weekday() < _SATURDAY and d not in _national_holidays(d.year)


def next_business_day(d: dt.date) -> dt.date:
    """`d` itself when it is a business day, else the first business day after it."""
    while not is_business_day(d):
        d += _ONE_DAY
    return d


def add_months(d: dt.date, months: int) -> dt.date:
    """The same day `months` later, clamped to the month's end (Jan 31 + 1 = Feb 28/29)."""
    index = d.year * 12 + (d.month - 1) + months
    year, month_index = divmod(index, 12)
    month = month_index + 1
    last_day = calendar.monthrange(year, month)[1]
    return dt.date(year, month, min(d.day, last_day))
