"""Reading the creditor's withdrawals (`DebtWithdrawn` on `portfolio.debts`): an active
agreement holding a withdrawn debt ends (`NegotiationApplication.debts_withdrawn`); and the
creditor's updates (`DebtUpdated`): an active agreement holding a debt whose original amount
was lowered below what the agreement charges for it ends too
(`NegotiationApplication.debts_lowered`, on the business clock's date). The other events of
the topic are passed over unparsed. The position is kept in the service's database
after the batch is applied, so a batch is read again only after a crash, and a withdrawal read
again changes nothing (its agreement is no longer active)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from sqlalchemy import Engine

from contracts.portfolio import DEBTS_TOPIC, DebtUpdated, DebtUpdatedV2, DebtWithdrawn
from contracts.registry import EVENT_MODELS
from service_runtime.clock import BusinessClock
from service_runtime.projection import (
    RecordsByPartition,
    offsets_metadata,
    parse_records,
    store_positions,
    stored_positions,
)
from services.negotiation.application import NegotiationApplication

log = logging.getLogger(__name__)

# Every event of the topic but the withdrawals and the updates: passed over unparsed.
_UNUSED = frozenset(
    model
    for model in EVENT_MODELS.values()
    if not issubclass(model, DebtWithdrawn | DebtUpdated | DebtUpdatedV2)
)


class WithdrawalsApplier:
    name = "negotiation.withdrawals"
    topics: tuple[str, ...] = (DEBTS_TOPIC,)

    def __init__(
        self,
        app: NegotiationApplication,
        engine: Engine,
        today: Callable[[], dt.date] | None = None,
    ) -> None:
        self.app = app
        self.engine = engine
        # The business clock's date: the day an agreement ends by a lowered amount.
        self.today = today or BusinessClock().today
        self.epoch: str | None = None
        self.skipped = 0
        offsets_metadata.create_all(engine)

    def stored_positions(self) -> dict[tuple[str, int], tuple[int, str | None, str | None]]:
        return stored_positions(self.engine, self.name)

    def _skip(self) -> None:
        self.skipped += 1

    def apply_records(self, records_by_tp: RecordsByPartition) -> None:
        parsed = parse_records(records_by_tp, _UNUSED, self.name, self._skip)
        withdrawals = [
            event
            for events in parsed.values()
            for event in events
            if isinstance(event, DebtWithdrawn)
        ]
        if withdrawals:
            ended = self.app.debts_withdrawn(withdrawals)
            log.info("%d withdrawal(s) read: %d agreement(s) ended", len(withdrawals), ended)
        updates = [
            event
            for events in parsed.values()
            for event in events
            if isinstance(event, DebtUpdated | DebtUpdatedV2)
        ]
        if updates:
            ended = self.app.debts_lowered(updates, self.today())
            if ended:
                log.info("%d update(s) read: %d agreement(s) ended", len(updates), ended)
        with self.engine.begin() as conn:
            store_positions(
                conn,
                self.name,
                ((tp, records[-1]) for tp, records in records_by_tp.items() if records),
                self.epoch,
            )
