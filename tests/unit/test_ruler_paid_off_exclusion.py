"""A debt back in collection after its agreement broke, listed at the credit bureau, and then
paid off through the broken agreement's boleto (the deductions bring its balance to R$ 0,00
and the portfolio settles it, `DebtSettled`). The bureau matches an exclusion with the
inclusion it removes: the exclusion carries what the inclusion listed, not the R$ 0,00 the
debt owes at the end. The finalization message says what was paid off, not "R$ 0,00"."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from contracts.negotiation import AgreementClosed
from contracts.portfolio import DebtPaymentDeducted, DebtReopened, DebtSettled
from tests.unit.test_ruler_app import JOAO, Ruler, agreement_fields, debt, env

DUE = dt.date(2026, 10, 1)
CLOSED_ON = DUE + dt.timedelta(days=13)
REOPENED_ON = dt.date(2026, 10, 26)  # R$ 400,00 paid under the agreement: R$ 600,00 owed
# Day 45 is Sunday 15/11, a holiday too: the bureau stage on Monday 16/11, its notice of the
# listing sent that day, listed 10 days after.
LISTED_ON = dt.date(2026, 11, 26)
PAID_ON = LISTED_ON + dt.timedelta(days=4)
OUTCOME = {
    "debt_id": "d1",
    "document": JOAO,
    "creditor": "Banco Horizonte",
    "contract": "C-d1",
    "installment": "1",
    "agreement_id": "a1",
}


def deducted(version: int, cents: int, balance: int, on: dt.date) -> DebtPaymentDeducted:
    return DebtPaymentDeducted(
        **env("d1", version),
        **OUTCOME,
        payment_id=f"p-{version}",
        paid_on=on,
        deducted_cents=cents,
        paid_cents=100_000 - balance,
        balance_cents=balance,
    )


def settled(version: int) -> DebtSettled:
    return DebtSettled(**env("d1", version), **OUTCOME, settled_on=PAID_ON, paid_cents=100_000)


@pytest.fixture
def listed(tmp_path: Path) -> Ruler:
    ruler = Ruler(tmp_path)
    ruler.receive(debt("d1"))  # R$ 1.000,00
    ruler.receive(
        AgreementClosed(**agreement_fields(CLOSED_ON), debtor_name="João da Silva"),
        today=CLOSED_ON,
    )
    reopened = DebtReopened(
        **env("d1", 3), **OUTCOME, reopened_on=REOPENED_ON, paid_cents=40_000, balance_cents=60_000
    )
    ruler.receive(reopened, today=REOPENED_ON)
    ruler.run(REOPENED_ON, LISTED_ON)
    [inclusion] = ruler.bureau.read_records()
    assert (inclusion["record_type"], int(inclusion["amount_cents"])) == ("I", 60_000)
    return ruler


def test_the_exclusion_of_a_debt_paid_off_carries_the_amount_it_was_listed_for(
    listed: Ruler,
) -> None:
    listed.receive(
        deducted(4, 20_000, balance=40_000, on=LISTED_ON + dt.timedelta(days=2)),
        deducted(5, 40_000, balance=0, on=PAID_ON),
        settled(6),
        today=PAID_ON,
    )

    inclusion, exclusion = listed.bureau.read_records()
    assert exclusion["record_type"] == "E"
    assert exclusion["record_key"] == inclusion["record_key"]
    # What the bureau matches: the exclusion says what the inclusion listed (R$ 600,00).
    for field in ("document", "contract", "amount_cents", "due_date"):
        assert exclusion[field] == inclusion[field], field
    assert exclusion["occurred_on"] == PAID_ON.strftime("%Y%m%d")
    assert listed.bureau.listed_keys() == set()


def test_the_finalization_of_a_debt_paid_off_says_what_was_paid(listed: Ruler) -> None:
    asked = len(listed.published("MessageRequested"))
    listed.receive(deducted(4, 60_000, balance=0, on=PAID_ON), settled(5), today=PAID_ON)

    told = listed.published("MessageRequested")[asked:]
    assert [(m.template, m.variables["motivo"]) for m in told] == [("quitacao", "quitada")]
    # Paid off: everything paid on the debt (R$ 400,00 under the agreement, R$ 600,00 to its
    # boleto after the break), not the R$ 0,00 it owes once paid.
    assert told[0].variables["valor"] == "R$ 1.000,00"
    [left] = listed.published("ReceivableLeftRuler")
    assert (left.reason, left.on_date) == ("settled", PAID_ON)
