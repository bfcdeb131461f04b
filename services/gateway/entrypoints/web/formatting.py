"""How the portal's pages write values for debtors (pt-BR): money, dates, the linha digitável
in its printed groups, statuses, the installments' labels. Registered as Jinja filters.

Money on the pages is `<span class="dinheiro">R$ 1.234,56</span>` (portal.css keeps it on one
line, so a narrow screen never leaves "R$" at the end of a line); `format_brl` itself, used by
CSV, PDF and API texts, is unchanged."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from itertools import groupby
from typing import Any

from markupsafe import Markup

from contracts.invoices import (
    DOWN_PAYMENT,
    installment_heading,
    installment_ordinal,
    installments_count,
    partly_paid,
)
from contracts.money import format_brl
from contracts.negotiation_requests import Offer

INVOICE_STATUS = {
    "open": "Em aberto",
    "overdue": "Vencida",
    "paid": "Paga",
    "cancelled": "Cancelada",
}
AGREEMENT_STATUS = {"active": "Ativo", "fulfilled": "Cumprido", "broken": "Quebrado"}
# An agreement no longer in force, by why it ended (`end_reason`): its label, and the sentence
# its page and the list say under it. The creditor's end is never called the debtor's break
# (QA pass 8, N2); a broken one whose reason is not known is only "Encerrado".
AGREEMENT_ENDED = {
    "not_paid": "Quebrado",
    "debt_withdrawn": "Encerrado pelo credor",
    "debt_amount_lowered": "Encerrado pelo credor",
}
AGREEMENT_END_TEXT = {
    "not_paid": "Quebrado por falta de pagamento",
    "debt_withdrawn": "Encerrado pelo credor: a dívida foi retirada da cobrança",
    "debt_amount_lowered": "Encerrado: o credor reduziu o valor da dívida; as parcelas em aberto "
    "foram canceladas e você pode negociar o novo valor",
}
# A lowered amount that left nothing to pay (the end, or the payments since, settled the debts:
# `owed_cents` 0): nothing to negotiate any more (QA pass 9, D4).
LOWERED_AND_SETTLED = (
    "Encerrado: o credor reduziu o valor da dívida, que ficou quitada com o que você já pagou"
)


def brl(cents: int) -> Markup:
    """Money as the pages show it: one piece that does not wrap (see portal.css)."""
    return Markup('<span class="dinheiro">{}</span>').format(format_brl(cents))


def date_br(value: dt.date | str) -> str:
    day = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
    return day.strftime("%d/%m/%Y")


def days(count: int) -> str:
    return "1 dia" if count == 1 else f"{count} dias"


def installments(count: int) -> str:
    return "À vista" if count == 1 else f"{count} parcelas"


def digitable_line(line: str) -> str:
    """'23790.12345 60000.000003 62031.234090 1 00000000036203' as boletos print it."""
    if len(line) != 47 or not line.isdigit():
        return line
    return (
        f"{line[0:5]}.{line[5:10]} {line[10:15]}.{line[15:21]} "
        f"{line[21:26]}.{line[26:32]} {line[32]} {line[33:]}"
    )


def invoice_status(status: str) -> str:
    return INVOICE_STATUS.get(status, status)


def invoice_situation(item: Any) -> str:
    """An installment's status, and "paga em parte" while part of it is paid: the same words
    in its detail and in the row of the agreement's table."""
    status = str(_field(item, "status"))
    shown = invoice_status(status)
    paid = int(_field(item, "paid_cents"))
    if status == "cancelled":
        # What the debtor paid to it is said, not only "Cancelada" (QA pass 9, D4): part of it
        # before its agreement ended, or the boleto paid after (deducted from the debts).
        after = int(_optional(item, "received_after_end_cents") or 0)
        notes = [
            *([f"pago {format_brl(paid)} antes do cancelamento"] if paid > 0 else []),
            *([f"pagamento de {format_brl(after)} recebido depois"] if after > 0 else []),
        ]
        return f"{shown} ({'; '.join(notes)})" if notes else shown
    if partly_paid(status, int(_field(item, "amount_cents")), paid):
        return f"{shown} · paga em parte"
    return shown


def agreement_status(status: str) -> str:
    return AGREEMENT_STATUS.get(status, status)


def agreement_label(item: Any) -> str:
    """An agreement's label: Ativo, Cumprido, and once it ended otherwise by why: Quebrado
    (the debtor did not pay), Encerrado pelo credor, or Encerrado (why not known)."""
    status = str(_field(item, "status"))
    if status != "broken":
        return agreement_status(status)
    return AGREEMENT_ENDED.get(str(_field(item, "end_reason")), "Encerrado")


