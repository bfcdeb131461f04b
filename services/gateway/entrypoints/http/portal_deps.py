"""The portal's use cases as the HTTP layer gets them (pages and JSON API alike), and how their
refusals read in the API's error shape."""

from __future__ import annotations

import datetime as dt

from litestar.datastructures import State

from services.gateway.application.portal import NotEligible, PortalService
from services.gateway.entrypoints.http.errors import ApiError, field_error


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
    )


NOT_ELIGIBLE_MESSAGE = "dívida não disponível para negociação neste portal"


def not_eligible_error(exc: NotEligible) -> ApiError:
    return field_error(
        "debt_ids", "not_eligible", f"{NOT_ELIGIBLE_MESSAGE}: {', '.join(exc.debt_ids)}"
    )
