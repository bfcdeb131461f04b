"""The gateway service process: HTTP (uvicorn) + projections + relay."""

from __future__ import annotations

from typing import Any

import uvicorn
from litestar import Litestar

from contracts.messaging_requests import REQUESTS_TOPIC as MESSAGING_REQUESTS
from contracts.messaging_requests import MessagingRequestBody
from contracts.negotiation_requests import GATEWAY_REPLIES_TOPIC, NegotiationRequestBody
from contracts.negotiation_requests import REQUESTS_TOPIC as NEGOTIATION_REQUESTS
from contracts.ruler_requests import REQUESTS_TOPIC as RULER_REQUESTS
from contracts.ruler_requests import RulerRequestBody
from service_runtime.database import service_engine
from service_runtime.host import ServiceHost, build_host
from service_runtime.personal_data import KeyVault
from service_runtime.projection import BatchApplier, PositionedConsumer, Projection
from service_runtime.request_reply import KafkaRequester
from service_runtime.service_client import ServiceClient
from service_runtime.settings import Settings
from service_runtime.stored_aggregates import StoredAggregates
from service_runtime.telemetry import instrument_engine, setup_telemetry
from services.gateway.adapters.integration_events import IntegrationEvents
from services.gateway.application.uploads import GatewayApplication
from services.gateway.entrypoints.http.app import create_app
from services.gateway.entrypoints.http.head_requests import AnswerHead
from services.gateway.read_models.analytics import AnalyticsProjection
from services.gateway.read_models.audit import AuditProjection
from services.gateway.read_models.call_list import CallListProjection
from services.gateway.read_models.conversations import ConversationsProjection
from services.gateway.read_models.imports import ImportStatusProjection
from services.gateway.read_models.portal_view import PortalViewProjection
from services.gateway.read_models.timeline import TimelineProjection


def projections(vault: KeyVault, signing_key: str | None = None) -> list[Projection]:
    """The gateway's projections; those that show personal data open it with `vault` (and
    forget erased keys in it). The portal view keys the digests of dates of birth with the
    gateway's `signing_key` (without it, it keeps none)."""
    return [
        PortalViewProjection(vault, signing_key),
        TimelineProjection(vault),
        ImportStatusProjection(),
        CallListProjection(vault),
        ConversationsProjection(vault),
        AuditProjection(),
        AnalyticsProjection(),
    ]


_CLASSES: tuple[type[Projection], ...] = (
    PortalViewProjection,
    TimelineProjection,
    ImportStatusProjection,
    CallListProjection,
    ConversationsProjection,
    AuditProjection,
    AnalyticsProjection,
)
# Their names, in order (what `cobranca replay` accepts), and the topics each reads.
PROJECTION_NAMES: tuple[str, ...] = tuple(cls.name for cls in _CLASSES)
PROJECTION_TOPICS: dict[str, tuple[str, ...]] = {cls.name: cls.topics for cls in _CLASSES}


def build_projections(vault: KeyVault, signing_key: str | None = None) -> dict[str, Projection]:
    """Every projection by name, as `cobranca replay` rebuilds them (with the gateway's
    signing key, so the portal view rebuilt has the digests the live one has)."""
    return {p.name: p for p in projections(vault, signing_key)}


def build(settings: Settings | None = None) -> tuple[ServiceHost, Litestar]:
    mapper = IntegrationEvents()
    host = build_host("gateway", GatewayApplication, mapper, settings)
    mapper.tenant_of = StoredAggregates(host.application).tenant_of
    read_engine = service_engine(host.settings, "gateway", "read")
    instrument_engine(read_engine)
    runners: list[Any] = [
        PositionedConsumer(
            BatchApplier(projection, read_engine),
            host.broker,
            host.bootstrap,
            group_id=f"gateway.{projection.name}",
            consumer_kwargs=host.consumer_kwargs,
            max_records=host.settings.consumer_max_records,
            topics=host.topic_layout,
        )
        for projection in projections(host.vault, host.settings.signing_key())
    ]
    # Declared before the broker starts: FastStream starts the subscribers it knows then.
    requester = KafkaRequester(
        host.broker,
        GATEWAY_REPLIES_TOPIC,
        default_timeout=host.settings.request_timeout_seconds,
        **host.consumer_kwargs,
    )
    return host, create_app(
        host,
        read_engine,
        runners,
        ServiceClient("negotiation", requester, NEGOTIATION_REQUESTS, NegotiationRequestBody),
        ServiceClient("ruler", requester, RULER_REQUESTS, RulerRequestBody),
        ServiceClient("messaging", requester, MESSAGING_REQUESTS, MessagingRequestBody),
    )


def main() -> None:
    # Before build(): the HTTP app gets Litestar's OpenTelemetry plugin when tracing is on.
    setup_telemetry("gateway", Settings())
    host, app = build()
    uvicorn.run(
        AnswerHead(app),
        host=host.settings.http_host,
        port=host.settings.http_port,
        log_level="warning",
        access_log=False,
        log_config=None,
        lifespan="on",
        # The client's address is the connection's; X-Forwarded-For is read by the gateway
        # itself, only from COBRANCA_TRUSTED_PROXIES.
        proxy_headers=False,
    )