def agreement_badge(item: Any) -> str:
    """The label's class: red (broken) only for the debtor's break."""
    status = str(_field(item, "status"))
    if status == "broken" and _field(item, "end_reason") != "not_paid":
        return "ended"
    return status


def agreement_end(item: Any) -> str | None:
    """Why an agreement that is no longer in force ended, said to the debtor (None while it is
    active or paid off, or when it is not known)."""
    if str(_field(item, "status")) != "broken":
        return None
    reason = str(_field(item, "end_reason"))
    if reason == "debt_amount_lowered" and _optional(item, "owed_cents") == 0:
        return LOWERED_AND_SETTLED
    return AGREEMENT_END_TEXT.get(reason)


def agreement_credit(item: Any) -> Markup | None:
    """The debtor's credit from an agreement no longer in force, said where the debtor reads
    it (QA pass 9, D4: R$ 420,00 held and shown nowhere): what was paid beyond what its debts
    owe (a lowered or withdrawn debt's share, a boleto paid after the end). None without."""
    credit = int(_optional(item, "credit_cents") or 0)
    if str(_field(item, "status")) != "broken" or credit <= 0:
        return None
    return Markup(
        "Você tem {} de crédito: o que pagou além do que as dívidas deste acordo devem"
    ).format(brl(credit))


def _field(item: Any, name: str) -> Any:
    """An installment's field, whether a reply model (offers, invoices) or a read model's row."""
    return item[name] if isinstance(item, Mapping) else getattr(item, name)


def _optional(item: Any, name: str) -> Any:
    """A field only some of them have (negotiation's answer, not the portal view's rows)."""
    return item.get(name) if isinstance(item, Mapping) else getattr(item, name, None)


def _kinds(items: Sequence[Any]) -> list[str]:
    return [str(_field(i, "kind")) for i in items]


def installment_label(item: Any, items: Sequence[Any]) -> str:
    """'Entrada' for a plan's down payment, the others counted after it: 'Entrada', '1ª',
    '2ª'... (without an entrada: '1ª', '2ª'...). The rule of contracts.invoices."""
    return installment_ordinal(str(_field(item, "kind")), _field(item, "number"), _kinds(items))


def invoice_heading(item: Any, items: Sequence[Any]) -> str:
    """'Entrada', 'Parcela 1 de 5' (the installments after the entrada), 'Parcela única'."""
    return installment_heading(str(_field(item, "kind")), _field(item, "number"), _kinds(items))


def plan_count(items: Sequence[Any]) -> str:
    """How many payments a plan has: 'À vista', '3 parcelas', 'Entrada + 5 parcelas'."""
    return installments_count(_kinds(items))


def offer_plan(offer: Offer) -> Markup:
    """An option's heading, the whole plan said once: 'À vista: R$ 10.524,19', '3 × R$ 3.620,32',
    'Entrada de R$ 500,00 + 5 × R$ 300,00', and when the first installment absorbs the
    centavos left over, 'Entrada de R$ 143,13 + 1 × R$ 120,04 + 4 × R$ 120,00'."""
    schedule = offer.schedule
    if len(schedule) <= 1:
        return Markup("À vista: {}").format(brl(offer.total_cents))
    parts: list[str] = []
    regular = list(schedule)
    if schedule[0].kind == DOWN_PAYMENT:
        parts.append(f"Entrada de {format_brl(schedule[0].amount_cents)}")
        regular = regular[1:]
    for amount, run in groupby(p.amount_cents for p in regular):
        parts.append(f"{len(list(run))} × {format_brl(amount)}")
    # Each part on one line ("3 × R$ 3.620,32"), the line breaking only between parts.
    return Markup(" + ").join(Markup('<span class="dinheiro">{}</span>').format(p) for p in parts)


FILTERS = {
    "offer_plan": offer_plan,
    "brl": brl,
    "date_br": date_br,
    "days": days,
    "installments": installments,
    "installment_label": installment_label,
    "invoice_heading": invoice_heading,
    "plan_count": plan_count,
    "digitable_line": digitable_line,
    "invoice_status": invoice_status,
    "invoice_situation": invoice_situation,
    "agreement_status": agreement_status,
    "agreement_label": agreement_label,
    "agreement_badge": agreement_badge,
    "agreement_end": agreement_end,
    "agreement_credit": agreement_credit,
}
