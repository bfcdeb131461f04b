"""Creditors hand carteiras to the agency, send them again, correct them, and now and then send
something unreadable: the portfolio service must turn each row into exactly one debt (or one
rejection with its reason), whatever the order and however often the messages arrive, and
publish contract events that say so. The debtor's name and contact never appear in clear in
what it stores or publishes: they are sealed with the debtor's key, and erasing the key
erases them."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import StoredEvent

from contracts.carteiras import (
    REJECTED_TOPIC,
    CarteiraImportRequested,
    CarteiraRowSubmitted,
    DebtRejected,
    RowFields,
)
from contracts.envelope import Envelope, derived_event_id
from contracts.personal import SealedPersonalData
from contracts.portfolio import (
    DEBTS_TOPIC,
    IMPORTS_TOPIC,
    CarteiraImportCompleted,
    CarteiraImportStarted,
    CarteiraImportStartedV2,
    CarteiraRowsProcessed,
    DebtImportedV2,
    DebtUpdatedV2,
)
from service_runtime.database import sqlite_engine
from service_runtime.personal_data import KeyVault, SqlKeyVault, unseal
from services.portfolio.adapters.integration_events import integration_events
from services.portfolio.application.importing import PortfolioApplication, quarantine
from services.portfolio.domain.carteira_import import CarteiraImport, import_aggregate_id
from services.portfolio.domain.debt import Debt, debt_id_for
from services.portfolio.domain.quarantine import QuarantinedMessage
from tests.support.stored_events import as_stored_in

TODAY = dt.date(2026, 11, 25)
SENT_AT = dt.datetime(2026, 11, 25, 9, 30, tzinfo=dt.UTC)
AGENCY = "recupera-sul"
OTHER_AGENCY = "cobra-norte"

JOAO = {
    "document": "529.982.247-25",
    "name": "João da Silva",
    "creditor": "Banco Horizonte S.A.",
    "contract": "BH-2024-0001",
    "installment": "1",
    "original_amount": "1.234,56",
    "due_date": "10/01/2025",
    "email": "joao.silva@gmail.com",
    "phone": "(11) 98765-4321",
    "city": "São Paulo",
    "state": "SP",
    "category": "cartão de crédito",
}
PADARIA = {
    "document": "11.222.333/0001-81",
    "name": "Padaria Pão Quente Ltda",
    "creditor": "Crédito Fácil Financeira",
    "contract": "CF-77",
    "installment": "3",
    "original_amount": "89,90",
    "due_date": "2025-03-31",
    "city": "Curitiba",
    "state": "PR",
}
OFICINA = {  # an alphanumeric CNPJ, as issued since July 2026
    "document": "12.ABC.345/01DE-35",
    "name": "Oficina Mecânica Dois Irmãos",
    "creditor": "Conecta Fibra Telecom",
    "contract": "CFT-9000",
    "installment": "",
    "original_amount": "R$ 15.000,00",
    "due_date": "01/02/2026",
}


# --- building inbound messages as the gateway or a client system would -----------------------


def _row_fields(base: dict[str, str], **changes: str) -> RowFields:
    return RowFields(**{**base, **changes})


def header(
    import_id: str,
    rows_total: int | None,
    *,
    tenant: str = AGENCY,
    source: str = "client",
    filename: str | None = "carteira-novembro.csv",
    requested_by: str | None = "erp-banco-horizonte",
) -> CarteiraImportRequested:
    return CarteiraImportRequested(
        # A redelivered message keeps its event id: derive it from what identifies the message.
        event_id=derived_event_id("test-inbound", tenant, import_id, "header"),
        occurred_at=SENT_AT,
        tenant=tenant,
        aggregate_id=import_id,
        aggregate_version=0,
        correlation_id=import_id,
        causation_id=import_id,
        import_id=import_id,
        source=source,  # type: ignore[arg-type]
        filename=filename,
        rows_total=rows_total,
        requested_by=requested_by,
    )


def row(
    import_id: str,
    line: int,
    base: dict[str, str],
    *,
    tenant: str = AGENCY,
    rows_total: int | None = None,
    **changes: str,
) -> CarteiraRowSubmitted:
    return CarteiraRowSubmitted(
        event_id=derived_event_id("test-inbound", tenant, import_id, "row", line),
        occurred_at=SENT_AT,
        tenant=tenant,
        aggregate_id=import_id,
        aggregate_version=line,
        correlation_id=import_id,
        causation_id=import_id,
        import_id=import_id,
        source="client",
        row_key=str(line),
        row_number=line,
        rows_total=rows_total,
        fields=_row_fields(base, **changes),
    )


def id_of(base: dict[str, str], tenant: str = AGENCY) -> uuid.UUID:
    return debt_id_for(tenant, base["creditor"], base["contract"], base["installment"])


# --- reading back what the service stored ------------------------------------------------------


@pytest.fixture
def vault(tmp_path: Path) -> SqlKeyVault:
    return SqlKeyVault(sqlite_engine(str(tmp_path / "keys.sqlite")))


@pytest.fixture
def app(vault: SqlKeyVault) -> PortfolioApplication:
    return PortfolioApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, vault=vault)


def opened(app: PortfolioApplication, sealed: SealedPersonalData | dict[str, str] | None) -> Any:
    """Personal data as a service with the vault reads it (None once erased)."""
    assert sealed is not None and app.vault is not None
    return unseal(SealedPersonalData.model_validate(sealed), app.vault)


def contact(app: PortfolioApplication, debt_id: uuid.UUID) -> Any:
    return opened(app, debt(app, debt_id).personal)


def stored_events(app: PortfolioApplication) -> list[Any]:
    notifications = app.recorder.select_notifications(start=1, limit=100_000)
    return [app.mapper.to_domain_event(n) for n in notifications]


def contract_events(app: PortfolioApplication) -> list[tuple[str, Envelope]]:
    return [pair for event in stored_events(app) for pair in integration_events(event)]


def of_type(pairs: Sequence[tuple[str, Envelope]], kind: type[Envelope]) -> list[Any]:
    return [event for _, event in pairs if isinstance(event, kind)]


def debt(app: PortfolioApplication, debt_id: uuid.UUID) -> Debt:
    found = app.repository.get(debt_id)
    assert isinstance(found, Debt)
    return found


def carteira(app: PortfolioApplication, import_id: str, tenant: str = AGENCY) -> CarteiraImport:
    found = app.repository.get(import_aggregate_id(tenant, import_id))
    assert isinstance(found, CarteiraImport)
    return found


def counters(imp: CarteiraImport) -> dict[str, Any]:
    return {
        "rows_total": imp.rows_total,
        "rows_read": imp.rows_read,
        "created": imp.created,
        "updated": imp.updated,
        "unchanged": imp.unchanged,
        "rejected": imp.rejected,
        "completed": imp.completed,
    }


def debt_events(app: PortfolioApplication, debt_id: uuid.UUID) -> list[Any]:
    return [e for e in stored_events(app) if e.originator_id == debt_id]


# --- a creditor hands over a carteira ------------------------------------------------------


def test_a_carteira_becomes_one_debt_per_row_named_by_tenant_creditor_contract_installment(
    app: PortfolioApplication,
) -> None:
    outcome = app.handle_inbound(
        [
            header("nov-2026", 3),
            row("nov-2026", 2, JOAO),
            row("nov-2026", 3, PADARIA),
            row("nov-2026", 4, OFICINA),
        ],
        TODAY,
    )

    assert (outcome.created, outcome.updated, outcome.unchanged, outcome.rejected) == (3, 0, 0, 0)
    assert outcome.imports_completed == ["nov-2026"]

    joao = debt(app, id_of(JOAO))
    assert joao.id == debt_id_for(AGENCY, "Banco Horizonte S.A.", "BH-2024-0001", "1")
    assert (joao.tenant, joao.creditor, joao.contract, joao.installment) == (
        AGENCY,
        "Banco Horizonte S.A.",
        "BH-2024-0001",
        "1",
    )
    assert (joao.document, joao.document_kind) == ("52998224725", "cpf")
    assert (joao.original_amount_cents, joao.due_date) == (123456, dt.date(2025, 1, 10))
    assert contact(app, joao.id) == {
        "name": "João da Silva",
        "email": "joao.silva@gmail.com",
        "phone": "11987654321",
        "city": "São Paulo",
        "state": "SP",
    }
    assert joao.import_id == "nov-2026"

    padaria = debt(app, id_of(PADARIA))
    assert (padaria.document, padaria.document_kind) == ("11222333000181", "cnpj")
    assert (padaria.original_amount_cents, padaria.due_date) == (8990, dt.date(2025, 3, 31))
    assert contact(app, padaria.id)["email"] is None

    oficina = debt(app, id_of(OFICINA))
    assert (oficina.document, oficina.document_kind) == ("12ABC34501DE35", "cnpj")
    assert (oficina.installment, oficina.original_amount_cents) == ("", 1_500_000)

    assert counters(carteira(app, "nov-2026")) == {
        "rows_total": 3,
        "rows_read": 3,
        "created": 3,
        "updated": 0,
        "unchanged": 0,
        "rejected": 0,
        "completed": True,
    }


def test_the_debt_id_is_the_same_every_time_and_differs_per_installment() -> None:
    first = debt_id_for(AGENCY, "Banco Horizonte S.A.", "BH-2024-0001", "1")
    assert first == debt_id_for(AGENCY, "Banco Horizonte S.A.", "BH-2024-0001", "1")
    assert first != debt_id_for(AGENCY, "Banco Horizonte S.A.", "BH-2024-0001", "2")
    assert first != debt_id_for(AGENCY, "Banco Horizonte S.A.", "BH-2024-0002", "1")
    assert first != debt_id_for(AGENCY, "Crédito Fácil Financeira", "BH-2024-0001", "1")
    assert first.version == 5  # uuid5: derived, never random


def test_the_same_batch_delivered_again_changes_nothing(app: PortfolioApplication) -> None:
    batch = [header("nov-2026", 2), row("nov-2026", 2, JOAO), row("nov-2026", 3, PADARIA)]
    app.handle_inbound(batch, TODAY)
    events_before = stored_events(app)
    counters_before = counters(carteira(app, "nov-2026"))

    again = app.handle_inbound(batch, TODAY)

    assert (again.created, again.updated, again.unchanged, again.rejected) == (0, 0, 0, 0)
    assert again.duplicates == 2
    assert again.imports_completed == []
    assert len(stored_events(app)) == len(events_before)
    assert counters(carteira(app, "nov-2026")) == counters_before


def test_a_redelivered_batch_with_a_rejected_row_does_not_reject_it_twice(
    app: PortfolioApplication,
) -> None:
    batch = [row("nov-2026", 2, JOAO), row("nov-2026", 3, PADARIA, document="000.000.000-00")]
    app.handle_inbound(batch, TODAY)
    before = len(stored_events(app))

    again = app.handle_inbound(batch, TODAY)

    assert (again.rejected, again.duplicates) == (0, 2)
    assert len(stored_events(app)) == before
    assert carteira(app, "nov-2026").rejected == 1


def test_overlapping_batches_of_one_import_count_each_row_once(app: PortfolioApplication) -> None:
    app.handle_inbound(
        [header("nov-2026", 3), row("nov-2026", 2, JOAO), row("nov-2026", 3, PADARIA)], TODAY
    )
    # The consumer crashed after the first batch was saved but before committing its offset:
    # the broker delivers line 3 again together with line 4.
    outcome = app.handle_inbound([row("nov-2026", 3, PADARIA), row("nov-2026", 4, OFICINA)], TODAY)

    assert (outcome.created, outcome.duplicates) == (1, 1)
    assert outcome.imports_completed == ["nov-2026"]
    assert counters(carteira(app, "nov-2026")) == {
        "rows_total": 3,
        "rows_read": 3,
        "created": 3,
        "updated": 0,
        "unchanged": 0,
        "rejected": 0,
        "completed": True,
    }


def test_the_same_row_twice_in_one_batch_is_read_once(app: PortfolioApplication) -> None:
    outcome = app.handle_inbound([row("nov-2026", 2, JOAO), row("nov-2026", 2, JOAO)], TODAY)

    assert (outcome.created, outcome.duplicates) == (1, 1)
    assert carteira(app, "nov-2026").rows_read == 1
    assert len(debt_events(app, id_of(JOAO))) == 1


def resent(message: CarteiraRowSubmitted, n: int = 1, **changes: str) -> CarteiraRowSubmitted:
    """The same row (its row_key) sent again as another message, changed or not."""
    return message.model_copy(
        update={
            "event_id": derived_event_id(message.event_id, "resent", n),
            "fields": message.fields.model_copy(update=changes),
        }
    )


def test_a_row_sent_again_in_the_same_batch_keeps_the_first_message(
    app: PortfolioApplication,
) -> None:
    # QA: R1 valid at 10,00, R1 again with CPF 111.111.111-11, then R2; all read in one poll.
    r1 = row("qa5-crm-2", 1, JOAO, original_amount="10,00")
    r2 = row("qa5-crm-2", 2, PADARIA)

    outcome = app.handle_inbound([r1, resent(r1, document="111.111.111-11"), r2], TODAY)

    assert (outcome.created, outcome.rejected, outcome.duplicates) == (2, 0, 1)
    assert debt(app, id_of(JOAO)).original_amount_cents == 1000
    assert of_type(contract_events(app), DebtRejected) == []
    assert carteira(app, "qa5-crm-2").rows_read == 2


def test_the_first_message_of_a_row_wins_in_a_batch_as_across_batches(
    app: PortfolioApplication,
) -> None:
    # QA: R6 at 99,99 then R6 at 77,77 in one batch imported 77,77.
    r6 = row("qa5-crm-1", 6, JOAO, original_amount="99,99")
    app.handle_inbound([r6, resent(r6, original_amount="77,77")], TODAY)
    assert debt(app, id_of(JOAO)).original_amount_cents == 9999

    # A rejected first message wins too: the row was read, rejected, and stays so.
    bad = row("qa5-crm-1", 7, PADARIA, document="111.111.111-11")
    outcome = app.handle_inbound([bad, resent(bad, document=PADARIA["document"])], TODAY)
    assert (outcome.created, outcome.rejected, outcome.duplicates) == (0, 1, 1)
    assert debt_events(app, id_of(PADARIA)) == []

    # Later, in another batch: ignored as well.
    later = app.handle_inbound([resent(r6, 2, original_amount="55,55")], TODAY)
    assert later.duplicates == 1
    assert debt(app, id_of(JOAO)).original_amount_cents == 9999


# --- the creditor sends the carteira again next month ----------------------------------------


def test_a_reimport_with_a_new_amount_and_due_date_updates_the_debt_once(
    app: PortfolioApplication,
) -> None:
    app.handle_inbound(
        [header("nov-2026", 2), row("nov-2026", 2, JOAO), row("nov-2026", 3, PADARIA)], TODAY
    )

    # December: João's installment was renegotiated by the bank; the bakery's is as it was.
    outcome = app.handle_inbound(
        [
            header("dez-2026", 2),
            row("dez-2026", 2, JOAO, original_amount="1.300,00", due_date="15/01/2025"),
            row("dez-2026", 3, PADARIA),
        ],
        TODAY,
    )

    assert (outcome.created, outcome.updated, outcome.unchanged, outcome.rejected) == (0, 1, 1, 0)
    joao_events = debt_events(app, id_of(JOAO))
    assert [type(e) for e in joao_events] == [Debt.Imported, Debt.Updated]
    updated = joao_events[1]
    assert updated.changes == [
        {"field": "original_amount_cents", "old": 123456, "new": 130000},
        {"field": "due_date", "old": dt.date(2025, 1, 10), "new": dt.date(2025, 1, 15)},
    ]
    assert (updated.import_id, updated.row_key) == ("dez-2026", "2")
    assert len(debt_events(app, id_of(PADARIA))) == 1  # unchanged: no event at all

    joao = debt(app, id_of(JOAO))
    assert (joao.original_amount_cents, joao.due_date, joao.import_id) == (
        130000,
        dt.date(2025, 1, 15),
        "dez-2026",
    )
    assert counters(carteira(app, "dez-2026")) == {
        "rows_total": 2,
        "rows_read": 2,
        "created": 0,
        "updated": 1,
        "unchanged": 1,
        "rejected": 0,
        "completed": True,
    }
    # The November import keeps its own counters.
    assert carteira(app, "nov-2026").created == 2


def test_the_creditor_corrects_the_debtors_document_and_contact(app: PortfolioApplication) -> None:
    app.handle_inbound([row("nov-2026", 2, JOAO)], TODAY)

    outcome = app.handle_inbound(
        [
            row(
                "dez-2026",
                2,
                JOAO,
                document="111.444.777-35",
                phone="",
                email="JOAO@EMPRESA.COM.BR",
            )
        ],
        TODAY,
    )

    assert outcome.updated == 1
    (updated,) = [e for e in debt_events(app, id_of(JOAO)) if isinstance(e, Debt.Updated)]
    # Personal fields are named, their values stay sealed.
    assert updated.changes == [
        {"field": "document", "old": "52998224725", "new": "11144477735"},
        {"field": "email", "old": None, "new": None},
        {"field": "phone", "old": None, "new": None},
    ]
    assert updated.current["document"] == "11144477735"
    assert updated.current["original_amount_cents"] == 123456  # unchanged values ride along
    assert opened(app, updated.current["personal"]) == {
        "name": "João da Silva",
        "email": "joao@empresa.com.br",
        "phone": None,
        "city": "São Paulo",
        "state": "SP",
    }
    # Sealed with the key of the debtor the debt now names: erasing that debtor erases it.
    assert app.vault is not None
    new_key = app.vault.key_for(AGENCY, "11144477735")
    assert updated.current["personal"]["key_id"] == new_key.key_id


def test_a_reimport_with_the_same_contact_is_unchanged(app: PortfolioApplication) -> None:
    app.handle_inbound([row("nov-2026", 2, JOAO)], TODAY)
    sealed = debt(app, id_of(JOAO)).personal

    # Same contact, written differently: the normalized values are the same.
    outcome = app.handle_inbound(
        [row("dez-2026", 2, JOAO, phone="11 98765 4321", email="Joao.Silva@gmail.com")], TODAY
    )

    assert (outcome.created, outcome.updated, outcome.unchanged) == (0, 0, 1)
    assert len(debt_events(app, id_of(JOAO))) == 1
    assert debt(app, id_of(JOAO)).personal == sealed


def test_a_changed_email_is_an_update_naming_the_field_only(app: PortfolioApplication) -> None:
    app.handle_inbound([row("nov-2026", 2, JOAO)], TODAY)
    before = debt(app, id_of(JOAO)).personal

    outcome = app.handle_inbound([row("dez-2026", 2, JOAO, email="joao@novo.com.br")], TODAY)

    assert (outcome.updated, outcome.unchanged) == (1, 0)
    (updated,) = [e for e in debt_events(app, id_of(JOAO)) if isinstance(e, Debt.Updated)]
    assert updated.changes == [{"field": "email", "old": None, "new": None}]
    after = debt(app, id_of(JOAO)).personal
    assert after != before and after["key_id"] == before["key_id"]  # same debtor, same key
    assert contact(app, id_of(JOAO))["email"] == "joao@novo.com.br"
    (published,) = of_type(contract_events(app), DebtUpdatedV2)
    assert [c.model_dump() for c in published.changes] == [
        {"field": "email", "old": None, "new": None}
    ]
    assert opened(app, published.personal)["email"] == "joao@novo.com.br"


def test_a_renumbered_contract_is_another_debt_and_the_old_one_stays(
    app: PortfolioApplication,
) -> None:
    app.handle_inbound([row("nov-2026", 2, JOAO)], TODAY)

    outcome = app.handle_inbound([row("dez-2026", 2, JOAO, contract="BH-2024-0001-R")], TODAY)

    assert (outcome.created, outcome.updated) == (1, 0)
    renumbered = {**JOAO, "contract": "BH-2024-0001-R"}
    assert id_of(renumbered) != id_of(JOAO)
    assert debt(app, id_of(renumbered)).contract == "BH-2024-0001-R"
    assert len(debt_events(app, id_of(JOAO))) == 1


def test_creditor_and_contract_match_whatever_the_case_accents_and_spaces(
    app: PortfolioApplication,
) -> None:
    app.handle_inbound([row("nov-2026", 2, PADARIA)], TODAY)

    # The creditor's new ERP exports in capitals, without accents, with sloppy spacing.
    outcome = app.handle_inbound(
        [row("dez-2026", 2, PADARIA, creditor="  CREDITO   FACIL FINANCEIRA ", contract="cf-77")],
        TODAY,
    )

    assert (outcome.created, outcome.updated, outcome.unchanged) == (0, 0, 1)
    assert debt_id_for(AGENCY, "  CREDITO   FACIL FINANCEIRA ", "cf-77", "3") == id_of(PADARIA)
    kept = debt(app, id_of(PADARIA))
    assert (kept.creditor, kept.contract) == ("Crédito Fácil Financeira", "CF-77")


def test_two_agencies_with_the_same_creditor_and_contract_hold_different_debts(
    app: PortfolioApplication,
) -> None:
    app.handle_inbound(
        [
            row("nov-2026", 2, JOAO, tenant=AGENCY),
            row("nov-2026", 2, JOAO, tenant=OTHER_AGENCY, original_amount="999,99"),
        ],
        TODAY,
    )

    ours, theirs = debt(app, id_of(JOAO, AGENCY)), debt(app, id_of(JOAO, OTHER_AGENCY))
    assert ours.id != theirs.id
    assert (ours.tenant, ours.original_amount_cents) == (AGENCY, 123456)
    assert (theirs.tenant, theirs.original_amount_cents) == (OTHER_AGENCY, 99999)
    # Same import id, yet two imports: one per agency.
    assert carteira(app, "nov-2026", AGENCY).created == 1
    assert carteira(app, "nov-2026", OTHER_AGENCY).created == 1


# --- rows that cannot be imported -----------------------------------------------------------


def test_invalid_rows_are_rejected_with_their_reasons_and_never_become_debts(
    app: PortfolioApplication,
) -> None:
    bad_cpf = row("nov-2026", 3, {**JOAO, "contract": "BH-1"}, document="529.982.247-26")
    no_amount = row("nov-2026", 4, {**JOAO, "contract": "BH-2"}, original_amount="")
    future = row("nov-2026", 5, {**JOAO, "contract": "BH-3"}, due_date="10/01/2027")
    negative = row("nov-2026", 6, {**JOAO, "contract": "BH-4"}, original_amount="-50,00")

    outcome = app.handle_inbound(
        [header("nov-2026", 5), row("nov-2026", 2, PADARIA), bad_cpf, no_amount, future, negative],
        TODAY,
    )

    assert (outcome.created, outcome.rejected) == (1, 4)
    assert outcome.imports_completed == ["nov-2026"]
    for contract in ("BH-1", "BH-2", "BH-3", "BH-4"):
        debt_id = id_of({**JOAO, "contract": contract})
        assert debt_events(app, debt_id) == []

    (processed,) = [e for e in stored_events(app) if isinstance(e, CarteiraImport.RowsProcessed)]
    reasons = {r["row_key"]: r["reason"] for r in processed.rejections}
    assert reasons == {
        "3": "CPF com dígito verificador inválido",
        "4": "campo obrigatório 'valor original' está vazio",
        "5": "data de vencimento 10/01/2027 está no futuro",
        "6": "valor original não pode ser negativo: -50,00",
    }
    rules = {
        r["row_key"]: [(e["field"], e["rule"]) for e in r["errors"]] for r in processed.rejections
    }
    assert rules == {
        "3": [("document", "check_digit")],
        "4": [("original_amount", "required")],
        "5": [("due_date", "not_in_future")],
        "6": [("original_amount", "positive")],
    }
    assert counters(carteira(app, "nov-2026")) == {
        "rows_total": 5,
        "rows_read": 5,
        "created": 1,
        "updated": 0,
        "unchanged": 0,
        "rejected": 4,
        "completed": True,
    }


def test_a_rejected_row_sent_again_corrected_in_a_new_import_becomes_a_debt(
    app: PortfolioApplication,
) -> None:
    app.handle_inbound([row("nov-2026", 2, JOAO, document="529.982.247-26")], TODAY)
    assert debt_events(app, id_of(JOAO)) == []

    outcome = app.handle_inbound([row("nov-2026-corrigida", 2, JOAO)], TODAY)

    assert outcome.created == 1
    assert debt(app, id_of(JOAO)).document == "52998224725"


# --- when an import is complete --------------------------------------------------------------


def test_an_import_completes_when_the_last_expected_row_is_read(app: PortfolioApplication) -> None:
    first = app.handle_inbound([header("nov-2026", 3), row("nov-2026", 2, JOAO)], TODAY)
    assert first.imports_completed == []
    assert carteira(app, "nov-2026").completed is False

    second = app.handle_inbound([row("nov-2026", 3, PADARIA), row("nov-2026", 4, OFICINA)], TODAY)

    assert second.imports_completed == ["nov-2026"]
    assert carteira(app, "nov-2026").completed is True
    completed = [e for e in stored_events(app) if isinstance(e, CarteiraImport.Completed)]
    assert len(completed) == 1
    assert completed[0].totals == {
        "rows_total": 3,
        "created": 3,
        "updated": 0,
        "unchanged": 0,
        "rejected": 0,
    }


def test_an_import_completes_when_the_header_arrives_after_its_rows(
    app: PortfolioApplication,
) -> None:
    # The client system published its rows first and the header (with the count) last.
    rows = app.handle_inbound([row("nov-2026", 2, JOAO), row("nov-2026", 3, PADARIA)], TODAY)
    assert rows.imports_completed == []
    assert carteira(app, "nov-2026").rows_total is None

    late = app.handle_inbound([header("nov-2026", 2)], TODAY)

    assert late.imports_completed == ["nov-2026"]
    imp = carteira(app, "nov-2026")
    assert (imp.rows_total, imp.rows_read, imp.completed) == (2, 2, True)
    assert imp.filename == "carteira-novembro.csv"


def test_an_import_completes_when_the_header_comes_after_the_rows_in_the_same_batch(
    app: PortfolioApplication,
) -> None:
    outcome = app.handle_inbound(
        [row("nov-2026", 2, JOAO), row("nov-2026", 3, PADARIA), header("nov-2026", 2)], TODAY
    )

    assert outcome.imports_completed == ["nov-2026"]
    assert counters(carteira(app, "nov-2026"))["completed"] is True


def test_rows_that_carry_the_total_complete_the_import_without_a_header(
    app: PortfolioApplication,
) -> None:
    outcome = app.handle_inbound(
        [row("nov-2026", 2, JOAO, rows_total=2), row("nov-2026", 3, PADARIA, rows_total=2)], TODAY
    )

    assert outcome.imports_completed == ["nov-2026"]
    assert carteira(app, "nov-2026").rows_total == 2


def test_an_import_completes_only_once_even_when_its_messages_come_again(
    app: PortfolioApplication,
) -> None:
    batch = [header("nov-2026", 1), row("nov-2026", 2, JOAO)]
    app.handle_inbound(batch, TODAY)
    app.handle_inbound(batch, TODAY)
    app.handle_inbound([header("nov-2026", 1)], TODAY)

    completed = [e for e in stored_events(app) if isinstance(e, CarteiraImport.Completed)]
    assert len(completed) == 1


# --- messages nobody can read ----------------------------------------------------------------


def test_an_unreadable_message_is_kept_once_whatever_how_often_it_arrives(
    app: PortfolioApplication,
) -> None:
    payload = b'{"tenant": "recupera-sul", "import_id": "nov-2026", "type": "CarteiraRow'

    kept = quarantine(
        app,
        topic="carteiras.inbound",
        partition=2,
        offset=41,
        key=b"nov-2026",
        payload=payload,
        reason="JSON truncado",
    )
    # Redelivered, even at another offset after a rebalance: the same content is kept once.
    again = quarantine(
        app,
        topic="carteiras.inbound",
        partition=2,
        offset=57,
        key=b"nov-2026",
        payload=payload,
        reason="JSON truncado",
    )

    assert (kept, again) == (True, False)
    quarantined = [e for e in stored_events(app) if isinstance(e, QuarantinedMessage.Quarantined)]
    assert len(quarantined) == 1
    assert quarantined[0].payload == payload.decode()
    assert (quarantined[0].offset, quarantined[0].key) == (41, "nov-2026")
    assert contract_events(app) == []  # nothing of it is published


def test_quarantine_keeps_what_it_can_tell_about_the_message(app: PortfolioApplication) -> None:
    readable_json = b'{"tenant": "recupera-sul", "import_id": "nov-2026", "type": "Nope"}'
    not_json = b"\xff\xfe documento;nome"

    assert quarantine(
        app,
        topic="carteiras.inbound",
        partition=0,
        offset=1,
        key=None,
        payload=readable_json,
        reason="unknown event Nope v1",
    )
    assert quarantine(
        app,
        topic="carteiras.inbound",
        partition=0,
        offset=2,
        key=None,
        payload=not_json,
        reason="not JSON",
    )

    first = app.repository.get(
        next(e.originator_id for e in stored_events(app) if e.payload == readable_json.decode())
    )
    assert isinstance(first, QuarantinedMessage)
    assert (first.tenant, first.import_id, first.reason) == (
        AGENCY,
        "nov-2026",
        "unknown event Nope v1",
    )
    events = stored_events(app)
    assert len(events) == 2
    assert events[1].tenant is None and events[1].import_id is None
    assert "documento;nome" in events[1].payload


# --- what the portfolio publishes ------------------------------------------------------------


def _november_then_december(app: PortfolioApplication) -> None:
    app.handle_inbound(
        [
            header("nov-2026", 4),
            row("nov-2026", 2, JOAO),
            row("nov-2026", 3, PADARIA),
            row("nov-2026", 4, {**JOAO, "contract": "BH-X"}, document="529.982.247-26"),
            row("nov-2026", 5, {**JOAO, "contract": "BH-Y"}, original_amount="abc"),
        ],
        TODAY,
    )
    app.handle_inbound(
        [
            header("dez-2026", 2),
            row("dez-2026", 2, JOAO, original_amount="1.300,00", due_date="15/01/2025"),
            row("dez-2026", 3, PADARIA),
        ],
        TODAY,
    )


def test_debt_imported_carries_the_debt_as_imported(app: PortfolioApplication) -> None:
    app.handle_inbound([header("nov-2026", 1), row("nov-2026", 2, JOAO)], TODAY)

    pairs = contract_events(app)
    (imported,) = of_type(pairs, DebtImportedV2)
    assert [topic for topic, e in pairs if e is imported] == [DEBTS_TOPIC]
    assert imported.debt_id == imported.aggregate_id == str(id_of(JOAO))
    assert imported.aggregate_version == 1
    assert imported.tenant == AGENCY
    assert (imported.document, imported.document_kind) == ("52998224725", "cpf")
    assert imported.schema_version == 2
    assert opened(app, imported.personal) == {
        "name": "João da Silva",
        "email": "joao.silva@gmail.com",
        "phone": "11987654321",
        "city": "São Paulo",
        "state": "SP",
    }
    assert (imported.creditor, imported.contract, imported.installment) == (
        "Banco Horizonte S.A.",
        "BH-2024-0001",
        "1",
    )
    assert (imported.original_amount_cents, imported.due_date) == (123456, dt.date(2025, 1, 10))
    assert imported.category == "cartão de crédito"
    assert (imported.import_id, imported.row_key) == ("nov-2026", "2")
    assert imported.correlation_id == "nov-2026"
    assert imported.causation_id == str(row("nov-2026", 2, JOAO).event_id)
    assert imported.occurred_at.tzinfo is not None


def test_debt_updated_carries_old_and_new_values_and_the_current_debt(
    app: PortfolioApplication,
) -> None:
    _november_then_december(app)

    (updated,) = of_type(contract_events(app), DebtUpdatedV2)
    assert updated.debt_id == str(id_of(JOAO))
    assert updated.aggregate_version == 2
    assert [c.model_dump() for c in updated.changes] == [
        {"field": "original_amount_cents", "old": 123456, "new": 130000},
        {"field": "due_date", "old": "2025-01-10", "new": "2025-01-15"},
    ]
    assert (updated.original_amount_cents, updated.due_date) == (130000, dt.date(2025, 1, 15))
    assert (updated.document, updated.document_kind) == ("52998224725", "cpf")
    assert (updated.creditor, updated.contract, updated.installment) == (
        "Banco Horizonte S.A.",
        "BH-2024-0001",
        "1",
    )
    assert updated.schema_version == 2
    assert opened(app, updated.personal)["name"] == "João da Silva"
    assert updated.category == "cartão de crédito"
    assert (updated.import_id, updated.row_key, updated.correlation_id) == (
        "dez-2026",
        "2",
        "dez-2026",
    )


def test_rows_processed_carries_cumulative_counters_of_its_import(
    app: PortfolioApplication,
) -> None:
    app.handle_inbound([header("nov-2026", 4), row("nov-2026", 2, JOAO)], TODAY)
    app.handle_inbound(
        [row("nov-2026", 3, PADARIA), row("nov-2026", 4, PADARIA, document="123")], TODAY
    )
    app.handle_inbound([row("dez-2026", 2, JOAO, original_amount="1,00")], TODAY)
    app.handle_inbound([row("nov-2026", 5, OFICINA)], TODAY)

    processed = of_type(contract_events(app), CarteiraRowsProcessed)
    progress = [
        (p.import_id, p.rows_read, p.created, p.updated, p.unchanged, p.rejected) for p in processed
    ]
    assert progress == [
        ("nov-2026", 1, 1, 0, 0, 0),
        ("nov-2026", 3, 2, 0, 0, 1),
        ("dez-2026", 1, 0, 1, 0, 0),
        ("nov-2026", 4, 3, 0, 0, 1),
    ]
    assert [p.aggregate_version for p in processed if p.import_id == "nov-2026"] == [2, 3, 4]
    assert all(p.rows_total == 4 for p in processed if p.import_id == "nov-2026")

    (completed,) = of_type(contract_events(app), CarteiraImportCompleted)
    assert (completed.import_id, completed.rows_total, completed.created, completed.rejected) == (
        "nov-2026",
        4,
        3,
        1,
    )
    assert completed.aggregate_version == 5


def test_one_debt_rejected_per_rejected_row_with_line_reason_and_a_valid_document_only(
    app: PortfolioApplication,
) -> None:
    _november_then_december(app)

    pairs = contract_events(app)
    rejected = of_type(pairs, DebtRejected)
    assert {topic for topic, e in pairs if isinstance(e, DebtRejected)} == {REJECTED_TOPIC}
    assert [(r.import_id, r.row_key, r.row_number) for r in rejected] == [
        ("nov-2026", "4", 4),
        ("nov-2026", "5", 5),
    ]
    bad_document, bad_amount = rejected
    assert bad_document.reason == "CPF com dígito verificador inválido"
    assert bad_document.document is None  # an invalid document is not repeated as if it were one
    assert bad_document.fields.document == "529.982.247-26"  # the row as it came, for fixing
    assert bad_amount.reason.startswith("valor original 'abc' não é um valor em reais")
    assert bad_amount.document == "52998224725"  # the document was fine: normalized
    assert [e.model_dump() for e in bad_amount.errors] == [
        {
            "field": "original_amount",
            "rule": "format",
            "message": "valor original 'abc' não é um valor em reais (use 1.234,56 ou 1234.56)",
        }
    ]
    assert bad_amount.causation_id == str(row("nov-2026", 5, JOAO).event_id)
    assert bad_amount.correlation_id == "nov-2026"
    assert bad_amount.tenant == AGENCY


def test_a_rejection_for_a_missing_document_names_no_document(app: PortfolioApplication) -> None:
    app.handle_inbound([row("nov-2026", 2, JOAO, document="   ")], TODAY)

    (rejected,) = of_type(contract_events(app), DebtRejected)
    assert rejected.document is None
    assert rejected.errors[0].rule == "required"


def test_every_stored_event_maps_to_contract_events_with_stable_unique_ids(
    app: PortfolioApplication,
) -> None:
    _november_then_december(app)
    app.handle_inbound([row("jan-2027", 2, JOAO, tenant=OTHER_AGENCY)], TODAY)

    first = contract_events(app)
    second = contract_events(app)

    ids = [e.event_id for _, e in first]
    assert ids == [e.event_id for _, e in second]  # republishing keeps the ids
    assert len(ids) == len(set(ids))
    assert all(e.tenant in (AGENCY, OTHER_AGENCY) for _, e in first)
    topics = {type(e).__name__: topic for topic, e in first}
    assert topics == {
        "CarteiraImportStartedV2": IMPORTS_TOPIC,
        "CarteiraRowsProcessed": IMPORTS_TOPIC,
        "CarteiraImportCompleted": IMPORTS_TOPIC,
        "DebtRejected": REJECTED_TOPIC,
        "DebtImportedV2": DEBTS_TOPIC,
        "DebtUpdatedV2": DEBTS_TOPIC,
    }
    # Every contract event survives a round trip through JSON, as the relay publishes it.
    for _, event in first:
        assert type(event).model_validate_json(event.model_dump_json()) == event


def test_the_import_started_event_tells_who_sent_what(app: PortfolioApplication) -> None:
    app.handle_inbound([header("nov-2026", 2, requested_by="ana@recupera-sul")], TODAY)

    (started,) = of_type(contract_events(app), CarteiraImportStartedV2)
    assert (started.import_id, started.source, started.filename, started.rows_total) == (
        "nov-2026",
        "client",
        "carteira-novembro.csv",
        2,
    )
    assert started.requested_by == "ana@recupera-sul"
    assert started.aggregate_id == str(import_aggregate_id(AGENCY, "nov-2026"))


def test_an_import_is_received_when_its_first_message_was_sent_not_when_work_began(
    app: PortfolioApplication,
) -> None:
    # The client's first row was sent at SENT_AT; the portfolio got to it an hour later (a
    # backlog, a restart): the import still says when the agency received it.
    first = row("nov-2026", 2, JOAO)
    later = first.model_copy(
        update={
            "event_id": derived_event_id("test-inbound", AGENCY, "nov-2026", "row", 3),
            "occurred_at": SENT_AT + dt.timedelta(hours=1),
            "row_key": "3",
            "row_number": 3,
            "rows_total": 2,
        }
    )
    app.handle_inbound([first], TODAY)
    app.handle_inbound([later], TODAY)

    started = of_type(contract_events(app), CarteiraImportStartedV2)
    assert [s.received_at for s in started] == [SENT_AT, SENT_AT]  # the count, declared later
    assert carteira(app, "nov-2026").received_at == SENT_AT


def test_an_import_stored_before_received_at_was_kept_is_published_as_it_was(
    vault: SqlKeyVault,
) -> None:
    before = PortfolioApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, vault=vault)
    before.handle_inbound([header("nov-2026", 2)], TODAY)
    published_before = of_type(contract_events(before), CarteiraImportStartedV2)
    app = PortfolioApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, vault=vault)
    app.recorder.insert_events(
        [
            as_stored_in(n, 1, without=("received_at",))
            for n in before.recorder.select_notifications(start=1, limit=100)
        ]
    )

    assert carteira(app, "nov-2026").received_at is None
    (legacy,) = contract_events(app)
    assert type(legacy[1]) is CarteiraImportStarted  # version 1, as it went out then
    assert legacy[1].event_id == published_before[0].event_id
    # The rows that come now still count in the same import.
    app.handle_inbound([row("nov-2026", 2, JOAO), row("nov-2026", 3, PADARIA)], TODAY)
    assert carteira(app, "nov-2026").completed


def test_a_count_learnt_from_the_rows_keeps_the_filename_and_sender_of_the_header(
    app: PortfolioApplication,
) -> None:
    # The client's header did not know the count yet; its rows do.
    app.handle_inbound([header("nov-2026", None)], TODAY)
    app.handle_inbound(
        [row("nov-2026", 2, JOAO, rows_total=2), row("nov-2026", 3, PADARIA, rows_total=2)], TODAY
    )

    assert carteira(app, "nov-2026").filename == "carteira-novembro.csv"  # the aggregate knows
    started = of_type(contract_events(app), CarteiraImportStartedV2)
    assert [s.rows_total for s in started] == [None, 2]
    latest = started[-1]
    assert (latest.filename, latest.requested_by) == (
        "carteira-novembro.csv",
        "erp-banco-horizonte",
    )


# --- the debtor's personal data: sealed with the debtor's key, erased with it -------------------

ERASED_AT = dt.datetime(2026, 11, 26, 10, 0, tzinfo=dt.UTC)
# How João and the bakery could show up in clear, in any event (the CPF/CNPJ is not personal
# data here: it keys the debt, by design).
IN_CLEAR = (
    "João da Silva",
    "Silva",
    "joao.silva@gmail.com",
    "joao@novo.com.br",
    "11987654321",
    "98765",
    "São Paulo",
    "Padaria Pão Quente",
    "Curitiba",
)


def _as_text(state: bytes) -> str:
    """A stored event's state as text, non-ASCII characters unescaped."""
    return json.dumps(json.loads(state), ensure_ascii=False)


