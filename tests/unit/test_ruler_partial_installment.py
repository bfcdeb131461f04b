"""An agreement's installment paid in part (QA pass 8, N1): the ruler's reminders and overdue
stages asked for the whole installment ("consta em aberto R$ 579,75" when R$ 479,75 was
owed) while the portal and the chat gave the balance. The ruler reads the payments
(`PaymentReceived` on `negotiation.payments`): an installment owes its amount less what its
invoice was paid, whichever topic is read first, a payment read again or late changing
nothing. A listing says the balance; a paid installment's confirmation, its amount."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from contracts.negotiation import (
    AgreementClosed,
    AgreementDebt,
    AgreementInstallment,
    InstallmentPaid,
    PaymentConditionTerms,
    PaymentReceived,
)
from contracts.ruler import RulerDefinitionV4, SendMessage, SendToBureau, StageSpec
from contracts.ruler_requests import SaveRuler
from services.ruler.adapters.consumers import ReceivablesApplier
from services.ruler.adapters.receivables import receivables
from tests.unit.test_ruler_app import AGENCY, JOAO, Ruler, agreement_fields, debt, env

CLOSED_ON = dt.date(2026, 10, 14)
# An agreement in 3 of R$ 579,75: due 14/10, 13/11 (a Friday) and 14/12.
DUES = [CLOSED_ON, dt.date(2026, 11, 13), dt.date(2026, 12, 14)]
INSTALLMENT = 57_975


def closed() -> AgreementClosed:
    fields: dict[str, Any] = agreement_fields(CLOSED_ON)
    total = 3 * INSTALLMENT
    fields.update(
        debts=[
            AgreementDebt(
                debt_id="d1",
                contract="C-d1",
                installment="1",
                due_date=dt.date(2026, 10, 1),
                principal_cents=total,
                penalty_cents=0,
                interest_cents=0,
                correction_cents=0,
                updated_value_cents=total,
                days_overdue=13,
            )
        ],
        condition=PaymentConditionTerms(installments=3),
        principal_cents=total,
        charges_cents=0,
        updated_value_cents=total,
        total_cents=total,
        installments=[
            AgreementInstallment(
                number=n,
                due_date=due,
                amount_cents=INSTALLMENT,
                invoice_id=f"inv-{n}",
                nosso_numero=str(n),
                barcode=str(n) * 44,
                digitable_line=str(n) * 47,
                pix_txid=f"TX{n}",
                pix_code="000201",
            )
            for n, due in enumerate(DUES, start=1)
        ],
    )
    return AgreementClosed(**fields, debtor_name="João da Silva")


def payment(
    payment_id: str,
    invoice: str,
    cents: int,
    balance: int,
    on: dt.date,
    outcome: str = "partial",
) -> PaymentReceived:
    return PaymentReceived(
        **env(payment_id, 1),
        payment_id=payment_id,
        source="api",
        reference=payment_id,
        invoice_id=invoice,
        agreement_id="a1",
        document=JOAO,
        amount_cents=cents,
        paid_on=on,
        outcome=outcome,
        applied_cents=cents,
        balance_cents=balance,
        credit_cents=0,
    )


def asked(ruler: Ruler, receivable_id: str, purpose: str) -> list[tuple[str, str]]:
    """The messages asked for an installment: (template, valor)."""
    keys = {
        a.key
        for s in ruler.published("StageAdvanced")
        if s.receivable_id == receivable_id
        for a in s.actions
    }
    return [
        (m.template, m.variables["valor"])
        for m in ruler.published("MessageRequested")
        if m.purpose == purpose
        and (m.key in keys or (purpose == "pre_due" and receivable_id in m.key))
    ]


def owed(ruler: Ruler, receivable_id: str) -> int:
    with ruler.engine.connect() as conn:
        return int(
            conn.execute(
                sa.select(receivables.c.amount_cents).where(
                    receivables.c.receivable_id == receivable_id
                )
            ).scalar_one()
        )


@pytest.fixture
def ruler(tmp_path: Path) -> Ruler:
    ruler = Ruler(tmp_path)
    ruler.receive(debt("d1", amount=3 * INSTALLMENT))
    ruler.receive(closed(), today=CLOSED_ON)
    return ruler


def test_the_overdue_stage_of_a_partly_paid_installment_asks_for_its_balance(
    ruler: Ruler,
) -> None:
    """Installment 2 of R$ 579,75, R$ 100,00 paid on it: its aviso says R$ 479,75."""
    ruler.receive(payment("p-1", "inv-2", 10_000, balance=47_975, on=CLOSED_ON))

    ruler.run(DUES[1] + dt.timedelta(days=1), DUES[1] + dt.timedelta(days=4))

    [stage] = [s for s in ruler.published("StageAdvanced") if s.receivable_id == "inv-2"]
    assert (stage.to_stage, stage.amount_cents) == ("notice", 47_975)
    assert asked(ruler, "inv-2", "stage") == [("aviso", "R$ 479,75")]


def test_the_reminders_of_a_partly_paid_installment_ask_for_its_balance(ruler: Ruler) -> None:
    ruler.receive(payment("p-1", "inv-2", 10_000, balance=47_975, on=CLOSED_ON))

    ruler.run(DUES[1] - dt.timedelta(days=6), DUES[1] - dt.timedelta(days=1))

    reminders = asked(ruler, "inv-2", "pre_due")
    assert reminders == [("lembrete", "R$ 479,75"), ("lembrete", "R$ 479,75")]
    # The installment not paid asks for all of it, as before.
    ruler.run(DUES[2] - dt.timedelta(days=6), DUES[2] - dt.timedelta(days=1))
    assert set(asked(ruler, "inv-3", "pre_due")) == {("lembrete", "R$ 579,75")}


def test_payments_read_again_or_late_leave_the_lowest_balance(ruler: Ruler) -> None:
    """Two payments (R$ 100,00 then R$ 200,00), the payments' topic keyed by payment: the
    second may be read first, and either read again."""
    first = payment("p-1", "inv-2", 10_000, balance=47_975, on=CLOSED_ON)
    second = payment("p-2", "inv-2", 20_000, balance=27_975, on=CLOSED_ON + dt.timedelta(days=2))
    ruler.receive(second)
    ruler.receive(first)
    ruler.receive(second, first)

    assert owed(ruler, "inv-2") == 27_975
    ruler.run(DUES[1] + dt.timedelta(days=1), DUES[1] + dt.timedelta(days=4))
    assert asked(ruler, "inv-2", "stage") == [("aviso", "R$ 279,75")]


def test_a_payment_read_before_its_agreement_is_not_lost(tmp_path: Path) -> None:
    """The payments' topic read ahead of the agreements': the installment, when it comes,
    owes what the payment left."""
    ruler = Ruler(tmp_path)
    ruler.receive(debt("d1", amount=3 * INSTALLMENT))
    ruler.receive(payment("p-1", "inv-2", 10_000, balance=47_975, on=CLOSED_ON))
    ruler.receive(closed(), today=CLOSED_ON)

    assert [owed(ruler, f"inv-{n}") for n in (1, 2, 3)] == [INSTALLMENT, 47_975, INSTALLMENT]
    # And the closing read again changes nothing.
    ruler.receive(closed(), today=CLOSED_ON)
    assert owed(ruler, "inv-2") == 47_975


def test_a_payment_in_the_same_batch_as_its_agreement_counts(tmp_path: Path) -> None:
    ruler = Ruler(tmp_path)
    ruler.receive(
        debt("d1", amount=3 * INSTALLMENT),
        payment("p-1", "inv-2", 10_000, balance=47_975, on=CLOSED_ON),
        closed(),
        payment("p-2", "inv-3", 5_000, balance=52_975, on=CLOSED_ON),
        today=CLOSED_ON,
    )
    assert [owed(ruler, f"inv-{n}") for n in (1, 2, 3)] == [INSTALLMENT, 47_975, 52_975]


def test_a_payment_that_pays_no_part_of_an_installment_changes_nothing(ruler: Ruler) -> None:
    """Paid off (its InstallmentPaid finalizes it), beyond it, or matching no invoice."""
    ruler.receive(
        payment("p-1", "inv-1", INSTALLMENT, balance=0, on=CLOSED_ON, outcome="paid"),
        payment("p-2", "inv-2", 70_000, balance=0, on=CLOSED_ON, outcome="excess"),
        payment("p-3", "inv-3", 1_000, balance=INSTALLMENT, on=CLOSED_ON, outcome="already_paid"),
    )
    assert [owed(ruler, f"inv-{n}") for n in (1, 2, 3)] == [INSTALLMENT] * 3


def test_a_partly_paid_installment_listed_at_the_bureau_is_listed_for_its_balance(
    tmp_path: Path,
) -> None:
    ruler = Ruler(tmp_path)
    ruler.app.save_ruler(
        SaveRuler(
            tenant=AGENCY,
            ruler_id="padrao",
            definition=RulerDefinitionV4(
                name="Padrão",
                stages=[
                    StageSpec(
                        stage="notice",
                        day=1,
                        actions=[SendMessage(channel="sms", template="aviso")],
                    ),
                    StageSpec(stage="credit_bureau", day=3, actions=[SendToBureau()]),
                ],
                listing_notice_days=0,
            ),
            saved_by="admin",
        )
    )
    ruler.receive(debt("d1", amount=3 * INSTALLMENT))
    ruler.receive(closed(), today=CLOSED_ON)
    ruler.receive(payment("p-1", "inv-2", 10_000, balance=47_975, on=CLOSED_ON))

    ruler.run(DUES[1] + dt.timedelta(days=1), DUES[1] + dt.timedelta(days=6))

    listed = [r for r in ruler.bureau.read_records() if "parcela 2" in r["contract"]]
    assert [(r["record_type"], int(r["amount_cents"])) for r in listed] == [("I", 47_975)]


def test_a_partly_paid_installment_paid_off_is_confirmed_for_its_amount(ruler: Ruler) -> None:
    """The confirmation says the installment (R$ 579,75), not what its last payment left."""
    ruler.receive(payment("p-1", "inv-2", 10_000, balance=47_975, on=CLOSED_ON))
    ruler.run(DUES[1] + dt.timedelta(days=1), DUES[1] + dt.timedelta(days=4))  # aviso sent
    paid_on = DUES[1] + dt.timedelta(days=5)
    ruler.receive(
        payment("p-2", "inv-2", 47_975, balance=0, on=paid_on, outcome="paid"),
        InstallmentPaid(
            **env("a1", 2),
            agreement_id="a1",
            invoice_id="inv-2",
            document=JOAO,
            creditor="Banco Horizonte",
            installment_number=2,
            due_date=DUES[1],
            amount_cents=INSTALLMENT,
            paid_cents=INSTALLMENT,
            paid_on=paid_on,
            days_late=5,
            payment_ids=["p-1", "p-2"],
        ),
        today=paid_on,
    )
    told = [m for m in ruler.published("MessageRequested") if m.purpose == "finalization"]
    assert [(m.template, m.variables["valor"]) for m in told] == [("quitacao", "R$ 579,75")]


def test_the_receivables_consumer_reads_the_payments() -> None:
    assert "negotiation.payments" in ReceivablesApplier.topics
