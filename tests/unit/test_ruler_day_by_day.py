"""The ruler runs a day only with what was true on that day (QA pass 7, D3 and D7). Its day
runs (the clock's `DayStarted`, one at a time) and its receivables' consumer (portfolio.debts,
the negotiation topics) read separately: over `cobranca clock advance --days 48`, or a
catch-up after downtime, the consumer reads an agreement's break dated 09/03 while the runs
are still in January. Before, the ruler then listed the reopened debts in the remessa of
02/02 (when the agreement was in good standing: listed with no notice in business time),
stopped the installments' reminders and stages from January on, and staged the debts with
the days overdue of a January day (773 instead of 819). Now a receivable enters collection
on its date and leaves on its date: the run of day D goes over it only when entered <= D <
left, and one leaving or coming back on a day the runs have not reached is finalized or
restarted when they reach it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiokafka import ConsumerRecord, TopicPartition

from contracts.envelope import Envelope
from contracts.negotiation import (
    AgreementBroken,
    AgreementClosed,
    AgreementDebt,
    AgreementInstallment,
    BrokenAgreementDebt,
    InstallmentPaid,
    PaymentConditionTerms,
)
from contracts.portfolio import DEBTS_TOPIC, DebtReopened
from services.ruler.adapters.consumers import ReceivablesApplier
from services.ruler.adapters.receivables import ReceivablesTable
from tests.unit.test_ruler_app import JOAO, Ruler, debt, env
from tests.unit.test_ruler_listing_notice import settled

DUE = dt.date(2023, 12, 11)  # the three debts of Banco Horizonte
CLOSED_ON = dt.date(2026, 1, 5)  # a 3x agreement, its first installment paid that day
SECOND_DUE = dt.date(2026, 2, 5)  # a Thursday
THIRD_DUE = dt.date(2026, 3, 5)  # a Thursday
ADVANCED_FROM = dt.date(2026, 1, 20)  # `clock advance --days 48` from here...
BROKEN_ON = dt.date(2026, 3, 9)  # ...to Monday 09/03: the agreement breaks that day
DEBTS = ("d1", "d2", "d3")


def boleto(number: int, due: dt.date) -> AgreementInstallment:
    return AgreementInstallment(
        number=number,
        due_date=due,
        amount_cents=399_676,
        invoice_id=f"inv-{number}",
        nosso_numero=str(number),
        barcode="1" * 44,
        digitable_line="1" * 47,
        pix_txid=f"TX{number}",
        pix_code="000201",
    )


def closed() -> AgreementClosed:
    return AgreementClosed(
        **env("a1", 1),
        agreement_id="a1",
        document=JOAO,
        creditor="Banco Horizonte",
        debt_ids=list(DEBTS),
        debts=[
            AgreementDebt(
                debt_id=d,
                contract=f"C-{d}",
                installment="1",
                due_date=DUE,
                principal_cents=353_383,
                penalty_cents=0,
                interest_cents=0,
                correction_cents=0,
                updated_value_cents=353_383,
                days_overdue=756,
            )
            for d in DEBTS
        ],
        channel="portal",
        condition_id="c1",
        condition=PaymentConditionTerms(installments=3),
        closed_on=CLOSED_ON,
        principal_cents=1_060_149,
        charges_cents=0,
        updated_value_cents=1_060_149,
        principal_discount_cents=0,
        charges_discount_cents=0,
        discount_cents=0,
        total_cents=1_199_028,
        installments=[boleto(1, CLOSED_ON), boleto(2, SECOND_DUE), boleto(3, THIRD_DUE)],
        debtor_name="Cláudio Souza",
    )


def first_paid() -> InstallmentPaid:
    return InstallmentPaid(
        **env("a1", 2),
        agreement_id="a1",
        invoice_id="inv-1",
        document=JOAO,
        creditor="Banco Horizonte",
        installment_number=1,
        due_date=CLOSED_ON,
        amount_cents=399_676,
        paid_cents=399_676,
        paid_on=CLOSED_ON,
        days_late=0,
        payment_ids=["p1"],
    )


def broken() -> list[Envelope]:
    """What the negotiation service and the portfolio publish on 09/03: the break (its
    unpaid invoices cancelled) and the three debts back, R$ 1.868,24 owed on each."""
    shares = [
        BrokenAgreementDebt(debt_id=d, paid_cents=166_559, balance_cents=186_824) for d in DEBTS
    ]
    return [
        AgreementBroken(
            **env("a1", 3),
            agreement_id="a1",
            document=JOAO,
            creditor="Banco Horizonte",
            broken_on=BROKEN_ON,
            rule="later_installment",
            installment_number=2,
            days_overdue=32,
            paid_cents=499_677,
            debts=shares,
        ),
        *(
            DebtReopened(
                **env(d, 3),
                debt_id=d,
                document=JOAO,
                creditor="Banco Horizonte",
                contract=f"C-{d}",
                installment="1",
                agreement_id="a1",
                reopened_on=BROKEN_ON,
                paid_cents=166_559,
                balance_cents=186_824,
            )
            for d in DEBTS
        ),
    ]


@pytest.fixture
def ruler(tmp_path: Path) -> Ruler:
    """The debts imported on 05/01 and renegotiated that day, the entrada paid; the ruler's
    runs until 20/01; then the clock jumps to 09/03, and the receivables' consumer reads the
    break before the runs of 21/01..06/03 happen."""
    found = Ruler(tmp_path)
    found.receive(*(debt(d, due=DUE, amount=353_383) for d in DEBTS), today=CLOSED_ON)
    found.receive(closed(), first_paid(), today=CLOSED_ON)
    found.run(CLOSED_ON, ADVANCED_FROM)
    found.receive(*broken(), today=ADVANCED_FROM)
    return found


def days(start: dt.date, end: dt.date) -> list[dt.date]:
    """The business days (weekdays) from `start` to `end`, as `Ruler.run` runs them."""
    count = (end - start).days + 1
    every = (start + dt.timedelta(days=n) for n in range(count))
    return [day for day in every if day.weekday() < 5]


def stages(ruler: Ruler) -> list[tuple[str, str, int, dt.date]]:
    return [
        (s.receivable_id, s.to_stage, s.days_overdue, s.on_date)
        for s in ruler.published("StageAdvanced")
    ]


def test_the_days_before_the_break_run_with_the_agreement_in_good_standing(
    ruler: Ruler,
) -> None:
    reminded_on = [
        day
        for day in days(ADVANCED_FROM + dt.timedelta(days=1), BROKEN_ON - dt.timedelta(days=1))
        if ruler.app.run_day(day)["reminders"]
    ]

    # Never listed while the agreement stood (the remessa of 02/02 and any other).
    assert ruler.bureau.read_records() == []
    assert ruler.published("DebtorNegativated") == []
    assert not [s for s in stages(ruler) if s[0] in DEBTS]
    # The installments go on: their reminders before their due dates (the 5-day one falls on
    # a Saturday both times: it goes on the Friday before), the second's stages once overdue.
    reminders = [
        (m.receivable_id, m.key.split("|")[3])
        for m in ruler.published("MessageRequested")
        if m.purpose == "pre_due"
    ]
    assert reminders == [("inv-2", "5"), ("inv-2", "3"), ("inv-3", "5"), ("inv-3", "3")]
    assert reminded_on == [
        dt.date(2026, 1, 30),
        dt.date(2026, 2, 2),
        dt.date(2026, 2, 27),
        dt.date(2026, 3, 2),
    ]
    assert stages(ruler) == [
        ("inv-2", "notice", 4, dt.date(2026, 2, 9)),
        ("inv-2", "questioning", 11, dt.date(2026, 2, 16)),
    ]
    assert ruler.published("ReceivableLeftRuler") == []


def test_on_the_day_of_the_break_the_debts_come_back_overdue_as_on_that_day(
    ruler: Ruler,
) -> None:
    ruler.run(ADVANCED_FROM + dt.timedelta(days=1), BROKEN_ON)

    left = [(e.receivable_id, e.reason, e.on_date) for e in ruler.published("ReceivableLeftRuler")]
    # The renegotiated debts never entered the ruler (closed before its first run), the
    # entrada was paid: the two unpaid installments are cancelled on 09/03.
    assert left == [("inv-2", "cancelled", BROKEN_ON), ("inv-3", "cancelled", BROKEN_ON)]
    # 819 days after 11/12/2023, on 09/03/2026 (not 773, the days of 22/01).
    assert [s for s in stages(ruler) if s[0] in DEBTS] == [
        (d, "credit_bureau", 819, BROKEN_ON) for d in DEBTS
    ]
    # Noticed before being listed, ten days later at the earliest.
    notices = [m for m in ruler.published("MessageRequested") if "|listing_notice|" in m.key]
    assert [(m.receivable_id, m.variables["valor"]) for m in notices] == [
        (d, "R$ 1.868,24") for d in DEBTS
    ]
    assert {m.variables["data_negativacao"] for m in notices} == {"19/03/2026"}
    assert ruler.bureau.read_records() == []


def consumer_record(event: Envelope, offset: int) -> Any:
    return ConsumerRecord(
        topic=DEBTS_TOPIC,
        partition=0,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=event.partition_key(),
        value=event.model_dump_json().encode(),
        checksum=None,
        serialized_key_size=0,
        serialized_value_size=0,
        headers=[("event-id", str(event.event_id).encode())],
    )


def test_a_debt_imported_after_its_days_run_is_caught_up_on_the_next_run(tmp_path: Path) -> None:
    """The opposite race: the runs ahead of the consumer. A debt imported on Monday 09/03 is
    read after that day's run: it enters collection on 09/03, and Tuesday's run goes over
    it (as before)."""
    ruler = Ruler(tmp_path)
    ruler.run(BROKEN_ON, BROKEN_ON)
    consumer = ReceivablesApplier(ruler.app, ruler.table, ruler.engine, lambda: BROKEN_ON)
    late = debt("d9", due=DUE)
    consumer.apply_records({TopicPartition(DEBTS_TOPIC, 0): [consumer_record(late, 0)]})

    ruler.run(BROKEN_ON + dt.timedelta(days=1), BROKEN_ON + dt.timedelta(days=1))
    assert stages(ruler) == [("d9", "credit_bureau", 820, BROKEN_ON + dt.timedelta(days=1))]


def test_a_debt_imported_after_the_runs_day_is_not_gone_over_before_its_day(
    tmp_path: Path,
) -> None:
    """A debt imported on 09/03 (the clock's day as the consumer reads it) while the runs are
    still in January is gone over from 09/03 on, with the days overdue of 09/03."""
    ruler = Ruler(tmp_path)
    ruler.run(ADVANCED_FROM, ADVANCED_FROM)
    consumer = ReceivablesApplier(ruler.app, ruler.table, ruler.engine, lambda: BROKEN_ON)
    consumer.apply_records(
        {TopicPartition(DEBTS_TOPIC, 0): [consumer_record(debt("d9", due=DUE), 0)]}
    )

    ruler.run(ADVANCED_FROM + dt.timedelta(days=1), BROKEN_ON - dt.timedelta(days=1))
    assert stages(ruler) == []
    ruler.run(BROKEN_ON, BROKEN_ON)
    assert stages(ruler) == [("d9", "credit_bureau", 819, BROKEN_ON)]


def test_a_ruler_database_from_before_the_dates_runs_as_it_did(tmp_path: Path) -> None:
    """The table from before the ruler kept when a receivable entered and left: the columns
    are added at start, empty. A row open then is gone over from any day, one that had left
    on no day at all."""
    ruler = Ruler(tmp_path)
    ruler.receive(debt("d1", due=DUE), debt("d2", due=DUE))
    ruler.receive(settled("d2", CLOSED_ON), today=CLOSED_ON)
    with ruler.engine.begin() as conn:
        conn.execute(sa.text("DROP INDEX ix_ruler_receivables_left_on"))
        conn.execute(sa.text("ALTER TABLE ruler_receivables DROP COLUMN left_on"))
        conn.execute(sa.text("ALTER TABLE ruler_receivables DROP COLUMN entered_on"))
    ruler.table = ReceivablesTable(ruler.engine, ruler.vault)
    ruler.app.receivables = ruler.table
    columns = {c["name"] for c in sa.inspect(ruler.engine).get_columns("ruler_receivables")}
    assert {"entered_on", "left_on"} <= columns

    ruler.app.run_day(CLOSED_ON - dt.timedelta(days=1))
    assert [s[:2] for s in stages(ruler)] == [("d1", "credit_bureau")]
