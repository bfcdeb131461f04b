"""FEBRABAN boleto (bloqueto de cobrança): the 44-digit barcode and the 47-digit linha digitável.

Pure functions, no I/O. The barcode is what the bank's scanner reads; the linha digitável is the
same data rearranged into five fields, each of the first three with its own mod 10 check digit,
so that a debtor typing it into a banking app gets told about a typo right away.

Barcode (44 digits)::

    bank(3) currency(1) general DV(1) due date factor(4) amount(10) free field(25)

Linha digitável (47 digits), printed as ``AAABC.CCCCX DDDDD.DDDDDY EEEEE.EEEEEZ K UUUUVVVVVVVVVV``::

    field 1: bank + currency + free[0:5]  + mod 10 DV
    field 2: free[5:15]                   + mod 10 DV
    field 3: free[15:25]                  + mod 10 DV
    field 4: the barcode's general DV
    field 5: due date factor + amount

The 25-digit free field ("campo livre") belongs to the bank; its layout is looked up in
`FREE_FIELD_LAYOUTS` by bank code.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Protocol

__all__ = [
    "FREE_FIELD_LAYOUTS",
    "MAX_AMOUNT_CENTS",
    "MAX_NOSSO_NUMERO",
    "Boleto",
    "FreeFieldLayout",
    "barcode_from_digitable_line",
    "bradesco_free_field",
    "due_date_factor",
    "format_nosso_numero",
    "free_field",
    "make_boleto",
    "mod10",
    "mod11_barcode",
    "nosso_numero_dv",
    "nosso_numero_with_dv",
]

CURRENCY_REAL = "9"
MAX_AMOUNT_CENTS = 9_999_999_999  # the barcode has 10 digits for the amount
MAX_NOSSO_NUMERO = 99_999_999_999  # 11 digits in the Bradesco layout

# Day 0 of the original factor; factor 1000 fell on 2000-07-03 and 9999 on 2025-02-21.
_FACTOR_BASE = dt.date(1997, 10, 7)
_FIRST_CYCLE_LAST_DAY = dt.date(2025, 2, 21)
# FEBRABAN's reset: 4 digits ran out, so the factor restarts at 1000 on the next day.
_SECOND_CYCLE_FIRST_DAY = dt.date(2025, 2, 22)
_FACTOR_RESTART = 1000
_FACTOR_MAX = 9999

_DIGITS = re.compile(r"[0-9]+")
_LINE_SEPARATORS = re.compile(r"[\s.]+")


def _require_digits(value: str, what: str, *, max_len: int | None = None) -> None:
    # str.isdigit() would accept "²" or Arabic-Indic digits; only ASCII 0-9 go in a barcode.
    if not _DIGITS.fullmatch(value):
        raise ValueError(f"{what} must be made of the digits 0-9, got {value!r}")
    if max_len is not None and len(value) > max_len:
        raise ValueError(f"{what} has at most {max_len} digits, got {value!r}")


def due_date_factor(due: dt.date) -> str:
    """The 4-digit due date factor ("fator de vencimento") of `due`.

    Days since 1997-10-07 up to 2025-02-21 (factor 9999); from 2025-02-22 FEBRABAN restarts
    the count at 1000, which lasts until 2049-10-13 (9999 again).
    """
    if due <= _FACTOR_BASE:
        raise ValueError(f"due date factor starts on 1997-10-08, got {due.isoformat()}")
    if due <= _FIRST_CYCLE_LAST_DAY:
        factor = (due - _FACTOR_BASE).days
    else:
        factor = _FACTOR_RESTART + (due - _SECOND_CYCLE_FIRST_DAY).days
    if factor > _FACTOR_MAX:
        raise ValueError(f"due date {due.isoformat()} is beyond the current factor cycle (9999)")
    return f"{factor:04d}"


def mod10(digits: str) -> int:
    """FEBRABAN modulo 10 check digit (of each linha digitável field)."""
    _require_digits(digits, "mod10 input")
    total = 0
    for position, char in enumerate(reversed(digits)):
        product = int(char) * (2 if position % 2 == 0 else 1)
        # A product of 10..18 counts as the sum of its two digits, i.e. product - 9.
        total += product - 9 if product > 9 else product
    return (10 - total % 10) % 10


def mod11_barcode(digits: str) -> int:
    """FEBRABAN modulo 11 general check digit of the barcode (over its other 43 digits)."""
    _require_digits(digits, "mod11 input")
    total = sum(int(char) * (2 + position % 8) for position, char in enumerate(reversed(digits)))
    dv = 11 - total % 11
    # The barcode DV can never be 0: FEBRABAN maps 0, 10 and 11 to 1.
    return 1 if dv in (0, 10, 11) else dv


# --- nosso número (Bradesco) -------------------------------------------------------------------


def _nosso_numero_digits(nosso_numero: int) -> str:
    if not 1 <= nosso_numero <= MAX_NOSSO_NUMERO:
        raise ValueError(f"nosso número must be 1..{MAX_NOSSO_NUMERO}, got {nosso_numero}")
    return f"{nosso_numero:011d}"


def _wallet_digits(wallet: str) -> str:
    _require_digits(wallet, "wallet (carteira)", max_len=2)
    return wallet.zfill(2)


def nosso_numero_dv(wallet: str, nosso_numero: int) -> str:
    """Bradesco's nosso número check digit: mod 11 base 7 over wallet(2) + nosso número(11).

    Weights 2..7 cycling from the right; remainder 0 gives "0", remainder 1 gives "P" (there is
    no single digit for 10), any other remainder r gives 11 - r.
    """
    digits = _wallet_digits(wallet) + _nosso_numero_digits(nosso_numero)
    total = sum(int(char) * (2 + position % 6) for position, char in enumerate(reversed(digits)))
    remainder = total % 11
    if remainder == 0:
        return "0"
    if remainder == 1:
        return "P"
    return str(11 - remainder)


def nosso_numero_with_dv(wallet: str, nosso_numero: int) -> str:
    """The 11-digit nosso número followed by its check digit, e.g. "00000000002" + "8"."""
    return _nosso_numero_digits(nosso_numero) + nosso_numero_dv(wallet, nosso_numero)


def format_nosso_numero(wallet: str, nosso_numero: int) -> str:
    """The nosso número as printed on a Bradesco boleto: "19/00000000002-8"."""
    dv = nosso_numero_dv(wallet, nosso_numero)
    return f"{_wallet_digits(wallet)}/{_nosso_numero_digits(nosso_numero)}-{dv}"


# --- free field ("campo livre") ----------------------------------------------------------------


class FreeFieldLayout(Protocol):
    """A bank's free field: 25 digits. Keyword-only, so a layout cannot swap agency and account."""

    def __call__(self, *, agency: str, account: str, wallet: str, nosso_numero: int) -> str: ...


