"""The file-based credit bureau: fixed-width remittance lines, idempotent writes, listings."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from services.ruler.adapters.bureau_file import (
    LINE_LENGTH,
    BureauRecord,
    CreditBureau,
    FileBureau,
    fit_record_key,
    format_line,
)

CPF = "52998224725"
CNPJ = "12ABC34501DE35"


def record(
    key: str = "k-1", on: dt.date = dt.date(2026, 11, 16), **changes: object
) -> BureauRecord:
    base = BureauRecord(
        record_key=key,
        tenant="assessoria-sul",
        document="529.982.247-25",
        debtor_name="João da Conceição Araújo",
        creditor="Banco Exemplo S.A.",
        contract="CT-0042",
        amount_cents=123456,
        due_date=dt.date(2026, 10, 1),
        occurred_on=on,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def lines(path: Path) -> list[str]:
    text = path.read_text(encoding="ascii")
    assert text.endswith("\n") and "\r" not in text
    return text.splitlines()


def test_layout_totals_241_characters() -> None:
    assert LINE_LENGTH == 1 + 8 + 1 + 14 + 40 + 40 + 20 + 15 + 8 + 64 + 30 == 241


def test_inclusion_line_fields_at_their_positions(tmp_path: Path) -> None:
    bureau = FileBureau(tmp_path / "remessas" / "sul")
    bureau.include(record())
    path = tmp_path / "remessas" / "sul" / "remessa-20261116.txt"
    (line,) = lines(path)
    assert len(line) == LINE_LENGTH
    assert line[0] == "I"
    assert line[1:9] == "20261116"
    assert line[9] == "1"
    assert line[10:24] == CPF.ljust(14)
    assert line[24:64] == "JOAO DA CONCEICAO ARAUJO".ljust(40)
    assert line[64:104] == "BANCO EXEMPLO S.A.".ljust(40)
    assert line[104:124] == "CT-0042".ljust(20)
    assert line[124:139] == "000000000123456"
    assert line[139:147] == "20261001"
    assert line[147:211] == "k-1".ljust(64)
    assert line[211:241] == " " * 30


def test_exclusion_line_has_its_reason(tmp_path: Path) -> None:
    bureau = FileBureau(tmp_path)
    bureau.exclude(record(on=dt.date(2026, 12, 2), document=CNPJ, contract=""), "Dívida quitada")
    (line,) = lines(tmp_path / "remessa-20261202.txt")
    assert len(line) == LINE_LENGTH
    assert line[0] == "E"
    assert line[9] == "2"
    assert line[10:24] == CNPJ
    assert line[104:124] == " " * 20
    assert line[211:241] == "DIVIDA QUITADA".ljust(30)
    (fields,) = bureau.read_records()
    assert fields["record_type"] == "E"
    assert fields["document_kind"] == "2"
    assert fields["contract"] == ""
    assert fields["reason"] == "DIVIDA QUITADA"
    assert fields["occurred_on"] == "20261202"
    assert fields["amount_cents"] == "000000000123456"


def test_accents_folded_and_long_text_cut(tmp_path: Path) -> None:
    bureau = FileBureau(tmp_path)
    name = "Ângela Mônica Çaldas Ñúñez Über Straße\nNova Linha e Mais Sobrenomes Longos"
    bureau.include(record(debtor_name=name, creditor="Crédito Fácil Financeira"))
    (fields,) = bureau.read_records()
    assert fields["debtor_name"] == "ANGELA MONICA CALDAS NUNEZ UBER STRAE NO"
    assert fields["creditor"] == "CREDITO FACIL FINANCEIRA"
    assert all(len(line) == LINE_LENGTH for line in lines(tmp_path / "remessa-20261116.txt"))


def test_same_record_twice_in_a_day_is_written_once(tmp_path: Path) -> None:
    bureau = FileBureau(tmp_path)
    for _ in range(3):
        bureau.include(record())
        bureau.exclude(record(), "pago")
    # A new FileBureau (a run repeated after a crash) reads what is there.
    FileBureau(tmp_path).include(record())
    assert [r["record_type"] for r in bureau.read_records()] == ["I", "E"]


def test_a_line_cut_short_by_a_crash_is_dropped(tmp_path: Path) -> None:
    bureau = FileBureau(tmp_path)
    bureau.include(record("k-1"))
    path = tmp_path / "remessa-20261116.txt"
    with path.open("a", encoding="ascii") as handle:
        handle.write(format_line("I", record("k-2"))[:100])
    assert bureau.listed_keys() == {"k-1"}  # the partial line was never written
    bureau.include(record("k-2"))
    assert [line[147:211].rstrip() for line in lines(path)] == ["k-1", "k-2"]


def test_listed_keys_follow_include_exclude_include(tmp_path: Path) -> None:
    bureau = FileBureau(tmp_path)
    assert bureau.listed_keys() == set()
    bureau.include(record("k-1", dt.date(2026, 11, 16)))
    bureau.include(record("k-2", dt.date(2026, 11, 16)))
    assert bureau.listed_keys() == {"k-1", "k-2"}
    bureau.exclude(record("k-1", dt.date(2026, 11, 20)), "pago")
    assert bureau.listed_keys() == {"k-2"}
    bureau.include(record("k-1", dt.date(2026, 12, 1)))
    assert bureau.listed_keys() == {"k-1", "k-2"}
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "remessa-20261116.txt",
        "remessa-20261120.txt",
        "remessa-20261201.txt",
    ]
    assert [(r["record_type"], r["record_key"]) for r in bureau.read_records()] == [
        ("I", "k-1"),
        ("I", "k-2"),
        ("E", "k-1"),
        ("I", "k-1"),
    ]


def test_file_order_is_date_order_across_years(tmp_path: Path) -> None:
    bureau = FileBureau(tmp_path)
    bureau.exclude(record("k", dt.date(2027, 1, 5)), "pago")
    bureau.include(record("k", dt.date(2026, 12, 30)))
    assert bureau.listed_keys() == set()


def test_bad_records_are_refused() -> None:
    with pytest.raises(ValueError, match="document"):
        record(document="123")
    with pytest.raises(ValueError, match="amount_cents"):
        record(amount_cents=-1)
    with pytest.raises(ValueError, match="record_key"):
        record("")


def test_keys_too_long_for_the_field_are_shortened_the_same_way_every_time(
    tmp_path: Path,
) -> None:
    # The ruler's action key for a UUID receivable is longer than the 64-character field.
    action_key = "assessoria-sul|0f8b2c4e-3d1a-4b7e-9c2f-5a6d7e8f9a0b|credit_bureau|0|credit_bureau"
    long = record(action_key)
    assert len(long.record_key) == 64
    assert long.record_key.startswith("assessoria-sul|0f8b2c4e-3d1a-4b~")
    assert record(action_key).record_key == long.record_key
    assert record(action_key + "x").record_key != long.record_key
    assert fit_record_key(long.record_key) == long.record_key
    assert record("k" * 64).record_key == "k" * 64
    accented = record("são-paulo|r1").record_key
    assert accented.isascii() and accented.startswith("s_o-paulo|r1~")

    bureau = FileBureau(tmp_path)
    bureau.include(long)
    bureau.include(record(action_key))  # a repeated run
    assert bureau.listed_keys() == {long.record_key}
    bureau.exclude(record(action_key, dt.date(2026, 12, 1)), "pago")
    assert bureau.listed_keys() == set()


def test_format_line_refuses_a_key_that_does_not_fit() -> None:
    fitted = record()
    object.__setattr__(fitted, "record_key", "k" * 65)
    with pytest.raises(ValueError, match="record_key"):
        format_line("I", fitted)


def test_file_bureau_is_a_credit_bureau(tmp_path: Path) -> None:
    bureau: CreditBureau = FileBureau(tmp_path)
    assert bureau.name == "arquivo-remessa"
    assert FileBureau(tmp_path, name="serasa-manual").name == "serasa-manual"
