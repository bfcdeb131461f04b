"""A debt back in collection owes its original amount less everything paid on it, and a
re-import by the creditor does not make the ruler forget what was paid (QA: a debt back from
a broken agreement with R$ 400,00 paid, sent again in the creditor's monthly carteira, was
charged R$ 1.000,00 again, and would have been listed at the bureau for that). A re-import
changes the original amount, when the row brings a new one; what was paid stays deducted.
Every debt event carries the debt's version: one read again, or late, changes nothing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa

from contracts.negotiation import AgreementClosed
from contracts.portfolio import (
    DebtorContact,
    DebtPaymentDeducted,
    DebtReopened,
    DebtUpdated,
    FieldChange,
)
from services.ruler.adapters.receivables import ReceivablesTable, receivables
from tests.unit.test_ruler_app import JOAO, Ruler, agreement_fields, debt, env

DUE = dt.date(2026, 10, 1)
CLOSED_ON = DUE + dt.timedelta(days=13)
REOPENED_ON = CLOSED_ON + dt.timedelta(days=30)  # Friday 13/11/2026, 43 days overdue
# The creditor's monthly carteira, sent again on Saturday 14/11: the debt's row among them.
REFRESH = REOPENED_ON + dt.timedelta(days=1)
OUTCOME = {
    "debt_id": "d1",
    "document": JOAO,
    "creditor": "Banco Horizonte",
    "contract": "C-d1",
    "installment": "1",
    "agreement_id": "a1",
}


@pytest.fixture
def ruler(tmp_path: Path) -> Ruler:
    found = Ruler(tmp_path)
    found.receive(debt("d1"))  # R$ 1.000,00, version 1
    found.receive(
        AgreementClosed(**agreement_fields(CLOSED_ON), debtor_name="João da Silva"),
        today=CLOSED_ON,
    )
    return found


def reopened(paid: int, version: int = 3) -> DebtReopened:
    return DebtReopened(
        **env("d1", version),
        **OUTCOME,
        reopened_on=REOPENED_ON,
        paid_cents=paid,
        balance_cents=100_000 - paid,
    )


def deducted(deducted: int, paid: int, balance: int, version: int) -> DebtPaymentDeducted:
    return DebtPaymentDeducted(
        **env("d1", version),
        **OUTCOME,
        payment_id=f"p-{version}",
        paid_on=REOPENED_ON,
        deducted_cents=deducted,
        paid_cents=paid,
        balance_cents=balance,
    )


def reimported(
    version: int, amount: int = 100_000, changes: list[FieldChange] | None = None
) -> DebtUpdated:
    """The creditor's row sent again: by default only the debtor's phone changed."""
    found = debt("d1", amount=amount)
    return DebtUpdated(
        **env("d1", version),
        **found.model_dump(include={"debt_id", "document", "document_kind", "creditor"}),
        contract="C-d1",
        installment="1",
        changes=changes or [FieldChange(field="phone", old=None, new=None)],
        original_amount_cents=amount,
        due_date=DUE,
        debtor=DebtorContact(name="João da Silva", phone="(11) 91234-5678"),
        import_id="imp-dezembro",
        row_key="d1",
    )


def amount_changed(old: int, new: int) -> list[FieldChange]:
    return [FieldChange(field="original_amount_cents", old=old, new=new)]


def charged(ruler: Ruler, on: dt.date) -> list[tuple[int, list[str]]]:
    """The stages reached on `on` after the break: what they say the debt owes, and the
    `valor` of the messages they asked."""
    out = []
    for stage in ruler.published("StageAdvanced"):
        if stage.receivable_id != "d1" or stage.on_date != on:
            continue
        keys = {a.key for a in stage.actions}
        values = [
            m.variables["valor"] for m in ruler.published("MessageRequested") if m.key in keys
        ]
        out.append((stage.amount_cents, values))
    return out


def stored_amount(ruler: Ruler) -> int:
    with ruler.engine.connect() as conn:
        return int(
            conn.execute(
                sa.select(receivables.c.amount_cents).where(receivables.c.receivable_id == "d1")
            ).scalar_one()
        )


def test_a_debt_back_from_a_broken_agreement_re_imported_still_owes_what_it_owed(
    ruler: Ruler,
) -> None:
    # R$ 400,00 of the agreement were paid before it broke: the debt owes R$ 600,00.
    ruler.receive(reopened(paid=40_000), today=REOPENED_ON)
    ruler.receive(reimported(version=4), today=REFRESH)

    ruler.app.run_day(REFRESH)

    # Questionamento (day 10 passed): it charges what is owed, not the original R$ 1.000,00.
    assert charged(ruler, REFRESH) == [(60_000, ["R$ 600,00"])]


def test_a_new_original_amount_keeps_every_payment_deducted(ruler: Ruler) -> None:
    ruler.receive(reopened(paid=40_000), today=REOPENED_ON)
    # A payment to the broken agreement's boleto, reported late: R$ 100,00 more deducted.
    ruler.receive(deducted(10_000, paid=50_000, balance=50_000, version=4), today=REOPENED_ON)
    # The creditor corrects the debt's original amount to R$ 1.200,00.
    ruler.receive(
        reimported(version=5, amount=120_000, changes=amount_changed(100_000, 120_000)),
        today=REFRESH,
    )
    assert stored_amount(ruler) == 70_000  # R$ 1.200,00 less the R$ 500,00 paid

    # Read again (a redelivery, a restart): the older outcomes change nothing.
    ruler.receive(reopened(paid=40_000), today=REFRESH)
    ruler.receive(deducted(10_000, paid=50_000, balance=50_000, version=4), today=REFRESH)
    ruler.receive(
        reimported(version=5, amount=120_000, changes=amount_changed(100_000, 120_000)),
        today=REFRESH,
    )
    assert stored_amount(ruler) == 70_000

    ruler.app.run_day(REFRESH)
    assert charged(ruler, REFRESH) == [(70_000, ["R$ 700,00"])]


def test_a_payment_deducted_after_the_re_import_is_taken_off_the_new_amount(
    ruler: Ruler,
) -> None:
    ruler.receive(reopened(paid=40_000), today=REOPENED_ON)
    ruler.receive(
        reimported(version=4, amount=80_000, changes=amount_changed(100_000, 80_000)),
        today=REFRESH,
    )
    assert stored_amount(ruler) == 40_000
    # The portfolio deducts from the new amount too: R$ 800,00 - R$ 500,00.
    ruler.receive(deducted(10_000, paid=50_000, balance=30_000, version=5), today=REFRESH)
    assert stored_amount(ruler) == 30_000
    # An outcome older than the re-import, read late, is not what the debt owes now.
    ruler.receive(deducted(10_000, paid=50_000, balance=50_000, version=4), today=REFRESH)
    assert stored_amount(ruler) == 30_000


def test_the_bureau_lists_what_the_re_imported_debt_owes(ruler: Ruler) -> None:
    ruler.receive(reopened(paid=40_000), today=REOPENED_ON)
    ruler.app.run_day(REOPENED_ON)  # questionamento
    ruler.receive(reimported(version=4), today=REFRESH)
    # Day 45 on Monday 16/11 (the notice of the listing), then 10 days after: Thursday 26/11.
    ruler.run(REFRESH, REOPENED_ON + dt.timedelta(days=14))

    [listed] = ruler.published("DebtorNegativated")
    assert (listed.receivable_id, listed.amount_cents) == ("d1", 60_000)
    # The remittance file's inclusion record says it too.
    [record] = [r for r in ruler.bureau.read_records() if r["record_type"] == "I"]
    assert int(record["amount_cents"]) == 60_000


def test_a_debt_never_paid_takes_the_re_imported_amount_as_before(tmp_path: Path) -> None:
    ruler = Ruler(tmp_path)
    ruler.receive(debt("d1"))
    ruler.receive(reimported(version=2, amount=90_000, changes=amount_changed(100_000, 90_000)))
    assert stored_amount(ruler) == 90_000


def test_a_ruler_database_from_before_still_knows_what_was_paid(tmp_path: Path) -> None:
    """The ruler's table from before it kept what was paid: the column is added at start, and
    a debt reopened then (its balance stored, not its payments) re-imported owes its new
    original amount less what its balance said was paid."""
    ruler = Ruler(tmp_path)
    ruler.receive(debt("d1"))
    ruler.receive(
        AgreementClosed(**agreement_fields(CLOSED_ON), debtor_name="João da Silva"),
        today=CLOSED_ON,
    )
    ruler.receive(reopened(paid=40_000), today=REOPENED_ON)
    with ruler.engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE ruler_receivables DROP COLUMN paid_cents"))
    ruler.table = ReceivablesTable(ruler.engine, ruler.vault)
    ruler.app.receivables = ruler.table
    columns = {c["name"] for c in sa.inspect(ruler.engine).get_columns("ruler_receivables")}
    assert "paid_cents" in columns

    ruler.receive(
        reimported(version=4, amount=120_000, changes=amount_changed(100_000, 120_000)),
        today=REFRESH,
    )
    assert stored_amount(ruler) == 80_000
    ruler.receive(reimported(version=5, amount=120_000), today=REFRESH)
    assert stored_amount(ruler) == 80_000
