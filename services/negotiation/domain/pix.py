"""PIX "copia e cola": the BR Code text of a single invoice (EMV QR Code MPM).

Follows Banco Central's "Manual de Padrões para Iniciação do Pix". Pure functions, no I/O.
Every field is ID(2) + length(2, zero-padded) + value; the last one, 63, is the CRC16 of the
whole text up to and including its own "6304" header.
"""

from __future__ import annotations

import binascii
import hashlib
import re
import unicodedata
import uuid

__all__ = [
    "MAX_AMOUNT_CENTS",
    "crc16",
    "format_amount",
    "parse_emv",
    "pix_code",
    "txid_for",
]

PIX_GUI = "br.gov.bcb.pix"
MAX_AMOUNT_CENTS = 999_999_999_999  # field 54 holds at most 13 characters: "9999999999.99"
MAX_NAME_LEN = 25
MAX_CITY_LEN = 15
MAX_TXID_LEN = 25

_TXID = re.compile(r"[A-Za-z0-9]{1,25}")
# A key (CPF, CNPJ, e-mail, +55 phone or random EVP) is printable ASCII with no spaces.
_KEY = re.compile(r"[!-~]+")
_CRC_FIELD_HEADER = "6304"


def crc16(payload: str) -> str:
    """CRC16/CCITT-FALSE (poly 0x1021, init 0xFFFF) of `payload` as 4 uppercase hex digits."""
    # binascii.crc_hqx is exactly this CRC (no reflection, no xor-out) once seeded with 0xFFFF.
    return f"{binascii.crc_hqx(payload.encode('utf-8'), 0xFFFF):04X}"


def _field(field_id: str, value: str) -> str:
    if len(value) > 99:
        raise ValueError(f"EMV field {field_id} holds at most 99 characters, got {len(value)}")
    return f"{field_id}{len(value):02d}{value}"


def format_amount(amount_cents: int) -> str:
    """Field 54: "1234.56", dot as decimal separator and no thousands separator."""
    if not 1 <= amount_cents <= MAX_AMOUNT_CENTS:
        raise ValueError(f"amount_cents must be 1..{MAX_AMOUNT_CENTS}, got {amount_cents}")
    return f"{amount_cents // 100}.{amount_cents % 100:02d}"


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
    payload += _CRC_FIELD_HEADER
    return payload + crc16(payload)


def parse_emv(code: str) -> dict[str, str]:
    """Top-level TLV fields of an EMV code, by ID; nested templates (26, 62) stay as text.

    Raises ValueError on a malformed code (bad length, truncated value, repeated ID). Does not
    check the CRC.
    """
    fields: dict[str, str] = {}
    position = 0
    while position < len(code):
        header = code[position : position + 4]
        if len(header) < 4 or not header.isascii() or not header.isdigit():
            raise ValueError(f"malformed EMV field header {header!r} at position {position}")
        field_id, length = header[:2], int(header[2:])
        value = code[position + 4 : position + 4 + length]
        if len(value) != length:
            raise ValueError(f"EMV field {field_id} is truncated at position {position}")
        if field_id in fields:
            raise ValueError(f"EMV field {field_id} appears twice")
        fields[field_id] = value
        position += 4 + length
    return fields
