"""The analytics indicators on a small scripted history, every figure computed by hand below,
per cut; and their properties on any history (hypothesis).

The history (tenant acme; a manual business clock whose dates run in 2026 while the wall clock
says June 2025, so a placement's business date can only come from the clock's days):

debts placed (all on business date 2026-01-05 but D7, on 2026-03-02; days overdue then)
  D1 Ana    Banco Horizonte   jan-banco   R$ 1.000,00  due 2025-12-20   16 -> 0-30
  D2 Ana    Banco Horizonte   dez-banco   R$   500,00  due 2025-10-01   96 -> 91-180
  D3 Bruno  Banco Horizonte   jan-banco   R$ 2.000,00  due 2025-11-01   65 -> 31-90
  D4 Carla  Varejo Bom Preço  jan-varejo  R$   800,00  due 2024-06-01  583 -> >360
  D5 Davi   Varejo Bom Preço  jan-varejo  R$   400,00  due 2025-03-01  310 -> 181-360
  D6 Eva    Varejo Bom Preço  jan-varejo  R$   300,00  due 2025-12-31    5 -> 0-30
  D7 Fabio  Varejo Bom Preço  mar-varejo  R$   600,00  due 2026-01-15   46 -> 31-90

agreements (closed; channel/operator; n; discount over updated value; 1st due -> paid)
  A1 Ana D1+D2  01-08 portal          1x  10.000/160.000 =  6.25% (1-20%)  01-10 -> 01-10
  A2 Bruno D3   01-15 operator ana    3x       0/220.000 =  0%             01-20 -> 01-23
  A3 Carla D4   01-28 operator bruno  6x  60.000/120.000 = 50% (41-60%)    02-02 -> never
  A4 Davi D5    02-03 chatbot         2x  35.000/ 50.000 = 70% (>60%)      02-10 -> 02-14
  A5 Fabio D7   03-10 portal          1x   2.000/ 62.000 =  3.2% (1-20%)   03-20 -> never
  A3 broke on 02-07, A5 on 03-25.

money received (PaymentReceived, applied to invoices)
  A1 150.000 on 01-10 (shared by principal: D1 100.000, D2 50.000)
  A2 73.334 on 01-23, 40.000 on 02-15 (partial), 33.333 on 02-20 -> D3 146.667
  A4 8.000 on 02-14: 7.500 applied, 500 excess (the debtor's credit: not recovery) -> D5 7.500
  A3 10.000 on 02-20 after its break: all excess, nothing applied
  an unmatched payment of 9.999: no debt to attribute it to
  DebtSettled of D1 and D2 (A1 fulfilled) repeat A1's money: not added again
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re
from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics import charts, frames, indicators, reports
from analytics.facts import (
    Agreement,
    BusinessCalendar,
    BusinessDay,
    Facts,
    FactsCollector,
    InstallmentPayment,
    Placement,
    Receipt,
    aging_bucket,
    assemble,
    discount_band,
)
from analytics.indicators import UnknownCut
from contracts.clock import DayStarted
from contracts.envelope import Envelope, derived_event_id
from contracts.negotiation import (
    AgreementBroken,
    AgreementClosed,
    AgreementDebt,
    AgreementInstallment,
    AgreementPaymentShared,
    BrokenAgreementDebt,
    InstallmentPaid,
    PaymentConditionTerms,
    PaymentReceived,
    SharedPaymentDebt,
)
from contracts.portfolio import (
    CarteiraImportStarted,
    CarteiraImportStartedV2,
    DebtImported,
    DebtorContact,
    DebtSettled,
)

ACME = "acme"
OTHER = "other"
BANCO = "Banco Horizonte"
VAREJO = "Varejo Bom Preço"
AS_OF = dt.date(2026, 3, 31)
# The wall clock while the manual business clock runs through 2026.
WALL = dt.datetime(2025, 6, 2, 9, 0, tzinfo=dt.UTC)
FIRST_DAY = dt.date(2026, 1, 5)

D = dt.date


def started_at(date: dt.date) -> dt.datetime:
    # One business date a minute: the manual clock advanced quickly.
    return WALL + dt.timedelta(minutes=(date - FIRST_DAY).days)


def _env(
    kind: str, aggregate_id: str, tenant: str = ACME, at: dt.datetime = WALL
) -> dict[str, Any]:
    return {
        "event_id": derived_event_id("test", kind, tenant, aggregate_id),
        "occurred_at": at,
        "tenant": tenant,
        "aggregate_id": aggregate_id,
        "aggregate_version": 1,
        "correlation_id": aggregate_id,
        "causation_id": aggregate_id,
    }


def day(date: dt.date) -> DayStarted:
    return DayStarted(
        **_env("day", date.isoformat(), "platform", started_at(date)),
        date=date,
        business_day=date.weekday() < 5,
        mode="manual",
    )


def placed(
    debt_id: str,
    document: str,
    creditor: str,
    carteira: str,
    cents: int,
    due: dt.date,
    on: dt.date,
    tenant: str = ACME,
) -> DebtImported:
    return DebtImported(
        **_env("debt", debt_id, tenant, started_at(on) + dt.timedelta(seconds=30)),
        debt_id=debt_id,
        document=document,
        document_kind="cpf",
        debtor=DebtorContact(name=document),
        creditor=creditor,
        contract=f"C-{debt_id}",
        installment="1",
        original_amount_cents=cents,
        due_date=due,
        import_id=carteira,
        row_key=debt_id,
    )


def closed(
    agreement_id: str,
    document: str,
    creditor: str,
    debts: Sequence[tuple[str, int]],
    *,
    channel: str,
    operator: str | None,
    n: int,
    on: dt.date,
    updated: int,
    discount: int,
    first_due: dt.date,
    first_amount: int,
    tenant: str = ACME,
) -> AgreementClosed:
    principal = sum(p for _, p in debts)
    total = updated - discount
    installments = [
        AgreementInstallment(
            number=i,
            due_date=first_due + dt.timedelta(days=30 * (i - 1)),
            amount_cents=first_amount if i == 1 else max(1, (total - first_amount) // (n - 1)),
            invoice_id=f"{agreement_id}-{i}",
            nosso_numero=f"{i:011d}",
            barcode="0" * 44,
            digitable_line="0" * 47,
            pix_txid=f"tx{agreement_id}{i}",
            pix_code="000201",
        )
        for i in range(1, n + 1)
    ]
    return AgreementClosed(
        **_env("agreement", agreement_id, tenant),
        agreement_id=agreement_id,
        document=document,
        debtor_name=document,
        creditor=creditor,
        debt_ids=[d for d, _ in debts],
        debts=[
            AgreementDebt(
                debt_id=d,
                contract=f"C-{d}",
                installment="1",
                due_date=D(2025, 1, 1),
                principal_cents=p,
                penalty_cents=0,
                interest_cents=0,
                correction_cents=0,
                updated_value_cents=p,
                days_overdue=1,
            )
            for d, p in debts
        ],
        channel=channel,  # type: ignore[arg-type]
        operator=operator,
        condition_id="cond",
        condition=PaymentConditionTerms(installments=n),
        closed_on=on,
        principal_cents=principal,
        charges_cents=max(0, updated - principal),
        updated_value_cents=updated,
        principal_discount_cents=0,
        charges_discount_cents=discount,
        discount_cents=discount,
        total_cents=total,
        installments=installments,
    )


def paid(
    agreement_id: str, number: int, due: dt.date, amount: int, on: dt.date, tenant: str = ACME
) -> InstallmentPaid:
    return InstallmentPaid(
        **_env("paid", f"{agreement_id}#{number}", tenant),
        agreement_id=agreement_id,
        invoice_id=f"{agreement_id}-{number}",
        document="x",
        creditor="x",
        installment_number=number,
        due_date=due,
        amount_cents=amount,
        paid_cents=amount,
        paid_on=on,
        days_late=max(0, (on - due).days),
        payment_ids=["p"],
    )


def received(
    payment_id: str,
    agreement_id: str | None,
    amount: int,
    applied: int,
    on: dt.date,
    outcome: str = "paid",
) -> PaymentReceived:
    return PaymentReceived(
        **_env("payment", payment_id),
        payment_id=payment_id,
        source="api",
        reference=payment_id,
        agreement_id=agreement_id,
        amount_cents=amount,
        paid_on=on,
        outcome=outcome,  # type: ignore[arg-type]
        applied_cents=applied,
        balance_cents=0,
        credit_cents=amount - applied,
    )


def broken(agreement_id: str, debt_id: str, on: dt.date) -> AgreementBroken:
    return AgreementBroken(
        **_env("broken", agreement_id),
        agreement_id=agreement_id,
        document="x",
        creditor="x",
        broken_on=on,
        rule="first_installment",
        installment_number=1,
        days_overdue=5,
        paid_cents=0,
        debts=[BrokenAgreementDebt(debt_id=debt_id, paid_cents=0, balance_cents=1)],
    )


def settled(debt_id: str, agreement_id: str, on: dt.date, cents: int) -> DebtSettled:
    return DebtSettled(
        **_env("settled", debt_id),
        debt_id=debt_id,
        document="x",
        creditor="x",
        contract="c",
        installment="1",
        agreement_id=agreement_id,
        settled_on=on,
        paid_cents=cents,
    )


def carteira(
    import_id: str, filename: str | None, tenant: str = ACME, declared: bool = False
) -> CarteiraImportStarted | CarteiraImportStartedV2:
    if not declared:
        return CarteiraImportStarted(
            **_env("import", import_id, tenant), import_id=import_id, source="upload",
            filename=filename,
        )  # fmt: skip
    # A client's import, named when it declares its rows: published again, version 2.
    return CarteiraImportStartedV2(
        **_env("declared", import_id, tenant), import_id=import_id, source="client",
        filename=filename, received_at=WALL,
    )  # fmt: skip


def history() -> list[Envelope]:
    days = [day(FIRST_DAY + dt.timedelta(days=i)) for i in range((AS_OF - FIRST_DAY).days + 1)]
    return [
        *days,
        placed("D1", "ana", BANCO, "jan-banco", 100_000, D(2025, 12, 20), FIRST_DAY),
        placed("D2", "ana", BANCO, "dez-banco", 50_000, D(2025, 10, 1), FIRST_DAY),
        placed("D3", "bruno", BANCO, "jan-banco", 200_000, D(2025, 11, 1), FIRST_DAY),
        placed("D4", "carla", VAREJO, "jan-varejo", 80_000, D(2024, 6, 1), FIRST_DAY),
        placed("D5", "davi", VAREJO, "jan-varejo", 40_000, D(2025, 3, 1), FIRST_DAY),
        placed("D6", "eva", VAREJO, "jan-varejo", 30_000, D(2025, 12, 31), FIRST_DAY),
        placed("D7", "fabio", VAREJO, "mar-varejo", 60_000, D(2026, 1, 15), D(2026, 3, 2)),
        placed("O1", "zeca", BANCO, "z", 70_000, D(2025, 12, 1), FIRST_DAY, tenant=OTHER),
        # The carteiras' files: two share a name; mar-varejo is named when it is declared.
        carteira("jan-banco", "janeiro-banco.csv"),
        carteira("dez-banco", "lote.csv"),
        carteira("jan-varejo", "lote.csv"),
        carteira("mar-varejo", None),
        carteira("mar-varejo", "março-varejo.csv", declared=True),
        carteira("z", "lote.csv", tenant=OTHER),
        closed(
            "A1",
            "ana",
            BANCO,
            [("D1", 100_000), ("D2", 50_000)],
            channel="portal",
            operator=None,
            n=1,
            on=D(2026, 1, 8),
            updated=160_000,
            discount=10_000,
            first_due=D(2026, 1, 10),
            first_amount=150_000,
        ),
        closed(
            "A2",
            "bruno",
            BANCO,
            [("D3", 200_000)],
            channel="operator",
            operator="ana@acme",
            n=3,
            on=D(2026, 1, 15),
            updated=220_000,
            discount=0,
            first_due=D(2026, 1, 20),
            first_amount=73_334,
        ),
        closed(
            "A3",
            "carla",
            VAREJO,
            [("D4", 80_000)],
            channel="operator",
            operator="bruno@acme",
            n=6,
            on=D(2026, 1, 28),
            updated=120_000,
            discount=60_000,
            first_due=D(2026, 2, 2),
            first_amount=10_000,
        ),
        closed(
            "A4",
            "davi",
            VAREJO,
            [("D5", 40_000)],
            channel="chatbot",
            operator=None,
            n=2,
            on=D(2026, 2, 3),
            updated=50_000,
            discount=35_000,
            first_due=D(2026, 2, 10),
            first_amount=7_500,
        ),
        closed(
            "A5",
            "fabio",
            VAREJO,
            [("D7", 60_000)],
            channel="portal",
            operator=None,
            n=1,
            on=D(2026, 3, 10),
            updated=62_000,
            discount=2_000,
            first_due=D(2026, 3, 20),
            first_amount=60_000,
        ),
        closed(
            "OA1",
            "zeca",
            BANCO,
            [("O1", 70_000)],
            channel="portal",
            operator=None,
            n=1,
            on=D(2026, 1, 6),
            updated=70_000,
            discount=0,
            first_due=D(2026, 1, 6),
            first_amount=70_000,
            tenant=OTHER,
        ),
        paid("A1", 1, D(2026, 1, 10), 150_000, D(2026, 1, 10)),
        paid("A2", 1, D(2026, 1, 20), 73_334, D(2026, 1, 23)),
        paid("A2", 2, D(2026, 2, 19), 73_333, D(2026, 2, 20)),
        paid("A4", 1, D(2026, 2, 10), 7_500, D(2026, 2, 14)),
        received("P1", "A1", 150_000, 150_000, D(2026, 1, 10)),
        received("P2", "A2", 73_334, 73_334, D(2026, 1, 23)),
        received("P3", "A2", 40_000, 40_000, D(2026, 2, 15), "partial"),
        received("P4", "A2", 33_333, 33_333, D(2026, 2, 20)),
        received("P5", "A4", 8_000, 7_500, D(2026, 2, 14), "excess"),
        received("P6", "A3", 10_000, 0, D(2026, 2, 20), "excess"),
        received("P7", None, 9_999, 0, D(2026, 2, 1), "unmatched"),
        settled("D1", "A1", D(2026, 1, 10), 100_000),
        settled("D2", "A1", D(2026, 1, 10), 50_000),
        broken("A3", "D4", D(2026, 2, 7)),
        broken("A5", "D7", D(2026, 3, 25)),
    ]


def collect(events: Sequence[Envelope]) -> Facts:
    collector = FactsCollector()
    collector.add_all(events)
    return collector.facts()


@pytest.fixture(scope="module")
def facts() -> Facts:
    return collect(history()).for_tenant(ACME)


def by_cuts(rows: Sequence[Any], by: Sequence[str]) -> dict[tuple[str, ...], Any]:
    return {tuple(r.cuts[d] for d in by): r for r in rows}


def fpd_table(facts: Facts, k: int, by: Sequence[str], as_of: dt.date = AS_OF) -> dict[Any, Any]:
    rows = indicators.fpd(facts, k=k, as_of=as_of, by=by)
    return {key: (r.agreements, r.defaulted, r.rate) for key, r in by_cuts(rows, by).items()}


def R(text: str) -> Decimal:
    return Decimal(text)


# ---- facts ----------------------------------------------------------------------------------


def test_a_placement_takes_its_business_date_from_the_clock_not_from_the_wall(
    facts: Facts,
) -> None:
    placements = {p.debt_id: p for p in facts.placements}
    assert placements["D1"].placed_on == D(2026, 1, 5)  # wall clock: 2025-06-02
    assert placements["D7"].placed_on == D(2026, 3, 2)
    assert {d: (p.days_overdue, p.aging_bucket) for d, p in placements.items()} == {
        "D1": (16, "0-30"),
        "D2": (96, "91-180"),
        "D3": (65, "31-90"),
        "D4": (583, ">360"),
        "D5": (310, "181-360"),
        "D6": (5, "0-30"),
        "D7": (46, "31-90"),
    }


def test_without_a_day_started_before_it_a_placement_is_dated_in_sao_paulo() -> None:
    # 01:00 UTC is still the evening before in America/Sao_Paulo (UTC-3).
    early = dt.datetime(2025, 6, 2, 1, 0, tzinfo=dt.UTC)
    calendar = BusinessCalendar([BusinessDay(D(2026, 1, 5), early + dt.timedelta(hours=1))])
    assert calendar.date_at(early) == D(2025, 6, 1)
    assert calendar.date_at(early + dt.timedelta(hours=1)) == D(2026, 1, 5)
    assert calendar.date_at(early + dt.timedelta(days=400)) == D(2026, 1, 5)


def test_agreement_facts_carry_cohort_cuts_and_their_debts_carteiras(facts: Facts) -> None:
    a = {x.agreement_id: x for x in facts.agreements}
    assert a["A1"].carteiras == ("dez-banco", "jan-banco")
    assert a["A1"].aging_buckets == ("0-30", "91-180")
    assert (a["A1"].cohort, a["A1"].discount_band, a["A1"].first_due) == (
        "2026-01",
        "1-20%",
        D(2026, 1, 10),
    )
    assert (a["A3"].operator, a["A3"].installments, a["A3"].discount_band) == (
        "bruno@acme",
        6,
        "41-60%",
    )
    assert (a["A4"].discount_band, a["A4"].first_amount_cents) == (">60%", 7_500)
    assert a["A2"].discount_band == "0%"


@pytest.mark.parametrize(
    ("days", "bucket"),
    [(0, "0-30"), (30, "0-30"), (31, "31-90"), (90, "31-90"), (91, "91-180"), (180, "91-180"),
     (181, "181-360"), (360, "181-360"), (361, ">360")],
)  # fmt: skip
def test_aging_buckets_edges(days: int, bucket: str) -> None:
    assert aging_bucket(days) == bucket


@pytest.mark.parametrize(
    ("discount", "band"),
    [(0, "0%"), (1, "1-20%"), (2_000, "1-20%"), (2_001, "21-40%"), (4_000, "21-40%"),
     (4_001, "41-60%"), (6_000, "41-60%"), (6_001, ">60%"), (10_000, ">60%")],
)  # fmt: skip
def test_discount_band_edges_over_an_updated_value_of_100_reais(discount: int, band: str) -> None:
    assert discount_band(discount, 10_000) == band


# ---- FPD ------------------------------------------------------------------------------------


def test_fpd_total_at_0_5_and_30_days(facts: Facts) -> None:
    # k=0: A1 paid on its due date; A2 (3 days late), A4 (4 late), A3 and A5 (never): 4 of 5.
    assert fpd_table(facts, 0, []) == {(): (5, 4, R("0.8000"))}
    # k=5: A2 and A4 paid within 5 days: A3 and A5 left.
    assert fpd_table(facts, 5, []) == {(): (5, 2, R("0.4000"))}
    # k=30: A5 (first due 03-20) is not mature on 03-31; of A1..A4 only A3 never paid.
    assert fpd_table(facts, 30, []) == {(): (4, 1, R("0.2500"))}


def test_fpd_counts_only_mature_agreements_and_payments_known_by_the_as_of_date(
    facts: Facts,
) -> None:
    # On 05/02: A1, A2, A3 first due by then; A4 (due 10/02) is not mature yet.
    assert fpd_table(facts, 0, [], D(2026, 2, 5)) == {(): (3, 2, R("0.6667"))}
    # FPD-5 on 05/02: A1 and A2 mature (due + 5 by 05/02); A2 paid on day 3.
    assert fpd_table(facts, 5, [], D(2026, 2, 5)) == {(): (2, 0, R("0.0000"))}
    # Before any first due date nothing is mature: the total row says so.
    assert fpd_table(facts, 0, [], D(2026, 1, 9)) == {(): (0, 0, None)}


@pytest.mark.parametrize(
    ("k", "dim", "expected"),
    [
        (5, "cohort", {"2026-01": (3, 1, "0.3333"), "2026-02": (1, 0, "0"),
                       "2026-03": (1, 1, "1")}),
        (0, "cohort", {"2026-01": (3, 2, "0.6667"), "2026-02": (1, 1, "1"),
                       "2026-03": (1, 1, "1")}),
        (5, "creditor", {BANCO: (2, 0, "0"), VAREJO: (3, 2, "0.6667")}),
        # A1 counts in both of its carteiras.
        (5, "carteira", {"dez-banco": (1, 0, "0"), "jan-banco": (2, 0, "0"),
                         "jan-varejo": (2, 1, "0.5"), "mar-varejo": (1, 1, "1")}),
        (0, "channel", {"chatbot": (1, 1, "1"), "operator": (2, 2, "1"), "portal": (2, 1, "0.5")}),
        (0, "operator", {"-": (3, 2, "0.6667"), "ana@acme": (1, 1, "1"),
                         "bruno@acme": (1, 1, "1")}),
        (5, "installments", {"1": (2, 1, "0.5"), "2": (1, 0, "0"), "3": (1, 0, "0"),
                             "6": (1, 1, "1")}),
        (5, "discount_band", {"0%": (1, 0, "0"), "1-20%": (2, 1, "0.5"), "41-60%": (1, 1, "1"),
                              ">60%": (1, 0, "0")}),
        (0, "aging_bucket", {"0-30": (1, 0, "0"), "31-90": (2, 2, "1"), "91-180": (1, 0, "0"),
                             "181-360": (1, 1, "1"), ">360": (1, 1, "1")}),
        (30, "channel", {"chatbot": (1, 0, "0"), "operator": (2, 1, "0.5"), "portal": (1, 0, "0")}),
        (0, "tenant", {ACME: (5, 4, "0.8")}),
    ],
)  # fmt: skip
def test_fpd_by_each_cut(
    facts: Facts, k: int, dim: str, expected: dict[str, tuple[int, int, str]]
) -> None:
    assert fpd_table(facts, k, [dim]) == {
        (value,): (n, d, R(r).quantize(R("0.0001"))) for value, (n, d, r) in expected.items()
    }


def test_fpd_by_two_cuts(facts: Facts) -> None:
    assert fpd_table(facts, 0, ["creditor", "channel"]) == {
        (BANCO, "operator"): (1, 1, R("1.0000")),
        (BANCO, "portal"): (1, 0, R("0.0000")),
        (VAREJO, "chatbot"): (1, 1, R("1.0000")),
        (VAREJO, "operator"): (1, 1, R("1.0000")),
        (VAREJO, "portal"): (1, 1, R("1.0000")),
    }


def a_vista(agreement_id: str, closed_and_due: dt.date) -> Agreement:
    return Agreement(ACME, agreement_id, "d", "c", "portal", None, 1, closed_and_due, 100, 0,
                     100, ("x",), (100,), closed_and_due, 100)  # fmt: skip


def test_an_agreement_due_today_is_judged_once_the_day_is_over() -> None:
    # À vista, closed on 06/04 and due that day: during 06/04 it is not mature, paid or not,
    # so a figure taken in the morning is the one taken at night.
    closed = Facts(agreements=(a_vista("AV", D(2026, 4, 6)),))
    paid_that_day = replace(
        closed,
        installments_paid=(InstallmentPayment(ACME, "AV", 1, D(2026, 4, 6), 100, 100,
                                              D(2026, 4, 6)),),
    )  # fmt: skip
    assert fpd_table(closed, 0, [], D(2026, 4, 6)) == {(): (0, 0, None)}
    assert fpd_table(paid_that_day, 0, [], D(2026, 4, 6)) == {(): (0, 0, None)}
    # On 07/04 the day is over: unpaid it defaulted, paid on its due date it did not.
    assert fpd_table(closed, 0, [], D(2026, 4, 7)) == {(): (1, 1, R("1.0000"))}
    assert fpd_table(paid_that_day, 0, [], D(2026, 4, 7)) == {(): (1, 0, R("0.0000"))}
    # FPD-5: judged after 11/04 is over; paid on 11/04 (due + 5) is not a default, on 12/04 is.
    late = replace(
        closed,
        installments_paid=(InstallmentPayment(ACME, "AV", 1, D(2026, 4, 6), 100, 100,
                                              D(2026, 4, 12)),),
    )  # fmt: skip
    on_time = replace(late, installments_paid=(replace(late.installments_paid[0],
                                                       paid_on=D(2026, 4, 11)),))  # fmt: skip
    assert fpd_table(late, 5, [], D(2026, 4, 11)) == {(): (0, 0, None)}
    assert fpd_table(late, 5, [], D(2026, 4, 12)) == {(): (1, 1, R("1.0000"))}
    assert fpd_table(on_time, 5, [], D(2026, 4, 12)) == {(): (1, 0, R("0.0000"))}


def test_an_as_of_after_today_is_refused() -> None:
    today = D(2026, 4, 6)
    assert indicators.check_as_of(None, today) == today
    assert indicators.check_as_of(D(2026, 3, 1), today) == D(2026, 3, 1)
    assert indicators.check_as_of(today, today) == today
    with pytest.raises(indicators.FutureAsOf) as future:
        indicators.check_as_of(D(2027, 12, 31), today)
    assert str(future.value) == (
        "a data 31/12/2027 ainda não chegou: hoje, pelo relógio de negócio, é 06/04/2026; "
        "os indicadores só contam o que já aconteceu"
    )


def test_aging_buckets_and_discount_bands_come_in_their_order_not_as_text(facts: Facts) -> None:
    buckets = ["0-30", "31-90", "91-180", "181-360", ">360"]
    assert [r.cuts["aging_bucket"] for r in indicators.fpd(
        facts, k=0, as_of=AS_OF, by=["aging_bucket"])] == buckets  # fmt: skip
    assert [r.cuts["aging_bucket"] for r in indicators.recovery(
        facts, as_of=AS_OF, by=["aging_bucket"])] == buckets  # fmt: skip
    assert [r.cuts["aging_bucket"] for r in indicators.agreements(
        facts, as_of=AS_OF, by=["aging_bucket"])] == buckets  # fmt: skip
    curve = indicators.recovery_curve(facts, as_of=AS_OF, by=["aging_bucket"], days=[0, 30])
    assert [(c.cuts["aging_bucket"], c.days) for c in curve] == [
        (b, d) for b in buckets for d in (0, 30)
    ]
    report = reports.recovery_report(facts, as_of=AS_OF, by=["aging_bucket"])
    assert [r.cuts["aging_bucket"] for r in report.rows] == buckets
    # Within a cut of two, each value keeps its place: creditor as text, then the buckets.
    two = indicators.recovery(facts, as_of=AS_OF, by=["creditor", "aging_bucket"])
    assert [(r.cuts["creditor"], r.cuts["aging_bucket"]) for r in two] == [
        (BANCO, "0-30"), (BANCO, "31-90"), (BANCO, "91-180"),
        (VAREJO, "0-30"), (VAREJO, "31-90"), (VAREJO, "181-360"), (VAREJO, ">360"),
    ]  # fmt: skip
    bands = indicators.fpd(facts, k=0, as_of=AS_OF, by=["discount_band"])
    assert [r.cuts["discount_band"] for r in bands] == ["0%", "1-20%", "41-60%", ">60%"]


def test_rows_come_in_order_numbers_as_numbers() -> None:
    agreements = tuple(
        Agreement(ACME, f"a{n}", "d", "c", "portal", None, n, D(2026, 1, 1), 100, 0, 100,
                  ("x",), (100,), D(2026, 1, 1), 100)
        for n in (10, 2, 1)
    )  # fmt: skip
    rows = indicators.fpd(Facts(agreements=agreements), k=0, as_of=AS_OF, by=["installments"])
    assert [r.cuts["installments"] for r in rows] == ["1", "2", "10"]


def test_unknown_cuts_and_negative_grace_days_are_refused(facts: Facts) -> None:
    with pytest.raises(UnknownCut) as unknown:
        indicators.fpd(facts, k=0, as_of=AS_OF, by=["color"])
    assert unknown.value.dim == "color"
    with pytest.raises(UnknownCut):
        indicators.recovery(facts, as_of=AS_OF, by=["channel"])  # debts placed have no channel
    with pytest.raises(ValueError):
        indicators.fpd(facts, k=-1, as_of=AS_OF)


# ---- recovery -------------------------------------------------------------------------------


def recovery_table(facts: Facts, by: Sequence[str]) -> dict[Any, Any]:
    rows = indicators.recovery(facts, as_of=AS_OF, by=by)
    return {
        key: (r.debts, r.placed_cents, r.received_cents, r.rate)
        for key, r in by_cuts(rows, by).items()
    }


def test_recovery_counts_each_centavo_received_once(facts: Facts) -> None:
    # 150.000 (A1) + 146.667 (A2) + 7.500 (A4) over 560.000 placed; not the excess, not the
    # unmatched payment, not DebtSettled's or InstallmentPaid's repeats of the same money.
    assert recovery_table(facts, []) == {(): (7, 560_000, 304_167, R("0.5432"))}


@pytest.mark.parametrize(
    ("dim", "expected"),
    [
        ("carteira", {"dez-banco": (1, 50_000, 50_000, "1"),
                      "jan-banco": (2, 300_000, 246_667, "0.8222"),
                      "jan-varejo": (3, 150_000, 7_500, "0.05"),
                      "mar-varejo": (1, 60_000, 0, "0")}),
        ("creditor", {BANCO: (3, 350_000, 296_667, "0.8476"),
                      VAREJO: (4, 210_000, 7_500, "0.0357")}),
        ("aging_bucket", {"0-30": (2, 130_000, 100_000, "0.7692"),
                          "31-90": (2, 260_000, 146_667, "0.5641"),
                          "91-180": (1, 50_000, 50_000, "1"),
                          "181-360": (1, 40_000, 7_500, "0.1875"),
                          ">360": (1, 80_000, 0, "0")}),
        ("placement_month", {"2026-01": (6, 500_000, 304_167, "0.6083"),
                             "2026-03": (1, 60_000, 0, "0")}),
    ],
)  # fmt: skip
def test_recovery_by_each_cut(
    facts: Facts, dim: str, expected: dict[str, tuple[int, int, int, str]]
) -> None:
    assert recovery_table(facts, [dim]) == {
        (value,): (n, placed_, got, R(r).quantize(R("0.0001")))
        for value, (n, placed_, got, r) in expected.items()
    }


def test_recovery_curve_by_days_since_placement(facts: Facts) -> None:
    curve = indicators.recovery_curve(facts, as_of=AS_OF, days=[0, 30, 60, 90])
    assert [(c.days, c.debts, c.placed_cents, c.received_cents, c.rate) for c in curve] == [
        (0, 7, 560_000, 0, R("0.0000")),
        # D7 (placed 02/03) is not 30 days old on 31/03: left out from here on.
        (30, 6, 500_000, 223_334, R("0.4467")),  # A1 150.000 + A2's first 73.334
        (60, 6, 500_000, 304_167, R("0.6083")),
        # 90 days after 05/01 is 05/04: no debt is that old yet; the row says so.
        (90, 0, 0, 0, None),
    ]
    by_creditor = indicators.recovery_curve(facts, as_of=AS_OF, by=["creditor"], days=[0, 30, 60])
    assert [
        (c.cuts["creditor"], c.days, c.debts, c.placed_cents, c.received_cents, c.rate)
        for c in by_creditor
    ] == [
        (BANCO, 0, 3, 350_000, 0, R("0.0000")),
        (BANCO, 30, 3, 350_000, 223_334, R("0.6381")),
        (BANCO, 60, 3, 350_000, 296_667, R("0.8476")),
        (VAREJO, 0, 4, 210_000, 0, R("0.0000")),
        (VAREJO, 30, 3, 150_000, 0, R("0.0000")),
        (VAREJO, 60, 3, 150_000, 7_500, R("0.0500")),
    ]


def test_every_horizon_asked_for_has_its_rows_even_when_no_debt_is_that_old(
    facts: Facts,
) -> None:
    # On 20/01 every debt placed is 15 days old or less (D7 not placed yet): 30 and 90 are
    # asked for and answered, with nothing counted, per cut as in the total.
    curve = indicators.recovery_curve(facts, as_of=D(2026, 1, 20), days=[0, 30, 90])
    assert [(c.days, c.debts, c.placed_cents, c.rate) for c in curve] == [
        (0, 6, 500_000, R("0.0000")),
        (30, 0, 0, None),
        (90, 0, 0, None),
    ]
    by_creditor = indicators.recovery_curve(
        facts, as_of=D(2026, 1, 20), by=["creditor"], days=[0, 30]
    )
    assert [(c.cuts["creditor"], c.days, c.debts, c.rate) for c in by_creditor] == [
        (BANCO, 0, 3, R("0.0000")),
        (BANCO, 30, 0, None),
        (VAREJO, 0, 3, R("0.0000")),
        (VAREJO, 30, 0, None),
    ]
    # Nothing placed at all: still a row a day.
    assert [(c.days, c.debts, c.rate) for c in indicators.recovery_curve(
        Facts(), as_of=AS_OF, days=[0, 30])] == [(0, 0, None), (30, 0, None)]  # fmt: skip
    report = reports.recovery_report(facts, as_of=D(2026, 1, 20), curve_days=[0, 30, 90])
    assert [(c.days, c.debts, c.rate) for c in report.curve] == [
        (0, 6, R("0")),
        (30, 0, None),
        (90, 0, None),
    ]


def test_a_payment_is_shared_by_its_agreements_debts_in_proportion_to_principal() -> None:
    assert indicators.split_by_principal(100, [1, 1, 1]) == [34, 33, 33]
    assert indicators.split_by_principal(150_000, [100_000, 50_000]) == [100_000, 50_000]
    assert sum(indicators.split_by_principal(99_999, [7, 13, 29])) == 99_999


# ---- agreements and breaks ------------------------------------------------------------------


def agreements_table(facts: Facts, by: Sequence[str], as_of: dt.date = AS_OF) -> dict[Any, Any]:
    rows = indicators.agreements(facts, as_of=as_of, by=by)
    return {
        key: (r.debtors, r.debtors_with_agreement, r.agreement_rate, r.agreements, r.broken,
              r.break_rate)
        for key, r in by_cuts(rows, by).items()
    }  # fmt: skip


def test_agreement_and_break_rates(facts: Facts) -> None:
    # Six debtors placed, five agreed (not Eva); five agreements, A3 and A5 broken.
    assert agreements_table(facts, []) == {(): (6, 5, R("0.8333"), 5, 2, R("0.4000"))}
    assert agreements_table(facts, ["creditor"]) == {
        (BANCO,): (2, 2, R("1.0000"), 2, 0, R("0.0000")),
        (VAREJO,): (4, 3, R("0.7500"), 3, 2, R("0.6667")),
    }
    assert agreements_table(facts, ["carteira"]) == {
        ("dez-banco",): (1, 1, R("1.0000"), 1, 0, R("0.0000")),
        ("jan-banco",): (2, 2, R("1.0000"), 2, 0, R("0.0000")),
        ("jan-varejo",): (3, 2, R("0.6667"), 2, 1, R("0.5000")),
        ("mar-varejo",): (1, 1, R("1.0000"), 1, 1, R("1.0000")),
    }
    # Debtors placed have no channel: only the break rate.
    assert agreements_table(facts, ["channel"]) == {
        ("chatbot",): (None, None, None, 1, 0, R("0.0000")),
        ("operator",): (None, None, None, 2, 1, R("0.5000")),
        ("portal",): (None, None, None, 2, 1, R("0.5000")),
    }
    # On 05/02: Fabio not placed yet, A5 not closed, nothing broken yet (A3 broke 07/02).
    assert agreements_table(facts, [], D(2026, 2, 5)) == {
        (): (5, 4, R("0.8000"), 4, 0, R("0.0000"))
    }


# ---- idempotency, tenants, reports ----------------------------------------------------------


def test_the_same_events_twice_in_any_order_give_the_same_facts(facts: Facts) -> None:
    events = history()
    twice = events + events[::3]
    random.Random(7).shuffle(twice)
    assert collect(twice).for_tenant(ACME) == facts
    collector = FactsCollector()
    assert collector.add(events[-1]) is True
    assert collector.add(events[-1]) is False


def test_settlements_add_no_money(facts: Facts) -> None:
    without = collect([e for e in history() if not isinstance(e, DebtSettled)]).for_tenant(ACME)
    assert indicators.recovery(without, as_of=AS_OF) == indicators.recovery(facts, as_of=AS_OF)
    assert len(facts.settlements) == 2


def test_each_tenant_sees_its_own_figures() -> None:
    everything = collect(history())
    # The other agency's one agreement: first due 06/01, never paid.
    assert fpd_table(everything.for_tenant(OTHER), 0, []) == {(): (1, 1, R("1.0000"))}
    assert fpd_table(everything, 0, ["tenant"]) == {
        (ACME,): (5, 4, R("0.8000")),
        (OTHER,): (1, 1, R("1.0000")),
    }
    assert FactsCollector(OTHER).add(history()[-1]) is False  # acme's break


def test_reports_say_rates_as_numbers_with_4_places_and_money_in_centavos(facts: Facts) -> None:
    body = reports.fpd_report(facts, k=0, as_of=AS_OF, by=["channel"], tenant=ACME).model_dump(
        mode="json"
    )
    assert body["indicator"] == "fpd" and body["grace_days"] == 0 and body["as_of"] == "2026-03-31"
    assert body["rows"][0] == {
        "cuts": {"channel": "chatbot"},
        "agreements": 1,
        "defaulted": 1,
        "rate": 1.0,
    }
    rec = reports.recovery_report(facts, as_of=AS_OF, curve_days=[30]).model_dump(mode="json")
    assert rec["rows"] == [
        {"cuts": {}, "debts": 7, "placed_cents": 560_000, "received_cents": 304_167, "rate": 0.5432}
    ]
    assert rec["curve"][0]["days"] == 30 and rec["curve"][0]["rate"] == 0.4467
    agreed = reports.agreements_report(facts, as_of=AS_OF, by=["channel"]).model_dump(mode="json")
    assert agreed["rows"][0]["agreement_rate"] is None


def test_frames_give_polars_dataframes(facts: Facts) -> None:
    frame = frames.fpd(facts, k=5, by=["creditor"], as_of=AS_OF)
    assert frame.columns == ["creditor", "agreements", "defaulted", "rate"]
    assert frame.rows() == [(BANCO, 2, 0, 0.0), (VAREJO, 3, 2, 0.6667)]
    # The business clock's date is the default as-of date: the latest DayStarted, 31/03.
    assert frames.recovery(facts).rows() == [(7, 560_000, 304_167, 0.5432)]
    curve = frames.recovery_curve(facts, by=["creditor"], days=[0, 30])
    assert curve.height == 4 and "days" in curve.columns
    empty = frames.agreements(Facts(), by=["channel"], as_of=AS_OF)
    assert empty.height == 0 and empty.columns[0] == "channel"


def test_charts_are_png(facts: Facts) -> None:
    by = ["cohort", "channel"]
    rows = indicators.fpd(facts, k=0, as_of=AS_OF, by=by)
    assert charts.fpd_chart(rows, k=0, as_of=AS_OF, by=by).startswith(b"\x89PNG")
    curve = indicators.recovery_curve(facts, as_of=AS_OF, by=["carteira"])
    assert charts.recovery_curve_chart(curve, as_of=AS_OF, by=["carteira"]).startswith(b"\x89PNG")
    agreed = indicators.agreements(facts, as_of=AS_OF, by=["creditor"])
    assert charts.agreements_chart(agreed, as_of=AS_OF, by=["creditor"]).startswith(b"\x89PNG")
    assert charts.fpd_chart([], k=0, as_of=AS_OF, by=[]).startswith(b"\x89PNG")


# ---- properties -----------------------------------------------------------------------------

BASE = D(2026, 1, 1)
CHANNELS = ("portal", "chatbot", "operator")


@st.composite
def histories(draw: st.DrawFn) -> Facts:
    """Debtors with one debt each; some close an agreement, pay its first installment early,
    on time, late or never, and pay some money on any date."""
    n = draw(st.integers(min_value=0, max_value=25))
    placements: list[Placement] = []
    agreements: list[Agreement] = []
    paid_list: list[InstallmentPayment] = []
    receipts: list[Receipt] = []
    for i in range(n):
        placed_on = BASE + dt.timedelta(days=draw(st.integers(0, 120)))
        cents = draw(st.integers(1, 1_000_000))
        placements.append(
            Placement(ACME, f"d{i}", f"doc{i % 7}", draw(st.sampled_from(["c1", "c2"])),
                      draw(st.sampled_from(["k1", "k2", "k3"])), cents,
                      placed_on - dt.timedelta(days=draw(st.integers(0, 800))),
                      dt.datetime.combine(placed_on, dt.time(12), dt.UTC), placed_on)
        )  # fmt: skip
        if not draw(st.booleans()):
            continue
        closed_on = placed_on + dt.timedelta(days=draw(st.integers(0, 60)))
        first_due = closed_on + dt.timedelta(days=draw(st.integers(0, 30)))
        updated = draw(st.integers(1, 2_000_000))
        agreements.append(
            Agreement(ACME, f"a{i}", f"doc{i % 7}", placements[-1].creditor,
                      draw(st.sampled_from(CHANNELS)), draw(st.sampled_from([None, "op1"])),
                      draw(st.integers(1, 12)), closed_on, updated,
                      draw(st.integers(0, updated)), updated, (f"d{i}",), (cents,), first_due,
                      1)
        )  # fmt: skip
        late = draw(st.one_of(st.none(), st.integers(-10, 60)))
        if late is not None:
            paid_on = first_due + dt.timedelta(days=late)
            paid_list.append(InstallmentPayment(ACME, f"a{i}", 1, first_due, 1, 1, paid_on))
        for j in range(draw(st.integers(0, 3))):
            receipts.append(
                Receipt(ACME, f"p{i}-{j}", f"a{i}", 1, draw(st.integers(0, cents)),
                        closed_on + dt.timedelta(days=draw(st.integers(0, 200))), "paid")
            )  # fmt: skip
    return assemble([*placements, *agreements, *paid_list, *receipts])


def _between_0_and_1(value: Decimal | None) -> bool:
    return value is None or Decimal(0) <= value <= Decimal(1)


@settings(max_examples=150, deadline=None)
@given(
    histories(),
    st.integers(0, 40),
    st.integers(0, 40),
    st.integers(0, 300),
    st.sampled_from(indicators.FPD_DIMS),
)
def test_fpd_properties(facts: Facts, k1: int, k2: int, day: int, dim: str) -> None:
    k1, k2 = sorted((k1, k2))
    as_of = BASE + dt.timedelta(days=day)
    (low,) = indicators.fpd(facts, k=k1, as_of=as_of)
    (high,) = indicators.fpd(facts, k=k2, as_of=as_of)
    # A longer grace makes fewer agreements mature and fewer defaulted, in counts; the rate
    # itself may go either way, since the denominators differ...
    assert high.agreements <= low.agreements and high.defaulted <= low.defaulted
    assert _between_0_and_1(low.rate) and _between_0_and_1(high.rate)
    # ...but over one population (every agreement mature for both), it never goes up.
    # Mature once the day due + k is over: the day after it.
    late = max((a.first_due for a in facts.agreements), default=BASE) + dt.timedelta(days=k2 + 1)
    (all_low,) = indicators.fpd(facts, k=k1, as_of=late)
    (all_high,) = indicators.fpd(facts, k=k2, as_of=late)
    assert all_low.agreements == all_high.agreements == len(facts.agreements)
    assert all_high.defaulted <= all_low.defaulted
    # A cut that puts each agreement in one row adds up to the total.
    rows = indicators.fpd(facts, k=k1, as_of=as_of, by=[dim])
    assert all(_between_0_and_1(r.rate) for r in rows)
    if dim not in ("carteira", "aging_bucket"):
        assert sum(r.agreements for r in rows) == low.agreements
        assert sum(r.defaulted for r in rows) == low.defaulted


@settings(max_examples=150, deadline=None)
@given(histories(), st.integers(0, 400), st.sampled_from(indicators.RECOVERY_DIMS))
def test_recovery_and_agreement_properties(facts: Facts, day: int, dim: str) -> None:
    as_of = BASE + dt.timedelta(days=day)
    (total,) = indicators.recovery(facts, as_of=as_of)
    rows = indicators.recovery(facts, as_of=as_of, by=[dim])
    assert sum(r.received_cents for r in rows) == total.received_cents
    assert sum(r.placed_cents for r in rows) == total.placed_cents
    assert total.received_cents >= 0
    # Over debts old enough for every point, the curve never goes down, and ends at most at
    # what has been received by the as-of date.
    far = BASE + dt.timedelta(days=2000)
    curve = indicators.recovery_curve(facts, as_of=far, days=[0, 30, 90, 365, 1000])
    received = [c.received_cents for c in curve]
    assert received == sorted(received)
    if curve:
        (everything,) = indicators.recovery(facts, as_of=far)
        assert curve[-1].received_cents <= everything.received_cents
    for row in indicators.agreements(
        facts, as_of=as_of, by=[dim] if dim != "placement_month" else []
    ):
        assert _between_0_and_1(row.agreement_rate) and _between_0_and_1(row.break_rate)


# ---- the command line -----------------------------------------------------------------------


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> Any:
    """`cobranca analytics` with the topics' replay replaced by the scripted history."""
    from typer.testing import CliRunner

    from analytics import replay
    from cobranca.cli import app

    async def fake_replay(bootstrap: str, *, tenant: str | None = None, **_: Any) -> Any:
        collector = FactsCollector(tenant)
        collector.add_all(history())
        return replay.Replayed(collector.facts(), read=len(history()), new_facts=0, skipped=2)

    monkeypatch.setattr(replay, "replay_facts", fake_replay)
    monkeypatch.setenv("COBRANCA_KAFKA_BOOTSTRAP", "127.0.0.1:1")
    runner = CliRunner()

    def run(*args: str) -> Any:
        return runner.invoke(app, ["analytics", *args], catch_exceptions=False)

    return run


