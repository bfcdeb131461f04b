"""Debtors' contacts (name, e-mail, phone) per tenant and document and their open debts
(for the portal notification), kept from `portfolio.debts` in the messaging service's
database, and the queue of messages waiting for their window or their next attempt (rebuilt
from the event store at start).

The contacts are kept in clear (the service sends to them), opened from the sealed `personal`
of `DebtImportedV2`/`DebtUpdatedV2` with the key vault (version 1 carries them in clear). A
debtor's erasure (`PersonalDataErased` on `privacy.erasures`, `ErasuresProjection`) deletes
them and the debtor's phones, and leaves a mark (`erased_debtors`): what the portfolio said of
the debtor before it is never read again, even when `portfolio.debts` is read from its start;
only data sealed with a key made after the erasure (new data) is.

The date of birth the carteira may seal with the contact (the chatbot's second factor, see
domain.second_factor) is never kept: only its digest (`debtor_birth_dates`), keyed with the
tenant's key of the vault and salted with the debtor, from the newest event that brought a
date; an erasure deletes it with the contact.

What a debt back in collection from a broken agreement still owes (`ContactBook.balance`):
its original amount, as the creditor's newest row says it (`debtor_debts`, from the imports and
re-imports), less everything paid on it (`debt_balances.paid_cents`, from the newest
`DebtReopened` / `DebtPaymentDeducted`: a payment to the broken agreement's boleto taken off the
debt), never below zero, as the ruler works out the `valor` it asks; so that a collection
message waiting for its window never goes out saying more than that (`MessagingApplication`
re-renders it), and one the ruler asked after a re-import raised the original goes as asked."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Date,
    Engine,
    Executable,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    delete,
    func,
    inspect,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from contracts.envelope import Envelope
from contracts.personal import ERASURES_TOPIC, PersonalDataErased
from contracts.portfolio import (
    DEBTS_TOPIC,
    DebtImported,
    DebtImportedV2,
    DebtPaymentDeducted,
    DebtReopened,
    DebtSettled,
    DebtUpdated,
    DebtUpdatedV2,
)
from service_runtime.personal_data import KeyVault, unseal
from service_runtime.projection import Projection, offsets_metadata, projection_offsets
from service_runtime.sql import insert_ignore, upsert
from service_runtime.sqltypes import UtcDateTime
from services.messaging.domain.phones import e164
from services.messaging.domain.second_factor import BIRTH_DATE_KEY_PURPOSE, birth_date_digest

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
# What was paid on a debt back in collection (everything paid under its broken agreements,
# centavos) and what it owed then (`balance_cents`, the portfolio's), as the newest of its
# DebtReopened and DebtPaymentDeducted said it (the debt's version); `paid_on`: the day of the
# newest payment deducted (None: the reopening's). What it owes now: `ContactBook.balance`.
debt_balances = Table(
    "debt_balances",
    metadata,
    Column("tenant", String(63), primary_key=True),
    Column("debt_id", String(36), primary_key=True),
    Column("paid_cents", Integer, nullable=False),
    Column("balance_cents", Integer, nullable=False),
    Column("paid_on", Date),
    Column("version", Integer, nullable=False),
)
# The keyed digest of the debtor's date of birth (`birth_date_digest`), never the date: from
# the newest event that brought one (`version_key`, as the contacts').
debtor_birth_dates = Table(
    "debtor_birth_dates",
    metadata,
    Column("tenant", String(63), primary_key=True),
    Column("document", String(14), primary_key=True),
    Column("digest", String(64), nullable=False),
    Column("version_key", String(80), nullable=False),
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

# Messages asked for a debtor this service has not read yet: its contact comes on
# `portfolio.debts`, read by another consumer, which may be behind the ruler that asked (a
# carteira imported and the ruler run at once, or the contacts read again from the start).
# They wait here, in the same transaction as the requests' positions, until the debtor is
# known or erased, or they waited too long (`MessagingApplication.accept_waiting`).
waiting_metadata = MetaData()
waiting_requests = Table(
    "waiting_requests",
    waiting_metadata,
    Column("tenant", String(63), primary_key=True),
    Column("key", String(500), primary_key=True),
    Column("document", String(14), nullable=False),
    Column("request", Text, nullable=False),
    Column("since", UtcDateTime(), nullable=False),
)

log = logging.getLogger(__name__)

DebtWithContact = DebtImported | DebtUpdated | DebtImportedV2 | DebtUpdatedV2
_OpenOrNot = DebtSettled | DebtReopened
_Balance = DebtReopened | DebtPaymentDeducted
# What the contacts projection reads of `portfolio.debts`.
_DEBT_EVENTS = (
    DebtImported,
    DebtUpdated,
    DebtImportedV2,
    DebtUpdatedV2,
    DebtSettled,
    DebtReopened,
    DebtPaymentDeducted,
)


@dataclass(frozen=True)
class Contact:
    name: str
    email: str | None
    phone: str | None


@dataclass(frozen=True)
class DebtBalance:
    """What a debt back in collection owes now; `paid_on`: the day of the newest payment
    deducted (None: nothing deducted since the debt was reopened); `version`: the debt's
    version of the newest payment; `reimported`: the creditor's row changed the original
    amount since (so the balance is not the one the portfolio said with the payment)."""

    balance_cents: int
    paid_on: dt.date | None
    version: int
    reimported: bool = False


@dataclass(frozen=True)
class DebtorOpenDebts:
    """A debtor with open debts and an e-mail: how many and their original value summed."""

    document: str
    email: str
    open_debts: int
    total_cents: int


PROJECTION_NAME = "messaging.contacts"


def create_tables(engine: Engine) -> None:
    """The tables, and the projection's positions forgotten when `debtor_debts` (or another
    table of the debts: phones, dates of birth, balances) is new: a database whose contacts
    were read before that table existed reads `portfolio.debts` again from the start to fill
    it (rows are kept by version, so nothing else changes). A `debt_balances` from before
    `paid_cents` was kept (only balances) is dropped first, so it is filled again that way."""
    _drop_balances_without_paid(engine)
    found = inspect(engine)
    filled_before = found.has_table(contacts.name) and not (
        found.has_table(debtor_debts.name)
        and found.has_table(debtor_phones.name)
        and found.has_table(debtor_birth_dates.name)
        and found.has_table(debt_balances.name)
    )
    metadata.create_all(engine)
    erasures_metadata.create_all(engine)
    waiting_metadata.create_all(engine)
    offsets_metadata.create_all(engine)
    if filled_before:
        with engine.begin() as conn:
            conn.execute(
                delete(projection_offsets).where(projection_offsets.c.projection == PROJECTION_NAME)
            )


def _drop_balances_without_paid(engine: Engine) -> None:
    """The balances table as it was first kept (the portfolio's last balance, not what was
    paid) cannot follow a re-import: dropped, to be created and read again from the start
    (`create_tables`). Nothing is lost: it is all on `portfolio.debts`."""
    found = inspect(engine)
    if not found.has_table(debt_balances.name):
        return
    if "paid_cents" in {c["name"] for c in found.get_columns(debt_balances.name)}:
        return
    log.info(
        "%s: %s kept no paid_cents; dropped, read again from %s",
        PROJECTION_NAME,
        debt_balances.name,
        DEBTS_TOPIC,
    )
    with engine.begin() as conn:
        debt_balances.drop(conn)


@dataclass(frozen=True)
class ContactFields:
    """A debt event's contact, in clear, and the digest of the date of birth it brought."""

    name: str
    email: str | None
    phone: str | None
    birth_digest: str | None = None


