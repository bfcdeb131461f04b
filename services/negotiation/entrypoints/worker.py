"""The negotiation service process: answers requests, keeps its copy of the debts (and
scrubs it when a debtor's personal data is erased), ends the agreements whose debts the
creditor withdrew or lowered below what they charge, and runs each business day."""

from __future__ import annotations

from service_runtime.host import ServiceHost, build_host, run_worker
from service_runtime.projection import BatchApplier, PositionedConsumer
from service_runtime.settings import Settings
from service_runtime.stored_aggregates import StoredAggregates
from service_runtime.telemetry import setup_telemetry
from services.negotiation.adapters.daily_run import DailyRunApplier
from services.negotiation.adapters.debts_view import (
    ErasuresProjection,
    NegotiableDebtsProjection,
    SqlDebtLookup,
    SqlErasures,
)
from services.negotiation.adapters.integration_events import IntegrationEvents
from services.negotiation.adapters.withdrawals import WithdrawalsApplier
from services.negotiation.application import NegotiationApplication
from services.negotiation.entrypoints.requests import NegotiationRequests


def build(settings: Settings | None = None) -> ServiceHost:
    mapper = IntegrationEvents()
    host = build_host("negotiation", NegotiationApplication, mapper, settings)
    app: NegotiationApplication = host.application
    erasures = SqlErasures(host.engine)
    mapper.vault, mapper.erased = host.vault, erasures.erased
    mapper.tenant_of = StoredAggregates(app).tenant_of
    app.vault, app.erasures = host.vault, erasures
    debts = NegotiableDebtsProjection(host.vault)
    app.debt_lookup = SqlDebtLookup(host.engine)
    host.consumers.append(
        PositionedConsumer(
            BatchApplier(debts, host.engine),
            host.broker,
            host.bootstrap,
            group_id="negotiation.debts",
            consumer_kwargs=host.consumer_kwargs,
            max_records=host.settings.consumer_max_records,
            topics=host.topic_layout,
        )
    )
    # A debtor's personal data erased (privacy.erasures): forget the keys, scrub the names.
    host.consumers.append(
        PositionedConsumer(
            BatchApplier(ErasuresProjection(host.vault), host.engine),
            host.broker,
            host.bootstrap,
            group_id="negotiation.erasures",
            consumer_kwargs=host.consumer_kwargs,
            max_records=host.settings.consumer_max_records,
            topics=host.topic_layout,
        )
    )
    # The creditor withdrew a debt (DebtWithdrawn), or lowered its amount below what its
    # agreement charges (DebtUpdated): its active agreement ends.
    withdrawals = PositionedConsumer(
        WithdrawalsApplier(app, host.engine, host.clock.today),
        host.broker,
        host.bootstrap,
        group_id="negotiation.withdrawals",
        consumer_kwargs=host.consumer_kwargs,
        max_records=host.settings.consumer_max_records,
        topics=host.topic_layout,
    )
    withdrawals.after_batch = host.relay.wake
    host.consumers.append(withdrawals)
    daily = PositionedConsumer(
        DailyRunApplier(app, host.engine),
        host.broker,
        host.bootstrap,
        group_id="negotiation.daily",
        consumer_kwargs=host.consumer_kwargs,
        max_records=50,
        topics=host.topic_layout,
    )
    daily.after_batch = host.relay.wake
    host.consumers.append(daily)
    NegotiationRequests(host, app)
    return host


def main() -> None:
    settings = Settings()
    setup_telemetry("negotiation", settings)
    run_worker(build(settings))
