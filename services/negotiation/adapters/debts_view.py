"""The debts the negotiation service can negotiate: a projection of `portfolio.debts` in the
service's own database (the portfolio owns the debts; this is a copy kept up to date).

The debtor's name is the one clear copy of personal data the service keeps: opened with the
key vault from the events of version 2 (sealed, see contracts.personal), taken as it is from
the old version 1. `ErasuresProjection` follows `privacy.erasures`: it replaces the names of
an erased debtor by `REMOVED` and remembers the erasure, so a replay of the old events (whose
names are in clear) or of sealed ones read before the key's erasure reached this process
never brings an erased name back."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Iterable, Iterator, Sequence
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
    bindparam,
    func,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from contracts.envelope import Envelope
from contracts.personal import ERASURES_TOPIC, PersonalDataErased, SealedPersonalData
from contracts.portfolio import (
    DEBTS_TOPIC,
    DebtImported,
    DebtImportedV2,
    DebtPaymentDeducted,
    DebtReopened,
    DebtSettled,
    DebtUpdated,
    DebtUpdatedV2,
    DebtWithdrawn,
)
from service_runtime.erasure_records import ErasureRecords
from service_runtime.personal_data import REMOVED, KeyVault, unseal
from service_runtime.projection import Projection

log = logging.getLogger(__name__)

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
    settled: bool  # paid off, or withdrawn by the creditor: not negotiable either way
    withdrawn: bool = False  # the creditor cancelled it or took it back
    # The debt's version of the creditor's data the row holds (its import's or update's).
    version: int = 0

    @property
    def balance_cents(self) -> int:
        """What is still owed of the principal, after payments of broken agreements."""
        return max(0, self.original_amount_cents - self.paid_cents)


# Erasures this service applied (privacy.erasures), apart from the debts' tables: a replay of
# the debts (which resets their tables) keeps them.
erasures_metadata = MetaData()
erasures = ErasureRecords.declare("negotiation", erasures_metadata)
erased_debtors, erased_keys = erasures.debtors, erasures.keys

DebtContactEvent = DebtImported | DebtUpdated | DebtImportedV2 | DebtUpdatedV2


def opened_name(sealed: SealedPersonalData, vault: KeyVault, field: str) -> str:
    """One sealed name in clear; `REMOVED` once its key is erased (or when it does not open:
    a consumer must not stop on one bad event, so it is logged)."""
    try:
        opened = unseal(sealed, vault)
    except ValueError as exc:
        log.warning("personal data under key %s: %s", sealed.key_id, exc)
        return REMOVED
    if opened is None:
        return REMOVED
    value = opened.get(field)
    return str(value) if value is not None else ""


def erased_among(
    conn: Connection, debtors: Iterable[tuple[str, str]], key_ids: Iterable[str]
) -> tuple[set[tuple[str, str]], set[str]]:
    """Which of these (tenant, document) pairs and key ids were erased here."""
    return erasures.erased_among(conn, debtors, key_ids)


# The statements of a batch, built once: building them for every event (columns, coercions,
# cache keys) cost more than the writes themselves. Each runs once per batch, over all its rows.

# Payments and settlement come from other events: a newer version of the debt keeps them.
_CONTACT_FIELDS = (
    "tenant",
    "document",
    "debtor_name",
    "creditor",
    "contract",
    "installment",
    "category",
    "original_amount_cents",
    "due_date",
    "version",
)


def _upsert_contacts(
    insert: postgresql.Insert | sqlite.Insert,
) -> postgresql.Insert | sqlite.Insert:
    return insert.on_conflict_do_update(
        index_elements=["debt_id"],
        set_={k: insert.excluded[k] for k in _CONTACT_FIELDS},
        where=negotiable_debts.c.version < insert.excluded.version,
    )


_UPSERT_CONTACTS_PG = _upsert_contacts(postgresql.insert(negotiable_debts))
_UPSERT_CONTACTS_SQLITE = _upsert_contacts(sqlite.insert(negotiable_debts))

# What the batch's settlements, reopenings and withdrawals leave on a debt: NULL keeps the column
# as stored (a withdrawal says nothing of payments, a reopening nothing of settlement).
_SET_OUTCOME = (
    update(negotiable_debts)
    .where(negotiable_debts.c.debt_id == bindparam("b_debt_id"))
    .values(
        paid_cents=func.coalesce(
            bindparam("b_paid_cents", type_=Integer), negotiable_debts.c.paid_cents
        ),
        settled=func.coalesce(bindparam("b_settled", type_=Integer), negotiable_debts.c.settled),
    )
)
_STORED_DEBTS = select(negotiable_debts.c.debt_id).where(
    negotiable_debts.c.debt_id.in_(bindparam("ids", expanding=True))
)
_SCRUB_NAMES = (
    update(negotiable_debts)
    .where(
        negotiable_debts.c.tenant == bindparam("b_tenant"),
        negotiable_debts.c.document == bindparam("b_document"),
    )
    .values(debtor_name=REMOVED)
)
# Ids per `IN (...)`.
_CHUNK = 500

_Outcome = DebtReopened | DebtPaymentDeducted | DebtSettled | DebtWithdrawn


def _chunks(ids: Sequence[str]) -> Iterator[list[str]]:
    for start in range(0, len(ids), _CHUNK):
        yield list(ids[start : start + _CHUNK])


def _contact_row(event: DebtContactEvent, name: str) -> dict[str, Any]:
    return {
        "debt_id": event.debt_id,
        "tenant": event.tenant,
        "document": event.document,
        "debtor_name": name,
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


def _outcome_rows(
    conn: Connection,
    outcomes: list[tuple[int, _Outcome]],
    first_contact: dict[str, int],
) -> list[dict[str, Any]]:
    """What the settlements, reopenings, payments deducted and withdrawals leave on each debt:
    the last one of each column wins. One that came before its debt's first import in the
    batch changed nothing unless the row was already stored; one without an import in the
    batch is written anyway (an update of a missing row changes nothing)."""
    early = sorted(
        {
            e.debt_id
            for index, e in outcomes
            if e.debt_id in first_contact and index < first_contact[e.debt_id]
        }
    )
    stored: set[str] = set()
    for chunk in _chunks(early):
        stored.update(conn.execute(_STORED_DEBTS, {"ids": chunk}).scalars())
    paid: dict[str, int] = {}
    settled: dict[str, int] = {}
    for index, event in outcomes:
        debt_id = event.debt_id
        if index < first_contact.get(debt_id, -1) and debt_id not in stored:
            continue
        if isinstance(event, DebtReopened | DebtPaymentDeducted):
            paid[debt_id] = event.paid_cents
        elif isinstance(event, DebtSettled):
            settled[debt_id] = 1
            paid[debt_id] = event.paid_cents
        else:
            # The creditor cancelled it or took it back: no longer negotiable, like a
            # settled debt (2 tells the two apart in the table; both read as settled).
            settled[debt_id] = 2
    return [
        {"b_debt_id": d, "b_paid_cents": paid.get(d), "b_settled": settled.get(d)}
        for d in dict.fromkeys([*paid, *settled])
    ]


class NegotiableDebtsProjection(Projection):
    """Writes a batch with one statement per kind of change, ending as the events applied one
    by one would: a debt's row has the first event of its highest version (a stored row of
    the same version or newer stays), and the settlements, reopenings and withdrawals read
    after the row existed, the later ones winning."""

    name = "negotiation.debts"
    topics = (DEBTS_TOPIC,)
    metadata = metadata

    def __init__(self, vault: KeyVault) -> None:
        self.vault = vault

    def create_tables(self, engine: Engine) -> None:
        super().create_tables(engine)
        erasures_metadata.create_all(engine)

    def prepare(self, events: Sequence[Envelope]) -> None:
        # One query to the vault for the batch, instead of one per sealed name opened.
        self.vault.preload(
            e.personal.key_id for e in events if isinstance(e, DebtImportedV2 | DebtUpdatedV2)
        )

    def debtor_names(self, conn: Connection, events: Sequence[Envelope]) -> dict[uuid.UUID, str]:
        """The debtor's name of each event with a contact, by event id: in clear, or
        `REMOVED` when the debtor's data was erased."""
        contacts = [e for e in events if isinstance(e, DebtContactEvent)]
        if not contacts:
            return {}
        erased_pairs, erased_key_ids = erased_among(
            conn,
            ((e.tenant, e.document) for e in contacts if isinstance(e, DebtImported | DebtUpdated)),
            (e.personal.key_id for e in contacts if isinstance(e, DebtImportedV2 | DebtUpdatedV2)),
        )
        names: dict[uuid.UUID, str] = {}
        for event in contacts:
            if isinstance(event, DebtImportedV2 | DebtUpdatedV2):
                names[event.event_id] = (
                    REMOVED
                    if event.personal.key_id in erased_key_ids
                    else opened_name(event.personal, self.vault, "name")
                )
            else:
                # Version 1 carried the name in clear: it stays erased here once erased.
                erased = (event.tenant, event.document) in erased_pairs
                names[event.event_id] = REMOVED if erased else event.debtor.name
        return names

    def apply(self, conn: Connection, events: list[Envelope]) -> None:
        # The first event of each debt's highest version in the batch: applied one by one,
        # the others would be overwritten by it or be no newer than the row it left.
        latest: dict[str, DebtContactEvent] = {}
        first_contact: dict[str, int] = {}
        outcomes: list[tuple[int, _Outcome]] = []
        for index, event in enumerate(events):
            if isinstance(event, DebtContactEvent):
                first_contact.setdefault(event.debt_id, index)
                current = latest.get(event.debt_id)
                if current is None or current.aggregate_version < event.aggregate_version:
                    latest[event.debt_id] = event
            elif isinstance(event, _Outcome):
                outcomes.append((index, event))
        # Read before the upsert: whether the rows existed when the batch began.
        changes = _outcome_rows(conn, outcomes, first_contact) if outcomes else []
        if latest:
            contacts = list(latest.values())
            names = self.debtor_names(conn, contacts)
            upsert = (
                _UPSERT_CONTACTS_PG
                if conn.dialect.name == "postgresql"
                else _UPSERT_CONTACTS_SQLITE
            )
            conn.execute(upsert, [_contact_row(e, names[e.event_id]) for e in contacts])
        if changes:
            conn.execute(_SET_OUTCOME, changes)


