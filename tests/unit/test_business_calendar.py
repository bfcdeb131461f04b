"""The clock service's calendar: every date recorded once, in order, never skipped, never back."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest

from contracts.clock import CLOCK_TOPIC, PLATFORM_TENANT, ClockState, DayStarted
from contracts.envelope import derived_event_id
from contracts.registry import parse_event
from service_runtime.clock import BUSINESS_TZ
from service_runtime.eventstore import build_application
from service_runtime.settings import Settings
from services.clock.adapters.client import describe_date
from services.clock.adapters.commands import answer_advance
from services.clock.adapters.integration_events import integration_events
from services.clock.application import ClockApplication, ClockConfigError, ClockNotManual
from services.clock.domain.calendar import (
    CALENDAR_ID,
    BusinessCalendar,
    dates_between,
    is_business_day,
    latest_started_date,
    next_day_start,
    parse_day_start,
)

SIX = time(6, 0)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=BUSINESS_TZ)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, database_url=None)


@pytest.fixture
def app(settings: Settings) -> Iterator[ClockApplication]:
    application = build_application(ClockApplication, settings, "clock")
    yield application
    application.close()


def reopen(settings: Settings) -> ClockApplication:
    """The same store, as a restarted clock process sees it."""
    return build_application(ClockApplication, settings, "clock")


def days_started(app: ClockApplication) -> list[DayStarted]:
    """The integration events the outbox relay would publish, in notification order."""
    out: list[DayStarted] = []
    for notification in app.recorder.select_notifications(start=1, limit=10_000):
        for topic, event in integration_events(app.mapper.to_domain_event(notification)):
            assert topic == CLOCK_TOPIC
            assert isinstance(event, DayStarted)
            out.append(event)
    return out


# --- business days -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "business"),
    [
        (date(2026, 12, 24), True),  # Thursday, Christmas Eve is not a national holiday
        (date(2026, 12, 25), False),  # Christmas (a Friday)
        (date(2026, 12, 26), False),  # Saturday
        (date(2026, 12, 27), False),  # Sunday
        (date(2026, 12, 28), True),  # Monday
        (date(2026, 11, 20), False),  # Consciência Negra (national since 2024)
        (date(2026, 4, 3), False),  # Good Friday
        (date(2026, 1, 5), True),
    ],
)
def test_weekends_and_national_holidays_are_not_business_days(day: date, business: bool) -> None:
    assert is_business_day(day) is business


def test_a_date_starts_at_the_configured_time_in_sao_paulo() -> None:
    assert latest_started_date(at(date(2026, 1, 6), 5, 59), SIX) == date(2026, 1, 5)
    assert latest_started_date(at(date(2026, 1, 6), 6, 0), SIX) == date(2026, 1, 6)
    assert next_day_start(at(date(2026, 1, 6), 5, 59), SIX, BUSINESS_TZ) == at(date(2026, 1, 6), 6)
    assert next_day_start(at(date(2026, 1, 6), 6, 0), SIX, BUSINESS_TZ) == at(date(2026, 1, 7), 6)
    assert parse_day_start("06:30") == time(6, 30)
    for bad in ("6h", "25:00", "0600", "6:00"):
        with pytest.raises(ValueError, match="HH:MM"):
            parse_day_start(bad)


def test_dates_between_never_skips_and_never_goes_back() -> None:
    assert dates_between(None, date(2026, 1, 5)) == [date(2026, 1, 5)]
    assert dates_between(date(2026, 1, 5), date(2026, 1, 8)) == [
        date(2026, 1, 6),
        date(2026, 1, 7),
        date(2026, 1, 8),
    ]
    assert dates_between(date(2026, 1, 5), date(2026, 1, 5)) == []
    assert dates_between(date(2026, 1, 5), date(2026, 1, 1)) == []


# --- the aggregate -----------------------------------------------------------------------------


def test_the_calendar_is_one_per_platform_and_records_each_day_in_order() -> None:
    calendar = BusinessCalendar(mode="manual")
    assert calendar.id == CALENDAR_ID == BusinessCalendar(mode="wall").id
    assert calendar.advance_to(date(2026, 1, 5), mode="manual", cause_id="start") == [
        date(2026, 1, 5)
    ]
    assert calendar.advance_by(4, mode="manual", cause_id="cmd") == [
        date(2026, 1, 6),
        date(2026, 1, 7),
        date(2026, 1, 8),
        date(2026, 1, 9),
    ]
    assert calendar.today == date(2026, 1, 9)
    assert calendar.days_recorded == 5
    # Back, or the same date: nothing.
    assert calendar.advance_to(date(2026, 1, 2), mode="manual", cause_id="x") == []
    assert calendar.advance_to(date(2026, 1, 9), mode="manual", cause_id="x") == []
    assert calendar.today == date(2026, 1, 9)
    with pytest.raises(ValueError):
        calendar.advance_by(0, mode="manual", cause_id="x")
    with pytest.raises(ValueError):
        calendar.advance_to(date(2026, 2, 1), mode="sundial", cause_id="x")  # type: ignore[arg-type]
    pending: list[Any] = calendar.collect_events()
    started = [e for e in pending if isinstance(e, BusinessCalendar.DayStarted)]  # type: ignore[attr-defined]
    assert [e.date for e in started] == [date(2026, 1, d) for d in range(5, 10)]


# --- the wall clock ----------------------------------------------------------------------------


def test_wall_catch_up_records_every_missing_day_across_christmas_and_a_weekend(
    app: ClockApplication,
) -> None:
    first = app.catch_up_wall(at(date(2026, 12, 24), 10), SIX)
    assert first.dates == [date(2026, 12, 24)]

    # Stopped over Christmas; back on Monday the 28th at 07:00.
    caught_up = app.catch_up_wall(at(date(2026, 12, 28), 7), SIX)
    assert caught_up.dates == [date(2026, 12, d) for d in (25, 26, 27, 28)]
    assert caught_up.today == date(2026, 12, 28)

    days = days_started(app)
    assert [(d.date, d.business_day, d.mode) for d in days] == [
        (date(2026, 12, 24), True, "wall"),
        (date(2026, 12, 25), False, "wall"),
        (date(2026, 12, 26), False, "wall"),
        (date(2026, 12, 27), False, "wall"),
        (date(2026, 12, 28), True, "wall"),
    ]
    # Nothing more the same day.
    assert app.catch_up_wall(at(date(2026, 12, 28), 23, 59), SIX).dates == []


def test_before_the_configured_time_the_wall_clock_is_still_on_yesterday(
    app: ClockApplication,
) -> None:
    app.catch_up_wall(at(date(2026, 3, 2), 12), SIX)
    early = app.catch_up_wall(at(date(2026, 3, 5), 5, 59), SIX)
    assert early.dates == [date(2026, 3, 3), date(2026, 3, 4)]
    assert app.catch_up_wall(at(date(2026, 3, 5), 6), SIX).dates == [date(2026, 3, 5)]


def test_the_very_first_wall_start_records_today_whatever_the_time(app: ClockApplication) -> None:
    recorded = app.catch_up_wall(at(date(2026, 3, 5), 2), SIX)
    assert recorded.dates == [date(2026, 3, 5)]
    # 06:00 comes: that date is already there.
    assert app.catch_up_wall(at(date(2026, 3, 5), 6), SIX).dates == []
    assert app.catch_up_wall(at(date(2026, 3, 6), 6), SIX).dates == [date(2026, 3, 6)]


def test_a_wall_clock_behind_the_calendar_waits_for_it(app: ClockApplication) -> None:
    app.start_manual(date(2026, 6, 10))
    # Switched to the wall clock while the manual one ran ahead: no date goes back.
    recorded = app.catch_up_wall(at(date(2026, 6, 1), 9), SIX)
    assert recorded.dates == [] and recorded.today == date(2026, 6, 10)
    assert app.catch_up_wall(at(date(2026, 6, 11), 9), SIX).dates == [date(2026, 6, 11)]


# --- the manual clock --------------------------------------------------------------------------


def test_the_manual_clock_starts_at_its_date_and_moves_by_n_days(app: ClockApplication) -> None:
    assert app.start_manual(date(2026, 1, 5)).dates == [date(2026, 1, 5)]
    advanced = app.advance(3, mode="manual", cause_id="req-1")
    assert advanced.dates == [date(2026, 1, 6), date(2026, 1, 7), date(2026, 1, 8)]
    assert app.state("manual") == ClockState(mode="manual", today=date(2026, 1, 8))
    assert [(d.date, d.business_day, d.mode) for d in days_started(app)] == [
        (date(2026, 1, 5), True, "manual"),
        (date(2026, 1, 6), True, "manual"),
        (date(2026, 1, 7), True, "manual"),
        (date(2026, 1, 8), True, "manual"),
    ]


def test_a_command_delivered_twice_moves_the_clock_once(app: ClockApplication) -> None:
    app.start_manual(date(2026, 1, 5))
    app.advance(2, mode="manual", cause_id="req-1")
    again = app.advance(2, mode="manual", cause_id="req-1")
    assert again.dates == [] and again.today == date(2026, 1, 7)
    assert app.advance(1, mode="manual", cause_id="req-2").today == date(2026, 1, 8)


def test_the_manual_clock_needs_a_first_date(app: ClockApplication) -> None:
    with pytest.raises(ClockConfigError, match="COBRANCA_CLOCK_START"):
        app.start_manual(None)


def test_only_a_manual_clock_moves_on_command(app: ClockApplication) -> None:
    app.catch_up_wall(at(date(2026, 1, 5), 9), SIX)
    with pytest.raises(ClockNotManual):
        app.advance(1, mode="wall", cause_id="req")


def test_a_restart_keeps_the_date_and_never_goes_back(
    settings: Settings, app: ClockApplication, caplog: pytest.LogCaptureFixture
) -> None:
    app.start_manual(date(2026, 1, 5))
    app.advance(10, mode="manual", cause_id="req-1")

    restarted = reopen(settings)
    try:
        # No start date given, or the same one: the clock stays where it was.
        assert restarted.start_manual(None).today == date(2026, 1, 15)
        with caplog.at_level(logging.WARNING):
            kept = restarted.start_manual(date(2026, 1, 5))
        assert kept.dates == [] and kept.today == date(2026, 1, 15)
        assert "never go back" in caplog.text
        # A later start date: every day up to it.
        later = restarted.start_manual(date(2026, 1, 18))
        assert later.dates == [date(2026, 1, 16), date(2026, 1, 17), date(2026, 1, 18)]
    finally:
        restarted.close()
    again = reopen(settings)
    try:
        dates = [d.date for d in days_started(again)]
    finally:
        again.close()
    assert dates == [date(2026, 1, 5) + timedelta(days=n) for n in range(14)]


# --- what is published -------------------------------------------------------------------------


def test_each_day_is_published_as_day_started_with_a_deterministic_id(
    app: ClockApplication,
) -> None:
    app.start_manual(date(2026, 1, 5))
    app.advance(2, mode="manual", cause_id="req-1")
    first, second = days_started(app), days_started(app)
    assert first == second, "mapping a stored event again gives the same event"
    assert [d.aggregate_version for d in first] == [2, 3, 4]  # version 1 opened the calendar
    for day in first:
        assert day.event_id == derived_event_id("clock", CALENDAR_ID, day.aggregate_version, 0)
        assert day.tenant == PLATFORM_TENANT
        assert day.aggregate_id == str(CALENDAR_ID)
        assert day.partition_key() == str(CALENDAR_ID).encode()
        # As consumers read it from the topic.
        assert parse_event(day.model_dump_json().encode()) == day
    assert [d.causation_id for d in first] == ["manual-start", "req-1", "req-1"]
    assert len({d.event_id for d in first}) == 3


# --- commands ----------------------------------------------------------------------------------


def test_advance_command_answers_the_clock_state(app: ClockApplication) -> None:
    app.start_manual(date(2026, 1, 5))
    reply = answer_advance(app, b'{"days": 3}', mode="manual", cause_id="req-1")
    assert not reply.error
    assert ClockState.model_validate_json(reply.body) == ClockState(
        mode="manual", today=date(2026, 1, 8)
    )
    assert reply.recorded is not None and len(reply.recorded.dates) == 3


def test_a_wall_clock_refuses_to_advance(app: ClockApplication) -> None:
    app.catch_up_wall(at(date(2026, 1, 5), 9), SIX)
    reply = answer_advance(app, b'{"days": 3}', mode="wall", cause_id="req-1")
    assert reply.error
    body = json.loads(reply.body)
    assert body["status"] == 409 and body["code"] == "clock_not_manual"
    assert "manual" in body["message"]
    assert app.today() == date(2026, 1, 5)


@pytest.mark.parametrize("body", [b"", b"{}", b'{"days": 0}', b'{"days": "x"}', b"[1]", b"\xff"])
def test_an_invalid_command_is_refused_with_422(app: ClockApplication, body: bytes) -> None:
    app.start_manual(date(2026, 1, 5))
    reply = answer_advance(app, body, mode="manual", cause_id="req-1")
    assert reply.error
    refused = json.loads(reply.body)
    assert refused["status"] == 422 and refused["code"] == "validation_failed"
    assert app.today() == date(2026, 1, 5)


def test_dates_are_said_in_pt_br() -> None:
    assert describe_date(date(2026, 1, 8)) == "08/01/2026 (quinta-feira)"
    assert describe_date(date(2026, 1, 9)) == "09/01/2026 (sexta-feira)"
    assert describe_date(date(2026, 1, 10)) == "10/01/2026 (sábado, não é dia útil)"
    assert describe_date(date(2026, 12, 25)) == "25/12/2026 (sexta-feira, não é dia útil)"
