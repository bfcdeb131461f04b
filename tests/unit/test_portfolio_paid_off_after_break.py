"""A debt back in collection from a broken agreement, paid off by payments to that agreement's
boleto reported after the break: the portfolio settles it (DebtSettled v1, by the broken
agreement, on the day of the payment that paid it off), and its consumers take it out of
collection as they do a fulfilled agreement's debt. The events here are the portfolio's own,
as it publishes them, read by the ruler, the portal and the timeline."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from contracts.negotiation import AgreementBroken, AgreementClosed, BrokenAgreementDebt
from contracts.portfolio import DebtPaymentDeducted, DebtReopened, DebtSettled
from services.gateway.read_models.portal_view import PortalViewProjection, open_debts
from services.gateway.read_models.timeline import summarize
from services.portfolio.application.agreements import apply_agreement_outcomes
from services.portfolio.application.importing import PortfolioApplication
from tests.unit import test_portal_agreements as portal
from tests.unit.test_portfolio_agreements import envelope, imported, published, shared_payment
from tests.unit.test_projections import VAULT
from tests.unit.test_ruler_app import DUE, Ruler, agreement_fields, debt

CLOSED_ON = DUE + dt.timedelta(days=13)
BROKEN_ON = CLOSED_ON + dt.timedelta(days=12)


def paid_off_through_the_broken_agreement() -> list[Any]:
    """Debt C-d1 (R$ 1.000,00), its agreement a1 broken with nothing paid; the boleto paid
    twice after the break (R$ 600,00 on 20/10, R$ 400,00 on 03/11), each reported late: what
    the portfolio publishes from the break on, named d1 as the consumers' tests name it."""
    app = PortfolioApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    owed = imported(app, "C-d1", 100_000)
    broken = AgreementBroken(
        **envelope("a1", 3),
        agreement_id="a1",
        document="52998224725",
        creditor="Banco Horizonte",
        broken_on=BROKEN_ON,
        rule="first_installment",
        installment_number=1,
        days_overdue=5,
        paid_cents=0,
        debts=[BrokenAgreementDebt(debt_id=str(owed.id), paid_cents=0, balance_cents=100_000)],
    )
    payments = [
        shared_payment(payment_id, (owed, cents)).model_copy(
            update={"agreement_id": "a1", "paid_on": paid_on}
        )
        for payment_id, cents, paid_on in (
            ("p1", 60_000, dt.date(2026, 10, 20)),
            ("p2", 40_000, dt.date(2026, 11, 3)),
        )
    ]
    apply_agreement_outcomes(app, [broken, *payments])
    return [
        e.model_copy(update={"debt_id": "d1"})
        for e in published(app)
        if isinstance(e, DebtReopened | DebtPaymentDeducted | DebtSettled)
    ]


def test_the_portfolio_settles_it_after_the_deduction_that_paid_it_off() -> None:
    events = paid_off_through_the_broken_agreement()
    assert [(type(e).__name__, getattr(e, "balance_cents", None)) for e in events] == [
        ("DebtReopened", 100_000),
        ("DebtPaymentDeducted", 40_000),
        ("DebtPaymentDeducted", 0),
        ("DebtSettled", None),
    ]
    settled = events[-1]
    assert (settled.agreement_id, settled.settled_on, settled.paid_cents) == (
        "a1",
        dt.date(2026, 11, 3),
        100_000,
    )


def test_the_ruler_finalizes_it_as_settled_and_charges_it_no_more(tmp_path: Path) -> None:
    ruler = Ruler(tmp_path)
    ruler.receive(debt("d1"))
    ruler.run(DUE, CLOSED_ON - dt.timedelta(days=1))  # in collection: its aviso on day 3
    ruler.receive(
        AgreementClosed(**agreement_fields(CLOSED_ON), debtor_name="João da Silva"),
        today=CLOSED_ON,
    )
    *before, settled = paid_off_through_the_broken_agreement()
    ruler.receive(*before, today=BROKEN_ON)
    asked = len(ruler.published("MessageRequested"))
    ruler.receive(settled, today=dt.date(2026, 11, 5))
    [left] = [e for e in ruler.published("ReceivableLeftRuler") if e.reason == "settled"]
    assert (left.receivable_id, left.on_date) == ("d1", dt.date(2026, 11, 3))
    told = ruler.published("MessageRequested")[asked:]
    assert [(m.purpose, m.template, m.variables["motivo"]) for m in told] == [
        ("finalization", "quitacao", "quitada")
    ]
    # Its collection does not go on: no stage, no message for it from then on.
    asked = len(ruler.published("MessageRequested"))
    ruler.run(dt.date(2026, 11, 5), dt.date(2026, 12, 31))
    assert not [m for m in ruler.published("MessageRequested")[asked:] if m.receivable_id == "d1"]


