"""Which payment conditions a debtor may choose, and what each one costs (the offers)."""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from contracts.negotiation import PaymentConditionTerms
from contracts.negotiation_requests import CreditorCharges
from services.negotiation.domain.charges import UpdatedValue, updated_value
from services.negotiation.domain.money import pct_of
from services.negotiation.domain.schedule import down_payment, due_dates, split_installments

MIXED_CREDITORS_MESSAGE = "dívidas de credores diferentes são negociadas em acordos separados"


@dataclass(frozen=True)
class DebtForOffer:
    debt_id: str
    creditor: str
    contract: str
    installment: str
    principal_cents: int
    due_date: dt.date
    category: str | None = None


@dataclass(frozen=True)
class ConditionChoice:
    condition_id: str
    version: int
    terms: PaymentConditionTerms


@dataclass(frozen=True)
class ScheduledPayment:
    number: int
    kind: Literal["down_payment", "installment"]
    due_date: dt.date
    amount_cents: int


@dataclass(frozen=True)
class OfferQuote:
    condition_id: str
    condition_version: int
    terms: PaymentConditionTerms
    installments: int
    principal_cents: int
    charges_cents: int
    updated_value_cents: int
    principal_discount_cents: int
    charges_discount_cents: int
    discount_cents: int
    total_cents: int
    down_payment_cents: int | None
    schedule: list[ScheduledPayment]
    debts: list[tuple[DebtForOffer, UpdatedValue]]


def creditor_key(name: str) -> str:
    """A creditor's name as a key: case, accents and surrounding or repeated spaces do not
    matter ("Banco São João " is "BANCO SAO JOAO"), as the portfolio keys creditors."""
    decomposed = unicodedata.normalize("NFKD", name)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.split()).casefold()


def _within(value: int, low: int | None, high: int | None) -> bool:
    # Both ends inclusive; None leaves that end open.
    return (low is None or value >= low) and (high is None or value <= high)


def applicable_conditions(
    conditions: Sequence[ConditionChoice],
    creditor: str,
    channel: str,
    principal_cents: int,
    days_overdue: int,
) -> list[ConditionChoice]:
    """The conditions that apply, one per number of installments, sorted by that number."""
    wanted_creditor = creditor_key(creditor)
    best: dict[int, tuple[tuple[bool, str], ConditionChoice]] = {}
    for choice in conditions:
        terms = choice.terms
        own_creditor = creditor_key(terms.creditor)
        if (
            not terms.active
            or channel not in terms.channels
            or own_creditor not in ("", wanted_creditor)
            or not _within(principal_cents, terms.amount_min_cents, terms.amount_max_cents)
            or not _within(days_overdue, terms.days_overdue_min, terms.days_overdue_max)
        ):
            continue
        # A creditor's own condition beats the general one for the same n; then the lowest id,
        # so the same set of conditions always gives the same offers.
        rank = (own_creditor == "", choice.condition_id)
        current = best.get(terms.installments)
        if current is None or rank < current[0]:
            best[terms.installments] = (rank, choice)
    return [best[n][1] for n in sorted(best)]


def quote(
    debts: Sequence[DebtForOffer],
    choice: ConditionChoice,
    on: dt.date,
    charges: CreditorCharges,
) -> OfferQuote | None:
    """What the debts cost under one condition on `on`, or None when the condition cannot be
    offered (an installment below its minimum, or fewer centavos than installments)."""
    if not debts:
        raise ValueError("an offer needs at least one debt")
    terms = choice.terms
    n = terms.installments
    updated = [
        (debt, updated_value(debt.principal_cents, debt.due_date, on, charges)) for debt in debts
    ]
    principal = sum(value.principal_cents for _, value in updated)
    debt_charges = sum(value.charges_cents for _, value in updated)
    # Discounts on the sums, not per debt: one rounding per part, as the offer shows them.
    principal_discount = pct_of(principal, terms.principal_discount_pct)
    charges_discount = pct_of(debt_charges, terms.charges_discount_pct)
    total = (principal - principal_discount) + (debt_charges - charges_discount)
    if total < n:
        return None
    entrada = down_payment(total, n, terms.min_down_payment_pct)
    amounts = split_installments(total, n, entrada)
    regular = amounts[1:] if entrada is not None else amounts
    if any(amount < terms.min_installment_cents for amount in regular):
        return None
    dates = due_dates(on, n, terms.periodicity, terms.every_n_days, terms.days_to_first_due)
    schedule = [
        ScheduledPayment(
            number=number,
            kind="down_payment" if number == 1 and entrada is not None else "installment",
            due_date=due,
            amount_cents=amount,
        )
        for number, (due, amount) in enumerate(zip(dates, amounts, strict=True), start=1)
    ]
    updated_total = principal + debt_charges
    return OfferQuote(
        condition_id=choice.condition_id,
        condition_version=choice.version,
        terms=terms,
        installments=n,
        principal_cents=principal,
        charges_cents=debt_charges,
        updated_value_cents=updated_total,
        principal_discount_cents=principal_discount,
        charges_discount_cents=charges_discount,
        discount_cents=updated_total - total,
        total_cents=total,
        down_payment_cents=entrada,
        schedule=schedule,
        debts=updated,
    )


def offers_for(
    debts: Sequence[DebtForOffer],
    conditions: Sequence[ConditionChoice],
    on: dt.date,
    channel: str,
    charges: CreditorCharges,
) -> list[OfferQuote]:
    """Every offer for the debts (all of one creditor) on `on`, sorted by installments."""
    if not debts:
        raise ValueError("an offer needs at least one debt")
    if len({creditor_key(debt.creditor) for debt in debts}) > 1:
        raise ValueError(MIXED_CREDITORS_MESSAGE)
    principal = sum(debt.principal_cents for debt in debts)
    # The oldest debt decides the overdue band: the agreement settles it too.
    days_overdue = max(max(0, (on - debt.due_date).days) for debt in debts)
    applicable = applicable_conditions(
        conditions, debts[0].creditor, channel, principal, days_overdue
    )
    quotes = [quote(debts, choice, on, charges) for choice in applicable]
    return sorted((q for q in quotes if q is not None), key=lambda q: q.installments)


def suggested_value(quotes: Sequence[OfferQuote]) -> int | None:
    """The total of the offer with the fewest installments (the value shown in blue)."""
    if not quotes:
        return None
    return min(quotes, key=lambda q: q.installments).total_cents
