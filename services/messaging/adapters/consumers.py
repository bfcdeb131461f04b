"""What the messaging service reads: the messages asked for on `messaging.requested`
(accepted once per key, in the same batch as their position), and the debtors' contacts."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from sqlalchemy import Engine

from contracts.registry import UnknownEventType, parse_event
from contracts.ruler import MESSAGES_REQUESTED_TOPIC, MessageRequested
from service_runtime.projection import (
    RecordsByPartition,
    offsets_metadata,
    store_position,
    stored_positions,
)
from services.messaging.adapters.exits import create_tables as create_exits_tables
from services.messaging.adapters.exits import finalization_exits, record_exits
from services.messaging.application import MessagingApplication

log = logging.getLogger(__name__)


class RequestedApplier:
    name = "messaging.requested"
    topics: tuple[str, ...] = (MESSAGES_REQUESTED_TOPIC,)

    def __init__(
        self, app: MessagingApplication, engine: Engine, now: Callable[[], dt.datetime]
    ) -> None:
        self.app = app
        self.engine = engine
        self.now = now
        self.epoch: str | None = None
        offsets_metadata.create_all(engine)
        create_exits_tables(engine)

    def stored_positions(self) -> dict[tuple[str, int], tuple[int, str | None, str | None]]:
        return stored_positions(self.engine, self.name)

    def apply_records(self, records_by_tp: RecordsByPartition) -> None:
        requests: list[MessageRequested] = []
        for tp, records in records_by_tp.items():
            for record in records:
                try:
                    event = parse_event(record.value)
                except (UnknownEventType, ValueError) as exc:
                    log.warning("%s: skipping %s@%d: %s", self.name, tp, record.offset, exc)
                    continue
                if isinstance(event, MessageRequested):
                    requests.append(event)
        # An exit the ruler's finalization messages tell is kept before the batch's
        # requests are accepted: a collection message of the same receivable read with them
        # (or after) is not queued (the exit on `ruler.stages` may come later).
        exits = finalization_exits(requests)
        if exits:
            with self.engine.begin() as conn:
                record_exits(conn, exits)
        now = self.now()
        # A debtor this service has not read yet (its contact is on its way on another topic)
        # waits for it, rather than failing for want of a phone it will have in a moment.
        assert self.app.contacts is not None
        known = self.app.contacts.known((r.tenant, r.document) for r in requests)
        ready = [r for r in requests if (r.tenant, r.document) in known]
        later = [r for r in requests if (r.tenant, r.document) not in known]
        # Saved before the position: a batch read again is accepted once (by key).
        self.app.handle_requests(ready, now)
        with self.engine.begin() as conn:
            self.app.contacts.wait(conn, later, now)
            for tp, records in records_by_tp.items():
                store_position(conn, self.name, tp, records[-1], self.epoch)
