"""Portal view: what the portal and the chatbot show a debtor (per tenant and document): the
debts open to negotiation, and the agreements already made with their invoices, so the
debtor finds the boleto again (as the Recuperador portal does).

Built from three topics read independently (debts, agreements, invoices), so events of one
may arrive before those of another: each change is written so that the order does not
matter (a debt imported after its agreement is still shown as in agreement).

The debtor's name is personal data: opened with the key vault from version 2 of the debts'
events, and replaced by REMOVED once the debtor's data is erased (see read_models.personal)."""

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
    Text,
    and_,
    func,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from contracts.envelope import Envelope
from contracts.negotiation import (
    AGREEMENTS_TOPIC,
    INVOICES_TOPIC,
    AgreementBroken,
    AgreementClosed,
    AgreementClosedV2,
    AgreementFulfilled,
    InstallmentPaid,
    InvoiceOverdue,
)
from contracts.personal import ERASURES_TOPIC
from contracts.portfolio import (
    DEBTS_TOPIC,
    DebtImported,
    DebtImportedV2,
    DebtReopened,
    DebtSettled,
    DebtUpdated,
    DebtUpdatedV2,
)
from service_runtime.personal_data import REMOVED
from service_runtime.sql import insert_ignore
from service_runtime.sqltypes import UtcDateTime
from services.gateway.read_models.personal import (
    PersonalDataProjection,
    erased_rows,
    erasures_table,
)

