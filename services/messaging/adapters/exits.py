"""Which receivables left collection, as the ruler said it (`ReceivableLeftRuler` on
`ruler.stages`, and the finalization messages it asks, which its exit asks at the same version
of the receivable): a collection message asked before a receivable's exit is not sent once it
left (see `Message.left_before`), whichever the messaging service reads first.

Kept per tenant and receivable: the ruler's version of the receivable at its latest exit (a
debt that comes back to collection and leaves again has a later one) and why it left. Applied
idempotently: an exit read again, or an older one read after a newer one, changes nothing.

An agreement's installments end for good when the agreement ends (`AgreementBroken` on
`negotiation.agreements`, any rule: their invoices are cancelled), which this service reads
from negotiation as it happens: over a multi-day `clock advance` or a catch-up, the ruler's
exit comes only when its runs reach the day of the break, while the runs before it still ask
the installment's messages and this service sends at the clock's latest day, after the break
(QA pass 9, D7: "consta em aberto R$ 639,74 ... vencido em 05/01/2026" sent on business day
19/02 for a parcela cancelled on 12/01). Such an installment is kept as left at `FOR_GOOD`
(an installment never comes back to collection: every collection message asked of it is
after nothing is owed on it), reason `agreement_ended`; the installments of an agreement are known
from its `AgreementClosed` (`messaging_agreement_installments`).

An installment paid is left for good alike, the moment negotiation says it (`InstallmentPaid`,
any version, on `negotiation.invoices`), reason `paid`: in a catch-up the ruler's exit of a
parcela paid on 12/01 comes only when its runs reach 12/01. The confirmation of the payment
(the ruler's finalization message) still goes. A paid installment of an agreement that ended
later is kept as paid, whichever topic is read first (`_wins`): a replay gives the same."""

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
    and_,
    or_,
    select,
)

from contracts.envelope import Envelope
from contracts.negotiation import (
    AGREEMENTS_TOPIC,
    INVOICES_TOPIC,
    AgreementBroken,
    AgreementClosed,
    InstallmentPaid,
)
from contracts.ruler import STAGES_TOPIC, MessageRequested, ReceivableLeftRuler
from service_runtime.projection import Projection, event_types_of, offsets_metadata
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


# An agreement's installments, from its closing: which receivables its end cancels.
agreement_installments = Table(
    "messaging_agreement_installments",
    metadata,
    Column("tenant", String(63), primary_key=True),
    Column("agreement_id", String(36), primary_key=True),
    Column("invoice_id", String(36), primary_key=True),
)

# The exit version of an installment cancelled with its agreement: after any version the ruler
# asks a message at (an installment never comes back to collection).
FOR_GOOD = 2**31 - 1
# Its reason (`records.collection_ended_reason` says it).
AGREEMENT_ENDED = "agreement_ended"
# The reason of an installment paid (negotiation's `InstallmentPaid`, as the ruler's exit says).
PAID = "paid"


@dataclass(frozen=True)
class Exit:
    version: int
    reason: str


def _wins(version: int, reason: str, kept_version: int, kept_reason: str) -> bool:
    """Whether an exit replaces the one kept: a later one does, and at `FOR_GOOD` a payment
    replaces an agreement's end (a paid installment of an agreement that ended is paid,
    whichever of the two topics is read first)."""
    return kept_version < version or (
        version == kept_version == FOR_GOOD and reason == PAID and kept_reason != PAID
    )


def record_exits(conn: Connection, exits: Iterable[tuple[str, str, int, str]]) -> None:
    """(tenant, receivable_id, version, reason) of exits: each kept unless a later one is
    (see `_wins`)."""
    newest: dict[tuple[str, str], dict[str, Any]] = {}
    for tenant, receivable_id, version, reason in exits:
        key = (tenant, receivable_id)
        if key not in newest or _wins(
            version, reason, newest[key]["left_version"], newest[key]["reason"]
        ):
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
            where=or_(
                receivable_exits.c.left_version < insert.excluded.left_version,
                and_(
                    receivable_exits.c.left_version == FOR_GOOD,
                    insert.excluded.left_version == FOR_GOOD,
                    insert.excluded.reason == PAID,
                    receivable_exits.c.reason != PAID,
                ),
            ),
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


def cancelled_installments(
    conn: Connection, events: Iterable[Envelope]
) -> list[tuple[str, str, int, str]]:
    """The exits of the installments of the agreements ended among `events` (the closings
    among them kept first, so a closing and its end in one batch are read in order)."""
    rows = [
        {"tenant": e.tenant, "agreement_id": e.agreement_id, "invoice_id": i.invoice_id}
        for e in events
        if isinstance(e, AgreementClosed)
        for i in e.installments
    ]
    if rows:
        insert = insert_for(conn)(agreement_installments)
        conn.execute(insert.on_conflict_do_nothing(), rows)
    ended = {(e.tenant, e.agreement_id) for e in events if isinstance(e, AgreementBroken)}
    exits: list[tuple[str, str, int, str]] = []
    for tenant, agreement_id in sorted(ended):
        invoices = conn.execute(
            select(agreement_installments.c.invoice_id).where(
                agreement_installments.c.tenant == tenant,
                agreement_installments.c.agreement_id == agreement_id,
            )
        ).scalars()
        exits.extend((tenant, invoice, FOR_GOOD, AGREEMENT_ENDED) for invoice in invoices)
    return exits


def paid_installments(events: Iterable[Envelope]) -> list[tuple[str, str, int, str]]:
    """The exits of the installments paid among `events` (`InstallmentPaid`, any version)."""
    return [
        (e.tenant, e.invoice_id, FOR_GOOD, PAID) for e in events if isinstance(e, InstallmentPaid)
    ]


class ExitsProjection(Projection):
    """`ReceivableLeftRuler` into `receivable_exits`, the installments of an agreement that
    ended (`AgreementBroken`, its installments from its `AgreementClosed`) and the installments
    paid (`InstallmentPaid`)."""

    name = "messaging.exits"
    topics = (STAGES_TOPIC, AGREEMENTS_TOPIC, INVOICES_TOPIC)
    metadata = metadata
    event_types = frozenset({"ReceivableLeftRuler"}) | event_types_of(
        AgreementClosed, AgreementBroken, InstallmentPaid
    )

    def create_tables(self, engine: Engine) -> None:
        create_tables(engine)

    def apply(self, conn: Connection, events: list[Envelope]) -> None:
        record_exits(
            conn,
            [
                *(
                    (e.tenant, e.receivable_id, e.aggregate_version, e.reason)
                    for e in events
                    if isinstance(e, ReceivableLeftRuler)
                ),
                *cancelled_installments(conn, events),
                *paid_installments(events),
            ],
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
