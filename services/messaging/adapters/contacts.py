"""Debtors' contacts (name, e-mail, phone) per tenant and document, kept from
`portfolio.debts` in the messaging service's database, and the queue of messages waiting
for their window or their next attempt (rebuilt from the event store at start)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Connection, Engine, Integer, MetaData, String, Table, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from contracts.envelope import Envelope
from contracts.portfolio import DEBTS_TOPIC, DebtImported, DebtUpdated
from service_runtime.projection import Projection
from service_runtime.sql import upsert
from service_runtime.sqltypes import UtcDateTime

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


class ContactsProjection(Projection):
    name = "messaging.contacts"
    topics = (DEBTS_TOPIC,)
    metadata = metadata

    def apply(self, conn: Connection, events: list[Envelope]) -> None:
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        for event in events:
            if not isinstance(event, DebtImported | DebtUpdated):
                continue
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


class ContactBook:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        metadata.create_all(engine)

    def contact(self, tenant: str, document: str) -> Contact | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(contacts).where(contacts.c.tenant == tenant, contacts.c.document == document)
            ).first()
        return Contact(row.name, row.email, row.phone) if row else None

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
