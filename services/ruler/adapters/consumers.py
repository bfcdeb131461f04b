"""What the ruler reads: the receivables (debts, agreements, invoices and the payments to
them), applied to its table with receivables that leave or come back handed to the
application; what became of its collection messages (`messaging.messages`: a listing waits
for its notice to be sent); the erasures of debtors' personal data (`privacy.erasures`),
which scrub the table; and the business clock's days, each business day run once. Positions
are stored after the work is saved: a batch read again after a crash changes nothing (every
step is idempotent).

A day is run once and never after a later one: the ruler remembers the last business day it
ran (`ruler_daily_runs`, with the clock topic's position, in one transaction once the day's
run is done), and a `DayStarted` for that day or an earlier one is passed over. The clock's
days are read again whenever the broker's log is not the one the positions refer to (the
embedded Tansu broker keeps its log in memory: after a restart the relays publish every
event again and every consumer reads its topics from offset zero), and a past day run again
would judge today's receivables by that day's date (pre-due reminders for due dates long
past)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from sqlalchemy import Column, Connection, Date, Engine, MetaData, String, Table, select

from contracts.clock import CLOCK_TOPIC, DayStarted
from contracts.envelope import Envelope
from contracts.messaging import MESSAGES_TOPIC
from contracts.negotiation import AGREEMENTS_TOPIC, INVOICES_TOPIC, PAYMENTS_TOPIC
from contracts.personal import ERASURES_TOPIC, PersonalDataErased
from contracts.portfolio import DEBTS_TOPIC
from contracts.registry import UnknownEventType, parse_event
from service_runtime.projection import (
    RecordsByPartition,
    offsets_metadata,
    store_position,
    stored_positions,
)
from services.ruler.adapters.notices import NoticeOutcomes
from services.ruler.adapters.receivables import ReceivablesTable
from services.ruler.application import RulerApplication

log = logging.getLogger(__name__)

daily_metadata = MetaData()
# The last business day the daily run ran (one row).
daily_runs = Table(
    "ruler_daily_runs",
    daily_metadata,
    Column("run", String(20), primary_key=True),
    Column("last_day", Date, nullable=False),
)
_DAILY = "daily"


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
    # The payments: what a partial payment leaves of an installment is what the ruler charges.
    topics: tuple[str, ...] = (DEBTS_TOPIC, AGREEMENTS_TOPIC, INVOICES_TOPIC, PAYMENTS_TOPIC)

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
            # A debt imported enters collection on the business date it is read on (its
            # events carry none); the moves dated after the ruler's runs are held.
            exits, reentries = self.table.apply(conn, events, self.today())  # type: ignore[arg-type]
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


class NoticeOutcomesApplier(_Positioned):
    """What became of the ruler's collection messages (`messaging.messages`: `MessageSent`,
    `MessageFailed`), kept per message key with the position in one transaction: a listing
    waits for its notice to be sent (`NoticeOutcomes`). Read again, nothing changes."""

    name = "ruler.messages"
    topics: tuple[str, ...] = (MESSAGES_TOPIC,)

    def __init__(self, outcomes: NoticeOutcomes, engine: Engine) -> None:
        super().__init__(engine)
        self.outcomes = outcomes

    def apply_records(self, records_by_tp: RecordsByPartition) -> None:
        events = self._events(records_by_tp)
        with self.engine.begin() as conn:
            self.outcomes.record(conn, events)
            for tp, records in records_by_tp.items():
                store_position(conn, self.name, tp, records[-1], self.epoch)


class DailyRunApplier(_Positioned):
    """Each business day's run, once, in the clock's order. After a day's run, the day and the
    position of its `DayStarted` are saved in one transaction: a crash during the run runs
    that same day again (every action has its key, a stage reached or a reminder sent is
    recorded: nothing is asked twice), a crash after it passes the day over. A clock jumped
    over several days publishes each of them, and each later than the last one run is run
    in order, as before. Every day read, business day or not, first finalizes or restarts the
    receivables that left or came back up to it while the runs were behind the receivables'
    consumer (`RulerApplication.release_moves`): a day runs with what was true on it."""

    name = "ruler.daily"
    topics: tuple[str, ...] = (CLOCK_TOPIC,)

    def __init__(self, app: RulerApplication, engine: Engine) -> None:
        super().__init__(engine)
        self.app = app
        daily_metadata.create_all(engine)

    def last_day(self) -> dt.date | None:
        """The last business day the daily run ran, if any."""
        with self.engine.connect() as conn:
            return conn.execute(
                select(daily_runs.c.last_day).where(daily_runs.c.run == _DAILY)
            ).scalar_one_or_none()

    @staticmethod
    def _remember(conn: Connection, day: dt.date) -> None:
        updated = conn.execute(
            daily_runs.update().where(daily_runs.c.run == _DAILY).values(last_day=day)
        )
        if updated.rowcount == 0:
            conn.execute(daily_runs.insert().values(run=_DAILY, last_day=day))

    def apply_records(self, records_by_tp: RecordsByPartition) -> None:
        last = self.last_day()
        for tp, records in records_by_tp.items():
            for record in records:
                try:
                    day = parse_event(record.value)
                except (UnknownEventType, ValueError) as exc:
                    log.warning("%s: skipping %s@%d: %s", self.name, tp, record.offset, exc)
                    continue
                if not isinstance(day, DayStarted):
                    continue
                if not day.business_day:
                    if last is None or day.date > last:
                        # No run, but the receivables that left or came back that day are
                        # finalized or restarted (a payment on a Saturday is told then).
                        self.app.release_moves(day.date)
                    continue
                if last is not None and day.date <= last:
                    log.debug(
                        "business day %s: passed over (the ruler ran %s already)", day.date, last
                    )
                    continue
                counts = self.app.run_day(day.date)
                log.info("business day %s: %s", day.date, counts)
                with self.engine.begin() as conn:
                    self._remember(conn, day.date)
                    store_position(conn, self.name, tp, record, self.epoch)
                last = day.date
        self._store(records_by_tp)
