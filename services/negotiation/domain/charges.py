"""A debt's updated value: principal plus penalty (multa), interest (juros) and correction."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from contracts.documents import document_kind
from contracts.negotiation_requests import CreditorCharges
from services.negotiation.domain.money import half_up, pct_of

# Monthly rates apply pro rata die over a 30-day commercial month.
_DAYS_PER_MONTH = 30

# The multa on a consumer's debt (CDC art. 52 §1): at most 2% of the principal.
CONSUMER_PENALTY_CAP_PCT = Decimal(2)


def for_debtor(charges: CreditorCharges, document: str) -> CreditorCharges:
    """The charges a debtor is charged: a consumer (CPF) never more than the legal multa,
    whatever the settings hold (settings saved before the cap was checked may hold more). A
    company (CNPJ) is charged the settings' rates."""
    if document_kind(document) == "cnpj" or charges.penalty_pct <= CONSUMER_PENALTY_CAP_PCT:
        return charges
    return charges.model_copy(update={"penalty_pct": CONSUMER_PENALTY_CAP_PCT})


@dataclass(frozen=True)
class UpdatedValue:
    principal_cents: int
    penalty_cents: int
    interest_cents: int
    correction_cents: int
    days_overdue: int

    @property
    def charges_cents(self) -> int:
        return self.penalty_cents + self.interest_cents + self.correction_cents

    @property
    def total_cents(self) -> int:
        return self.principal_cents + self.charges_cents


def _pro_rata(principal_cents: int, monthly_pct: Decimal, days: int) -> int:
    # One division at the end keeps the value exact until the single half-up rounding.
    return half_up(Decimal(principal_cents) * monthly_pct * days / (100 * _DAYS_PER_MONTH))


def updated_value(
    principal_cents: int, due_date: dt.date, on: dt.date, charges: CreditorCharges
) -> UpdatedValue:
    """The value of a debt on `on`: simple interest and correction, each part rounded alone
    so every line of the breakdown shown to the debtor adds up to the total."""
    days = max(0, (on - due_date).days)
    # The penalty is due once, from the first day late; nothing is owed on or before the due day.
    penalty = pct_of(principal_cents, charges.penalty_pct) if days > 0 else 0
    return UpdatedValue(
        principal_cents=principal_cents,
        penalty_cents=penalty,
        interest_cents=_pro_rata(principal_cents, charges.interest_monthly_pct, days),
        correction_cents=_pro_rata(principal_cents, charges.correction_monthly_pct, days),
        days_overdue=days,
    )
