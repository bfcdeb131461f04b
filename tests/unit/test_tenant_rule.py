"""One rule for a tenant identifier, the envelope's (1 to 63 characters): `cobranca token
create` refuses a tenant that breaks it (and a token that would be born expired), and the
gateway refuses a token whose tenant breaks it, so an old bad token cannot get in either (QA
found a token of tenant "" whose upload stopped the gateway's relay). And `cobranca import`
with no gateway listening says so in one line."""

from __future__ import annotations

import datetime as dt
import socket
import uuid
from pathlib import Path
from typing import Any

import jwt
import pytest
from litestar.testing import TestClient
from typer.testing import CliRunner

from cobranca.cli import app
from contracts.envelope import Envelope, tenant_problem
from services.gateway.adapters.tokens import (
    ALGORITHM,
    ISSUER,
    InvalidToken,
    decode_token,
    issue_token,
)
from tests.unit.test_gateway_security import KEY, real_app


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    monkeypatch.setenv("COBRANCA_SECRET_KEY", KEY)
    monkeypatch.setenv("COBRANCA_DATA_DIR", str(tmp_path))
    runner = CliRunner()

    def run(*args: str) -> Any:
        return runner.invoke(app, list(args))

    return run


def said(result: Any) -> str:
    """The command's words, out of the box click draws around a usage error."""
    return " ".join(result.output.replace("│", " ").split())


def old_token(tenant: str) -> str:
    """A token as `token create` issued them before it checked the tenant."""
    now = dt.datetime.now(dt.UTC)
    claims = {
        "iss": ISSUER,
        "sub": f"admin@{tenant}",
        "tenant": tenant,
        "role": "admin",
        "iat": now,
        "exp": now + dt.timedelta(days=30),
        "jti": str(uuid.uuid4()),
    }
    return jwt.encode(claims, KEY, algorithm=ALGORITHM)


def test_the_tenant_rule_is_the_envelopes() -> None:
    for tenant in ("", "x" * 64):
        assert (
            tenant_problem(tenant) == "a assessoria (tenant) deve ser um texto de 1 a 63 caracteres"
        )
        with pytest.raises(ValueError):
            Envelope.model_validate({"tenant": tenant})
    for tenant in ("a", "recupera-sul", "x" * 63):
        assert tenant_problem(tenant) is None
    assert tenant_problem(None) and tenant_problem(42)


@pytest.mark.parametrize("tenant", ["", "x" * 64])
def test_token_create_refuses_a_tenant_no_event_can_carry(cli: Any, tenant: str) -> None:
    result = cli("token", "create", "--tenant", tenant, "--role", "admin")

    assert result.exit_code == 2
    assert (
        "Invalid value for '--tenant': a assessoria (tenant) deve ser um texto de 1 a 63 "
        "caracteres (A tenant is a text of 1 to 63 characters)"
    ) in said(result)
    assert "eyJ" not in result.output  # no token printed


@pytest.mark.parametrize("days", ["0", "-1"])
def test_token_create_refuses_a_token_born_expired(cli: Any, days: str) -> None:
    result = cli("token", "create", "--tenant", "demo", "--role", "admin", "--ttl-days", days)

    assert result.exit_code == 2
    assert (
        "Invalid value for '--ttl-days': o token deve valer pelo menos 1 dia (must be at least "
        f"1 day): com {days} ele já nasceria expirado"
    ) in said(result)
    assert "eyJ" not in result.output


def test_token_create_still_makes_a_good_token(cli: Any) -> None:
    result = cli("token", "create", "--tenant", "demo", "--role", "admin", "--ttl-days", "1")

    assert result.exit_code == 0, result.output
    principal = decode_token(KEY, result.stdout.strip())
    assert (principal.tenant, principal.role) == ("demo", "admin")


def test_a_token_is_never_issued_for_a_bad_tenant() -> None:
    with pytest.raises(ValueError, match="1 a 63"):
        issue_token(KEY, tenant="", role="admin")


def test_an_old_token_with_an_empty_tenant_does_not_decode() -> None:
    with pytest.raises(InvalidToken) as refused:
        decode_token(KEY, old_token(""))
    assert (refused.value.field, refused.value.rule) == ("tenant", "tenant_length")


@pytest.mark.parametrize("tenant", ["", "x" * 64])
def test_the_api_answers_401_to_a_token_whose_tenant_breaks_the_rule(tenant: str) -> None:
    gateway, _ = real_app()
    client = TestClient(gateway)

    refused = client.get(
        "/api/v1/carteiras/", headers={"Authorization": f"Bearer {old_token(tenant)}"}
    )

    assert refused.status_code == 401
    error = refused.json()["error"]
    assert error["code"] == "unauthorized"
    assert error["message"].startswith("token com assessoria inválida")
    (detail,) = error["details"]
    assert (detail["field"], detail["rule"]) == ("tenant", "tenant_length")
    assert "1 a 63 caracteres" in detail["message"]
    assert detail["message_en"] == "A tenant is a text of 1 to 63 characters"


@pytest.mark.parametrize("tenant", ["  ", " demo", "recupera sul", "cobrança", "-demo", "a/b"])
def test_a_tenant_is_named_as_it_will_be_addressed(cli: Any, tenant: str) -> None:
    # It goes into the portal's address (/p/{tenant}) and file names: a blank, a space, an
    # accent or a slash would make a tenant nobody can reach.
    result = cli("token", "create", "--tenant", tenant, "--role", "admin")

    assert result.exit_code == 2
    assert "só letras sem acento, dígitos, '.', '_' ou '-'" in said(result)
    assert "eyJ" not in result.output
    with pytest.raises(ValueError, match="sem acento"):
        issue_token(KEY, tenant=tenant, role="admin")
    with pytest.raises(InvalidToken) as refused:
        decode_token(KEY, old_token(tenant))
    assert (refused.value.field, refused.value.rule) == ("tenant", "tenant_name")


@pytest.mark.parametrize("tenant", ["demo", "recupera-sul", "assessoria_2", "acme.br", "X" * 63])
def test_the_tenants_named_so_far_still_are(tenant: str) -> None:
    assert decode_token(KEY, issue_token(KEY, tenant=tenant, role="admin")).tenant == tenant


def a_port_nobody_listens_on() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_import_with_no_gateway_listening_says_so_in_one_line(cli: Any, tmp_path: Path) -> None:
    carteira = tmp_path / "carteira.csv"
    carteira.write_text("documento,nome\n", encoding="utf-8")
    url = f"http://127.0.0.1:{a_port_nobody_listens_on()}"

    result = cli("import", str(carteira), "--tenant", "demo", "--url", url)

    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)  # not the ConnectError's traceback
    assert "Traceback" not in result.output
    (line,) = result.output.strip().splitlines()
    assert line.startswith(f"não foi possível falar com o gateway em {url}")
    assert "ConnectError" in line and "cobranca up" in line


def test_import_refuses_a_bad_tenant_before_calling_anyone(cli: Any, tmp_path: Path) -> None:
    carteira = tmp_path / "carteira.csv"
    carteira.write_text("documento,nome\n", encoding="utf-8")

    result = cli("import", str(carteira), "--tenant", "", "--url", "http://127.0.0.1:1")

    assert result.exit_code == 2
    assert "Invalid value for '--tenant': a assessoria (tenant)" in said(result)


def test_the_import_summary_says_the_status_in_portuguese(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from cobranca.cli import _print_summary

    _print_summary({"import_id": "imp-1", "status": "completed", "rows_total": 2, "accepted": 2})

    shown = capsys.readouterr()
    assert "concluída" in shown.out + shown.err
    assert "completed" not in shown.out + shown.err
