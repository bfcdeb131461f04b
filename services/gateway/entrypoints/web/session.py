"""The portal pages' session: the same short-lived portal token the JSON lookup gives, kept in
an HttpOnly, SameSite=Lax cookie scoped to /p/{tenant} (Secure over https).

- It slides: every signed-in page answers with the token issued again for the portal token's
  lifetime from now (COBRANCA_PORTAL_TOKEN_TTL_SECONDS, 15 minutes by default), never past
  SESSION_MAX after the debtor identified (the `auth_time` claim it carries along): a debtor
  who keeps acting stays in for up to 2 hours, one who stops is out 15 minutes later.
- The cookie outlives its token by NOTICE_MARGIN, so that a page asked after the token expired
  still sends it and says "Sua sessão expirou" (a browser drops a cookie at its max-age).
- Sent back to page one, the page asked is kept (`voltar`, a page of the same portal only):
  identified again, the debtor lands where they were (the offers again for a closing)."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import quote

import jwt
from litestar.datastructures import Cookie, MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from services.gateway.adapters.tokens import (
    ALGORITHM,
    ISSUER,
    InvalidToken,
    Principal,
    decode_token,
)

SESSION_COOKIE = "portal_sessao"
NOTICE_MARGIN = dt.timedelta(hours=12)
# Where the scope's state keeps the renewed cookie for SlidingSession.
RENEWED = "portal_session_renewed"


class SessionRequired(Exception):
    """No usable session: back to page 1 (saying so when it expired), with the page to return
    to once identified again (`back`, checked by `return_path`)."""

    def __init__(self, tenant: str, expired: bool, back: str | None = None) -> None:
        super().__init__("sessão expirada" if expired else "sem sessão")
        self.tenant = tenant
        self.expired = expired
        self.back = back


def session_path(tenant: str) -> str:
    return f"/p/{quote(tenant, safe='')}"


def session_cookie(tenant: str, token: str, max_age: int, secure: bool) -> Cookie:
    return Cookie(
        key=SESSION_COOKIE,
        value=token,
        path=session_path(tenant),
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=secure,
    )


def cookie_max_age(expires_at: dt.datetime, now: dt.datetime) -> int:
    """The cookie's lifetime: the token's, and the margin that lets its expiry be told."""
    return int((expires_at - now + NOTICE_MARGIN).total_seconds())


def return_path(tenant: str, path: str | None) -> str | None:
    """`path` when it is a debtor's page of this portal to come back to (the debts, offers,
    an agreement; a PDF's agreement), else None: never another site nor another portal."""
    if not path:
        return None
    prefix = session_path(tenant)
    if not path.startswith(prefix + "/"):
        return None
    rest = path[len(prefix) :]
    if document := _AGREEMENT_FILE.fullmatch(rest):
        rest = f"/acordos/{document['agreement']}"
    if not _RETURN_PAGE.fullmatch(rest):
        return None
    return prefix + rest


_ID = r"[A-Za-z0-9_%-]{1,80}"
_RETURN_PAGE = re.compile(
    rf"/dividas|/negociar\?divida={_ID}(&divida={_ID}){{0,199}}|/acordos/{_ID}(\?fatura={_ID})?"
)
_AGREEMENT_FILE = re.compile(rf"/acordos/(?P<agreement>{_ID})/(termo\.pdf|boleto/{_ID})")


class SlidingSession:
    """Sets the renewed session cookie (left in the scope's state by the page that read the
    session) on the page's answer, unless the answer sets that cookie itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return

        async def send_renewed(message: Message) -> None:
            if message["type"] == "http.response.start":
                cookie = scope.get("state", {}).get(RENEWED)
                if isinstance(cookie, Cookie):
                    headers = MutableScopeHeaders.from_message(message)
                    own = [
                        v
                        for v in headers.getall("set-cookie", [])
                        if v.startswith(f"{SESSION_COOKIE}=")
                    ]
                    if not own:
                        headers.add("set-cookie", cookie.to_header(header="").strip())
            await send(message)

        await self.app(scope, receive, send_renewed)


def cleared_session(tenant: str, secure: bool) -> Cookie:
    return Cookie(
        key=SESSION_COOKIE,
        value="",
        path=session_path(tenant),
        max_age=0,
        expires=0,
        httponly=True,
        samesite="lax",
        secure=secure,
    )


def read_session(signing_key: str, tenant: str, token: str | None) -> Principal:
    """The debtor of the session, or SessionRequired (expired: its signature was good)."""
    if not token:
        raise SessionRequired(tenant, expired=False)
    try:
        principal = decode_token(signing_key, token)
    except InvalidToken:
        raise SessionRequired(tenant, expired=_expired(signing_key, token)) from None
    if principal.role != "portal" or principal.tenant != tenant or not principal.document:
        raise SessionRequired(tenant, expired=False)
    return principal


def _expired(signing_key: str, token: str) -> bool:
    try:
        jwt.decode(
            token,
            signing_key,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"verify_exp": False},
        )
    except jwt.InvalidTokenError:
        return False
    try:
        jwt.decode(token, signing_key, algorithms=[ALGORITHM], issuer=ISSUER)
    except jwt.ExpiredSignatureError:
        return True
    except jwt.InvalidTokenError:
        return False
    return False
