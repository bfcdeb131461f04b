"""Sending windows: the days and hours a channel may reach a debtor (America/Sao_Paulo time,
never on a national holiday)."""

from __future__ import annotations

import datetime as dt
from typing import get_args

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.ruler import MessageChannel
from services.messaging.domain.windows import (
    DEFAULT_WINDOWS,
    END_OF_DAY,
    SAO_PAULO,
    SendingWindow,
    is_national_holiday,
    is_open,
    next_opening,
)

SMS = DEFAULT_WINDOWS["sms"]
EMAIL = DEFAULT_WINDOWS["email"]


def sp(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=SAO_PAULO)


def utc(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC)


# ---- building windows ----------------------------------------------------------------------


def test_of_parses_the_admin_input() -> None:
    window = SendingWindow.of([0, 1, 2, 3, 4], "08:00", "20:00")
    assert window == SendingWindow(frozenset(range(5)), dt.time(8), dt.time(20))
    assert SendingWindow.of(range(7), "00:00", "24:00").end == END_OF_DAY
    assert SendingWindow.of([5], " 09:30 ", "13:15").start == dt.time(9, 30)


@pytest.mark.parametrize(
    ("weekdays", "start", "end", "message"),
    [
        ([0], "8:00", "20:00", "start: horário deve estar no formato HH:MM"),
        ([0], "08h", "20:00", "start: horário deve estar no formato HH:MM"),
        ([0], "24:00", "24:00", "start: horário deve estar no formato HH:MM (00:00 a 23:59)"),
        ([0], "08:00", "25:00", "end: horário deve estar no formato HH:MM (00:00 a 24:00)"),
        ([0], "08:00", "20:60", "end: horário deve estar no formato HH:MM"),
        ([0], "20:00", "08:00", "end: o fim (08:00) deve ser depois do início (20:00)"),
        ([0], "08:00", "08:00", "end: o fim (08:00) deve ser depois do início (08:00)"),
        ([], "08:00", "20:00", "weekdays: informe ao menos um dia da semana"),
        ([0, 7], "08:00", "20:00", "weekdays: dia da semana inválido 7"),
        ([-1], "08:00", "20:00", "weekdays: dia da semana inválido -1"),
    ],
)
def test_of_rejects_bad_input_naming_the_field(
    weekdays: list[int], start: str, end: str, message: str
) -> None:
    with pytest.raises(ValueError) as caught:
        SendingWindow.of(weekdays, start, end)
    assert str(caught.value).startswith(message)


def test_describe_in_portuguese() -> None:
    assert SMS.describe() == (
        "segunda, terça, quarta, quinta, sexta, sábado, das 08:00 às 20:00, "
        "exceto feriados nacionais"
    )
    assert EMAIL.describe().endswith("das 00:00 às 24:00, exceto feriados nacionais")


def test_default_windows() -> None:
    assert set(DEFAULT_WINDOWS) == set(get_args(MessageChannel))
    for channel in ("sms", "whatsapp", "push"):
        assert DEFAULT_WINDOWS[channel] == SendingWindow.of(range(6), "08:00", "20:00")
    assert DEFAULT_WINDOWS["email"] == SendingWindow.of(range(7), "00:00", "24:00")


# ---- is_open -------------------------------------------------------------------------------


def test_national_holidays() -> None:
    for holiday in (
        dt.date(2026, 1, 1),
        dt.date(2026, 4, 3),  # Sexta-feira Santa
        dt.date(2026, 4, 21),
        dt.date(2026, 11, 15),
        dt.date(2026, 11, 20),
        dt.date(2026, 12, 25),
    ):
        assert is_national_holiday(holiday), holiday
    assert not is_national_holiday(dt.date(2026, 12, 24))
    assert not is_national_holiday(dt.date(2026, 2, 17))  # carnaval: ponto facultativo


