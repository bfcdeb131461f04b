"""The client systems' Kafka door (`carteiras.inbound`), as the portfolio reads it: every
message a client sends is answered. A row the contract cannot read but that names its import
and row (an unknown field, an unknown version, a value of the wrong type) is a rejected row of
that import, back on `carteiras.rejected` naming the field and the rule, so the import still
completes; a row for a tenant no token can ever name is rejected naming `tenant`; and a message
that names no row at all is kept in quarantine, where `cobranca quarantine list` finds it."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka import TopicPartition
from sqlalchemy import create_engine
from typer.testing import CliRunner

from cobranca.cli import app as cli_app
from contracts.carteiras import REJECTED_TOPIC, CarteiraRowSubmittedV3, DebtRejected
from contracts.envelope import Envelope
from contracts.portfolio import CarteiraImportCompleted
from service_runtime.database import sqlite_engine
from service_runtime.eventstore import build_application
from service_runtime.personal_data import SqlKeyVault
from service_runtime.settings import Settings
from services.portfolio.adapters.inbound import InboundApplier
from services.portfolio.application.importing import PortfolioApplication, kept_messages
from services.portfolio.domain.quarantine import QuarantinedMessage
from tests.unit.test_portfolio_import import (
    AGENCY,
    JOAO,
    PADARIA,
    TODAY,
    carteira,
    contract_events,
    counters,
    debt,
    debt_events,
    header,
    id_of,
    of_type,
    row,
    stored_events,
)


@pytest.fixture
def vault(tmp_path: Path) -> SqlKeyVault:
    return SqlKeyVault(sqlite_engine(str(tmp_path / "keys.sqlite")))


@pytest.fixture
def app(vault: SqlKeyVault) -> PortfolioApplication:
    return PortfolioApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, vault=vault)


@pytest.fixture
def door(app: PortfolioApplication, tmp_path: Path) -> Any:
    """`send(*messages)`: the messages as one poll of `carteiras.inbound` (models or raw
    bytes), read by the portfolio's inbound applier."""
    applier = InboundApplier(
        app,
        create_engine(f"sqlite:///{tmp_path / 'positions.sqlite'}"),
        SimpleNamespace(today=lambda: TODAY),  # type: ignore[arg-type]
    )
    offsets = iter(range(1_000_000))

    def send(*messages: Envelope | bytes | dict[str, Any]) -> None:
        records = []
        for message in messages:
            if isinstance(message, Envelope):
                value = message.model_dump_json().encode()
            elif isinstance(message, dict):
                value = json.dumps(message).encode()
            else:
                value = message
            records.append(
                SimpleNamespace(
                    topic="carteiras.inbound",
                    partition=2,
                    offset=next(offsets),
                    key=b"qa5-crm-3",
                    value=value,
                    timestamp=1_764_063_000_000,
                    headers=[],
                )
            )
        applier.apply_records({TopicPartition("carteiras.inbound", 2): records})

    return send


def as_json(message: Envelope, **changes: Any) -> dict[str, Any]:
    """The message as a client wrote it, with its own mistakes."""
    body: dict[str, Any] = json.loads(message.model_dump_json())
    for name, value in changes.items():
        if "__" in name:
            outer, inner = name.split("__")
            body[outer][inner] = value
        else:
            body[name] = value
    return body


def rejected_rows(app: PortfolioApplication) -> list[DebtRejected]:
    pairs = contract_events(app)
    assert {topic for topic, e in pairs if isinstance(e, DebtRejected)} <= {REJECTED_TOPIC}
    return of_type(pairs, DebtRejected)


def quarantined(app: PortfolioApplication) -> list[Any]:
    return [e for e in stored_events(app) if isinstance(e, QuarantinedMessage.Quarantined)]


# --- a row the contract cannot read, but which names its import and row ----------------------