def test_the_command_line_prints_tables_and_writes_csv_json_and_png(
    cli: Any, tmp_path: Any
) -> None:
    table = cli("fpd", "--by", "channel", "--grace-days", "0", "--tenant", ACME)
    assert table.exit_code == 0, table.output
    # as-of: the clock's latest DayStarted; pt-BR headers and percentages.
    assert "FPD-0 em 31/03/2026" in table.output
    assert "canal" in table.output and "50,00%" in table.output
    assert "2 ignorados" in table.output
    csv_out = cli("recovery", "--by", "creditor", "--format", "csv", "--tenant", ACME)
    assert csv_out.stdout.splitlines()[:3] == [
        "creditor,debts,placed_cents,received_cents,rate",
        f"{BANCO},3,350000,296667,0.8476",
        f"{VAREJO},4,210000,7500,0.0357",
    ]
    as_json = cli("agreements", "--format", "json", "--as-of", "2026-02-05", "--tenant", ACME)
    body = json.loads(as_json.stdout)
    assert (body["as_of"], body["rows"][0]["agreement_rate"], body["rows"][0]["agreements"]) == (
        "2026-02-05",
        0.8,
        4,
    )
    png = tmp_path / "fpd.png"
    drawn = cli("fpd", "--by", "cohort", "--format", "png", "--output", str(png))
    assert drawn.exit_code == 0 and png.read_bytes().startswith(b"\x89PNG")
    assert cli("fpd", "--format", "png").exit_code == 2  # a chart needs a file
    refused = cli("recovery", "--by", "channel")
    assert refused.exit_code == 2 and "--by: corte desconhecido: channel" in refused.output
    assert cli("fpd", "--as-of", "31/03/2026").exit_code == 2


