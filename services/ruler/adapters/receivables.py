"""The receivables the ruler works on, in the ruler's own database: imported debts and
agreement installments, kept from `portfolio.debts`, `negotiation.agreements` and
`negotiation.invoices`. The stage column is a cache of the Receivable aggregate's (the event
store is the truth); a run compares against it to load only receivables that move."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
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
from contracts.negotiation import (
    AgreementBroken,
    AgreementClosed,
    InstallmentPaid,
)
from contracts.portfolio import DebtImported, DebtReopened, DebtSettled, DebtUpdated

metadata = MetaData()
receivables = Table(
    "ruler_receivables",
    metadata,
    Column("receivable_id", String(36), primary_key=True),
    Column("tenant", String(63), nullable=False),
    Column("kind", String(12), nullable=False),
    Column("document", String(14), nullable=False),
    Column("debtor_name", String(200), nullable=False),
    Column("creditor", String(200), nullable=False),
    Column("category", String(100)),
    Column("contract", String(100), nullable=False),
    Column("amount_cents", Integer, nullable=False),
    Column("due_date", Date, nullable=False),
    Column("agreement_id", String(36)),
    # open, in_agreement (debts), settled, paid (installments), cancelled (installments)
    Column("status", String(20), nullable=False),
    Column("stage", String(30), nullable=False),
    Column("version", Integer, nullable=False),
    Index("ix_ruler_receivables_status", "status", "tenant"),
)


@dataclass(frozen=True)
class ReceivableRow:
    receivable_id: str
    tenant: str
    kind: str
    document: str
    debtor_name: str
    creditor: str
    category: str | None
    contract: str
    amount_cents: int
    due_date: dt.date
    agreement_id: str | None
    status: str
    stage: str


@dataclass(frozen=True)
class Exit:
    """A receivable that left the ruler with this batch (the application finalizes it)."""

    row: ReceivableRow
    reason: str
    on: dt.date


@dataclass(frozen=True)
class Reentry:
    row: ReceivableRow
    on: dt.date


def _date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def _row(r: Any) -> ReceivableRow:
    return ReceivableRow(
        receivable_id=r.receivable_id,
        tenant=r.tenant,
        kind=r.kind,
        document=r.document,
        debtor_name=r.debtor_name,
        creditor=r.creditor,
        category=r.category,
        contract=r.contract,
        amount_cents=r.amount_cents,
        due_date=_date(r.due_date),
        agreement_id=r.agreement_id,
        status=r.status,
        stage=r.stage,
    )


class ReceivablesTable:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        metadata.create_all(engine)

    def apply(
        self, conn: Connection, events: Sequence[Envelope]
    ) -> tuple[list[Exit], list[Reentry]]:
        """Apply events idempotently; return the receivables that left or came back."""
        exits: list[Exit] = []
        reentries: list[Reentry] = []
        for event in events:
            if isinstance(event, DebtImported | DebtUpdated):
                self._upsert_debt(conn, event)
            elif isinstance(event, DebtSettled):
                exits += self._close(conn, [event.debt_id], "settled", event.settled_on)
            elif isinstance(event, AgreementClosed):
                exits += self._close(
                    conn, event.debt_ids, "renegotiated", event.closed_on, "in_agreement"
                )
                self._installments(conn, event)
            elif isinstance(event, InstallmentPaid):
                exits += self._close(conn, [event.invoice_id], "paid", event.paid_on)
            elif isinstance(event, AgreementBroken):
                installments = [
                    r.receivable_id
                    for r in self._rows(
                        conn,
                        receivables.c.agreement_id == event.agreement_id,
                        receivables.c.kind == "installment",
                    )
                ]
                exits += self._close(conn, installments, "cancelled", event.broken_on)
            elif isinstance(event, DebtReopened):
                row = self._get(conn, event.debt_id)
                if row is not None and row.status != "open":
                    conn.execute(
                        update(receivables)
                        .where(receivables.c.receivable_id == event.debt_id)
                        .values(status="open", amount_cents=event.balance_cents, stage="current")
                    )
                    reopened = self._get(conn, event.debt_id)
                    assert reopened is not None
                    reentries.append(Reentry(reopened, event.reopened_on))
        return exits, reentries

    def _upsert_debt(self, conn: Connection, event: DebtImported | DebtUpdated) -> None:
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        values = {
            "receivable_id": event.debt_id,
            "tenant": event.tenant,
            "kind": "debt",
            "document": event.document,
            "debtor_name": event.debtor.name,
            "creditor": event.creditor,
            "category": event.category,
            "contract": event.contract,
            "amount_cents": event.original_amount_cents,
            "due_date": event.due_date,
            "agreement_id": None,
            "status": "open",
            "stage": "current",
            "version": event.aggregate_version,
        }
        stmt = dialect.insert(receivables).values(values)
        keep = {"receivable_id", "status", "stage", "agreement_id", "kind"}
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["receivable_id"],
                set_={k: stmt.excluded[k] for k in values if k not in keep},
                where=receivables.c.version < stmt.excluded.version,
            )
        )

    def _installments(self, conn: Connection, event: AgreementClosed) -> None:
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        for installment in event.installments:
            conn.execute(
                dialect.insert(receivables)
                .values(
                    receivable_id=installment.invoice_id,
                    tenant=event.tenant,
                    kind="installment",
                    document=event.document,
                    debtor_name=event.debtor_name,
                    creditor=event.creditor,
                    category=None,
                    contract=f"acordo {event.agreement_id[:8]} parcela {installment.number}",
                    amount_cents=installment.amount_cents,
                    due_date=installment.due_date,
                    agreement_id=event.agreement_id,
                    status="open",
                    stage="current",
                    version=1,
                )
                .on_conflict_do_nothing(index_elements=["receivable_id"])
            )

    def _close(
        self,
        conn: Connection,
        ids: Sequence[str],
        reason: str,
        on: dt.date,
        status: str | None = None,
    ) -> list[Exit]:
        new_status = status or {"renegotiated": "in_agreement"}.get(reason, reason)
        exits = []
        for receivable_id in ids:
            row = self._get(conn, receivable_id)
            if row is None or row.status != "open":
                continue
            conn.execute(
                update(receivables)
                .where(receivables.c.receivable_id == receivable_id)
                .values(status=new_status)
            )
            exits.append(Exit(row, reason, on))
        return exits

    def _get(self, conn: Connection, receivable_id: str) -> ReceivableRow | None:
        found = conn.execute(
            select(receivables).where(receivables.c.receivable_id == receivable_id)
        ).first()
        return _row(found) if found else None

    @staticmethod
    def _rows(conn: Connection, *where: Any) -> list[ReceivableRow]:
        return [_row(r) for r in conn.execute(select(receivables).where(*where))]

    def open_rows(self, batch: int = 2000) -> Iterator[list[ReceivableRow]]:
        """Open receivables in pages (by id), so a long run holds no transaction open."""
        last = ""
        while True:
            with self.engine.connect() as conn:
                page = [
                    _row(r)
                    for r in conn.execute(
                        select(receivables)
                        .where(receivables.c.status == "open", receivables.c.receivable_id > last)
                        .order_by(receivables.c.receivable_id)
                        .limit(batch)
                    )
                ]
            if not page:
                return
            yield page
            last = page[-1].receivable_id

    def set_stage(self, receivable_id: str, stage: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(receivables)
                .where(receivables.c.receivable_id == receivable_id)
                .values(stage=stage)
            )
