"""QA pass 7, D2: a creditor cancels a debt that is in an active agreement. The creditor's word
wins over the agreement: negotiation reads the portfolio's `DebtWithdrawn` and ends the
agreement as a break does (`AgreementBroken` v2, rule `debt_withdrawn`): its unpaid invoices
are cancelled (no boleto, no PIX, the ruler stops charging them), what was paid is shared by
principal, the other debts go back to collection owing less, and the withdrawn debt's share is
the debtor's credit. Read twice, it ends the agreement once."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka.structs import ConsumerRecord, TopicPartition

from analytics.facts import FactsCollector
from analytics.indicators import agreements, fpd
from contracts.money import format_brl
from contracts.negotiation import AgreementBroken, AgreementBrokenV2
from contracts.negotiation_requests import GetAgreement, GetOffers
from contracts.portfolio import DEBTS_TOPIC, DebtWithdrawn
from service_runtime.refusal import Refused
from services.gateway.read_models.timeline import Personal, describe
from services.negotiation.adapters.withdrawals import WithdrawalsApplier
from services.portfolio.adapters.integration_events import integration_events
from services.portfolio.application.agreements import apply_agreement_outcomes
from services.portfolio.domain.debt import Debt
from tests.support.stored_events import as_stored_in
from tests.unit.test_negotiation_app import (
    AGENCY,
    JOAO,
    TODAY,
    Collection,
    Negotiation,
    _withheld,
)


class Creditor(Collection):
    """The portfolio as negotiation meets it, and the creditor that withdraws a debt by
    sending its row with situação cancelado; negotiation reads the withdrawals as its consumer
    of `portfolio.debts` does."""

    def __init__(self, neg: Negotiation) -> None:
        super().__init__(neg)
        self.withdrawals: list[DebtWithdrawn] = []

    def cancels(self, debt_id: str, on: dt.date) -> DebtWithdrawn:
        debt: Debt = self.portfolio.repository.get(uuid.UUID(debt_id))
        assert debt.withdraw(
            reason="cancelled", on=on, import_id="imp-2", row_key=debt.contract, cause_id="row-2"
        )
        self.portfolio.save(debt)
        read = self.neg.published()
        self.flow()
        withdrawn = [e for e in self.debt_events() if isinstance(e, DebtWithdrawn)][-1]
        assert len(read) == len(self.neg.published())  # the view alone ends nothing
        return withdrawn

    def debt_events(self) -> list[Any]:
        return [
            event
            for n in self.portfolio.recorder.select_notifications(1, 10_000)
            for _topic, event in integration_events(self.portfolio.mapper.to_domain_event(n))
        ]

    def negotiation_reads(self, *withdrawals: DebtWithdrawn) -> int:
        ended = self.neg.app.debts_withdrawn(list(withdrawals))
        self.flow()
        return ended


@pytest.fixture
def neg(tmp_path: Path) -> Iterator[Negotiation]:
    n = Negotiation(tmp_path)
    n.portal_discounts()
    yield n


def broken(neg: Negotiation) -> list[AgreementBroken]:
    return [e for e in neg.published() if isinstance(e, AgreementBroken)]


def test_the_creditor_cancels_a_debt_of_an_active_agreement_and_the_agreement_ends(
    neg: Negotiation,
) -> None:
    """QA D2: agreement of two debts, the entrada paid; the creditor cancels one debt. Before,
    the agreement stayed active and its installments kept their boleto, PIX and SMS."""
    creditor = Creditor(neg)
    a, b = creditor.debt("CT-a", 100_000), creditor.debt("CT-b", 50_000)
    agreement = neg.close([a, b], 3)
    first, *rest = agreement.invoices
    neg.pay(invoice_id=first.invoice_id, amount_cents=first.amount_cents, paid_on=TODAY)
    cancelled_on = TODAY + dt.timedelta(days=3)

    withdrawal = creditor.cancels(b, cancelled_on)
    assert creditor.negotiation_reads(withdrawal) == 1

    [ended] = broken(neg)
    assert type(ended) is AgreementBrokenV2
    assert (ended.rule, ended.broken_on, ended.withdrawn_debt_ids) == (
        "debt_withdrawn",
        cancelled_on,
        [b],
    )
    # The first unpaid installment, cancelled with it, not yet due.
    assert (ended.installment_number, ended.days_overdue) == (2, 0)
    # What was paid shared by principal as on a break: 2/3 to a, 1/3 to b.
    shares = {d.debt_id: d.paid_cents for d in ended.debts}
    assert ended.paid_cents == first.amount_cents == sum(shares.values())
    assert shares[b] == first.amount_cents // 3
    # b's share is the debtor's credit; a goes back to collection owing less.
    assert ended.credit_cents == shares[b]
    shown = neg.app.get_agreement(
        GetAgreement(tenant=AGENCY, agreement_id=agreement.agreement_id), cancelled_on
    )
    assert (shown.status, shown.credit_cents) == ("broken", shares[b])
    assert [i.status for i in shown.invoices] == ["paid", "cancelled", "cancelled"]
    assert creditor.owed(a) == 100_000 - shares[a]
    assert creditor.owed(b) == 50_000  # withdrawn: nothing deducted, it does not come back
    # Its unpaid invoices' boletos are refused as a broken agreement's are.
    for invoice in rest:
        assert _withheld(neg, invoice)[:2] == (409, "invoice_cancelled")
    # a can be negotiated again, from what it still owes; b cannot.
    offers = neg.app.offers(
        GetOffers(tenant=AGENCY, document=JOAO, debt_ids=[a], channel="portal"), cancelled_on
    )
    assert offers.debts[0].principal_cents == 100_000 - shares[a]
    with pytest.raises(Refused) as refused:
        neg.close([b], 1, key="again")
    # Refused as withdrawn by the creditor, not as "already settled" (the debtor paid nothing).
    assert (refused.value.status, refused.value.code) == (409, "debt_withdrawn")
    rules = [(field, rule) for field, rule, _ in refused.value.details]
    assert rules == [("debt_ids", "withdrawn")]
    assert "retirada da cobrança pelo credor" in refused.value.message


def test_a_withdrawal_read_twice_ends_the_agreement_once_and_no_day_breaks_it_again(
    neg: Negotiation,
) -> None:
    creditor = Creditor(neg)
    a = creditor.debt("CT-a", 100_000)
    agreement = neg.close([a], 3)
    withdrawal = creditor.cancels(a, TODAY)

    assert creditor.negotiation_reads(withdrawal, withdrawal) == 1
    assert creditor.negotiation_reads(withdrawal) == 0
    # Days later the installments are past due: nothing is noted overdue, nothing breaks.
    neg.app.run_day(agreement.invoices[-1].due_date + dt.timedelta(days=40))
    [ended] = broken(neg)
    assert (ended.paid_cents, ended.credit_cents, ended.withdrawn_debt_ids) == (0, 0, [a])
    assert not [e for e in neg.published() if e.type == "InvoiceOverdue"]
    # The portfolio reads it and keeps the withdrawn debt out of collection.
    assert apply_agreement_outcomes(creditor.portfolio, [ended, ended]) == 0


def test_two_debts_of_one_agreement_withdrawn_together_end_it_once_naming_both(
    neg: Negotiation,
) -> None:
    creditor = Creditor(neg)
    a, b, c = (creditor.debt(f"CT-{k}", 60_000) for k in "abc")
    agreement = neg.close([a, b, c], 3)
    first = agreement.invoices[0]
    neg.pay(invoice_id=first.invoice_id, amount_cents=first.amount_cents, paid_on=TODAY)
    first_withdrawal = creditor.cancels(a, TODAY)
    second_withdrawal = creditor.cancels(b, TODAY)

    assert creditor.negotiation_reads(first_withdrawal, second_withdrawal) == 1
    [ended] = broken(neg)
    assert isinstance(ended, AgreementBrokenV2)
    assert ended.withdrawn_debt_ids == [a, b]
    shares = {d.debt_id: d.paid_cents for d in ended.debts}
    assert ended.credit_cents == shares[a] + shares[b]
    assert creditor.owed(c) == 60_000 - shares[c]


def test_a_debt_withdrawn_after_its_agreement_broke_ends_nothing_more(neg: Negotiation) -> None:
    creditor = Creditor(neg)
    a = creditor.debt("CT-a", 100_000)
    agreement = neg.close([a], 3)
    breaking_day = agreement.invoices[0].due_date + dt.timedelta(days=5)
    neg.app.run_day(breaking_day)
    creditor.flow()
    withdrawal = creditor.cancels(a, breaking_day)

    assert creditor.negotiation_reads(withdrawal) == 0
    [ended] = broken(neg)
    assert type(ended) is AgreementBroken and ended.rule == "first_installment"


def test_a_break_stored_before_withdrawals_ended_agreements_is_published_as_it_was(
    neg: Negotiation,
) -> None:
    creditor = Creditor(neg)
    a = creditor.debt("CT-a", 100_000)
    agreement = neg.close([a], 3)
    neg.app.run_day(agreement.invoices[0].due_date + dt.timedelta(days=5))
    [stored] = [
        n
        for n in neg.app.recorder.select_notifications(1, 100_000)
        if n.topic.endswith("Agreement.Broken")
    ]
    # Version 3 added lowered_debts; version 2 withdrawn_debt_ids and credit_cents.
    legacy = as_stored_in(
        as_stored_in(stored, 2, without=("lowered_debts",)),
        1,
        without=("withdrawn_debt_ids", "credit_cents"),
    )

    [(_, published)] = list(neg.mapper(neg.app.mapper.to_domain_event(legacy)))

    assert type(published) is AgreementBroken
    assert published.rule == "first_installment"


def test_the_withdrawals_consumer_reads_only_withdrawals_and_keeps_its_position(
    neg: Negotiation,
) -> None:
    creditor = Creditor(neg)
    a = creditor.debt("CT-a", 100_000)
    neg.close([a], 3)
    creditor.cancels(a, TODAY)
    tp = TopicPartition(DEBTS_TOPIC, 0)
    records = [
        ConsumerRecord(
            topic=DEBTS_TOPIC,
            partition=0,
            offset=offset,
            timestamp=0,
            timestamp_type=0,
            key=a.encode(),
            value=event.model_dump_json().encode(),
            checksum=None,
            serialized_key_size=0,
            serialized_value_size=0,
            headers=[],
        )
        for offset, event in enumerate(creditor.debt_events())
    ]
    applier = WithdrawalsApplier(neg.app, neg.engine)

    applier.apply_records({tp: records})
    applier.apply_records({tp: records})  # read again after a crash

    assert [e.rule for e in broken(neg)] == ["debt_withdrawn"]
    assert applier.stored_positions()[(DEBTS_TOPIC, 0)][0] == len(records)


# ---- what the consumers of AgreementBroken make of it ----------------------------------


def ended_by_withdrawal(neg: Negotiation, paid: bool) -> tuple[Creditor, list[str], Any]:
    creditor = Creditor(neg)
    a, b = creditor.debt("CT-a", 100_000), creditor.debt("CT-b", 50_000)
    agreement = neg.close([a, b], 3)
    first = agreement.invoices[0]
    if paid:
        neg.pay(invoice_id=first.invoice_id, amount_cents=first.amount_cents, paid_on=TODAY)
    creditor.negotiation_reads(creditor.cancels(b, TODAY + dt.timedelta(days=3)))
    return creditor, [a, b], agreement


def test_the_timeline_never_says_the_withdrawn_debt_comes_back(neg: Negotiation) -> None:
    """QA D8: the break's line said "nada foi pago, as dívidas voltam à cobrança" of an
    agreement whose only debt the creditor withdrew."""
    ended_by_withdrawal(neg, paid=True)
    [ended] = broken(neg)
    shares = {d.debt_id: d.paid_cents for d in ended.debts}
    a, b = ended.debts[0].debt_id, ended.debts[1].debt_id
    assert describe(ended, Personal(redact=True)) == (
        "Acordo encerrado: o credor retirou a dívida do acordo; as parcelas em aberto foram "
        f"canceladas; {format_brl(shares[a])} pagos são abatidos da outra dívida, que volta à "
        f"cobrança; {format_brl(shares[b])} ficam como crédito do devedor"
    )


def test_the_timeline_of_an_agreement_whose_only_debt_was_withdrawn(neg: Negotiation) -> None:
    creditor = Creditor(neg)
    a = creditor.debt("CT-a", 100_000)
    neg.close([a], 3)
    creditor.negotiation_reads(creditor.cancels(a, TODAY))
    [ended] = broken(neg)
    assert describe(ended, Personal(redact=True)) == (
        "Acordo encerrado: o credor retirou a dívida do acordo; as parcelas em aberto foram "
        "canceladas"
    )


def test_analytics_count_no_debtors_break_and_no_first_payment_default(neg: Negotiation) -> None:
    """Ended by the creditor, not by the debtor: not in the break rate, and not an FPD when
    it ended before the first installment's time was over."""
    _, _, agreement = ended_by_withdrawal(neg, paid=False)
    collector = FactsCollector()
    collector.add_all(neg.published())
    facts = collector.facts()
    later = agreement.invoices[-1].due_date + dt.timedelta(days=60)

    [row] = agreements(facts, as_of=later)
    assert (row.agreements, row.broken) == (1, 0)
    [first] = fpd(facts, k=5, as_of=later)
    assert (first.agreements, first.defaulted) == (0, 0)
