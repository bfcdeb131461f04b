"""An agreement's invoices as every door shows them, one rule for each: how its installments
are named for people (pt-BR), and when an invoice's boleto may still be handed out. Used by
the negotiation service (its PDFs, the term's schedule, the boletos it refuses), the portal's
pages and API, and the chatbot. Pure functions, no I/O.

An agreement with an entrada (down payment, always its first invoice) names it "Entrada" and
counts the installments after it: "Entrada", "Parcela 1 de 5", ... "Parcela 5 de 5" (never
"Parcela 2 de 6" for the first one after the entrada). Without an entrada: "Parcela 1 de 3",
and a single payment is the "Parcela única".

A boleto is registered at the bank with the installment's whole amount: it pays the invoice
only while nothing of it is paid. A paid invoice's boleto, a cancelled one's (its agreement
broken) and a partly paid one's are withheld (`boleto_withheld`): the PIX of the balance (the
issued code asking for what is left, same txid: `contracts.brcode.pix_for_balance`) pays a
partly paid invoice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from contracts.money import format_brl

__all__ = [
    "DOWN_PAYMENT",
    "PAYABLE_STATUSES",
    "WITHHELD_RULES",
    "BoletoWithheld",
    "boleto_withheld",
    "installment_heading",
    "installment_ordinal",
    "installments_count",
    "partly_paid",
    "plan_kinds",
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


def plan_kinds(installments: int, with_down_payment: bool) -> list[str]:
    """Every installment's kind in a plan of `installments` invoices (the entrada counted),
    from what an invoice's event says of its plan (InstallmentPaid and InvoiceOverdue v2)."""
    if with_down_payment:
        return [DOWN_PAYMENT] + ["installment"] * (installments - 1)
    return ["installment"] * installments


def installments_count(kinds: Sequence[str]) -> str:
    """How many payments a plan has: 'À vista', '3 parcelas', 'Entrada + 5 parcelas'."""
    if len(kinds) <= 1:
        return "À vista"
    if _has_entrada(kinds):
        rest = len(kinds) - 1
        return f"Entrada + {rest} parcela{'s' if rest != 1 else ''}"
    return f"{len(kinds)} parcelas"


# ---- when a boleto pays its invoice ----------------------------------------------------------

PAYABLE_STATUSES = ("open", "overdue")  # an invoice still to pay (else paid or cancelled)
# Why a boleto is withheld: the rules of the API's 409 (field `invoice`).
WITHHELD_RULES = ("paid", "cancelled", "partly_paid")


def partly_paid(status: str, amount_cents: int, paid_cents: int) -> bool:
    """Still to pay, part of it paid."""
    return status in PAYABLE_STATUSES and 0 < paid_cents < amount_cents


@dataclass(frozen=True)
class BoletoWithheld:
    """Why an invoice's boleto is not handed out: the rule (field `invoice`) and its pt-BR
    message, which says how to pay instead."""

    rule: str
    message: str

    @property
    def code(self) -> str:
        """The error's code: invoice_paid, invoice_cancelled, invoice_partly_paid."""
        return f"invoice_{self.rule}"


def boleto_withheld(status: str, amount_cents: int, paid_cents: int) -> BoletoWithheld | None:
    """None when the boleto pays the invoice (still to pay, nothing of it paid); else why not.
    `status` as the negotiation service answers it: open, overdue, paid or cancelled."""
    if status == "paid":
        return BoletoWithheld("paid", "parcela paga: o boleto não serve mais")
    if status not in PAYABLE_STATUSES:
        return BoletoWithheld(
            "cancelled", "parcela cancelada com o fim do acordo: o boleto não serve mais"
        )
    if partly_paid(status, amount_cents, paid_cents):
        return BoletoWithheld(
            "partly_paid",
            f"parcela paga em parte ({format_brl(paid_cents)} de {format_brl(amount_cents)}): "
            "o boleto tem o valor integral e não serve para pagar só o saldo; pague os "
            f"{format_brl(amount_cents - paid_cents)} que faltam com o PIX da parcela",
        )
    return None
