"""PIX "copia e cola": the BR Code text of a single invoice (EMV QR Code MPM).

Follows Banco Central's "Manual de Padrões para Iniciação do Pix". Pure functions, no I/O.
The BR Code's own rules (TLV fields, the CRC16 of field 63, the amount's format) are
`contracts.brcode`'s, shared with the pages that show a code again for a balance; `crc16`,
`format_amount` and `parse_emv` are re-exported from there. This module adds what issuing a
code needs: the tenant's key, the folded merchant fields and the invoice's txid.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import uuid
from dataclasses import dataclass

from contracts.brcode import MAX_AMOUNT_CENTS, crc16, format_amount, parse_emv, with_crc
from contracts.brcode import emv_field as _field
from contracts.documents import InvalidDocument, validate_document

__all__ = [
    "MAX_AMOUNT_CENTS",
    "PixKeyProblem",
    "crc16",
    "format_amount",
    "parse_emv",
    "pix_code",
    "pix_key_problem",
    "txid_for",
]

PIX_GUI = "br.gov.bcb.pix"
MAX_NAME_LEN = 25
MAX_CITY_LEN = 15
MAX_TXID_LEN = 25

_TXID = re.compile(r"[A-Za-z0-9]{1,25}")
# A key (CPF, CNPJ, e-mail, +55 phone or random EVP) is printable ASCII with no spaces.
_KEY = re.compile(r"[!-~]+")

# The kinds of key the DICT (Banco Central's key directory) registers, as it writes them.
MAX_KEY_LEN = 77
_PHONE_KEY = re.compile(r"\+55[1-9]{2}[0-9]{8,9}")
_EMAIL_KEY = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")
_EVP_KEY = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
_DOCUMENT_KEY = re.compile(r"[0-9]{11}|[0-9A-Z]{12}[0-9]{2}")
KEY_KINDS = "CPF, CNPJ, e-mail, telefone (+55, DDD e número) ou chave aleatória"


def _fold(text: str, max_len: int, what: str) -> str:
    # Banking apps choke on non-ASCII: drop accents ("São" -> "SAO"), then anything else
    # outside printable ASCII, collapse whitespace and cut to the field's maximum.
    decomposed = unicodedata.normalize("NFKD", text)
    ascii_only = "".join(char for char in decomposed if " " <= char <= "~" or char.isspace())
    folded = " ".join(ascii_only.upper().split())[:max_len].rstrip()
    if not folded:
        raise ValueError(f"{what} has no printable characters left after folding: {text!r}")
    return folded


def _validate_txid(txid: str) -> str:
    if not _TXID.fullmatch(txid):
        raise ValueError(
            f"txid must be 1..{MAX_TXID_LEN} characters among A-Z, a-z and 0-9, got {txid!r}"
        )
    return txid


_BASE36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def txid_for(invoice_id: str) -> str:
    """A deterministic 25-character alphanumeric txid for an invoice.

    A UUID invoice id is written in base 36, zero-padded: 36**25 > 2**128, so all 128 bits fit
    and two invoices never share a txid (a hex prefix would drop bits, and sequential UUIDs
    would collide). Any other id gives the first 25 hex digits of its SHA-256, uppercase.
    """
    if not invoice_id:
        raise ValueError("invoice_id must not be empty")
    try:
        number = uuid.UUID(invoice_id).int
    except ValueError:
        return hashlib.sha256(invoice_id.encode("utf-8")).hexdigest().upper()[:MAX_TXID_LEN]
    chars = []
    for _ in range(MAX_TXID_LEN):
        number, digit = divmod(number, 36)
        chars.append(_BASE36[digit])
    return "".join(reversed(chars))


@dataclass(frozen=True)
class PixKeyProblem:
    """Why a PIX key cannot be the tenant's: `rule` for programs ("format", or a CPF/CNPJ's
    own rule such as "check_digit"), `message` in pt-BR."""

    rule: str
    message: str


def pix_key_problem(key: str) -> PixKeyProblem | None:
    """None when `key` is a PIX key as the DICT writes it, by its kind: a CPF (11 digits) or
    a CNPJ (14 characters) with valid check digits, an e-mail, a phone in E.164 (+55, area
    code and number) or a random key (EVP, a UUID). The key goes into every PIX code as it
    is, so a CPF or CNPJ with dots and dashes is refused rather than rewritten."""
    if len(key) > MAX_KEY_LEN or not _KEY.fullmatch(key):
        return PixKeyProblem(
            "format", f"chave PIX inválida: sem espaços, até {MAX_KEY_LEN} caracteres; {KEY_KINDS}"
        )
    if key.startswith("+"):
        if _PHONE_KEY.fullmatch(key):
            return None
        return PixKeyProblem(
            "format", "chave PIX de telefone: +55, o DDD e o número, como +5511987654321"
        )
    if "@" in key:
        if _EMAIL_KEY.fullmatch(key):
            return None
        return PixKeyProblem("format", "chave PIX de e-mail inválida: use como nome@exemplo.com.br")
    if _EVP_KEY.fullmatch(key):
        return None
    if _DOCUMENT_KEY.fullmatch(key):
        try:
            validate_document(key)
        except InvalidDocument as exc:
            # 11 digits with a 9 after the area code may be a mobile phone typed without +55.
            phone = len(key) == 11 and _PHONE_KEY.fullmatch(f"+55{key}") and key[2] == "9"
            hint = f" (um telefone vai com +55: +55{key})" if phone else ""
            return PixKeyProblem(exc.rule, f"chave PIX: {exc.reason}{hint}")
        return None
    if _formatted_document(key):
        return PixKeyProblem(
            "format", "chave PIX de CPF ou CNPJ: só os dígitos, sem pontos, traço ou barra"
        )
    return PixKeyProblem("format", f"chave PIX inválida: use {KEY_KINDS}")


def _formatted_document(key: str) -> bool:
    """A CPF or CNPJ written with dots, dashes or a slash."""
    stripped = re.sub(r"[.\-/]", "", key)
    return stripped != key and _DOCUMENT_KEY.fullmatch(stripped.upper()) is not None


def pix_code(
    *, key: str, merchant_name: str, merchant_city: str, amount_cents: int, txid: str
) -> str:
    """The PIX "copia e cola" text paying `amount_cents` to `key`, identified by `txid`."""
    if not _KEY.fullmatch(key):
        raise ValueError(f"PIX key must be printable ASCII without spaces, got {key!r}")
    payload = "".join(
        (
            _field("00", "01"),  # payload format indicator
            # 12 = single use: each invoice has its own amount and txid, so the code must not
            # be paid twice.
            _field("01", "12"),
            _field("26", _field("00", PIX_GUI) + _field("01", key)),
            _field("52", "0000"),  # merchant category code: not informed
            _field("53", "986"),  # ISO 4217 code of the real
            _field("54", format_amount(amount_cents)),
            _field("58", "BR"),
            _field("59", _fold(merchant_name, MAX_NAME_LEN, "merchant_name")),
            _field("60", _fold(merchant_city, MAX_CITY_LEN, "merchant_city")),
            _field("62", _field("05", _validate_txid(txid))),
        )
    )
    return with_crc(payload)