metadata = MetaData()
portal_debts = Table(
    "portal_debts",
    metadata,
    Column("debt_id", String(36), primary_key=True),
    Column("tenant", String(63), nullable=False),
    Column("document", String(14), nullable=False),
    Column("document_kind", String(4), nullable=False),
    # REMOVED once the debtor's personal data is erased.
    Column("debtor_name", String(200), nullable=False),
    # The key the name was sealed with (NULL: it came in clear, version 1).
    Column("key_id", String(32)),
    Column("creditor", String(200), nullable=False),
    Column("contract", String(100), nullable=False),
    Column("installment", String(20), nullable=False),
    Column("original_amount_cents", Integer, nullable=False),
    # Paid under agreements that broke (deducted from what is owed).
    Column("paid_cents", Integer, nullable=False),
    Column("due_date", Date, nullable=False),
    Column("category", String(100)),
    # open (negotiable), in_agreement, settled
    Column("status", String(20), nullable=False),
    Column("agreement_id", String(36)),
    Column("version", Integer, nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Index("ix_portal_debts_tenant_document", "tenant", "document"),
)
portal_agreements = Table(
    "portal_agreements",
    metadata,
    Column("agreement_id", String(36), primary_key=True),
    Column("tenant", String(63), nullable=False),
    Column("document", String(14), nullable=False),
    Column("creditor", String(200), nullable=False),
    Column("channel", String(20), nullable=False),
    Column("closed_on", Date, nullable=False),
    Column("total_cents", Integer, nullable=False),
    Column("updated_value_cents", Integer, nullable=False),
    Column("discount_cents", Integer, nullable=False),
    Column("installments", Integer, nullable=False),
    # active, broken, fulfilled
    Column("status", String(20), nullable=False),
    Column("ended_on", Date),
    Index("ix_portal_agreements_tenant_document", "tenant", "document"),
)
portal_agreement_debts = Table(
    "portal_agreement_debts",
    metadata,
    Column("agreement_id", String(36), primary_key=True),
    Column("debt_id", String(36), primary_key=True),
    Index("ix_portal_agreement_debts_debt", "debt_id"),
)
portal_invoices = Table(
    "portal_invoices",
    metadata,
    Column("invoice_id", String(36), primary_key=True),
    Column("agreement_id", String(36), nullable=False, index=True),
    Column("number", Integer, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("due_date", Date, nullable=False),
    Column("amount_cents", Integer, nullable=False),
    Column("paid_cents", Integer, nullable=False),
    # open, overdue, paid
    Column("status", String(20), nullable=False),
    Column("days_overdue", Integer, nullable=False),
    Column("nosso_numero", String(20), nullable=False),
    Column("barcode", String(44), nullable=False),
    Column("digitable_line", String(47), nullable=False),
    Column("pix_code", Text, nullable=False),
)
portal_erasures = erasures_table("portal_erasures", metadata)

DebtEvent = DebtImported | DebtUpdated | DebtImportedV2 | DebtUpdatedV2

_DEBT_FIELDS = [
    "tenant",
    "document",
    "document_kind",
    "debtor_name",
    "key_id",
    "creditor",
    "contract",
    "installment",
    "original_amount_cents",
    "due_date",
    "category",
    "version",
    "updated_at",
]


def _debt_row(event: DebtEvent, name: str, key_id: str | None) -> dict[str, Any]:
    return {
        "debt_id": event.debt_id,
        "tenant": event.tenant,
        "document": event.document,
        "document_kind": event.document_kind,
        "debtor_name": name,
        "key_id": key_id,
        "creditor": event.creditor,
        "contract": event.contract,
        "installment": event.installment,
        "original_amount_cents": event.original_amount_cents,
        "paid_cents": 0,
        "due_date": event.due_date,
        "category": event.category,
        "status": "open",
        "agreement_id": None,
        "version": event.aggregate_version,
        "updated_at": event.occurred_at,
    }


class PortalViewProjection(PersonalDataProjection):
    name = "portal_view"
    topics = (DEBTS_TOPIC, AGREEMENTS_TOPIC, INVOICES_TOPIC, ERASURES_TOPIC)
    metadata = metadata
    erasures = portal_erasures

    def apply(self, conn: Connection, events: list[Envelope]) -> None:
        # Erasures first: then a name in clear read in the same batch is removed as it comes.
        for erasure in self.apply_erasures(conn, events):
            conn.execute(
                update(portal_debts)
                .where(erased_rows(portal_debts, erasure))
                .values(debtor_name=REMOVED)
            )
        # Newest version of each debt in this batch; older or repeated versions change nothing.
        latest: dict[str, DebtEvent] = {}
        for event in events:
            if isinstance(event, DebtImported | DebtUpdated | DebtImportedV2 | DebtUpdatedV2):
                current = latest.get(event.debt_id)
                if current is None or current.aggregate_version < event.aggregate_version:
                    latest[event.debt_id] = event
        if latest:
            self._upsert_debts(conn, self._debt_rows(conn, list(latest.values())))
        for event in events:
            if isinstance(event, AgreementClosed | AgreementClosedV2):
                self._closed(conn, event)
            elif isinstance(event, AgreementBroken):
                self._ended(conn, event.agreement_id, "broken", event.broken_on)
            elif isinstance(event, AgreementFulfilled):
                self._ended(conn, event.agreement_id, "fulfilled", event.fulfilled_on)
            elif isinstance(event, DebtSettled):
                conn.execute(
                    update(portal_debts)
                    .where(portal_debts.c.debt_id == event.debt_id)
                    .values(status="settled", paid_cents=event.paid_cents)
                )
            elif isinstance(event, DebtReopened):
                conn.execute(
                    update(portal_debts)
                    .where(portal_debts.c.debt_id == event.debt_id)
                    .values(paid_cents=event.paid_cents)
                )
            elif isinstance(event, InstallmentPaid):
                conn.execute(
                    update(portal_invoices)
                    .where(portal_invoices.c.invoice_id == event.invoice_id)
                    .values(status="paid", paid_cents=event.paid_cents)
                )
            elif isinstance(event, InvoiceOverdue):
                conn.execute(
                    update(portal_invoices)
                    .where(
                        portal_invoices.c.invoice_id == event.invoice_id,
                        portal_invoices.c.status != "paid",
                        portal_invoices.c.days_overdue < event.days_overdue,
                    )
                    .values(status="overdue", days_overdue=event.days_overdue)
                )
        if latest:
            # Debts that arrived after their agreement: show them as it says.
            self._refresh_status(conn, list(latest))

    def _debt_rows(self, conn: Connection, events: list[DebtEvent]) -> list[dict[str, Any]]:
        """The debts' rows, the name opened (version 2) or as it came (version 1, unless the
        debtor's data was erased since)."""
        in_clear = [e for e in events if isinstance(e, DebtImported | DebtUpdated)]
        erased = self.erased_debtors(conn, {(e.tenant, e.document) for e in in_clear})
        rows = []
        for event in events:
            if isinstance(event, DebtImportedV2 | DebtUpdatedV2):
                opened, _ = self.open(event.personal, ("name",))
                rows.append(_debt_row(event, opened["name"] or "", event.personal.key_id))
            else:
                gone = (event.tenant, event.document) in erased
                rows.append(_debt_row(event, REMOVED if gone else event.debtor.name, None))
        return rows

    def _upsert_debts(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(portal_debts)
        # Status, payments and agreement come from agreements: an update keeps them.
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["debt_id"],
                set_={c: stmt.excluded[c] for c in _DEBT_FIELDS},
                where=portal_debts.c.version < stmt.excluded.version,
            ),
            rows,
        )

    def _closed(self, conn: Connection, event: AgreementClosed | AgreementClosedV2) -> None:
        insert_ignore(
            conn,
            portal_agreements,
            [
                {
                    "agreement_id": event.agreement_id,
                    "tenant": event.tenant,
                    "document": event.document,
                    "creditor": event.creditor,
                    "channel": event.channel,
                    "closed_on": event.closed_on,
                    "total_cents": event.total_cents,
                    "updated_value_cents": event.updated_value_cents,
                    "discount_cents": event.discount_cents,
                    "installments": len(event.installments),
                    "status": "active",
                    "ended_on": None,
                }
            ],
        )
        insert_ignore(
            conn,
            portal_agreement_debts,
            [{"agreement_id": event.agreement_id, "debt_id": d} for d in event.debt_ids],
        )
        insert_ignore(
            conn,
            portal_invoices,
            [
                {
                    "invoice_id": i.invoice_id,
                    "agreement_id": event.agreement_id,
                    "number": i.number,
                    "kind": i.kind,
                    "due_date": i.due_date,
                    "amount_cents": i.amount_cents,
                    "paid_cents": 0,
                    "status": "open",
                    "days_overdue": 0,
                    "nosso_numero": i.nosso_numero,
                    "barcode": i.barcode,
                    "digitable_line": i.digitable_line,
                    "pix_code": i.pix_code,
                }
                for i in event.installments
            ],
        )
        self._refresh_status(conn, event.debt_ids)

    def _ended(self, conn: Connection, agreement_id: str, status: str, on: dt.date) -> None:
        conn.execute(
            update(portal_agreements)
            .where(
                portal_agreements.c.agreement_id == agreement_id,
                portal_agreements.c.status == "active",
            )
            .values(status=status, ended_on=on)
        )
        debt_ids = [
            r.debt_id
            for r in conn.execute(
                select(portal_agreement_debts.c.debt_id).where(
                    portal_agreement_debts.c.agreement_id == agreement_id
                )
            )
        ]
        self._refresh_status(conn, debt_ids)

    @staticmethod
    def _refresh_status(conn: Connection, debt_ids: list[str]) -> None:
        """A debt is settled once settled; in agreement while an agreement holding it is
        active (or fulfilled); open otherwise."""
        for start in range(0, len(debt_ids), 500):
            chunk = debt_ids[start : start + 500]
            holding = {
                r.debt_id: (r.agreement_id, r.status)
                for r in conn.execute(
                    select(
                        portal_agreement_debts.c.debt_id,
                        portal_agreements.c.agreement_id,
                        portal_agreements.c.status,
                    )
                    .join(
                        portal_agreements,
                        portal_agreements.c.agreement_id == portal_agreement_debts.c.agreement_id,
                    )
                    .where(
                        portal_agreement_debts.c.debt_id.in_(chunk),
                        portal_agreements.c.status.in_(("active", "fulfilled")),
                    )
                )
            }
            for debt_id in chunk:
                held = holding.get(debt_id)
                values: dict[str, Any] = (
                    {
                        "status": "settled" if held[1] == "fulfilled" else "in_agreement",
                        "agreement_id": held[0],
                    }
                    if held
                    else {"status": "open", "agreement_id": None}
                )
                conn.execute(
                    update(portal_debts)
                    .where(
                        and_(portal_debts.c.debt_id == debt_id, portal_debts.c.status != "settled")
                    )
                    .values(**values)
                )


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
        return [
            dict(r._mapping) | {"balance_cents": max(0, r.original_amount_cents - r.paid_cents)}
            for r in rows
        ]


def debtor_name(engine: Engine, tenant: str, document: str) -> str | None:
    with engine.connect() as conn:
        return conn.execute(
            select(portal_debts.c.debtor_name)
            .where(portal_debts.c.tenant == tenant, portal_debts.c.document == document)
            .limit(1)
        ).scalar_one_or_none()


def agreements_of(engine: Engine, tenant: str, document: str) -> list[dict[str, Any]]:
    """The debtor's agreements, newest first, each with its invoices in order."""
    with engine.connect() as conn:
        agreements = [
            dict(r._mapping)
            for r in conn.execute(
                select(portal_agreements)
                .where(
                    portal_agreements.c.tenant == tenant,
                    portal_agreements.c.document == document,
                )
                .order_by(portal_agreements.c.closed_on.desc(), portal_agreements.c.agreement_id)
            )
        ]
        ids = [a["agreement_id"] for a in agreements]
        invoices: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
        if ids:
            for r in conn.execute(
                select(portal_invoices)
                .where(portal_invoices.c.agreement_id.in_(ids))
                .order_by(portal_invoices.c.agreement_id, portal_invoices.c.number)
            ):
                invoices[r.agreement_id].append(dict(r._mapping))
    for agreement in agreements:
        agreement["invoices"] = invoices[agreement["agreement_id"]]
    return agreements


def count_debts(engine: Engine, tenant: str | None = None) -> int:
    query = select(func.count()).select_from(portal_debts)
    if tenant:
        query = query.where(portal_debts.c.tenant == tenant)
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def due_date_of(row: dict[str, Any]) -> dt.date:
    value = row["due_date"]
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
