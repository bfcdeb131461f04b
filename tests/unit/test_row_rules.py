"""One carteira row, as a CSV upload or a client's Kafka message delivers it, becomes a debt or
a rejection that tells the operator everything that is wrong with it at once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.portfolio.domain.row_rules import (
    MAX_AMOUNT_CENTS,
    UFS,
    RowRejection,
    RowRuleError,
    ValidRow,
    parse_amount_cents,
    parse_due_date,
    validate_row,
)

TODAY = date(2026, 11, 25)


def _row(**changes: str) -> dict[str, str]:
    row = {
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
    row.update(changes)
    return row


def _rejection(fields: dict[str, str], today: date = TODAY) -> RowRejection:
    result = validate_row(fields, today)
    assert isinstance(result, RowRejection), result
    return result


# --- amounts ---------------------------------------------------------------------------------


def _br(cents: int, grouped: bool) -> str:
    reais, centavos = divmod(cents, 100)
    integer = f"{reais:,}".replace(",", ".") if grouped else str(reais)
    return f"{integer},{centavos:02d}"


def _point(cents: int, grouped: bool) -> str:
    reais, centavos = divmod(cents, 100)
    integer = f"{reais:,}" if grouped else str(reais)
    return f"{integer}.{centavos:02d}"


@given(
    cents=st.integers(min_value=0, max_value=MAX_AMOUNT_CENTS),
    style=st.sampled_from([_br, _point]),
    grouped=st.booleans(),
    currency=st.sampled_from(["", "R$", "R$ ", "R$\u00a0", "r$ "]),
    padding=st.sampled_from(["", " ", "  "]),
)
def test_any_amount_written_br_or_point_style_parses_back_to_its_cents(
    cents: int, style: Callable[[int, bool], str], grouped: bool, currency: str, padding: str
) -> None:
    text = f"{padding}{currency}{style(cents, grouped)}{padding}"
    assert parse_amount_cents(text) == cents


@pytest.mark.parametrize(
    ("text", "cents"),
    [
        ("1.234,56", 123456),
        ("1234,56", 123456),
        ("1234.56", 123456),
        ("1,234.56", 123456),
        ("1234", 123400),
        ("R$ 1.234,56", 123456),
        ("R$1.234,56", 123456),
        ("1.234.567", 123456700),
        ("1,234,567.8", 123456780),
        ("0,5", 50),
        ("0,05", 5),
        ("12,3", 1230),
        ("0,00", 0),
        ("  99,90  ", 9990),
    ],
)
def test_amounts_creditors_write(text: str, cents: int) -> None:
    assert parse_amount_cents(text) == cents


@pytest.mark.parametrize(
    ("text", "rule", "says"),
    [
        ("", "required", "campo obrigatório 'valor original' está vazio"),
        ("   ", "required", "campo obrigatório 'valor original' está vazio"),
        ("-10,00", "positive", "valor original não pode ser negativo"),
        ("R$ -10,00", "positive", "não pode ser negativo"),
        ("(10,00)", "positive", "não pode ser negativo"),
        ("10,00-", "positive", "não pode ser negativo"),
        ("12,345", "format", "é ambíguo"),
        ("1.234", "format", "é ambíguo"),
        ("1234,567", "decimal_places", "tem mais de 2 casas decimais"),
        ("0,001", "decimal_places", "tem mais de 2 casas decimais"),
        ("1.234,5678", "decimal_places", "tem mais de 2 casas decimais"),
        ("abc", "format", "não é um valor em reais"),
        ("1,2,3", "format", "não é um valor em reais"),
        ("1.23,45", "format", "não é um valor em reais"),
        ("1E+05", "format", "não é um valor em reais"),
        ("12 reais", "format", "não é um valor em reais"),
        ("US$ 10.00", "format", "não é um valor em reais"),
        ("--10", "format", "não é um valor em reais"),
        ("-10-", "format", "não é um valor em reais"),
        ("(-10)", "format", "não é um valor em reais"),
        ("10R$", "format", "não é um valor em reais"),
        ("1000000000000,00", "too_large", "grande demais"),
    ],
)
def test_amounts_that_are_refused(text: str, rule: str, says: str) -> None:
    with pytest.raises(RowRuleError) as caught:
        parse_amount_cents(text)
    assert caught.value.field == "original_amount"
    assert caught.value.rule == rule
    assert says in caught.value.message


# --- dates -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10/01/2025", date(2025, 1, 10)),
        ("1/2/2025", date(2025, 2, 1)),
        ("10-01-2025", date(2025, 1, 10)),
        ("10.01.2025", date(2025, 1, 10)),
        ("2025-01-10", date(2025, 1, 10)),
        ("29/02/2024", date(2024, 2, 29)),
        ("10/01/2025 00:00", date(2025, 1, 10)),
        ("2025-01-10 00:00:00", date(2025, 1, 10)),
        ("2025-01-10T13:45:00", date(2025, 1, 10)),
        (" 10/01/2025 ", date(2025, 1, 10)),
    ],
)
def test_due_dates_creditors_write(text: str, expected: date) -> None:
    assert parse_due_date(text) == expected


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31)))
def test_any_date_in_br_or_iso_form_parses_back(day: date) -> None:
    assert parse_due_date(day.strftime("%d/%m/%Y")) == day
    assert parse_due_date(day.isoformat()) == day
    assert parse_due_date(f"{day.day}/{day.month}/{day.year:04d}") == day


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("31/02/2024", "não existe no calendário"),
        ("29/02/2023", "não existe no calendário"),
        ("15/13/2023", "não existe no calendário"),
        ("00/00/0000", "não existe no calendário"),
        ("2023-02-30", "não existe no calendário"),
        ("10/01/25", "ano com 2 dígitos"),
        ("45291", "número de série do Excel"),
        ("ontem", "não é uma data"),
        ("10/01-2025", "não é uma data"),
        ("2025/13", "não é uma data"),
        ("01/01/1800", "ano improvável"),
    ],
)
def test_due_dates_that_are_refused(text: str, says: str) -> None:
    with pytest.raises(RowRuleError) as caught:
        parse_due_date(text)
    assert caught.value.field == "due_date"
    assert caught.value.rule == "format"
    assert says in caught.value.message
    assert text in caught.value.message


def test_an_empty_due_date_is_a_missing_required_field() -> None:
    with pytest.raises(RowRuleError) as caught:
        parse_due_date("  ")
    assert caught.value.rule == "required"
    assert caught.value.message == "campo obrigatório 'data de vencimento' está vazio"


# --- a whole row -----------------------------------------------------------------------------


def test_a_complete_row_becomes_a_debt_with_parsed_values() -> None:
    result = validate_row(_row(), TODAY)

    assert result == ValidRow(
        document="52998224725",
        document_kind="cpf",
        name="João da Silva",
        creditor="Banco Horizonte S.A.",
        contract="BH-2024-0001",
        installment="1",
        original_amount_cents=123456,
        due_date=date(2025, 1, 10),
        email="joao.silva@gmail.com",
        phone="11987654321",
        city="São Paulo",
        state="SP",
        category="cartão de crédito",
    )


def test_a_kafka_message_with_only_the_required_fields() -> None:
    # A client system sends JSON: no optional keys, padding, and null where nothing is known.
    fields = {
        "document": " 12.abc.345/01de-35 ",
        "name": "  Padaria   Pão Dourado  Ltda ",
        "creditor": "Varejo Bom Preço Ltda",
        "contract": "VB-77",
        "original_amount": "1234.5",
        "due_date": "2026-11-25",
        "email": None,
    }

    result = validate_row(fields, TODAY)  # type: ignore[arg-type]

    assert isinstance(result, ValidRow)
    assert result.document == "12ABC34501DE35"
    assert result.document_kind == "cnpj"
    assert result.name == "Padaria Pão Dourado Ltda"
    assert result.installment == ""
    assert result.original_amount_cents == 123450
    assert (result.email, result.phone, result.city, result.state, result.category) == (
        None,
        None,
        None,
        None,
        None,
    )


def test_the_installment_is_kept_as_the_creditor_wrote_it() -> None:
    result = validate_row(_row(installment=" 01 "), TODAY)
    assert isinstance(result, ValidRow)
    assert result.installment == "01"


def test_contact_data_is_normalized() -> None:
    result = validate_row(
        _row(email=" Joao.Silva@GMAIL.com ", phone="+55 11 3456-7890", state="são paulo"), TODAY
    )
    assert isinstance(result, ValidRow)
    assert result.email == "joao.silva@gmail.com"
    assert result.phone == "1134567890"
    assert result.state == "SP"


@pytest.mark.parametrize(
    ("phone", "digits"),
    [
        ("(11) 98765-4321", "11987654321"),
        ("11987654321", "11987654321"),
        ("+55 (21) 99876-5432", "21998765432"),
        ("5521998765432", "21998765432"),
        ("(55) 3222-1234", "5532221234"),  # Santa Maria (RS): area code 55 is not the country
        ("011 98765-4321", "11987654321"),
        ("(61) 3333-4444", "6133334444"),
    ],
)
def test_phones_keep_area_code_and_number(phone: str, digits: str) -> None:
    result = validate_row(_row(phone=phone), TODAY)
    assert isinstance(result, ValidRow)
    assert result.phone == digits


@pytest.mark.parametrize("state", sorted(UFS))
def test_every_uf_is_accepted(state: str) -> None:
    result = validate_row(_row(state=state.lower()), TODAY)
    assert isinstance(result, ValidRow)
    assert result.state == state


def test_there_are_27_ufs() -> None:
    assert len(UFS) == 27


# --- every rejection reason ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field", "rule", "message"),
    [
        ({"document": ""}, "document", "required", "campo obrigatório 'documento' está vazio"),
        ({"name": " "}, "name", "required", "campo obrigatório 'nome' está vazio"),
        ({"creditor": ""}, "creditor", "required", "campo obrigatório 'credor' está vazio"),
        ({"contract": ""}, "contract", "required", "campo obrigatório 'contrato' está vazio"),
        (
            {"original_amount": ""},
            "original_amount",
            "required",
            "campo obrigatório 'valor original' está vazio",
        ),
        (
            {"due_date": ""},
            "due_date",
            "required",
            "campo obrigatório 'data de vencimento' está vazio",
        ),
        (
            {"document": "529.982.247-24"},
            "document",
            "check_digit",
            "CPF com dígito verificador inválido",
        ),
        (
            {"document": "11.222.333/0001-80"},
            "document",
            "check_digit",
            "CNPJ com dígito verificador inválido",
        ),
        (
            {"document": "222.222.222-22"},
            "document",
            "repeated_digits",
            "CPF com todos os dígitos iguais não é válido",
        ),
        (
            {"document": "5299822472"},
            "document",
            "length",
            "CPF deve ter 11 dígitos (encontrados 10)",
        ),
        (
            {"original_amount": "0,00"},
            "original_amount",
            "positive",
            "valor original deve ser maior que zero",
        ),
        (
            {"original_amount": "-50,00"},
            "original_amount",
            "positive",
            "valor original não pode ser negativo: -50,00",
        ),
        (
            {"original_amount": "cinquenta"},
            "original_amount",
            "format",
            "valor original 'cinquenta' não é um valor em reais (use 1.234,56 ou 1234.56)",
        ),
        (
            {"due_date": "10/01/2027"},
            "due_date",
            "not_in_future",
            "data de vencimento 10/01/2027 está no futuro",
        ),
        (
            {"due_date": "31/02/2024"},
            "due_date",
            "format",
            "data de vencimento '31/02/2024' não existe no calendário",
        ),
        (
            {"email": "joao@"},
            "email",
            "format",
            "e-mail inválido: informe um único endereço, como nome@exemplo.com.br",
        ),
        (
            {"email": "a@x.com; b@y.com"},
            "email",
            "format",
            "e-mail inválido: informe um único endereço, como nome@exemplo.com.br",
        ),
        (
            {"phone": "98765-4321"},
            "phone",
            "format",
            "telefone deve ter DDD e número, como em (11) 98765-4321",
        ),
        ({"state": "XX"}, "state", "unknown_state", "UF 'XX' não existe"),
    ],
)
def test_each_rejection_reason(
    changes: dict[str, str], field: str, rule: str, message: str
) -> None:
    rejection = _rejection(_row(**changes))

    assert [(e.field, e.rule, e.message) for e in rejection.errors] == [(field, rule, message)]
    assert rejection.reason == message


def test_all_errors_of_a_row_are_collected_not_just_the_first() -> None:
    rejection = _rejection(
        _row(
            document="529.982.247-24",
            creditor="",
            original_amount="0,00",
            due_date="10/01/2027",
            state="XX",
        )
    )

    assert [(e.field, e.rule) for e in rejection.errors] == [
        ("creditor", "required"),
        ("document", "check_digit"),
        ("original_amount", "positive"),
        ("due_date", "not_in_future"),
        ("state", "unknown_state"),
    ]
    assert rejection.reason == (
        "campo obrigatório 'credor' está vazio; CPF com dígito verificador inválido; "
        "valor original deve ser maior que zero; data de vencimento 10/01/2027 está no futuro; "
        "UF 'XX' não existe"
    )


def test_an_empty_row_names_every_required_field() -> None:
    rejection = _rejection({})
    assert [e.field for e in rejection.errors] == [
        "document",
        "name",
        "creditor",
        "contract",
        "original_amount",
        "due_date",
    ]
    assert {e.rule for e in rejection.errors} == {"required"}


def test_personal_data_is_not_repeated_in_the_messages() -> None:
    rejection = _rejection(_row(document="529.982.247-24", email="joao@", phone="123"))
    assert "529" not in rejection.reason
    assert "joao" not in rejection.reason


# --- the business clock ----------------------------------------------------------------------


def test_due_today_is_accepted_and_due_tomorrow_is_in_the_future() -> None:
    today = date(2026, 11, 25)
    due_today = validate_row(_row(due_date="25/11/2026"), today)
    assert isinstance(due_today, ValidRow)

    rejection = _rejection(_row(due_date="26/11/2026"), today)
    assert rejection.reason == "data de vencimento 26/11/2026 está no futuro"


@given(st.integers(min_value=-2000, max_value=2000))
def test_the_future_is_decided_by_the_callers_today(offset: int) -> None:
    due = TODAY + timedelta(days=offset)
    result = validate_row(_row(due_date=due.isoformat()), TODAY)
    assert isinstance(result, ValidRow) == (offset <= 0)


def test_row_rule_errors_compare_by_value() -> None:
    assert RowRuleError("name", "required", "x") == RowRuleError("name", "required", "x")
    assert len({RowRuleError("name", "required", "x"), RowRuleError("name", "required", "x")}) == 1


def test_only_ascii_digits_count_as_digits() -> None:
    # "١٢٣" are Arabic-Indic digits: Python's int() reads them, a carteira must not.
    with pytest.raises(RowRuleError):
        parse_amount_cents("١٢٣,٤٥")
    with pytest.raises(RowRuleError):
        parse_due_date("١٠/٠١/٢٠٢٥")


def test_a_huge_garbage_cell_is_not_copied_whole_into_the_message() -> None:
    with pytest.raises(RowRuleError) as caught:
        parse_amount_cents("x" * 10_000)
    assert len(caught.value.message) < 120
    assert "…" in caught.value.message
