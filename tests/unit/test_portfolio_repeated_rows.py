"""One file names the same debt twice (same tenant, creditor, contract and installment): within
one import the first row of a debt wins, as the first message of a row does. A later row of
that debt in the same import is rejected as a row (`DebtRejected`, its own row number) with a
pt-BR reason naming the first row and, when they differ, both values: nothing is taken
silently (QA D6: the last line won and the timeline read it as the creditor's correction), and
nothing is lost (the repeat is on `carteiras.rejected` and the import's status). An upload and
a client system's messages take the same path."""

from __future__ import annotations

from pathlib import Path

import pytest

from contracts.carteiras import (
    CarteiraRowSubmitted,
    CarteiraRowSubmittedV2,
    DebtRejected,
    RowFieldsV2,
)
from contracts.portfolio import DebtUpdatedV2, DebtWithdrawn
from service_runtime.database import sqlite_engine
from service_runtime.personal_data import SqlKeyVault
from services.gateway.application.uploads import GatewayApplication
from services.portfolio.application.importing import PortfolioApplication
from tests.support.stored_events import as_stored_in
from tests.unit.test_portfolio_import import (
    JOAO,
    PADARIA,
    TODAY,
    carteira,
    contract_events,
    counters,
    debt,
    debt_events,
    id_of,
    of_type,
    row,
)
from tests.unit.test_portfolio_last_data_wins import _upload


@pytest.fixture
def app(tmp_path: Path) -> PortfolioApplication:
    vault = SqlKeyVault(sqlite_engine(str(tmp_path / "keys.sqlite")))
    return PortfolioApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, vault=vault)


def with_status(message: CarteiraRowSubmitted, status: str) -> CarteiraRowSubmittedV2:
    """The row in version 2, with its situação."""
    return CarteiraRowSubmittedV2(
        **message.model_dump(exclude={"schema_version", "fields"}),
        fields=RowFieldsV2(**message.fields.as_mapping(), status=status),
    )


def rejections(app: PortfolioApplication) -> list[DebtRejected]:
    return of_type(contract_events(app), DebtRejected)


def test_a_debt_twice_in_one_file_keeps_the_first_row_and_rejects_the_second_naming_both(
    app: PortfolioApplication,
) -> None:
    # QA D6: lines 3 and 4, Loja Ótima's contract QA7-011 parcela 1, at 300,00 then 350,00.
    outcome = app.handle_inbound(
        [
            row("qa7", 2, PADARIA, rows_total=3),
            row("qa7", 3, JOAO, original_amount="300,00"),
            row("qa7", 4, JOAO, original_amount="350,00"),
        ],
        TODAY,
    )

    assert (outcome.created, outcome.updated, outcome.unchanged, outcome.rejected) == (2, 0, 0, 1)
    assert debt(app, id_of(JOAO)).original_amount_cents == 30000
    # One event for the debt: no "correction" from 300,00 to 350,00 on its timeline.
    assert len(debt_events(app, id_of(JOAO))) == 1
    assert of_type(contract_events(app), DebtUpdatedV2) == []
    [repeated] = rejections(app)
    assert (repeated.row_key, repeated.row_number) == ("4", 4)
    assert repeated.reason == (
        "linha repetida: a mesma dívida já veio na linha 3 com valor R$ 300,00; esta diz R$ 350,00"
    )
    assert [(e.field, e.rule) for e in repeated.errors] == [("contract", "repeated_debt")]
    assert repeated.document == "52998224725"
    assert repeated.fields.original_amount == "350,00"  # the row as it came
    assert counters(carteira(app, "qa7")) == {
        "rows_total": 3,
        "rows_read": 3,
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "rejected": 1,
        "completed": True,
    }


def test_an_identical_repeated_row_is_rejected_as_a_repeat_not_counted_unchanged(
    app: PortfolioApplication,
) -> None:
    outcome = app.handle_inbound([row("qa7", 3, JOAO), row("qa7", 4, JOAO)], TODAY)

    assert (outcome.created, outcome.unchanged, outcome.rejected) == (1, 0, 1)
    [repeated] = rejections(app)
    assert repeated.row_number == 4
    assert repeated.reason == "linha repetida, igual à linha 3"


def test_each_value_that_differs_is_named_with_the_first_rows_and_this_rows(
    app: PortfolioApplication,
) -> None:
    app.handle_inbound(
        [
            row("qa7", 3, JOAO),
            row("qa7", 7, JOAO, original_amount="1.300,00", due_date="15/01/2025"),
            row("qa7", 9, JOAO, phone="(21) 99999-0000", city="Niterói"),
            with_status(row("qa7", 11, JOAO, document="111.444.777-35"), "cancelado"),
        ],
        TODAY,
    )

    assert [r.reason for r in rejections(app)] == [
        "linha repetida: a mesma dívida já veio na linha 3 com valor R$ 1.234,56 e vencimento "
        "10/01/2025; esta diz R$ 1.300,00 e 15/01/2025",
        # Personal data is named, never repeated (the first row's is sealed).
        "linha repetida: a mesma dívida já veio na linha 3 com outro telefone e outra cidade",
        "linha repetida: a mesma dívida já veio na linha 3 com documento 52998224725 e situação "
        "ativa; esta diz 11144477735 e cancelada",
    ]
    joao = debt(app, id_of(JOAO))
    assert (joao.original_amount_cents, joao.withdrawn) == (123456, None)