def test_the_command_line_refuses_a_day_that_has_not_come(cli: Any) -> None:
    # Today, by the clock topic's latest DayStarted, is 31/03/2026.
    future = cli("fpd", "--grace-days", "5", "--as-of", "2027-12-31", "--tenant", ACME)
    assert future.exit_code == 2
    said = " ".join(future.output.split())
    assert "--as-of: a data 31/12/2027 ainda não chegou" in said
    assert "hoje, pelo relógio de negócio, é 31/03/2026" in said
    assert cli("recovery", "--as-of", "2030-01-01").exit_code == 2
    assert cli("agreements", "--as-of", "2026-04-01").exit_code == 2
    assert cli("fpd", "--as-of", "2026-03-31", "--format", "json").exit_code == 0


def test_the_command_line_speaks_pt_br_to_people_and_keeps_csv_and_json_as_codes(
    cli: Any,
) -> None:
    table = cli("fpd", "--by", "channel", "--tenant", ACME)
    assert "atendente" in table.output and "operator" not in table.output
    csv_out = cli("fpd", "--by", "channel", "--format", "csv", "--tenant", ACME)
    assert "operator,2,2,1.0000" in csv_out.stdout.splitlines()
    as_json = json.loads(cli("fpd", "--by", "channel", "--format", "json").stdout)
    assert {"channel": "operator"} in [r["cuts"] for r in as_json["rows"]]
    by_bucket = cli("recovery", "--by", "aging_bucket", "--tenant", ACME).output
    places = [by_bucket.index(b) for b in ("0-30", "31-90", "91-180", "181-360", ">360")]
    assert places == sorted(places)

    def said(*args: str) -> str:
        result = cli(*args)
        assert result.exit_code == 2
        return " ".join(result.output.split())

    assert "--by: corte desconhecido: nope; use um de: tenant" in said("fpd", "--by", "nope")
    assert "--as-of: 2026-13-01 não é uma data; escreva-a AAAA-MM-DD" in said(
        "fpd", "--as-of", "2026-13-01"
    )
    assert "--format: formato desconhecido: xls; use um de: table, csv, json, png" in said(
        "fpd", "--format", "xls"
    )
    assert "--output ARQUIVO.png" in said("agreements", "--format", "png")
    assert "--days: dias desde a entrada: de 0 a 36500" in said("recovery", "--days", "-1")


