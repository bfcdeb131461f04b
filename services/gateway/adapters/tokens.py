"""Bearer tokens (signed JWT): operators, admins, analysts and client systems of one tenant,
and the short-lived portal token of one debtor's document in one tenant."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any, Literal, cast, get_args

import jwt

from contracts.envelope import (
    TENANT_NAME_RULE_EN,
    TENANT_RULE,
    TENANT_RULE_EN,
    tenant_name_problem,
)

Role = Literal["admin", "operator", "analyst", "integration", "portal"]
STAFF_ROLES: tuple[Role, ...] = ("admin", "operator", "analyst", "integration")
ALGORITHM = "HS256"
ISSUER = "cobranca"
# A debtor's portal token slides (`renewed_token`), never past this after they identified.
SESSION_MAX = dt.timedelta(hours=2)
SIGNED_IN_CLAIM = "auth_time"


class InvalidToken(Exception):
    """A token refused, with the pt-BR reason; `field`, `rule` (and the rule in English) when
    one claim broke a rule."""

    def __init__(
        self,
        message: str,
        field: str | None = None,
        rule: str | None = None,
        rule_en: str | None = None,
    ) -> None:
        super().__init__(message)
        self.field = field
        self.rule = rule
        self.rule_en = rule_en


@dataclass(frozen=True)
class Principal:
    subject: str
    tenant: str
    role: Role
    document: str | None = None
    token_id: str | None = None


def issue_token(
    key: str,
    *,
    tenant: str,
    role: Role,
    subject: str | None = None,
    ttl: dt.timedelta = dt.timedelta(days=30),
    document: str | None = None,
    now: dt.datetime | None = None,
) -> str:
    if role not in get_args(Role):
        raise ValueError(f"unknown role {role!r}; use one of {', '.join(get_args(Role))}")
    named = tenant_name_problem(tenant)
    if named:
        raise ValueError(named[1])
    issued = now or dt.datetime.now(dt.UTC)
    claims: dict[str, object] = {
        "iss": ISSUER,
        "sub": subject or f"{role}@{tenant}",
        "tenant": tenant,
        "role": role,
        "iat": issued,
        "exp": issued + ttl,
        "jti": str(uuid.uuid4()),
    }
    if document is not None:
        claims["document"] = document
    return jwt.encode(claims, key, algorithm=ALGORITHM)


# Why a token is refused (the 401's detail, field Authorization), in English.
TOKEN_RULES_EN = {
    "token_expired": "The token has expired: ask for a new one",
    "token_invalid": "Not a token of this platform (signature, issuer or format)",
    "token_claims": "The token names no role or no tenant",
}


def decode_token(key: str, token: str) -> Principal:
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["exp", "sub", "iss"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise InvalidToken(
            "token expirado", "Authorization", "token_expired", TOKEN_RULES_EN["token_expired"]
        ) from exc
    except jwt.InvalidTokenError as exc:
        raise InvalidToken(
            "token inválido", "Authorization", "token_invalid", TOKEN_RULES_EN["token_invalid"]
        ) from exc
    role = claims.get("role")
    tenant = claims.get("tenant")
    if role not in get_args(Role) or not isinstance(tenant, str):
        raise InvalidToken(
            "token sem papel ou assessoria",
            "Authorization",
            "token_claims",
            TOKEN_RULES_EN["token_claims"],
        )
    # A tenant no event may carry (a token issued before the rule was checked): nothing it
    # sends could be published, so it does not get in.
    named = tenant_name_problem(tenant)
    if named:
        rule, problem = named
        raise InvalidToken(
            f"token com assessoria inválida: {problem}",
            "tenant",
            rule,
            TENANT_RULE_EN if rule == TENANT_RULE else TENANT_NAME_RULE_EN,
        )
    return Principal(
        subject=str(claims["sub"]),
        tenant=tenant,
        role=cast(Role, role),
        document=claims.get("document"),
        token_id=claims.get("jti"),
    )


def renewed_token(
    signing_key: str, token: str, ttl: dt.timedelta, now: dt.datetime | None = None
) -> tuple[str, dt.datetime]:
    """The session's token issued again (a valid one): the same
    debtor, `ttl` from now, never past SESSION_MAX after they identified. With its expiry."""
    now = now or dt.datetime.now(dt.UTC)
    claims: dict[str, Any] = jwt.decode(token, signing_key, algorithms=[ALGORITHM], issuer=ISSUER)
    signed_in = dt.datetime.fromtimestamp(int(claims.get(SIGNED_IN_CLAIM, claims["iat"])), dt.UTC)
    expires_at = min(now + ttl, signed_in + SESSION_MAX)
    claims.update(
        {
            "iat": now,
            "exp": expires_at,
            "jti": str(uuid.uuid4()),
            SIGNED_IN_CLAIM: int(signed_in.timestamp()),
        }
    )
    return jwt.encode(claims, signing_key, algorithm=ALGORITHM), expires_at
