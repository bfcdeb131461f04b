"""A payment to the cancelled boleto of a broken or ended agreement (QA pass 9, D1): the
agreement deducts it from its debts back in collection (AgreementPaymentShared, the fact
`Deduction`). The gateway's analytics projection had no table for that fact: its first such
payment stopped it (`KeyError: analytics.facts.Deduction`, the batch read again every second
forever), `/api/v1/analytics/*` answered numbers frozen at that moment, and `cobranca replay
analytics` died the same way. Every fact the replay collects now has a table, and the
projection, live or rebuilt, answers the figures `cobranca analytics` computes."""

from __future__ import annotations

import datetime as dt
import random
import typing
from pathlib import Path

import pytest
from aiokafka import ConsumerRecord, TopicPartition
from sqlalchemy import Engine

from analytics import reports
from analytics.facts import Fact, Facts
from contracts.envelope import Envelope
from contracts.negotiation import (
    AgreementBrokenV3,
    AgreementPaymentShared,
    BrokenAgreementDebt,
    LoweredDebt,
    SharedPaymentDebt,
)
from service_runtime.database import sqlite_engine
from service_runtime.projection import BatchApplier, TogetherApplier
from services.gateway.read_models.analytics import TABLE_OF, AnalyticsProjection, load_facts
from tests.unit.test_analytics_indicators import (
    ACME,
    BANCO,
    _env,
    broken,
    closed,
    collect,
    day,
    placed,
    received,
    settled,
)
from tests.unit.test_projections import record_of
from tests.unit.test_read_model_batches import topic_of

D = dt.date
ON = D(2026, 1, 5)
AS_OF = D(2026, 3, 3)


def _agreement(agreement_id: str, debts: list[tuple[str, int]], first_amount: int) -> Envelope:
    total = sum(p for _, p in debts)
    return closed(
        agreement_id,
        "cpf-" + agreement_id,
        BANCO,
        debts,
        channel="portal",
        operator=None,
        n=3,
        on=ON,
        updated=total,
        discount=0,
        first_due=D(2026, 1, 10),
        first_amount=first_amount,
    )


def _shared(
    agreement_id: str, payment_id: str, number: int, on: dt.date, debts: list[tuple[str, int]]
) -> AgreementPaymentShared:
    amount = sum(c for _, c in debts)
    return AgreementPaymentShared(
        **_env("shared", payment_id),
        agreement_id=agreement_id,
        document="cpf-" + agreement_id,
        creditor=BANCO,
        payment_id=payment_id,
        invoice_id=f"{agreement_id}-{number}",
        installment_number=number,
        paid_on=on,
        amount_cents=amount,
        deducted_cents=amount,
        credit_cents=0,
        debts=[SharedPaymentDebt(debt_id=d, deducted_cents=c, credit_cents=0) for d, c in debts],
    )


def _lowered(agreement_id: str, debt_id: str, on: dt.date) -> AgreementBrokenV3:
    """Cauã's agreement, ended when the creditor lowered his debt from R$ 754,16 to 700,00."""
    return AgreementBrokenV3(
        **_env("broken", agreement_id),
        agreement_id=agreement_id,
        document="cpf-" + agreement_id,
        creditor=BANCO,
        broken_on=on,
        rule="debt_amount_lowered",
        installment_number=1,
        days_overdue=0,
        paid_cents=0,
        debts=[BrokenAgreementDebt(debt_id=debt_id, paid_cents=0, balance_cents=70_000)],
        credit_cents=0,
        lowered_debts=[
            LoweredDebt(
                debt_id=debt_id,
                contract=f"C-{debt_id}",
                installment="1",
                old_amount_cents=75_416,
                new_amount_cents=70_000,
                owed_cents=70_000,
                import_id="low1",
                row_key="2",
            )
        ],
    )


