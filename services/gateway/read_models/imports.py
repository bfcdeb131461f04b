"""Import status: each carteira import's progress and each rejected row with its reason, and
the agreements its rows ended later.

A row that lowers the original amount of a debt in an active agreement ends that agreement
(negotiation's `AgreementBroken` v3, rule `debt_amount_lowered`), after the portfolio has
counted the row: the import's summary cannot know it when it runs. This read model reads the
agreements' topic too, and keeps each lowered debt an `AgreementBroken` v3 names under the import
its `lowered_debts[].import_id` says (`carteira_agreements_ended`, one row per agreement and
debt: read again or in a replay, the same). Read apart from the import's own rows, so either
topic may come first."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    Date,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    inspect,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite

from contracts.carteiras import REJECTED_TOPIC, DebtRejected
from contracts.envelope import Envelope
from contracts.negotiation import AGREEMENTS_TOPIC, AgreementBrokenV3
from contracts.portfolio import (
    IMPORTS_TOPIC,
    CarteiraImportCompleted,
    CarteiraImportStarted,
    CarteiraImportStartedV2,
    CarteiraRowsProcessed,
)
from service_runtime.projection import Projection, event_types_of
from service_runtime.sql import insert_ignore
from service_runtime.sqltypes import UtcDateTime

metadata = MetaData()
carteira_imports = Table(
    "carteira_imports",
    metadata,
    Column("tenant", String(63), primary_key=True),
    Column("import_id", String(128), primary_key=True),
    Column("source", String(10), nullable=False),
    Column("filename", String(255)),
    Column("requested_by", String(128)),
    Column("status", String(20), nullable=False),
    Column("rows_total", Integer),
    Column("rows_read", Integer, nullable=False, default=0),
    Column("created", Integer, nullable=False, default=0),
    Column("updated", Integer, nullable=False, default=0),
    Column("unchanged", Integer, nullable=False, default=0),
    Column("rejected", Integer, nullable=False, default=0),
    Column("received_at", UtcDateTime(), nullable=False),
    Column("completed_at", UtcDateTime()),
    Column("version", Integer, nullable=False),
)
carteira_rejections = Table(
    "carteira_rejections",
    metadata,
    Column("tenant", String(63), primary_key=True),
    Column("import_id", String(128), primary_key=True),
    Column("row_key", String(128), primary_key=True),
    Column("row_number", Integer),
    Column("client_row_id", String(128)),
    Column("document", String(14)),
    # The row's document as typed in the file (`DebtRejected.fields.document`): `document` is
    # only a valid one, normalized, and the agency must find the invalid one to fix it.
    Column("document_as_received", Text),
    Column("reason", Text, nullable=False),
    Column("errors", JSON, nullable=False),
)
# The agreements an import's rows ended by lowering a debt's original amount (`AgreementBroken`
# v3's `lowered_debts`, under the import each names): one row per agreement and lowered debt.
carteira_agreements_ended = Table(
    "carteira_agreements_ended",
    metadata,
    Column("tenant", String(63), primary_key=True),
    Column("import_id", String(128), primary_key=True),
    Column("agreement_id", String(36), primary_key=True),
    Column("debt_id", String(36), primary_key=True),
    Column("row_key", String(128), nullable=False),
    Column("contract", String(100), nullable=False),
    Column("installment", String(20), nullable=False),
    Column("old_amount_cents", Integer, nullable=False),
    Column("new_amount_cents", Integer, nullable=False),
    Column("ended_on", Date, nullable=False),
)

log = logging.getLogger(__name__)


# Progress events do not know how the import began: they never overwrite these.
_ORIGIN = ("tenant", "import_id", "source", "filename", "requested_by", "received_at")


def _upsert_import(conn: Connection, values: dict[str, Any], keep_origin: bool = False) -> None:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(carteira_imports).values(**values)
    kept = _ORIGIN if keep_origin else ("tenant", "import_id")
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["tenant", "import_id"],
            set_={k: stmt.excluded[k] for k in values if k not in kept},
            where=carteira_imports.c.version < stmt.excluded.version,
        )
    )


class ImportStatusProjection(Projection):
    name = "import_status"
    topics = (IMPORTS_TOPIC, REJECTED_TOPIC, AGREEMENTS_TOPIC)
    metadata = metadata
    # What `apply` reads: the runtime passes over any other event unparsed (of the
    # agreements' topic, only the ends by a lowered amount).
    event_types = event_types_of(
        DebtRejected,
        CarteiraImportStarted,
        CarteiraRowsProcessed,
        CarteiraImportCompleted,
        AgreementBrokenV3,
    )

    def create_tables(self, engine: Engine) -> None:
        super().create_tables(engine)
        # A table from before gets the column, empty for the rows it holds (`cobranca replay
        # import_status` fills them).
        found = {c["name"] for c in inspect(engine).get_columns(carteira_rejections.name)}
        if "document_as_received" not in found:
            log.info("%s: adding the column document_as_received", carteira_rejections.name)
            with engine.begin() as conn:
                conn.execute(
                    text(
                        f"ALTER TABLE {carteira_rejections.name} "
                        "ADD COLUMN document_as_received TEXT"
                    )
                )

    def apply(self, conn: Connection, events: list[Envelope]) -> None:
        rejections: list[dict[str, Any]] = []
        ended: list[dict[str, Any]] = []
        for event in events:
            if isinstance(event, AgreementBrokenV3):
                ended.extend(
                    {
                        "tenant": event.tenant,
                        "import_id": lowered.import_id,
                        "agreement_id": event.agreement_id,
                        "debt_id": lowered.debt_id,
                        "row_key": lowered.row_key,
                        "contract": lowered.contract,
                        "installment": lowered.installment,
                        "old_amount_cents": lowered.old_amount_cents,
                        "new_amount_cents": lowered.new_amount_cents,
                        "ended_on": event.broken_on,
                    }
                    for lowered in event.lowered_debts
                )
            elif isinstance(event, DebtRejected):
                rejections.append(
                    {
                        "tenant": event.tenant,
                        "import_id": event.import_id,
                        "row_key": event.row_key,
                        "row_number": event.row_number,
                        "client_row_id": event.client_row_id,
                        "document": event.document,
                        "document_as_received": event.fields.document,
                        "reason": event.reason,
                        "errors": [e.model_dump() for e in event.errors],
                    }
                )
            elif isinstance(event, CarteiraImportStarted | CarteiraImportStartedV2):
                _upsert_import(
                    conn,
                    {
                        "tenant": event.tenant,
                        "import_id": event.import_id,
                        "source": event.source,
                        "filename": event.filename,
                        "requested_by": event.requested_by,
                        "status": "processing",
                        "rows_total": event.rows_total,
                        # Version 1 knew only when the portfolio started on it.
                        "received_at": (
                            event.received_at
                            if isinstance(event, CarteiraImportStartedV2)
                            else event.occurred_at
                        ),
                        "version": event.aggregate_version,
                    },
                )
            elif isinstance(event, CarteiraRowsProcessed):
                _upsert_import(
                    conn,
                    {
                        "tenant": event.tenant,
                        "import_id": event.import_id,
                        "source": "client",
                        "status": "processing",
                        "rows_total": event.rows_total,
                        "rows_read": event.rows_read,
                        "created": event.created,
                        "updated": event.updated,
                        "unchanged": event.unchanged,
                        "rejected": event.rejected,
                        "received_at": event.occurred_at,
                        "version": event.aggregate_version,
                    },
                    keep_origin=True,
                )
            elif isinstance(event, CarteiraImportCompleted):
                _upsert_import(
                    conn,
                    {
                        "tenant": event.tenant,
                        "import_id": event.import_id,
                        "source": "client",
                        "status": "completed",
                        "rows_total": event.rows_total,
                        "rows_read": event.rows_total,
                        "created": event.created,
                        "updated": event.updated,
                        "unchanged": event.unchanged,
                        "rejected": event.rejected,
                        "received_at": event.occurred_at,
                        "completed_at": event.occurred_at,
                        "version": event.aggregate_version,
                    },
                    keep_origin=True,
                )
        insert_ignore(conn, carteira_rejections, rejections)
        insert_ignore(conn, carteira_agreements_ended, ended)


def record_received(
    engine: Engine,
    *,
    tenant: str,
    import_id: str,
    filename: str | None,
    rows_total: int,
    requested_by: str,
    at: dt.datetime,
) -> None:
    """The gateway knows of an upload before the portfolio starts it: show it as received.
    Version 0, so every event of the import overrides it."""
    with engine.begin() as conn:
        _upsert_import(
            conn,
            {
                "tenant": tenant,
                "import_id": import_id,
                "source": "upload",
                "filename": filename,
                "requested_by": requested_by,
                "status": "received",
                "rows_total": rows_total,
                "rows_read": 0,
                "received_at": at,
                "version": 0,
            },
        )


def import_status(engine: Engine, tenant: str, import_id: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(
            select(carteira_imports).where(
                carteira_imports.c.tenant == tenant, carteira_imports.c.import_id == import_id
            )
        ).first()
        if row is None:
            return None
        status = dict(row._mapping)
        rejections = conn.execute(
            select(carteira_rejections)
            .where(
                carteira_rejections.c.tenant == tenant,
                carteira_rejections.c.import_id == import_id,
            )
            .order_by(carteira_rejections.c.row_number, carteira_rejections.c.row_key)
        )
        status["rejections"] = [dict(r._mapping) for r in rejections]
        ended = [
            dict(r._mapping)
            for r in conn.execute(
                select(carteira_agreements_ended)
                .where(
                    carteira_agreements_ended.c.tenant == tenant,
                    carteira_agreements_ended.c.import_id == import_id,
                )
                .order_by(
                    carteira_agreements_ended.c.row_key,
                    carteira_agreements_ended.c.agreement_id,
                    carteira_agreements_ended.c.debt_id,
                )
            )
        ]
        status["ended_agreements"] = ended
        status["agreements_ended"] = len({e["agreement_id"] for e in ended})
        if status["status"] == "completed" and len(status["rejections"]) < (
            status["rejected"] or 0
        ):
            # The counters came before the rejected rows' details (another topic): an import
            # is complete for its reader once every rejection can be read.
            status["status"] = "processing"
        return status


def list_imports(engine: Engine, tenant: str, limit: int = 50) -> list[dict[str, Any]]:
    """The tenant's latest imports, each with the agreements its rows ended, as its own status
    answers them (QA pass 9, D6: the list answered a count of 1 with an empty list)."""
    with engine.connect() as conn:
        rows = [
            dict(r._mapping)
            for r in conn.execute(
                select(carteira_imports)
                .where(carteira_imports.c.tenant == tenant)
                .order_by(carteira_imports.c.received_at.desc())
                .limit(limit)
            )
        ]
        ids = [r["import_id"] for r in rows]
        ended: dict[str, list[dict[str, Any]]] = {}
        if ids:
            for r in conn.execute(
                select(carteira_agreements_ended)
                .where(
                    carteira_agreements_ended.c.tenant == tenant,
                    carteira_agreements_ended.c.import_id.in_(ids),
                )
                .order_by(
                    carteira_agreements_ended.c.import_id,
                    carteira_agreements_ended.c.row_key,
                    carteira_agreements_ended.c.agreement_id,
                    carteira_agreements_ended.c.debt_id,
                )
            ):
                ended.setdefault(r.import_id, []).append(dict(r._mapping))
        for row in rows:
            row["ended_agreements"] = ended.get(row["import_id"], [])
            row["agreements_ended"] = len({e["agreement_id"] for e in row["ended_agreements"]})
        return rows