def test_is_open_from_start_to_end() -> None:
    friday = (2026, 3, 6)
    assert not is_open(SMS, sp(*friday, 7, 59))
    assert is_open(SMS, sp(*friday, 8, 0))
    assert is_open(SMS, sp(*friday, 19, 59) + dt.timedelta(seconds=59))
    assert not is_open(SMS, sp(*friday, 20, 0))
    assert is_open(SMS, sp(2026, 3, 7, 19))  # sábado
    assert not is_open(SMS, sp(2026, 3, 8, 12))  # domingo
    assert not is_open(SMS, sp(2026, 4, 21, 12))  # Tiradentes, terça
    assert is_open(EMAIL, sp(2026, 3, 8, 23, 59) + dt.timedelta(seconds=59.9))
    assert not is_open(EMAIL, sp(2026, 12, 25, 12))


def test_is_open_reads_any_time_zone_in_sao_paulo_time() -> None:
    assert is_open(SMS, dt.datetime(2026, 3, 6, 11, 0, tzinfo=dt.UTC))  # 08:00 em SP
    assert not is_open(SMS, dt.datetime(2026, 3, 6, 10, 59, tzinfo=dt.UTC))
    assert not is_open(SMS, dt.datetime(2026, 3, 6, 23, 30, tzinfo=dt.UTC))  # 20:30 em SP


def test_a_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="fuso"):
        is_open(SMS, dt.datetime(2026, 3, 6, 10))
    with pytest.raises(ValueError, match="fuso"):
        next_opening(SMS, dt.datetime(2026, 3, 6, 10))


# ---- next_opening --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("asked", "sent"),
    [
        # open: sent at once
        (sp(2026, 3, 6, 10, 15), sp(2026, 3, 6, 10, 15)),
        # Monday early morning: the same day at 08:00
        (sp(2026, 3, 9, 6, 30), sp(2026, 3, 9, 8)),
        # Friday 21:00: Saturday 08:00
        (sp(2026, 3, 6, 21), sp(2026, 3, 7, 8)),
        # Saturday 21:00: Monday 08:00 (no Sundays)
        (sp(2026, 3, 7, 21), sp(2026, 3, 9, 8)),
        # Sunday noon: Monday 08:00
        (sp(2026, 3, 8, 12), sp(2026, 3, 9, 8)),
        # Thursday 24/12 21:00: Christmas is Friday, so Saturday 26/12 08:00
        (sp(2026, 12, 24, 21), sp(2026, 12, 26, 8)),
        # Saturday 14/11 21:00: Sunday 15/11 (Proclamação da República, and a Sunday), Monday
        (sp(2026, 11, 14, 21), sp(2026, 11, 16, 8)),
        # Thursday 19/11 21:00: Friday 20/11 is Consciência Negra, so Saturday 21/11
        (sp(2026, 11, 19, 21), sp(2026, 11, 21, 8)),
        # Thursday 02/04 21:00: Good Friday 03/04, so Saturday 04/04
        (sp(2026, 4, 2, 21), sp(2026, 4, 4, 8)),
        # Monday 20/04 21:00: Tiradentes on Tuesday, so Wednesday 22/04
        (sp(2026, 4, 20, 21), sp(2026, 4, 22, 8)),
        # Thursday 31/12 21:00: New Year's Day on Friday, so Saturday 02/01/2027
        (sp(2026, 12, 31, 21), sp(2027, 1, 2, 8)),
        # Friday 04/09 21:00: Saturday 05/09, not the holiday 07/09
        (sp(2026, 9, 4, 21), sp(2026, 9, 5, 8)),
        # Saturday 05/09 21:00: Sunday, then Independence Day on Monday: Tuesday 08/09
        (sp(2026, 9, 5, 21), sp(2026, 9, 8, 8)),
    ],
)
def test_next_opening_of_the_sms_window(asked: dt.datetime, sent: dt.datetime) -> None:
    opening = next_opening(SMS, asked)
    assert opening == sent
    assert opening.tzinfo is SAO_PAULO
    assert opening.utcoffset() == dt.timedelta(hours=-3)


