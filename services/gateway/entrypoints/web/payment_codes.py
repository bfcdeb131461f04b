"""The PIX code of what is left on an invoice once part of it was paid.

The negotiation service issues each invoice's BR Code once, when the agreement closes, for the
installment's amount (field 54) and with the invoice's txid (field 62/05), by which the payment
is matched to the invoice. After a partial payment the pages show the same code for the balance:
field 54 rewritten and the CRC (field 63) computed again, everything else, the txid included,
as issued. The boleto is not rewritten: it is registered at the bank with its amount."""

from __future__ import annotations

import binascii

AMOUNT = "54"
CRC = "63"


def _fields(code: str) -> list[tuple[str, str]]:
    """The code's top-level EMV fields in order; ValueError when it is not a TLV text."""
    fields: list[tuple[str, str]] = []
    position = 0
    while position < len(code):
        header = code[position : position + 4]
        if len(header) < 4 or not header.isdigit():
            raise ValueError(f"malformed EMV field at {position}")
        length = int(header[2:])
        value = code[position + 4 : position + 4 + length]
        if len(value) != length:
            raise ValueError(f"EMV field {header[:2]} truncated at {position}")
        fields.append((header[:2], value))
        position += 4 + length
    return fields


def _crc16(payload: str) -> str:
    """CRC16/CCITT-FALSE, as the BR Code's field 63 holds it."""
    return f"{binascii.crc_hqx(payload.encode('utf-8'), 0xFFFF):04X}"


def pix_for_balance(code: str, balance_cents: int) -> str:
    """`code` asking for `balance_cents` instead of its amount; the code unchanged when it has
    no amount field or cannot be read (the page then shows it as issued)."""
    try:
        fields = _fields(code)
    except ValueError:
        return code
    if balance_cents <= 0 or not any(field_id == AMOUNT for field_id, _ in fields):
        return code
    amount = f"{balance_cents // 100}.{balance_cents % 100:02d}"
    payload = "".join(
        f"{field_id}{len(value):02d}{value}"
        for field_id, value in (
            (field_id, amount if field_id == AMOUNT else value)
            for field_id, value in fields
            if field_id != CRC
        )
    )
    payload += f"{CRC}04"
    return payload + _crc16(payload)
