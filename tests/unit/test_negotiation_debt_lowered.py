"""QA pass 8, N2: a creditor's re-import lowers the original amount of a debt that is in an
active agreement (Pedro's BHS-01499627/1 from R$ 3.000,00 to R$ 2.000,00, R$ 2.165,59 already
paid on it through a broken agreement): the agreement stayed active, its boleto of R$ 750,97
handed out, and nothing warned. The debtor would pay more than the creditor says is owed (CDC
art. 42).

Negotiation reads the portfolio's `DebtUpdated` and, when the lowered debt now owes less than
the agreement charges as its principal, ends the agreement as a withdrawal does
(`AgreementBroken` v3, rule `debt_amount_lowered`): its unpaid invoices are cancelled, what was
paid is shared by principal, every debt goes back to collection owing less (the lowered one
from its new amount, settled when nothing is left) and can be negotiated again on the
creditor's figure. A raised amount, or another field changed, leaves the agreement alone. Read
twice, or after a new agreement on the new figure, it ends nothing more."""

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
from contracts.negotiation import AgreementBroken, AgreementBrokenV3
from contracts.negotiation_requests import GetAgreement, GetOffers
from contracts.portfolio import DEBTS_TOPIC, DebtSettled, DebtUpdatedV2
from services.gateway.read_models.timeline import Personal, describe
from services.negotiation.adapters.withdrawals import WithdrawalsApplier
from services.portfolio.domain.debt import Debt
from tests.support.stored_events import as_stored_in
from tests.unit.test_negotiation_app import AGENCY, JOAO, TODAY, Negotiation, _withheld
from tests.unit.test_negotiation_debt_withdrawn import Creditor as Withdrawing

LOWERED_ON = TODAY + dt.timedelta(days=3)


class Creditor(Withdrawing):
    """The creditor sends a debt's row again with another amount (a re-import: the
    portfolio's `DebtUpdated`); negotiation reads the updates as its consumer of
    `portfolio.debts` does."""

    def sends_amount(self, debt_id: str, amount: int, import_id: str = "imp-2") -> DebtUpdatedV2:
        debt: Debt = self.portfolio.repository.get(uuid.UUID(debt_id))
        old = debt.original_amount_cents
        debt.update(
            changes=[{"field": "original_amount_cents", "old": old, "new": amount}],
            personal=debt.personal,
            import_id=import_id,
            row_key=f"{debt.contract}/1",
            cause_id=f"row-{import_id}",
            data_as_of=None,
        )
        self.portfolio.save(debt)
        read = self.neg.published()
        self.flow()
        update = [e for e in self.debt_events() if isinstance(e, DebtUpdatedV2)][-1]
        assert len(read) == len(self.neg.published())  # the view alone ends nothing
        return update

    def negotiation_reads_updates(self, *updates: DebtUpdatedV2, on: dt.date = LOWERED_ON) -> int:
        ended = self.neg.app.debts_lowered(list(updates), on)
        self.flow()
        return ended

    def settled(self, debt_id: str) -> bool:
        debt: Debt = self.portfolio.repository.get(uuid.UUID(debt_id))
        return debt.settled_by is not None


@pytest.fixture
def neg(tmp_path: Path) -> Iterator[Negotiation]:
    n = Negotiation(tmp_path)
    n.portal_discounts()
    yield n


def broken(neg: Negotiation) -> list[AgreementBroken]:
    return [e for e in neg.published() if isinstance(e, AgreementBroken)]