def bradesco_free_field(*, agency: str, account: str, wallet: str, nosso_numero: int) -> str:
    """Bradesco (237): agency(4) + wallet(2) + nosso número(11) + account(7, no DV) + "0"."""
    _require_digits(agency, "agency", max_len=4)
    _require_digits(account, "account (without its check digit)", max_len=7)
    return (
        agency.zfill(4)
        + _wallet_digits(wallet)
        + _nosso_numero_digits(nosso_numero)
        + account.zfill(7)
        + "0"
    )


# Free field layout by bank code. A bank missing here gets `_GENERIC_FREE_FIELD` (the Bradesco
# layout): it keeps the barcode well-formed, but the bank will only recognise it if its own
# layout happens to be the same, so add the bank here before issuing boletos through it.
FREE_FIELD_LAYOUTS: Mapping[str, FreeFieldLayout] = MappingProxyType(
    {"237": bradesco_free_field},
)
_GENERIC_FREE_FIELD: FreeFieldLayout = bradesco_free_field


def free_field(bank_code: str, *, agency: str, account: str, wallet: str, nosso_numero: int) -> str:
    """The 25-digit free field of `bank_code`, generic (Bradesco) layout for unknown banks."""
    layout = FREE_FIELD_LAYOUTS.get(bank_code, _GENERIC_FREE_FIELD)
    field = layout(agency=agency, account=account, wallet=wallet, nosso_numero=nosso_numero)
    if not (len(field) == 25 and _DIGITS.fullmatch(field)):
        raise ValueError(f"free field layout of bank {bank_code} gave {field!r}, not 25 digits")
    return field


