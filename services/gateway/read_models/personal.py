"""Debtors' personal data in the gateway's read models (LGPD, crypto-shredding; see
contracts.personal and service_runtime.personal_data).

A read model that shows personal data (a name, a phone, an e-mail, a city) keeps it in clear:
opened from the events' sealed data with the key vault (version 2 of the events), or taken as
the events carry it (version 1, published before the data was sealed). Each row remembers the
key its data was sealed with (`key_id`, NULL for data that came in clear).

When a debtor's data is erased (`PersonalDataErased` on `privacy.erasures`), every such
projection replaces it, idempotently: names by `REMOVED`, contacts by NULL, in the rows whose
data came under one of the erased keys or in clear. It also remembers the erasure (a table of
its own, `<prefix>_erasures`), so data in clear that it reads afterwards (a replay of version 1
events) is removed as it arrives; sealed data needs no such help, its key is gone. Rows whose
data came later under a new key (the creditor sent the debtor again) are new data and stay.

Whatever the order the topics are read in, live or in a replay, the rows end the same.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Sequence
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    MetaData,
    String,
    Table,
    delete,
    inspect,
    or_,
    select,
    tuple_,
)
from sqlalchemy.sql.elements import ColumnElement

from contracts.envelope import Envelope
from contracts.personal import ERASURES_TOPIC, PersonalDataErased, SealedPersonalData
from service_runtime.personal_data import REMOVED, KeyVault, unseal
from service_runtime.projection import Projection, offsets_metadata, projection_offsets
from service_runtime.sql import insert_ignore
from service_runtime.sqltypes import UtcDateTime

log = logging.getLogger(__name__)

__all__ = [
    "ERASURES_TOPIC",
    "REMOVED",
    "PersonalDataProjection",
    "erasures_table",
    "key_of",
    "open_personal",
    "removed_values",
]

# Fields shown as REMOVED once erased; every other personal field becomes NULL (a contact).
NAME_FIELDS = frozenset({"name", "debtor_name"})


def removed_value(field: str) -> str | None:
    """What an erased field reads as: REMOVED for a name, None for a contact."""
    return REMOVED if field in NAME_FIELDS else None


def removed_values(fields: Iterable[str]) -> dict[str, str | None]:
    return {field: removed_value(field) for field in fields}


def open_personal(
    sealed: SealedPersonalData | None, vault: KeyVault | None, fields: Sequence[str]
) -> tuple[dict[str, Any], bool]:
    """The named fields of sealed personal data in clear, and whether they were erased (names
    REMOVED, contacts None then). No sealed data: every field None, not erased. Without a vault
    nothing opens: erased."""
    if sealed is None:
        return dict.fromkeys(fields), False
    opened = unseal(sealed, vault) if vault is not None else None
    if opened is None:
        return removed_values(fields), True
    return {field: opened.get(field) for field in fields}, False


def key_of(event: Envelope) -> str | None:
    """The key an event's personal data is sealed with; None when it has none sealed."""
    # `field_or_none` without its check of the model's fields: a model's __dict__ holds its
    # fields and nothing else (asked of every event, twice, that check was a cost of its own).
    sealed = event.__dict__.get("personal")
    return sealed.key_id if isinstance(sealed, SealedPersonalData) else None


def erasures_table(name: str, metadata: MetaData) -> Table:
    """A projection's memory of the erasures it applied: the first of each debtor."""
    return Table(
        name,
        metadata,
        Column("tenant", String(63), primary_key=True),
        Column("document", String(14), primary_key=True),
        Column("erased_at", UtcDateTime(), nullable=False),
        Column("requested_by", String(200), nullable=False),
    )


def erased_rows(table: Table, event: PersonalDataErased) -> ColumnElement[bool]:
    """The rows of `table` (tenant, document, key_id) an erasure removes the data of: the
    debtor's rows whose data came in clear or under one of the erased keys."""
    keys = table.c.key_id
    condition: ColumnElement[bool] = keys.is_(None)
    if event.key_ids:
        condition = or_(condition, keys.in_(list(event.key_ids)))
    return (table.c.tenant == event.tenant) & (table.c.document == event.document) & condition


# Up to this many erasures remembered, a projection reads them all rather than ask for some.
_FEW_ERASURES = 1000


class PersonalDataProjection(Projection):
    """A projection that keeps personal data in clear: it opens it with the vault and removes it
    when the debtor's data is erased (see the module's docstring)."""

    erasures: Table

    def __init__(self, vault: KeyVault) -> None:
        self.vault = vault

    def prepare(self, events: Sequence[Envelope]) -> None:
        self.vault.preload(key for event in events if (key := key_of(event)) is not None)

    def open(
        self, sealed: SealedPersonalData | None, fields: Sequence[str]
    ) -> tuple[dict[str, Any], bool]:
        return open_personal(sealed, self.vault, fields)

    def apply_erasures(self, conn: Connection, events: list[Envelope]) -> list[PersonalDataErased]:
        """Remember the erasures among `events` and forget their keys in this process's vault;
        returns them (the projection removes its rows' data)."""
        erased = [e for e in events if isinstance(e, PersonalDataErased)]
        if not erased:
            return []
        for event in erased:
            self.vault.forget(event.key_ids)
        insert_ignore(
            conn,
            self.erasures,
            [
                {
                    "tenant": e.tenant,
                    "document": e.document,
                    "erased_at": e.occurred_at,
                    "requested_by": e.requested_by[:200],
                }
                for e in erased
            ],
        )
        return erased

    def erased_debtors(
        self, conn: Connection, debtors: Collection[tuple[str, str]]
    ) -> set[tuple[str, str]]:
        """Which of these (tenant, document) had their data erased."""
        wanted = set(debtors)
        if not wanted:
            return set()
        table = self.erasures
        # Erasures are few: while they are, all of them are read in one query (a replay asked
        # for every debtor of every batch, 400 to a query, of a table most often empty).
        few = conn.execute(select(table.c.tenant, table.c.document).limit(_FEW_ERASURES + 1)).all()
        if len(few) <= _FEW_ERASURES:
            return {(r.tenant, r.document) for r in few} & wanted
        found: set[tuple[str, str]] = set()
        ordered = sorted(wanted)
        for start in range(0, len(ordered), 400):
            chunk = ordered[start : start + 400]
            rows = conn.execute(
                select(table.c.tenant, table.c.document).where(
                    tuple_(table.c.tenant, table.c.document).in_(chunk)
                )
            )
            found.update((r.tenant, r.document) for r in rows)
        return found

    def create_tables(self, engine: Engine) -> None:
        """Create the tables; a table of an older shape (columns missing) makes the projection
        start again from offset zero: its tables are made anew and its offsets forgotten."""
        existing = inspect(engine)
        stale = [
            table.name
            for table in self.metadata.sorted_tables
            if existing.has_table(table.name)
            and {c.name for c in table.columns}
            - {c["name"] for c in existing.get_columns(table.name)}
        ]
        if stale:
            log.warning(
                "%s: %s changed shape; the projection is rebuilt from offset zero",
                self.name,
                ", ".join(stale),
            )
            with engine.begin() as conn:
                self.metadata.drop_all(conn)
                offsets_metadata.create_all(conn)
                conn.execute(
                    delete(projection_offsets).where(projection_offsets.c.projection == self.name)
                )
        super().create_tables(engine)
