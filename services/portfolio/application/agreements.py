"""Use case: the outcomes of agreements (from the negotiation service) on the debts they
hold. A fulfilled agreement settles its debts; a broken one returns them to collection with
what was paid deducted."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence

from eventsourcing.application import AggregateNotFoundError

from contracts.envelope import Envelope
from contracts.negotiation import AgreementBroken, AgreementFulfilled
from services.portfolio.application.importing import PortfolioApplication
from services.portfolio.domain.debt import Debt


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
    """Apply broken and fulfilled agreements to the debts; returns how many debts changed.
    Redelivered events change nothing."""
    changed = 0
    for event in events:
        if not isinstance(event, AgreementBroken | AgreementFulfilled):
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


def _apply(app: PortfolioApplication, event: AgreementBroken | AgreementFulfilled) -> int:
    changed: list[Debt] = []
    if isinstance(event, AgreementBroken):
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
