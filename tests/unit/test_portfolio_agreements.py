"""When an agreement ends, the portfolio's debts follow: fulfilled, they are settled and
leave collection; broken, they return to it owing what was not paid. Events may come twice."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from contracts.envelope import derived_event_id
from contracts.negotiation import (
    AgreementBroken,
    AgreementFulfilled,
    AgreementPaymentShared,
    BrokenAgreementDebt,
    SharedPaymentDebt,
)
from contracts.portfolio import DebtPaymentDeducted, DebtReopened, DebtSettled
from service_runtime.personal_data import DebtorKey, seal
from services.portfolio.adapters.integration_events import integration_events
from services.portfolio.application.agreements import (
    apply_agreement_outcomes,
    share_by_principal,
)
from services.portfolio.application.importing import PortfolioApplication
from services.portfolio.domain.debt import Debt

AGENCY = "recupera-sul"
AT = dt.datetime(2026, 12, 1, 12, tzinfo=dt.UTC)
# The debtor's contact, sealed as the import seals it (with a key of the debtor's own).
JOAO_SEALED = seal(
    DebtorKey(uuid.uuid4().hex, os.urandom(32)),
    {"name": "João da Silva", "email": None, "phone": None, "city": None, "state": None},
).model_dump()


def imported(app: PortfolioApplication, contract: str, amount: int) -> Debt:
    debt = Debt(
        tenant=AGENCY,
        creditor="Banco Horizonte",
        contract=contract,
        installment="1",
        document="52998224725",
        document_kind="cpf",
        personal=JOAO_SEALED,
        original_amount_cents=amount,
        due_date=dt.date(2026, 6, 1),
        category=None,
        import_id="imp-1",
        row_key=contract,
        cause_id="row",
        data_as_of=AT,
    )
    app.save(debt)
    return debt


def envelope(aggregate_id: str, version: int) -> dict[str, Any]:
    return {
        "event_id": derived_event_id("test", aggregate_id, version),
        "occurred_at": AT,
        "tenant": AGENCY,
        "aggregate_id": aggregate_id,
        "aggregate_version": version,
        "correlation_id": aggregate_id,
        "causation_id": aggregate_id,
    }


def published(app: PortfolioApplication) -> list[Any]:
    return [
        event
        for n in app.recorder.select_notifications(1, 10_000)
        for _topic, event in integration_events(app.mapper.to_domain_event(n))
    ]


def test_a_fulfilled_agreement_settles_its_debts_once() -> None:
    app = PortfolioApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    big, small = imported(app, "C-1", 100_000), imported(app, "C-2", 50_000)
    fulfilled = AgreementFulfilled(
        **envelope("agr-1", 4),
        agreement_id="agr-1",
        document="52998224725",
        creditor="Banco Horizonte",
        debt_ids=[str(big.id), str(small.id)],
        fulfilled_on=dt.date(2026, 12, 1),
        paid_cents=120_001,
    )
    assert apply_agreement_outcomes(app, [fulfilled]) == 2
    assert apply_agreement_outcomes(app, [fulfilled]) == 0  # delivered again
    settled = [e for e in published(app) if isinstance(e, DebtSettled)]
    # What was paid is shared by principal: 2/3 and 1/3, the odd centavo to the largest rest.
    assert sorted(e.paid_cents for e in settled) == [40_000, 80_001]
    assert {e.agreement_id for e in settled} == {"agr-1"}


def test_a_broken_agreement_reopens_its_debts_with_what_was_paid_deducted() -> None:
    app = PortfolioApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    debt = imported(app, "C-1", 100_000)
    broken = AgreementBroken(
        **envelope("agr-1", 3),
        agreement_id="agr-1",
        document="52998224725",
        creditor="Banco Horizonte",
        broken_on=dt.date(2026, 12, 30),
        rule="later_installment",
        installment_number=2,
        days_overdue=30,
        paid_cents=34_000,
        debts=[BrokenAgreementDebt(debt_id=str(debt.id), paid_cents=34_000, balance_cents=66_000)],
    )
    assert apply_agreement_outcomes(app, [broken, broken]) == 1
    [reopened] = [e for e in published(app) if isinstance(e, DebtReopened)]
    assert (reopened.paid_cents, reopened.balance_cents) == (34_000, 66_000)
    # A second agreement on the rest, broken too: the payments add up.
    second = broken.model_copy(
        update={
            "agreement_id": "agr-2",
            "event_id": uuid.uuid4(),
            "debts": [
                BrokenAgreementDebt(debt_id=str(debt.id), paid_cents=6_000, balance_cents=60_000)
            ],
        }
    )
    apply_agreement_outcomes(app, [second])
    last = [e for e in published(app) if isinstance(e, DebtReopened)][-1]
    assert (last.paid_cents, last.balance_cents) == (40_000, 60_000)


def test_an_unknown_debt_in_an_agreement_changes_nothing() -> None:
    app = PortfolioApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    fulfilled = AgreementFulfilled(
        **envelope("agr-9", 2),
        agreement_id="agr-9",
        document="52998224725",
        creditor="Banco Horizonte",
        debt_ids=[str(uuid.uuid4())],
        fulfilled_on=dt.date(2026, 12, 1),
        paid_cents=100,
    )
    assert apply_agreement_outcomes(app, [fulfilled]) == 0


@given(
    st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=20),
    st.integers(min_value=0, max_value=10**10),
)
def test_shares_always_add_up_to_the_amount(principals: list[int], amount: int) -> None:
    shares = share_by_principal(principals, amount)
    if sum(principals) == 0:
        assert shares == [0] * len(principals)
    else:
        assert sum(shares) == amount
        assert all(s >= 0 for s in shares)


def shared_payment(payment_id: str, *deducted: tuple[Debt, int]) -> AgreementPaymentShared:
    """Negotiation's word that a payment to a cancelled invoice of agr-1 is deducted."""
    total = sum(cents for _, cents in deducted)
    return AgreementPaymentShared(
        **envelope("agr-1", 5),
        agreement_id="agr-1",
        document="52998224725",
        creditor="Banco Horizonte",
        payment_id=payment_id,
        invoice_id="agr-1-inv-1",
        installment_number=1,
        paid_on=dt.date(2026, 11, 9),
        amount_cents=total,
        deducted_cents=total,
        credit_cents=0,
        debts=[
            SharedPaymentDebt(debt_id=str(d.id), deducted_cents=c, credit_cents=0)
            for d, c in deducted
        ],
    )


