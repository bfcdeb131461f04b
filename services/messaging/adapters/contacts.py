"""Debtors' contacts (name, e-mail, phone) per tenant and document and their open debts
(for the portal notification), kept from `portfolio.debts` in the messaging service's
database, and the queue of messages waiting for their window or their next attempt (rebuilt
from the event store at start).

The contacts are kept in clear (the service sends to them), opened from the sealed `personal`
of `DebtImportedV2`/`DebtUpdatedV2` with the key vault (version 1 carries them in clear). A
debtor's erasure (`PersonalDataErased` on `privacy.erasures`, `ErasuresProjection`) deletes
them and the debtor's phones, and leaves a mark (`erased_debtors`): what the portfolio said of
the debtor before it is never read again, even when `portfolio.debts` is read from its start;
only data sealed with a key made after the erasure (new data) is."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
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
from contracts.personal import ERASURES_TOPIC, PersonalDataErased
from contracts.portfolio import (
    DEBTS_TOPIC,
    DebtImported,
    DebtImportedV2,
    DebtReopened,
    DebtSettled,
    DebtUpdated,
    DebtUpdatedV2,
)
from service_runtime.personal_data import KeyVault, unseal
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


# Debtors whose personal data were erased, and when (the erasure's time): kept apart from the
# contacts' tables, so reading `portfolio.debts` again from its start (a reset of the contacts
# projection) still knows them.
erasures_metadata = MetaData()
erased_debtors = Table(
    "erased_debtors",
    erasures_metadata,
    Column("tenant", String(63), primary_key=True),
    Column("document", String(14), primary_key=True),
    Column("erased_at", UtcDateTime(), nullable=False),
)

log = logging.getLogger(__name__)

DebtWithContact = DebtImported | DebtUpdated | DebtImportedV2 | DebtUpdatedV2


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
    erasures_metadata.create_all(engine)
    offsets_metadata.create_all(engine)
    if filled_before:
        with engine.begin() as conn:
            conn.execute(
                delete(projection_offsets).where(projection_offsets.c.projection == PROJECTION_NAME)
            )


@dataclass(frozen=True)
class ContactFields:
    """A debt event's contact, in clear."""

    name: str
    email: str | None
    phone: str | None


def erased_at(conn: Connection, tenant: str, documents: Iterable[str]) -> dict[str, dt.datetime]:
    """When each of these debtors of the tenant had their personal data erased (those erased)."""
    wanted = sorted(set(documents))
    found: dict[str, dt.datetime] = {}
    for start in range(0, len(wanted), 500):
        rows = conn.execute(
            select(erased_debtors.c.document, erased_debtors.c.erased_at).where(
                erased_debtors.c.tenant == tenant,
                erased_debtors.c.document.in_(wanted[start : start + 500]),
            )
        )
        found.update({document: at for document, at in rows})
    return found


