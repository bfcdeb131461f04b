"""An installment's collection message never goes out once its agreement ended, even while the
ruler's runs are behind the clock (QA pass 9, D7a). On a fresh clone, Bruno's 3x agreement:
parcela 1 due 05/01/2026, unpaid; `cobranca clock advance --days 45`. Negotiation broke the
agreement on 12/01 at once, but the ruler's exit of the parcela (`ReceivableLeftRuler`) came
only when its runs reached 12/01, after the messaging service (at the clock's latest day,
19/02) had sent the run of an earlier day's "Bruno ..., consta em aberto R$ 639,74 com Conecta
Fibra Telecom, vencido em 05/01/2026": a cancelled boleto charged.

Now the messaging service reads the agreements' ends from negotiation too: the installments of
an agreement that ended are left for good, and their collection messages, asked before or
after, are recorded not sent (`collection_ended`), never dropped."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select

from contracts.negotiation import AgreementBroken, AgreementClosed, BrokenAgreementDebt
from services.messaging.adapters.exits import ExitsProjection, agreement_installments
from tests.unit.test_messaging_app import FRIDAY_NIGHT, JOAO, SATURDAY_8
from tests.unit.test_messaging_collection_ended import (
    Collection,
    left,
    ruler_message,
    sent_bodies,
)
from tests.unit.test_ruler_app import agreement_fields, env

CLOSED_ON = dt.date(2026, 11, 2)
BROKEN_ON = dt.date(2026, 11, 27)
NOT_SENT = (
    "não enviada: a cobrança terminou antes do envio (a parcela foi cancelada com o fim do "
    "acordo); a mensagem diria que ainda há valor em aberto"
)


def closed() -> AgreementClosed:
    """Agreement a1 of debt d1, one installment: invoice inv-1."""
    return AgreementClosed(**agreement_fields(CLOSED_ON), debtor_name="Bruno")


def broken(rule: str = "first_installment") -> AgreementBroken:
    return AgreementBroken(
        **env("a1", 2),
        agreement_id="a1",
        document=JOAO,
        creditor="Banco Horizonte",
        broken_on=BROKEN_ON,
        rule=rule,  # type: ignore[arg-type]
        installment_number=1,
        days_overdue=10,
        paid_cents=0,
        debts=[BrokenAgreementDebt(debt_id="d1", paid_cents=0, balance_cents=100_000)],
    )


class Agreements(Collection):
    def agreements_read(self, *events: AgreementClosed | AgreementBroken) -> None:
        """This service's consumer of `negotiation.agreements` (the exits' projection), each
        batch read twice (a restart reads it again)."""
        for _ in range(2):
            with self.engine.begin() as conn:
                ExitsProjection().apply(conn, list(events))


@pytest.fixture
def bruno(tmp_path: Path) -> Agreements:
    return Agreements(tmp_path)


def test_a_parcelas_message_asked_by_a_run_behind_the_break_is_not_sent(
    bruno: Agreements, tmp_path: Path
) -> None:
    # Negotiation closed and, on the clock's day of the break, broke the agreement; the
    # ruler's runs are days behind and have not said the parcela left.
    bruno.agreements_read(closed())
    bruno.agreements_read(broken())
    # The run of an earlier day asks the parcela's overdue message: the window is open.
    bruno.app.handle_requests([ruler_message("consta-inv-1", 2, receivable="inv-1")], SATURDAY_8)
    assert bruno.app.dispatch_due(SATURDAY_8) == 0
    assert sent_bodies(tmp_path) == []
    [failed] = bruno.published("MessageFailed")
    assert (failed.key, failed.rule) == ("consta-inv-1", "collection_ended")
    assert failed.reason == NOT_SENT
    # The ruler's own exit, when its runs reach the break, changes nothing.
    bruno.exits_read(left(5, reason="cancelled", receivable="inv-1"))
    bruno.app.handle_requests([ruler_message("lembrete-inv-1", 4, receivable="inv-1")], SATURDAY_8)
    assert bruno.app.dispatch_due(SATURDAY_8) == 0
    assert [f.key for f in bruno.published("MessageFailed")] == ["consta-inv-1", "lembrete-inv-1"]


def test_a_parcelas_message_queued_before_the_break_is_not_sent_after_it(
    bruno: Agreements, tmp_path: Path
) -> None:
    bruno.agreements_read(closed())
    # Friday night: queued for Saturday 08:00.
    bruno.app.handle_requests([ruler_message("consta-inv-1", 2, receivable="inv-1")], FRIDAY_NIGHT)
    assert bruno.status("consta-inv-1") == "queued"
    # The agreement ends (the creditor lowered the debt: any end cancels its parcelas).
    bruno.agreements_read(broken())
    assert bruno.app.dispatch_due(SATURDAY_8) == 0
    assert sent_bodies(tmp_path) == []
    assert bruno.status("consta-inv-1") == "failed"


def test_the_agreements_debt_back_in_collection_is_charged_and_another_agreement_untouched(
    bruno: Agreements, tmp_path: Path
) -> None:
    other = closed().model_copy(
        update={
            "agreement_id": "a2",
            "installments": [
                i.model_copy(update={"invoice_id": "inv-9"}) for i in closed().installments
            ],
        }
    )
    bruno.agreements_read(closed(), other, broken())
    # Closed and ended in one batch: its parcela is known all the same.
    with bruno.engine.connect() as conn:
        known = conn.execute(select(agreement_installments.c.invoice_id)).scalars().all()
    assert sorted(known) == ["inv-1", "inv-9"]
    bruno.app.handle_requests(
        [
            ruler_message("aviso-d1", 7, receivable="d1"),  # the debt, reopened
            ruler_message("consta-inv-9", 2, receivable="inv-9"),
            ruler_message("consta-inv-1", 2, receivable="inv-1"),
        ],
        SATURDAY_8,
    )
    assert bruno.app.dispatch_due(SATURDAY_8) == 2
    assert len(sent_bodies(tmp_path)) == 2
    assert [f.key for f in bruno.published("MessageFailed")] == ["consta-inv-1"]
