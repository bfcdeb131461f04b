"""Reading the business clock's `DayStarted` events: each business day runs once over the
agreements (overdue invoices, broken agreements), in date order, and the position is kept
in the service's database after the run, so a day is run again only after a crash (and a
day run twice changes nothing: each invoice is noted overdue once per date)."""

from __future__ import annotations

import logging

from sqlalchemy import Engine

from contracts.clock import CLOCK_TOPIC, DayStarted
from contracts.registry import UnknownEventType, parse_event
from service_runtime.projection import (
    RecordsByPartition,
    offsets_metadata,
    store_position,
    stored_positions,
)
from services.negotiation.application import NegotiationApplication

log = logging.getLogger(__name__)


class DailyRunApplier:
    name = "negotiation.daily"
    topics: tuple[str, ...] = (CLOCK_TOPIC,)

    def __init__(self, app: NegotiationApplication, engine: Engine) -> None:
        self.app = app
        self.engine = engine
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
                    changed = self.app.run_day(day.date)
                    self.days_run += 1
                    log.info("business day %s: %d agreement(s) changed", day.date, changed)
            with self.engine.begin() as conn:
                store_position(conn, self.name, tp, records[-1], self.epoch)