def test_no_name_or_contact_is_stored_or_published_in_clear(app: PortfolioApplication) -> None:
    app.handle_inbound(
        [header("nov-2026", 2), row("nov-2026", 2, JOAO), row("nov-2026", 3, PADARIA)], TODAY
    )
    app.handle_inbound(
        [row("dez-2026", 2, JOAO, email="joao@novo.com.br", due_date="15/01/2025")], TODAY
    )

    stored = [_as_text(n.state) for n in app.recorder.select_notifications(start=1, limit=1000)]
    published = [event.model_dump_json() for _, event in contract_events(app)]
    assert len(stored) == len(published) == 8
    for text in (*stored, *published):
        for clear in IN_CLEAR:
            assert clear not in text
            assert clear not in json.dumps(text)  # nor JSON-escaped
    assert any("52998224725" in text for text in published)  # the document is, by design
    imported = of_type(contract_events(app), DebtImportedV2)
    assert {opened(app, e.personal)["name"] for e in imported} == {
        "João da Silva",
        "Padaria Pão Quente Ltda",
    }


def test_after_the_erasure_the_published_contact_no_longer_opens(
    app: PortfolioApplication, vault: KeyVault
) -> None:
    app.handle_inbound([row("nov-2026", 2, JOAO), row("nov-2026", 3, PADARIA)], TODAY)
    app.handle_inbound([row("dez-2026", 2, JOAO, email="joao@novo.com.br")], TODAY)
    joao = [
        e
        for e in of_type(contract_events(app), DebtImportedV2 | DebtUpdatedV2)
        if e.document == "52998224725"
    ]
    assert len(joao) == 2 and all(opened(app, e.personal) is not None for e in joao)

    erased = vault.erase(AGENCY, "52998224725", by="dpo@recupera-sul", at=ERASED_AT)

    assert erased == [joao[0].personal.key_id]
    # The same events, published again from the store, or read back from the topic.
    for event in [
        *joao,
        *(
            e
            for e in of_type(contract_events(app), DebtImportedV2 | DebtUpdatedV2)
            if e.document == "52998224725"
        ),
    ]:
        assert (
            opened(app, type(event).model_validate_json(event.model_dump_json()).personal) is None
        )
    assert contact(app, id_of(JOAO)) is None
    # Another debtor's data is untouched.
    assert contact(app, id_of(PADARIA))["name"] == "Padaria Pão Quente Ltda"


