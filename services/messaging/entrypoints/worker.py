"""The messaging service process: accepts the messages asked for, sends them in their windows
(a dispatcher every second), and answers template, settings and opt-out requests."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable

from contracts.messaging_requests import MESSAGING_REPLIES_TOPIC, MessagingSettings
from contracts.negotiation_requests import REQUESTS_TOPIC as NEGOTIATION_REQUESTS
from contracts.negotiation_requests import NegotiationRequestBody
from service_runtime.document_links import DocumentLinks
from service_runtime.host import ServiceHost, build_host, run_worker
from service_runtime.projection import BatchApplier, PositionedConsumer
from service_runtime.request_reply import KafkaRequester
from service_runtime.service_client import ServiceClient
from service_runtime.settings import Settings
from service_runtime.stored_aggregates import StoredAggregates
from service_runtime.telemetry import count_message_sent, setup_telemetry
from services.messaging.adapters.channels import (
    Channel,
    OutgoingMessage,
    SendResult,
    TemporaryFailure,
    channel_from_settings,
)
from services.messaging.adapters.consumers import RequestedApplier
from services.messaging.adapters.contacts import (
    ContactBook,
    ContactsProjection,
    ErasuresProjection,
)
from services.messaging.adapters.daily_notification import PortalNotificationApplier
from services.messaging.adapters.exits import Exits, ExitsProjection
from services.messaging.adapters.integration_events import IntegrationEvents
from services.messaging.adapters.negotiation import KafkaNegotiation
from services.messaging.adapters.second_factors import SecondFactors, SecondFactorsProjection
from services.messaging.application import MessagingApplication
from services.messaging.application.conversations import Conversations
from services.messaging.entrypoints.requests import MessagingRequests

log = logging.getLogger(__name__)


async def dispatch_forever(host: ServiceHost, app: MessagingApplication) -> None:
    await asyncio.to_thread(app.rebuild_queue)
    while True:
        try:
            decided = await asyncio.to_thread(app.accept_waiting, host.clock.now())
            sent = await asyncio.to_thread(app.dispatch_due, host.clock.now())
            if sent or decided:
                host.relay.wake()
        except Exception:
            log.exception("dispatching messages failed; trying again")
        await asyncio.sleep(1.0)


class MeteredChannel:
    """A channel that counts what it is given to send (the telemetry's
    `cobranca.messages.sent`, per channel and outcome: sent, refused, retry, failed)."""

    def __init__(self, inner: Channel, channel: str) -> None:
        self.inner = inner
        self.channel = channel
        self.name = inner.name

    def send(self, message: OutgoingMessage) -> SendResult:
        try:
            result = self.inner.send(message)
        except TemporaryFailure:
            count_message_sent(self.channel, "retry")
            raise
        except Exception:
            count_message_sent(self.channel, "failed")
            raise
        count_message_sent(self.channel, "sent" if result.accepted else "refused")
        return result


def metered_channels(app: MessagingApplication) -> Callable[[str, str, MessagingSettings], Channel]:
    """The application's channels (as `MessagingApplication.channel_for` builds them from the
    tenant's settings), each wrapped in a MeteredChannel."""

    def channel_for(tenant: str, channel: str, settings: MessagingSettings) -> Channel:
        inner = channel_from_settings(
            channel,
            settings.channels.get(channel, {}),  # type: ignore[call-overload]
            app.outbox_dir / tenant,
            lambda: dt.datetime.now(dt.UTC),
        )
        return MeteredChannel(inner, channel)

    return channel_for


def build(settings: Settings | None = None) -> ServiceHost:
    mapper = IntegrationEvents()
    host = build_host("messaging", MessagingApplication, mapper, settings)
    app: MessagingApplication = host.application
    mapper.aggregates = StoredAggregates(app)
    app.contacts = ContactBook(host.engine)
    app.second_factors = SecondFactors(host.engine)
    app.exits = Exits(host.engine)
    app.vault = host.vault
    app.outbox_dir = host.settings.service_dir("messaging") / "outbox"
    # Messages sent per channel are counted where a channel sends them.
    app.channel_factory = metered_channels(app)
    contacts = PositionedConsumer(
        BatchApplier(ContactsProjection(host.vault), host.engine),
        host.broker,
        host.bootstrap,
        group_id="messaging.contacts",
        consumer_kwargs=host.consumer_kwargs,
        max_records=host.settings.consumer_max_records,
        topics=host.topic_layout,
    )
    requested = PositionedConsumer(
        RequestedApplier(app, host.engine, host.clock.now),
        host.broker,
        host.bootstrap,
        group_id="messaging.requested",
        consumer_kwargs=host.consumer_kwargs,
        max_records=host.settings.consumer_max_records,
        topics=host.topic_layout,
    )
    requested.after_batch = host.relay.wake
    days = PositionedConsumer(
        PortalNotificationApplier(app, host.engine, host.clock.now),
        host.broker,
        host.bootstrap,
        group_id="messaging.days",
        consumer_kwargs=host.consumer_kwargs,
        max_records=host.settings.consumer_max_records,
        topics=host.topic_layout,
    )
    days.after_batch = host.relay.wake
    # A debtor's erasure (LGPD): the keys forgotten here, the clear contacts deleted.
    erasures = PositionedConsumer(
        BatchApplier(ErasuresProjection(host.vault), host.engine),
        host.broker,
        host.bootstrap,
        group_id="messaging.erasures",
        consumer_kwargs=host.consumer_kwargs,
        max_records=host.settings.consumer_max_records,
        topics=host.topic_layout,
    )
    # The tenants' second factors (the gateway's portal profiles): the chatbot asks them too.
    second_factors = PositionedConsumer(
        BatchApplier(SecondFactorsProjection(), host.engine),
        host.broker,
        host.bootstrap,
        group_id="messaging.second_factors",
        consumer_kwargs=host.consumer_kwargs,
        max_records=host.settings.consumer_max_records,
        topics=host.topic_layout,
    )
    # The receivables that left collection (the ruler's exits): their collection messages
    # still waiting are not sent.
    exits = PositionedConsumer(
        BatchApplier(ExitsProjection(), host.engine),
        host.broker,
        host.bootstrap,
        group_id="messaging.exits",
        consumer_kwargs=host.consumer_kwargs,
        max_records=host.settings.consumer_max_records,
        topics=host.topic_layout,
    )
    host.consumers.extend([contacts, requested, days, erasures, second_factors, exits])
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
    # One base for the portal links and the signed document links.
    app.base_url = host.settings.base_url
    links = DocumentLinks(key=host.settings.signing_key(), base_url=app.base_url)
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
    settings = Settings()
    setup_telemetry("messaging", settings)
    run_worker(build(settings))
