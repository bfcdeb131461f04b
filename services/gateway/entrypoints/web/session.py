"""The portal pages' session: the same short-lived portal token the JSON lookup gives, kept in
an HttpOnly, SameSite=Lax cookie scoped to /p/{tenant} (Secure over https)."""

from __future__ import annotations

from urllib.parse import quote

import jwt
from litestar.datastructures import Cookie

from services.gateway.adapters.tokens import (
    ALGORITHM,
    ISSUER,
    InvalidToken,
    Principal,
    decode_token,
)

SESSION_COOKIE = "portal_sessao"


class SessionRequired(Exception):
    """No usable session: back to page 1 (saying so when it expired)."""

    def __init__(self, tenant: str, expired: bool) -> None:
        super().__init__("sessão expirada" if expired else "sem sessão")
        self.tenant = tenant
        self.expired = expired


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