def test_a_debt_sent_again_after_the_erasure_is_sealed_under_the_debtors_new_key(
    app: PortfolioApplication, vault: KeyVault
) -> None:
    app.handle_inbound([row("nov-2026", 2, JOAO)], TODAY)
    (old_key,) = vault.erase(AGENCY, "52998224725", by="dpo@recupera-sul", at=ERASED_AT)

    # The creditor's next carteira still holds the debt: what it says now is new data.
    outcome = app.handle_inbound([row("dez-2026", 2, JOAO)], TODAY)

    assert (outcome.created, outcome.updated, outcome.unchanged) == (0, 1, 0)
    (updated,) = [e for e in debt_events(app, id_of(JOAO)) if isinstance(e, Debt.Updated)]
    assert updated.changes == [
        {"field": f, "old": None, "new": None} for f in ("name", "email", "phone", "city", "state")
    ]
    sealed = debt(app, id_of(JOAO)).personal
    assert sealed["key_id"] not in (old_key, None)
    assert sealed["key_id"] == vault.key_for(AGENCY, "52998224725").key_id
    assert contact(app, id_of(JOAO))["email"] == "joao.silva@gmail.com"
    (published,) = of_type(contract_events(app), DebtUpdatedV2)
    assert opened(app, published.personal)["name"] == "João da Silva"
    # Once more: now it is unchanged.
    assert app.handle_inbound([row("jan-2027", 2, JOAO)], TODAY).unchanged == 1


