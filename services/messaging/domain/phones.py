"""Phone numbers as providers want them (E.164)."""

from __future__ import annotations


def e164(phone: str | None) -> str | None:
    """A Brazilian phone as providers want it: +55, area code and number (10 or 11 digits
    as carteiras bring them; numbers already with the country code are kept)."""
    if not phone:
        return None
    digits = "".join(c for c in phone if c.isdigit())
    if len(digits) in (10, 11):
        return f"+55{digits}"
    if len(digits) in (12, 13) and digits.startswith("55"):
        return f"+{digits}"
    return None


def sender_address(raw: str | None) -> str | None:
    """Who wrote on WhatsApp: a Brazilian number as `e164` reads it, or any other country's
    number with its code (up to 15 digits)."""
    digits = "".join(c for c in (raw or "") if c.isdigit())
    return e164(digits) or (f"+{digits}" if 12 <= len(digits) <= 15 else None)