class ContactsProjection(Projection):
    name = PROJECTION_NAME
    topics = (DEBTS_TOPIC,)
    metadata = metadata

    def __init__(self, vault: KeyVault) -> None:
        self.vault = vault

    def create_tables(self, engine: Engine) -> None:
        create_tables(engine)

    def apply(self, conn: Connection, events: list[Envelope]) -> None:
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        erased: dict[tuple[str, str], dt.datetime] = {}
        by_tenant: dict[str, set[str]] = {}
        for event in events:
            if isinstance(event, DebtImported | DebtUpdated):
                by_tenant.setdefault(event.tenant, set()).add(event.document)
        for tenant, documents in by_tenant.items():
            for document, at in erased_at(conn, tenant, documents).items():
                erased[(tenant, document)] = at
        for event in events:
            if isinstance(event, DebtSettled | DebtReopened):
                self._debt_open(conn, event, open_=isinstance(event, DebtReopened))
            elif isinstance(event, DebtImported | DebtUpdated | DebtImportedV2 | DebtUpdatedV2):
                erasure = erased.get((event.tenant, event.document))
                contact = self._contact_of(event, erasure)
                if contact is not None:
                    self._contact(conn, dialect, event, contact)
                    self._phone(conn, dialect, event, contact)
                self._debt(conn, dialect, event)

    def _contact_of(
        self, event: DebtWithContact, erasure: dt.datetime | None
    ) -> ContactFields | None:
        """The event's contact in clear; None when it was erased: version 1 from before the
        debtor's erasure (`erasure`), or version 2 whose key is gone."""
        if isinstance(event, DebtImported | DebtUpdated):
            if erasure is not None and event.occurred_at <= erasure:
                return None
            return ContactFields(event.debtor.name, event.debtor.email, event.debtor.phone)
        try:
            opened = unseal(event.personal, self.vault)
        except ValueError as exc:
            log.warning("%s: contact of %s does not open: %s", self.name, event.event_id, exc)
            return None
        if opened is None:
            return None
        return ContactFields(
            str(opened.get("name") or ""), opened.get("email"), opened.get("phone")
        )

    @staticmethod
    def _contact(
        conn: Connection, dialect: Any, event: DebtWithContact, contact: ContactFields
    ) -> None:
        # The newest import wins (its time, then the debt's version, as a sortable key).
        key = f"{event.occurred_at.isoformat()}|{event.aggregate_version:09d}"
        row = {
            "tenant": event.tenant,
            "document": event.document,
            "name": contact.name,
            "email": contact.email,
            "phone": contact.phone,
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
    def _phone(
        conn: Connection, dialect: Any, event: DebtWithContact, contact: ContactFields
    ) -> None:
        phone = e164(contact.phone)
        if phone:
            conn.execute(
                dialect.insert(debtor_phones)
                .values(tenant=event.tenant, phone=phone, document=event.document)
                .on_conflict_do_nothing()
            )

    @staticmethod
    def _debt(conn: Connection, dialect: Any, event: DebtWithContact) -> None:
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


class ErasuresProjection(Projection):
    """`PersonalDataErased`: the debtor's keys are gone. Drops them from the vault's cache of
    this process, deletes the debtor's contact and phones (nothing is sent to them any more,
    and no name is left in clear), and marks the debtor erased (see `erased_debtors`).
    Idempotent: applied again, it changes nothing."""

    name = "messaging.erasures"
    topics = (ERASURES_TOPIC,)
    metadata = erasures_metadata

    def __init__(self, vault: KeyVault) -> None:
        self.vault = vault

    def create_tables(self, engine: Engine) -> None:
        create_tables(engine)

    def apply(self, conn: Connection, events: list[Envelope]) -> None:
        for event in events:
            if isinstance(event, PersonalDataErased):
                self.vault.forget(event.key_ids)
                scrub_debtor(conn, event.tenant, event.document, event.occurred_at)


def scrub_debtor(conn: Connection, tenant: str, document: str, at: dt.datetime) -> None:
    """Remove what the service keeps in clear of a debtor whose personal data were erased."""
    conn.execute(
        delete(contacts).where(contacts.c.tenant == tenant, contacts.c.document == document)
    )
    conn.execute(
        delete(debtor_phones).where(
            debtor_phones.c.tenant == tenant, debtor_phones.c.document == document
        )
    )
    before = erased_at(conn, tenant, [document]).get(document)
    if before is None:
        conn.execute(erased_debtors.insert().values(tenant=tenant, document=document, erased_at=at))
    elif before < at:
        conn.execute(
            update(erased_debtors)
            .where(erased_debtors.c.tenant == tenant, erased_debtors.c.document == document)
            .values(erased_at=at)
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

    def erased(self, tenant: str, document: str) -> bool:
        """Whether the debtor's personal data were erased (`PersonalDataErased`)."""
        with self.engine.connect() as conn:
            return bool(erased_at(conn, tenant, [document]))

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
