"""FEBRABAN boleto: barcode and linha digitável, checked against validators written here.

The check digits are recomputed below the plain way, independently of the module under test,
so a bug in the module's mod10/mod11 cannot hide behind itself.
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.negotiation.domain.boleto import (
    FREE_FIELD_LAYOUTS,
    Boleto,
    UnsupportedBank,
    barcode_from_digitable_line,
    due_date_factor,
    format_nosso_numero,
    free_field,
    make_boleto,
    mod10,
    mod11_barcode,
    nosso_numero_dv,
    nosso_numero_with_dv,
)

# --- independent validators --------------------------------------------------------------------


def luhn_dv(digits: str) -> int:
    """Modulo 10, weights 2,1,2,1... from the right, two-digit products add their digits."""
    weights = [2, 1] * len(digits)
    products = [int(d) * w for d, w in zip(reversed(digits), weights, strict=False)]
    total = sum(sum(int(c) for c in str(p)) for p in products)
    remainder = total % 10
    return 0 if remainder == 0 else 10 - remainder


def general_dv(barcode: str) -> int:
    """Modulo 11 over the barcode minus its 5th digit, weights 2..9 from the right."""
    digits = barcode[:4] + barcode[5:]
    weights = [2, 3, 4, 5, 6, 7, 8, 9] * 6
    total = sum(int(d) * w for d, w in zip(reversed(digits), weights, strict=False))
    dv = 11 - total % 11
    return 1 if dv in (0, 10, 11) else dv


def line_fields(line: str) -> tuple[str, str, str, str, str]:
    return line[0:10], line[10:21], line[21:32], line[32], line[33:47]


def assert_line_checks(line: str) -> None:
    field1, field2, field3, _, _ = line_fields(line)
    for field in (field1, field2, field3):
        assert luhn_dv(field[:-1]) == int(field[-1]), field


# --- due date factor ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("due", "factor"),
    [
        (dt.date(1997, 10, 8), "0001"),  # the day after the base date 1997-10-07
        (dt.date(2000, 7, 3), "1000"),  # 1997-10-07 + 1000 days
        (dt.date(2011, 2, 5), "4869"),
        (dt.date(2025, 2, 21), "9999"),  # last day of the first cycle
        (dt.date(2025, 2, 22), "1000"),  # FEBRABAN reset: the new cycle starts at 1000
        (dt.date(2025, 2, 23), "1001"),
        # 2025-02-22 -> 2026-02-22: 365 days; -> 2026-11-22: 28 (Feb, 2026 not leap) + 31 + 30
        # + 31 + 30 + 31 + 31 + 30 + 31 = 273; -> 2026-11-25: 3. 365 + 273 + 3 = 641 -> 1641.
        (dt.date(2026, 11, 25), "1641"),
        (dt.date(2049, 10, 13), "9999"),  # 2025-02-22 + 8999 days: last day of the new cycle
    ],
)
def test_due_date_factor(due: dt.date, factor: str) -> None:
    assert due_date_factor(due) == factor


@pytest.mark.parametrize("due", [dt.date(1997, 10, 7), dt.date(1990, 1, 1), dt.date(2049, 10, 14)])
def test_due_date_factor_outside_the_cycles_is_rejected(due: dt.date) -> None:
    with pytest.raises(ValueError):
        due_date_factor(due)


# --- check digits ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("digits", "dv"),
    [
        # 0x2 + 4x1 + 3x2 + 2x1 + 1x2 + 9x1 + 7x2 (=14 -> 1+4=5) + 3x1 + 2x2 = 35 -> 10 - 5 = 5
        ("237912340", 5),
        ("9000000000", 1),  # the 9 gets weight 1: 9 -> 10 - 9 = 1
        ("0000000000", 0),  # sum 0 -> DV 0, not 10
        ("5", 9),  # 5x2 = 10 -> 1 + 0 = 1 -> 9
    ],
)
def test_mod10(digits: str, dv: int) -> None:
    assert mod10(digits) == dv == luhn_dv(digits)


@pytest.mark.parametrize(
    ("digits", "dv"),
    [
        ("1", 9),  # 1x2 = 2 -> 11 - 2 = 9
        ("0", 1),  # sum 0 -> 11 -> 1
        ("5", 1),  # 5x2 = 10 -> 11 - 10 = 1, mapped to 1
        ("6", 1),  # 6x2 = 12 -> 12 % 11 = 1 -> 11 - 1 = 10 -> 1
        ("10", 8),  # 0x2 + 1x3 = 3 -> 11 - 3 = 8
        ("00000000000", 1),
    ],
)
def test_mod11_barcode(digits: str, dv: int) -> None:
    assert mod11_barcode(digits) == dv


def test_mod11_weights_cycle_after_nine() -> None:
    # 9th digit from the right gets weight 2 again: 1x2 = 2 -> 11 - 2 = 9; 8th gets 9: 9 -> 2.
    assert mod11_barcode("100000000") == 9
    assert mod11_barcode("10000000") == 2


@pytest.mark.parametrize("bad", ["", "12a", "１２", "²"])
def test_check_digits_reject_non_ascii_digits(bad: str) -> None:
    with pytest.raises(ValueError):
        mod10(bad)
    with pytest.raises(ValueError):
        mod11_barcode(bad)


# --- nosso número (Bradesco, mod 11 base 7) ----------------------------------------------------


def test_nosso_numero_dv_regular() -> None:
    # "1900000000002", weights from the right 2,3,4,5,6,7,2,...: 2x2 = 4, the 9 (12th) x7 = 63,
    # the 1 (13th) x2 = 2 -> 69; 69 % 11 = 3 -> 11 - 3 = 8.
    assert nosso_numero_dv("19", 2) == "8"
    assert nosso_numero_with_dv("19", 2) == "000000000028"
    assert format_nosso_numero("19", 2) == "19/00000000002-8"


def test_nosso_numero_dv_remainder_one_is_p() -> None:
    # "0900000000002": 2x2 + 9x7 = 67; 67 % 11 = 1 -> "P"
    assert nosso_numero_dv("09", 2) == "P"
    assert format_nosso_numero("9", 2) == "09/00000000002-P"


def test_nosso_numero_dv_remainder_zero_is_zero() -> None:
    # "0900000000007": 7x2 + 9x7 = 77 = 7 x 11 -> "0"
    assert nosso_numero_dv("09", 7) == "0"


@pytest.mark.parametrize("nosso_numero", [0, -1, 100_000_000_000])
def test_nosso_numero_out_of_range(nosso_numero: int) -> None:
    with pytest.raises(ValueError, match="nosso número"):
        nosso_numero_dv("09", nosso_numero)


# --- public examples ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("agency", "account", "nosso_numero", "amount_cents", "due", "barcode", "line"),
    [
        # Bradesco test vectors of the pyboleto project (tests/test_banco_bradesco.py), wallet 06;
        # agency "278-0" and account "039232-4" there are passed here without their DVs.
        (
            "278",
            "39232",
            2125525,
            828000,
            dt.date(2011, 2, 5),
            "23794486900008280000278060000212552500392320",
            "23790.27804 60000.212559 25003.923205 4 48690000828000",
        ),
        (
            "1172",
            "403005",
            75896452,
            295295,
            dt.date(2011, 3, 9),
            "23791490100002952951172060007589645204030050",
            "23791.17209 60007.589645 52040.300502 1 49010000295295",
        ),
    ],
)
def test_published_bradesco_examples(
    agency: str,
    account: str,
    nosso_numero: int,
    amount_cents: int,
    due: dt.date,
    barcode: str,
    line: str,
) -> None:
    # The published values themselves pass the independent validators.
    plain_line = line.replace(".", "").replace(" ", "")
    assert general_dv(barcode) == int(barcode[4])
    assert_line_checks(plain_line)

    boleto = make_boleto(
        bank_code="237",
        agency=agency,
        account=account,
        wallet="06",
        nosso_numero=nosso_numero,
        amount_cents=amount_cents,
        due_date=due,
    )

    assert boleto.barcode == barcode
    assert boleto.digitable_line == plain_line
    assert boleto.formatted_digitable_line() == line
    assert barcode_from_digitable_line(line) == barcode


def test_hand_computed_example_in_the_new_factor_cycle() -> None:
    # Bradesco, agency 1234, wallet 09, nosso número 1, account 12345, R$ 150,00, 2026-11-25.
    # free field: 1234 | 09 | 00000000001 | 0012345 | 0 = 1234090000000000100123450
    # factor 1641 (see test_due_date_factor); amount 0000015000.
    # 43 digits for the general DV: 2379 1641 0000015000 1234090000000000100123450; weights
    # 2..9 from the right, non-zero terms: 2x4 3x3 7x2 9x9 1x8 6x7 4x6 1x5 1x7 5x6 1x2 2x9 3x8
    # 4x7 9x5 1x2 1x7 2x6 3x5 4x4 5x3 = 412; 412 % 11 = 5 -> DV 11 - 5 = 6.
    # field 1: 2379 + 12340 -> DV 5 (see test_mod10); field 2: 9000000000 -> DV 1;
    # field 3: 0100123450 -> 0x2 5 4x2 3 2x2 1 0 0 1x2 0 = 23 -> DV 7.
    boleto = make_boleto(
        bank_code="237",
        agency="1234",
        account="12345",
        wallet="09",
        nosso_numero=1,
        amount_cents=15_000,
        due_date=dt.date(2026, 11, 25),
    )

    assert boleto.barcode == "23796164100000150001234090000000000100123450"
    assert boleto.formatted_digitable_line() == (
        "23791.23405 90000.000001 01001.234507 6 16410000015000"
    )
    assert boleto.nosso_numero == "00000000001"


# --- inputs ------------------------------------------------------------------------------------

VALID = {
    "bank_code": "237",
    "agency": "1234",
    "account": "12345",
    "wallet": "09",
    "nosso_numero": 1,
    "amount_cents": 100,
    "due_date": dt.date(2026, 1, 1),
}


@pytest.mark.parametrize("amount_cents", [0, -100, 10_000_000_000])
def test_amount_out_of_range_is_rejected(amount_cents: int) -> None:
    with pytest.raises(ValueError, match=r"amount_cents must be 1\.\.9999999999"):
        make_boleto(**{**VALID, "amount_cents": amount_cents})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("bank_code", "23"),
        ("bank_code", "2377"),
        ("bank_code", "abc"),
        ("agency", "12345"),
        ("agency", "278-0"),
        ("account", "12345678"),
        ("account", "039232-4"),
        ("wallet", "123"),
        ("wallet", ""),
        ("nosso_numero", 0),
        ("nosso_numero", 100_000_000_000),
        ("due_date", dt.date(1997, 10, 7)),
    ],
)
def test_bad_inputs_are_rejected(field: str, value: object) -> None:
    with pytest.raises(ValueError):
        make_boleto(**{**VALID, field: value})  # type: ignore[arg-type]


def test_extreme_amounts_fit() -> None:
    low = make_boleto(**{**VALID, "amount_cents": 1})  # type: ignore[arg-type]
    high = make_boleto(**{**VALID, "amount_cents": 9_999_999_999})  # type: ignore[arg-type]
    assert low.barcode[9:19] == "0000000001"
    assert high.barcode[9:19] == "9999999999"


def test_unknown_bank_gets_no_layout() -> None:
    # Not Bradesco's layout any more: the bank the barcode names would not recognise it.
    assert "999" not in FREE_FIELD_LAYOUTS
    kwargs = {"agency": "1", "account": "2", "wallet": "3", "nosso_numero": 4}
    assert free_field("237", **kwargs) == "0001030000000000400000020"  # type: ignore[arg-type]
    with pytest.raises(UnsupportedBank, match="999"):
        free_field("999", **kwargs)  # type: ignore[arg-type]


def test_boleto_rejects_malformed_values() -> None:
    with pytest.raises(ValueError, match="barcode"):
        Boleto(barcode="1" * 43, digitable_line="1" * 47, nosso_numero="1" * 11)


# --- reading a linha digitável -----------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "23790.27804 60000.212559 25003.923205 4 4869000082800",  # 46 digits
        "23790.27804 60000.212559 25003.923205 4 486900008280001",  # 48 digits
        "23790.27804 60000.2125x9 25003.923205 4 48690000828000",
        "23790.27805 60000.212559 25003.923205 4 48690000828000",  # field 1 DV
        "23790.27804 60000.212558 25003.923205 4 48690000828000",  # field 2 DV
        "23790.27804 60000.212559 25003.923206 4 48690000828000",  # field 3 DV
        "23790.27804 60000.212559 25003.923205 5 48690000828000",  # general DV
        "23790.27804 60000.212559 25003.923205 4 48690000828100",  # amount typo: general DV
    ],
)
def test_bad_digitable_lines_are_rejected(line: str) -> None:
    with pytest.raises(ValueError):
        barcode_from_digitable_line(line)


# --- properties --------------------------------------------------------------------------------


def digits(min_size: int, max_size: int) -> st.SearchStrategy[str]:
    return st.text(alphabet="0123456789", min_size=min_size, max_size=max_size)


boletos: st.SearchStrategy[dict[str, object]] = st.builds(
    dict,
    bank_code=st.just("237"),  # the other banks: test_boleto_banks.py
    agency=digits(1, 4),
    account=digits(1, 7),
    wallet=digits(1, 2),
    nosso_numero=st.integers(1, 99_999_999_999),
    amount_cents=st.integers(1, 9_999_999_999),
    due_date=st.dates(dt.date(2025, 2, 22), dt.date(2040, 12, 31)),
)


@given(boletos)
def test_any_boleto_is_well_formed(params: dict[str, object]) -> None:
    boleto = make_boleto(**params)  # type: ignore[arg-type]
    barcode, line = boleto.barcode, boleto.digitable_line
    due = params["due_date"]
    assert isinstance(due, dt.date)

    assert len(barcode) == 44 and barcode.isdigit()
    assert len(line) == 47 and line.isdigit()
    assert_line_checks(line)
    assert general_dv(barcode) == int(barcode[4])
    assert barcode_from_digitable_line(line) == barcode
    assert barcode_from_digitable_line(boleto.formatted_digitable_line()) == barcode

    # Where FEBRABAN puts things: bank, currency, factor, amount, free field.
    factor = f"{(due - dt.date(2025, 2, 22)).days + 1000:04d}"
    amount = f"{params['amount_cents']:010d}"
    assert barcode[0:3] == params["bank_code"]
    assert barcode[3] == "9"
    assert barcode[5:9] == factor
    assert barcode[9:19] == amount
    assert barcode[19:44] == (
        str(params["agency"]).zfill(4)
        + str(params["wallet"]).zfill(2)
        + f"{params['nosso_numero']:011d}"
        + str(params["account"]).zfill(7)
        + "0"
    )
    field1, field2, field3, field4, field5 = line_fields(line)
    assert field1[:4] == barcode[:4]
    assert field1[4:9] + field2[:10] + field3[:10] == barcode[19:44]
    assert field4 == barcode[4]
    assert field5 == factor + amount
    assert boleto.nosso_numero == f"{params['nosso_numero']:011d}"


@given(boletos, st.data())
def test_a_typo_in_fields_1_to_3_is_caught(params: dict[str, object], data: st.DataObject) -> None:
    line = make_boleto(**params).digitable_line  # type: ignore[arg-type]
    position = data.draw(st.integers(0, 31))  # fields 1-3, their DVs included
    wrong = data.draw(st.sampled_from([d for d in "0123456789" if d != line[position]]))
    typo = line[:position] + wrong + line[position + 1 :]
    with pytest.raises(ValueError):
        barcode_from_digitable_line(typo)


@given(digits(1, 2), st.integers(1, 99_999_999_999))
def test_nosso_numero_dv_matches_a_plain_mod11_base7(wallet: str, nosso_numero: int) -> None:
    digits = wallet.zfill(2) + f"{nosso_numero:011d}"
    weights = [2, 3, 4, 5, 6, 7] * 3
    remainder = sum(int(d) * w for d, w in zip(reversed(digits), weights, strict=False)) % 11
    expected = {0: "0", 1: "P"}.get(remainder, str(11 - remainder))
    assert nosso_numero_dv(wallet, nosso_numero) == expected
    assert format_nosso_numero(wallet, nosso_numero) == (
        f"{wallet.zfill(2)}/{nosso_numero:011d}-{expected}"
    )
