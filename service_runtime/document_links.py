"""Links to a debtor's documents (boleto, term of agreement, debt statement) that a channel can
send: WhatsApp fetches the file from the link, an e-mail reader opens it without logging in.
The link carries a signed, expiring token naming exactly one document of one debtor; it is
not a bearer token (a different audience), so it opens nothing else."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, cast

import jwt

DocumentKind = Literal["boleto", "term", "statement"]
AUDIENCE = "cobranca-document"
ALGORITHM = "HS256"
DEFAULT_TTL = dt.timedelta(days=7)


class InvalidLink(Exception):
    pass


@dataclass(frozen=True)
class DocumentRef:
    tenant: str
    document: str  # the debtor's CPF/CNPJ
    kind: DocumentKind
    agreement_id: str | None = None
    invoice_id: str | None = None


def sign_link(key: str, ref: DocumentRef, now: dt.datetime, ttl: dt.timedelta = DEFAULT_TTL) -> str:
    claims: dict[str, object] = {
        "aud": AUDIENCE,
        "t": ref.tenant,
        "d": ref.document,
        "k": ref.kind,
        "iat": now,
        "exp": now + ttl,
    }
    if ref.agreement_id:
        claims["a"] = ref.agreement_id
    if ref.invoice_id:
        claims["i"] = ref.invoice_id
    return jwt.encode(claims, key, algorithm=ALGORITHM)


def read_link(key: str, token: str) -> DocumentRef:
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            options={"require": ["exp", "aud"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise InvalidLink("link expirado: peça um novo pelo atendimento") from exc
    except jwt.InvalidTokenError as exc:
        raise InvalidLink("link inválido") from exc
    kind = claims.get("k")
    if kind not in ("boleto", "term", "statement") or not claims.get("t") or not claims.get("d"):
        raise InvalidLink("link inválido")
    if kind != "statement" and not claims.get("a"):
        raise InvalidLink("link inválido")
    if kind == "boleto" and not claims.get("i"):
        raise InvalidLink("link inválido")
    return DocumentRef(
        tenant=str(claims["t"]),
        document=str(claims["d"]),
        kind=cast(DocumentKind, kind),
        agreement_id=claims.get("a"),
        invoice_id=claims.get("i"),
    )


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class DocumentLinks:
    """Makes the links, on the gateway's public address. A link's life is measured on the
    wall clock, like a token's (the business clock may be set to another date in a demo or
    a test; the gateway checks expiry against real time)."""

    key: str
    base_url: str
    ttl: dt.timedelta = DEFAULT_TTL
    wall_clock: Callable[[], dt.datetime] = field(default=_utc_now)

    def url(self, ref: DocumentRef) -> str:
        token = sign_link(self.key, ref, self.wall_clock(), self.ttl)
        return f"{self.base_url.rstrip('/')}/d/{token}"
