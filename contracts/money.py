"""Money is integer centavos everywhere; this is how people read it (pt-BR)."""

from __future__ import annotations


def format_brl(cents: int) -> str:
    """1234567 -> 'R$ 12.345,67'."""
    sign = "-" if cents < 0 else ""
    reais, centavos = divmod(abs(cents), 100)
    return f"{sign}R$ {reais:,}".replace(",", ".") + f",{centavos:02d}"
