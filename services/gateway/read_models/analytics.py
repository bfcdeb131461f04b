"""The facts the analytics indicators are computed from (`analytics.facts`), kept up to date in
the gateway so `GET /api/v1/analytics/...` answers without replaying the topics.

One table per kind of fact, one row per natural key (the first event wins, as in
`analytics.facts.assemble`): an event applied twice, or facts arriving in any order across
topics, leave the same rows. What joins facts (an agreement's carteiras, a placement's
business date from the clock's days) is resolved when they are read back, by the same
`assemble` the replay uses, so the API and `cobranca analytics` compute the same figures with
the same functions.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Date,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    select,
)

from analytics.facts import (
    FACT_EVENTS,
    Agreement,
    Break,
    BusinessDay,
    CarteiraFile,
    Deduction,
    Fact,
    Facts,
    InstallmentPayment,
    Placement,
    Receipt,
    Settlement,
    assemble,
    fact_of,
    key_of,
)
from analytics.replay import TOPICS
from contracts.envelope import Envelope
from service_runtime.projection import Projection, event_types_of
from service_runtime.sql import insert_ignore
from service_runtime.sqltypes import UtcDateTime

metadata = MetaData()

analytics_days = Table(
    "analytics_days",
    metadata,
    Column("date", Date, primary_key=True),
    Column("started_at", UtcDateTime(), nullable=False),
)
analytics_placements = Table(
    "analytics_placements",
    metadata,
    Column("tenant", String(63), primary_key=True),
    Column("debt_id", String(64), primary_key=True),
    Column("document", String(14), nullable=False),
    Column("creditor", String(200), nullable=False),
    Column("carteira", String(64), nullable=False),
    Column("original_cents", BigInteger, nullable=False),
    Column("due_date", Date, nullable=False),
    Column("placed_at", UtcDateTime(), nullable=False),
    Column("placed_on", Date, nullable=False),
)
analytics_agreements = Table(
    "analytics_agreements",
    metadata,
    Column("tenant", String(63), primary_key=True),
    Column("agreement_id", String(64), primary_key=True),
    Column("document", String(14), nullable=False),
    Column("creditor", String(200), nullable=False),
    Column("channel", String(20), nullable=False),
    Column("operator", String(200)),
    Column("installments", Integer, nullable=False),
    Column("closed_on", Date, nullable=False),
    Column("updated_value_cents", BigInteger, nullable=False),
    Column("discount_cents", BigInteger, nullable=False),
    Column("total_cents", BigInteger, nullable=False),
    # [[debt_id, principal_cents], ...] in the agreement's order.
    Column("debts", Text, nullable=False),
    Column("first_due", Date, nullable=False),
    Column("first_amount_cents", BigInteger, nullable=False),
)
analytics_installments_paid = Table(
    "analytics_installments_paid",
    metadata,
    Column("tenant", String(63), primary_key=True),
    Column("agreement_id", String(64), primary_key=True),
    Column("number", Integer, primary_key=True),
    Column("due_date", Date, nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("paid_cents", BigInteger, nullable=False),
    Column("paid_on", Date, nullable=False),
)
analytics_breaks = Table(
    "analytics_breaks",
    metadata,
    Column("tenant", String(63), primary_key=True),
    Column("agreement_id", String(64), primary_key=True),
    Column("broken_on", Date, nullable=False),
    Column("rule", String(30), nullable=False),
    Column("installment_number", Integer, nullable=False),
)
analytics_receipts = Table(
    "analytics_receipts",
    metadata,
    Column("tenant", String(63), primary_key=True),
    Column("payment_id", String(64), primary_key=True),
    Column("agreement_id", String(64)),
    Column("amount_cents", BigInteger, nullable=False),
    Column("applied_cents", BigInteger, nullable=False),
    Column("paid_on", Date, nullable=False),
    Column("outcome", String(20), nullable=False),
)
# A payment to a broken agreement's cancelled boleto, deducted from its debts back in
# collection (AgreementPaymentShared): money received on those debts.
analytics_deductions = Table(
    "analytics_deductions",
    metadata,
    Column("tenant", String(63), primary_key=True),
    Column("payment_id", String(64), primary_key=True),
    Column("agreement_id", String(64), nullable=False),
    Column("paid_on", Date, nullable=False),
    # [[debt_id, deducted_cents], ...], the debts with something deducted, in the event's order.
    Column("debts", Text, nullable=False),
)
analytics_settlements = Table(
    "analytics_settlements",
    metadata,
    Column("tenant", String(63), primary_key=True),
    Column("debt_id", String(64), primary_key=True),
    Column("agreement_id", String(64), primary_key=True),
    Column("settled_on", Date, nullable=False),
    Column("paid_cents", BigInteger, nullable=False),
)

analytics_carteira_files = Table(
    "analytics_carteira_files",
    metadata,
    Column("tenant", String(63), primary_key=True),
    Column("import_id", String(64), primary_key=True),
    Column("filename", String(255), primary_key=True),  # "" when the import had none
)

TABLE_OF: dict[type, Table] = {
    BusinessDay: analytics_days,
    Placement: analytics_placements,
    Agreement: analytics_agreements,
    InstallmentPayment: analytics_installments_paid,
    Break: analytics_breaks,
    Receipt: analytics_receipts,
    Deduction: analytics_deductions,
    Settlement: analytics_settlements,
    CarteiraFile: analytics_carteira_files,
}


def _row(fact: Fact) -> dict[str, Any]:
    if isinstance(fact, Agreement):
        return {
            "tenant": fact.tenant,
            "agreement_id": fact.agreement_id,
            "document": fact.document,
            "creditor": fact.creditor,
            "channel": fact.channel,
            "operator": fact.operator,
            "installments": fact.installments,
            "closed_on": fact.closed_on,
            "updated_value_cents": fact.updated_value_cents,
            "discount_cents": fact.discount_cents,
            "total_cents": fact.total_cents,
            "debts": json.dumps(
                [list(d) for d in zip(fact.debt_ids, fact.debt_principals_cents, strict=True)]
            ),
            "first_due": fact.first_due,
            "first_amount_cents": fact.first_amount_cents,
        }
    if isinstance(fact, Deduction):
        return {
            "tenant": fact.tenant,
            "payment_id": fact.payment_id,
            "agreement_id": fact.agreement_id,
            "paid_on": fact.paid_on,
            "debts": json.dumps([list(d) for d in fact.debts]),
        }
    table = TABLE_OF[type(fact)]
    return {c.name: getattr(fact, c.name) for c in table.columns}


class AnalyticsProjection(Projection):
    name = "analytics"
    topics = TOPICS
    metadata = metadata
    # The events `fact_of` takes a fact from: the runtime passes over the others unparsed.
    event_types = event_types_of(*FACT_EVENTS)

    def apply(self, conn: Connection, events: list[Envelope]) -> None:
        rows: dict[Table, dict[tuple[object, ...], dict[str, Any]]] = {}
        for event in events:
            fact = fact_of(event)
            if fact is not None:
                # First seen wins, in the batch as in the table.
                rows.setdefault(TABLE_OF[type(fact)], {}).setdefault(key_of(fact), _row(fact))
        for table, by_key in rows.items():
            insert_ignore(conn, table, list(by_key.values()))


def _facts_of(conn: Connection, tenant: str | None) -> Iterable[Fact]:
    def rows(table: Table) -> Iterable[Any]:
        query = select(table)
        if tenant is not None and "tenant" in table.c:
            query = query.where(table.c.tenant == tenant)
        return conn.execute(query)

    for r in rows(analytics_days):
        yield BusinessDay(date=r.date, started_at=r.started_at)
    for r in rows(analytics_placements):
        yield Placement(**r._mapping)
    for r in rows(analytics_agreements):
        values = dict(r._mapping)
        debts = json.loads(values.pop("debts"))
        yield Agreement(
            **values,
            debt_ids=tuple(str(d[0]) for d in debts),
            debt_principals_cents=tuple(int(d[1]) for d in debts),
        )
    for r in rows(analytics_deductions):
        values = dict(r._mapping)
        debts = json.loads(values.pop("debts"))
        yield Deduction(**values, debts=tuple((str(d[0]), int(d[1])) for d in debts))
    for kind in (InstallmentPayment, Break, Receipt, Settlement, CarteiraFile):
        for r in rows(TABLE_OF[kind]):
            yield kind(**r._mapping)


def load_facts(engine: Engine, tenant: str | None) -> Facts:
    """The facts of one tenant (None: all), assembled as the replay assembles them."""
    with engine.connect() as conn:
        return assemble(list(_facts_of(conn, tenant)))
