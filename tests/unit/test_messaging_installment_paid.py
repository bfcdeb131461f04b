"""An installment's collection message never goes out once it was paid, even while the ruler's
runs are behind the clock (QA pass 9, leftover of D7a). Bruno's 3x agreement: he pays parcela
1 on 12/01, during a `cobranca clock advance --days 45`. Negotiation publishes
`InstallmentPaid` (`negotiation.invoices`) at once, but the ruler's exit of the parcela
(`ReceivableLeftRuler`, reason paid) comes only when its runs reach 12/01, after the messaging
service (at the clock's latest day, 19/02) has sent what the earlier runs asked: a "consta em
aberto" of a parcela already paid.

Now the messaging service reads the payments of installments from negotiation too: a paid
installment is left for good, and its collection messages, asked before or after, are recorded
not sent (`collection_ended`, "a parcela foi paga"), never dropped; the confirmation of the
payment (the ruler's finalization message) still goes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select

from contracts.negotiation import (
    AgreementBroken,
    AgreementClosed,
    BrokenAgreementDebt,
    InstallmentPaid,
    InstallmentPaidV2,
)
from services.messaging.adapters.exits import ExitsProjection, receivable_exits
from tests.unit.test_messaging_app import FRIDAY_NIGHT, JOAO, SATURDAY_8
from tests.unit.test_messaging_collection_ended import (
    Collection,
    left,
    ruler_message,
    sent_bodies,
)
from tests.unit.test_ruler_app import agreement_fields, env

CLOSED_ON = dt.date(2026, 11, 2)
PAID_ON = dt.date(2026, 11, 9)
NOT_SENT = (
    "não enviada: a cobrança terminou antes do envio (a parcela foi paga); a mensagem diria "
    "que ainda há valor em aberto"
)


def closed() -> AgreementClosed:
    """Agreement a1 of debt d1, one installment: invoice inv-1."""
    return AgreementClosed(**agreement_fields(CLOSED_ON), debtor_name="Bruno")


def paid(version: int = 1, invoice: str = "inv-1") -> InstallmentPaid:
    fields = {
        **env("a1", 2),
        "agreement_id": "a1",
        "invoice_id": invoice,
        "document": JOAO,
        "creditor": "Banco Horizonte",
        "installment_number": 1,
        "due_date": CLOSED_ON + dt.timedelta(days=7),
        "amount_cents": 102_433,
        "paid_cents": 102_433,
        "paid_on": PAID_ON,
        "days_late": 0,
        "payment_ids": ["p1"],
    }
    if version == 1:
        return InstallmentPaid(**fields)
    return InstallmentPaidV2(
        **fields, installment_kind="installment", installments=1, with_down_payment=False
    )


def broken() -> AgreementBroken:
    return AgreementBroken(
        **env("a1", 3),
        agreement_id="a1",
        document=JOAO,
        creditor="Banco Horizonte",
        broken_on=PAID_ON + dt.timedelta(days=20),
        rule="first_installment",
        installment_number=1,
        days_overdue=10,
        paid_cents=0,
        debts=[BrokenAgreementDebt(debt_id="d1", paid_cents=0, balance_cents=100_000)],
    )


class Invoices(Collection):
    def read(self, *events: AgreementClosed | AgreementBroken | InstallmentPaid) -> None:
        """This service's consumer of the exits (`ruler.stages`, `negotiation.agreements`,
        `negotiation.invoices`), each batch read twice (a restart reads it again)."""
        for _ in range(2):
            with self.engine.begin() as conn:
                ExitsProjection().apply(conn, list(events))

    def exit_of(self, invoice: str) -> tuple[int, str] | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(receivable_exits.c.left_version, receivable_exits.c.reason).where(
                    receivable_exits.c.receivable_id == invoice
                )
            ).first()
        return (row.left_version, row.reason) if row else None


@pytest.fixture
def bruno(tmp_path: Path) -> Invoices:
    return Invoices(tmp_path)


def test_the_exits_consumer_reads_the_invoices_topic() -> None:
    projection = ExitsProjection()
    assert "negotiation.invoices" in projection.topics
    assert "InstallmentPaid" in projection.event_types


@pytest.mark.parametrize("version", [1, 2])
def test_a_parcelas_message_asked_by_a_run_behind_the_payment_is_not_sent(
    bruno: Invoices, tmp_path: Path, version: int
) -> None:
    # Bruno paid parcela 1; the ruler's runs are days behind and have not said it left.
    bruno.read(closed())
    bruno.read(paid(version))
    # The run of an earlier day asks the parcela's "consta em aberto": the window is open.
    bruno.app.handle_requests([ruler_message("consta-inv-1", 2, receivable="inv-1")], SATURDAY_8)
    assert bruno.app.dispatch_due(SATURDAY_8) == 0
    assert sent_bodies(tmp_path) == []
    [failed] = bruno.published("MessageFailed")
    assert (failed.key, failed.rule) == ("consta-inv-1", "collection_ended")
    assert failed.reason == NOT_SENT
    # The ruler's own exit, when its runs reach the payment, changes nothing; its
    # confirmation of the payment goes.
    bruno.exits_read(left(5, reason="paid", receivable="inv-1"))
    confirmation = ruler_message(
        "paga-inv-1", 5, purpose="finalization", template="quitado", receivable="inv-1"
    )
    confirmation = confirmation.model_copy(
        update={"variables": confirmation.variables | {"motivo": "paga"}}
    )
    bruno.app.handle_requests(
        [ruler_message("lembrete-inv-1", 4, receivable="inv-1"), confirmation], SATURDAY_8
    )
    assert bruno.app.dispatch_due(SATURDAY_8) == 1
    assert sent_bodies(tmp_path) == ["Sua dívida foi paga e saiu da cobrança."]
    assert [f.key for f in bruno.published("MessageFailed")] == ["consta-inv-1", "lembrete-inv-1"]


def test_a_parcelas_message_queued_before_the_payment_is_not_sent_after_it(
    bruno: Invoices, tmp_path: Path
) -> None:
    bruno.read(closed())
    # Friday night: queued for Saturday 08:00.
    bruno.app.handle_requests([ruler_message("consta-inv-1", 2, receivable="inv-1")], FRIDAY_NIGHT)
    assert bruno.status("consta-inv-1") == "queued"
    bruno.read(paid(2))
    assert bruno.app.dispatch_due(SATURDAY_8) == 0
    assert sent_bodies(tmp_path) == []
    assert bruno.status("consta-inv-1") == "failed"
    [failed] = bruno.published("MessageFailed")
    assert failed.reason == NOT_SENT


def test_another_parcela_and_the_debt_are_still_charged(bruno: Invoices, tmp_path: Path) -> None:
    bruno.read(closed(), paid(1, invoice="inv-1"))
    bruno.app.handle_requests(
        [
            ruler_message("aviso-d1", 7, receivable="d1"),
            ruler_message("consta-inv-2", 2, receivable="inv-2"),
            ruler_message("consta-inv-1", 2, receivable="inv-1"),
        ],
        SATURDAY_8,
    )
    assert bruno.app.dispatch_due(SATURDAY_8) == 2
    assert [f.key for f in bruno.published("MessageFailed")] == ["consta-inv-1"]


@pytest.mark.parametrize(
    "batches",
    [
        [(paid(1),), (broken(),)],
        [(broken(),), (paid(1),)],
        [(paid(2), broken())],
        [(broken(), paid(2))],
    ],
    ids=["paid-then-end", "end-then-paid", "one-batch", "one-batch-end-first"],
)
def test_a_paid_parcela_of_an_agreement_that_ended_reads_paid_in_any_order(
    bruno: Invoices, batches: list[tuple[AgreementBroken | InstallmentPaid, ...]]
) -> None:
    # The agreements' and the invoices' topics are read in batches of their own: whichever
    # comes first, a replay gives the same.
    bruno.read(closed())
    for batch in batches:
        bruno.read(*batch)
    assert bruno.exit_of("inv-1") == (2**31 - 1, "paid")
