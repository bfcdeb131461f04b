"""Use case: the outcomes of agreements (from the negotiation service) on the debts they
hold. A fulfilled agreement settles its debts; a broken one returns them to collection with
what was paid deducted, and a payment to one of its cancelled invoices reported later is
deducted from them too (`AgreementPaymentShared`), settling a debt it pays off."""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Sequence

from eventsourcing.application import AggregateNotFoundError

from contracts.envelope import Envelope
from contracts.negotiation import AgreementBroken, AgreementFulfilled, AgreementPaymentShared
from services.portfolio.application.importing import PortfolioApplication
from services.portfolio.domain.debt import Debt

log = logging.getLogger(__name__)

_Outcome = AgreementBroken | AgreementFulfilled | AgreementPaymentShared


def share_by_principal(principals: Sequence[int], amount: int) -> list[int]:
    """Split `amount` in proportion to the principals; the shares add up exactly (largest
    remainders get the odd centavos)."""
    total = sum(principals)
    if total == 0:
        return [0] * len(principals)
    exact = [amount * p for p in principals]
    shares = [e // total for e in exact]
    order = sorted(range(len(principals)), key=lambda i: (-(exact[i] % total), i))
    for i in order[: amount - sum(shares)]:
        shares[i] += 1
    return shares


def apply_agreement_outcomes(app: PortfolioApplication, events: Sequence[Envelope]) -> int:
    """Apply broken and fulfilled agreements, and payments to broken ones, to the debts;
    returns how many debts changed. Redelivered events change nothing."""
    changed = 0
    for event in events:
        if not isinstance(event, _Outcome):
            continue
        changed += app.retrying(functools.partial(_apply, app, event))
    return changed


def _debts(app: PortfolioApplication, ids: Sequence[str]) -> list[Debt]:
    debts = []
    for debt_id in ids:
        try:
            debt: Debt = app.repository.get(uuid.UUID(debt_id))
        except (AggregateNotFoundError, ValueError):
            continue
        assert isinstance(debt, Debt)
        debts.append(debt)
    return debts


def _apply(app: PortfolioApplication, event: _Outcome) -> int:
    changed: list[Debt] = []
    if isinstance(event, AgreementPaymentShared):
        deducted = {d.debt_id: d.deducted_cents for d in event.debts if d.deducted_cents > 0}
        for debt in _debts(app, list(deducted)):
            if debt.deduct_payment(
                agreement_id=event.agreement_id,
                payment_id=event.payment_id,
                paid_on=event.paid_on,
                deducted_cents=deducted[str(debt.id)],
                cause_id=str(event.event_id),
            ):
                changed.append(debt)
            elif event.payment_id not in getattr(debt, "deducted_payments", ()):
                # Negotiation saw it back in collection; here it is not (settled or withdrawn
                # meanwhile): the share is the debtor's credit, said here for the operators.
                log.warning(
                    "payment %s of broken agreement %s: %d centavos not deducted from debt %s "
                    "(settled, withdrawn or not reopened by it): the debtor's credit",
                    event.payment_id,
                    event.agreement_id,
                    deducted[str(debt.id)],
                    debt.id,
                )
    elif isinstance(event, AgreementBroken):
        paid = {d.debt_id: d.paid_cents for d in event.debts}
        for debt in _debts(app, list(paid)):
            if debt.reopen(
                agreement_id=event.agreement_id,
                on=event.broken_on,
                paid_cents=paid[str(debt.id)],
                cause_id=str(event.event_id),
            ):
                changed.append(debt)
    else:
        debts = _debts(app, event.debt_ids)
        shares = share_by_principal(
            [max(0, d.original_amount_cents - d.paid_cents) for d in debts], event.paid_cents
        )
        for debt, share in zip(debts, shares, strict=True):
            if debt.settle(
                agreement_id=event.agreement_id,
                on=event.fulfilled_on,
                paid_cents=share,
                cause_id=str(event.event_id),
            ):
                changed.append(debt)
    if changed:
        app.save(*changed)
    return len(changed)
