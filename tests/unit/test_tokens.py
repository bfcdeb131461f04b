"""Bearer tokens: an agency's staff and client systems get long-lived tokens of their tenant; a
debtor who typed a CPF on the portal gets a short-lived one for that document only."""

from __future__ import annotations

import datetime as dt

import jwt
import pytest

from services.gateway.adapters.tokens import (
    ALGORITHM,
    ISSUER,
    InvalidToken,
    Principal,
    decode_token,
    issue_token,
)

KEY = "chave-de-assinatura-da-recupera-sul-com-32+bytes"
OTHER_KEY = "chave-de-outra-instalacao-totalmente-diferente!!"
AGENCY = "recupera-sul"


@pytest.mark.parametrize("role", ["admin", "operator", "analyst", "integration"])
def test_a_staff_token_decodes_to_its_tenant_and_role(role: str) -> None:
    token = issue_token(KEY, tenant=AGENCY, role=role)  # type: ignore[arg-type]

    principal = decode_token(KEY, token)

    assert isinstance(principal, Principal)
    assert (principal.tenant, principal.role, principal.subject) == (
        AGENCY,
        role,
        f"{role}@{AGENCY}",
    )
    assert principal.document is None
    assert principal.token_id


def test_an_operator_token_names_the_operator() -> None:
    token = issue_token(KEY, tenant=AGENCY, role="operator", subject="marcia.souza")

    assert decode_token(KEY, token).subject == "marcia.souza"


def test_every_token_has_its_own_id() -> None:
    one = decode_token(KEY, issue_token(KEY, tenant=AGENCY, role="admin"))
    two = decode_token(KEY, issue_token(KEY, tenant=AGENCY, role="admin"))

    assert one.token_id != two.token_id


def test_a_portal_token_carries_the_debtors_document() -> None:
    token = issue_token(
        KEY,
        tenant=AGENCY,
        role="portal",
        subject="portal:52998224725",
        document="52998224725",
        ttl=dt.timedelta(minutes=30),
    )

    principal = decode_token(KEY, token)

    assert (principal.role, principal.tenant, principal.document) == (
        "portal",
        AGENCY,
        "52998224725",
    )
    assert principal.subject == "portal:52998224725"
    claims = jwt.decode(token, KEY, algorithms=[ALGORITHM], issuer=ISSUER)
    assert claims["exp"] - claims["iat"] == 30 * 60


def test_an_expired_portal_token_is_refused() -> None:
    an_hour_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    token = issue_token(
        KEY,
        tenant=AGENCY,
        role="portal",
        document="52998224725",
        ttl=dt.timedelta(minutes=30),
        now=an_hour_ago,
    )

    with pytest.raises(InvalidToken, match="token expirado"):
        decode_token(KEY, token)


def test_a_token_signed_with_another_key_is_refused() -> None:
    token = issue_token(OTHER_KEY, tenant=AGENCY, role="admin")

    with pytest.raises(InvalidToken, match="token inválido"):
        decode_token(KEY, token)


def test_a_tampered_token_is_refused() -> None:
    header, _payload, signature = issue_token(KEY, tenant=AGENCY, role="operator").split(".")
    forged = jwt.encode(
        {"iss": ISSUER, "sub": "x", "tenant": AGENCY, "role": "admin", "exp": 4_102_444_800},
        OTHER_KEY,
        algorithm=ALGORITHM,
    )
    forged_payload = forged.split(".")[1]

    with pytest.raises(InvalidToken):
        decode_token(KEY, f"{header}.{forged_payload}.{signature}")


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "Bearer x.y.z"])
def test_garbage_is_refused(garbage: str) -> None:
    with pytest.raises(InvalidToken):
        decode_token(KEY, garbage)


def test_an_unsigned_token_is_refused() -> None:
    unsigned = jwt.encode(
        {"iss": ISSUER, "sub": "x", "tenant": AGENCY, "role": "admin", "exp": 4_102_444_800},
        None,
        algorithm="none",
    )

    with pytest.raises(InvalidToken):
        decode_token(KEY, unsigned)


def test_a_token_of_another_issuer_is_refused() -> None:
    token = jwt.encode(
        {
            "iss": "outro-sistema",
            "sub": "x",
            "tenant": AGENCY,
            "role": "admin",
            "exp": 4_102_444_800,
        },
        KEY,
        algorithm=ALGORITHM,
    )

    with pytest.raises(InvalidToken):
        decode_token(KEY, token)


def test_a_token_without_expiry_is_refused() -> None:
    token = jwt.encode(
        {"iss": ISSUER, "sub": "x", "tenant": AGENCY, "role": "admin"}, KEY, algorithm=ALGORITHM
    )

    with pytest.raises(InvalidToken):
        decode_token(KEY, token)


@pytest.mark.parametrize(
    "claims",
    [
        {"role": "superuser", "tenant": AGENCY},
        {"role": "admin"},
        {"role": "admin", "tenant": 42},
        {"tenant": AGENCY},
    ],
    ids=["unknown-role", "no-tenant", "tenant-not-text", "no-role"],
)
def test_a_well_signed_token_without_a_known_role_and_tenant_is_refused(
    claims: dict[str, object],
) -> None:
    token = jwt.encode(
        {"iss": ISSUER, "sub": "x", "exp": 4_102_444_800, **claims}, KEY, algorithm=ALGORITHM
    )

    with pytest.raises(InvalidToken, match="token sem papel ou assessoria"):
        decode_token(KEY, token)


def test_an_unknown_role_cannot_be_issued() -> None:
    with pytest.raises(ValueError, match="unknown role 'superuser'"):
        issue_token(KEY, tenant=AGENCY, role="superuser")  # type: ignore[arg-type]
