"""Brazilian debtor documents (CPF and CNPJ): normalizing, validating, formatting, masking.

Shared by every service, so a document means the same thing in the gateway, the portfolio and
the messages between them. Pure functions only.

The CNPJ follows the alphanumeric layout in force since July 2026: the first 12 positions may
be digits or letters A-Z, the last two are numeric check digits, and every character is worth
its ASCII code minus 48 in the usual mod-11 sums. Numeric CNPJs are a special case of it.
"""

from __future__ import annotations

import operator
import random
import re
import string
from typing import Annotated, Literal

from pydantic import AfterValidator

__all__ = [
    "Document",
    "DocumentKind",
    "InvalidDocument",
    "cnpj_check_digits",
    "cpf_check_digits",
    "document_kind",
    "format_document",
    "generate_cnpj",
    "generate_cpf",
    "is_valid_document",
    "mask_document",
    "normalize_document",
    "validate_document",
]

DocumentKind = Literal["cpf", "cnpj"]

CPF_LENGTH = 11
CNPJ_LENGTH = 14

_CPF_SHAPE = re.compile(r"[0-9]{11}")
_CNPJ_SHAPE = re.compile(r"[0-9A-Z]{12}[0-9]{2}")
_ALLOWED = re.compile(r"[0-9A-Z]*")

# Separators people type or that spreadsheets and word processors put in documents.
_SEPARATORS = str.maketrans("", "", ".-/\u2010\u2011\u2012\u2013\u2014")

_CPF_WEIGHTS_1 = (10, 9, 8, 7, 6, 5, 4, 3, 2)
_CPF_WEIGHTS_2 = (11, 10, 9, 8, 7, 6, 5, 4, 3, 2)
_CNPJ_WEIGHTS_1 = (5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2)
_CNPJ_WEIGHTS_2 = (6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2)
_CNPJ_ALPHABET = string.digits + string.ascii_uppercase