# Keys per `IN (...)`.
_CHUNK = 500

# Statements built once: building them per event cost more than running them.
_ERASED = select(erased_debtors.c.document, erased_debtors.c.erased_at).where(
    erased_debtors.c.tenant == bindparam("tenant"),
    erased_debtors.c.document.in_(bindparam("documents", expanding=True)),
)
_DEBTS = select(
    debtor_debts.c.debt_id,
    debtor_debts.c.document,
    debtor_debts.c.original_amount_cents,
    debtor_debts.c.open,
    debtor_debts.c.version,
).where(
    debtor_debts.c.tenant == bindparam("tenant"),
    debtor_debts.c.debt_id.in_(bindparam("ids", expanding=True)),
)


@dataclass(frozen=True)
class _Writes:
    """A batch's writes, one statement each, run with all the batch's rows at once."""

    contacts: Executable
    phones: Executable
    debts: Executable
    birth_dates: Executable
    balances: Executable


def _writes(dialect: Any) -> _Writes:
    contact = dialect.insert(contacts)
    debt = dialect.insert(debtor_debts)
    birth = dialect.insert(debtor_birth_dates)
    balance = dialect.insert(debt_balances)
    return _Writes(
        # The newest contact wins (see `_contact_row`); an equal key keeps what is there.
        contacts=contact.on_conflict_do_update(
            index_elements=["tenant", "document"],
            set_={k: contact.excluded[k] for k in ("name", "email", "phone", "version_key")},
            where=contacts.c.version_key < contact.excluded.version_key,
        ),
        phones=dialect.insert(debtor_phones).on_conflict_do_nothing(),
        # The debts' rows are worked out from what is stored (`_Debts`): a row is written only
        # when the batch moved it to a newer version.
        debts=debt.on_conflict_do_update(
            index_elements=["tenant", "debt_id"],
            set_={
                k: debt.excluded[k]
                for k in ("document", "original_amount_cents", "open", "version")
            },
            where=debtor_debts.c.version < debt.excluded.version,
        ),
        # As the contacts: the newest date wins; an equal key keeps what is there.
        birth_dates=birth.on_conflict_do_update(
            index_elements=["tenant", "document"],
            set_={k: birth.excluded[k] for k in ("digest", "version_key")},
            where=debtor_birth_dates.c.version_key < birth.excluded.version_key,
        ),
        # Only a newer version of the debt says its balance again: a deduction read twice, or
        # an older one read late, changes nothing.
        balances=balance.on_conflict_do_update(
            index_elements=["tenant", "debt_id"],
            set_={
                k: balance.excluded[k]
                for k in ("paid_cents", "balance_cents", "paid_on", "version")
            },
            where=debt_balances.c.version < balance.excluded.version,
        ),
    )


