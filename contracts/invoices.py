"""How an agreement's installments are named for people (pt-BR), one rule for every place that
names them: the negotiation service's PDFs (the term's schedule, each boleto), the portal's
pages and the chatbot. Pure functions, no I/O.

An agreement with an entrada (down payment, always its first invoice) names it "Entrada" and
counts the installments after it: "Entrada", "Parcela 1 de 5", ... "Parcela 5 de 5" (never
"Parcela 2 de 6" for the first one after the entrada). Without an entrada: "Parcela 1 de 3",
and a single payment is the "Parcela única".
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "DOWN_PAYMENT",
    "installment_heading",
    "installment_ordinal",
    "installments_count",
    "regular_number",
]

DOWN_PAYMENT = "down_payment"  # an installment's kind when it is the entrada


def _has_entrada(kinds: Sequence[str]) -> bool:
    return DOWN_PAYMENT in kinds


def regular_number(kind: str, number: int, kinds: Sequence[str]) -> int | None:
    """The installment's place among those after the entrada (1, 2, ...); None for the
    entrada itself. `number` is its number in the agreement (the entrada is number 1),
    `kinds` every installment's kind."""
    if kind == DOWN_PAYMENT:
        return None
    return number - (1 if _has_entrada(kinds) else 0)


def installment_ordinal(kind: str, number: int, kinds: Sequence[str]) -> str:
    """A schedule's row: 'Entrada', '1ª', '2ª'... (without an entrada: '1ª', '2ª'...)."""
    regular = regular_number(kind, number, kinds)
    return "Entrada" if regular is None else f"{regular}ª"


def installment_heading(kind: str, number: int, kinds: Sequence[str]) -> str:
    """An installment named on its own: 'Entrada', 'Parcela 1 de 5' (the installments after
    the entrada), 'Parcela única' (one payment, no entrada)."""
    regular = regular_number(kind, number, kinds)
    if regular is None:
        return "Entrada"
    count = sum(1 for k in kinds if k != DOWN_PAYMENT)
    if count == 1 and not _has_entrada(kinds):
        return "Parcela única"
    return f"Parcela {regular} de {count}"


def installments_count(kinds: Sequence[str]) -> str:
    """How many payments a plan has: 'À vista', '3 parcelas', 'Entrada + 5 parcelas'."""
    if len(kinds) <= 1:
        return "À vista"
    if _has_entrada(kinds):
        rest = len(kinds) - 1
        return f"Entrada + {rest} parcela{'s' if rest != 1 else ''}"
    return f"{len(kinds)} parcelas"
