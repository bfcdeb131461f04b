"""What the ruler reads: the receivables (debts, agreements, invoices), applied to its table
with receivables that leave or come back handed to the application; the erasures of debtors'
personal data (`privacy.erasures`), which scrub the table; and the business clock's days,
each business day run once. Positions are stored after the work is saved: a
batch read again after a crash changes nothing (every step is idempotent)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import Engine

from contracts.clock import CLOCK_TOPIC, DayStarted
from contracts.envelope import Envelope
from contracts.negotiation import AGREEMENTS_TOPIC, INVOICES_TOPIC
from contracts.personal import ERASURES_TOPIC, PersonalDataErased
from contracts.portfolio import DEBTS_TOPIC
from contracts.registry import UnknownEventType, parse_event
from service_runtime.projection import (
    RecordsByPartition,
    offsets_metadata,
    store_position,
    stored_positions,
)
from services.ruler.adapters.receivables import ReceivablesTable
from services.ruler.application import RulerApplication

log = logging.getLogger(__name__)


class _Positioned:
    name: str
    topics: tuple[str, ...]

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.epoch: str | None = None
        offsets_metadata.create_all(engine)

    def stored_positions(self) -> dict[tuple[str, int], tuple[int, str | None, str | None]]:
        return stored_positions(self.engine, self.name)

    def _events(self, records_by_tp: RecordsByPartition) -> list[Envelope]:
        events = []
        for tp, records in records_by_tp.items():
            for record in records:
                try:
                    events.append(parse_event(record.value))
                except (UnknownEventType, ValueError) as exc:
                    log.warning("%s: skipping %s@%d: %s", self.name, tp, record.offset, exc)
        return events

    def _store(self, records_by_tp: RecordsByPartition) -> None:
        with self.engine.begin() as conn:
            for tp, records in records_by_tp.items():
                store_position(conn, self.name, tp, records[-1], self.epoch)


class ReceivablesApplier(_Positioned):
    name = "ruler.receivables"
    topics: tuple[str, ...] = (DEBTS_TOPIC, AGREEMENTS_TOPIC, INVOICES_TOPIC)

    def __init__(
        self,
        app: RulerApplication,
        table: ReceivablesTable,
        engine: Engine,
        today: Callable[[], object],
    ) -> None:
        super().__init__(engine)
        self.app = app
        self.table = table
        self.today = today

    def apply_records(self, records_by_tp: RecordsByPartition) -> None:
        events = self._events(records_by_tp)
        # The vault's secrets of the whole batch in one query, before its transaction.
        self.table.prepare(events)
        with self.engine.begin() as conn:
            exits, reentries = self.table.apply(conn, events)
            # Inside the table's transaction: if finalizing fails, nothing of the batch is
            # kept and it is read again (finalizing twice changes nothing).
            if exits or reentries:
                self.app.handle_moves(exits, reentries, self.today())  # type: ignore[arg-type]
            for tp, records in records_by_tp.items():
                store_position(conn, self.name, tp, records[-1], self.epoch)


class ErasuresApplier(_Positioned):
    """A debtor's personal data was erased: the vault forgets the keys and the debtor's names
    in the receivables become `REMOVED`, with the position, in one transaction."""

    name = "ruler.erasures"
    topics: tuple[str, ...] = (ERASURES_TOPIC,)

    def __init__(self, table: ReceivablesTable, engine: Engine) -> None:
        super().__init__(engine)
        self.table = table

    def apply_records(self, records_by_tp: RecordsByPartition) -> None:
        events = self._events(records_by_tp)
        with self.engine.begin() as conn:
            for event in events:
                if isinstance(event, PersonalDataErased):
                    scrubbed = self.table.erase(conn, event)
                    log.info(
                        "erasure of a debtor of %s: %d receivable(s) scrubbed",
                        event.tenant,
                        scrubbed,
                    )
            for tp, records in records_by_tp.items():
                store_position(conn, self.name, tp, records[-1], self.epoch)


class DailyRunApplier(_Positioned):
    name = "ruler.daily"
    topics: tuple[str, ...] = (CLOCK_TOPIC,)

    def __init__(self, app: RulerApplication, engine: Engine) -> None:
        super().__init__(engine)
        self.app = app

    def apply_records(self, records_by_tp: RecordsByPartition) -> None:
        for day in self._events(records_by_tp):
            if isinstance(day, DayStarted) and day.business_day:
                counts = self.app.run_day(day.date)
                log.info("business day %s: %s", day.date, counts)
        self._store(records_by_tp)
