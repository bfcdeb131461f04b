"""The messaging service process: accepts the messages asked for, sends them in their windows
(a dispatcher every second), and answers template, settings and opt-out requests."""

from __future__ import annotations

import asyncio
import logging

from contracts.messaging_requests import MESSAGING_REPLIES_TOPIC
from contracts.negotiation_requests import REQUESTS_TOPIC as NEGOTIATION_REQUESTS
from contracts.negotiation_requests import NegotiationRequestBody
from service_runtime.document_links import DocumentLinks
from service_runtime.host import ServiceHost, build_host, run_worker
from service_runtime.projection import BatchApplier, PositionedConsumer
from service_runtime.request_reply import KafkaRequester
from service_runtime.service_client import ServiceClient
from service_runtime.settings import Settings
from services.messaging.adapters.consumers import RequestedApplier
from services.messaging.adapters.contacts import ContactBook, ContactsProjection
from services.messaging.adapters.daily_notification import PortalNotificationApplier
from services.messaging.adapters.integration_events import integration_events
from services.messaging.adapters.negotiation import KafkaNegotiation
from services.messaging.application import MessagingApplication
from services.messaging.application.conversations import Conversations
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
    days = PositionedConsumer(
        PortalNotificationApplier(app, host.engine, host.clock.now),
        host.broker,
        host.bootstrap,
        group_id="messaging.days",
        consumer_kwargs=host.consumer_kwargs,
        max_records=host.settings.consumer_max_records,
        topic_partitions=host.settings.topic_partitions,
    )
    days.after_batch = host.relay.wake
    host.consumers.extend([contacts, requested, days])
    # The chatbot negotiates through the negotiation service: its answers come back here.
    requester = KafkaRequester(
        host.broker,
        MESSAGING_REPLIES_TOPIC,
        default_timeout=host.settings.request_timeout_seconds,
        **host.consumer_kwargs,
    )
    negotiation = KafkaNegotiation(
        ServiceClient("negotiation", requester, NEGOTIATION_REQUESTS, NegotiationRequestBody),
        host.settings.request_timeout_seconds,
    )
    links = DocumentLinks(key=host.settings.signing_key(), base_url=host.settings.base_url)
    MessagingRequests(host, app, Conversations(app, negotiation, links))

    async def negotiation_ready() -> None:
        await requester.wait_ready(120)
        negotiation.loop = asyncio.get_running_loop()

    host.on_started.append(
        lambda: host.background.extend(
            [
                asyncio.create_task(dispatch_forever(host, app)),
                asyncio.create_task(negotiation_ready()),
            ]
        )
    )
    return host


def main() -> None:
    run_worker(build())