_WRITES = {"postgresql": _writes(postgresql), "sqlite": _writes(sqlite)}


def _chunks(keys: Iterable[str]) -> Iterator[list[str]]:
    ordered = sorted(set(keys))
    for start in range(0, len(ordered), _CHUNK):
        yield ordered[start : start + _CHUNK]


def erased_at(conn: Connection, tenant: str, documents: Iterable[str]) -> dict[str, dt.datetime]:
    """When each of these debtors of the tenant had their personal data erased (those erased)."""
    found: dict[str, dt.datetime] = {}
    for chunk in _chunks(documents):
        rows = conn.execute(_ERASED, {"tenant": tenant, "documents": chunk})
        found.update({document: at for document, at in rows})
    return found


def _contact_row(event: DebtWithContact, contact: ContactFields) -> dict[str, Any]:
    return {
        "tenant": event.tenant,
        "document": event.document,
        "name": contact.name,
        "email": contact.email,
        "phone": contact.phone,
        # The newest import wins (its time, then the debt's version, as a sortable key).
        "version_key": f"{event.occurred_at.isoformat()}|{event.aggregate_version:09d}",
    }


def _balance_row(event: DebtReopened | DebtPaymentDeducted) -> dict[str, Any]:
    return {
        "tenant": event.tenant,
        "debt_id": event.debt_id,
        "paid_cents": event.paid_cents,
        "balance_cents": event.balance_cents,
        "paid_on": event.paid_on if isinstance(event, DebtPaymentDeducted) else None,
        "version": event.aggregate_version,
    }


@dataclass(slots=True)
class _Debt:
    document: str
    original_amount_cents: int
    open: bool
    version: int

    def values(self) -> tuple[str, int, bool, int]:
        return (self.document, self.original_amount_cents, self.open, self.version)


class _Debts:
    """The batch's debts: read once, the events applied in memory one by one as the rows
    would have been (a debt imported is open; one updated keeps whether it is open, a re-imported
    row does not undo a settlement; only a newer version of the debt counts), and the rows
    that changed written at the end."""

    def __init__(self, conn: Connection, events: Sequence[DebtWithContact | _OpenOrNot]) -> None:
        ids: dict[str, set[str]] = {}
        for event in events:
            ids.setdefault(event.tenant, set()).add(event.debt_id)
        self.stored: dict[tuple[str, str], tuple[str, int, bool, int]] = {}
        for tenant, debt_ids in ids.items():
            for chunk in _chunks(debt_ids):
                for row in conn.execute(_DEBTS, {"tenant": tenant, "ids": chunk}):
                    self.stored[(tenant, row.debt_id)] = (
                        row.document,
                        row.original_amount_cents,
                        bool(row.open),
                        row.version,
                    )
        self.debts = {key: _Debt(*values) for key, values in self.stored.items()}

    def imported(self, event: DebtWithContact) -> None:
        debt = self.debts.get((event.tenant, event.debt_id))
        if debt is None:
            self.debts[(event.tenant, event.debt_id)] = _Debt(
                event.document, event.original_amount_cents, True, event.aggregate_version
            )
        elif debt.version < event.aggregate_version:
            debt.document = event.document
            debt.original_amount_cents = event.original_amount_cents
            debt.version = event.aggregate_version

    def opened(self, event: _OpenOrNot) -> None:
        """Settled (closed) or reopened; nothing for a debt not imported yet."""
        debt = self.debts.get((event.tenant, event.debt_id))
        if debt is not None and debt.version < event.aggregate_version:
            debt.open = isinstance(event, DebtReopened)
            debt.version = event.aggregate_version

    def changed_rows(self) -> list[dict[str, Any]]:
        return [
            {
                "tenant": tenant,
                "debt_id": debt_id,
                "document": debt.document,
                "original_amount_cents": debt.original_amount_cents,
                "open": debt.open,
                "version": debt.version,
            }
            for (tenant, debt_id), debt in self.debts.items()
            if self.stored.get((tenant, debt_id)) != debt.values()
        ]


