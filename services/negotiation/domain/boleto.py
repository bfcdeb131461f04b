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

The 25-digit free field ("campo livre") belongs to the bank, and so do the nosso número's
length, check digit and printed form, and how the bank writes it back in a CNAB 240 return:
`BANKS` has them for Banco do Brasil (001), Santander (033), Caixa (104, SIGCB), Bradesco (237),
Itaú (341), Sicredi (748) and Sicoob (756). A bank missing there has no boletos
(`UnsupportedBank`): a barcode in another bank's layout would not be recognised by the bank it
names.

Our nosso número is the tenant's sequence (1, 2, 3...); each bank's rules turn it into the
bank's nosso número (with the convênio, carteira, year and check digit where the bank wants
them). Each layout has room for a fixed number of digits of that sequence: its capacity
(`sequence_capacity`). A number past it is never made: wrapping around would give a second
boleto the nosso número of a first, and a payment of one would settle the other.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Protocol

__all__ = [
    "BANKS",
    "FREE_FIELD_LAYOUTS",
    "MAX_AMOUNT_CENTS",
    "MAX_NOSSO_NUMERO",
    "SUPPORTED_BANKS",
    "AccountProblem",
    "BankRules",
    "BeneficiaryAccount",
    "Boleto",
    "FreeFieldLayout",
    "UnsupportedBank",
    "account_problems",
    "bank_rules",
    "barcode_from_digitable_line",
    "bb_free_field",
    "bb_nosso_numero_dv",
    "bradesco_free_field",
    "caixa_free_field",
    "due_date_factor",
    "format_nosso_numero",
    "free_field",
    "itau_free_field",
    "itau_nosso_numero_dac",
    "make_boleto",
    "mod10",
    "mod11_barcode",
    "nosso_numero_dv",
    "nosso_numero_from_segment_t",
    "nosso_numero_with_dv",
    "printed_nosso_numero",
    "santander_free_field",
    "santander_nosso_numero_dv",
    "segment_t_nosso_numero",
    "sequence_capacity",
    "sequence_problem",
    "sicoob_free_field",
    "sicoob_nosso_numero_dv",
    "sicredi_free_field",
    "sicredi_nosso_numero",
    "sicredi_nosso_numero_dv",
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


# --- free field ("campo livre") and nosso número, per bank -------------------------------------


class FreeFieldLayout(Protocol):
    """A bank's free field: 25 digits. Keyword-only, so a layout cannot swap agency and account."""

    def __call__(
        self,
        *,
        agency: str,
        account: str,
        wallet: str,
        nosso_numero: int,
        beneficiary_code: str = "",
        service_point: str = "",
        issued_on: dt.date | None = None,
    ) -> str: ...


@dataclass(frozen=True, slots=True)
class BeneficiaryAccount:
    """The beneficiary's (the tenant's) account at the bank that issues its boletos.

    `beneficiary_code` is what the bank calls the convênio (Banco do Brasil), código do
    cedente (Santander), código do beneficiário (Caixa, Sicredi) or código do cliente (Sicoob);
    Bradesco and Itaú do not use it. `service_point` is Sicredi's posto (the cooperative's
    branch the account belongs to); no other bank has one. Digits only, without check digits.
    """

    bank_code: str
    agency: str
    account: str
    wallet: str
    beneficiary_code: str = ""
    service_point: str = ""


@dataclass(frozen=True, slots=True)
class AccountProblem:
    """What is wrong with a `BeneficiaryAccount` for its bank: the settings field (as named in
    the negotiation settings' boleto block), a rule name, and a pt-BR message for the operator."""

    field: str
    rule: str
    message: str


class UnsupportedBank(ValueError):
    def __init__(self, bank_code: str) -> None:
        super().__init__(
            f"no boleto layout for bank {bank_code!r}; supported: {', '.join(SUPPORTED_BANKS)}"
        )
        self.bank_code = bank_code


def _digits_problem(
    value: str, field: str, label: str, *, sizes: tuple[int, ...] | None = None, max_len: int = 0
) -> AccountProblem | None:
    if not _DIGITS.fullmatch(value):
        return AccountProblem(field, "required", f"{label}: informe só dígitos, sem o DV")
    if sizes is not None and len(value) not in sizes:
        wanted = " ou ".join(str(size) for size in sizes)
        return AccountProblem(field, "digits_count", f"{label}: {wanted} dígitos neste banco")
    if max_len and len(value) > max_len:
        return AccountProblem(field, "max_length", f"{label}: no máximo {max_len} dígitos")
    return None


def _problems(*found: AccountProblem | None) -> list[AccountProblem]:
    return [problem for problem in found if problem is not None]


def _wallet_problem(wallet: str, allowed: frozenset[str], label: str) -> AccountProblem | None:
    if wallet.lstrip("0").zfill(1) in {w.lstrip("0").zfill(1) for w in allowed}:
        return None
    return AccountProblem(
        "wallet",
        "unsupported_wallet",
        f"carteira {wallet!r} não suportada para {label}; use {', '.join(sorted(allowed))}",
    )


def _mod11_dv(digits: str, *, high: int = 9) -> int:
    """Modulo 11, weights 2..`high` cycling from the right, DV = 11 - remainder, 10 and 11
    give 0 (Santander's and Caixa's nosso número, Caixa's beneficiary code and free field)."""
    _require_digits(digits, "mod11 input")
    span = high - 1
    total = sum(int(c) * (2 + position % span) for position, c in enumerate(reversed(digits)))
    dv = 11 - total % 11
    return 0 if dv >= 10 else dv


def _check_sequence(nosso_numero: int, maximum: int, bank: str) -> None:
    if not 1 <= nosso_numero <= maximum:
        raise ValueError(f"nosso número of bank {bank} must be 1..{maximum}, got {nosso_numero}")


# Bradesco (237) --------------------------------------------------------------------------------


def bradesco_free_field(
    *,
    agency: str,
    account: str,
    wallet: str,
    nosso_numero: int,
    beneficiary_code: str = "",
    service_point: str = "",
    issued_on: dt.date | None = None,
) -> str:
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


def _bradesco_problems(acc: BeneficiaryAccount) -> list[AccountProblem]:
    return _problems(
        _digits_problem(acc.agency, "agency", "agência", max_len=4),
        _digits_problem(acc.account, "account", "conta", max_len=7),
        _digits_problem(acc.wallet, "wallet", "carteira", max_len=2),
    )


def _bradesco_segment_t(acc: BeneficiaryAccount, nosso_numero: int) -> str:
    # Bradesco's CNAB 240: carteira(3) + zeros(5) + nosso número(11) + its DV (a digit or "P").
    return (
        acc.wallet.zfill(3)
        + "00000"
        + _nosso_numero_digits(nosso_numero)
        + nosso_numero_dv(acc.wallet, nosso_numero)
    )


# Banco do Brasil (001) -------------------------------------------------------------------------

_BB_WALLETS = frozenset({"17", "18"})


def bb_nosso_numero_dv(digits: str) -> str:
    """Banco do Brasil's modulo 11 (convênio of 6 digits): weights 9, 8, ..., 2 from the right,
    cycling; the remainder is the DV, 10 printed "X"."""
    _require_digits(digits, "nosso número")
    weights = (9, 8, 7, 6, 5, 4, 3, 2)
    total = sum(int(c) * weights[i % 8] for i, c in enumerate(reversed(digits)))
    remainder = total % 11
    return "X" if remainder == 10 else str(remainder)


def _bb_convenio(acc: BeneficiaryAccount) -> str:
    _require_digits(acc.beneficiary_code, "convênio", max_len=7)
    if len(acc.beneficiary_code) not in (6, 7):
        raise ValueError(
            f"Banco do Brasil convênio has 6 or 7 digits, got {acc.beneficiary_code!r}"
        )
    return acc.beneficiary_code


def _bb_max(acc: BeneficiaryAccount) -> int:
    return 99_999 if len(acc.beneficiary_code) == 6 else 9_999_999_999


def bb_free_field(
    *,
    agency: str,
    account: str,
    wallet: str,
    nosso_numero: int,
    beneficiary_code: str = "",
    service_point: str = "",
    issued_on: dt.date | None = None,
) -> str:
    """Banco do Brasil (001), carteiras 17 and 18.

    Convênio of 7 digits: "000000" + convênio(7) + nosso número complement(10) + carteira(2).
    Convênio of 6 digits: convênio(6) + nosso número(5) + agência(4) + conta(8) + carteira(2).
    """
    acc = BeneficiaryAccount("001", agency, account, wallet, beneficiary_code)
    convenio = _bb_convenio(acc)
    _check_sequence(nosso_numero, _bb_max(acc), "001")
    _require_digits(wallet, "wallet (carteira)", max_len=2)
    if len(convenio) == 7:
        return "000000" + convenio + f"{nosso_numero:010d}" + wallet.zfill(2)
    _require_digits(agency, "agency", max_len=4)
    _require_digits(account, "account (without its check digit)", max_len=8)
    return convenio + f"{nosso_numero:05d}" + agency.zfill(4) + account.zfill(8) + wallet.zfill(2)


def _bb_printed(acc: BeneficiaryAccount, nosso_numero: int) -> str:
    convenio = _bb_convenio(acc)
    _check_sequence(nosso_numero, _bb_max(acc), "001")
    if len(convenio) == 7:
        return f"{convenio}{nosso_numero:010d}"  # 17 digits, no check digit
    base = f"{convenio}{nosso_numero:05d}"
    return f"{base}-{bb_nosso_numero_dv(base)}"


def _bb_segment_t(acc: BeneficiaryAccount, nosso_numero: int) -> str:
    # 17 digits without DV (convênio 7), or 11 digits and the DV (convênio 6), left-aligned.
    return _bb_printed(acc, nosso_numero).replace("-", "").ljust(20)


def _bb_t_slices(acc: BeneficiaryAccount) -> tuple[slice, slice]:
    if len(acc.beneficiary_code) == 6:
        return slice(0, 12), slice(6, 11)
    return slice(0, 17), slice(7, 17)


def _bb_problems(acc: BeneficiaryAccount) -> list[AccountProblem]:
    found = [
        _digits_problem(acc.beneficiary_code, "beneficiary_code", "convênio", sizes=(6, 7)),
        _wallet_problem(acc.wallet, _BB_WALLETS, "o Banco do Brasil"),
    ]
    if len(acc.beneficiary_code) == 6:
        found.append(_digits_problem(acc.agency, "agency", "agência", max_len=4))
        found.append(_digits_problem(acc.account, "account", "conta", max_len=8))
    return _problems(*found)


# Itaú (341) ------------------------------------------------------------------------------------

# Carteiras whose nosso número DAC is computed over carteira + nosso número only.
_ITAU_SHORT_DAC_WALLETS = frozenset({"112", "126", "131", "146", "150", "168"})
# Carteiras with seu número and código do cliente in the free field: another layout, refused.
_ITAU_OTHER_LAYOUT_WALLETS = frozenset({"106", "107", "122", "142", "143", "195", "196", "198"})


def _itau_parts(acc: BeneficiaryAccount, nosso_numero: int) -> tuple[str, str, str, str]:
    _require_digits(acc.agency, "agency", max_len=4)
    _require_digits(acc.account, "account (without its check digit)", max_len=5)
    _require_digits(acc.wallet, "wallet (carteira)", max_len=3)
    _check_sequence(nosso_numero, 99_999_999, "341")
    wallet = acc.wallet.zfill(3)
    if wallet in _ITAU_OTHER_LAYOUT_WALLETS:
        raise ValueError(f"Itaú carteira {wallet} uses another free field layout")
    return acc.agency.zfill(4), acc.account.zfill(5), wallet, f"{nosso_numero:08d}"


def itau_nosso_numero_dac(acc: BeneficiaryAccount, nosso_numero: int) -> int:
    """Itaú's DAC of the nosso número: mod 10 of agência + conta + carteira + nosso número
    (of carteira + nosso número alone for carteiras 112, 126, 131, 146, 150, 168)."""
    agency, account, wallet, number = _itau_parts(acc, nosso_numero)
    if wallet in _ITAU_SHORT_DAC_WALLETS:
        return mod10(wallet + number)
    return mod10(agency + account + wallet + number)


def itau_free_field(
    *,
    agency: str,
    account: str,
    wallet: str,
    nosso_numero: int,
    beneficiary_code: str = "",
    service_point: str = "",
    issued_on: dt.date | None = None,
) -> str:
    """Itaú (341): carteira(3) + nosso número(8) + DAC + agência(4) + conta(5) + DAC of
    agência/conta (mod 10) + "000"."""
    acc = BeneficiaryAccount("341", agency, account, wallet, beneficiary_code)
    agency4, account5, wallet3, number = _itau_parts(acc, nosso_numero)
    dac = itau_nosso_numero_dac(acc, nosso_numero)
    return f"{wallet3}{number}{dac}{agency4}{account5}{mod10(agency4 + account5)}000"


def _itau_printed(acc: BeneficiaryAccount, nosso_numero: int) -> str:
    _, _, wallet, number = _itau_parts(acc, nosso_numero)
    return f"{wallet}/{number}-{itau_nosso_numero_dac(acc, nosso_numero)}"


def _itau_segment_t(acc: BeneficiaryAccount, nosso_numero: int) -> str:
    # carteira(3) + nosso número(8) + DAC(1), then blanks.
    return _itau_printed(acc, nosso_numero).replace("/", "").replace("-", "").ljust(20)


def _itau_problems(acc: BeneficiaryAccount) -> list[AccountProblem]:
    found = [
        _digits_problem(acc.agency, "agency", "agência", max_len=4),
        _digits_problem(acc.account, "account", "conta", max_len=5),
        _digits_problem(acc.wallet, "wallet", "carteira", sizes=(3,)),
    ]
    if acc.wallet in _ITAU_OTHER_LAYOUT_WALLETS:
        found.append(
            AccountProblem(
                "wallet",
                "unsupported_wallet",
                f"carteira {acc.wallet} do Itaú (com seu número e código do cliente) não é "
                "suportada",
            )
        )
    return _problems(*found)


# Santander (033) -------------------------------------------------------------------------------


def santander_nosso_numero_dv(nosso_numero: int) -> int:
    """Santander: mod 11, weights 2..9 from the right over the 12 digits; 11 - remainder, and
    0 when that gives 10 or 11."""
    _check_sequence(nosso_numero, 999_999_999_999, "033")
    return _mod11_dv(f"{nosso_numero:012d}")


def santander_free_field(
    *,
    agency: str,
    account: str,
    wallet: str,
    nosso_numero: int,
    beneficiary_code: str = "",
    service_point: str = "",
    issued_on: dt.date | None = None,
) -> str:
    """Santander (033): "9" + código do cedente(7) + nosso número(12) + DV + IOF "0" +
    carteira(3), e.g. 101 (cobrança simples rápida com registro)."""
    _require_digits(beneficiary_code, "código do cedente", max_len=7)
    _require_digits(wallet, "wallet (carteira)", max_len=3)
    dv = santander_nosso_numero_dv(nosso_numero)
    return f"9{beneficiary_code.zfill(7)}{nosso_numero:012d}{dv}0{wallet.zfill(3)}"


def _santander_printed(acc: BeneficiaryAccount, nosso_numero: int) -> str:
    return f"{nosso_numero:012d}-{santander_nosso_numero_dv(nosso_numero)}"


def _santander_segment_t(acc: BeneficiaryAccount, nosso_numero: int) -> str:
    # Santander's segment T: 38-40 blank, 41-53 nosso número with its DV (54: carteira code).
    return ("   " + _santander_printed(acc, nosso_numero).replace("-", "")).ljust(20)


def _santander_problems(acc: BeneficiaryAccount) -> list[AccountProblem]:
    return _problems(
        _digits_problem(acc.beneficiary_code, "beneficiary_code", "código do cedente", max_len=7),
        _digits_problem(acc.wallet, "wallet", "carteira", sizes=(3,)),
    )


# Caixa (104), SIGCB ----------------------------------------------------------------------------

_CAIXA_WALLETS = frozenset({"1", "2"})  # 1 registrada, 2 sem registro
_CAIXA_ISSUER = "4"  # boleto issued by the beneficiary


def _caixa_parts(acc: BeneficiaryAccount, nosso_numero: int) -> tuple[str, str, str]:
    _require_digits(acc.beneficiary_code, "código do beneficiário", max_len=6)
    if len(acc.beneficiary_code) != 6:
        raise ValueError(f"Caixa código do beneficiário has 6 digits, got {acc.beneficiary_code!r}")
    _require_digits(acc.wallet, "wallet (carteira)", max_len=1)
    _check_sequence(nosso_numero, 999_999_999_999_999, "104")
    return acc.beneficiary_code, acc.wallet, f"{nosso_numero:015d}"


def caixa_free_field(
    *,
    agency: str,
    account: str,
    wallet: str,
    nosso_numero: int,
    beneficiary_code: str = "",
    service_point: str = "",
    issued_on: dt.date | None = None,
) -> str:
    """Caixa (104), SIGCB: código do beneficiário(6) + its DV + nosso número[1:3] + carteira
    (constant 1: 1 registrada, 2 sem registro) + nosso número[4:6] + constant 2 ("4": issued by
    the beneficiary) + nosso número[7:15] + DV of these 24 digits (mod 11)."""
    acc = BeneficiaryAccount("104", agency, account, wallet, beneficiary_code)
    code, wallet1, number = _caixa_parts(acc, nosso_numero)
    field = (
        f"{code}{_mod11_dv(code)}{number[0:3]}{wallet1}{number[3:6]}{_CAIXA_ISSUER}{number[6:15]}"
    )
    return field + str(_mod11_dv(field))


def _caixa_printed(acc: BeneficiaryAccount, nosso_numero: int) -> str:
    _, wallet1, number = _caixa_parts(acc, nosso_numero)
    full = f"{wallet1}{_CAIXA_ISSUER}{number}"
    return f"{full}-{_mod11_dv(full)}"


def _caixa_segment_t(acc: BeneficiaryAccount, nosso_numero: int) -> str:
    # CAIXA's SIGCB CNAB 240 manual (2017 and earlier editions), 13.3T: 37-38 blank, 39 "0"
    # (SINCO modalidade, for a 17-digit nosso número), 40-41 modalidade SIGCB (14, 24), 42-56
    # the 15 digits, 57 their DV. Segment P has them one column later (41-42/43-57); segment T
    # does not: laravel-boleto's sample return has "  24" + 15 digits + DV at 38-57.
    _, wallet1, number = _caixa_parts(acc, nosso_numero)
    full = f"{wallet1}{_CAIXA_ISSUER}{number}"
    return f" 0{full}{_mod11_dv(full)}"


def _caixa_problems(acc: BeneficiaryAccount) -> list[AccountProblem]:
    return _problems(
        _digits_problem(
            acc.beneficiary_code, "beneficiary_code", "código do beneficiário", sizes=(6,)
        ),
        _wallet_problem(acc.wallet, _CAIXA_WALLETS, "a Caixa"),
    )


# Sicredi (748) ---------------------------------------------------------------------------------

# The carteira setting is Sicredi's tipo de cobrança: 1 com registro, 3 sem registro.
_SICREDI_WALLETS = frozenset({"1", "3"})
_SICREDI_SIMPLE = "1"  # tipo de carteira: cobrança simples, the only one
# Byte of generation: 2 to 9 when the beneficiary numbers its boletos; 1 is the cooperative's.
_SICREDI_BYTE = "2"
# 5 digits after the year and the byte. The bank would take them again in another year; ours
# never restart, since the sequence alone is what matches a payment to its invoice.
_SICREDI_MAX = 99_999
# "1": the amount is in the barcode ("0" when it is left blank, which ours never are), then
# the filler "0".
_SICREDI_WITH_AMOUNT = "10"
# Segment T: year(2) + byte + sequence(5) + DV, left-aligned in the 20 positions.
_SICREDI_T_KEY = slice(0, 9)
_SICREDI_T_SEQUENCE = slice(3, 8)


def _sicredi_beneficiary(acc: BeneficiaryAccount) -> str:
    """cooperativa/agência(4) + posto(2) + código do beneficiário(5), as Sicredi prints it in
    "agência/código do beneficiário" (0165.02.00623) and puts it in its check digits."""
    _require_digits(acc.agency, "agency (cooperativa)", max_len=4)
    _require_digits(acc.service_point, "service point (posto)", max_len=2)
    _require_digits(acc.beneficiary_code, "código do beneficiário", max_len=5)
    return acc.agency.zfill(4) + acc.service_point.zfill(2) + acc.beneficiary_code.zfill(5)


def sicredi_nosso_numero_dv(acc: BeneficiaryAccount, digits: str) -> int:
    """Sicredi's nosso número check digit over agência(4) + posto(2) + código do
    beneficiário(5) + `digits` (year(2) + byte + sequence(5)): modulo 11, weights 2..9 from
    the right, 11 - remainder, 0 when that gives 10 or 11."""
    _require_digits(digits, "nosso número", max_len=8)
    if len(digits) != 8:
        raise ValueError(f"Sicredi nosso número without DV has 8 digits, got {digits!r}")
    return _mod11_dv(_sicredi_beneficiary(acc) + digits)


def sicredi_nosso_numero(acc: BeneficiaryAccount, nosso_numero: int, issued_on: dt.date) -> str:
    """Sicredi's 9-digit nosso número: year of issue(2) + byte "2" + our sequence(5) + DV,
    e.g. "162088793", printed "16/208879-3"."""
    _check_sequence(nosso_numero, _SICREDI_MAX, "748")
    digits = f"{issued_on.year % 100:02d}{_SICREDI_BYTE}{nosso_numero:05d}"
    return digits + str(sicredi_nosso_numero_dv(acc, digits))


def _sicredi_issued_on(issued_on: dt.date | None) -> dt.date:
    if issued_on is None:
        raise ValueError("Sicredi's nosso número carries the year it is issued in: give issued_on")
    return issued_on


def sicredi_free_field(
    *,
    agency: str,
    account: str,
    wallet: str,
    nosso_numero: int,
    beneficiary_code: str = "",
    service_point: str = "",
    issued_on: dt.date | None = None,
) -> str:
    """Sicredi (748): tipo de cobrança(1, the carteira: 1 com registro, 3 sem registro) +
    tipo de carteira(1, "1" simples) + nosso número(9) + cooperativa/agência(4) + posto(2) +
    código do beneficiário(5) + "1" (amount stated) + "0" + DV of these 24 digits (modulo 11,
    weights 2..9, 0 for remainders 0 and 1)."""
    acc = BeneficiaryAccount("748", agency, account, wallet, beneficiary_code, service_point)
    _require_digits(wallet, "wallet (tipo de cobrança)")
    kind = str(int(wallet))
    if len(kind) != 1:
        raise ValueError(f"Sicredi tipo de cobrança (carteira) has 1 digit, got {wallet!r}")
    number = sicredi_nosso_numero(acc, nosso_numero, _sicredi_issued_on(issued_on))
    field = f"{kind}{_SICREDI_SIMPLE}{number}{_sicredi_beneficiary(acc)}{_SICREDI_WITH_AMOUNT}"
    return field + str(_mod11_dv(field))


def _sicredi_printed(acc: BeneficiaryAccount, nosso_numero: int, issued_on: dt.date | None) -> str:
    number = sicredi_nosso_numero(acc, nosso_numero, _sicredi_issued_on(issued_on))
    return f"{number[0:2]}/{number[2:8]}-{number[8]}"


def _sicredi_segment_t(
    acc: BeneficiaryAccount, nosso_numero: int, issued_on: dt.date | None
) -> str:
    # Sicredi's CNAB 240 manual, item 13.3T (alfa, positions 38-57): "132xxxxxD".
    return sicredi_nosso_numero(acc, nosso_numero, _sicredi_issued_on(issued_on)).ljust(20)


def _sicredi_read_t(acc: BeneficiaryAccount, raw: str) -> int | None:
    # The field is not rebuilt from our number, as other banks' are: it carries the year it
    # was issued in, which the return does not otherwise say.
    field = raw[_SICREDI_T_KEY]
    if not _DIGITS.fullmatch(field) or field[2] != _SICREDI_BYTE:
        return None  # numbered by the cooperative or by another system of the beneficiary
    number = int(field[_SICREDI_T_SEQUENCE])
    if not 1 <= number <= _SICREDI_MAX:
        return None
    if sicredi_nosso_numero_dv(acc, field[0:8]) != int(field[8]):
        return None
    return number


def _sicredi_problems(acc: BeneficiaryAccount) -> list[AccountProblem]:
    return _problems(
        _digits_problem(acc.agency, "agency", "cooperativa/agência", max_len=4),
        _digits_problem(acc.service_point, "service_point", "posto", max_len=2),
        _digits_problem(
            acc.beneficiary_code, "beneficiary_code", "código do beneficiário", max_len=5
        ),
        _wallet_problem(acc.wallet, _SICREDI_WALLETS, "o Sicredi (tipo de cobrança)"),
    )


# Sicoob (756) ----------------------------------------------------------------------------------

_SICOOB_WALLETS = frozenset({"1"})
_SICOOB_MODALITY = "01"  # simples com registro
_SICOOB_INSTALLMENT = "001"


def sicoob_nosso_numero_dv(acc: BeneficiaryAccount, nosso_numero: int) -> int:
    """Sicoob: weights 3, 1, 9, 7 from the left over agência(4) + código do cliente(10) +
    nosso número(7); 11 - remainder, 0 when that gives 10 or 11."""
    _require_digits(acc.agency, "agency", max_len=4)
    _require_digits(acc.beneficiary_code, "código do cliente", max_len=7)
    _check_sequence(nosso_numero, 9_999_999, "756")
    digits = acc.agency.zfill(4) + acc.beneficiary_code.zfill(10) + f"{nosso_numero:07d}"
    total = sum(int(c) * (3, 1, 9, 7)[i % 4] for i, c in enumerate(digits))
    dv = 11 - total % 11
    return 0 if dv >= 10 else dv


def sicoob_free_field(
    *,
    agency: str,
    account: str,
    wallet: str,
    nosso_numero: int,
    beneficiary_code: str = "",
    service_point: str = "",
    issued_on: dt.date | None = None,
) -> str:
    """Sicoob (756): carteira(1) + agência(4) + modalidade(2, "01") + código do cliente(7) +
    nosso número(7) + DV + parcela(3, "001")."""
    acc = BeneficiaryAccount("756", agency, account, wallet, beneficiary_code)
    _require_digits(wallet, "wallet (carteira)", max_len=1)
    dv = sicoob_nosso_numero_dv(acc, nosso_numero)
    return (
        f"{wallet}{agency.zfill(4)}{_SICOOB_MODALITY}{beneficiary_code.zfill(7)}"
        f"{nosso_numero:07d}{dv}{_SICOOB_INSTALLMENT}"
    )


def _sicoob_printed(acc: BeneficiaryAccount, nosso_numero: int) -> str:
    return f"{nosso_numero:07d}-{sicoob_nosso_numero_dv(acc, nosso_numero)}"


def _sicoob_segment_t(acc: BeneficiaryAccount, nosso_numero: int) -> str:
    # NumTitulo(10: nosso número and DV) + parcela(2) + modalidade(2) + tipo formulário(1).
    number = _sicoob_printed(acc, nosso_numero).replace("-", "").zfill(10)
    return f"{number}01{_SICOOB_MODALITY}1".ljust(20)


def _sicoob_problems(acc: BeneficiaryAccount) -> list[AccountProblem]:
    return _problems(
        _digits_problem(acc.agency, "agency", "agência", max_len=4),
        _digits_problem(acc.beneficiary_code, "beneficiary_code", "código do cliente", max_len=7),
        _wallet_problem(acc.wallet, _SICOOB_WALLETS, "o Sicoob"),
    )


# The table -------------------------------------------------------------------------------------


NumberLayout = Callable[[BeneficiaryAccount, int, dt.date | None], str]


@dataclass(frozen=True, slots=True)
class BankRules:
    """How one bank lays out its free field and its nosso número.

    `printed` and `segment_t` take the day the boleto is issued: a bank may number by year
    (Sicredi). `segment_t` is the nosso número as the bank writes it in positions 38-57 of a
    CNAB 240 return's segment T; `t_slices` says which part of those 20 characters identifies
    the boleto and where our sequence sits inside it; `read_t`, when set, reads the field
    instead (a bank whose field cannot be rebuilt from our number alone).

    `max_nosso_numero` is the layout's capacity: our sequence runs 1..capacity, and
    `capacity_field` is the settings field that decides it (the bank, or the convênio).
    """

    code: str
    name: str
    free_field: FreeFieldLayout
    printed: NumberLayout
    segment_t: NumberLayout
    t_slices: Callable[[BeneficiaryAccount], tuple[slice, slice]]
    problems: Callable[[BeneficiaryAccount], list[AccountProblem]]
    max_nosso_numero: Callable[[BeneficiaryAccount], int]
    read_t: Callable[[BeneficiaryAccount, str], int | None] | None = None
    capacity_field: str = "bank_code"


def _fixed(value: int) -> Callable[[BeneficiaryAccount], int]:
    return lambda _acc: value


def _slices(key: slice, sequence: slice) -> Callable[[BeneficiaryAccount], tuple[slice, slice]]:
    return lambda _acc: (key, sequence)


def _undated(layout: Callable[[BeneficiaryAccount, int], str]) -> NumberLayout:
    return lambda acc, nosso_numero, _issued_on: layout(acc, nosso_numero)


BANKS: Mapping[str, BankRules] = MappingProxyType(
    {
        "001": BankRules(
            "001",
            "Banco do Brasil",
            bb_free_field,
            _undated(_bb_printed),
            _undated(_bb_segment_t),
            _bb_t_slices,
            _bb_problems,
            _bb_max,
            capacity_field="beneficiary_code",
        ),
        "033": BankRules(
            "033",
            "Santander",
            santander_free_field,
            _undated(_santander_printed),
            _undated(_santander_segment_t),
            _slices(slice(3, 16), slice(3, 15)),
            _santander_problems,
            _fixed(999_999_999_999),
        ),
        "104": BankRules(
            "104",
            "Caixa Econômica Federal",
            caixa_free_field,
            _undated(_caixa_printed),
            _undated(_caixa_segment_t),
            _slices(slice(2, 19), slice(4, 19)),
            _caixa_problems,
            _fixed(999_999_999_999_999),
        ),
        "237": BankRules(
            "237",
            "Bradesco",
            bradesco_free_field,
            _undated(lambda acc, n: format_nosso_numero(acc.wallet, n)),
            _undated(_bradesco_segment_t),
            _slices(slice(0, 20), slice(8, 19)),
            _bradesco_problems,
            _fixed(MAX_NOSSO_NUMERO),
        ),
        "341": BankRules(
            "341",
            "Itaú",
            itau_free_field,
            _undated(_itau_printed),
            _undated(_itau_segment_t),
            _slices(slice(0, 12), slice(3, 11)),
            _itau_problems,
            _fixed(99_999_999),
        ),
        "748": BankRules(
            "748",
            "Sicredi",
            sicredi_free_field,
            _sicredi_printed,
            _sicredi_segment_t,
            _slices(_SICREDI_T_KEY, _SICREDI_T_SEQUENCE),
            _sicredi_problems,
            _fixed(_SICREDI_MAX),
            read_t=_sicredi_read_t,
        ),
        "756": BankRules(
            "756",
            "Sicoob",
            sicoob_free_field,
            _undated(_sicoob_printed),
            _undated(_sicoob_segment_t),
            _slices(slice(0, 10), slice(2, 9)),
            _sicoob_problems,
            _fixed(9_999_999),
        ),
    }
)

# Free field layout by bank code. A bank missing here has no boletos: `free_field` refuses it.
FREE_FIELD_LAYOUTS: Mapping[str, FreeFieldLayout] = MappingProxyType(
    {code: rules.free_field for code, rules in BANKS.items()}
)
SUPPORTED_BANKS: Mapping[str, str] = MappingProxyType(
    {code: rules.name for code, rules in BANKS.items()}
)


def bank_rules(bank_code: str) -> BankRules:
    """The rules of `bank_code`; `UnsupportedBank` when there is no known layout for it."""
    rules = BANKS.get(bank_code)
    if rules is None:
        raise UnsupportedBank(bank_code)
    return rules


def account_problems(account: BeneficiaryAccount) -> list[AccountProblem]:
    """Everything that keeps `account` from issuing boletos: an unknown bank, or a field its
    bank's layout cannot take. Empty when boletos can be made."""
    rules = BANKS.get(account.bank_code)
    if rules is None:
        supported = ", ".join(f"{code} ({name})" for code, name in SUPPORTED_BANKS.items())
        return [
            AccountProblem(
                "bank_code",
                "unsupported_bank",
                f"banco {account.bank_code!r} sem leiaute de boleto conhecido; bancos "
                f"suportados: {supported}",
            )
        ]
    return rules.problems(account)


def sequence_capacity(account: BeneficiaryAccount) -> int:
    """How many boletos the account's layout can number: our sequence runs 1..capacity (e.g.
    99,999 for Banco do Brasil with a 6-digit convênio, 9,999,999,999 with a 7-digit one).
    `UnsupportedBank` for a bank without a layout."""
    return bank_rules(account.bank_code).max_nosso_numero(account)


def _br_count(value: int) -> str:
    return f"{value:,}".replace(",", ".")


def sequence_problem(
    account: BeneficiaryAccount, allocated: int, wanted: int = 1
) -> AccountProblem | None:
    """What keeps `wanted` more boletos from being numbered after the `allocated` ones (the
    tenant's sequence is at `allocated`): the layout's capacity would be passed. None when
    they fit."""
    rules = bank_rules(account.bank_code)
    capacity = rules.max_nosso_numero(account)
    if allocated + wanted <= capacity:
        return None
    left = max(capacity - allocated, 0)
    what = "o convênio" if rules.capacity_field == "beneficiary_code" else "o banco"
    situation = (
        "não resta nenhum"
        if left == 0
        else f"restam {_br_count(left)} e são necessários {_br_count(wanted)}"
    )
    return AccountProblem(
        rules.capacity_field,
        "sequence_exhausted",
        f"nosso número esgotado: nesta configuração o leiaute de boleto do banco {rules.code} "
        f"({rules.name}) numera até {_br_count(capacity)} boletos, {_br_count(allocated)} já "
        f"foram numerados e {situation}; números não são reaproveitados, troque {what}",
    )


def free_field(
    bank_code: str,
    *,
    agency: str,
    account: str,
    wallet: str,
    nosso_numero: int,
    beneficiary_code: str = "",
    service_point: str = "",
    issued_on: dt.date | None = None,
) -> str:
    """The 25-digit free field of `bank_code`; `UnsupportedBank` for a bank without a layout.
    `issued_on` is the day the boleto is made (Sicredi's nosso número carries its year)."""
    layout = bank_rules(bank_code).free_field
    field = layout(
        agency=agency,
        account=account,
        wallet=wallet,
        nosso_numero=nosso_numero,
        beneficiary_code=beneficiary_code,
        service_point=service_point,
        issued_on=issued_on,
    )
    if not (len(field) == 25 and _DIGITS.fullmatch(field)):
        raise ValueError(f"free field layout of bank {bank_code} gave {field!r}, not 25 digits")
    return field


def printed_nosso_numero(
    account: BeneficiaryAccount, nosso_numero: int, issued_on: dt.date | None = None
) -> str:
    """The nosso número as the bank prints it on the boleto, e.g. "175/00258281-7" (Itaú);
    Sicredi's needs the day the boleto was issued ("16/208879-3")."""
    return bank_rules(account.bank_code).printed(account, nosso_numero, issued_on)


def segment_t_nosso_numero(
    account: BeneficiaryAccount, nosso_numero: int, issued_on: dt.date | None = None
) -> str:
    """The 20 characters the bank writes in positions 38-57 of a CNAB 240 return's segment T
    for this boleto (issued on `issued_on`, which Sicredi's needs)."""
    field = bank_rules(account.bank_code).segment_t(account, nosso_numero, issued_on)
    if len(field) != 20:
        raise AssertionError(f"segment T nosso número of {account.bank_code} is {field!r}")
    return field


def nosso_numero_from_segment_t(account: BeneficiaryAccount, raw: str) -> int | None:
    """Our nosso número (the sequence) in positions 38-57 of a segment T written by the bank,
    or None when they do not hold one of this account's boletos in its bank's layout (another
    convênio or carteira, a wrong check digit, another layout)."""
    rules = BANKS.get(account.bank_code)
    if rules is None or account_problems(account):
        return None
    raw = raw.ljust(20)
    if rules.read_t is not None:
        return rules.read_t(account, raw)
    key, sequence = rules.t_slices(account)
    digits = raw[sequence]
    if not _DIGITS.fullmatch(digits):
        return None
    number = int(digits)
    if not 1 <= number <= rules.max_nosso_numero(account):
        return None
    return number if raw[key] == rules.segment_t(account, number, None)[key] else None


# --- barcode and linha digitável ---------------------------------------------------------------


@dataclass(frozen=True)
class Boleto:
    barcode: str  # 44 digits
    digitable_line: str  # 47 digits, no separators
    # The sequence zero-padded to 11 digits (15 at most: Caixa), without the bank's
    # convênio, carteira or check digit (see `printed_nosso_numero` for those).
    nosso_numero: str

    def __post_init__(self) -> None:
        for name, value, size in (
            ("barcode", self.barcode, 44),
            ("digitable_line", self.digitable_line, 47),
        ):
            if len(value) != size or not _DIGITS.fullmatch(value):
                raise ValueError(f"{name} must be {size} digits, got {value!r}")
        if not (11 <= len(self.nosso_numero) <= 15 and _DIGITS.fullmatch(self.nosso_numero)):
            raise ValueError(f"nosso_numero must be 11 to 15 digits, got {self.nosso_numero!r}")

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
    beneficiary_code: str = "",
    service_point: str = "",
    issued_on: dt.date | None = None,
) -> Boleto:
    """The barcode and linha digitável of one boleto; `UnsupportedBank` for a bank without a
    known layout, ValueError for a field its layout cannot take. `issued_on` is the day it is
    made (required by Sicredi, whose nosso número carries its year)."""
    _require_digits(bank_code, "bank code")
    if len(bank_code) != 3:
        raise ValueError(f"bank code has 3 digits, got {bank_code!r}")
    if not 1 <= amount_cents <= MAX_AMOUNT_CENTS:
        raise ValueError(
            f"amount_cents must be 1..{MAX_AMOUNT_CENTS} (10 barcode digits), got {amount_cents}"
        )
    free = free_field(
        bank_code,
        agency=agency,
        account=account,
        wallet=wallet,
        nosso_numero=nosso_numero,
        beneficiary_code=beneficiary_code,
        service_point=service_point,
        issued_on=issued_on,
    )
    # The general DV sits at position 5 but is computed over the 43 digits around it.
    head = bank_code + CURRENCY_REAL
    tail = due_date_factor(due_date) + f"{amount_cents:010d}" + free
    barcode = f"{head}{mod11_barcode(head + tail)}{tail}"
    return Boleto(
        barcode=barcode,
        digitable_line=_digitable_line(barcode),
        nosso_numero=f"{nosso_numero:011d}",
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
