"""The carteira brings the debtor's date of birth (a company's opening date, for a CNPJ) for the
portal's second factor: a column the creditor may name as people do, checked as a person would
(a real date, not in the future, not before 1900), and once imported kept only sealed with the
debtor's other personal data: never in clear in what the portfolio stores or publishes."""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cobranca.demo_data import HEADER, generate_carteira
from contracts.carteiras import CarteiraRowSubmittedV3, DebtRejected, RowFieldsV3
from contracts.envelope import derived_event_id
from contracts.personal import SealedPersonalData
from contracts.portfolio import DebtImportedV2, DebtUpdatedV2
from service_runtime.database import sqlite_engine
from service_runtime.personal_data import SqlKeyVault, seal, unseal
from services.gateway.domain.carteira_csv import canonical_column, read_carteira
from services.portfolio.adapters.integration_events import integration_events
from services.portfolio.application.importing import PortfolioApplication
from services.portfolio.domain.debt import Debt, debt_id_for
from services.portfolio.domain.row_rules import (
    RowRejection,
    RowRuleError,
    ValidRow,
    parse_birth_date,
    validate_row,
)

TODAY = dt.date(2026, 11, 25)
AGENCY = "recupera-sul"
SENT_AT = dt.datetime(2026, 11, 25, 9, 30, tzinfo=dt.UTC)

# Maria's row as the creditor's system exports it, with her date of birth.
MARIA = {
    "document": "529.982.247-25",
    "name": "Maria Aparecida Souza",
    "creditor": "Banco Horizonte S.A.",
    "contract": "BH-2025-0042",
    "installment": "1",
    "original_amount": "1.234,56",
    "due_date": "10/01/2026",
    "phone": "(11) 98765-4321",
    "birth_date": "17/05/1980",
}
# A company: the same column brings its opening date.
PADARIA = {
    "document": "11.222.333/0001-81",
    "name": "Padaria Pão Quente Ltda",
    "creditor": "Crédito Fácil Financeira",
    "contract": "CF-77",
    "installment": "3",
    "original_amount": "89,90",
    "due_date": "2025-03-31",
    "birth_date": "2011-02-03",
}


def errors_of(result: ValidRow | RowRejection) -> list[tuple[str, str, str]]:
    assert isinstance(result, RowRejection), result
    return [(e.field, e.rule, e.message) for e in result.errors]


# ---- the column ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        "data_nascimento",
        "Data de Nascimento",
        "DATA NASCIMENTO",
        "nascimento",
        "dt_nascimento",
        "Dt. Nascimento",
        "data de abertura",
        "birth_date",
    ],
)
def test_the_creditors_names_for_the_column_are_understood(header: str) -> None:
    assert canonical_column(header) == "birth_date"


def test_an_excel_file_with_the_column_reads_it_as_written() -> None:
    data = (
        "CPF/CNPJ;Nome;Credor;Contrato;Valor;Vencimento;Data de Nascimento\r\n"
        "529.982.247-25;Maria Aparecida Souza;Banco Horizonte;C-1;100,00;10/01/2026;17/05/1980\r\n"
        "11.222.333/0001-81;Padaria Pão Quente;Crédito Fácil;C-2;89,90;31/03/2025;\r\n"
    ).encode("cp1252")
    carteira = read_carteira(data)
    assert carteira.ignored_columns == []
    assert [r.fields["birth_date"] for r in carteira.rows] == ["17/05/1980", ""]


# ---- the value ---------------------------------------------------------------------------------


def test_a_row_with_the_date_of_birth_keeps_it_and_one_without_has_none() -> None:
    maria = validate_row(MARIA, TODAY)
    assert isinstance(maria, ValidRow)
    assert maria.birth_date == dt.date(1980, 5, 17)
    without = validate_row({**MARIA, "birth_date": "  "}, TODAY)
    assert isinstance(without, ValidRow) and without.birth_date is None
    padaria = validate_row(PADARIA, TODAY)
    assert isinstance(padaria, ValidRow) and padaria.birth_date == dt.date(2011, 2, 3)


@pytest.mark.parametrize(
    ("written", "rule", "message"),
    [
        ("31/02/1980", "format", "data de nascimento não existe no calendário"),
        ("17/05/80", "format", "data de nascimento tem ano com 2 dígitos: use dd/mm/aaaa"),
        (
            "29358",
            "format",
            "data de nascimento parece um número de série do Excel: "
            "formate a coluna como data (dd/mm/aaaa)",
        ),
        (
            "maio de 1980",
            "format",
            "data de nascimento não é uma data (use dd/mm/aaaa ou aaaa-mm-dd)",
        ),
        ("26/11/2026", "not_in_future", "data de nascimento está no futuro"),
        ("31/12/1899", "too_old", "data de nascimento anterior a 1900: confira o ano"),
    ],
)
def test_a_date_no_one_could_be_born_on_rejects_the_row_saying_why(
    written: str, rule: str, message: str
) -> None:
    result = validate_row({**MARIA, "birth_date": written}, TODAY)
    assert errors_of(result) == [("birth_date", rule, message)]


