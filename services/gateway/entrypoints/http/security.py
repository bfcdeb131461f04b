"""What makes the gateway fit for the internet: a request id on every request (header, error
body, log records), security headers on every response, and limits on the debtor's public
doors (lookup and closing an agreement, in the API and in the web portal's forms).

`install_security(config)` wires it all into the app (see app.py's on_app_init):

- RequestContextMiddleware, outermost: this request's id in the logs' context variable;
- RateLimitMiddleware, right after authentication (a staff token is never limited, and a
  portal token names its document): 429 in the error shape, with Retry-After;
- a before_send hook that adds the headers to every response, also those Litestar answers
  before any middleware runs (a path no route matches).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from litestar import Request
from litestar.config.app import AppConfig
from litestar.enums import ScopeType
from litestar.middleware import DefineMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from contracts.documents import InvalidDocument, validate_document
from service_runtime.logs import current_request_id
from service_runtime.settings import Settings
from services.gateway.adapters.rate_limits import Limited, Limits, RateLimiter
from services.gateway.adapters.tokens import InvalidToken, Principal, decode_token
from services.gateway.entrypoints.http.auth import BearerTokenMiddleware, RenewedPortalToken
from services.gateway.entrypoints.http.errors import RateLimited, request_id_of
from services.gateway.entrypoints.web.session import SESSION_COOKIE

log = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# ---- addresses ---------------------------------------------------------------------------


def trusted_networks(setting: str) -> tuple[Network, ...]:
    """COBRANCA_TRUSTED_PROXIES: "10.0.0.0/8, 192.168.1.7" (an address is a /32 or /128)."""
    networks = []
    for item in setting.split(","):
        if item.strip():
            networks.append(ipaddress.ip_network(item.strip(), strict=False))
    return tuple(networks)


def _trusted(address: str, trusted: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)


def _header(scope: Scope, name: bytes) -> list[str]:
    return [v.decode("latin-1") for k, v in scope.get("headers", ()) if k.lower() == name]


def client_address(scope: Scope, trusted: Sequence[Network]) -> str:
    """The connection's address; behind a trusted proxy, the nearest address in
    X-Forwarded-For that is not a trusted proxy (each proxy appends who it heard from, so
    entries left of that are whatever the client chose to send)."""
    client = scope.get("client")
    peer = client[0] if client else "unknown"
    if not trusted or not _trusted(peer, trusted):
        return peer
    hops = [h.strip() for value in _header(scope, b"x-forwarded-for") for h in value.split(",")]
    hops = [h for h in hops if h]
    for hop in reversed(hops):
        if not _trusted(hop, trusted):
            return hop[:64]
    return hops[0][:64] if hops else peer


def is_https(scope: Scope, trusted: Sequence[Network]) -> bool:
    if scope.get("scheme") in ("https", "wss"):
        return True
    client = scope.get("client")
    if trusted and client and _trusted(client[0], trusted):
        forwarded = _header(scope, b"x-forwarded-proto")
        return bool(forwarded) and forwarded[-1].split(",")[-1].strip().lower() == "https"
    return False


# ---- headers -----------------------------------------------------------------------------

# Server-rendered pages with same-origin scripts and styles, images also as data: URLs.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; script-src 'self'; style-src 'self'; "
    "object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
# The API docs (/schema: Scalar; /schema/swagger: Swagger UI) load their scripts, styles,
# fonts and favicon from jsDelivr and start with an inline script; nothing on them takes a
# person's input, so they get a policy of their own (still no frames, no <base>).
DOCS_CDN = "https://cdn.jsdelivr.net"
DOCS_CONTENT_SECURITY_POLICY = (
    f"default-src 'self'; script-src 'self' 'unsafe-inline' {DOCS_CDN}; "
    f"style-src 'self' 'unsafe-inline' {DOCS_CDN} https://fonts.googleapis.com; "
    f"font-src 'self' data: {DOCS_CDN} https://fonts.gstatic.com https://fonts.scalar.com; "
    f"img-src 'self' data: {DOCS_CDN}; connect-src 'self'; worker-src 'self' blob:; "
    "object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
DOCS_PREFIX = "/schema"
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"
HSTS = "max-age=31536000; includeSubDomains"


def security_headers(path: str, https: bool, request_id: str) -> list[tuple[str, str]]:
    docs = path == DOCS_PREFIX or path.startswith(DOCS_PREFIX + "/")
    headers = [
        ("X-Request-ID", request_id),
        (
            "Content-Security-Policy",
            DOCS_CONTENT_SECURITY_POLICY if docs else CONTENT_SECURITY_POLICY,
        ),
        ("X-Frame-Options", "DENY"),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),
        ("Permissions-Policy", PERMISSIONS_POLICY),
        ("Cross-Origin-Opener-Policy", "same-origin"),
    ]
    if path.startswith("/api/"):
        # Answers name debtors, documents and amounts: no cache keeps them.
        headers.append(("Cache-Control", "no-store"))
    if https:
        headers.append(("Strict-Transport-Security", HSTS))
    return headers


class SecurityHeaders:
    """A before_send hook: the headers on every response start. A header the handler set
    itself (say, a page's own Content-Security-Policy) is kept."""

    def __init__(self, trusted: Sequence[Network] = ()) -> None:
        self.trusted = tuple(trusted)

    def __call__(self, message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start":
            return
        present = {name.lower() for name, _ in message.get("headers", ())}
        extra = [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in security_headers(
                scope.get("path", ""), is_https(scope, self.trusted), request_id_of(scope)
            )
            if name.lower().encode("latin-1") not in present
        ]
        message["headers"] = [*message.get("headers", ()), *extra]


class RequestContextMiddleware:
    """Outermost: the request's id in the logs' context for everything the request runs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        token = current_request_id.set(request_id_of(scope))
        try:
            await self.app(scope, receive, send)
        finally:
            current_request_id.reset(token)


# ---- rate limits -------------------------------------------------------------------------

Action = Literal["lookup", "close"]
BodyKind = Literal["json", "form", "chat"]


@dataclass(frozen=True)
class LimitedRoute:
    action: Action
    path: re.Pattern[str]
    body: BodyKind


LIMITED_ROUTES: tuple[LimitedRoute, ...] = (
    LimitedRoute("lookup", re.compile(r"/api/v1/portal/(?P<tenant>[^/]+)/lookup/?"), "json"),
    LimitedRoute("close", re.compile(r"/api/v1/portal/(?P<tenant>[^/]+)/agreements/?"), "json"),
    # The web portal's forms.
    LimitedRoute("lookup", re.compile(r"/p/(?P<tenant>[^/]+)/consulta/?"), "form"),
    LimitedRoute("close", re.compile(r"/p/(?P<tenant>[^/]+)/acordo/?"), "form"),
    # The public web chat: a line that is a CPF/CNPJ looks a debtor up as the portal does
    # (the same limits and enumeration cut-off); its other lines are not lookups.
    LimitedRoute("lookup", re.compile(r"/api/v1/chat/(?P<tenant>[^/]+)/messages/?"), "chat"),
)
# Where a form or a JSON body may carry the debtor's document.
DOCUMENT_FIELDS = ("document", "documento", "cpf_cnpj")


def limited_route(method: str, path: str) -> tuple[LimitedRoute, str] | None:
    if method != "POST":
        return None
    for route in LIMITED_ROUTES:
        if found := route.path.fullmatch(path):
            return route, found["tenant"]
    return None


def _document_in(values: Any) -> str | None:
    if not hasattr(values, "get"):
        return None
    for name in DOCUMENT_FIELDS:
        value = values.get(name)
        if isinstance(value, str) and value.strip():
            return value
    return None


def _typed_document(text: Any) -> str | None:
    """The CPF/CNPJ a chat line is, if it is one (as the bot reads it); None otherwise."""
    if not isinstance(text, str) or len(text) > 40:
        return None
    try:
        return validate_document(text)
    except InvalidDocument:
        return None


def _session_document(request: Request[Any, Any, Any], tenant: str) -> str | None:
    """The document of the web portal's session cookie (a portal token), when valid."""
    token = request.cookies.get(SESSION_COOKIE)
    key = request.app.state.get("signing_key")
    if not token or not key:
        return None
    try:
        principal = decode_token(key, token)
    except InvalidToken:
        return None
    return principal.document if principal.tenant == tenant else None


async def document_of(
    request: Request[Any, Any, Any], route: LimitedRoute, tenant: str
) -> str | None:
    """The debtor's document: a portal token's own (bearer, or the pages' session), else the
    body's. The body read here is kept in the connection, where the handler reads it again."""
    principal = request.scope.get("user")
    if isinstance(principal, Principal) and principal.document:
        return principal.document
    if route.body == "form":
        return _session_document(request, tenant) or _document_in(await request.form())
    if route.body == "chat":
        try:
            line = json.loads(await request.body() or b"null")
        except ValueError:
            return None
        text = line.get("text") if isinstance(line, dict) else None
        return _typed_document(text)
    try:
        return _document_in(json.loads(await request.body() or b"null"))
    except ValueError:
        return None


def limits_of(settings: Settings) -> Limits:
    return Limits(
        window_seconds=settings.rate_limit_window_seconds,
        lookup_per_address=settings.lookup_limit_per_address,
        lookup_per_document=settings.lookup_limit_per_document,
        close_per_address=settings.close_limit_per_address,
        close_per_document=settings.close_limit_per_document,
        enumeration_max_documents=settings.enumeration_max_documents,
        enumeration_window_seconds=settings.enumeration_window_seconds,
        enumeration_block_seconds=settings.enumeration_block_seconds,
        max_keys=settings.rate_limit_max_keys,
    )


def _wait(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} segundo{'s' if seconds != 1 else ''}"
    minutes = -(-seconds // 60)
    return f"{minutes} minutos"


def rate_limited(action: Action, limited: Limited) -> RateLimited:
    wait = _wait(limited.retry_after)
    what = "consultas" if action == "lookup" else "tentativas de acordo"
    if limited.scope == "enumeration":
        field, message = (
            "client_address",
            "consultas de muitos documentos diferentes a partir deste endereço; "
            f"tente novamente em {wait}",
        )
    elif limited.scope == "document":
        field, message = "document", f"muitas {what} deste documento; tente novamente em {wait}"
    else:
        field, message = (
            "client_address",
            f"muitas {what} deste endereço; tente novamente em {wait}",
        )
    return RateLimited(
        message,
        [{"field": field, "rule": f"per_{limited.scope}", "message": message}],
        retry_after=limited.retry_after,
    )


class RateLimitMiddleware:
    """Limits the debtor's lookup and closing an agreement (API and web forms) per client
    address and per document. Staff and integration tokens are not limited (an agency's
    operators share an address; the chatbot closes for many debtors)."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter, trusted: Sequence[Network] = ()) -> None:
        self.app = app
        self.limiter = limiter
        self.trusted = tuple(trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP:
            found = limited_route(str(scope.get("method", "")), scope["path"])
            principal = scope.get("user")
            staff = isinstance(principal, Principal) and principal.role != "portal"
            if found is not None and not staff:
                route, tenant = found
                request: Request[Any, Any, Any] = Request(scope, receive)
                document = await document_of(request, route, tenant)
                if route.body == "chat" and document is None:
                    # A chat line that is no document (a greeting, a menu choice): no lookup.
                    await self.app(scope, receive, send)
                    return
                address = client_address(scope, self.trusted)
                check = (
                    self.limiter.check_lookup
                    if route.action == "lookup"
                    else self.limiter.check_close
                )
                limited = check(address, tenant, document)
                if limited is not None:
                    log.debug("%s from %s refused: %s", route.action, address, limited)
                    raise rate_limited(route.action, limited)
        await self.app(scope, receive, send)


# ---- wiring ------------------------------------------------------------------------------


def install_security(config: AppConfig, limiter: RateLimiter | None = None) -> AppConfig:
    """Add the request context, the rate limits and the headers to an app's config (an
    on_app_init hook; the settings come from its state)."""
    settings: Settings = config.state.get("settings") or Settings()
    trusted = trusted_networks(settings.trusted_proxies)
    limiter = limiter or RateLimiter(limits_of(settings))
    config.state["rate_limiter"] = limiter
    after_auth = _index_after(config.middleware, BearerTokenMiddleware)
    config.middleware.insert(
        after_auth, DefineMiddleware(RateLimitMiddleware, limiter=limiter, trusted=trusted)
    )
    config.middleware.insert(0, DefineMiddleware(RequestContextMiddleware))
    config.before_send.append(SecurityHeaders(trusted))
    config.before_send.append(RenewedPortalToken())
    return config


def _index_after(middleware: Iterable[Any], kind: type) -> int:
    items = list(middleware)
    for i, item in enumerate(items):
        if getattr(item, "middleware", item) is kind:
            return i + 1
    return len(items)
