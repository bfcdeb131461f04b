"""Conversations of the chatbot and the operators (WhatsApp, web chat) as the operators' inbox
lists them: one row per conversation with its channel, debtor, status and operator, as the
newest ConversationChanged tells.

Each event carries the whole conversation as it stands, so the row is replaced by the event of
the highest aggregate version: an event delivered again or late (an older version) changes
nothing.

The phone and the debtor's name are personal data: opened with the key vault from version 2 of
the events once the conversation knows the debtor; once the debtor's data is erased the name
reads REMOVED and the phone is NULL (see read_models.personal).

Whether whoever writes proved to be the debtor (`verified`: after the tenant's second factor,
when it asks one) comes with version 3 of the events; a row of version 1 or 2 leaves it NULL,
not known. (A read model built before the column existed is rebuilt from offset zero when the
gateway starts: `PersonalDataProjection.create_tables`.)"""

from __future__ import annotations

import datetime as dt
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
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from contracts.envelope import Envelope
from contracts.messaging import (
    CONVERSATIONS_TOPIC,
    ConversationChanged,
    ConversationChangedV2,
    ConversationChangedV3,
)
from contracts.personal import ERASURES_TOPIC, PersonalDataErased
from service_runtime.personal_data import REMOVED
from service_runtime.projection import event_types_of
from service_runtime.sqltypes import UtcDateTime
from services.gateway.read_models.personal import (
    PersonalDataProjection,
    erased_rows,
    erasures_table,
)

metadata = MetaData()
conversations = Table(
    "conversations",
    metadata,
    Column("conversation_id", String(64), primary_key=True),
    Column("tenant", String(63), nullable=False),
    # whatsapp, web
    Column("channel", String(20), nullable=False),
    # WhatsApp: the debtor's phone.
    Column("address", String(200)),
    # Unknown until the chatbot identifies the debtor.
    Column("document", String(14)),
    Column("debtor_name", String(200)),
    # The key the phone and the name were sealed with (NULL: in clear).
    Column("key_id", String(32)),
    # self_service, waiting_operator, with_operator, initiated_unanswered, closed
    Column("status", String(30), nullable=False),
    Column("operator", String(200)),
    # debtor, agency
    Column("initiated_by", String(10), nullable=False),
    Column("started_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("messages", Integer, nullable=False),
    # Whoever writes proved to be the debtor (true), not yet or failed the tenant's second
    # factor (false); NULL before any document, or not known (events before version 3).
    Column("verified", Boolean, nullable=True),
    Column("version", Integer, nullable=False),
    Index("ix_conversations_tenant_status", "tenant", "status", "updated_at"),
    Index("ix_conversations_tenant_operator", "tenant", "operator"),
)

conversation_erasures = erasures_table("conversation_erasures", metadata)

# Every column but the key: an event of a higher version replaces them all.
_FIELDS = [c.name for c in conversations.columns if c.name != "conversation_id"]
PERSONAL = ("address", "debtor_name")
# Every version of the event the list is built from.
Changed = ConversationChanged | ConversationChangedV2 | ConversationChangedV3
# The versions with the phone and the name sealed once the debtor is known.
Sealed = ConversationChangedV2 | ConversationChangedV3


def _row(event: Changed, personal: dict[str, Any], key_id: str | None) -> dict[str, Any]:
    return {
        "conversation_id": event.conversation_id,
        "tenant": event.tenant,
        "channel": event.channel,
        "address": personal["address"],
        "document": event.document,
        "debtor_name": personal["debtor_name"],
        "key_id": key_id,
        "status": event.status,
        "operator": event.operator,
        "initiated_by": event.initiated_by,
        "started_at": event.started_at,
        "updated_at": event.changed_at,
        "messages": event.messages,
        "verified": event.verified if isinstance(event, ConversationChangedV3) else None,
        "version": event.aggregate_version,
    }


class ConversationsProjection(PersonalDataProjection):
    name = "conversations"
    topics = (CONVERSATIONS_TOPIC, ERASURES_TOPIC)
    metadata = metadata
    # What `apply` reads: the runtime passes over any other event unparsed.
    event_types = event_types_of(
        ConversationChanged, ConversationChangedV2, ConversationChangedV3, PersonalDataErased
    )
    erasures = conversation_erasures

    def apply(self, conn: Connection, events: list[Envelope]) -> None:
        # Erasures first: then a phone in clear read in the same batch is removed as it comes.
        for erasure in self.apply_erasures(conn, events):
            conn.execute(
                update(conversations)
                .where(erased_rows(conversations, erasure))
                .values(address=None, debtor_name=REMOVED)
            )
        # Newest version of each conversation in this batch: one row per key in the upsert.
        newest: dict[str, Changed] = {}
        for event in events:
            if isinstance(event, Changed):
                current = newest.get(event.conversation_id)
                if current is None or current.aggregate_version < event.aggregate_version:
                    newest[event.conversation_id] = event
        if not newest:
            return
        latest = self._rows(conn, list(newest.values()))
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(conversations)
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["conversation_id"],
                set_={c: stmt.excluded[c] for c in _FIELDS},
                # Repeated or late events (same or older version) leave the row as it is.
                where=conversations.c.version < stmt.excluded.version,
            ),
            latest,
        )

    def _rows(self, conn: Connection, events: list[Changed]) -> list[dict[str, Any]]:
        """The conversations' rows: the phone and name opened (version 2 on, once the debtor
        is known), or as they came in clear (unless that debtor's data was erased since)."""
        in_clear = {
            (e.tenant, e.document)
            for e in events
            if e.document and (isinstance(e, ConversationChanged) or e.personal is None)
        }
        erased = self.erased_debtors(conn, in_clear)
        rows = []
        for event in events:
            if isinstance(event, Sealed) and event.personal is not None:
                personal, _ = self.open(event.personal, PERSONAL)
                rows.append(_row(event, personal, event.personal.key_id))
                continue
            if isinstance(event, Sealed):
                personal = {"address": event.unidentified_address, "debtor_name": None}
            else:
                personal = {"address": event.address, "debtor_name": event.debtor_name}
            if event.document and (event.tenant, event.document) in erased:
                personal = {"address": None, "debtor_name": REMOVED}
            rows.append(_row(event, personal, None))
        return rows


def list_conversations(
    engine: Engine,
    tenant: str,
    *,
    status: str | None = None,
    operator: str | None = None,
    since: dt.datetime | None = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    """The tenant's conversations, the most recently changed first; `since` keeps those
    changed at or after it."""
    query = select(conversations).where(conversations.c.tenant == tenant)
    if status is not None:
        query = query.where(conversations.c.status == status)
    if operator is not None:
        query = query.where(conversations.c.operator == operator)
    if since is not None:
        query = query.where(conversations.c.updated_at >= since)
    query = query.order_by(
        conversations.c.updated_at.desc(), conversations.c.conversation_id
    ).limit(limit)
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]