class InvalidDocument(ValueError):
    """A CPF/CNPJ that cannot be accepted. `reason` is for people (pt-BR); `rule` is a stable
    English code for programs ("required", "length", "characters", "repeated_digits",
    "check_digit")."""

    def __init__(self, reason: str, rule: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.rule = rule


def normalize_document(raw: str) -> str:
    """Drop dots, dashes, slashes and whitespace, and uppercase letters (CNPJs may have them)."""
    return "".join(raw.split()).translate(_SEPARATORS).upper()


def document_kind(normalized: str) -> DocumentKind | None:
    """The kind a normalized document has by its shape alone (check digits are not looked at)."""
    if _CPF_SHAPE.fullmatch(normalized):
        return "cpf"
    if _CNPJ_SHAPE.fullmatch(normalized):
        return "cnpj"
    return None


def _check_digits(base: str, weights_1: tuple[int, ...], weights_2: tuple[int, ...]) -> str:
    """Two mod-11 check digits; a character is worth its ASCII code minus 48 ('A' = 17)."""
    values = [ord(c) - 48 for c in base]
    digits = ""
    for weights in (weights_1, weights_2):
        remainder = sum(map(operator.mul, values, weights)) % 11
        digit = 0 if remainder < 2 else 11 - remainder
        values.append(digit)
        digits += str(digit)
    return digits


def cpf_check_digits(base: str) -> str:
    """The two check digits for the first 9 digits of a CPF."""
    if not (len(base) == 9 and base.isascii() and base.isdigit()):
        raise ValueError("a base do CPF deve ter 9 dígitos")
    return _check_digits(base, _CPF_WEIGHTS_1, _CPF_WEIGHTS_2)


def cnpj_check_digits(base: str) -> str:
    """The two check digits for the first 12 characters (digits or A-Z) of a CNPJ."""
    if not (len(base) == 12 and _ALLOWED.fullmatch(base)):
        raise ValueError("a base do CNPJ deve ter 12 caracteres entre 0-9 e A-Z")
    return _check_digits(base, _CNPJ_WEIGHTS_1, _CNPJ_WEIGHTS_2)


def _check_cpf(doc: str) -> None:
    if not doc.isdigit():
        raise InvalidDocument("CPF deve conter apenas dígitos", "characters")
    if len(set(doc)) == 1:
        raise InvalidDocument("CPF com todos os dígitos iguais não é válido", "repeated_digits")
    if cpf_check_digits(doc[:9]) != doc[9:]:
        raise InvalidDocument("CPF com dígito verificador inválido", "check_digit")


def _check_cnpj(doc: str) -> None:
    if not doc[12:].isdigit():
        raise InvalidDocument(
            "CNPJ deve terminar com dois dígitos verificadores numéricos", "characters"
        )
    if len(set(doc)) == 1:
        raise InvalidDocument("CNPJ com todos os dígitos iguais não é válido", "repeated_digits")
    if cnpj_check_digits(doc[:12]) != doc[12:]:
        raise InvalidDocument("CNPJ com dígito verificador inválido", "check_digit")


def validate_document(raw: str) -> str:
    """The normalized CPF/CNPJ, or InvalidDocument saying in pt-BR what is wrong with it."""
    doc = normalize_document(raw)
    if not doc:
        raise InvalidDocument("documento vazio", "required")
    if not _ALLOWED.fullmatch(doc):
        bad = "".join(sorted({c for c in doc if c not in _CNPJ_ALPHABET}))
        raise InvalidDocument(f"documento contém caracteres inválidos: {bad!r}", "characters")
    if len(doc) == CPF_LENGTH:
        _check_cpf(doc)
    elif len(doc) == CNPJ_LENGTH:
        _check_cnpj(doc)
    elif doc.isdigit() and len(doc) < CPF_LENGTH:
        raise InvalidDocument(f"CPF deve ter 11 dígitos (encontrados {len(doc)})", "length")
    elif len(doc) < CNPJ_LENGTH:
        # 12-13 digits, or letters: only a CNPJ could look like that.
        raise InvalidDocument(f"CNPJ deve ter 14 caracteres (encontrados {len(doc)})", "length")
    else:
        raise InvalidDocument(
            f"documento com {len(doc)} caracteres: CPF tem 11 dígitos e CNPJ tem 14 caracteres",
            "length",
        )
    return doc


def is_valid_document(raw: str) -> bool:
    try:
        validate_document(raw)
    except InvalidDocument:
        return False
    return True


def _kind_or_error(normalized: str) -> tuple[str, DocumentKind]:
    doc = normalize_document(normalized)
    kind = document_kind(doc)
    if kind is None:
        raise ValueError("não é um CPF (11 dígitos) nem um CNPJ (14 caracteres)")
    return doc, kind


def format_document(normalized: str) -> str:
    """'123.456.789-09' for a CPF, '12.ABC.345/01DE-35' for a CNPJ (shape only, no check)."""
    d, kind = _kind_or_error(normalized)
    if kind == "cpf":
        return f"{d[:3]}.{d[3:6]}.{d[6:9]}-{d[9:]}"
    return f"{d[:2]}.{d[2:5]}.{d[5:8]}/{d[8:12]}-{d[12:]}"


def mask_document(normalized: str) -> str:
    """For screens and logs: enough to tell documents apart, not enough to reuse one.

    CPF keeps the middle six digits ('***.456.789-**'); CNPJ keeps the first two characters
    and the branch ('12.***.***/0001-**'), which say little about the company on their own.
    """
    d, kind = _kind_or_error(normalized)
    if kind == "cpf":
        return f"***.{d[3:6]}.{d[6:9]}-**"
    return f"{d[:2]}.***.***/{d[8:12]}-**"


def generate_cpf(rng: random.Random) -> str:
    """A valid normalized CPF (never all-equal digits)."""
    while True:
        base = f"{rng.randrange(10**9):09d}"
        if len(set(base)) > 1:
            return base + cpf_check_digits(base)


def generate_cnpj(rng: random.Random, alphanumeric: bool = False) -> str:
    """A valid normalized CNPJ. Most are a head office (branch '0001'), as in real carteiras.

    With `alphanumeric` the root and branch mix letters and digits, with at least one letter.
    """
    alphabet = _CNPJ_ALPHABET if alphanumeric else string.digits
    while True:
        root = "".join(rng.choice(alphabet) for _ in range(8))
        random_branch = "".join(rng.choice(alphabet) for _ in range(4))
        branch = "0001" if rng.random() < 0.8 else random_branch
        base = root + branch
        if alphanumeric and base.isdigit():
            continue
        if len(set(base)) > 1 and branch != "0000":
            return base + cnpj_check_digits(base)


# Pydantic models declare `document: Document` to get the normalized, validated value.
Document = Annotated[str, AfterValidator(validate_document)]
