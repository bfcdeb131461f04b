"""Portal view: the open debts of each (tenant, document), as the portal and chatbot show them."""

from __future__ import annotations

import datetime as dt
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
)
from sqlalchemy.dialects import postgresql, sqlite

from contracts.envelope import Envelope
from contracts.portfolio import DEBTS_TOPIC, DebtImported, DebtUpdated
from service_runtime.projection import Projection
from service_runtime.sqltypes import UtcDateTime

metadata = MetaData()
portal_debts = Table(
    "portal_debts",
    metadata,
    Column("debt_id", String(36), primary_key=True),
    Column("tenant", String(63), nullable=False),
    Column("document", String(14), nullable=False),
    Column("document_kind", String(4), nullable=False),
    Column("debtor_name", String(200), nullable=False),
    Column("creditor", String(200), nullable=False),
    Column("contract", String(100), nullable=False),
    Column("installment", String(20), nullable=False),
    Column("original_amount_cents", Integer, nullable=False),
    Column("due_date", Date, nullable=False),
    Column("category", String(100)),
    Column("status", String(20), nullable=False),
    Column("version", Integer, nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Index("ix_portal_debts_tenant_document", "tenant", "document"),
)


def _row(event: DebtImported | DebtUpdated) -> dict[str, Any]:
    return {
        "debt_id": event.debt_id,
        "tenant": event.tenant,
        "document": event.document,
        "document_kind": event.document_kind,
        "debtor_name": event.debtor.name,
        "creditor": event.creditor,
        "contract": event.contract,
        "installment": event.installment,
        "original_amount_cents": event.original_amount_cents,
        "due_date": event.due_date,
        "category": event.category,
        "status": "open",
        "version": event.aggregate_version,
        "updated_at": event.occurred_at,
    }


class PortalViewProjection(Projection):
    name = "portal_view"
    topics = (DEBTS_TOPIC,)
    metadata = metadata

    def apply(self, conn: Connection, events: list[Envelope]) -> None:
        # Newest version of each debt in this batch; older or repeated versions change nothing.
        latest: dict[str, dict[str, Any]] = {}
        for event in events:
            if isinstance(event, DebtImported | DebtUpdated):
                current = latest.get(event.debt_id)
                if current is None or current["version"] < event.aggregate_version:
                    latest[event.debt_id] = _row(event)
        if not latest:
            return
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(portal_debts)
        columns = {c: stmt.excluded[c] for c in _COLUMNS if c != "debt_id"}
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["debt_id"],
                set_=columns,
                where=portal_debts.c.version < stmt.excluded.version,
            ),
            list(latest.values()),
        )


_COLUMNS = [c.name for c in portal_debts.columns]


def open_debts(engine: Engine, tenant: str, document: str) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(portal_debts)
            .where(
                portal_debts.c.tenant == tenant,
                portal_debts.c.document == document,
                portal_debts.c.status == "open",
            )
            .order_by(portal_debts.c.due_date, portal_debts.c.creditor, portal_debts.c.contract)
        )
        return [dict(r._mapping) for r in rows]


def count_debts(engine: Engine, tenant: str | None = None) -> int:
    from sqlalchemy import func

    query = select(func.count()).select_from(portal_debts)
    if tenant:
        query = query.where(portal_debts.c.tenant == tenant)
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def due_date_of(row: dict[str, Any]) -> dt.date:
    value = row["due_date"]
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