def test_a_batch_asks_the_vault_for_its_debtors_keys_once_per_tenant(
    app: PortfolioApplication, vault: SqlKeyVault
) -> None:
    calls: list[tuple[str, list[str]]] = []
    keys_for = vault.keys_for

    def counted(tenant: str, documents: Any) -> Any:
        documents = list(documents)
        calls.append((tenant, documents))
        return keys_for(tenant, documents)

    vault.keys_for = counted  # type: ignore[method-assign]
    rows = [row("nov-2026", n, {**JOAO, "contract": f"C-{n}"}) for n in range(2, 40)]
    app.handle_inbound(
        [*rows, row("nov-2026", 41, PADARIA), row("nov-2026", 42, OFICINA, tenant=OTHER_AGENCY)],
        TODAY,
    )

    assert sorted((tenant, sorted(documents)) for tenant, documents in calls) == [
        (OTHER_AGENCY, ["12ABC34501DE35"]),
        (AGENCY, ["11222333000181", "52998224725"]),
    ]

    calls.clear()
    app.handle_inbound(
        [row("dez-2026", n, {**JOAO, "contract": f"C-{n}"}) for n in range(2, 40)], TODAY
    )
    assert calls == [(AGENCY, ["52998224725"])]


def test_the_portfolio_refuses_rows_without_a_key_vault() -> None:
    app = PortfolioApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    with pytest.raises(RuntimeError, match="key vault"):
        app.handle_inbound([row("nov-2026", 2, JOAO)], TODAY)
    assert app.handle_inbound([header("nov-2026", 1)], TODAY).created == 0  # no rows: no vault