def test_the_creditor_lowers_a_debt_of_an_active_agreement_and_the_agreement_ends(
    neg: Negotiation,
) -> None:
    creditor = Creditor(neg)
    a, b = creditor.debt("CT-a", 100_000), creditor.debt("CT-b", 50_000)
    agreement = neg.close([a, b], 3)
    first, *rest = agreement.invoices
    neg.pay(invoice_id=first.invoice_id, amount_cents=first.amount_cents, paid_on=TODAY)

    update = creditor.sends_amount(b, 30_000)
    assert creditor.negotiation_reads_updates(update) == 1

    [ended] = broken(neg)
    assert type(ended) is AgreementBrokenV3
    assert (ended.rule, ended.broken_on, ended.withdrawn_debt_ids) == (
        "debt_amount_lowered",
        LOWERED_ON,
        [],
    )
    [lowered] = ended.lowered_debts
    assert (lowered.debt_id, lowered.old_amount_cents, lowered.new_amount_cents) == (
        b,
        50_000,
        30_000,
    )
    assert (lowered.owed_cents, lowered.import_id) == (30_000, "imp-2")
    assert (ended.installment_number, ended.days_overdue) == (2, 0)
    # What was paid shared by principal as on any break: 2/3 to a, 1/3 to b.
    shares = {d.debt_id: d.paid_cents for d in ended.debts}
    assert ended.paid_cents == first.amount_cents == sum(shares.values())
    assert ended.credit_cents == 0  # b's share is less than its new amount
    balances = {d.debt_id: d.balance_cents for d in ended.debts}
    assert balances == {a: 100_000 - shares[a], b: 30_000 - shares[b]}
    shown = neg.app.get_agreement(
        GetAgreement(tenant=AGENCY, agreement_id=agreement.agreement_id), LOWERED_ON
    )
    assert shown.status == "broken"
    assert [i.status for i in shown.invoices] == ["paid", "cancelled", "cancelled"]
    for invoice in rest:
        assert _withheld(neg, invoice)[:2] == (409, "invoice_cancelled")
    # Both back in collection owing less: b from the creditor's new amount.
    assert creditor.owed(a) == 100_000 - shares[a]
    assert creditor.owed(b) == 30_000 - shares[b]
    # And negotiable again, on the creditor's figure.
    offers = neg.app.offers(
        GetOffers(tenant=AGENCY, document=JOAO, debt_ids=[b], channel="portal"), LOWERED_ON
    )
    assert offers.debts[0].principal_cents == 30_000 - shares[b]


def test_a_raised_amount_or_another_field_changed_leaves_the_agreement_alone(
    neg: Negotiation,
) -> None:
    creditor = Creditor(neg)
    a = creditor.debt("CT-a", 100_000)
    agreement = neg.close([a], 3)
    raised = creditor.sends_amount(a, 120_000)
    debt: Debt = creditor.portfolio.repository.get(uuid.UUID(a))
    debt.update(
        changes=[{"field": "due_date", "old": debt.due_date, "new": dt.date(2026, 5, 1)}],
        personal=debt.personal,
        import_id="imp-3",
        row_key="CT-a/1",
        cause_id="row-3",
        data_as_of=None,
    )
    creditor.portfolio.save(debt)
    creditor.flow()
    other = [e for e in creditor.debt_events() if isinstance(e, DebtUpdatedV2)][-1]

    assert creditor.negotiation_reads_updates(raised, other) == 0
    assert broken(neg) == []
    shown = neg.app.get_agreement(
        GetAgreement(tenant=AGENCY, agreement_id=agreement.agreement_id), LOWERED_ON
    )
    assert shown.status == "active"


def test_lowered_below_what_was_paid_the_debt_is_settled_and_the_rest_is_credit(
    neg: Negotiation,
) -> None:
    creditor = Creditor(neg)
    a = creditor.debt("CT-a", 100_000)
    agreement = neg.close([a], 3)
    first = agreement.invoices[0]
    neg.pay(invoice_id=first.invoice_id, amount_cents=first.amount_cents, paid_on=TODAY)
    assert first.amount_cents > 20_000

    assert creditor.negotiation_reads_updates(creditor.sends_amount(a, 20_000)) == 1

    [ended] = broken(neg)
    assert isinstance(ended, AgreementBrokenV3)
    assert ended.credit_cents == first.amount_cents - 20_000
    assert [d.balance_cents for d in ended.debts] == [0]
    assert creditor.settled(a)
    assert creditor.owed(a) <= 0
    assert [e for e in creditor.debt_events() if isinstance(e, DebtSettled)]
    shown = neg.app.get_agreement(
        GetAgreement(tenant=AGENCY, agreement_id=agreement.agreement_id), LOWERED_ON
    )
    assert shown.credit_cents == first.amount_cents - 20_000


