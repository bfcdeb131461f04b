"""Reading `negotiation.agreements`: broken and fulfilled agreements change the debts. The
position is stored after the debts are saved; a batch read again changes nothing."""

from __future__ import annotations

import logging

from sqlalchemy import Engine

from contracts.envelope import Envelope
from contracts.negotiation import AGREEMENTS_TOPIC
from contracts.registry import UnknownEventType, parse_event
from service_runtime.projection import (
    RecordsByPartition,
    offsets_metadata,
    store_position,
    stored_positions,
)
from services.portfolio.application.agreements import apply_agreement_outcomes
from services.portfolio.application.importing import PortfolioApplication

log = logging.getLogger(__name__)


class AgreementOutcomesApplier:
    name = "portfolio.agreements"
    topics: tuple[str, ...] = (AGREEMENTS_TOPIC,)

    def __init__(self, app: PortfolioApplication, engine: Engine) -> None:
        self.app = app
        self.engine = engine
        self.epoch: str | None = None
        offsets_metadata.create_all(engine)

    def stored_positions(self) -> dict[tuple[str, int], tuple[int, str | None, str | None]]:
        return stored_positions(self.engine, self.name)

    def apply_records(self, records_by_tp: RecordsByPartition) -> None:
        events: list[Envelope] = []
        for tp, records in records_by_tp.items():
            for record in records:
                try:
                    events.append(parse_event(record.value))
                except (UnknownEventType, ValueError) as exc:
                    log.warning("%s: skipping %s@%d: %s", self.name, tp, record.offset, exc)
        apply_agreement_outcomes(self.app, events)
        with self.engine.begin() as conn:
            for tp, records in records_by_tp.items():
                store_position(conn, self.name, tp, records[-1], self.epoch)
