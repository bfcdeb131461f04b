"""An operator who dealt with a message kept in quarantine (asked the sender to send it again,
or decided to leave it) says so: `cobranca quarantine resolve ID --note "..."` records who,
when (the business clock's time) and why as an event of the kept message, and
`cobranca quarantine list` shows only the open ones unless asked for --all, so new problems do
not hide among old ones."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cobranca.cli import app as cli_app
from contracts.clock import DayStarted
from service_runtime.clock import BUSINESS_TZ
from service_runtime.database import sqlite_engine
from service_runtime.eventstore import build_application
from service_runtime.personal_data import SqlKeyVault
from service_runtime.settings import Settings
from services.portfolio.application.importing import (
    PortfolioApplication,
    UnknownKeptMessage,
    kept_messages,
    quarantine,
    resolve_kept,
)
from services.portfolio.domain.quarantine import QuarantinedMessage
from tests.unit.test_portfolio_import import stored_events

BUSINESS_DATE = dt.date(2026, 3, 2)  # not the date the tests run on
TRUNCATED = b'{"tenant": "recupera-sul", "import_id": "qa5-crm-3", "type": "CarteiraRow'
NOT_JSON = b"\xff\xfe documento;nome"


@pytest.fixture
def vault(tmp_path: Path) -> SqlKeyVault:
    return SqlKeyVault(sqlite_engine(str(tmp_path / "keys.sqlite")))


@pytest.fixture
def service(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, vault: SqlKeyVault) -> Any:
    """The portfolio's event store under a data dir, as `cobranca quarantine` opens it, with
    two messages kept; no Kafka, and the business date pinned with COBRANCA_TODAY."""
    monkeypatch.setenv("COBRANCA_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("COBRANCA_TODAY", BUSINESS_DATE.isoformat())
    for name in ("COBRANCA_KAFKA_BOOTSTRAP", "COBRANCA_DATABASE_URL", "COBRANCA_CLOCK_MODE"):
        monkeypatch.delenv(name, raising=False)
    app = build_application(PortfolioApplication, Settings(), "portfolio", vault=vault)
    for offset, payload in ((19, TRUNCATED), (20, NOT_JSON)):
        quarantine(
            app,
            topic="carteiras.inbound",
            partition=1,
            offset=offset,
            key=b"qa5-crm-3",
            payload=payload,
            reason="JSON truncado" if offset == 19 else "not JSON",
        )
    return app


def cli(*args: str) -> Any:
    return CliRunner().invoke(cli_app, ["quarantine", *args])


def words(result: Any) -> str:
    return " ".join(result.output.split())


def test_a_resolved_message_leaves_the_list_and_comes_back_with_all_and_its_note(
    service: PortfolioApplication,
) -> None:
    truncated, not_json = kept_messages(service)
    assert truncated.offset == 19 and not truncated.resolved

    before = cli("list")
    assert before.exit_code == 0, before.output
    assert truncated.id in before.output  # the id to resolve it by
    assert "2 mensagem(ns) em quarentena: 2 aberta(s), 0 resolvida(s)" in words(before)

    done = cli(
        "resolve", truncated.id, "--note", "cliente reenviou o arquivo corrigido", "--by", "ana"
    )
    assert done.exit_code == 0, done.output
    assert "resolvida" in done.output and "cliente reenviou" in done.output

    open_only = cli("list")
    assert open_only.exit_code == 0, open_only.output
    assert truncated.id not in open_only.output and not_json.id in open_only.output
    assert "2 mensagem(ns) em quarentena: 1 aberta(s), 1 resolvida(s)" in words(open_only)
    assert "--all" in open_only.output

    everything = cli("list", "--all")
    assert truncated.id in everything.output and not_json.id in everything.output
    assert "por ana: cliente reenviou o arquivo corrigido" in words(everything)

    as_json = cli("list", "--all", "--json")
    lines = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert [m["offset"] for m in lines] == [19, 20]
    assert (lines[0]["resolved_by"], lines[0]["resolution_note"]) == (
        "ana",
        "cliente reenviou o arquivo corrigido",
    )
    assert lines[1]["resolved_at"] is None
    open_json = cli("list", "--json")
    assert [json.loads(line)["offset"] for line in open_json.stdout.splitlines()] == [20]


def test_the_resolution_is_an_event_of_the_kept_message_on_the_business_date(
    service: PortfolioApplication,
) -> None:
    truncated = kept_messages(service)[0]

    result = cli("resolve", truncated.id[:8], "--note", "ignorada: teste do cliente", "--by", "ana")
    assert result.exit_code == 0, result.output

    (resolved,) = [e for e in stored_events(service) if isinstance(e, QuarantinedMessage.Resolved)]
    assert str(resolved.originator_id) == truncated.id
    assert (resolved.resolved_by, resolved.note) == ("ana", "ignorada: teste do cliente")
    # When: the business clock's date (here COBRANCA_TODAY: no Kafka to read the clock
    # topic, as a service before its first DayStarted), said on standard error.
    assert resolved.resolved_at.astimezone(BUSINESS_TZ).date() == BUSINESS_DATE
    assert "2026-03-02" in result.output
    # The Quarantined event is what it was; the aggregate reads both back.
    message = service.repository.get(resolved.originator_id)
    assert message.resolved and message.resolution_note == "ignorada: teste do cliente"


def test_the_business_date_is_the_clock_topics_latest_day_when_kafka_answers(
    service: PortfolioApplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    announced = dt.date(2026, 3, 9)

    async def last_day(bootstrap: str) -> DayStarted:
        assert bootstrap == "kafka:9092"
        return DayStarted(
            event_id=uuid.uuid4(),
            occurred_at=dt.datetime.now(dt.UTC),
            tenant="platform",
            aggregate_id="calendar",
            aggregate_version=8,
            correlation_id="t",
            causation_id="t",
            date=announced,
            business_day=True,
            mode="manual",
        )

    monkeypatch.setenv("COBRANCA_KAFKA_BOOTSTRAP", "kafka:9092")
    monkeypatch.setattr("services.clock.adapters.client.last_day", last_day)
    truncated = kept_messages(service)[0]

    assert cli("resolve", truncated.id, "--note", "reenviada").exit_code == 0

    (resolved,) = [m for m in kept_messages(service) if m.resolved]
    assert resolved.resolved_at is not None
    assert resolved.resolved_at.astimezone(BUSINESS_TZ).date() == announced
    assert resolved.resolved_by  # the account that ran it, when --by is not given


def test_resolving_again_records_nothing_and_the_first_note_stands(
    service: PortfolioApplication,
) -> None:
    truncated = kept_messages(service)[0]
    assert cli("resolve", truncated.id, "--note", "reenviada", "--by", "ana").exit_code == 0

    again = cli("resolve", truncated.id, "--note", "outra coisa", "--by", "bruno")

    assert again.exit_code == 0, again.output
    assert "já estava resolvida" in again.output and "por ana: reenviada" in words(again)
    resolutions = [e for e in stored_events(service) if isinstance(e, QuarantinedMessage.Resolved)]
    assert len(resolutions) == 1
    assert kept_messages(service)[0].resolution_note == "reenviada"


def test_an_unknown_id_is_said_plainly_and_exits_non_zero(service: PortfolioApplication) -> None:
    unknown = cli("resolve", str(uuid.uuid4()), "--note", "reenviada")
    assert unknown.exit_code == 1
    assert isinstance(unknown.exception, SystemExit)  # no traceback
    assert "nenhuma mensagem em quarentena tem o id" in words(unknown)

    too_short = cli("resolve", "abc", "--note", "reenviada")
    assert too_short.exit_code == 1 and "curto demais" in too_short.output

    no_note = cli("resolve", kept_messages(service)[0].id, "--note", "  ")
    assert no_note.exit_code == 2 and "--note" in no_note.output
    assert not any(m.resolved for m in kept_messages(service))


def test_resolve_kept_needs_a_note_and_a_known_id(service: PortfolioApplication) -> None:
    at = dt.datetime(2026, 3, 2, 12, tzinfo=dt.UTC)
    with pytest.raises(UnknownKeptMessage):
        resolve_kept(service, "0" * 32, note="x", resolved_by="ana", resolved_at=at)
    with pytest.raises(ValueError):
        resolve_kept(
            service, kept_messages(service)[0].id, note=" ", resolved_by="a", resolved_at=at
        )

    message, recorded = resolve_kept(
        service, kept_messages(service)[1].id, note="ignorada", resolved_by="ana", resolved_at=at
    )
    assert recorded and (message.offset, message.resolved_at) == (20, at)