def test_a_payment_to_a_broken_agreement_is_deducted_from_its_debts_once() -> None:
    """QA: installment 1 of agreement 69f79d35 paid on the break day and reported by the
    bank a day later stayed a credit nothing used: the debt kept owing R$ 207,50."""
    app = PortfolioApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    big, small = imported(app, "C-1", 100_000), imported(app, "C-2", 50_000)
    broken = AgreementBroken(
        **envelope("agr-1", 3),
        agreement_id="agr-1",
        document="52998224725",
        creditor="Banco Horizonte",
        broken_on=dt.date(2026, 11, 9),
        rule="first_installment",
        installment_number=1,
        days_overdue=5,
        paid_cents=0,
        debts=[
            BrokenAgreementDebt(debt_id=str(big.id), paid_cents=0, balance_cents=100_000),
            BrokenAgreementDebt(debt_id=str(small.id), paid_cents=0, balance_cents=50_000),
        ],
    )
    shared = shared_payment("pay-1", (big, 4_663), (small, 2_332))
    assert apply_agreement_outcomes(app, [broken, shared]) == 4
    assert apply_agreement_outcomes(app, [shared]) == 0  # delivered again
    deducted = [e for e in published(app) if isinstance(e, DebtPaymentDeducted)]
    assert [(e.payment_id, e.deducted_cents, e.paid_cents, e.balance_cents) for e in deducted] == [
        ("pay-1", 4_663, 4_663, 95_337),
        ("pay-1", 2_332, 2_332, 47_668),
    ]
    # Another payment adds up; the debt's next break or settlement starts from it.
    apply_agreement_outcomes(app, [shared_payment("pay-2", (big, 1_000))])
    last = [e for e in published(app) if isinstance(e, DebtPaymentDeducted)][-1]
    assert (last.paid_cents, last.balance_cents) == (5_663, 94_337)


