"""From the messaging service's stored domain events to the integration events it publishes:
what became of each message, templates, opt-outs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from contracts.envelope import Envelope
from contracts.messaging import (
    CONFIG_TOPIC,
    CONVERSATIONS_TOPIC,
    MESSAGES_TOPIC,
    OPTOUTS_TOPIC,
    ConversationChanged,
    MessageDelivered,
    MessageFailed,
    MessageQueued,
    MessageSent,
    OptOutRecorded,
    TemplateSaved,
)
from service_runtime.outbox import envelope_fields
from services.messaging.domain.conversations import Conversation
from services.messaging.domain.records import Message, OptOut, Template

QueuedEvent: type[Any] = Message.Queued  # type: ignore[attr-defined]
SentEvent: type[Any] = Message.Sent  # type: ignore[attr-defined]
DeliveredEvent: type[Any] = Message.Delivered  # type: ignore[attr-defined]
FailedEvent: type[Any] = Message.Failed  # type: ignore[attr-defined]
TemplateEvents: tuple[type[Any], ...] = (Template.Saved, Template.Changed)  # type: ignore[attr-defined]
OptOutEvent: type[Any] = OptOut.Recorded  # type: ignore[attr-defined]
ConversationStartedEvent: type[Any] = Conversation.Started  # type: ignore[attr-defined]
# The conversation's changes the other services see (what is said stays here).
CONVERSATION_CHANGES: dict[type[Any], str] = {
    Conversation.Answered: "answered",  # type: ignore[attr-defined]
    Conversation.Identified: "identified",  # type: ignore[attr-defined]
    Conversation.WaitingForOperator: "waiting_operator",  # type: ignore[attr-defined]
    Conversation.Assigned: "assigned",  # type: ignore[attr-defined]
    Conversation.Transferred: "transferred",  # type: ignore[attr-defined]
    Conversation.Closed: "closed",  # type: ignore[attr-defined]
}


def _envelope(event: Any, tenant: str) -> dict[str, Any]:
    return envelope_fields("messaging", event, tenant=tenant)


def _message(event: Any) -> dict[str, Any]:
    facts = event.facts
    return {
        **_envelope(event, facts["tenant"]),
        "message_id": str(event.originator_id),
        "key": facts["key"],
        "document": facts["document"],
        "channel": facts["channel"],
        "template": facts["template"],
    }


def integration_events(event: Any) -> Iterator[tuple[str, Envelope]]:
    if isinstance(event, QueuedEvent):
        yield MESSAGES_TOPIC, MessageQueued(**_message(event), to=event.to, send_at=event.send_at)
    elif isinstance(event, SentEvent):
        yield (
            MESSAGES_TOPIC,
            MessageSent(
                **_message(event),
                to=event.to or "",
                sent_at=event.at,
                provider=event.provider,
                provider_id=event.provider_id,
                attempts=event.attempts,
                text=event.text,
            ),
        )
    elif isinstance(event, DeliveredEvent):
        yield MESSAGES_TOPIC, MessageDelivered(**_message(event), delivered_at=event.at)
    elif isinstance(event, FailedEvent):
        yield (
            MESSAGES_TOPIC,
            MessageFailed(
                **_message(event),
                reason=event.reason,
                rule=event.rule,
                attempts=event.attempts,
                failed_at=event.at,
            ),
        )
    elif isinstance(event, TemplateEvents):
        yield (
            CONFIG_TOPIC,
            TemplateSaved(
                **_envelope(event, event.tenant),
                channel=event.channel,
                name=event.name,
                subject=event.subject,
                body=event.body,
                variables=event.variables,
                saved_by=event.saved_by,
            ),
        )
    elif isinstance(event, OptOutEvent):
        yield (
            OPTOUTS_TOPIC,
            OptOutRecorded(
                **_envelope(event, event.tenant),
                document=event.document,
                channel=event.channel,
                source=event.source,
                on_date=event.on,
            ),
        )
    elif isinstance(event, ConversationStartedEvent):
        yield (
            CONVERSATIONS_TOPIC,
            ConversationChanged(
                **_envelope(event, event.tenant),
                conversation_id=str(event.originator_id),
                change="started",
                channel=event.channel,
                address=event.address,
                document=event.document,
                debtor_name=event.debtor_name,
                status="initiated_unanswered" if event.initiated_by == "agency" else "self_service",
                operator=event.operator,
                initiated_by=event.initiated_by,
                started_at=event.at,
                changed_at=event.at,
                messages=0,
            ),
        )
    elif type(event) in CONVERSATION_CHANGES:
        facts = event.facts
        yield (
            CONVERSATIONS_TOPIC,
            ConversationChanged(
                **_envelope(event, facts["tenant"]),
                conversation_id=str(event.originator_id),
                change=CONVERSATION_CHANGES[type(event)],
                channel=facts["channel"],
                address=facts["address"],
                document=facts["document"],
                debtor_name=facts["debtor_name"],
                status=facts["status"],
                operator=facts["operator"],
                previous_operator=getattr(event, "previous_operator", None),
                initiated_by=facts["initiated_by"],
                started_at=facts["started_at"],
                changed_at=event.at,
                messages=facts["messages"],
            ),
        )
