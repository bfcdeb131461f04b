"""The portfolio service process: imports rows from `carteiras.inbound`, and settles or
reopens debts as agreements end."""

from __future__ import annotations

from collections import Counter
from typing import Any

from contracts.carteiras import (
    CarteiraRowSubmitted,
    CarteiraRowSubmittedV2,
    CarteiraRowSubmittedV3,
)
from contracts.envelope import Envelope
from service_runtime.host import ServiceHost, build_host, run_worker
from service_runtime.projection import PositionedConsumer, RecordsByPartition
from service_runtime.settings import Settings
from service_runtime.telemetry import count_import_rows, setup_telemetry
from services.portfolio.adapters.agreement_outcomes import AgreementOutcomesApplier
from services.portfolio.adapters.inbound import InboundApplier
from services.portfolio.adapters.integration_events import integration_events
from services.portfolio.application.importing import PortfolioApplication, UnreadableRow


class MeteredInboundApplier(InboundApplier):
    """The inbound applier, counting the carteira rows it applies (the telemetry's
    `cobranca.import.rows`, per tenant: its rate is the import's rows per second)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._rows: Counter[str] = Counter()

    def apply_records(self, records_by_tp: RecordsByPartition) -> None:
        # One batch at a time: the positioned consumer awaits each before the next.
        self._rows = Counter()
        super().apply_records(records_by_tp)
        count_import_rows(self._rows)

    def _parse(self, record: Any) -> Envelope | UnreadableRow | None:
        event = super()._parse(record)
        if isinstance(
            event,
            CarteiraRowSubmitted | CarteiraRowSubmittedV2 | CarteiraRowSubmittedV3 | UnreadableRow,
        ):
            self._rows[event.tenant] += 1
        return event


def build(settings: Settings | None = None) -> ServiceHost:
    host = build_host("portfolio", PortfolioApplication, integration_events, settings)
    # Rows are sealed with the debtors' keys before they become debts.
    host.application.vault = host.vault
    inbound = PositionedConsumer(
        MeteredInboundApplier(host.application, host.engine, host.clock),
        host.broker,
        host.bootstrap,
        group_id="portfolio.inbound",
        consumer_kwargs=host.consumer_kwargs,
        max_records=host.settings.consumer_max_records,
        topics=host.topic_layout,
    )
    # New rows saved: publish them now rather than at the relay's next poll.
    inbound.after_batch = host.relay.wake
    host.consumers.append(inbound)
    outcomes = PositionedConsumer(
        AgreementOutcomesApplier(host.application, host.engine),
        host.broker,
        host.bootstrap,
        group_id="portfolio.agreements",
        consumer_kwargs=host.consumer_kwargs,
        max_records=host.settings.consumer_max_records,
        topics=host.topic_layout,
    )
    outcomes.after_batch = host.relay.wake
    host.consumers.append(outcomes)
    return host


def main() -> None:
    settings = Settings()
    setup_telemetry("portfolio", settings)
    run_worker(build(settings))