def stream() -> list[Envelope]:
    """Two agreements of 05/01: one the debtor broke (unpaid parcela 1), one the creditor ended
    by lowering its debt; each debtor then pays a cancelled boleto, deducted from the debts
    back in collection, and a third agreement goes on (paid to its own boleto)."""
    return [
        day(ON),
        day(D(2026, 1, 12)),
        day(D(2026, 2, 9)),
        day(AS_OF),
        placed("x1", "cpf-agr-1", BANCO, "c1", 100_000, D(2025, 12, 1), ON),
        placed("x2", "cpf-agr-1", BANCO, "c1", 50_000, D(2025, 12, 1), ON),
        placed("y1", "cpf-agr-2", BANCO, "c1", 75_416, D(2025, 11, 1), ON),
        placed("z1", "cpf-agr-3", BANCO, "c1", 90_000, D(2025, 10, 1), ON),
        _agreement("agr-1", [("x1", 100_000), ("x2", 50_000)], 50_000),
        _agreement("agr-2", [("y1", 75_416)], 26_225),
        _agreement("agr-3", [("z1", 90_000)], 30_000),
        broken("agr-1", "x1", D(2026, 1, 15)),
        _lowered("agr-2", "y1", ON),
        received("pay-3", "agr-3", 30_000, 30_000, D(2026, 1, 10)),
        # The debtor pays the boleto already printed: nothing applied to an invoice, the
        # agreement deducts it from its debts.
        received("pay-1", "agr-1", 50_000, 0, D(2026, 2, 9), outcome="excess"),
        _shared("agr-1", "pay-1", 1, D(2026, 2, 9), [("x1", 33_334), ("x2", 16_666)]),
        received("pay-2", "agr-2", 26_225, 0, ON, outcome="excess"),
        _shared("agr-2", "pay-2", 1, ON, [("y1", 26_225)]),
        received("pay-4", "agr-2", 43_775, 0, D(2026, 2, 9), outcome="excess"),
        _shared("agr-2", "pay-4", 2, D(2026, 2, 9), [("y1", 43_775)]),
        settled("y1", "agr-2", D(2026, 2, 9), 70_000),
    ]


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = sqlite_engine(str(tmp_path / "read.sqlite"))
    AnalyticsProjection().create_tables(engine)
    return engine


def the_cli_would_say(facts: Facts) -> list[object]:
    """What `cobranca analytics agreements | recovery | fpd` print, from a set of facts."""
    return [
        reports.agreements_report(facts, as_of=AS_OF, tenant=ACME),
        reports.recovery_report(facts, as_of=AS_OF, by=["carteira"], tenant=ACME),
        reports.fpd_report(facts, k=5, as_of=AS_OF, tenant=ACME),
    ]


def test_every_fact_the_replay_collects_has_a_table_in_the_projection() -> None:
    assert set(typing.get_args(Fact)) <= set(TABLE_OF)


def test_a_payment_to_a_broken_or_ended_agreements_boleto_goes_through_the_projection(
    engine: Engine,
) -> None:
    """The gateway's projection applies the stream in batches of every size, some events
    twice and in any order, and keeps the facts `cobranca analytics` collects: the same
    agreements, breaks (the creditor's end is not one) and money received."""
    events = stream()
    replayed = collect(events)  # what analytics.replay's FactsCollector assembles
    assert len(replayed.deductions) == 3
    for seed in (1, 2, 3):
        shuffled = events + random.Random(seed).sample(events, len(events) // 2)
        random.Random(seed).shuffle(shuffled)
        projection = AnalyticsProjection()
        for start in range(0, len(shuffled), seed * 3):
            with engine.begin() as conn:
                projection.apply(conn, shuffled[start : start + seed * 3])
    projected = load_facts(engine, None)
    assert projected == replayed
    assert the_cli_would_say(load_facts(engine, ACME)) == the_cli_would_say(replayed)
    [agreements] = reports.agreements_report(projected, as_of=AS_OF, tenant=ACME).rows
    assert (agreements.agreements, agreements.broken) == (3, 1)
    [recovery] = reports.recovery_report(projected, as_of=AS_OF, tenant=ACME).rows
    # Parcela 1 of agr-3 paid to its own boleto, and the three deducted payments: each
    # centavo once.
    assert recovery.received_cents == 30_000 + 50_000 + 26_225 + 43_775


def test_cobranca_replay_analytics_rebuilds_it_from_the_topics(engine: Engine) -> None:
    """`cobranca replay analytics` applies the topics' records (TogetherApplier, one batch
    for all the topics) and stores their positions: it ends with the same facts."""
    offsets: dict[str, int] = {}
    by_topic: dict[str, list[ConsumerRecord[bytes, bytes]]] = {}
    for event in stream():
        topic = topic_of(event)
        offset = offsets[topic] = offsets.get(topic, -1) + 1
        by_topic.setdefault(topic, []).append(record_of(event, topic, 0, offset))
    applier = BatchApplier(AnalyticsProjection(), engine)
    TogetherApplier([applier], engine).apply_records(
        {TopicPartition(topic, 0): records for topic, records in by_topic.items()}
    )
    assert load_facts(engine, None) == collect(stream())
    assert the_cli_would_say(load_facts(engine, ACME)) == the_cli_would_say(collect(stream()))