def test_for_a_company_the_messages_say_opening_date() -> None:
    result = validate_row({**PADARIA, "birth_date": "01/01/2030"}, TODAY)
    assert errors_of(result) == [("birth_date", "not_in_future", "data de abertura está no futuro")]


def test_a_bad_date_is_listed_with_the_rows_other_problems() -> None:
    result = validate_row({**MARIA, "original_amount": "0", "birth_date": "ontem"}, TODAY)
    assert [field for field, _, _ in errors_of(result)] == ["original_amount", "birth_date"]


def test_today_and_first_of_january_1900_are_still_dates_of_birth() -> None:
    assert parse_birth_date("25/11/2026", TODAY) == TODAY
    assert parse_birth_date("1900-01-01", TODAY) == dt.date(1900, 1, 1)


@given(
    st.dates(min_value=dt.date(1900, 1, 1), max_value=TODAY),
    st.sampled_from(["{d:02d}/{m:02d}/{y}", "{d}/{m}/{y}", "{d:02d}-{m:02d}-{y}", "{iso}"]),
    st.sampled_from(["", " ", " 00:00", "T00:00:00"]),
)
def test_every_way_a_spreadsheet_writes_a_real_date_reads_back_the_same_date(
    day: dt.date, pattern: str, time: str
) -> None:
    written = pattern.format(d=day.day, m=day.month, y=day.year, iso=day.isoformat()) + time
    assert parse_birth_date(written, TODAY) == day


@given(st.dates(min_value=TODAY + dt.timedelta(days=1)))
def test_no_date_after_the_business_date_is_taken(day: dt.date) -> None:
    with pytest.raises(RowRuleError) as refused:
        parse_birth_date(day.strftime("%d/%m/%Y"), TODAY)
    assert refused.value.rule == "not_in_future"


# ---- sealed, and only sealed ---------------------------------------------------------------------


@pytest.fixture
def vault(tmp_path: Path) -> SqlKeyVault:
    return SqlKeyVault(sqlite_engine(str(tmp_path / "keys.sqlite")))


@pytest.fixture
def app(vault: SqlKeyVault) -> PortfolioApplication:
    return PortfolioApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, vault=vault)


def row(import_id: str, line: int, fields: dict[str, str]) -> CarteiraRowSubmittedV3:
    return CarteiraRowSubmittedV3(
        event_id=derived_event_id("test-inbound", AGENCY, import_id, "row", line),
        occurred_at=SENT_AT,
        tenant=AGENCY,
        aggregate_id=import_id,
        aggregate_version=line,
        correlation_id=import_id,
        causation_id=import_id,
        import_id=import_id,
        source="client",
        row_key=str(line),
        row_number=line,
        rows_total=None,
        fields=RowFieldsV3(**fields),
    )


def published(app: PortfolioApplication) -> list[Any]:
    notifications = app.recorder.select_notifications(start=1, limit=100_000)
    events = [app.mapper.to_domain_event(n) for n in notifications]
    return [message for event in events for _, message in integration_events(event)]


def stored_bytes(app: PortfolioApplication) -> bytes:
    return b"".join(n.state for n in app.recorder.select_notifications(start=1, limit=100_000))


def maria_debt(app: PortfolioApplication) -> Debt:
    found: Any = app.repository.get(
        debt_id_for(AGENCY, MARIA["creditor"], MARIA["contract"], MARIA["installment"])
    )
    assert isinstance(found, Debt)
    return found


def test_the_date_of_birth_is_sealed_with_marias_contact_and_never_in_clear(
    app: PortfolioApplication, vault: SqlKeyVault
) -> None:
    app.handle_inbound([row("nov", 2, MARIA)], TODAY)

    (imported,) = [m for m in published(app) if isinstance(m, DebtImportedV2)]
    assert unseal(imported.personal, vault) == {
        "name": "Maria Aparecida Souza",
        "email": None,
        "phone": "11987654321",
        "city": None,
        "state": None,
        "birth_date": "1980-05-17",
    }
    for clear in (b"1980-05-17", b"17/05/1980"):
        assert clear not in stored_bytes(app)
        assert clear not in imported.model_dump_json().encode()