def test_the_qa_scenario_paid_through_a_broken_agreement_then_lowered_below_it(
    neg: Negotiation,
) -> None:
    """Pedro: R$ 3.000,00, an agreement broken after paying part of it, a new agreement on
    the balance; the creditor then says less than was already paid."""
    creditor = Creditor(neg)
    a = creditor.debt("BHS-01499627", 300_000)
    earlier = neg.close([a], 3, key="earlier")
    entrada = earlier.invoices[0]
    neg.pay(invoice_id=entrada.invoice_id, amount_cents=entrada.amount_cents, paid_on=TODAY)
    neg.app.run_day(earlier.invoices[1].due_date + dt.timedelta(days=31))
    creditor.flow()
    paid_before = 300_000 - creditor.owed(a)
    assert paid_before > 50_000
    later_day = earlier.invoices[1].due_date + dt.timedelta(days=32)
    now = neg.app.close_agreement(
        neg_close_request([a], 1, "now"),
        later_day,
    )
    creditor.flow()

    assert creditor.negotiation_reads_updates(creditor.sends_amount(a, 50_000), on=later_day) == 1

    ended = broken(neg)[-1]
    assert isinstance(ended, AgreementBrokenV3) and ended.agreement_id == now.agreement_id
    [lowered] = ended.lowered_debts
    assert (lowered.new_amount_cents, lowered.owed_cents) == (50_000, 0)
    assert creditor.settled(a)
    shown = neg.app.get_agreement(
        GetAgreement(tenant=AGENCY, agreement_id=now.agreement_id), later_day
    )
    assert shown.status == "broken"
    assert all(i.status == "cancelled" for i in shown.invoices)


def neg_close_request(debt_ids: list[str], n: int, key: str) -> Any:
    from contracts.negotiation_requests import CloseAgreement

    return CloseAgreement(
        tenant=AGENCY,
        document=JOAO,
        debt_ids=debt_ids,
        installments=n,
        channel="portal",
        idempotency_key=key,
    )


def test_read_twice_or_after_a_new_agreement_on_the_new_figure_it_ends_nothing_more(
    neg: Negotiation,
) -> None:
    creditor = Creditor(neg)
    a = creditor.debt("CT-a", 100_000)
    neg.close([a], 3)
    update = creditor.sends_amount(a, 80_000)

    assert creditor.negotiation_reads_updates(update, update) == 1
    assert creditor.negotiation_reads_updates(update) == 0
    # The debtor negotiates again on R$ 800,00; the old update read again (a replay).
    again = neg.close([a], 3, key="again")
    assert again.debts[0].principal_cents == 80_000
    assert creditor.negotiation_reads_updates(update) == 0
    # The creditor lowers it once more: that ends the new one too.
    assert creditor.negotiation_reads_updates(creditor.sends_amount(a, 70_000, "imp-3")) == 1
    assert [e.agreement_id for e in broken(neg)][-1] == again.agreement_id
    # A small lowering ends it the same: the agreement kept the higher base.
    assert len(broken(neg)) == 2


def test_a_break_stored_before_lowered_amounts_ended_agreements_is_published_as_it_was(
    neg: Negotiation,
) -> None:
    creditor = Creditor(neg)
    a = creditor.debt("CT-a", 100_000)
    neg.close([a], 3)
    creditor.negotiation_reads(creditor.cancels(a, TODAY))
    [stored] = [
        n
        for n in neg.app.recorder.select_notifications(1, 100_000)
        if n.topic.endswith("Agreement.Broken")
    ]
    legacy = as_stored_in(stored, 2, without=("lowered_debts",))

    [(_, published)] = list(neg.mapper(neg.app.mapper.to_domain_event(legacy)))

    assert published.type == "AgreementBroken" and published.schema_version == 2
    assert published.rule == "debt_withdrawn"


