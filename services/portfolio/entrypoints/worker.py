"""The portfolio service process: imports rows from `carteiras.inbound`, and settles or
reopens debts as agreements end."""

from __future__ import annotations

from service_runtime.host import ServiceHost, build_host, run_worker
from service_runtime.projection import PositionedConsumer
from service_runtime.settings import Settings
from services.portfolio.adapters.agreement_outcomes import AgreementOutcomesApplier
from services.portfolio.adapters.inbound import InboundApplier
from services.portfolio.adapters.integration_events import integration_events
from services.portfolio.application.importing import PortfolioApplication


def build(settings: Settings | None = None) -> ServiceHost:
    host = build_host("portfolio", PortfolioApplication, integration_events, settings)
    inbound = PositionedConsumer(
        InboundApplier(host.application, host.engine, host.clock),
        host.broker,
        host.bootstrap,
        group_id="portfolio.inbound",
        consumer_kwargs=host.consumer_kwargs,
        max_records=host.settings.consumer_max_records,
        topic_partitions=host.settings.topic_partitions,
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
        topic_partitions=host.settings.topic_partitions,
    )
    outcomes.after_batch = host.relay.wake
    host.consumers.append(outcomes)
    return host


def main() -> None:
    run_worker(build())