def test_a_row_of_an_unknown_version_is_rejected_and_its_import_completes(
    app: PortfolioApplication, door: Any
) -> None:
    # QA (qa5-crm-3): rows_total 2, S2 with schema_version 4: the import stayed "processing".
    door(
        header("qa5-crm-3", 2),
        row("qa5-crm-3", 1, JOAO),
        as_json(row("qa5-crm-3", 2, PADARIA), schema_version=4),
    )

    assert counters(carteira(app, "qa5-crm-3")) == {
        "rows_total": 2,
        "rows_read": 2,
        "created": 1,
        "updated": 0,
        "unchanged": 0,
        "rejected": 1,
        "completed": True,
    }
    (rejected,) = rejected_rows(app)
    assert (rejected.import_id, rejected.row_key, rejected.row_number) == ("qa5-crm-3", "2", 2)
    assert [(e.field, e.rule) for e in rejected.errors] == [("schema_version", "unknown_version")]
    assert rejected.reason == (
        "a versão 4 de CarteiraRowSubmitted não existe: as versões são 1, 2 e 3 "
        "(schema_version: unknown_version)"
    )
    # The row's columns come back as sent, for fixing.
    assert rejected.fields.contract == PADARIA["contract"]
    assert rejected.tenant == AGENCY
    assert debt_events(app, id_of(PADARIA)) == []
    assert of_type(contract_events(app), CarteiraImportCompleted)
    assert quarantined(app) == []


def test_a_row_with_an_unknown_field_or_a_value_of_the_wrong_type_is_rejected_naming_it(
    app: PortfolioApplication, door: Any
) -> None:
    door(
        header("qa5-crm-4", 3),
        as_json(row("qa5-crm-4", 1, JOAO), fields__rg="12.345.678-9"),
        as_json(row("qa5-crm-4", 2, PADARIA), fields__original_amount=89.9, row_number="dois"),
        row("qa5-crm-4", 3, {**JOAO, "contract": "BH-3"}),
    )

    rejected = {r.row_key: r for r in rejected_rows(app)}
    assert sorted(rejected) == ["1", "2"]
    assert [(e.field, e.rule) for e in rejected["1"].errors] == [("fields.rg", "extra_forbidden")]
    assert rejected["1"].reason == (
        "o campo 'fields.rg' não faz parte de CarteiraRowSubmitted v1 (fields.rg: extra_forbidden)"
    )
    assert "12.345.678-9" not in rejected["1"].model_dump_json()  # an unknown value is not kept
    assert [(e.field, e.rule) for e in rejected["2"].errors] == [
        ("row_number", "int_type"),
        ("fields.original_amount", "string_type"),
    ]
    assert rejected["2"].row_number is None  # not a number: not repeated
    assert rejected["2"].fields.original_amount is None
    assert counters(carteira(app, "qa5-crm-4"))["completed"] is True
    assert counters(carteira(app, "qa5-crm-4"))["rejected"] == 2
    assert quarantined(app) == []


def test_an_unreadable_row_sent_again_is_rejected_once_and_its_first_message_wins(
    app: PortfolioApplication, door: Any
) -> None:
    bad = as_json(row("qa5-crm-5", 1, JOAO), schema_version=4)
    door(bad, row("qa5-crm-5", 1, JOAO))
    door(bad)

    assert len(rejected_rows(app)) == 1
    assert carteira(app, "qa5-crm-5").rows_read == 1
    assert debt_events(app, id_of(JOAO)) == []


# --- a tenant no token can name ---------------------------------------------------------------


def test_a_row_for_a_tenant_that_is_not_a_tenant_name_is_rejected_naming_tenant(
    app: PortfolioApplication, door: Any
) -> None:
    # QA: tenant "Agência Fantasma" (refused by `cobranca token create`) got a debt.
    ghost = "Agência Fantasma"
    door(header("qa5-crm-6", 1, tenant=ghost), row("qa5-crm-6", 1, JOAO, tenant=ghost))

    assert debt_events(app, id_of(JOAO, tenant=ghost)) == []
    (rejected,) = rejected_rows(app)
    assert rejected.tenant == ghost  # back to the client that sent it, on its import
    assert [(e.field, e.rule) for e in rejected.errors] == [("tenant", "tenant_name")]
    assert rejected.reason.startswith("a assessoria (tenant) deve ter só letras sem acento")
    imp = carteira(app, "qa5-crm-6", tenant=ghost)
    assert (imp.rejected, imp.completed) == (1, True)