def _as_stored_before_sealing(stored: Any) -> StoredEvent:
    """A debt event as the portfolio stored it before personal data was sealed: the debtor's
    name and contact in clear (JOAO's), no class version."""
    state = json.loads(stored.state)
    state.pop("class_version", None)
    clear = {
        "name": "João da Silva",
        "email": "joao.silva@gmail.com",
        "phone": "11987654321",
        "city": "São Paulo",
        "state": "SP",
    }
    if stored.topic.endswith("Debt.Imported"):
        del state["personal"]
        state.update(clear)
    else:
        del state["current"]["personal"]
        state["current"].update(clear)
        state["changes"].append(
            {"field": "email", "old": "joao@antigo.com.br", "new": clear["email"]}
        )
    return StoredEvent(
        originator_id=stored.originator_id,
        originator_version=stored.originator_version,
        topic=stored.topic,
        state=json.dumps(state).encode(),
    )


def test_debts_stored_before_sealing_still_load_and_are_sealed_when_sent_again(
    vault: SqlKeyVault,
) -> None:
    before = PortfolioApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, vault=vault)
    before.handle_inbound([row("nov-2026", 2, JOAO)], TODAY)
    before.handle_inbound([row("dez-2026", 2, JOAO, original_amount="1.300,00")], TODAY)
    app = PortfolioApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, vault=vault)
    app.recorder.insert_events(
        [
            _as_stored_before_sealing(n)
            for n in before.recorder.select_notifications(start=1, limit=100)
            if n.originator_id == id_of(JOAO)
        ]
    )

    legacy = debt(app, id_of(JOAO))
    assert (legacy.original_amount_cents, legacy.personal) == (130000, None)
    assert not hasattr(legacy, "name")
    (legacy_update,) = [e for e in debt_events(app, id_of(JOAO)) if isinstance(e, Debt.Updated)]
    assert legacy_update.changes[-1] == {"field": "email", "old": None, "new": None}
    assert "name" not in legacy_update.current
    assert contract_events(app) == []  # its contact cannot travel in clear: not published again

    outcome = app.handle_inbound([row("jan-2027", 2, JOAO, original_amount="1.300,00")], TODAY)

    assert outcome.updated == 1
    assert contact(app, id_of(JOAO))["name"] == "João da Silva"
    (published,) = of_type(contract_events(app), DebtUpdatedV2)
    assert [c.field for c in published.changes] == ["name", "email", "phone", "city", "state"]


