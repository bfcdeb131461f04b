"""Which receivables left collection, as the ruler said it (`ReceivableLeftRuler` on
`ruler.stages`, and the finalization messages it asks, which its exit asks at the same version
of the receivable): a collection message asked before a receivable's exit is not sent once it
left (see `Message.left_before`), whichever the messaging service reads first.

Kept per tenant and receivable: the ruler's version of the receivable at its latest exit (a
debt that comes back to collection and leaves again has a later one) and why it left. Applied
idempotently: an exit read again, or an older one read after a newer one, changes nothing."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    select,
)

from contracts.envelope import Envelope
from contracts.ruler import STAGES_TOPIC, MessageRequested, ReceivableLeftRuler
from service_runtime.projection import Projection, offsets_metadata
from service_runtime.sql import insert_for

metadata = MetaData()
receivable_exits = Table(
    "receivable_exits",
    metadata,
    Column("tenant", String(63), primary_key=True),
    Column("receivable_id", String(200), primary_key=True),
    # The ruler's version of the receivable (its events' aggregate_version) at the exit.
    Column("left_version", Integer, nullable=False),
    Column("reason", String(20), nullable=False),
)


@dataclass(frozen=True)
class Exit:
    version: int
    reason: str


def record_exits(conn: Connection, exits: Iterable[tuple[str, str, int, str]]) -> None:
    """(tenant, receivable_id, version, reason) of exits: each kept unless a later one is."""
    newest: dict[tuple[str, str], dict[str, Any]] = {}
    for tenant, receivable_id, version, reason in exits:
        key = (tenant, receivable_id)
        if key not in newest or newest[key]["left_version"] < version:
            newest[key] = {
                "tenant": tenant,
                "receivable_id": receivable_id,
                "left_version": version,
                "reason": reason,
            }
    if not newest:
        return
    insert = insert_for(conn)(receivable_exits)
    conn.execute(
        insert.on_conflict_do_update(
            index_elements=["tenant", "receivable_id"],
            set_={k: insert.excluded[k] for k in ("left_version", "reason")},
            where=receivable_exits.c.left_version < insert.excluded.left_version,
        ),
        list(newest.values()),
    )


# A finalization message's `motivo` (pt-BR, the ruler's) as the exit's reason.
_REASON_OF_MOTIVO = {
    "quitada": "settled",
    "paga": "paid",
    "renegociada": "renegotiated",
    "cancelada": "cancelled",
}


def finalization_exits(requests: Iterable[MessageRequested]) -> list[tuple[str, str, int, str]]:
    """The exits the ruler's finalization messages tell (asked by the exit, at its version)."""
    return [
        (
            r.tenant,
            r.receivable_id,
            r.aggregate_version,
            _REASON_OF_MOTIVO.get(r.variables.get("motivo", ""), ""),
        )
        for r in requests
        if r.purpose == "finalization" and r.receivable_id is not None
    ]


class ExitsProjection(Projection):
    """`ReceivableLeftRuler` into `receivable_exits`."""

    name = "messaging.exits"
    topics = (STAGES_TOPIC,)
    metadata = metadata
    event_types = frozenset({"ReceivableLeftRuler"})

    def create_tables(self, engine: Engine) -> None:
        create_tables(engine)

    def apply(self, conn: Connection, events: list[Envelope]) -> None:
        record_exits(
            conn,
            (
                (e.tenant, e.receivable_id, e.aggregate_version, e.reason)
                for e in events
                if isinstance(e, ReceivableLeftRuler)
            ),
        )


def create_tables(engine: Engine) -> None:
    metadata.create_all(engine)
    offsets_metadata.create_all(engine)


class Exits:
    """What the messaging service asks of the exits it read."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        create_tables(engine)

    def of(self, tenant: str, receivable_id: str) -> Exit | None:
        """The receivable's latest exit; None while it never left."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(receivable_exits.c.left_version, receivable_exits.c.reason).where(
                    receivable_exits.c.tenant == tenant,
                    receivable_exits.c.receivable_id == receivable_id,
                )
            ).first()
        return Exit(row.left_version, row.reason) if row else None
