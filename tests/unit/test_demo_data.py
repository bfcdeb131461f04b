"""The demo carteira: it must read like a real creditor's file and go through the same path a
real upload does (read_carteira, then validate_row per row)."""

from __future__ import annotations

import collections
from datetime import date, timedelta
from pathlib import Path

import pytest

from cobranca.demo_data import DEFAULT_CREDITORS, HEADER, generate_carteira, write_carteira
from contracts.documents import normalize_document
from services.gateway.domain.carteira_csv import CarteiraFile, read_carteira
from services.portfolio.domain.row_rules import RowRejection, ValidRow, validate_row

TODAY = date(2026, 11, 25)
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _import(
    carteira: CarteiraFile, today: date = TODAY
) -> tuple[list[ValidRow], list[RowRejection]]:
    valid: list[ValidRow] = []
    rejected: list[RowRejection] = []
    for row in carteira.rows:
        result = validate_row(row.fields, today)
        if isinstance(result, ValidRow):
            valid.append(result)
        else:
            rejected.append(result)
    return valid, rejected


@pytest.fixture(scope="module")
def big() -> tuple[str, list[ValidRow], list[RowRejection]]:
    text = generate_carteira(3000, seed=42, today=TODAY, invalid_share=0.02)
    valid, rejected = _import(read_carteira(text.encode("utf-8")))
    return text, valid, rejected


def test_same_seed_same_file_other_seed_other_file() -> None:
    first = generate_carteira(200, seed=7, today=TODAY)
    assert generate_carteira(200, seed=7, today=TODAY) == first
    assert generate_carteira(200, seed=8, today=TODAY) != first


@pytest.mark.parametrize("rows", [0, 1, 12, 500])
def test_exactly_the_rows_asked_for_under_a_pt_br_header(rows: int) -> None:
    lines = generate_carteira(rows, today=TODAY).splitlines()
    assert lines[0] == ";".join(HEADER)
    assert len(lines) == rows + 1


def test_the_invalid_share_is_what_was_asked_after_a_real_import(
    big: tuple[str, list[ValidRow], list[RowRejection]],
) -> None:
    _, valid, rejected = big
    assert len(valid) + len(rejected) == 3000
    assert len(rejected) == round(3000 * 0.02)


def test_every_kind_of_defect_shows_up(
    big: tuple[str, list[ValidRow], list[RowRejection]],
) -> None:
    _, _, rejected = big
    seen = {(e.field, e.rule) for r in rejected for e in r.errors}
    assert seen >= {
        ("document", "check_digit"),
        ("original_amount", "positive"),
        ("due_date", "not_in_future"),
        ("creditor", "required"),
        ("due_date", "format"),
    }
    # One defect per spoiled row, so each rejection explains itself in one sentence.
    assert all(len(r.errors) == 1 for r in rejected)


def test_no_invalid_rows_when_none_are_asked_for() -> None:
    text = generate_carteira(1000, seed=3, today=TODAY, invalid_share=0.0)
    _, rejected = _import(read_carteira(text.encode()))
    assert rejected == []


def test_debtors_look_like_a_real_portfolio(
    big: tuple[str, list[ValidRow], list[RowRejection]],
) -> None:
    _, valid, _ = big
    debts_per_debtor = collections.Counter(v.document for v in valid)
    kinds = collections.Counter("cpf" if len(d) == 11 else "cnpj" for d in debts_per_debtor)
    cpf_share = kinds["cpf"] / len(debts_per_debtor)
    assert 0.78 < cpf_share < 0.92
    assert any(not d.isdigit() for d in debts_per_debtor)  # alphanumeric CNPJs
    assert sum(n > 1 for n in debts_per_debtor.values()) > len(debts_per_debtor) * 0.2
    assert {v.creditor for v in valid} == set(DEFAULT_CREDITORS)
    assert any(int(v.installment) > 1 for v in valid)
    assert len({(v.creditor, v.contract, v.installment) for v in valid}) == len(valid)


