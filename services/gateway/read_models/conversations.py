"""Conversations of the chatbot and the operators (WhatsApp, web chat) as the operators' inbox
lists them: one row per conversation with its channel, debtor, status and operator, as the
newest ConversationChanged tells.

Each event carries the whole conversation as it stands, so the row is replaced by the event of
the highest aggregate version: an event delivered again or late (an older version) changes
nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite

from contracts.envelope import Envelope
from contracts.messaging import CONVERSATIONS_TOPIC, ConversationChanged
from service_runtime.projection import Projection
from service_runtime.sqltypes import UtcDateTime

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
    # self_service, waiting_operator, with_operator, initiated_unanswered, closed
    Column("status", String(30), nullable=False),
    Column("operator", String(200)),
    # debtor, agency
    Column("initiated_by", String(10), nullable=False),
    Column("started_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("messages", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    Index("ix_conversations_tenant_status", "tenant", "status", "updated_at"),
    Index("ix_conversations_tenant_operator", "tenant", "operator"),
)

# Every column but the key: an event of a higher version replaces them all.
_FIELDS = [c.name for c in conversations.columns if c.name != "conversation_id"]


def _row(event: ConversationChanged) -> dict[str, Any]:
    return {
        "conversation_id": event.conversation_id,
        "tenant": event.tenant,
        "channel": event.channel,
        "address": event.address,
        "document": event.document,
        "debtor_name": event.debtor_name,
        "status": event.status,
        "operator": event.operator,
        "initiated_by": event.initiated_by,
        "started_at": event.started_at,
        "updated_at": event.changed_at,
        "messages": event.messages,
        "version": event.aggregate_version,
    }


class ConversationsProjection(Projection):
    name = "conversations"
    topics = (CONVERSATIONS_TOPIC,)
    metadata = metadata

    def apply(self, conn: Connection, events: list[Envelope]) -> None:
        # Newest version of each conversation in this batch: one row per key in the upsert.
        latest: dict[str, dict[str, Any]] = {}
        for event in events:
            if isinstance(event, ConversationChanged):
                current = latest.get(event.conversation_id)
                if current is None or current["version"] < event.aggregate_version:
                    latest[event.conversation_id] = _row(event)
        if not latest:
            return
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(conversations)
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["conversation_id"],
                set_={c: stmt.excluded[c] for c in _FIELDS},
                # Repeated or late events (same or older version) leave the row as it is.
                where=conversations.c.version < stmt.excluded.version,
            ),
            list(latest.values()),
        )


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