def test_the_portal_no_longer_lists_it_and_the_timeline_says_why() -> None:
    engine = sa.create_engine("sqlite://")
    PortalViewProjection(VAULT).create_tables(engine)
    portal.apply(engine, portal.debt("d1"), portal.closed("a1", ["d1"]))
    events = paid_off_through_the_broken_agreement()
    portal.apply(engine, *events)
    portal.apply(engine, *events)  # delivered again
    assert open_debts(engine, portal.AGENCY, portal.JOAO) == []
    with engine.connect() as conn:
        status = conn.execute(sa.text("SELECT status FROM portal_debts")).scalar_one()
    assert status == "settled"
    *_, last_deduction, settled = events
    assert summarize(last_deduction) == (
        "R$ 400,00 pagos em 03/11/2026 ao acordo quebrado abatidos da dívida: "
        "Banco Horizonte, contrato C-d1 parcela 1, saldo R$ 0,00 "
        "(quitada: os pagamentos ao boleto do acordo quebrado cobriram o saldo)"
    )
    assert summarize(settled) == (
        "Dívida quitada: Banco Horizonte, contrato C-d1 parcela 1 (R$ 1.000,00 pagos)"
    )


def paid_off_under_the_agreement() -> list[Any]:
    """Debt C-d1 (R$ 1.000,00) in agreement a1 with charges, broken after R$ 1.000,00 was paid
    under it: the break itself leaves it owing nothing (named d1 as above)."""
    app = PortfolioApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    owed = imported(app, "C-d1", 100_000)
    broken = AgreementBroken(
        **envelope("a1", 3),
        agreement_id="a1",
        document="52998224725",
        creditor="Banco Horizonte",
        broken_on=BROKEN_ON,
        rule="later_installment",
        installment_number=3,
        days_overdue=30,
        paid_cents=100_000,
        debts=[BrokenAgreementDebt(debt_id=str(owed.id), paid_cents=100_000, balance_cents=0)],
    )
    apply_agreement_outcomes(app, [broken])
    return [
        e.model_copy(update={"debt_id": "d1"})
        for e in published(app)
        if isinstance(e, DebtReopened | DebtSettled)
    ]


def test_a_debt_the_break_leaves_owing_nothing_is_not_charged_again(tmp_path: Path) -> None:
    """A helper's finding: reopened with a balance of R$ 0,00, the debt stayed in collection
    (the ruler started its cycle again and asked its stages' messages for R$ 0,00). The
    portfolio settles it right after its reopening, in the same save; the ruler, reading both
    in one batch as it reads a partition, charges it nothing from then on."""
    events = paid_off_under_the_agreement()
    assert [(type(e).__name__, getattr(e, "balance_cents", None)) for e in events] == [
        ("DebtReopened", 0),
        ("DebtSettled", None),
    ]
    assert (events[1].settled_on, events[1].paid_cents) == (BROKEN_ON, 100_000)
    ruler = Ruler(tmp_path)
    ruler.receive(debt("d1"))
    ruler.run(DUE, CLOSED_ON - dt.timedelta(days=1))
    ruler.receive(
        AgreementClosed(**agreement_fields(CLOSED_ON), debtor_name="João da Silva"),
        today=CLOSED_ON,
    )
    asked = len(ruler.published("MessageRequested"))
    ruler.receive(*events, today=BROKEN_ON)
    ruler.run(BROKEN_ON, BROKEN_ON + dt.timedelta(days=60))
    assert not [
        m
        for m in ruler.published("MessageRequested")[asked:]
        if m.receivable_id == "d1" and m.purpose != "finalization"
    ]
    # Back, then paid off, in that order though read in one batch: it leaves settled and the
    # debtor is told (before, the exit was handled first, while it was not back yet: no
    # "quitada" message, and the ruler held it open).
    [left] = [e for e in ruler.published("ReceivableLeftRuler") if e.reason == "settled"]
    assert left.receivable_id == "d1"
    finalizations = [
        m
        for m in ruler.published("MessageRequested")[asked:]
        if m.receivable_id == "d1" and m.purpose == "finalization"
    ]
    assert [m.variables.get("motivo") for m in finalizations] == ["quitada"]
