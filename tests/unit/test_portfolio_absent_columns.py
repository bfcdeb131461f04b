"""A creditor sends the monthly amount update in a shorter layout: only the required columns.

QA pass 8, N3: a re-import whose file leaves out the optional columns erased the debt's phone,
e-mail, city, UF, category and birth date (SMS then failed "devedor sem telefone", and the
portal's birth-date second factor was gone). The rule: a column absent from the file (a
client's message without the field, or with it null) leaves the debt's value as it is; an
empty cell in a column the file has (a client's "") clears it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from contracts.carteiras import CarteiraRowSubmittedV3, RowFieldsV3
from contracts.envelope import derived_event_id
from contracts.portfolio import DebtUpdatedV2
from service_runtime.database import sqlite_engine
from service_runtime.personal_data import SqlKeyVault
from services.gateway.application.uploads import GatewayApplication
from services.portfolio.application.importing import PortfolioApplication
from services.portfolio.domain.debt import Debt, debt_id_for
from services.portfolio.domain.row_rules import ValidRow, validate_row
from tests.unit.test_portfolio_import import (
    AGENCY,
    SENT_AT,
    TODAY,
    contract_events,
    debt,
    debt_events,
    of_type,
    opened,
)
from tests.unit.test_portfolio_last_data_wins import _upload

FULL_HEADER = (
    "documento;nome;credor;contrato;parcela;valor;vencimento;situação;"
    "email;telefone;cidade;uf;categoria;data_nascimento"
)
SHORT_HEADER = "documento;nome;credor;contrato;parcela;valor;vencimento;situação"
PEDRO = "549.565.454-44;Pedro Conceição Araújo;Banco Horizonte S.A.;BHS-01499627;1"
PEDRO_CONTACT = (
    "pedro.araujo@gmail.com;(81) 99876-5432;Recife;PE;financiamento de veículo;17/05/1980"
)
PEDRO_ID = debt_id_for(AGENCY, "Banco Horizonte S.A.", "BHS-01499627", "1")

EVERYTHING = {
    "name": "Pedro Conceição Araújo",
    "email": "pedro.araujo@gmail.com",
    "phone": "81998765432",
    "city": "Recife",
    "state": "PE",
    "birth_date": "1980-05-17",
}


@pytest.fixture
def app(tmp_path: Path) -> PortfolioApplication:
    vault = SqlKeyVault(sqlite_engine(str(tmp_path / "keys.sqlite")))
    return PortfolioApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, vault=vault)


@pytest.fixture
def gateway() -> GatewayApplication:
    return GatewayApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})


def upload(app: PortfolioApplication, gateway: GatewayApplication, *lines: str) -> Any:
    return app.handle_inbound(_upload(gateway, "\n".join(lines) + "\n"), TODAY)


def imported_with_everything(app: PortfolioApplication, gateway: GatewayApplication) -> None:
    outcome = upload(app, gateway, FULL_HEADER, f"{PEDRO};3.533,83;11/12/2023;;{PEDRO_CONTACT}")
    assert outcome.created == 1
    assert opened(app, debt(app, PEDRO_ID).personal) == EVERYTHING
    assert debt(app, PEDRO_ID).category == "financiamento de veículo"


def test_the_monthly_update_without_the_optional_columns_changes_the_amount_and_keeps_the_rest(
    app: PortfolioApplication, gateway: GatewayApplication
) -> None:
    imported_with_everything(app, gateway)

    outcome = upload(app, gateway, SHORT_HEADER, f"{PEDRO};3.000,00;11/12/2023;")

    assert (outcome.updated, outcome.unchanged) == (1, 0)
    pedro = debt(app, PEDRO_ID)
    assert pedro.original_amount_cents == 300000
    assert pedro.category == "financiamento de veículo"
    assert opened(app, pedro.personal) == EVERYTHING
    # The update names the amount only: the timeline says nothing about contacts.
    (updated,) = of_type(contract_events(app), DebtUpdatedV2)
    assert [(c.field, c.old, c.new) for c in updated.changes] == [
        ("original_amount_cents", 353383, 300000)
    ]
    assert updated.category == "financiamento de veículo"
    assert opened(app, updated.personal) == EVERYTHING


def test_the_same_data_in_a_shorter_layout_is_unchanged(
    app: PortfolioApplication, gateway: GatewayApplication
) -> None:
    imported_with_everything(app, gateway)
    sealed = debt(app, PEDRO_ID).personal

    outcome = upload(app, gateway, SHORT_HEADER, f"{PEDRO};3.533,83;11/12/2023;")

    assert (outcome.updated, outcome.unchanged) == (0, 1)
    assert [type(e) for e in debt_events(app, PEDRO_ID)] == [Debt.Imported, Debt.Reaffirmed]
    assert debt(app, PEDRO_ID).personal == sealed


def test_an_empty_cell_in_a_column_the_file_has_clears_the_field(
    app: PortfolioApplication, gateway: GatewayApplication
) -> None:
    imported_with_everything(app, gateway)

    outcome = upload(
        app,
        gateway,
        f"{SHORT_HEADER};telefone;categoria;data_nascimento;cidade",
        f"{PEDRO};3.000,00;11/12/2023;;;;;Olinda",
    )

    assert outcome.updated == 1
    pedro = debt(app, PEDRO_ID)
    assert pedro.category is None
    # Phone and date cleared, city changed; e-mail and UF (columns absent) kept.
    assert opened(app, pedro.personal) == {
        "name": "Pedro Conceição Araújo",
        "email": "pedro.araujo@gmail.com",
        "phone": None,
        "city": "Olinda",
        "state": "PE",
    }
    (updated,) = of_type(contract_events(app), DebtUpdatedV2)
    assert [c.field for c in updated.changes] == [
        "original_amount_cents",
        "phone",
        "city",
        "category",
        "birth_date",
    ]


def client_row(import_id: str, minutes: int, **fields: Any) -> CarteiraRowSubmittedV3:
    """A client system's row, sent `minutes` after SENT_AT."""
    return CarteiraRowSubmittedV3(
        event_id=derived_event_id("test-inbound", AGENCY, import_id, "row", 1),
        occurred_at=SENT_AT + dt.timedelta(minutes=minutes),
        tenant=AGENCY,
        aggregate_id=import_id,
        aggregate_version=1,
        correlation_id=import_id,
        causation_id=import_id,
        import_id=import_id,
        source="client",
        row_key="1",
        row_number=None,
        client_row_id="crm-1",
        rows_total=None,
        fields=RowFieldsV3(
            document="549.565.454-44",
            name="Pedro Conceição Araújo",
            creditor="Banco Horizonte S.A.",
            contract="BHS-01499627",
            installment="1",
            due_date="2023-12-11",
            **fields,
        ),
    )