# --- barcode and linha digitável ---------------------------------------------------------------


@dataclass(frozen=True)
class Boleto:
    barcode: str  # 44 digits
    digitable_line: str  # 47 digits, no separators
    nosso_numero: str  # 11 digits, zero-padded, without its check digit

    def __post_init__(self) -> None:
        for name, value, size in (
            ("barcode", self.barcode, 44),
            ("digitable_line", self.digitable_line, 47),
            ("nosso_numero", self.nosso_numero, 11),
        ):
            if len(value) != size or not _DIGITS.fullmatch(value):
                raise ValueError(f"{name} must be {size} digits, got {value!r}")

    def formatted_digitable_line(self) -> str:
        """The printed form: "AAABC.CCCCX DDDDD.DDDDDY EEEEE.EEEEEZ K UUUUVVVVVVVVVV"."""
        line = self.digitable_line
        return (
            f"{line[0:5]}.{line[5:10]} {line[10:15]}.{line[15:21]} "
            f"{line[21:26]}.{line[26:32]} {line[32]} {line[33:47]}"
        )


def _digitable_line(barcode: str) -> str:
    free = barcode[19:44]
    field1 = barcode[0:4] + free[0:5]
    field2 = free[5:15]
    field3 = free[15:25]
    return (
        f"{field1}{mod10(field1)}"
        f"{field2}{mod10(field2)}"
        f"{field3}{mod10(field3)}"
        f"{barcode[4]}"
        f"{barcode[5:19]}"
    )


def make_boleto(
    *,
    bank_code: str,
    agency: str,
    account: str,
    wallet: str,
    nosso_numero: int,
    amount_cents: int,
    due_date: dt.date,
) -> Boleto:
    """The barcode and linha digitável of one boleto."""
    _require_digits(bank_code, "bank code")
    if len(bank_code) != 3:
        raise ValueError(f"bank code has 3 digits, got {bank_code!r}")
    if not 1 <= amount_cents <= MAX_AMOUNT_CENTS:
        raise ValueError(
            f"amount_cents must be 1..{MAX_AMOUNT_CENTS} (10 barcode digits), got {amount_cents}"
        )
    free = free_field(
        bank_code, agency=agency, account=account, wallet=wallet, nosso_numero=nosso_numero
    )
    # The general DV sits at position 5 but is computed over the 43 digits around it.
    head = bank_code + CURRENCY_REAL
    tail = due_date_factor(due_date) + f"{amount_cents:010d}" + free
    barcode = f"{head}{mod11_barcode(head + tail)}{tail}"
    return Boleto(
        barcode=barcode,
        digitable_line=_digitable_line(barcode),
        nosso_numero=_nosso_numero_digits(nosso_numero),
    )


def barcode_from_digitable_line(line: str) -> str:
    """The 44-digit barcode of a linha digitável, checking every check digit.

    Accepts the printed form too (dots and spaces are dropped). Raises ValueError when the
    line is not 47 digits or any of its four check digits is wrong, e.g. a typo.
    """
    digits = _LINE_SEPARATORS.sub("", line)
    if len(digits) != 47 or not _DIGITS.fullmatch(digits):
        raise ValueError(f"a linha digitável has 47 digits, got {line!r}")
    for number, (start, end) in enumerate(((0, 9), (10, 20), (21, 31)), start=1):
        if mod10(digits[start:end]) != int(digits[end]):
            raise ValueError(f"check digit of field {number} of the linha digitável is wrong")
    barcode = digits[0:4] + digits[32] + digits[33:47] + digits[4:9] + digits[10:20] + digits[21:31]
    if mod11_barcode(barcode[:4] + barcode[5:]) != int(barcode[4]):
        raise ValueError("general check digit (field 4) of the linha digitável is wrong")
    return barcode
