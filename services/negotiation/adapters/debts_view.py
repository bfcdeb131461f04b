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
from collections.abc import Iterable, Sequence
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
from contracts.personal import ERASURES_TOPIC, PersonalDataErased, SealedPersonalData
from contracts.portfolio import (
    DEBTS_TOPIC,
    DebtImported,
    DebtImportedV2,
    DebtReopened,
    DebtSettled,
    DebtUpdated,
    DebtUpdatedV2,
    DebtWithdrawn,
)
from service_runtime.erasure_records import ErasureRecords
from service_runtime.personal_data import REMOVED, KeyVault, unseal
from service_runtime.projection import Projection
from service_runtime.sql import insert_ignore

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
    settled: bool

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


class NegotiableDebtsProjection(Projection):
    name = "negotiation.debts"
    topics = (DEBTS_TOPIC,)
    metadata = metadata

    def __init__(self, vault: KeyVault) -> None:
        self.vault = vault

    def create_tables(self, engine: Engine) -> None:
        super().create_tables(engine)
        erasures_metadata.create_all(engine)

    def debtor_names(self, conn: Connection, events: list[Envelope]) -> dict[uuid.UUID, str]:
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
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        names = self.debtor_names(conn, events)
        for event in events:
            if isinstance(event, DebtContactEvent):
                row: dict[str, Any] = {
                    "debt_id": event.debt_id,
                    "tenant": event.tenant,
                    "document": event.document,
                    "debtor_name": names[event.event_id],
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
            elif isinstance(event, DebtWithdrawn):
                # The creditor cancelled it or took it back: no longer negotiable, like a
                # settled debt (2 tells the two apart in the table; both read as settled).
                conn.execute(
                    update(negotiable_debts)
                    .where(negotiable_debts.c.debt_id == event.debt_id)
                    .values(settled=2)
                )


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
        for event in events:
            if isinstance(event, PersonalDataErased):
                self.vault.forget(event.key_ids)
                insert_ignore(
                    conn,
                    erased_debtors,
                    [
                        {
                            "tenant": event.tenant,
                            "document": event.document,
                            "erased_at": event.occurred_at,
                        }
                    ],
                )
                insert_ignore(
                    conn,
                    erased_keys,
                    [
                        {"key_id": key_id, "tenant": event.tenant, "document": event.document}
                        for key_id in event.key_ids
                    ],
                )
                conn.execute(
                    update(negotiable_debts)
                    .where(
                        negotiable_debts.c.tenant == event.tenant,
                        negotiable_debts.c.document == event.document,
                    )
                    .values(debtor_name=REMOVED)
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
