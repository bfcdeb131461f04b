"""The gateway's Litestar application: the HTTP API, plus the projections and the outbox
relay, which run in the same process as FastStream subscribers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar
from litestar.config.app import AppConfig
from litestar.exceptions import HTTPException
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme

from service_runtime.host import ServiceHost
from service_runtime.service_client import (
    ServiceClient,
    ServiceRefused,
    ServiceUnavailable,
)
from services.gateway.entrypoints.http.auth import BearerTokenMiddleware
from services.gateway.entrypoints.http.controllers import (
    CarteiraController,
    DebtorController,
    PortalController,
)
from services.gateway.entrypoints.http.conversations import (
    ChatController,
    ConversationsController,
    DocumentLinkController,
    OperatorsController,
)
from services.gateway.entrypoints.http.errors import (
    ApiError,
    handle_api_error,
    handle_http_exception,
    handle_service_refused,
    handle_service_unavailable,
    handle_unexpected,
)
from services.gateway.entrypoints.http.health import HealthController
from services.gateway.entrypoints.http.messaging import (
    MessagingAdminController,
    OptOutController,
    WebhooksController,
)
from services.gateway.entrypoints.http.negotiation import (
    AgreementsController,
    NegotiationAdminController,
    PaymentsController,
)
from services.gateway.entrypoints.http.ruler import CampaignsController, RulerAdminController

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 200 * 1024 * 1024


def create_app(
    host: ServiceHost,
    read_engine: Any,
    runners: list[Any],
    negotiation: ServiceClient,
    ruler: ServiceClient,
    messaging: ServiceClient,
) -> Litestar:
    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        app.state.broker_ready = False
        await host.start_background_topics()
        await host.broker.start()
        for runner in runners:
            runner.start_verifier()
        host.relay.start()
        app.state.broker_ready = True
        log.info("gateway is running (Kafka at %s)", host.bootstrap)
        try:
            yield
        finally:
            for runner in runners:
                await runner.stop()
            await host.relay.stop()
            await host.broker.stop()

    def on_app_init(config: AppConfig) -> AppConfig:
        config.state.update(
            {
                "settings": host.settings,
                "clock": host.clock,
                "signing_key": host.settings.signing_key(),
                "gateway_app": host.application,
                "gateway_relay": host.relay,
                "read_engine": read_engine,
                "projection_runners": runners,
                "negotiation": negotiation,
                "ruler": ruler,
                "messaging": messaging,
                "broker_ready": False,
            }
        )
        return config

    return Litestar(
        route_handlers=[
            HealthController,
            CarteiraController,
            PortalController,
            DebtorController,
            NegotiationAdminController,
            AgreementsController,
            PaymentsController,
            RulerAdminController,
            CampaignsController,
            MessagingAdminController,
            OptOutController,
            WebhooksController,
            ChatController,
            ConversationsController,
            OperatorsController,
            DocumentLinkController,
        ],
        lifespan=[lifespan],
        on_app_init=[on_app_init],
        middleware=[DefineMiddleware(BearerTokenMiddleware)],
        exception_handlers={
            ApiError: handle_api_error,
            ServiceRefused: handle_service_refused,
            ServiceUnavailable: handle_service_unavailable,
            HTTPException: handle_http_exception,
            Exception: handle_unexpected,
        },
        request_max_body_size=MAX_UPLOAD_BYTES,
        openapi_config=OpenAPIConfig(
            title="cobranca API",
            version="1",
            description=(
                "Gateway of the cobranca platform: carteiras, portal, negotiation, payments, "
                "debtors."
            ),
            path="/schema",
            render_plugins=[ScalarRenderPlugin(), SwaggerRenderPlugin(path="/swagger")],
            components=Components(
                security_schemes={
                    "bearer": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT")
                }
            ),
            security=[{"bearer": []}],
        ),
    )