def test_a_row_without_a_date_seals_what_was_sealed_before_dates_came(
    app: PortfolioApplication, vault: SqlKeyVault
) -> None:
    app.handle_inbound([row("nov", 2, {**MARIA, "birth_date": ""})], TODAY)
    personal = maria_debt(app).personal
    assert personal is not None
    opened = unseal(SealedPersonalData.model_validate(personal), vault)
    assert opened is not None and "birth_date" not in opened


def test_a_debt_sealed_before_dates_came_gets_the_date_when_the_creditor_sends_it(
    app: PortfolioApplication, vault: SqlKeyVault
) -> None:
    # The debt as imported before: its blob has no birth_date key at all.
    app.handle_inbound([row("out", 2, {**MARIA, "birth_date": ""})], TODAY)
    # The same row again without a date: nothing changed, nothing sealed anew.
    outcome = app.handle_inbound([row("out-2", 2, {**MARIA, "birth_date": ""})], TODAY)
    assert (outcome.updated, outcome.unchanged) == (0, 1)

    outcome = app.handle_inbound([row("nov", 2, MARIA)], TODAY)
    assert outcome.updated == 1
    (update,) = [m for m in published(app) if isinstance(m, DebtUpdatedV2)]
    # Named as a personal field: no value beside it.
    assert [(c.field, c.old, c.new) for c in update.changes] == [("birth_date", None, None)]
    opened = unseal(update.personal, vault)
    assert opened is not None and opened["birth_date"] == "1980-05-17"

    corrected = app.handle_inbound([row("dez", 2, {**MARIA, "birth_date": "18/05/1980"})], TODAY)
    assert corrected.updated == 1
    personal = maria_debt(app).personal
    assert personal is not None
    reopened = unseal(SealedPersonalData.model_validate(personal), vault)
    assert reopened is not None and reopened["birth_date"] == "1980-05-18"


def test_an_old_blob_without_the_date_is_read_as_no_date(
    app: PortfolioApplication, vault: SqlKeyVault
) -> None:
    app.handle_inbound([row("nov", 2, MARIA)], TODAY)
    debt = maria_debt(app)
    old_blob = seal(
        vault.key_for(AGENCY, "52998224725"),
        {"name": MARIA["name"], "email": None, "phone": "11987654321", "city": None, "state": None},
    )
    values = {"document": "52998224725", "document_kind": "cpf", "name": MARIA["name"]}
    opened = unseal(old_blob, vault)
    assert opened is not None
    # The row brings the date, the old blob had none: that is the one change.
    changes = debt.changes_from(
        {
            **values,
            "original_amount_cents": debt.original_amount_cents,
            "due_date": debt.due_date,
            "phone": "11987654321",
            "category": None,
            "birth_date": "1980-05-17",
        },
        opened,
    )
    assert changes == [{"field": "birth_date", "old": None, "new": None}]


def test_a_rejected_rows_date_is_neither_kept_nor_published(app: PortfolioApplication) -> None:
    app.handle_inbound([row("nov", 2, {**MARIA, "birth_date": "31/02/1980"})], TODAY)
    (rejected,) = [m for m in published(app) if isinstance(m, DebtRejected)]
    assert [(e.field, e.rule) for e in rejected.errors] == [("birth_date", "format")]
    # Personal data: the row number says which row, the message does not repeat the date.
    assert rejected.reason == "data de nascimento não existe no calendário"
    assert "birth_date" not in json.loads(rejected.model_dump_json())["fields"]
    assert b"31/02/1980" not in stored_bytes(app)


# ---- the demo's carteiras ---------------------------------------------------------------------


def test_the_demo_carteira_gives_people_an_adults_date_and_companies_none() -> None:
    assert HEADER[-1] == "data_nascimento"
    text = generate_carteira(400, seed=11, today=TODAY, invalid_share=0.0)
    assert generate_carteira(400, seed=11, today=TODAY, invalid_share=0.0) == text
    people = companies = 0
    for raw in read_carteira(text.encode()).rows:
        result = validate_row(raw.fields, TODAY)
        assert isinstance(result, ValidRow), result
        if result.document_kind == "cpf":
            people += 1
            assert result.birth_date is not None
            age = (TODAY - result.birth_date).days / 365.25
            assert 18 <= age <= 81
        else:
            companies += 1
            assert result.birth_date is None
    assert people > 0 and companies > 0


def test_one_debtor_has_one_date_of_birth_in_every_row() -> None:
    text = generate_carteira(300, seed=5, today=TODAY, invalid_share=0.0)
    dates: dict[str, set[str]] = {}
    for raw in read_carteira(text.encode()).rows:
        dates.setdefault(raw.fields["document"], set()).add(raw.fields["birth_date"])
    assert all(len(found) == 1 for found in dates.values())
    rng = random.Random(1)
    assert len({next(iter(d)) for d in rng.sample(list(dates.values()), 20)}) > 1