def test_the_consumer_reads_the_updates_and_keeps_its_position(neg: Negotiation) -> None:
    creditor = Creditor(neg)
    a = creditor.debt("CT-a", 100_000)
    neg.close([a], 3)
    creditor.sends_amount(a, 90_000)
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
    applier = WithdrawalsApplier(neg.app, neg.engine, lambda: LOWERED_ON)

    applier.apply_records({tp: records})
    applier.apply_records({tp: records})  # read again after a crash

    assert [(e.rule, e.broken_on) for e in broken(neg)] == [("debt_amount_lowered", LOWERED_ON)]
    assert applier.stored_positions()[(DEBTS_TOPIC, 0)][0] == len(records)


# ---- what the consumers of AgreementBroken make of it ----------------------------------


def test_the_timeline_says_the_creditor_lowered_the_debt(neg: Negotiation) -> None:
    creditor = Creditor(neg)
    a, b = creditor.debt("CT-a", 100_000), creditor.debt("CT-b", 50_000)
    agreement = neg.close([a, b], 3)
    first = agreement.invoices[0]
    neg.pay(invoice_id=first.invoice_id, amount_cents=first.amount_cents, paid_on=TODAY)
    creditor.negotiation_reads_updates(creditor.sends_amount(b, 30_000))
    [ended] = broken(neg)
    paid = format_brl(ended.paid_cents)
    assert describe(ended, Personal(redact=True)) == (
        "Acordo encerrado: o credor reduziu o valor da dívida (contrato CT-b parcela 1, de "
        "R$ 500,00 para R$ 300,00); as parcelas em aberto foram canceladas; "
        f"{paid} pagos são abatidos das dívidas, que voltam à cobrança, a reduzida pelo novo "
        "valor"
    )


def test_the_timeline_when_nothing_was_paid_or_more_than_the_new_amount(
    neg: Negotiation,
) -> None:
    creditor = Creditor(neg)
    a = creditor.debt("CT-a", 100_000)
    agreement = neg.close([a], 3)
    creditor.negotiation_reads_updates(creditor.sends_amount(a, 80_000))
    first_end = broken(neg)[-1]
    assert describe(first_end, Personal(redact=True)) == (
        "Acordo encerrado: o credor reduziu o valor da dívida (contrato CT-a parcela 1, de "
        "R$ 1.000,00 para R$ 800,00); as parcelas em aberto foram canceladas; a dívida volta "
        "à cobrança pelo novo valor"
    )
    assert agreement  # closed once

    again = neg.close([a], 3, key="again")
    first = again.invoices[0]
    neg.pay(invoice_id=first.invoice_id, amount_cents=first.amount_cents, paid_on=TODAY)
    creditor.negotiation_reads_updates(creditor.sends_amount(a, 10_000, "imp-3"))
    ended = broken(neg)[-1]
    assert isinstance(ended, AgreementBrokenV3)
    assert describe(ended, Personal(redact=True)) == (
        "Acordo encerrado: o credor reduziu o valor da dívida (contrato CT-a parcela 1, de "
        "R$ 800,00 para R$ 100,00); as parcelas em aberto foram canceladas; nada resta a "
        "pagar da dívida reduzida, que fica quitada; "
        f"{format_brl(ended.credit_cents)} ficam como crédito do devedor"
    )


def test_analytics_count_no_debtors_break_and_no_first_payment_default(neg: Negotiation) -> None:
    """Ended by the creditor, not by the debtor: not in the break rate, and not an FPD when
    it ended before the first installment's time was over."""
    creditor = Creditor(neg)
    a = creditor.debt("CT-a", 100_000)
    agreement = neg.close([a], 3)
    creditor.negotiation_reads_updates(creditor.sends_amount(a, 80_000))
    collector = FactsCollector()
    collector.add_all(neg.published())
    facts = collector.facts()
    later = agreement.invoices[-1].due_date + dt.timedelta(days=60)

    [row] = agreements(facts, as_of=later)
    assert (row.agreements, row.broken) == (1, 0)
    [first] = fpd(facts, k=5, as_of=later)
    assert (first.agreements, first.defaulted) == (0, 0)