def test_the_kafka_door_keeps_what_a_message_does_not_bring_and_clears_what_it_sends_empty(
    app: PortfolioApplication,
) -> None:
    everything = {
        "email": "pedro.araujo@gmail.com",
        "phone": "(81) 99876-5432",
        "city": "Recife",
        "state": "PE",
        "category": "financiamento de veículo",
        "birth_date": "1980-05-17",
    }
    app.handle_inbound([client_row("crm-0", 0, original_amount="3533.83", **everything)], TODAY)
    assert opened(app, debt(app, PEDRO_ID).personal) == EVERYTHING

    # Without the optional fields, or with them null: kept.
    app.handle_inbound(
        [client_row("crm-a", 1, original_amount="3000.00", email=None, phone=None)], TODAY
    )
    pedro = debt(app, PEDRO_ID)
    assert pedro.original_amount_cents == 300000
    assert opened(app, pedro.personal) == EVERYTHING
    assert pedro.category == "financiamento de veículo"

    # Sent empty: cleared.
    app.handle_inbound(
        [client_row("crm-b", 2, original_amount="3000.00", phone="", category="")], TODAY
    )
    pedro = debt(app, PEDRO_ID)
    assert opened(app, pedro.personal)["phone"] is None
    assert opened(app, pedro.personal)["email"] == "pedro.araujo@gmail.com"
    assert pedro.category is None


def test_a_valid_row_says_which_optional_fields_it_did_not_bring() -> None:
    required = {
        "document": "549.565.454-44",
        "name": "Pedro",
        "creditor": "Banco Horizonte S.A.",
        "contract": "BHS-01499627",
        "original_amount": "3.000,00",
        "due_date": "11/12/2023",
    }

    short = validate_row(required, TODAY)
    emptied = validate_row({**required, "phone": "", "category": "  "}, TODAY)

    assert isinstance(short, ValidRow) and isinstance(emptied, ValidRow)
    assert short.absent == {"email", "phone", "city", "state", "category", "birth_date"}
    assert emptied.absent == {"email", "city", "state", "birth_date"}
    assert (emptied.phone, emptied.category) == (None, None)
