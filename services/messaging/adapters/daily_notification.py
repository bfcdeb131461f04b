"""Reading the business clock's `DayStarted` events: when a business day starts, the portal
notification goes out for the tenants that chose its weekday (`MessagingApplication.notify_portal`).
The position is kept in the service's database after the run, so a day is run again only
after a crash, and a day run twice sends nothing new (one message per date and debtor).

A new consumer group reads the clock topic from its start: a day recorded long ago is history,
not a day starting, and sends nothing (else a first start would e-mail every past Monday)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from sqlalchemy import Engine

from contracts.clock import CLOCK_TOPIC, DayStarted
from contracts.registry import UnknownEventType, parse_event
from service_runtime.projection import (
    RecordsByPartition,
    offsets_metadata,
    store_position,
    stored_positions,
)
from services.messaging.application import MessagingApplication

log = logging.getLogger(__name__)

# A DayStarted recorded longer ago than this is read as history (see the module docstring).
STALE_AFTER = dt.timedelta(days=1)


def _wall_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class PortalNotificationApplier:
    name = "messaging.days"
    topics: tuple[str, ...] = (CLOCK_TOPIC,)

    def __init__(
        self,
        app: MessagingApplication,
        engine: Engine,
        now: Callable[[], dt.datetime],
        wall_now: Callable[[], dt.datetime] = _wall_now,
    ) -> None:
        self.app = app
        self.engine = engine
        self.now = now  # the business clock's: when the messages are asked for
        self.wall_now = wall_now  # real time: how old a DayStarted is
        self.epoch: str | None = None
        self.days_run = 0
        offsets_metadata.create_all(engine)

    def stored_positions(self) -> dict[tuple[str, int], tuple[int, str | None, str | None]]:
        return stored_positions(self.engine, self.name)

    def apply_records(self, records_by_tp: RecordsByPartition) -> None:
        for tp, records in records_by_tp.items():
            for record in records:
                try:
                    day = parse_event(record.value)
                except (UnknownEventType, ValueError) as exc:
                    log.warning("clock: skipping %s@%d: %s", tp, record.offset, exc)
                    continue
                if isinstance(day, DayStarted) and day.business_day:
                    self.run_day(day)
            with self.engine.begin() as conn:
                store_position(conn, self.name, tp, records[-1], self.epoch)

    def run_day(self, day: DayStarted) -> int:
        if self.wall_now() - day.occurred_at > STALE_AFTER:
            log.info("business day %s started long ago: no portal notification", day.date)
            return 0
        new = self.app.notify_portal(day.date, self.now())
        self.days_run += 1
        log.info("business day %s: %d portal notification(s) asked for", day.date, new)
        return new
