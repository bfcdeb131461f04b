"""Reading `carteiras.inbound`: parse each message, import the batch, remember the position.

The position is stored after the batch is saved in the event store (not in the same
transaction): a batch read again after a crash changes nothing, since rows are idempotent.
A message that is not the contract at all is kept in quarantine, never dropped."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy import Engine

from contracts.carteiras import (
    INBOUND_TOPIC,
    CarteiraImportRequested,
    CarteiraRowSubmitted,
    CarteiraRowSubmittedV2,
    CarteiraRowSubmittedV3,
)
from contracts.envelope import Envelope
from contracts.registry import UnknownEventType, parse_event
from service_runtime.clock import BusinessClock
from service_runtime.projection import (
    RecordsByPartition,
    offsets_metadata,
    store_position,
    stored_positions,
)
from services.portfolio.application.importing import PortfolioApplication, quarantine


class InboundApplier:
    name = "portfolio.inbound"
    topics: tuple[str, ...] = (INBOUND_TOPIC,)

    def __init__(self, app: PortfolioApplication, engine: Engine, clock: BusinessClock) -> None:
        self.app = app
        self.engine = engine
        self.clock = clock
        self.epoch: str | None = None
        offsets_metadata.create_all(engine)

    def stored_positions(self) -> dict[tuple[str, int], tuple[int, str | None, str | None]]:
        return stored_positions(self.engine, self.name)

    def apply_records(self, records_by_tp: RecordsByPartition) -> None:
        accepted: list[Envelope] = []
        for records in records_by_tp.values():
            for record in records:
                event = self._parse(record)
                if event is not None:
                    accepted.append(event)
        if accepted:
            self.app.handle_inbound(accepted, self.clock.today())
        with self.engine.begin() as conn:
            for tp, records in records_by_tp.items():
                store_position(conn, self.name, tp, records[-1], self.epoch)

    def _parse(self, record: Any) -> Envelope | None:
        try:
            event = parse_event(record.value)
            if not isinstance(
                event,
                CarteiraImportRequested
                | CarteiraRowSubmitted
                | CarteiraRowSubmittedV2
                | CarteiraRowSubmittedV3,
            ):
                raise ValueError(f"{event.type} does not belong on {INBOUND_TOPIC}")
            return event
        except (ValidationError, UnknownEventType, ValueError, TypeError) as exc:
            quarantine(
                self.app,
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                key=record.key,
                payload=record.value or b"",
                reason=str(exc)[:2000],
            )
            return None
