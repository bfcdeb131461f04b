"""QA pass 9, D2 and D8: a payment to a cancelled boleto of an agreement whose debt the
creditor lowered was deducted from that debt beyond what it still owed, and the excess was
credited to nobody (Pedro's BHS-01499627/1, lowered to R$ 2.000,00 and owing R$ 664,80: the
whole share of R$ 1.335,20 taken off, R$ 670,40 lost; Cauã's debt lowered again after the end,
R$ 224,48 lost). The agreement capped each share at its principal less what was paid, never
at the creditor's new amount.

Now a late payment is deducted from each debt up to what it still owes at the creditor's
newest amount (the break's balance, a lowered debt's from its new amount, and what the debts'
view says it owes now), and the rest is the debtor's credit, as any payment beyond what is
owed. The payment's reason says "acordo encerrado pelo credor" when the creditor ended it
(withdrawn or lowered), "acordo quebrado" only for the debtor's break."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from contracts.money import format_brl
from contracts.negotiation_requests import GetAgreement
from tests.unit.test_negotiation_app import AGENCY, TODAY, Negotiation
from tests.unit.test_negotiation_debt_lowered import LOWERED_ON, Creditor, broken


@pytest.fixture
def neg(tmp_path: Path) -> Iterator[Negotiation]:
    n = Negotiation(tmp_path)
    n.portal_discounts()
    yield n


def shared_payments(neg: Negotiation) -> list[dict[str, tuple[int, int]]]:
    return [
        {d.debt_id: (d.deducted_cents, d.credit_cents) for d in e.debts}
        for e in neg.published()
        if e.type == "AgreementPaymentShared"
    ]


def test_pedro_pays_the_cancelled_boleto_after_the_lowering_and_the_excess_is_his_credit(
    neg: Negotiation,
) -> None:
    """Two debts, parcela 1 paid; the creditor lowers a to a little more than its share of
    what was paid, so a owes R$ 100,00. Parcela 2, cancelled, is paid in full later: a's share
    of it pays R$ 100,00 and the rest of that share is credit; b's share is all deducted."""
    creditor = Creditor(neg)
    a, b = creditor.debt("BHS-01499627", 300_000), creditor.debt("BHS-01499628", 300_000)
    agreement = neg.close([a, b], 3)
    first, second, _third = agreement.invoices
    neg.pay(invoice_id=first.invoice_id, amount_cents=first.amount_cents, paid_on=TODAY)
    share_a = first.amount_cents // 2
    assert creditor.negotiation_reads_updates(creditor.sends_amount(a, share_a + 10_000)) == 1
    assert creditor.owed(a) == 10_000

    payment = neg.pay(
        LOWERED_ON,
        invoice_id=second.invoice_id,
        amount_cents=second.amount_cents,
        paid_on=LOWERED_ON,
    )
    creditor.flow()

    [shared] = shared_payments(neg)
    share_b = shared[b][0]
    assert shared[a] == (10_000, second.amount_cents - share_b - 10_000)
    assert shared[b] == (share_b, 0)
    credit = second.amount_cents - share_b - 10_000
    assert (payment.outcome, payment.applied_cents, payment.credit_cents) == (
        "excess",
        0,
        credit,
    )
    assert payment.reason == (
        f"acordo encerrado pelo credor: {format_brl(share_b + 10_000)} abatidos das dívidas "
        f"que voltaram à cobrança; {format_brl(credit)} ficam como crédito do devedor"
    )
    # a is paid off at the creditor's figure, not beyond it; b owes less by its share.
    assert creditor.settled(a) and creditor.owed(a) == 0
    assert creditor.owed(b) == 300_000 - (first.amount_cents - share_a) - share_b
    shown = neg.app.get_agreement(
        GetAgreement(tenant=AGENCY, agreement_id=agreement.agreement_id), LOWERED_ON
    )
    assert shown.credit_cents == credit


