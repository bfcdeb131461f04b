"""Money arithmetic in integer centavos: every rounding in the negotiation rules goes here."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

_UNIT = Decimal(1)


def half_up(value: Decimal) -> int:
    """Rounds to the nearest integer, halves away from zero (R$ 0,005 becomes R$ 0,01), the
    rounding debtors and creditors expect, not the banker's rounding Python uses by default."""
    return int(value.quantize(_UNIT, rounding=ROUND_HALF_UP))


def pct_of(cents: int, pct: Decimal) -> int:
    """`pct` percent (12.5 means 12.5%) of `cents`, rounded half-up to the centavo."""
    # Decimal(int) * Decimal with two places / 100 is exact: the only rounding is half_up.
    return half_up(Decimal(cents) * pct / 100)