def test_a_tenant_rejected_together_with_the_rows_own_problems(app: PortfolioApplication) -> None:
    outcome = app.handle_inbound(
        [row("qa5-crm-7", 1, JOAO, tenant="acme sul", document="111.111.111-11")], TODAY
    )

    assert outcome.rejected == 1
    (rejected,) = rejected_rows(app)
    assert [(e.field, e.rule) for e in rejected.errors] == [
        ("tenant", "tenant_name"),
        ("document", "repeated_digits"),
    ]


def test_a_tenant_name_as_tokens_have_it_imports_as_before(app: PortfolioApplication) -> None:
    outcome = app.handle_inbound([row("nov", 1, JOAO, tenant="Recupera.Sul_2")], TODAY)

    assert outcome.created == 1
    assert debt(app, id_of(JOAO, tenant="Recupera.Sul_2")).tenant == "Recupera.Sul_2"


# --- what names no row stays in quarantine, and an operator can list it ----------------------


def test_what_names_no_row_is_kept_in_quarantine_and_nothing_is_published(
    app: PortfolioApplication, door: Any
) -> None:
    no_row_key = as_json(row("qa5-crm-8", 1, JOAO))
    del no_row_key["row_key"]
    door(
        b"{not json",
        no_row_key,
        as_json(header("qa5-crm-8", 1), rows_total="um"),  # a header: it is no row
        as_json(row("qa5-crm-8", 1, JOAO), tenant=""),  # no tenant to answer on
        as_json(row("qa5-crm-8", 1, JOAO), type="CarteiraRow"),  # not a row's type
    )

    assert len(quarantined(app)) == 5
    assert contract_events(app) == []
    kept = kept_messages(app)
    assert [m.offset for m in kept] == [0, 1, 2, 3, 4]
    assert kept[0].tenant is None and kept[0].payload == "{not json"
    assert (kept[1].tenant, kept[1].import_id, kept[1].partition) == (AGENCY, "qa5-crm-8", 2)
    assert "row_key" in kept[1].reason


def test_cobranca_quarantine_list_shows_what_the_portfolio_kept(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, vault: Any
) -> None:
    monkeypatch.setenv("COBRANCA_DATA_DIR", str(tmp_path))
    service = build_application(PortfolioApplication, Settings(), "portfolio", vault=vault)
    from services.portfolio.application.importing import quarantine

    quarantine(
        service,
        topic="carteiras.inbound",
        partition=1,
        offset=19,
        key=b"qa5-crm-3",
        payload=b'{"tenant": "recupera-sul", "import_id": "qa5-crm-3", "type": "Carteira"}',
        reason="unknown event Carteira v1",
    )
    runner = CliRunner()

    table = runner.invoke(cli_app, ["quarantine", "list", "--service", "portfolio"])
    assert table.exit_code == 0, table.output
    words = " ".join(table.output.split())
    assert "carteiras.inbound[1]@19" in words and "qa5-crm-3" in words
    assert "1 mensagem" in words

    as_lines = runner.invoke(cli_app, ["quarantine", "list", "--json"])
    assert as_lines.exit_code == 0, as_lines.output
    (line,) = as_lines.stdout.splitlines()
    kept = json.loads(line)
    assert kept["payload"].startswith('{"tenant": "recupera-sul"')
    assert (kept["partition"], kept["offset"], kept["import_id"]) == (1, 19, "qa5-crm-3")
    assert dt.datetime.fromisoformat(kept["kept_at"]).tzinfo is not None

    other = runner.invoke(cli_app, ["quarantine", "list", "--service", "ruler"])
    assert other.exit_code == 2


def test_a_v3_row_as_sent_is_not_quarantined(app: PortfolioApplication, door: Any) -> None:
    base = row("qa5-crm-9", 1, JOAO)
    v3 = CarteiraRowSubmittedV3.model_validate(
        {**as_json(base), "schema_version": 3, "fields": {**JOAO, "birth_date": "17/05/1980"}}
    )
    door(v3)
    assert quarantined(app) == [] and debt(app, id_of(JOAO)).tenant == AGENCY
