"""Debtors' contacts (name, e-mail, phone) per tenant and document and their open debts
(for the portal notification), kept from `portfolio.debts` in the messaging service's
database, and the queue of messages waiting for their window or their next attempt (rebuilt
from the event store at start)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    delete,
    func,
    inspect,
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
from service_runtime.projection import Projection, offsets_metadata, projection_offsets
from service_runtime.sql import upsert
from service_runtime.sqltypes import UtcDateTime
from services.messaging.domain.phones import e164

metadata = MetaData()
contacts = Table(
    "debtor_contacts",
    metadata,
    Column("tenant", String(63), primary_key=True),
    Column("document", String(14), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("email", String(200)),
    Column("phone", String(40)),
    Column("version_key", String(80), nullable=False),
)
# One row per debt: whether it is open (imported or reopened) or settled, and its original
# value, so the portal notification can say how many debts and how much.
debtor_debts = Table(
    "debtor_debts",
    metadata,
    Column("tenant", String(63), primary_key=True),
    Column("debt_id", String(36), primary_key=True),
    Column("document", String(14), nullable=False),
    Column("original_amount_cents", Integer, nullable=False),
    Column("open", Boolean, nullable=False),
    Column("version", Integer, nullable=False),
    Index("ix_debtor_debts_tenant_open", "tenant", "open"),
)
# Debtors by phone (+55...), to find whose number wrote SAIR before saying who they are.
debtor_phones = Table(
    "debtor_phones",
    metadata,
    Column("tenant", String(63), primary_key=True),
    Column("phone", String(20), primary_key=True),
    Column("document", String(14), primary_key=True),
)
outgoing = Table(
    "outgoing_messages",
    metadata,
    Column("message_id", String(36), primary_key=True),
    Column("tenant", String(63), nullable=False),
    Column("send_at", UtcDateTime(), nullable=False, index=True),
    Column("attempts", Integer, nullable=False),
)


@dataclass(frozen=True)
class Contact:
    name: str
    email: str | None
    phone: str | None


@dataclass(frozen=True)
class DebtorOpenDebts:
    """A debtor with open debts and an e-mail: how many and their original value summed."""

    document: str
    email: str
    open_debts: int
    total_cents: int


PROJECTION_NAME = "messaging.contacts"


def create_tables(engine: Engine) -> None:
    """The tables, and the projection's positions forgotten when `debtor_debts` is new: a
    database whose contacts were read before that table existed reads `portfolio.debts` again
    from the start to fill it (contacts rows are kept by version, so nothing else changes)."""
    found = inspect(engine)
    filled_before = found.has_table(contacts.name) and not (
        found.has_table(debtor_debts.name) and found.has_table(debtor_phones.name)
    )
    metadata.create_all(engine)
    offsets_metadata.create_all(engine)
    if filled_before:
        with engine.begin() as conn:
            conn.execute(
                delete(projection_offsets).where(projection_offsets.c.projection == PROJECTION_NAME)
            )


class ContactsProjection(Projection):
    name = PROJECTION_NAME
    topics = (DEBTS_TOPIC,)
    metadata = metadata

    def create_tables(self, engine: Engine) -> None:
        create_tables(engine)

    def apply(self, conn: Connection, events: list[Envelope]) -> None:
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        for event in events:
            if isinstance(event, DebtSettled | DebtReopened):
                self._debt_open(conn, event, open_=isinstance(event, DebtReopened))
            elif isinstance(event, DebtImported | DebtUpdated):
                self._contact(conn, dialect, event)
                self._debt(conn, dialect, event)
                self._phone(conn, dialect, event)

    @staticmethod
    def _contact(conn: Connection, dialect: Any, event: DebtImported | DebtUpdated) -> None:
        # The newest import wins (its time, then the debt's version, as a sortable key).
        key = f"{event.occurred_at.isoformat()}|{event.aggregate_version:09d}"
        row = {
            "tenant": event.tenant,
            "document": event.document,
            "name": event.debtor.name,
            "email": event.debtor.email,
            "phone": event.debtor.phone,
            "version_key": key,
        }
        stmt = dialect.insert(contacts).values(row)
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["tenant", "document"],
                set_={k: stmt.excluded[k] for k in ("name", "email", "phone", "version_key")},
                where=contacts.c.version_key < stmt.excluded.version_key,
            )
        )

    @staticmethod
    def _phone(conn: Connection, dialect: Any, event: DebtImported | DebtUpdated) -> None:
        phone = e164(event.debtor.phone)
        if phone:
            conn.execute(
                dialect.insert(debtor_phones)
                .values(tenant=event.tenant, phone=phone, document=event.document)
                .on_conflict_do_nothing()
            )

    @staticmethod
    def _debt(conn: Connection, dialect: Any, event: DebtImported | DebtUpdated) -> None:
        """A debt imported is open; one updated keeps whether it is open (a re-imported row
        does not undo a settlement). Each event once: only a newer version of the debt counts."""
        stmt = dialect.insert(debtor_debts).values(
            tenant=event.tenant,
            debt_id=event.debt_id,
            document=event.document,
            original_amount_cents=event.original_amount_cents,
            open=True,
            version=event.aggregate_version,
        )
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["tenant", "debt_id"],
                set_={
                    k: stmt.excluded[k] for k in ("document", "original_amount_cents", "version")
                },
                where=debtor_debts.c.version < stmt.excluded.version,
            )
        )

    @staticmethod
    def _debt_open(conn: Connection, event: DebtSettled | DebtReopened, *, open_: bool) -> None:
        conn.execute(
            update(debtor_debts)
            .where(
                debtor_debts.c.tenant == event.tenant,
                debtor_debts.c.debt_id == event.debt_id,
                debtor_debts.c.version < event.aggregate_version,
            )
            .values(open=open_, version=event.aggregate_version)
        )


class ContactBook:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        create_tables(engine)

    def contact(self, tenant: str, document: str) -> Contact | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(contacts).where(contacts.c.tenant == tenant, contacts.c.document == document)
            ).first()
        return Contact(row.name, row.email, row.phone) if row else None

    def documents_with_phone(self, tenant: str, phone: str) -> list[str]:
        with self.engine.connect() as conn:
            return list(
                conn.scalars(
                    select(debtor_phones.c.document)
                    .where(debtor_phones.c.tenant == tenant, debtor_phones.c.phone == phone)
                    .order_by(debtor_phones.c.document)
                )
            )

    def debtors_with_open_debts(self, tenant: str) -> list[DebtorOpenDebts]:
        """The tenant's debtors with at least one open debt and an e-mail, by document."""
        count = func.count(debtor_debts.c.debt_id)
        total = func.sum(debtor_debts.c.original_amount_cents)
        query = (
            select(debtor_debts.c.document, contacts.c.email, count, total)
            .join(
                contacts,
                (contacts.c.tenant == debtor_debts.c.tenant)
                & (contacts.c.document == debtor_debts.c.document),
            )
            .where(
                debtor_debts.c.tenant == tenant,
                debtor_debts.c.open.is_(True),
                contacts.c.email.is_not(None),
                contacts.c.email != "",
            )
            .group_by(debtor_debts.c.document, contacts.c.email)
            .order_by(debtor_debts.c.document)
        )
        with self.engine.connect() as conn:
            return [
                DebtorOpenDebts(document, email, int(n), int(cents))
                for document, email, n, cents in conn.execute(query)
            ]

    def enqueue(self, message_id: str, tenant: str, send_at: dt.datetime, attempts: int) -> None:
        with self.engine.begin() as conn:
            upsert(
                conn,
                outgoing,
                {
                    "message_id": message_id,
                    "tenant": tenant,
                    "send_at": send_at,
                    "attempts": attempts,
                },
                ["message_id"],
            )

    def dequeue(self, message_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(outgoing).where(outgoing.c.message_id == message_id))

    def due(self, now: dt.datetime, limit: int = 200) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [
                dict(r._mapping)
                for r in conn.execute(
                    select(outgoing)
                    .where(outgoing.c.send_at <= now)
                    .order_by(outgoing.c.send_at)
                    .limit(limit)
                )
            ]

    def replace_queue(self, rows: Sequence[dict[str, Any]]) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(outgoing))
            if rows:
                conn.execute(outgoing.insert(), list(rows))
