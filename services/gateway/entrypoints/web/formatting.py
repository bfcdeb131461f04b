"""How the portal's pages write values for debtors (pt-BR): money, dates, the linha digitável
in its printed groups, statuses. Registered as Jinja filters."""

from __future__ import annotations

import datetime as dt

from contracts.money import format_brl
from contracts.negotiation_requests import Offer

INVOICE_STATUS = {
    "open": "Em aberto",
    "overdue": "Vencida",
    "paid": "Paga",
    "cancelled": "Cancelada",
}
AGREEMENT_STATUS = {"active": "Ativo", "fulfilled": "Cumprido", "broken": "Quebrado"}


def brl(cents: int) -> str:
    return format_brl(cents)


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


def agreement_status(status: str) -> str:
    return AGREEMENT_STATUS.get(status, status)


def offer_plan(offer: Offer) -> str:
    """'À vista: R$ 10.524,19', '3 × R$ 3.620,32', 'Entrada de R$ 500,00 + 5 × R$ 300,00'."""
    schedule = offer.schedule
    if len(schedule) <= 1:
        return f"À vista: {format_brl(offer.total_cents)}"
    first, *rest = (p.amount_cents for p in schedule)
    if all(amount == first for amount in rest):
        return f"{len(schedule)} × {format_brl(first)}"
    label = "Entrada de" if schedule[0].kind == "down_payment" else "1ª parcela de"
    later = rest[0]
    if all(amount == later for amount in rest):
        return f"{label} {format_brl(first)} + {len(rest)} × {format_brl(later)}"
    return f"{len(schedule)} parcelas, a primeira de {format_brl(first)}"


FILTERS = {
    "offer_plan": offer_plan,
    "brl": brl,
    "date_br": date_br,
    "days": days,
    "installments": installments,
    "digitable_line": digitable_line,
    "invoice_status": invoice_status,
    "agreement_status": agreement_status,
}