def test_next_opening_from_utc_converts_to_utc() -> None:
    asked = dt.datetime(2026, 12, 25, 0, 30, tzinfo=dt.UTC)  # Thursday 24/12 21:30 in SP
    opening = next_opening(SMS, asked)
    assert opening == sp(2026, 12, 26, 8)
    assert utc(opening) == dt.datetime(2026, 12, 26, 11, 0, tzinfo=dt.UTC)


def test_email_waits_only_for_holidays() -> None:
    assert next_opening(EMAIL, sp(2026, 3, 8, 23, 30)) == sp(2026, 3, 8, 23, 30)
    assert next_opening(EMAIL, sp(2026, 12, 25, 10)) == sp(2026, 12, 26)
    # Sábado 14/11, domingo 15/11 feriado: segunda 16/11 à meia-noite
    assert next_opening(EMAIL, sp(2026, 11, 15, 3)) == sp(2026, 11, 16)


def test_daylight_saving_days_before_2019() -> None:
    # 04/11/2018: clocks went from 00:00 to 01:00 (-02:00); the day began at 01:00.
    sundays = SendingWindow.of([6], "00:00", "24:00")
    opening = next_opening(sundays, sp(2018, 11, 3, 12))
    assert utc(opening) == dt.datetime(2018, 11, 4, 3, 0, tzinfo=dt.UTC)
    assert is_open(sundays, opening)
    assert not is_open(sundays, utc(opening) - dt.timedelta(microseconds=1))
    # 17/02/2018 (Saturday): at midnight clocks went back to 23:00 of Saturday, so 23:30 came
    # twice; asked between the two, the window opens at the second one.
    late = SendingWindow.of([5], "23:30", "24:00")
    between = dt.datetime(2018, 2, 18, 2, 10, tzinfo=dt.UTC)  # 23:10, the second time
    assert not is_open(late, between)
    assert utc(next_opening(late, between)) == dt.datetime(2018, 2, 18, 2, 30, tzinfo=dt.UTC)


# ---- properties ----------------------------------------------------------------------------

_MINUTES_IN_DAY = 24 * 60


def _time(minutes: int) -> dt.time:
    return END_OF_DAY if minutes == _MINUTES_IN_DAY else dt.time(minutes // 60, minutes % 60)


@st.composite
def windows(draw: st.DrawFn) -> SendingWindow:
    weekdays = draw(st.frozensets(st.integers(0, 6), min_size=1))
    start = draw(st.integers(0, _MINUTES_IN_DAY - 1))
    end = draw(st.integers(start + 1, _MINUTES_IN_DAY))
    return SendingWindow(weekdays, _time(start), _time(end))


_WINDOWS = st.one_of(st.sampled_from(sorted(DEFAULT_WINDOWS.values(), key=repr)), windows())
_MOMENTS = st.datetimes(
    min_value=dt.datetime(2019, 1, 1),
    max_value=dt.datetime(2035, 12, 31),
    timezones=st.sampled_from([SAO_PAULO, dt.UTC]),
)


@settings(max_examples=300, deadline=None)
@given(_WINDOWS, _MOMENTS)
def test_next_opening_is_the_first_open_instant(window: SendingWindow, at: dt.datetime) -> None:
    opening = next_opening(window, at)
    assert opening.tzinfo is SAO_PAULO
    assert utc(opening) >= utc(at)
    assert is_open(window, opening)
    assert next_opening(window, opening) == opening
    if utc(opening) > utc(at):
        assert not is_open(window, at)
        gap = utc(opening) - utc(at)
        for step in range(32):
            assert not is_open(window, utc(at) + gap * step / 32)
        assert not is_open(window, utc(opening) - dt.timedelta(microseconds=1))