def moved(app: PortfolioApplication, *, as_stored_before: bool = False) -> PortfolioApplication:
    """Another replica (or the service restarted) reading what `app` stored; optionally as the
    code before stored it (RowsProcessed version 1, which kept no debts)."""
    other = PortfolioApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, vault=app.vault)
    stored = app.recorder.select_notifications(start=1, limit=1000)
    if as_stored_before:
        stored = [as_stored_in(n, 1, without=("debt_rows",)) for n in stored]
    other.recorder.insert_events(list(stored))
    return other


def test_the_first_row_wins_across_the_batches_of_one_import(app: PortfolioApplication) -> None:
    # A big file is read in many batches: line 4 comes in the next one, maybe on a replica
    # that reads the import from the store.
    app.handle_inbound([row("qa7", 3, JOAO, original_amount="300,00")], TODAY)
    replica = moved(app)
    replica.handle_inbound([row("qa7", 4, JOAO, original_amount="350,00", rows_total=2)], TODAY)

    assert debt(replica, id_of(JOAO)).original_amount_cents == 30000
    [repeated] = rejections(replica)
    assert repeated.reason == (
        "linha repetida: a mesma dívida já veio na linha 3 com valor R$ 300,00; esta diz R$ 350,00"
    )
    assert carteira(replica, "qa7").completed


def test_an_import_stored_before_knows_no_debts_and_reads_on_as_it_did(
    app: PortfolioApplication,
) -> None:
    """An import half read when the service is upgraded: its earlier rows were stored without
    their debts, so a later row of the same debt is read as before (a row key sent again is
    still a duplicate)."""
    app.handle_inbound([row("qa7", 3, JOAO, original_amount="300,00")], TODAY)
    upgraded = moved(app, as_stored_before=True)
    outcome = upgraded.handle_inbound(
        [row("qa7", 3, JOAO), row("qa7", 4, JOAO, original_amount="350,00")], TODAY
    )
    assert (outcome.duplicates, outcome.updated, outcome.rejected) == (1, 1, 0)


def test_a_redelivered_repeat_is_rejected_once(app: PortfolioApplication) -> None:
    batch = [row("qa7", 3, JOAO), row("qa7", 4, JOAO, original_amount="350,00")]
    app.handle_inbound(batch, TODAY)
    again = app.handle_inbound(batch, TODAY)

    assert (again.rejected, again.duplicates) == (0, 2)
    assert len(rejections(app)) == 1


def test_the_same_debt_in_the_next_file_is_still_the_creditors_correction(
    app: PortfolioApplication,
) -> None:
    app.handle_inbound([row("nov", 3, JOAO, original_amount="300,00")], TODAY)
    outcome = app.handle_inbound([row("dez", 3, JOAO, original_amount="350,00")], TODAY)

    assert (outcome.updated, outcome.rejected) == (1, 0)
    assert debt(app, id_of(JOAO)).original_amount_cents == 35000


def test_a_row_rejected_for_itself_does_not_hold_the_debt(app: PortfolioApplication) -> None:
    # Line 3 cannot be read (no due date): line 4, the same debt, is the first that counts.
    app.handle_inbound(
        [row("qa7", 3, JOAO, due_date=""), row("qa7", 4, JOAO, original_amount="350,00")],
        TODAY,
    )
    assert debt(app, id_of(JOAO)).original_amount_cents == 35000
    [bad] = rejections(app)
    assert bad.row_number == 3


def test_a_withdrawal_after_the_debts_row_in_the_same_file_is_a_repeat(
    app: PortfolioApplication,
) -> None:
    app.handle_inbound([row("nov", 2, JOAO)], TODAY)
    app.handle_inbound([row("dez", 2, JOAO), with_status(row("dez", 5, JOAO), "cancelado")], TODAY)

    assert of_type(contract_events(app), DebtWithdrawn) == []
    [repeated] = rejections(app)
    assert repeated.reason == (
        "linha repetida: a mesma dívida já veio na linha 2 com situação ativa; esta diz cancelada"
    )


def test_an_upload_takes_the_same_path(app: PortfolioApplication) -> None:
    gateway = GatewayApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    csv = (
        "documento;nome;credor;contrato;parcela;valor;vencimento\n"
        "123.456.780-62;Loja Ótima Ltda;Banco Horizonte;QA7-011;1;300,00;01/10/2026\n"
        "123.456.780-62;Loja Ótima Ltda;Banco Horizonte;QA7-011;1;350,00;01/10/2026\n"
        "123.456.780-62;Loja Ótima Ltda;Banco Horizonte;QA7-011;1;300,00;01/10/2026\n"
    )
    outcome = app.handle_inbound(_upload(gateway, csv), TODAY)

    assert (outcome.created, outcome.updated, outcome.unchanged, outcome.rejected) == (1, 0, 0, 2)
    assert [(r.row_number, r.reason) for r in rejections(app)] == [
        (
            3,
            "linha repetida: a mesma dívida já veio na linha 2 com valor R$ 300,00; "
            "esta diz R$ 350,00",
        ),
        (4, "linha repetida, igual à linha 2"),
    ]
    assert counters(carteira(app, outcome.imports_completed[0]))["completed"] is True


def test_a_client_row_without_a_line_is_named_by_its_own_id(app: PortfolioApplication) -> None:
    first = row("crm", 1, JOAO).model_copy(
        update={"row_key": "A-17", "row_number": None, "client_row_id": "A-17"}
    )
    second = row("crm", 2, JOAO, original_amount="350,00").model_copy(
        update={"row_key": "A-18", "row_number": None, "client_row_id": "A-18"}
    )
    app.handle_inbound([first, second], TODAY)

    [repeated] = rejections(app)
    assert repeated.client_row_id == "A-18"
    assert repeated.reason == (
        "linha repetida: a mesma dívida já veio no registro A-17 com valor R$ 1.234,56; "
        "esta diz R$ 350,00"
    )
