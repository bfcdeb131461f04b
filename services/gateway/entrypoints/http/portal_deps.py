"""The portal's use cases as the HTTP layer gets them (pages and JSON API alike), and how their
refusals read in the API's error shape."""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.handlers import BaseRouteHandler

from services.gateway.application.portal import KnownPortals, NotEligible, PortalService
from services.gateway.entrypoints.http.errors import ApiError, field_detail, field_error


def portal_service(state: State) -> PortalService:
    return PortalService(
        app=state.gateway_app,
        read_engine=state.read_engine,
        clock=state.clock,
        negotiation=state.negotiation,
        signing_key=state.signing_key,
        token_ttl=dt.timedelta(seconds=state.settings.portal_token_ttl_seconds),
        vault=state.vault,
        on_saved=state.gateway_relay.wake,
        messaging=state.get("messaging"),
        known_portals=known_portals(state),
    )


def known_portals(state: State) -> KnownPortals:
    """The app's memory of which tenants have a portal, made on first use."""
    known = state.get("known_portals")
    if not isinstance(known, KnownPortals):
        known = state["known_portals"] = KnownPortals()
    return known


NOT_ELIGIBLE_MESSAGE = "dívida não disponível para negociação neste portal"
NO_PORTAL_MESSAGE = "portal não encontrado"


def no_portal_error() -> ApiError:
    return ApiError(
        404,
        "not_found",
        NO_PORTAL_MESSAGE,
        [field_detail("tenant", "no_portal", NO_PORTAL_MESSAGE)],
    )


async def has_portal(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guard of the debtor's public doors under /{tenant} (lookup, web chat): a tenant without
    a portal is a 404 naming the tenant, as its page /p/{tenant} is, before the body is read
    and before anything is created for it."""
    tenant = connection.path_params.get("tenant")
    if not isinstance(tenant, str) or not await portal_service(connection.app.state).has_portal(
        tenant
    ):
        raise no_portal_error()


def not_eligible_error(exc: NotEligible) -> ApiError:
    return field_error(
        "debt_ids", "not_eligible", f"{NOT_ELIGIBLE_MESSAGE}: {', '.join(exc.debt_ids)}"
    )
