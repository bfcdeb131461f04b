"""QA pass 8, N2 (what was left): an agreement the creditor ended (a debt withdrawn, or its
amount lowered below what the agreement charged) read "Quebrado" on the portal, as if the
debtor had not paid, and the chat said only that it was no longer in force: negotiation's
agreement answer said `status: broken` and nothing of why.

The answer (`GetAgreement`, `ListAgreements`: request/reply, not an event) now carries
`end_reason`: `debt_withdrawn` or `debt_amount_lowered` (the creditor ended it), `not_paid`
(the debtor's break, rules first_installment and later_installment), `fulfilled`, and null while
the agreement is active. An agreement restored from a snapshot taken before the aggregate kept
the rule finds it in its stored `Broken` event."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from contracts.negotiation_requests import GetAgreement, ListAgreements, end_reason
from services.negotiation.domain.agreement import Agreement
from tests.unit.test_negotiation_app import AGENCY, JOAO, TODAY, Negotiation
from tests.unit.test_negotiation_debt_lowered import LOWERED_ON
from tests.unit.test_negotiation_debt_lowered import Creditor as Lowering


@pytest.fixture
def neg(tmp_path: Path) -> Iterator[Negotiation]:
    n = Negotiation(tmp_path)
    n.portal_discounts()
    yield n


def shown(neg: Negotiation, agreement: Any, today: dt.date = LOWERED_ON) -> Any:
    return neg.app.get_agreement(
        GetAgreement(tenant=AGENCY, agreement_id=agreement.agreement_id), today
    )


def test_an_active_agreement_has_no_end_reason(neg: Negotiation) -> None:
    creditor = Lowering(neg)
    agreement = neg.close([creditor.debt("CT-a", 100_000)], 3)
    assert agreement.end_reason is None
    assert shown(neg, agreement).end_reason is None
    assert "end_reason" in agreement.model_dump()


def test_the_creditor_withdrew_a_debt_the_agreement_ended_by_debt_withdrawn(
    neg: Negotiation,
) -> None:
    creditor = Lowering(neg)
    a, b = creditor.debt("CT-a", 100_000), creditor.debt("CT-b", 50_000)
    agreement = neg.close([a, b], 3)
    assert creditor.negotiation_reads(creditor.cancels(b, LOWERED_ON)) == 1

    answer = shown(neg, agreement)
    assert (answer.status, answer.end_reason) == ("broken", "debt_withdrawn")
    [listed] = neg.app.list_agreements(
        ListAgreements(tenant=AGENCY, document=JOAO), TODAY
    ).agreements
    assert listed.end_reason == "debt_withdrawn"


def test_the_creditor_lowered_a_debt_the_agreement_ended_by_debt_amount_lowered(
    neg: Negotiation,
) -> None:
    creditor = Lowering(neg)
    a = creditor.debt("CT-a", 100_000)
    agreement = neg.close([a], 3)
    assert creditor.negotiation_reads_updates(creditor.sends_amount(a, 60_000)) == 1

    answer = shown(neg, agreement)
    assert (answer.status, answer.end_reason) == ("broken", "debt_amount_lowered")


def test_the_debtor_did_not_pay_the_agreement_ended_by_not_paid(neg: Negotiation) -> None:
    creditor = Lowering(neg)
    agreement = neg.close([creditor.debt("CT-a", 100_000)], 3)
    neg.app.run_day(agreement.invoices[0].due_date + dt.timedelta(days=5))

    answer = shown(neg, agreement)
    assert (answer.status, answer.end_reason) == ("broken", "not_paid")


def test_a_paid_off_agreement_ended_fulfilled(neg: Negotiation) -> None:
    creditor = Lowering(neg)
    agreement = neg.close([creditor.debt("CT-a", 100_000)], 3)
    for invoice in agreement.invoices:
        neg.pay(invoice_id=invoice.invoice_id, amount_cents=invoice.amount_cents, paid_on=TODAY)

    answer = shown(neg, agreement, TODAY)
    assert (answer.status, answer.end_reason) == ("fulfilled", "fulfilled")


def test_an_agreement_restored_from_an_older_snapshot_reads_its_rule_from_its_events(
    neg: Negotiation,
) -> None:
    """A snapshot taken before the aggregate kept the rule restores a broken agreement that
    does not know it: the answer reads it from the stored Broken event, never says the debtor
    broke it by default."""
    creditor = Lowering(neg)
    a = creditor.debt("CT-a", 100_000)
    agreement = neg.close([a], 3)
    assert creditor.negotiation_reads_updates(creditor.sends_amount(a, 60_000)) == 1

    restored: Agreement = neg.app.repository.get(uuid.UUID(agreement.agreement_id))
    del restored.broken_rule  # as a snapshot of before this change restores it
    assert restored.end_rule is None
    answer = neg.app.agreement_out(restored, LOWERED_ON)
    assert answer.end_reason == "debt_amount_lowered"


def test_the_end_reason_of_each_status_and_rule() -> None:
    assert end_reason("active", None) is None
    assert end_reason("fulfilled", None) == "fulfilled"
    assert end_reason("broken", "first_installment") == "not_paid"
    assert end_reason("broken", "later_installment") == "not_paid"
    assert end_reason("broken", "debt_withdrawn") == "debt_withdrawn"
    assert end_reason("broken", "debt_amount_lowered") == "debt_amount_lowered"
    # A break whose rule nobody knows is not called the debtor's.
    assert end_reason("broken", None) is None