def test_caua_the_debt_lowered_again_after_the_end_is_deducted_at_its_newest_amount(
    neg: Negotiation,
) -> None:
    """One debt lowered, the agreement ended with nothing paid; parcela 1 paid late, deducted;
    the creditor lowers it again, so it owes R$ 37,75; parcela 2 paid late: R$ 37,75 deducted,
    the rest credit."""
    creditor = Creditor(neg)
    a = creditor.debt("BHS-01543280", 75_416)
    agreement = neg.close([a], 3)
    first, second, _third = agreement.invoices
    assert creditor.negotiation_reads_updates(creditor.sends_amount(a, 70_000)) == 1
    neg.pay(
        LOWERED_ON,
        invoice_id=first.invoice_id,
        amount_cents=first.amount_cents,
        paid_on=LOWERED_ON,
    )
    creditor.flow()
    assert creditor.owed(a) == 70_000 - first.amount_cents
    lowered_again = creditor.sends_amount(a, first.amount_cents + 3_775, "imp-3")
    assert creditor.negotiation_reads_updates(lowered_again) == 0  # no agreement holds it
    assert creditor.owed(a) == 3_775

    payment = neg.pay(
        LOWERED_ON,
        invoice_id=second.invoice_id,
        amount_cents=second.amount_cents,
        paid_on=LOWERED_ON,
    )
    creditor.flow()

    assert shared_payments(neg)[-1] == {a: (3_775, second.amount_cents - 3_775)}
    assert payment.credit_cents == second.amount_cents - 3_775
    assert creditor.settled(a) and creditor.owed(a) == 0
    shown = neg.app.get_agreement(
        GetAgreement(tenant=AGENCY, agreement_id=agreement.agreement_id), LOWERED_ON
    )
    assert shown.credit_cents == second.amount_cents - 3_775


def test_a_debtors_break_then_a_lowering_the_payment_still_stops_at_what_is_owed(
    neg: Negotiation,
) -> None:
    """The debtor broke the agreement (not paid); the creditor lowers the debt afterwards
    below the boleto: the late payment pays it off and the rest is credit, reasoned as the
    debtor's break."""
    creditor = Creditor(neg)
    a = creditor.debt("CT-a", 100_000)
    agreement = neg.close([a], 3)
    first = agreement.invoices[0]
    breaking_day = first.due_date + dt.timedelta(days=5)
    neg.app.run_day(breaking_day)
    creditor.flow()
    assert [e.rule for e in broken(neg)] == ["first_installment"]
    creditor.sends_amount(a, 20_000)

    payment = neg.pay(
        breaking_day,
        invoice_id=first.invoice_id,
        amount_cents=first.amount_cents,
        paid_on=breaking_day,
    )
    creditor.flow()

    assert payment.credit_cents == first.amount_cents - 20_000
    assert payment.reason == (
        "acordo quebrado: R$ 200,00 abatidos das dívidas que voltaram à cobrança; "
        f"{format_brl(first.amount_cents - 20_000)} ficam como crédito do devedor"
    )
    assert creditor.settled(a) and creditor.owed(a) == 0


def test_a_payment_after_the_creditor_withdrew_a_debt_is_not_called_a_break(
    neg: Negotiation,
) -> None:
    """QA pass 9, D8: "acordo quebrado" for an agreement the creditor ended."""
    creditor = Creditor(neg)
    a, b = creditor.debt("CT-a", 100_000), creditor.debt("CT-b", 50_000)
    agreement = neg.close([a, b], 3)
    second = agreement.invoices[1]
    assert creditor.negotiation_reads(creditor.cancels(b, LOWERED_ON)) == 1

    payment = neg.pay(
        LOWERED_ON,
        invoice_id=second.invoice_id,
        amount_cents=second.amount_cents,
        paid_on=LOWERED_ON,
    )

    assert payment.reason is not None
    assert payment.reason.startswith("acordo encerrado pelo credor: ")
    assert "quebrado" not in payment.reason
