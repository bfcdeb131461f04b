"""Sending windows: the days and hours a channel may reach a debtor, in America/Sao_Paulo
time, never on a Brazilian national holiday (the "Envio de SMS/WhatsApp (Dia)" setting of the
systems agencies come from).

A window is one daily period, the same on each of its weekdays: open from `start` (included)
to `end` (excluded); `end` given as "24:00" keeps the window open to the end of the day.

Default windows (`DEFAULT_WINDOWS`): collection contact at night, on Sundays or on holidays is
abusive practice in Brazil (the Código de Defesa do Consumidor, art. 42, forbids collection
that embarrasses the consumer, and contact in the debtor's rest hours is the first example the
collection trade gives of it), so SMS, WhatsApp and push go out Monday to Saturday, 08:00 to
20:00. One period per window keeps Saturday at 20:00 too; an agency that wants shorter
Saturdays sets its own window. E-mail waits in the inbox instead of interrupting, so it may go
at any hour of any day, but, as every channel, not on a national holiday.

Brazil has had no daylight saving time since 2019; times are still computed with zoneinfo.
For dates before it, a start time the clocks skipped (they went forward at midnight) is read
one hour later, as zoneinfo reads it (00:00 -> 01:00, the instant the day began), and a start
time that happened twice (clocks going back) opens the window both times.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import holidays

SAO_PAULO = ZoneInfo("America/Sao_Paulo")

_WEEKDAY_NAMES = ("segunda", "terça", "quarta", "quinta", "sexta", "sábado", "domingo")
_HH_MM = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")
# The end of the day, for an end given as "24:00".
END_OF_DAY = dt.time.max


@functools.cache
def _national_holidays(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("BR", years=year)


def is_national_holiday(date: dt.date) -> bool:
    """A Brazilian national holiday (the `holidays` package's public ones)."""
    return date in _national_holidays(date.year)


def _parse_time(field: str, text: str, *, allow_end_of_day: bool) -> dt.time:
    text = text.strip()
    if allow_end_of_day and text == "24:00":
        return END_OF_DAY
    match = _HH_MM.fullmatch(text)
    if match is None:
        limit = "00:00 a 24:00" if allow_end_of_day else "00:00 a 23:59"
        raise ValueError(f"{field}: horário deve estar no formato HH:MM ({limit}), não {text!r}")
    return dt.time(int(match.group(1)), int(match.group(2)))


def _show(value: dt.time) -> str:
    return "24:00" if value == END_OF_DAY else value.strftime("%H:%M")


@dataclass(frozen=True)
class SendingWindow:
    """When a channel may send: on `weekdays` (0 = Monday ... 6 = Sunday), from `start`
    (included) to `end` (excluded; `END_OF_DAY` for the end of the day), in America/Sao_Paulo
    time, except on national holidays."""

    weekdays: frozenset[int]
    start: dt.time
    end: dt.time

    def __post_init__(self) -> None:
        if not self.weekdays:
            raise ValueError("weekdays: informe ao menos um dia da semana")
        for day in sorted(self.weekdays):
            if not isinstance(day, int) or isinstance(day, bool) or not 0 <= day <= 6:
                raise ValueError(
                    f"weekdays: dia da semana inválido {day!r} (0 = segunda ... 6 = domingo)"
                )
        for name, value in (("start", self.start), ("end", self.end)):
            if value.tzinfo is not None:
                raise ValueError(f"{name}: horário sem fuso; a janela é no horário de Brasília")
        if self.start >= self.end:
            raise ValueError(
                f"end: o fim ({_show(self.end)}) deve ser depois do início "
                f"({_show(self.start)}), no mesmo dia"
            )

    @classmethod
    def of(cls, weekdays: Iterable[int], start: str, end: str) -> SendingWindow:
        """From the admin's input: weekdays 0-6 and times "HH:MM" ("24:00" for the end of the
        day). Raises ValueError in pt-BR, naming the field."""
        return cls(
            weekdays=frozenset(weekdays),
            start=_parse_time("start", start, allow_end_of_day=False),
            end=_parse_time("end", end, allow_end_of_day=True),
        )

    def describe(self) -> str:
        """In pt-BR, for people: "segunda, terça, ..., das 08:00 às 20:00"."""
        days = ", ".join(_WEEKDAY_NAMES[d] for d in sorted(self.weekdays))
        return f"{days}, das {_show(self.start)} às {_show(self.end)}, exceto feriados nacionais"

    def _contains_time(self, moment: dt.time) -> bool:
        if self.end == END_OF_DAY:
            return self.start <= moment
        return self.start <= moment < self.end

    def _open_on(self, date: dt.date) -> bool:
        return date.weekday() in self.weekdays and not is_national_holiday(date)


_MONDAY_TO_SATURDAY = frozenset(range(6))
_EVERY_DAY = frozenset(range(7))

# Per channel (the keys of contracts.ruler.MessageChannel); see the module's docstring.
DEFAULT_WINDOWS: dict[str, SendingWindow] = {
    "sms": SendingWindow(_MONDAY_TO_SATURDAY, dt.time(8, 0), dt.time(20, 0)),
    "whatsapp": SendingWindow(_MONDAY_TO_SATURDAY, dt.time(8, 0), dt.time(20, 0)),
    "push": SendingWindow(_MONDAY_TO_SATURDAY, dt.time(8, 0), dt.time(20, 0)),
    "email": SendingWindow(_EVERY_DAY, dt.time(0, 0), END_OF_DAY),
}


def _local(at: dt.datetime) -> dt.datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("at: informe data e hora com fuso horário")
    return at.astimezone(SAO_PAULO)


def is_open(window: SendingWindow, at: dt.datetime) -> bool:
    """Whether `window` is open at the instant `at` (aware; any time zone)."""
    local = _local(at)
    return window._open_on(local.date()) and window._contains_time(local.time())


# Longer than any run of closed days a valid window can have (one weekday a week and holidays).
_SEARCH_DAYS = 400


def next_opening(window: SendingWindow, at: dt.datetime) -> dt.datetime:
    """The first instant from `at` on when `window` is open: `at` itself (in America/Sao_Paulo
    time) when it is open, otherwise the start of the next open period, skipping weekdays out
    of the window and national holidays. Aware, in America/Sao_Paulo time."""
    local = _local(at)
    if is_open(window, local):
        return local
    for offset in range(_SEARCH_DAYS):
        date = local.date() + dt.timedelta(days=offset)
        if not window._open_on(date):
            continue
        # Through UTC, so a start time the clocks skipped (before 2019) becomes a real
        # instant; both folds, so a start time that happened twice is found the second time.
        openings = sorted(
            dt.datetime.combine(date, window.start, tzinfo=SAO_PAULO)
            .replace(fold=fold)
            .astimezone(dt.UTC)
            for fold in (0, 1)
        )
        for opening in openings:
            # Compared in UTC: aware datetimes sharing a tzinfo compare by wall time.
            if opening > local.astimezone(dt.UTC) and is_open(window, opening):
                return opening.astimezone(SAO_PAULO)
    raise AssertionError(f"janela sem abertura em {_SEARCH_DAYS} dias: {window}")  # unreachable