def test_a_payment_to_a_broken_agreement_leaves_a_debt_not_back_from_it_alone() -> None:
    """Settled meanwhile, withdrawn by the creditor, or never reopened by that agreement: the
    share is not deducted (it stays the debtor's credit) and nothing is published."""
    app = PortfolioApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    never = imported(app, "C-1", 100_000)
    assert apply_agreement_outcomes(app, [shared_payment("pay-1", (never, 5_000))]) == 0
    assert not [e for e in published(app) if isinstance(e, DebtPaymentDeducted)]


def test_a_debt_paid_off_through_its_broken_agreements_boleto_is_settled_once() -> None:
    """QA: a debt whose balance reached R$ 0,00 through payments to its broken agreement's
    boleto stayed in collection: the ruler kept running it, the portal listed it with nothing
    to pay. Paid off, it is settled as a fulfilled agreement's debt is: by that agreement, on
    the day of the payment that paid it off, with everything paid. Read again, nothing more;
    an older payment read late never takes it back to collection."""
    app = PortfolioApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    big, small = imported(app, "C-1", 100_000), imported(app, "C-2", 50_000)
    broken = AgreementBroken(
        **envelope("agr-1", 3),
        agreement_id="agr-1",
        document="52998224725",
        creditor="Banco Horizonte",
        broken_on=dt.date(2026, 11, 9),
        rule="later_installment",
        installment_number=2,
        days_overdue=30,
        paid_cents=30_000,
        debts=[
            BrokenAgreementDebt(debt_id=str(big.id), paid_cents=20_000, balance_cents=80_000),
            BrokenAgreementDebt(debt_id=str(small.id), paid_cents=10_000, balance_cents=40_000),
        ],
    )
    apply_agreement_outcomes(app, [broken])
    # The boleto of installment 2, paid on 12/11 and reported after the break: the small
    # debt still owes R$ 150,00 of it, the big one R$ 700,00.
    first = shared_payment("pay-1", (big, 10_000), (small, 25_000)).model_copy(
        update={"paid_on": dt.date(2026, 11, 12)}
    )
    apply_agreement_outcomes(app, [first])
    assert not [e for e in published(app) if isinstance(e, DebtSettled)]
    # Installment 3's boleto, paid on 20/11: the small debt's share pays it off.
    last = shared_payment("pay-2", (big, 10_000), (small, 15_000)).model_copy(
        update={"paid_on": dt.date(2026, 11, 20)}
    )
    assert apply_agreement_outcomes(app, [last]) == 2
    [settled] = [e for e in published(app) if isinstance(e, DebtSettled)]
    assert (settled.debt_id, settled.agreement_id) == (str(small.id), "agr-1")
    assert (settled.settled_on, settled.paid_cents) == (dt.date(2026, 11, 20), 50_000)
    # Right after the deduction that paid it off, in the same save.
    deduction = [e for e in published(app) if isinstance(e, DebtPaymentDeducted)][-1]
    assert (deduction.debt_id, deduction.balance_cents) == (str(small.id), 0)
    assert settled.aggregate_version == deduction.aggregate_version + 1
    # Read again, with the break and the first payment read late: nothing changes.
    assert apply_agreement_outcomes(app, [last, broken, first]) == 0
    older = shared_payment("pay-0", (big, 1_000), (small, 1_000)).model_copy(
        update={"paid_on": dt.date(2026, 11, 10)}
    )
    assert apply_agreement_outcomes(app, [older]) == 1  # the big debt only
    events = published(app)
    assert len([e for e in events if isinstance(e, DebtSettled)]) == 1
    assert not [
        e
        for e in events
        if isinstance(e, DebtReopened | DebtPaymentDeducted)
        and e.debt_id == str(small.id)
        and e.aggregate_version > settled.aggregate_version
    ]
    assert app.repository.get(small.id).settled_by == "agr-1"
    assert app.repository.get(big.id).settled_by is None


