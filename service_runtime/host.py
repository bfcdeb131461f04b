"""What every service process is made of: settings, the business clock (following the clock
topic), event store, its own database, the Kafka broker and the outbox relay; and the loop that
runs a worker service."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from eventsourcing.application import Application
from faststream import FastStream
from faststream.kafka import KafkaBroker
from sqlalchemy import Engine

from contracts.topics import REQUEST_TOPICS, TOPICS
from service_runtime.clock import BusinessClock
from service_runtime.clock_follower import ClockFollower
from service_runtime.database import service_engine, vault_engine
from service_runtime.erasure_follower import ErasureFollower
from service_runtime.eventstore import build_application
from service_runtime.kafka import TopicLayout, bootstrap_servers, consumer_settings, make_broker
from service_runtime.outbox import EventMapper, OutboxRelay
from service_runtime.personal_data import KeyVault, SqlKeyVault
from service_runtime.settings import Settings
from service_runtime.telemetry import instrument_engine

log = logging.getLogger(__name__)

A = TypeVar("A", bound=Application[Any])


@dataclass
class ServiceHost:
    service: str
    settings: Settings
    clock: BusinessClock
    broker: KafkaBroker
    bootstrap: str
    application: Any
    engine: Engine
    relay: OutboxRelay
    # The debtors' keys, to seal and open personal data (see service_runtime.personal_data).
    vault: KeyVault
    background: list[asyncio.Task[Any]] = field(default_factory=list)
    consumers: list[Any] = field(default_factory=list)
    # Called once the broker runs (to start a service's own loops).
    on_started: list[Callable[[], None]] = field(default_factory=list)
    # Moves `clock` to every DayStarted of the clock topic (see service_runtime.clock_follower).
    clock_follower: ClockFollower | None = None

    @property
    def consumer_kwargs(self) -> dict[str, Any]:
        return consumer_settings(self.settings)

    @property
    def topic_layout(self) -> TopicLayout:
        return TopicLayout.from_settings(self.settings)

    async def start_background_topics(self) -> None:
        await self.topic_layout.ensure(self.bootstrap, (*TOPICS, *REQUEST_TOPICS))

    def running(self) -> None:
        """The service has started: what exists now (modules, models, engines, subscribers)
        lives as long as the process, so the garbage collector's full passes stop walking it
        (they took a quarter of a projection's CPU, most of it over these objects)."""
        gc.freeze()
        log.info("%s is running (Kafka at %s)", self.service, self.bootstrap)

    async def stop_background(self) -> None:
        for consumer in self.consumers:
            await consumer.stop()
        await self.relay.stop()
        for task in self.background:
            task.cancel()


def build_host(
    service: str,
    app_class: type[A],
    mapper: EventMapper,
    settings: Settings | None = None,
) -> ServiceHost:
    settings = settings or Settings()
    bootstrap = bootstrap_servers(settings)
    broker = make_broker(settings, client_id=service)
    application = build_application(app_class, settings, service)
    engine = service_engine(settings, service)
    # Statements as spans inside traced operations (a no-op unless telemetry is on).
    instrument_engine(engine)
    relay = OutboxRelay(
        name=service,
        application=application,
        mapper=mapper,
        broker=broker,
        bootstrap=bootstrap,
        engine=engine,
        batch_size=settings.relay_batch_size,
        poll_interval=settings.relay_poll_interval,
        check_interval=settings.relay_check_interval,
        lease_seconds=settings.relay_lease_seconds,
        topics=TopicLayout.from_settings(settings),
    )
    # "Today" comes from the clock topic: declared first, so it is the first subscriber to start.
    clock = BusinessClock.from_settings(settings)
    follower = ClockFollower(clock, broker, consumer_settings(settings))
    vault = SqlKeyVault(vault_engine(settings), settings.vault_cache_seconds)
    # Keys an erasure destroyed leave this process's cache at once (see personal_data).
    ErasureFollower(vault, broker, consumer_settings(settings))
    return ServiceHost(
        service=service,
        settings=settings,
        clock=clock,
        broker=broker,
        bootstrap=bootstrap,
        application=application,
        engine=engine,
        relay=relay,
        vault=vault,
        clock_follower=follower,
    )


def worker_app(host: ServiceHost) -> FastStream:
    """A FastStream application running the host's subscribers and its relay."""
    app = FastStream(host.broker, logger=logging.getLogger(f"cobranca.{host.service}"))

    @app.on_startup
    async def _topics() -> None:
        await host.start_background_topics()

    @app.after_startup
    async def _relay() -> None:
        host.relay.start()
        for consumer in host.consumers:
            consumer.start_verifier()
        for started in host.on_started:
            started()
        host.running()

    @app.on_shutdown
    async def _stop() -> None:
        await host.stop_background()

    return app


def run_worker(host: ServiceHost) -> None:
    asyncio.run(worker_app(host).run())
