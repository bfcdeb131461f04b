"""The debts the negotiation service can negotiate: a projection of `portfolio.debts` in the
service's own database (the portfolio owns the debts; this is a copy kept up to date)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Date,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from contracts.envelope import Envelope
from contracts.portfolio import (
    DEBTS_TOPIC,
    DebtImported,
    DebtReopened,
    DebtSettled,
    DebtUpdated,
)
from service_runtime.projection import Projection

metadata = MetaData()
negotiable_debts = Table(
    "negotiable_debts",
    metadata,
    Column("debt_id", String(36), primary_key=True),
    Column("tenant", String(63), nullable=False),
    Column("document", String(14), nullable=False),
    Column("debtor_name", String(200), nullable=False),
    Column("creditor", String(200), nullable=False),
    Column("contract", String(100), nullable=False),
    Column("installment", String(20), nullable=False),
    Column("category", String(100)),
    Column("original_amount_cents", Integer, nullable=False),
    Column("paid_cents", Integer, nullable=False, default=0),
    Column("due_date", Date, nullable=False),
    Column("settled", Integer, nullable=False, default=0),
    Column("version", Integer, nullable=False),
    Index("ix_negotiable_debts_tenant_document", "tenant", "document"),
)


@dataclass(frozen=True)
class DebtRow:
    debt_id: str
    tenant: str
    document: str
    debtor_name: str
    creditor: str
    contract: str
    installment: str
    category: str | None
    original_amount_cents: int
    paid_cents: int
    due_date: dt.date
    settled: bool

    @property
    def balance_cents(self) -> int:
        """What is still owed of the principal, after payments of broken agreements."""
        return max(0, self.original_amount_cents - self.paid_cents)


class NegotiableDebtsProjection(Projection):
    name = "negotiation.debts"
    topics = (DEBTS_TOPIC,)
    metadata = metadata

    def apply(self, conn: Connection, events: list[Envelope]) -> None:
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        for event in events:
            if isinstance(event, DebtImported | DebtUpdated):
                row: dict[str, Any] = {
                    "debt_id": event.debt_id,
                    "tenant": event.tenant,
                    "document": event.document,
                    "debtor_name": event.debtor.name,
                    "creditor": event.creditor,
                    "contract": event.contract,
                    "installment": event.installment,
                    "category": event.category,
                    "original_amount_cents": event.original_amount_cents,
                    "paid_cents": 0,
                    "due_date": event.due_date,
                    "settled": 0,
                    "version": event.aggregate_version,
                }
                stmt = dialect.insert(negotiable_debts).values(row)
                # Payments and settlement come from other events: an update keeps them.
                keep = {"debt_id", "paid_cents", "settled"}
                conn.execute(
                    stmt.on_conflict_do_update(
                        index_elements=["debt_id"],
                        set_={k: stmt.excluded[k] for k in row if k not in keep},
                        where=negotiable_debts.c.version < stmt.excluded.version,
                    )
                )
            elif isinstance(event, DebtReopened):
                conn.execute(
                    update(negotiable_debts)
                    .where(negotiable_debts.c.debt_id == event.debt_id)
                    .values(paid_cents=event.paid_cents)
                )
            elif isinstance(event, DebtSettled):
                conn.execute(
                    update(negotiable_debts)
                    .where(negotiable_debts.c.debt_id == event.debt_id)
                    .values(settled=1, paid_cents=event.paid_cents)
                )


def _as_date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def _debt_row(r: Any) -> DebtRow:
    return DebtRow(
        debt_id=r.debt_id,
        tenant=r.tenant,
        document=r.document,
        debtor_name=r.debtor_name,
        creditor=r.creditor,
        contract=r.contract,
        installment=r.installment,
        category=r.category,
        original_amount_cents=r.original_amount_cents,
        paid_cents=r.paid_cents,
        due_date=_as_date(r.due_date),
        settled=bool(r.settled),
    )


class SqlDebtLookup:
    """The application's port to the debts, over the projection's table."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def debts(self, tenant: str, debt_ids: Sequence[str]) -> list[DebtRow]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(negotiable_debts).where(
                    negotiable_debts.c.tenant == tenant,
                    negotiable_debts.c.debt_id.in_(list(debt_ids)),
                )
            )
            found = {r.debt_id: _debt_row(r) for r in rows}
        return [found[i] for i in debt_ids if i in found]

    def open_debts(self, tenant: str, document: str) -> list[DebtRow]:
        """The debtor's debts not settled and with a balance, by creditor and due date."""
        t = negotiable_debts.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(negotiable_debts)
                .where(
                    t.tenant == tenant,
                    t.document == document,
                    t.settled == 0,
                    t.original_amount_cents > t.paid_cents,
                )
                .order_by(t.creditor, t.due_date, t.contract, t.installment, t.debt_id)
            )
            return [_debt_row(r) for r in rows]
