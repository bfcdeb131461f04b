"""The messaging service process: accepts the messages asked for, sends them in their windows
(a dispatcher every second), and answers template, settings and opt-out requests."""

from __future__ import annotations

import asyncio
import logging

from service_runtime.host import ServiceHost, build_host, run_worker
from service_runtime.projection import BatchApplier, PositionedConsumer
from service_runtime.settings import Settings
from services.messaging.adapters.consumers import RequestedApplier
from services.messaging.adapters.contacts import ContactBook, ContactsProjection
from services.messaging.adapters.integration_events import integration_events
from services.messaging.application import MessagingApplication
from services.messaging.entrypoints.requests import MessagingRequests

log = logging.getLogger(__name__)


async def dispatch_forever(host: ServiceHost, app: MessagingApplication) -> None:
    await asyncio.to_thread(app.rebuild_queue)
    while True:
        try:
            sent = await asyncio.to_thread(app.dispatch_due, host.clock.now())
            if sent:
                host.relay.wake()
        except Exception:
            log.exception("dispatching messages failed; trying again")
        await asyncio.sleep(1.0)


def build(settings: Settings | None = None) -> ServiceHost:
    host = build_host("messaging", MessagingApplication, integration_events, settings)
    app: MessagingApplication = host.application
    app.contacts = ContactBook(host.engine)
    app.outbox_dir = host.settings.service_dir("messaging") / "outbox"
    contacts = PositionedConsumer(
        BatchApplier(ContactsProjection(), host.engine),
        host.broker,
        host.bootstrap,
        group_id="messaging.contacts",
        consumer_kwargs=host.consumer_kwargs,
        max_records=host.settings.consumer_max_records,
        topic_partitions=host.settings.topic_partitions,
    )
    requested = PositionedConsumer(
        RequestedApplier(app, host.engine, host.clock.now),
        host.broker,
        host.bootstrap,
        group_id="messaging.requested",
        consumer_kwargs=host.consumer_kwargs,
        max_records=host.settings.consumer_max_records,
        topic_partitions=host.settings.topic_partitions,
    )
    requested.after_batch = host.relay.wake
    host.consumers.extend([contacts, requested])
    MessagingRequests(host, app)
    host.on_started.append(
        lambda: host.background.append(asyncio.create_task(dispatch_forever(host, app)))
    )
    return host


def main() -> None:
    run_worker(build())