def test_the_command_line_names_every_bad_option_at_once(
    cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As the API does (QA: `--by foo --grace-days -1` named only one of them, the other on
    the next try), with the API's own checks; nothing is read from the topics."""
    from analytics import replay
    from services.clock.adapters import client

    async def clock_says(bootstrap: str) -> Any:
        return SimpleNamespace(date=dt.date(2026, 3, 31))

    async def no_replay(*_: Any, **__: Any) -> Any:
        raise AssertionError("a command with bad options reads no topic")

    monkeypatch.setattr(client, "last_day", clock_says)
    monkeypatch.setattr(replay, "replay_facts", no_replay)
    result = cli("fpd", "--by", "foo", "--by", "channel", "--by", "bar", "--grace-days", "-1",
                 "--as-of", "2027-12-31", "--format", "xls")  # fmt: skip
    assert result.exit_code == 2
    lines = [" ".join(line.split()) for line in result.output.splitlines() if line.strip()]
    assert [line.split(":")[0] for line in lines] == [
        "--by", "--as-of", "--grace-days", "--format"
    ]  # fmt: skip
    assert lines[0].startswith("--by: corte desconhecido: foo, bar; use um de: tenant")
    assert "--as-of: a data 31/12/2027 ainda não chegou" in lines[1]
    assert lines[2] == "--grace-days: dias de tolerância: 0 ou mais"
    curve = cli("recovery", "--days", "-1", "--days", "40000", "--by", "channel",
                "--as-of", "2026-13-01")  # fmt: skip
    said = " ".join(curve.output.split())
    assert curve.exit_code == 2
    for part in ("--by: corte desconhecido: channel", "--as-of: 2026-13-01 não é uma data",
                 "--days: dias desde a entrada: de 0 a 36500"):  # fmt: skip
        assert part in said


def test_the_recovery_curve_keeps_every_horizon_in_the_table_and_csv(cli: Any) -> None:
    # No debt is 90 days old on 31/03: the row is there, with nothing counted.
    csv_out = cli("recovery", "--curve", "--days", "0", "--days", "30", "--days", "90",
                  "--format", "csv", "--tenant", ACME)  # fmt: skip
    assert csv_out.stdout.splitlines() == [
        "days,debts,placed_cents,received_cents,rate",
        "0,7,560000,0,0.0000",
        "30,6,500000,223334,0.4467",
        "90,0,0,0,",
    ]
    table = cli("recovery", "--curve", "--days", "0", "--days", "90", "--tenant", ACME)
    assert re.search(r"│\s+90 │\s+0 │\s+R\$ 0,00 │\s+R\$ 0,00 │\s+- │", table.output)


def test_a_carteira_is_shown_by_its_file_name(facts: Facts, cli: Any) -> None:
    # The names come from the imports' topic; two imports named lote.csv keep their id's start.
    assert facts.carteira_names() == {
        "dez-banco": "lote.csv (dez-banc)",
        "jan-banco": "janeiro-banco.csv",
        "jan-varejo": "lote.csv (jan-vare)",
        "mar-varejo": "março-varejo.csv",
    }
    # In one tenant's facts another tenant's lote.csv is not there to share the name with.
    assert collect(history()).for_tenant(OTHER).carteira_names() == {"z": "lote.csv"}
    table = cli("recovery", "--by", "carteira", "--tenant", ACME).output
    for name in ("janeiro-banco.csv", "lote.csv (dez-banc)", "lote.csv (jan-vare)",
                 "março-varejo.csv"):  # fmt: skip
        assert name in table
    # CSV and JSON keep the import id as the cut's value, and say the name beside it.
    csv_out = cli("fpd", "--by", "carteira", "--grace-days", "5", "--format", "csv",
                  "--tenant", ACME)  # fmt: skip
    assert csv_out.stdout.splitlines()[:2] == [
        "carteira,carteira_name,agreements,defaulted,rate",
        "dez-banco,lote.csv (dez-banc),1,0,0.0000",
    ]
    body = json.loads(cli("agreements", "--by", "carteira", "--format", "json",
                          "--tenant", ACME).stdout)  # fmt: skip
    assert body["carteiras"]["jan-banco"] == "janeiro-banco.csv"
    assert [r["cuts"]["carteira"] for r in body["rows"]][:1] == ["dez-banco"]
    # Not cut by carteira: no names.
    assert json.loads(cli("agreements", "--format", "json").stdout)["carteiras"] == {}


def test_a_payment_deducted_after_a_break_is_received_once_on_its_debts() -> None:
    """A payment to a broken agreement's cancelled boleto: its PaymentReceived applies nothing
    (`excess`); the agreement deducts it from its debts (AgreementPaymentShared). Received
    money counts what was deducted, once (the event read twice), not what stayed credit."""
    on = D(2026, 1, 5)
    shared = AgreementPaymentShared(
        **_env("shared", "pay-1"),
        agreement_id="agr-1",
        document="d",
        creditor=BANCO,
        payment_id="pay-1",
        invoice_id="agr-1-1",
        installment_number=1,
        paid_on=D(2026, 2, 9),
        amount_cents=30_000,
        deducted_cents=20_000,
        credit_cents=10_000,
        debts=[
            SharedPaymentDebt(debt_id="x1", deducted_cents=20_000, credit_cents=0),
            SharedPaymentDebt(debt_id="x2", deducted_cents=0, credit_cents=10_000),
        ],
    )
    facts = collect(
        [
            day(on),
            placed("x1", "d", BANCO, "c", 100_000, D(2025, 12, 1), on),
            placed("x2", "d", BANCO, "c", 50_000, D(2025, 12, 1), on),
            closed(
                "agr-1",
                "d",
                BANCO,
                [("x1", 100_000), ("x2", 50_000)],
                channel="portal",
                operator=None,
                n=3,
                on=on,
                updated=150_000,
                discount=0,
                first_due=D(2026, 1, 10),
                first_amount=30_000,
            ),
            received("pay-1", "agr-1", 30_000, 0, D(2026, 2, 9), outcome="excess"),
            shared,
            shared,
        ]
    ).for_tenant(ACME)
    [row] = indicators.recovery(facts, as_of=D(2026, 2, 10))
    assert (row.debts, row.placed_cents, row.received_cents) == (2, 150_000, 20_000)
    # Not before the day it was paid.
    [before] = indicators.recovery(facts, as_of=D(2026, 2, 8))
    assert before.received_cents == 0
