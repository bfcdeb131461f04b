"""Authentication (bearer token -> Principal) and role guards."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from litestar.connection import ASGIConnection
from litestar.datastructures import MutableScopeHeaders
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.types import Message, Scope

from services.gateway.adapters.tokens import (
    InvalidToken,
    Principal,
    Role,
    decode_token,
    renewed_token,
)
from services.gateway.entrypoints.http.errors import ApiError, field_detail

# The web chat and document links are the debtor's, who has no token (a link is signed).
PUBLIC_PREFIXES = (
    "/health",
    "/ready",
    "/schema",
    "/p/",
    "/portal",
    "/static",
    "/favicon",
    "/d/",
    "/api/v1/chat/",
)


def is_public(path: str) -> bool:
    if path == "/" or path.startswith(PUBLIC_PREFIXES):
        return True
    # The debtor's lookup is the portal's door: anyone may type a document there.
    parts = path.strip("/").split("/")
    return (
        len(parts) == 5
        and parts[:3] == ["api", "v1", "portal"]
        and parts[4] in ("lookup", "verify")
    )


class BearerTokenMiddleware(AbstractAuthenticationMiddleware):
    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        header = connection.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if not token or scheme.lower() != "bearer":
            if is_public(connection.url.path):
                return AuthenticationResult(user=None, auth=None)
            raise token_required("envie o token no cabeçalho Authorization: Bearer <token>")
        key: str = connection.app.state.signing_key
        try:
            principal = decode_token(key, token)
        except InvalidToken as exc:
            details = (
                [
                    {
                        "field": exc.field,
                        "rule": exc.rule,
                        "message": str(exc),
                        "message_en": exc.rule_en or "",
                    }
                ]
                if exc.field and exc.rule
                else []
            )
            raise ApiError(401, "unauthorized", str(exc), details) from exc
        return AuthenticationResult(user=principal, auth=token)


# The debtor's token issued again on each answer to it (see RenewedPortalToken).
RENEWED_TOKEN_HEADER = "X-Portal-Token"
RENEWED_EXPIRY_HEADER = "X-Portal-Token-Expires-At"


class RenewedPortalToken:
    """A before_send hook: the JSON API's portal token slides as the portal pages' session
    does. A successful answer to a portal token carries it issued again, good for the portal
    token's lifetime from now but never past SESSION_MAX after the debtor identified, in
    `X-Portal-Token` (with `X-Portal-Token-Expires-At`, ISO 8601): a client that keeps using
    the newest stays in while the debtor acts. Refusals (4xx/5xx) and staff tokens get none."""

    def __call__(self, message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start" or message["status"] >= 400:
            return
        principal = scope.get("user")
        token = scope.get("auth")
        if not isinstance(principal, Principal) or principal.role != "portal":
            return
        if not isinstance(token, str):
            return
        state = scope["app"].state
        ttl = dt.timedelta(seconds=state.settings.portal_token_ttl_seconds)
        renewed, expires_at = renewed_token(state.signing_key, token, ttl)
        headers = MutableScopeHeaders.from_message(message)
        headers[RENEWED_TOKEN_HEADER] = renewed
        headers[RENEWED_EXPIRY_HEADER] = expires_at.isoformat()


def requires(
    *roles: Role,
) -> Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], None]:
    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        principal = connection.scope.get("user")
        if not isinstance(principal, Principal):
            raise token_required("token obrigatório")
        if principal.role not in roles:
            raise role_refused(
                f"o papel {principal.role} não pode fazer isto; exige: {', '.join(roles)}"
            )

    return guard


def principal_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    principal = connection.scope.get("user")
    if not isinstance(principal, Principal):
        raise token_required("token obrigatório")
    return principal


def token_required(message: str) -> ApiError:
    return ApiError(
        401, "unauthorized", message, [field_detail("Authorization", "required", message)]
    )


def role_refused(message: str) -> ApiError:
    """403: the token's role may not do this (field Authorization, rule `role`)."""
    return ApiError(403, "forbidden", message, [field_detail("Authorization", "role", message)])