class ErasuresProjection(Projection):
    """`privacy.erasures`: a debtor's keys were erased. Drops them from the vault's cache,
    replaces the debtor's names in the debts by `REMOVED` and remembers the erasure. Applying
    the same erasure again changes nothing."""

    name = "negotiation.erasures"
    topics = (ERASURES_TOPIC,)
    metadata = erasures_metadata

    def __init__(self, vault: KeyVault) -> None:
        self.vault = vault

    def create_tables(self, engine: Engine) -> None:
        super().create_tables(engine)
        metadata.create_all(engine)

    def apply(self, conn: Connection, events: list[Envelope]) -> None:
        erased = [e for e in events if isinstance(e, PersonalDataErased)]
        if not erased:
            return
        for event in erased:
            self.vault.forget(event.key_ids)
        remembered = erasures.erased_among(conn, [], (k for e in erased for k in e.key_ids))[1]
        # An erasure read again (its partition read from the start) must not remove what the
        # creditor sent after it, under a new key.
        debtors = {
            (e.tenant, e.document) for e in erased if not erasures.applied_before(e, remembered)
        }
        erasures.remember(conn, erased)
        if debtors:
            conn.execute(
                _SCRUB_NAMES,
                [{"b_tenant": tenant, "b_document": doc} for tenant, doc in sorted(debtors)],
            )


class SqlErasures:
    """The application's port to the erasures this service applied."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        erasures_metadata.create_all(engine)

    def erased(self, tenant: str, document: str) -> bool:
        with self.engine.connect() as conn:
            found = conn.execute(
                select(erased_debtors.c.document).where(
                    erased_debtors.c.tenant == tenant, erased_debtors.c.document == document
                )
            ).first()
        return found is not None


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
        withdrawn=r.settled == 2,
        version=r.version,
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
