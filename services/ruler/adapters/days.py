"""The business clock's last day as the ruler sees it: the latest `DayStarted`, with whether it
is a business day. A run an admin asks for ("run the ruler now") runs that day, and only when
the daily run would (a business day).

The process's `BusinessClock` keeps only the date; the flag comes from the clock service's
event (weekends and national holidays are its call, not this service's). Like the clock
follower, the subscriber belongs to no consumer group and reads `clock.days` from the start
each time the process starts: one small message per date."""

from __future__ import annotations

import logging
import threading
from typing import Any

from faststream.kafka import KafkaBroker

from contracts.clock import CLOCK_TOPIC, DayStarted
from contracts.registry import UnknownEventType, parse_event
from service_runtime.kafka import follow_without_group

log = logging.getLogger(__name__)


class LastDay:
    """The latest DayStarted read; None before the first."""

    def __init__(self) -> None:
        self._day: DayStarted | None = None
        self._lock = threading.Lock()

    @property
    def day(self) -> DayStarted | None:
        return self._day

    def observe(self, day: DayStarted) -> None:
        """Only a later date moves it: a day read again (a restart, a topic republished)
        changes nothing."""
        with self._lock:
            if self._day is None or day.date > self._day.date:
                self._day = day

    def apply(self, *values: bytes | str | None) -> None:
        for value in values:
            try:
                event = parse_event(value)
            except (UnknownEventType, ValueError) as exc:
                log.warning("ruler days: skipping a message of %s: %s", CLOCK_TOPIC, exc)
                continue
            if isinstance(event, DayStarted):
                self.observe(event)

    def follow(self, broker: KafkaBroker, consumer_kwargs: dict[str, Any]) -> Any:
        """Subscribe to the clock topic; declare it before the broker starts."""
        return follow_without_group(
            broker,
            CLOCK_TOPIC,
            consumer_kwargs,
            self.apply,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=50,
            max_records=500,
        )
