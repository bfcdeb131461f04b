"""The gateway's Litestar application: the HTTP API, plus the projections and the outbox
relay, which run in the same process as FastStream subscribers."""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pydantic
from litestar import Litestar
from litestar.config.app import AppConfig
from litestar.datastructures import CacheControlHeader
from litestar.exceptions import HTTPException
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.pydantic import PydanticDIPlugin, PydanticInitPlugin, PydanticSchemaPlugin
from litestar.static_files import create_static_files_router
from swagger_ui import __file__ as swagger_ui_package

from service_runtime.host import ServiceHost
from service_runtime.service_client import (
    ServiceClient,
    ServiceRefused,
    ServiceUnavailable,
)
from service_runtime.telemetry import http_plugins
from services.gateway.entrypoints.http.analytics import AnalyticsController
from services.gateway.entrypoints.http.audit import AuditController
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
    handle_contract_error,
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
from services.gateway.entrypoints.http.portal_admin import PortalAdminController
from services.gateway.entrypoints.http.privacy import PrivacyController
from services.gateway.entrypoints.http.ruler import CampaignsController, RulerAdminController
from services.gateway.entrypoints.http.security import install_security
from services.gateway.entrypoints.web import csrf_config, template_config, web_route_handlers

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 200 * 1024 * 1024
# Swagger UI's own files (swagger-ui-py: Swagger UI 5, which reads the OpenAPI 3.1 Litestar
# writes; 4.x shows "Unable to render this definition"), under the docs' public prefix.
SWAGGER_ASSETS = "/schema/swagger-ui"
SWAGGER_FILES = Path(swagger_ui_package).parent / "static"


class DeclaredStrictness(PydanticInitPlugin):
    """Request bodies validated as their models declare: Litestar's own plugin validates
    with strict=False, which overrides a field's Strict (money in `Cents`, a StrictInt, took
    "1000" and true). Lax still where a model is lax (a date from its ISO string)."""

    @classmethod
    def decoders(
        cls, validate_strict: bool = False
    ) -> list[tuple[Callable[[Any], bool], Callable[[Any, Any], Any]]]:
        return [
            (
                predicate,
                functools.partial(decoder.func, *decoder.args, strict=None)
                if isinstance(decoder, functools.partial) and "strict" in decoder.keywords
                else decoder,
            )
            for predicate, decoder in super().decoders(validate_strict)
        ]


def pydantic_plugins() -> list[Any]:
    """The pydantic plugins of an app serving the gateway's controllers (tests use them too)."""
    return [DeclaredStrictness(), PydanticSchemaPlugin(), PydanticDIPlugin()]


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
        host.running()
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
                # The debtors' keys: seal what the portal keeps, erase on request (LGPD).
                "vault": host.vault,
                "read_engine": read_engine,
                "projection_runners": runners,
                "negotiation": negotiation,
                "ruler": ruler,
                "messaging": messaging,
                "broker_ready": False,
            }
        )
        # Request ids, rate limits on the debtor's doors, security headers (security.py).
        install_security(config)
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
            # The debtor portal's pages (/p/{tenant}, /portal, /static) and its admin API.
            PortalAdminController,
            *web_route_handlers(),
            AuditController,
            AnalyticsController,
            PrivacyController,
            create_static_files_router(
                path=SWAGGER_ASSETS,
                directories=[SWAGGER_FILES],
                include_in_schema=False,
                cache_control=CacheControlHeader(max_age=86400, public=True),
            ),
        ],
        lifespan=[lifespan],
        on_app_init=[on_app_init],
        # The process's own logging (service_runtime.logs: JSON lines, request ids), which
        # Litestar's default config would replace on the root logger.
        logging_config=None,
        middleware=[DefineMiddleware(BearerTokenMiddleware)],
        # The HTTP server span of each request when tracing is on (service_runtime.telemetry).
        plugins=[*http_plugins(), *pydantic_plugins()],
        # Jinja templates (autoescaped) and CSRF tokens for the portal's forms.
        template_config=template_config(),
        csrf_config=csrf_config(host.settings.signing_key()),
        exception_handlers={
            ApiError: handle_api_error,
            ServiceRefused: handle_service_refused,
            ServiceUnavailable: handle_service_unavailable,
            HTTPException: handle_http_exception,
            pydantic.ValidationError: handle_contract_error,
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
            # Swagger UI from the gateway's own files (an agency's network may have no way
            # out); Scalar, which loads from a CDN, stays at /schema/scalar.
            render_plugins=[
                SwaggerRenderPlugin(
                    path=["/", "/swagger"],
                    js_url=f"{SWAGGER_ASSETS}/swagger-ui-bundle.js",
                    css_url=f"{SWAGGER_ASSETS}/swagger-ui.css",
                    standalone_preset_js_url=f"{SWAGGER_ASSETS}/swagger-ui-standalone-preset.js",
                    favicon=f"<link rel='icon' href='{SWAGGER_ASSETS}/favicon-32x32.png'>",
                ),
                ScalarRenderPlugin(path="/scalar"),
            ],
            components=Components(
                security_schemes={
                    "bearer": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT")
                }
            ),
            security=[{"bearer": []}],
        ),
    )
