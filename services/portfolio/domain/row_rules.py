"""Validating one raw carteira row, the same whether it came from a CSV upload or from a
client's Kafka message: canonical column name -> string as the creditor wrote it.

A row becomes a `ValidRow` with parsed values, or a `RowRejection` listing every problem of
the row at once, each with a pt-BR message the agency's operator can act on. Values that are
personal data (document, name, e-mail, phone, date of birth) are not repeated in the messages,
which end up in reports and logs; the row number already says which row it is.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from contracts.documents import DocumentKind, InvalidDocument, document_kind, validate_document
from contracts.ufs import UF_NAMES, UFS

__all__ = [
    "KEPT_WHEN_ABSENT",
    "MAX_AMOUNT_CENTS",
    "REQUIRED_FIELDS",
    "UFS",
    "RowRejection",
    "RowRuleError",
    "RowStatus",
    "ValidRow",
    "parse_amount_cents",
    "parse_birth_date",
    "parse_due_date",
    "validate_row",
]

REQUIRED_FIELDS: tuple[str, ...] = (
    "document",
    "name",
    "creditor",
    "contract",
    "original_amount",
    "due_date",
)

# The optional fields a row may leave out: a re-import whose file has no such column (a
# client's message without the field, or with it null) keeps the debt's value; an empty cell in
# a column the file has (a client's "") clears it.
KEPT_WHEN_ABSENT: tuple[str, ...] = ("email", "phone", "city", "state", "category", "birth_date")

LABELS_PT: dict[str, str] = {
    "document": "documento",
    "name": "nome",
    "creditor": "credor",
    "contract": "contrato",
    "installment": "parcela",
    "original_amount": "valor original",
    "due_date": "data de vencimento",
    "email": "e-mail",
    "phone": "telefone",
    "city": "cidade",
    "state": "UF",
    "category": "categoria",
    "status": "situação",
    "birth_date": "data de nascimento",
}
# A company has no birth: the same column brings its opening date (data de abertura).
OPENING_DATE_LABEL = "data de abertura"
# Nobody in a carteira was born (nor any company opened) before this.
EARLIEST_BIRTH_DATE = date(1900, 1, 1)

# Keeps amounts exact as JavaScript numbers (< 2**53) downstream; far above any real debt.
MAX_AMOUNT_CENTS = 99_999_999_999_999


# Cached: a carteira repeats the same few states and situações on every row.
@functools.lru_cache(maxsize=4096)
def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).upper().split())


_UF_BY_NAME = {_fold(name): uf for uf, name in UF_NAMES.items()}


class RowRuleError(ValueError):
    """One broken rule of a row: `field` (canonical column), `rule` (stable English code:
    "required", "format", "check_digit", "positive", "not_in_future", ...) and `message`
    (pt-BR, for people)."""

    def __init__(self, field: str, rule: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.rule = rule
        self.message = message

    def __repr__(self) -> str:
        return f"RowRuleError({self.field!r}, {self.rule!r}, {self.message!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RowRuleError):
            return NotImplemented
        return (self.field, self.rule, self.message) == (other.field, other.rule, other.message)

    def __hash__(self) -> int:
        return hash((self.field, self.rule, self.message))


# The row's situação: in collection, or withdrawn by the creditor (cancelled, or returned).
RowStatus = Literal["active", "cancelled", "returned"]


@dataclass(frozen=True, slots=True)
class ValidRow:
    document: str
    document_kind: DocumentKind
    name: str
    creditor: str
    contract: str
    installment: str
    original_amount_cents: int
    due_date: date
    email: str | None = None
    phone: str | None = None
    city: str | None = None
    state: str | None = None
    category: str | None = None
    status: RowStatus = "active"
    # Date of birth (a CPF) or opening date (a CNPJ): personal data, sealed with the others.
    birth_date: date | None = None
    # The fields of KEPT_WHEN_ABSENT the row did not bring at all (their column absent from
    # the file, or null in a client's message), None above: a debt already imported keeps its
    # own values of these. The row's shape, not its values: not compared.
    absent: frozenset[str] = field(default=frozenset(), compare=False)


@dataclass(frozen=True, slots=True)
class RowRejection:
    errors: list[RowRuleError]

    @property
    def reason(self) -> str:
        return "; ".join(e.message for e in self.errors)


def _label(field: str) -> str:
    return LABELS_PT.get(field, field)


def _shown(text: str) -> str:
    """What the person wrote, for a message; a garbage cell can be kilobytes long."""
    text = text.strip()
    return text if len(text) <= 40 else text[:39] + "…"


def _required(field: str) -> RowRuleError:
    return RowRuleError(field, "required", f"campo obrigatório '{_label(field)}' está vazio")


# --- amounts -------------------------------------------------------------------------------

_PLAIN = re.compile(r"[0-9]+")
_ONE_SEPARATOR = re.compile(r"([0-9]+)([.,])([0-9]+)")
_BR_GROUPED = re.compile(r"(\d{1,3}(?:\.\d{3})+)(?:,(\d+))?", re.ASCII)
_POINT_GROUPED = re.compile(r"(\d{1,3}(?:,\d{3})+)(?:\.(\d+))?", re.ASCII)
_SIGNED = re.compile(r"(-?)(?:R\$)?(-?)([0-9.,]+)(-?)", re.IGNORECASE)


def _amount_format_error(field: str, text: str) -> RowRuleError:
    return RowRuleError(
        field,
        "format",
        f"{_label(field)} '{text}' não é um valor em reais (use 1.234,56 ou 1234.56)",
    )


def _split_amount(field: str, text: str, body: str) -> tuple[str, str]:
    """(integer digits, decimal digits) of an unsigned amount written BR- or point-style."""
    if _PLAIN.fullmatch(body):
        return body, ""
    if m := _ONE_SEPARATOR.fullmatch(body):
        integer, _, decimals = m.groups()
        # '1.234' is a thousand in Brazil and 1.234 elsewhere: better ask than guess 1000x off.
        if len(decimals) == 3 and integer[0] != "0" and len(integer) <= 3:
            raise RowRuleError(
                field,
                "format",
                f"{_label(field)} '{text}' é ambíguo (milhar ou centavos?): "
                "escreva os centavos, como em 1.234,00 ou 1234.00",
            )
        return integer, decimals
    if m := _BR_GROUPED.fullmatch(body):
        return m.group(1).replace(".", ""), m.group(2) or ""
    if m := _POINT_GROUPED.fullmatch(body):
        return m.group(1).replace(",", ""), m.group(2) or ""
    raise _amount_format_error(field, text)


def parse_amount_cents(text: str, field: str = "original_amount") -> int:
    """Cents of an amount in reais: '1.234,56', '1234,56', '1234.56', '1,234.56', 'R$ 1234'.

    Raises RowRuleError for empty, negative, more than two decimals, or anything else.
    """
    shown = _shown(text)
    body = "".join(text.split())  # also NBSP, which Excel puts after 'R$'
    if not body:
        raise _required(field)
    signs = 0
    if body.startswith("(") and body.endswith(")"):  # accounting style for negatives
        signs, body = 1, body[1:-1]
    # A minus may come before or after 'R$', or at the end as some ERPs write it.
    signed = _SIGNED.fullmatch(body)
    if signed is None:
        raise _amount_format_error(field, shown)
    signs += sum(1 for sign in signed.group(1, 2, 4) if sign)
    if signs > 1:
        raise _amount_format_error(field, shown)
    negative = signs == 1
    body = signed.group(3)
    integer, decimals = _split_amount(field, shown, body)
    if len(decimals) > 2:
        raise RowRuleError(
            field, "decimal_places", f"{_label(field)} '{shown}' tem mais de 2 casas decimais"
        )
    # At most two decimals (checked above): whole cents in integer arithmetic, as
    # int(Decimal(f"{integer}.{decimals}").scaleb(2)) gives, without building a Decimal.
    cents = int(integer) * 100 + int(decimals.ljust(2, "0"))
    if negative and cents:
        raise RowRuleError(field, "positive", f"{_label(field)} não pode ser negativo: {shown}")
    if cents > MAX_AMOUNT_CENTS:
        raise RowRuleError(field, "too_large", f"{_label(field)} '{shown}' é grande demais")
    return cents


# --- dates ---------------------------------------------------------------------------------

_TIME = r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
_DAY_FIRST = re.compile(r"(\d{1,2})([/.-])(\d{1,2})\2(\d{4})" + _TIME, re.ASCII)
_ISO = re.compile(r"(\d{4})([-/])(\d{1,2})\2(\d{1,2})" + _TIME, re.ASCII)
_SHORT_YEAR = re.compile(r"\d{1,2}([/.-])\d{1,2}\1\d{2}", re.ASCII)
_EXCEL_SERIAL = re.compile(r"\d{5}(?:[.,]\d+)?", re.ASCII)


def _format_br(value: date) -> str:
    return value.strftime("%d/%m/%Y")


def parse_due_date(text: str, field: str = "due_date") -> date:
    """A date written dd/mm/yyyy (also d/m/yyyy, dd-mm-yyyy, dd.mm.yyyy) or ISO yyyy-mm-dd.
    A time after the date, as some exports add, is ignored."""
    parsed = _parse_date(text, field, _label(field))
    if parsed.year < 1900:
        raise RowRuleError(
            field, "format", f"{_label(field)} '{_shown(text)}' tem um ano improvável"
        )
    return parsed


def _parse_date(text: str, field: str, label: str, personal: bool = False) -> date:
    """The calendar date of `text` as parse_due_date reads it (no check of the year). The
    messages quote what was written, unless it is `personal` data (then the row number alone
    says which row it is)."""
    stripped = text.strip()
    if not stripped:
        raise _required(field)
    named = label if personal else f"{label} '{_shown(stripped)}'"
    if m := _DAY_FIRST.fullmatch(stripped):
        day, month, year = int(m.group(1)), int(m.group(3)), int(m.group(4))
    elif m := _ISO.fullmatch(stripped):
        year, month, day = int(m.group(1)), int(m.group(3)), int(m.group(4))
    elif _SHORT_YEAR.fullmatch(stripped):
        raise RowRuleError(field, "format", f"{named} tem ano com 2 dígitos: use dd/mm/aaaa")
    elif _EXCEL_SERIAL.fullmatch(stripped):
        raise RowRuleError(
            field,
            "format",
            f"{named} parece um número de série do Excel: formate a coluna como data (dd/mm/aaaa)",
        )
    else:
        raise RowRuleError(
            field, "format", f"{named} não é uma data (use dd/mm/aaaa ou aaaa-mm-dd)"
        )
    try:
        return date(year, month, day)
    except ValueError:
        raise RowRuleError(field, "format", f"{named} não existe no calendário") from None


def parse_birth_date(text: str, today: date, kind: DocumentKind | None = None) -> date:
    """The debtor's date of birth (a CNPJ's opening date: `kind` "cnpj" says so in the
    messages), written as a due date is: a real date, not after `today` (the business date),
    not before 1900. Personal data: the messages do not repeat it."""
    label = OPENING_DATE_LABEL if kind == "cnpj" else _label("birth_date")
    parsed = _parse_date(text, "birth_date", label, personal=True)
    if parsed > today:
        raise RowRuleError("birth_date", "not_in_future", f"{label} está no futuro")
    if parsed < EARLIEST_BIRTH_DATE:
        raise RowRuleError("birth_date", "too_old", f"{label} anterior a 1900: confira o ano")
    return parsed


# --- contact data --------------------------------------------------------------------------

_EMAIL = re.compile(r"[^@\s;,]+@[^@\s;,]+\.[^@\s;,.]{2,}")


def _email(text: str) -> str:
    email = text.strip().lower()
    if not _EMAIL.fullmatch(email) or ".." in email:
        raise RowRuleError(
            "email",
            "format",
            "e-mail inválido: informe um único endereço, como nome@exemplo.com.br",
        )
    return email


def _phone(text: str) -> str:
    """National digits, area code first (10 digits, or 11 for a mobile starting with 9)."""
    digits = re.sub(r"[^0-9]", "", text).lstrip("0")
    if len(digits) in (12, 13) and digits.startswith("55"):
        digits = digits[2:]
    area_ok = len(digits) >= 2 and "0" not in digits[:2]
    if area_ok and (len(digits) == 10 or (len(digits) == 11 and digits[2] == "9")):
        return digits
    raise RowRuleError("phone", "format", "telefone deve ter DDD e número, como em (11) 98765-4321")


def _state(text: str) -> str:
    folded = _fold(text)
    if folded in UFS:
        return folded
    if folded in _UF_BY_NAME:
        return _UF_BY_NAME[folded]
    raise RowRuleError("state", "unknown_state", f"UF '{_shown(text)}' não existe")


# Situações as creditors write them (after _fold: no accents, upper case, single spaces).
_STATUSES: dict[str, RowStatus] = {
    "ATIVO": "active",
    "ATIVA": "active",
    "ABERTO": "active",
    "ABERTA": "active",
    "EM ABERTO": "active",
    "EM COBRANCA": "active",
    "CANCELADO": "cancelled",
    "CANCELADA": "cancelled",
    "CANCELAMENTO": "cancelled",
    "DEVOLVIDO": "returned",
    "DEVOLVIDA": "returned",
    "DEVOLUCAO": "returned",
    "RETIRADO": "returned",
    "RETIRADA": "returned",
}


def _status(text: str) -> RowStatus:
    found = _STATUSES.get(_fold(text))
    if found is None:
        raise RowRuleError(
            "status",
            "unknown_status",
            f"situação '{_shown(text)}' não reconhecida: deixe vazia ou use ativo, "
            "cancelado ou devolvido",
        )
    return found


# --- the row -------------------------------------------------------------------------------


# A debtor's document comes again on each of their rows (2.4 rows a debtor in a generated
# carteira): its check digits are computed once. Invalid ones raise, and are not cached.
_validate_document = functools.lru_cache(maxsize=16384)(validate_document)


def validate_row(fields: Mapping[str, str | None], today: date) -> ValidRow | RowRejection:
    """Every rule of one row; `today` comes from the caller's business clock. An optional
    field missing from `fields` (or None) is `absent` from the row: not given, unlike an
    empty string, which the row gives empty."""
    errors: list[RowRuleError] = []
    # Whitespace collapsed; "" for an empty cell, and for a field not given (absent, or a
    # client's null): the rules read both alike, `absent` below tells them apart for a
    # re-import (inlined: fourteen function calls a row cost more than the work).
    values = {
        name: " ".join(value.split()) if (value := fields.get(name)) else "" for name in LABELS_PT
    }
    for name in REQUIRED_FIELDS:
        if not values[name]:
            errors.append(_required(name))

    document = ""
    kind: DocumentKind | None = None
    if values["document"]:
        try:
            document = _validate_document(values["document"])
        except InvalidDocument as exc:
            errors.append(RowRuleError("document", exc.rule, exc.reason))
        else:
            kind = document_kind(document)

    amount = 0
    if values["original_amount"]:
        try:
            amount = parse_amount_cents(values["original_amount"])
        except RowRuleError as exc:
            errors.append(exc)
        else:
            if amount == 0:
                errors.append(
                    RowRuleError(
                        "original_amount", "positive", "valor original deve ser maior que zero"
                    )
                )

    due = date.min
    if values["due_date"]:
        try:
            due = parse_due_date(values["due_date"])
        except RowRuleError as exc:
            errors.append(exc)
        else:
            if due > today:
                errors.append(
                    RowRuleError(
                        "due_date",
                        "not_in_future",
                        f"data de vencimento {_format_br(due)} está no futuro",
                    )
                )

    optional: dict[str, str | None] = {}
    for name, parse in (("email", _email), ("phone", _phone), ("state", _state)):
        optional[name] = None
        if values[name]:
            try:
                optional[name] = parse(values[name])
            except RowRuleError as exc:
                errors.append(exc)

    birth_date: date | None = None
    if values["birth_date"]:
        try:
            birth_date = parse_birth_date(values["birth_date"], today, kind)
        except RowRuleError as exc:
            errors.append(exc)

    status: RowStatus = "active"
    if values["status"]:
        try:
            status = _status(values["status"])
        except RowRuleError as exc:
            errors.append(exc)

    if errors:
        return RowRejection(errors)
    assert kind is not None
    return ValidRow(
        document=document,
        document_kind=kind,
        name=values["name"],
        creditor=values["creditor"],
        contract=values["contract"],
        installment=values["installment"],
        original_amount_cents=amount,
        due_date=due,
        email=optional["email"],
        phone=optional["phone"],
        city=values["city"] or None,
        state=optional["state"],
        category=values["category"] or None,
        status=status,
        birth_date=birth_date,
        absent=_absent(tuple(name for name in KEPT_WHEN_ABSENT if fields.get(name) is None)),
    )


@functools.lru_cache(maxsize=64)
def _absent(names: tuple[str, ...]) -> frozenset[str]:
    # One set per file layout, not one per row.
    return frozenset(names)
