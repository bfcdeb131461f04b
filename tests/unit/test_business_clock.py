"""Every process's business clock: the latest DayStarted it read, never moving back; before
the first one, a fallback (the manual clock's start, COBRANCA_TODAY, or the date in São Paulo)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
from datetime import date

import pytest
from faststream.kafka import KafkaBroker

from contracts.clock import CLOCK_TOPIC, DayStarted
from service_runtime.clock import BUSINESS_TZ, BusinessClock, wall_today
from service_runtime.clock_follower import ClockFollower
from service_runtime.settings import Settings


def day_started(day: date, version: int = 2) -> bytes:
    return (
        DayStarted(
            event_id=uuid.uuid4(),
            occurred_at=dt.datetime.now(dt.UTC),
            tenant="platform",
            aggregate_id="calendar",
            aggregate_version=version,
            correlation_id="test",
            causation_id="test",
            date=day,
            business_day=True,
            mode="manual",
        )
        .model_dump_json()
        .encode()
    )


def test_before_any_day_started_the_pinned_date_is_today(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = BusinessClock(date(2026, 11, 25))
    with caplog.at_level(logging.INFO, logger="service_runtime.clock"):
        assert clock.today() == date(2026, 11, 25)
        assert clock.today() == date(2026, 11, 25)
    assert clock.observed is None
    fallback_logs = [r for r in caplog.records if "no DayStarted" in r.getMessage()]
    assert len(fallback_logs) == 1, "the fallback is said once"
    assert fallback_logs[0].levelno == logging.INFO


def test_without_a_pin_the_fallback_is_the_date_in_sao_paulo() -> None:
    clock = BusinessClock()
    assert clock.today() in {wall_today(), dt.datetime.now(BUSINESS_TZ).date()}


def test_observed_days_win_and_the_clock_never_moves_back() -> None:
    clock = BusinessClock(date(2026, 11, 25))
    assert clock.observe(date(2026, 1, 5)) is True  # the clock topic beats the pin
    assert clock.today() == date(2026, 1, 5)
    assert clock.observe(date(2026, 1, 8)) is True
    assert clock.observe(date(2026, 1, 6)) is False  # read again after a restart
    assert clock.observe(date(2026, 1, 8)) is False
    assert clock.today() == clock.observed == date(2026, 1, 8)
    now = clock.now()
    assert now.tzinfo is not None
    assert now.astimezone(BUSINESS_TZ).date() == date(2026, 1, 8)


def test_the_fallback_follows_the_settings() -> None:
    manual = Settings(clock_mode="manual", clock_start="2026-01-05", today="2026-11-25")
    assert BusinessClock.from_settings(manual).today() == date(2026, 1, 5)
    pinned = Settings(clock_mode="wall", clock_start="2026-01-05", today="2026-11-25")
    assert BusinessClock.from_settings(pinned).today() == date(2026, 11, 25)
    assert BusinessClock.from_settings(Settings(today=None)).observed is None


async def test_wait_for_returns_once_the_date_is_observed() -> None:
    clock = BusinessClock(date(2026, 1, 5))
    waiter = asyncio.create_task(clock.wait_for(date(2026, 1, 7), timeout=5))
    await asyncio.sleep(0)
    clock.observe(date(2026, 1, 6))
    await asyncio.sleep(0.01)
    assert not waiter.done()
    clock.observe(date(2026, 1, 9))
    assert await waiter == date(2026, 1, 9)
    # Already there: at once.
    assert await clock.wait_for(date(2026, 1, 8), timeout=0.01) == date(2026, 1, 9)
    with pytest.raises(TimeoutError):
        await clock.wait_for(date(2026, 2, 1), timeout=0.05)


async def test_wait_for_is_woken_from_another_thread() -> None:
    clock = BusinessClock()
    waiter = asyncio.create_task(clock.wait_for(date(2026, 1, 5), timeout=5))
    await asyncio.sleep(0)
    await asyncio.to_thread(clock.observe, date(2026, 1, 5))
    assert await waiter == date(2026, 1, 5)


def test_the_follower_moves_the_clock_with_each_day_started() -> None:
    clock = BusinessClock(date(2026, 11, 25))
    follower = ClockFollower(clock, KafkaBroker("127.0.0.1:1"), {"auto_offset_reset": "latest"})
    assert [t.name for t in follower.subscriber.topics] == [CLOCK_TOPIC]
    follower.apply(day_started(date(2026, 1, 5)))
    follower.apply(b"not an event")
    follower.apply(day_started(date(2026, 1, 6)))
    follower.apply(day_started(date(2026, 1, 5)))
    assert clock.today() == date(2026, 1, 6)
    assert follower.days_read == 3
    # A batch (a process reading the topic from the start) moves the clock once, to its latest.
    follower.apply(day_started(date(2026, 1, 9)), b"{}", day_started(date(2026, 1, 7)))
    assert clock.today() == date(2026, 1, 9)
    assert follower.days_read == 5