# --- two replicas of the portfolio service at once ----------------------------------------------


def _replicas(tmp_path: Path, cache_size: str) -> tuple[PortfolioApplication, PortfolioApplication]:
    """Two replicas sharing one event store, as two pods share the database."""
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": str(tmp_path / "portfolio-events.sqlite"),
        "AGGREGATE_CACHE_MAXSIZE": cache_size,
    }
    keys = str(tmp_path / "keys.sqlite")  # and one key vault
    return (
        PortfolioApplication(env=env, vault=SqlKeyVault(sqlite_engine(keys))),
        PortfolioApplication(env=env, vault=SqlKeyVault(sqlite_engine(keys))),
    )


def _loses_the_race_to(
    replica: PortfolioApplication, winner: PortfolioApplication, batch: list[Envelope]
) -> None:
    """Between `replica` reading its aggregates and saving them, `winner` saves `batch`."""
    save = replica.save
    raced: list[bool] = []

    def save_after_the_winner(*aggregates: Any, **kwargs: Any) -> Any:
        if not raced:
            raced.append(True)
            winner.handle_inbound(batch, TODAY)
        return save(*aggregates, **kwargs)

    replica.save = save_after_the_winner  # type: ignore[method-assign]


def test_the_replica_that_loses_a_race_retries_and_counts_each_row_once(tmp_path: Any) -> None:
    first, second = _replicas(tmp_path, "20000")  # the production cache size
    first.handle_inbound([header("nov-2026", 3), row("nov-2026", 2, JOAO)], TODAY)
    # A rebalance hands line 3 to the second replica while the first still works on it.
    _loses_the_race_to(first, second, [row("nov-2026", 3, PADARIA)])

    outcome = first.handle_inbound(
        [row("nov-2026", 3, PADARIA), row("nov-2026", 4, OFICINA)], TODAY
    )

    assert (outcome.created, outcome.duplicates) == (1, 1)
    assert outcome.imports_completed == ["nov-2026"]
    assert counters(carteira(first, "nov-2026")) == {
        "rows_total": 3,
        "rows_read": 3,
        "created": 3,
        "updated": 0,
        "unchanged": 0,
        "rejected": 0,
        "completed": True,
    }
    assert len(debt_events(first, id_of(PADARIA))) == 1


def test_a_replica_with_a_full_cache_survives_losing_a_race(tmp_path: Path) -> None:
    # A cache of 2 aggregates fills up as the production one (20,000) does on a big carteira.
    first, second = _replicas(tmp_path, "2")
    first.handle_inbound([header("nov-2026", 4), row("nov-2026", 2, JOAO)], TODAY)
    first.handle_inbound([row("dez-2026", 2, JOAO)], TODAY)  # João's debt is now cached
    _loses_the_race_to(first, second, [row("nov-2026", 5, {**JOAO, "contract": "BH-5"})])

    outcome = first.handle_inbound([row("nov-2026", 3, PADARIA)], TODAY)  # caches the import

    assert outcome.created == 1
    assert carteira(first, "nov-2026").rows_read == 3