class ContactsProjection(Projection):
    name = PROJECTION_NAME
    topics = (DEBTS_TOPIC,)
    metadata = metadata

    def __init__(self, vault: KeyVault) -> None:
        self.vault = vault

    def create_tables(self, engine: Engine) -> None:
        create_tables(engine)

    def prepare(self, events: Sequence[Envelope]) -> None:
        # The batch's keys in one query to the vault, not one per event.
        self.vault.preload(
            event.personal.key_id
            for event in events
            if isinstance(event, DebtImportedV2 | DebtUpdatedV2)
        )

    def apply(self, conn: Connection, events: list[Envelope]) -> None:
        """The batch's rows gathered in memory, each table written with one statement: the
        same rows as applying the events one at a time, in their order."""
        writes = _WRITES["postgresql" if conn.dialect.name == "postgresql" else "sqlite"]
        debt_events = [e for e in events if isinstance(e, _DEBT_EVENTS)]
        if not debt_events:
            return
        erased: dict[tuple[str, str], dt.datetime] = {}
        by_tenant: dict[str, set[str]] = {}
        for event in debt_events:
            if isinstance(event, DebtImported | DebtUpdated):
                by_tenant.setdefault(event.tenant, set()).add(event.document)
        for tenant, documents in by_tenant.items():
            for document, at in erased_at(conn, tenant, documents).items():
                erased[(tenant, document)] = at
        newest: dict[tuple[str, str], dict[str, Any]] = {}
        births: dict[tuple[str, str], dict[str, Any]] = {}
        phones: dict[tuple[str, str, str], dict[str, str]] = {}
        debts = _Debts(conn, [e for e in debt_events if not isinstance(e, DebtPaymentDeducted)])
        balances: dict[tuple[str, str], dict[str, Any]] = {}
        for event in debt_events:
            if isinstance(event, _Balance):
                key = (event.tenant, event.debt_id)
                if key not in balances or balances[key]["version"] < event.aggregate_version:
                    balances[key] = _balance_row(event)
            if isinstance(event, DebtPaymentDeducted):
                continue
            if isinstance(event, DebtSettled | DebtReopened):
                debts.opened(event)
                continue
            contact = self._contact_of(event, erased.get((event.tenant, event.document)))
            if contact is not None:
                row = _contact_row(event, contact)
                key = (event.tenant, event.document)
                # As the upsert would: only a greater key replaces (a tie keeps the first).
                if key not in newest or newest[key]["version_key"] < row["version_key"]:
                    newest[key] = row
                if contact.birth_digest is not None:
                    birth = {
                        "tenant": event.tenant,
                        "document": event.document,
                        "digest": contact.birth_digest,
                        "version_key": row["version_key"],
                    }
                    if key not in births or births[key]["version_key"] < birth["version_key"]:
                        births[key] = birth
                phone = e164(contact.phone)
                if phone:
                    phones[(event.tenant, phone, event.document)] = {
                        "tenant": event.tenant,
                        "phone": phone,
                        "document": event.document,
                    }
            debts.imported(event)
        if newest:
            conn.execute(writes.contacts, list(newest.values()))
        if phones:
            conn.execute(writes.phones, list(phones.values()))
        if births:
            conn.execute(writes.birth_dates, list(births.values()))
        if rows := debts.changed_rows():
            conn.execute(writes.debts, rows)
        if balances:
            conn.execute(writes.balances, list(balances.values()))

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
            str(opened.get("name") or ""),
            opened.get("email"),
            opened.get("phone"),
            self._birth_digest(event, opened.get("birth_date")),
        )

    def _birth_digest(self, event: DebtWithContact, iso: Any) -> str | None:
        """The digest of the date of birth the sealed data holds (ISO); None without one (data
        sealed before dates came, a row without it) or when it is no date."""
        if not iso:
            return None
        try:
            day = dt.date.fromisoformat(str(iso))
        except ValueError:
            log.warning("%s: date of birth of %s is no ISO date", self.name, event.event_id)
            return None
        # The tenant's key is asked once per process (the vault keeps it).
        key = self.vault.settings_key(event.tenant, BIRTH_DATE_KEY_PURPOSE)
        return birth_date_digest(key.secret, event.tenant, event.document, day)


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
    conn.execute(
        delete(debtor_birth_dates).where(
            debtor_birth_dates.c.tenant == tenant, debtor_birth_dates.c.document == document
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

    def known(self, debtors: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which of these (tenant, document) this service has read a contact of, or knows
        erased: a message to them can be decided now."""
        wanted = sorted(set(debtors))
        found: set[tuple[str, str]] = set()
        with self.engine.connect() as conn:
            for start in range(0, len(wanted), 400):
                chunk = wanted[start : start + 400]
                for table in (contacts, erased_debtors):
                    rows = conn.execute(
                        select(table.c.tenant, table.c.document).where(
                            tuple_(table.c.tenant, table.c.document).in_(chunk)
                        )
                    )
                    found.update((r.tenant, r.document) for r in rows)
        return found

    @staticmethod
    def wait(conn: Connection, requests: Sequence[Any], since: dt.datetime) -> None:
        """Keep these requests (`MessageRequested`) until their debtors are known; a request
        already waiting keeps the time it came."""
        insert_ignore(
            conn,
            waiting_requests,
            [
                {
                    "tenant": r.tenant,
                    "key": r.key,
                    "document": r.document,
                    "request": r.model_dump_json(),
                    "since": since,
                }
                for r in requests
            ],
        )

    def waiting(self, limit: int = 500) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [
                dict(r._mapping)
                for r in conn.execute(
                    select(waiting_requests).order_by(waiting_requests.c.since).limit(limit)
                )
            ]

    def stop_waiting(self, rows: Sequence[dict[str, Any]]) -> None:
        with self.engine.begin() as conn:
            for row in rows:
                conn.execute(
                    delete(waiting_requests).where(
                        waiting_requests.c.tenant == row["tenant"],
                        waiting_requests.c.key == row["key"],
                    )
                )

    def birth_date_digest(self, tenant: str, document: str) -> str | None:
        """The keyed digest of the debtor's date of birth from the carteira; None without one
        (or after the debtor's erasure)."""
        with self.engine.connect() as conn:
            return conn.scalar(
                select(debtor_birth_dates.c.digest).where(
                    debtor_birth_dates.c.tenant == tenant,
                    debtor_birth_dates.c.document == document,
                )
            )

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

    def balance(self, tenant: str, debt_id: str) -> DebtBalance | None:
        """What the debt owes since its agreement broke: its original amount less everything
        paid on it (never below zero), as the ruler works it out; None for a debt never back
        from an agreement, or not a debt (an agreement's installment).

        The newest of the two says it: when the debt's row (`debtor_debts`, its imports,
        re-imports, settlements and reopenings) is at the payment's version or later, its
        original amount (a re-import may have changed it) less what was paid; when the payment
        is newer (or the debt's row not read), the balance the portfolio said with it, which
        already counts every original before it."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(
                    debt_balances.c.paid_cents,
                    debt_balances.c.balance_cents,
                    debt_balances.c.paid_on,
                    debt_balances.c.version,
                    debtor_debts.c.original_amount_cents,
                    debtor_debts.c.version.label("debt_version"),
                )
                .select_from(debt_balances)
                .outerjoin(
                    debtor_debts,
                    (debtor_debts.c.tenant == debt_balances.c.tenant)
                    & (debtor_debts.c.debt_id == debt_balances.c.debt_id),
                )
                .where(debt_balances.c.tenant == tenant, debt_balances.c.debt_id == debt_id)
            ).first()
        if row is None:
            return None
        owed = row.balance_cents
        if row.debt_version is not None and row.debt_version >= row.version:
            owed = max(0, row.original_amount_cents - row.paid_cents)
        return DebtBalance(owed, row.paid_on, row.version, reimported=owed != row.balance_cents)

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

    def queued_of(self, tenant: str) -> list[dict[str, Any]]:
        """The tenant's messages waiting in the queue, whenever they are due."""
        with self.engine.connect() as conn:
            return [
                dict(r._mapping)
                for r in conn.execute(
                    select(outgoing).where(outgoing.c.tenant == tenant).order_by(outgoing.c.send_at)
                )
            ]

    def replace_queue(self, rows: Sequence[dict[str, Any]]) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(outgoing))
            if rows:
                conn.execute(outgoing.insert(), list(rows))
