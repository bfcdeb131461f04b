"""Every process follows the business clock: a subscriber on `clock.days` that moves the
process's `BusinessClock` to each `DayStarted` it reads.

Every process of every service must see every day, so the subscriber belongs to no consumer
group (Kafka assigns it every partition; nothing is committed) and starts from the beginning
of the topic each time the process starts: the topic holds one small message per date. A
broker that forgot the topic (Tansu restarted) is read again from the start once the clock's
relay has published it again; the clock never moves back, so reading a day twice changes
nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from faststream.kafka import KafkaBroker

from contracts.clock import CLOCK_TOPIC, DayStarted
from contracts.registry import UnknownEventType, parse_event
from service_runtime.clock import BusinessClock
from service_runtime.kafka import follow_without_group

log = logging.getLogger(__name__)


class ClockFollower:
    """Declare it before the broker starts (a subscriber added to a running broker would have
    to be started by hand)."""

    def __init__(
        self,
        clock: BusinessClock,
        broker: KafkaBroker,
        consumer_kwargs: dict[str, Any],
        max_records: int = 500,
    ) -> None:
        self.clock = clock
        self.days_read = 0
        #: The latest DayStarted read (None before the first): its date and whether it is a
        #: business day (weekends and holidays are the clock service's call).
        self.last_day: DayStarted | None = None
        self.subscriber = follow_without_group(
            broker,
            CLOCK_TOPIC,
            consumer_kwargs,
            self.apply,
            # Every day from the first, in every process.
            auto_offset_reset="earliest",
            # A new day should reach every process at once (`clock advance` waits for it).
            fetch_max_wait_ms=50,
            max_records=max_records,
        )

    def apply(self, *values: bytes | str | None) -> None:
        """Messages of the clock topic: the clock moves to the latest DayStarted among them (a
        process reading years of days at start moves once, not once a day)."""
        latest: DayStarted | None = None
        for value in values:
            try:
                event = parse_event(value)
            except (UnknownEventType, ValueError) as exc:
                log.warning("clock follower: skipping a message of %s: %s", CLOCK_TOPIC, exc)
                continue
            if isinstance(event, DayStarted):
                self.days_read += 1
                if latest is None or event.date > latest.date:
                    latest = event
        # Only a later date moves it: a day read again (a restart, a republished topic) does not.
        if latest is not None and (self.last_day is None or latest.date > self.last_day.date):
            self.last_day = latest
        if latest is not None:
            self.clock.observe(latest.date)
