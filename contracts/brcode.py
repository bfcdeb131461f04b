"""BR Code (PIX "copia e cola", EMV QR Code MPM) rules shared by the services that issue and
show PIX codes: the negotiation service builds each invoice's code, the gateway's pages and the
chatbot show it again for the balance after a partial payment. One implementation, so a code
issued by one and rewritten by another always agrees on fields, amount and CRC.

Follows Banco Central's "Manual de Padrões para Iniciação do Pix". Pure functions, no I/O.
Every field is ID(2) + length(2, zero-padded) + value; the last one, 63, is the CRC16 of the
whole text up to and including its own "6304" header.
"""

from __future__ import annotations

import binascii

__all__ = [
    "AMOUNT",
    "CRC",
    "MAX_AMOUNT_CENTS",
    "crc16",
    "emv_field",
    "emv_fields",
    "format_amount",
    "parse_emv",
    "pix_for_balance",
    "with_crc",
]

AMOUNT = "54"  # transaction amount
CRC = "63"  # CRC16 of everything before it, its own header included
MAX_AMOUNT_CENTS = 999_999_999_999  # field 54 holds at most 13 characters: "9999999999.99"
_MAX_VALUE_LEN = 99  # the length is two digits
_CRC_HEADER = f"{CRC}04"


def crc16(payload: str) -> str:
    """CRC16/CCITT-FALSE (poly 0x1021, init 0xFFFF) of `payload` as 4 uppercase hex digits."""
    # binascii.crc_hqx is exactly this CRC (no reflection, no xor-out) once seeded with 0xFFFF.
    return f"{binascii.crc_hqx(payload.encode('utf-8'), 0xFFFF):04X}"


def emv_field(field_id: str, value: str) -> str:
    """One TLV field; ValueError when the value does not fit its two-digit length."""
    if len(value) > _MAX_VALUE_LEN:
        raise ValueError(f"EMV field {field_id} holds at most 99 characters, got {len(value)}")
    return f"{field_id}{len(value):02d}{value}"


def emv_fields(code: str) -> list[tuple[str, str]]:
    """The top-level TLV fields of `code` in order (a repeated ID kept as it comes); nested
    templates (26, 62) stay as text. ValueError on a bad header or a truncated value."""
    fields: list[tuple[str, str]] = []
    position = 0
    while position < len(code):
        header = code[position : position + 4]
        if len(header) < 4 or not header.isascii() or not header.isdigit():
            raise ValueError(f"malformed EMV field header {header!r} at position {position}")
        field_id, length = header[:2], int(header[2:])
        value = code[position + 4 : position + 4 + length]
        if len(value) != length:
            raise ValueError(f"EMV field {field_id} is truncated at position {position}")
        fields.append((field_id, value))
        position += 4 + length
    return fields


def parse_emv(code: str) -> dict[str, str]:
    """Top-level TLV fields of an EMV code, by ID; nested templates (26, 62) stay as text.

    Raises ValueError on a malformed code (bad length, truncated value, repeated ID). Does not
    check the CRC.
    """
    fields: dict[str, str] = {}
    for field_id, value in emv_fields(code):
        if field_id in fields:
            raise ValueError(f"EMV field {field_id} appears twice")
        fields[field_id] = value
    return fields


def format_amount(amount_cents: int) -> str:
    """Field 54: "1234.56", dot as decimal separator and no thousands separator."""
    if not 1 <= amount_cents <= MAX_AMOUNT_CENTS:
        raise ValueError(f"amount_cents must be 1..{MAX_AMOUNT_CENTS}, got {amount_cents}")
    return f"{amount_cents // 100}.{amount_cents % 100:02d}"


def with_crc(payload: str) -> str:
    """`payload` (every field but 63) closed by field 63: the CRC covers its own header."""
    payload += _CRC_HEADER
    return payload + crc16(payload)


def pix_for_balance(code: str, balance_cents: int) -> str:
    """`code` asking for `balance_cents` instead of its amount.

    An invoice's code is issued once, for the installment's amount (field 54) and with the
    invoice's txid (field 62/05), by which a payment is matched to the invoice. After a partial
    payment the same code is shown for the balance: field 54 rewritten and the CRC computed
    again, everything else, the txid included, as issued. (The boleto cannot be rewritten so:
    it is registered at the bank with its amount.) The code comes back unchanged when it has no
    amount field, cannot be read or the balance cannot be an amount (then it is shown as
    issued).
    """
    try:
        fields = emv_fields(code)
    except ValueError:
        return code
    if not 1 <= balance_cents <= MAX_AMOUNT_CENTS or all(
        field_id != AMOUNT for field_id, _ in fields
    ):
        return code
    amount = format_amount(balance_cents)
    return with_crc(
        "".join(
            emv_field(field_id, amount if field_id == AMOUNT else value)
            for field_id, value in fields
            if field_id != CRC
        )
    )