def test_a_debt_still_owing_after_a_payment_to_its_broken_agreement_stays_in_collection() -> None:
    app = PortfolioApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    debt = imported(app, "C-1", 100_000)
    broken = AgreementBroken(
        **envelope("agr-1", 3),
        agreement_id="agr-1",
        document="52998224725",
        creditor="Banco Horizonte",
        broken_on=dt.date(2026, 11, 9),
        rule="first_installment",
        installment_number=1,
        days_overdue=5,
        paid_cents=0,
        debts=[BrokenAgreementDebt(debt_id=str(debt.id), paid_cents=0, balance_cents=100_000)],
    )
    apply_agreement_outcomes(app, [broken, shared_payment("pay-1", (debt, 99_999))])
    assert not [e for e in published(app) if isinstance(e, DebtSettled)]
    assert app.repository.get(debt.id).settled_by is None


def test_a_debt_the_break_itself_leaves_owing_nothing_is_settled_at_the_break() -> None:
    """A helper's finding: an agreement with charges breaks after the debtor paid, under it,
    as much as a debt's principal (R$ 1.000,00 of 3 × R$ 400,00 with interest): the debt was
    reopened with a balance of R$ 0,00 and stayed in collection. It is settled in the same save,
    as a deduction to R$ 0,00 settles it: by the broken agreement, on the day of the break,
    with everything paid. Its neighbour, still owing, comes back to collection as before."""
    app = PortfolioApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    paid_off, owing = imported(app, "C-1", 100_000), imported(app, "C-2", 50_000)
    broken = AgreementBroken(
        **envelope("agr-1", 3),
        agreement_id="agr-1",
        document="52998224725",
        creditor="Banco Horizonte",
        broken_on=dt.date(2026, 11, 9),
        rule="later_installment",
        installment_number=3,
        days_overdue=30,
        paid_cents=110_000,
        debts=[
            BrokenAgreementDebt(debt_id=str(paid_off.id), paid_cents=100_000, balance_cents=0),
            BrokenAgreementDebt(debt_id=str(owing.id), paid_cents=10_000, balance_cents=40_000),
        ],
    )
    assert apply_agreement_outcomes(app, [broken]) == 2
    events = published(app)
    reopened = {e.debt_id: e for e in events if isinstance(e, DebtReopened)}
    assert reopened[str(paid_off.id)].balance_cents == 0
    [settled] = [e for e in events if isinstance(e, DebtSettled)]
    assert (settled.debt_id, settled.agreement_id) == (str(paid_off.id), "agr-1")
    assert (settled.settled_on, settled.paid_cents) == (dt.date(2026, 11, 9), 100_000)
    # Right after its reopening, in the same save.
    assert settled.aggregate_version == reopened[str(paid_off.id)].aggregate_version + 1
    assert app.repository.get(paid_off.id).settled_by == "agr-1"
    assert app.repository.get(owing.id).settled_by is None
    # The break read again, or a payment to its boleto reported later: nothing for the
    # settled debt (the payment's share is the debtor's credit).
    late = shared_payment("pay-9", (paid_off, 5_000))
    assert apply_agreement_outcomes(app, [broken, late]) == 0
    assert len([e for e in published(app) if isinstance(e, DebtSettled)]) == 1