def test_amounts_dates_and_contacts_are_in_range(
    big: tuple[str, list[ValidRow], list[RowRejection]],
) -> None:
    _, valid, _ = big
    assert all(5_000 <= v.original_amount_cents <= 2_500_000 for v in valid)
    assert all(
        TODAY - timedelta(days=900) <= v.due_date <= TODAY - timedelta(days=1) for v in valid
    )
    assert sum(v.email is not None for v in valid) > len(valid) * 0.5
    assert sum(v.phone is not None for v in valid) > len(valid) * 0.6
    assert sum(v.state is not None for v in valid) > len(valid) * 0.9


def test_the_text_is_excel_pt_br_style(
    big: tuple[str, list[ValidRow], list[RowRejection]],
) -> None:
    text, _, _ = big
    carteira = read_carteira(text.encode())
    amounts = [r.fields["original_amount"] for r in carteira.rows]
    assert all("," in a for a in amounts)
    assert any("." in a for a in amounts)  # some with a thousands separator
    assert carteira.rows[0].fields["due_date"][2] == "/"


def test_custom_creditors() -> None:
    text = generate_carteira(
        300, today=TODAY, invalid_share=0, creditors=("Financeira Alfa", "Loja Beta")
    )
    valid, _ = _import(read_carteira(text.encode()))
    assert {v.creditor for v in valid} == {"Financeira Alfa", "Loja Beta"}


def test_written_in_windows_1252_with_commas_iso_dates_and_decimal_points(tmp_path: Path) -> None:
    path = tmp_path / "carteira.csv"
    write_carteira(
        path, 400, 5, TODAY, encoding="cp1252", delimiter=",", decimal_comma=False, iso_dates=True
    )
    reference = read_carteira(generate_carteira(400, 5, today=TODAY).encode())

    carteira = read_carteira(path.read_bytes())

    assert carteira.encoding == "cp1252"
    assert carteira.delimiter == ","
    valid, rejected = _import(carteira)
    reference_valid, reference_rejected = _import(reference)
    assert valid == reference_valid
    assert [[(e.field, e.rule) for e in r.errors] for r in rejected] == [
        [(e.field, e.rule) for e in r.errors] for r in reference_rejected
    ]


def test_write_carteira_in_utf8_reads_back_the_same(tmp_path: Path) -> None:
    path = tmp_path / "carteira.csv"
    write_carteira(path, 50, 9, TODAY)
    assert path.read_text(encoding="utf-8") == generate_carteira(50, 9, today=TODAY)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rows": -1}, "rows"),
        ({"rows": 10, "invalid_share": 1.5}, "invalid_share"),
        ({"rows": 10, "creditors": ()}, "creditor"),
    ],
)
def test_nonsense_arguments_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        generate_carteira(today=TODAY, **kwargs)  # type: ignore[arg-type]


# --- the example files shipped in examples/ -----------------------------------------------


def test_example_carteira_utf8() -> None:
    carteira = read_carteira((EXAMPLES / "carteira-exemplo.csv").read_bytes())

    assert (carteira.encoding, carteira.delimiter) == ("utf-8", ";")
    assert len(carteira.rows) == 12
    valid, rejected = _import(carteira)
    assert len(valid) == 10
    assert sorted(e.rule for r in rejected for e in r.errors) == ["check_digit", "positive"]
    assert any(v.document_kind == "cnpj" and not v.document.isdigit() for v in valid)


def test_example_carteira_windows_1252() -> None:
    data = (EXAMPLES / "carteira-exemplo-cp1252.csv").read_bytes()
    carteira = read_carteira(data)

    assert (carteira.encoding, carteira.delimiter) == ("cp1252", ",")
    valid, rejected = _import(carteira)
    assert rejected == []
    assert len(valid) == 10
    assert any("ç" in v.name for v in valid)
    assert all(v.due_date.isoformat() in data.decode("cp1252") for v in valid)
    assert normalize_document("I50WBFHR000109") in {v.document for v in valid}
