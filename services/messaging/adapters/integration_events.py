"""From the messaging service's stored domain events to the integration events it publishes:
what became of each message, templates, opt-outs, conversations.

Personal data go out only as stored: sealed with the debtor's key (`MessageQueuedV2`,
`MessageSentV2`, `ConversationChangedV3`); only these versions are published. A message kept
in clear (stored before personal data were sealed, or a conversation's reply to a debtor not
identified yet) has no sealed address, so its MessageQueued and MessageSent are not published
(its MessageDelivered and MessageFailed, with nothing personal, are). A conversation's change
stored before sealing goes out without its name and, once the debtor was known, without its
phone.

A conversation's change tells whether whoever writes proved to be the debtor (`verified`, see
`Conversation.verified`), and the tenant's second factor asked and passed are changes of their
own (`second_factor_asked`, `verified`): the operators' list shows a debtor waiting for it as
not verified, and flips when it passes. A change stored before the conversation kept that
(`facts` without `verified`) says `verified` null (not known); a second factor asked or passed
stored before its changes were published (no `facts`) is not published.

A tenant's settings saved (`TenantMessaging.SettingsSaved`) are published whole as
`MessagingSettingsSaved`, but never a channel's credentials: of each channel only its kind and
the fields known not to be secret go out, the others are named and told when this save changed
them (`domain.published_settings`). The stored event carries neither the tenant nor what was
there before, and its settings are sealed under the tenant's settings key: the relay reads
both from the store and opens them with the store's application (`IntegrationEvents`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from contracts.envelope import Envelope
from contracts.messaging import (
    CONFIG_TOPIC,
    CONVERSATIONS_TOPIC,
    MESSAGES_TOPIC,
    OPTOUTS_TOPIC,
    ChannelAdapterSettings,
    ChatbotOptions,
    ConversationChangedV3,
    MessageDelivered,
    MessageFailed,
    MessageFailedV2,
    MessageQueuedV2,
    MessageSentV2,
    MessagingSettingsSaved,
    OptOutRecorded,
    PortalNotificationSettings,
    SendingWindowSpec,
    TemplateSaved,
)
from contracts.personal import SealedPersonalData
from contracts.ruler import MessageChannel
from service_runtime.outbox import envelope_fields
from service_runtime.stored_aggregates import StoredAggregates
from services.messaging.application import MessagingApplication
from services.messaging.domain.conversations import Conversation, verified_of
from services.messaging.domain.published_settings import disclose, withheld_changes
from services.messaging.domain.records import (
    COLLECTION_ENDED_RULE,
    Message,
    OptOut,
    Template,
    TenantMessaging,
)

QueuedEvent: type[Any] = Message.Queued  # type: ignore[attr-defined]
SentEvent: type[Any] = Message.Sent  # type: ignore[attr-defined]
DeliveredEvent: type[Any] = Message.Delivered  # type: ignore[attr-defined]
FailedEvent: type[Any] = Message.Failed  # type: ignore[attr-defined]
TemplateEvents: tuple[type[Any], ...] = (Template.Saved, Template.Changed)  # type: ignore[attr-defined]
OptOutEvent: type[Any] = OptOut.Recorded  # type: ignore[attr-defined]
ConversationStartedEvent: type[Any] = Conversation.Started  # type: ignore[attr-defined]
SettingsSavedEvent: type[Any] = TenantMessaging.SettingsSaved
# The conversation's changes the other services see (what is said stays here).
CONVERSATION_CHANGES: dict[type[Any], str] = {
    Conversation.Answered: "answered",  # type: ignore[attr-defined]
    Conversation.Identified: "identified",  # type: ignore[attr-defined]
    Conversation.WaitingForOperator: "waiting_operator",  # type: ignore[attr-defined]
    Conversation.Assigned: "assigned",  # type: ignore[attr-defined]
    Conversation.Transferred: "transferred",  # type: ignore[attr-defined]
    Conversation.Closed: "closed",  # type: ignore[attr-defined]
    # The second factor's changes are kinds of version 3 only (`ConversationChangeV3`): the
    # kinds of versions 1 and 2, which their published schemas list, stay as they were, and
    # no change of a second factor is told as something else (an "identified" with no
    # document, an "answered" nobody wrote).
    Conversation.SecondFactorAsked: "second_factor_asked",  # type: ignore[attr-defined]
    Conversation.SecondFactorPassed: "verified",  # type: ignore[attr-defined]
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


def _sealed(data: dict[str, str] | None) -> SealedPersonalData | None:
    return SealedPersonalData.model_validate(data) if data else None


def _who(
    personal: dict[str, str] | None, address: str | None, document: str | None
) -> dict[str, Any]:
    """A conversation's `personal` and `unidentified_address`: the phone in clear only while
    the debtor is not known (a change stored before sealing, once the debtor was known,
    carries neither)."""
    return {
        "personal": _sealed(personal),
        "unidentified_address": address if personal is None and document is None else None,
    }


class IntegrationEvents:
    """The relay's mapper, with the store its settings need (set once the host exists:
    `build_host` takes the mapper before it makes the application)."""

    def __init__(self, aggregates: StoredAggregates | None = None) -> None:
        self.aggregates = aggregates

    def __call__(self, event: Any) -> Iterator[tuple[str, Envelope]]:
        return integration_events(event, self.aggregates)


def settings_saved(event: Any, aggregates: StoredAggregates | None) -> MessagingSettingsSaved:
    if aggregates is None:
        raise RuntimeError(
            f"messaging settings {event.originator_id}: publishing them needs the store "
            "(IntegrationEvents.aggregates)"
        )
    app = aggregates.app
    if not isinstance(app, MessagingApplication):
        raise RuntimeError(
            f"messaging settings {event.originator_id}: opening them needs the messaging store"
        )
    # Sealed (or, stored before sealing, in clear): opened with the tenant's settings key.
    tenant = aggregates.tenant_of(event.originator_id)
    settings = app.settings_in(tenant, event)
    previous = aggregates.before(event.originator_id, event.originator_version)
    before = app.settings_in(tenant, previous).channels if previous is not None else {}
    channels: dict[MessageChannel, ChannelAdapterSettings] = {}
    for channel, config in settings.channels.items():
        shown = disclose(config)
        channels[channel] = ChannelAdapterSettings(
            kind=shown.kind,
            settings=shown.public,
            withheld=sorted(shown.withheld),
            withheld_changed=withheld_changes(before.get(channel), config),
        )
    chatbot = settings.chatbot
    notification = settings.portal_notification
    return MessagingSettingsSaved(
        **_envelope(event, tenant),
        agency_name=settings.agency_name,
        portal_link=settings.portal_link,
        windows={
            channel: SendingWindowSpec(weekdays=w.weekdays, start=w.start, end=w.end)
            for channel, w in settings.windows.items()
        },
        channels=channels,
        max_attempts=settings.max_attempts,
        chatbot=ChatbotOptions(
            options=list(chatbot.options),
            negotiate_in_chat=chatbot.negotiate_in_chat,
            closing_message=chatbot.closing_message,
            max_document_attempts=chatbot.max_document_attempts,
            max_per_operator=chatbot.max_per_operator,
        ),
        portal_notification=PortalNotificationSettings(
            enabled=notification.enabled,
            template=notification.template,
            weekdays=notification.weekdays,
        ),
        saved_by=event.saved_by,
    )


def integration_events(
    event: Any, aggregates: StoredAggregates | None = None
) -> Iterator[tuple[str, Envelope]]:
    if isinstance(event, SettingsSavedEvent):
        yield CONFIG_TOPIC, settings_saved(event, aggregates)
    elif isinstance(event, QueuedEvent):
        personal = _sealed(getattr(event, "personal", None))
        if personal is not None:
            yield (
                MESSAGES_TOPIC,
                MessageQueuedV2(**_message(event), personal=personal, send_at=event.send_at),
            )
    elif isinstance(event, SentEvent):
        personal = _sealed(getattr(event, "personal", None))
        if personal is not None:
            yield (
                MESSAGES_TOPIC,
                MessageSentV2(
                    **_message(event),
                    personal=personal,
                    sent_at=event.at,
                    provider=event.provider,
                    provider_id=event.provider_id,
                    attempts=event.attempts,
                ),
            )
    elif isinstance(event, DeliveredEvent):
        yield MESSAGES_TOPIC, MessageDelivered(**_message(event), delivered_at=event.at)
    elif isinstance(event, FailedEvent):
        # Version 2 only for the rule it adds (a collection message whose receivable left
        # collection): every other failure reads as it always did.
        failed = MessageFailedV2 if event.rule == COLLECTION_ENDED_RULE else MessageFailed
        yield (
            MESSAGES_TOPIC,
            failed(
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
            ConversationChangedV3(
                **_envelope(event, event.tenant),
                conversation_id=str(event.originator_id),
                change="started",
                channel=event.channel,
                **_who(getattr(event, "personal", None), event.address, event.document),
                document=event.document,
                status="initiated_unanswered" if event.initiated_by == "agency" else "self_service",
                operator=event.operator,
                initiated_by=event.initiated_by,
                started_at=event.at,
                changed_at=event.at,
                messages=0,
                # No second factor asked yet: known (the agency's, to the phone on file) or not.
                verified=verified_of(event.document, None, False),
            ),
        )
    elif type(event) in CONVERSATION_CHANGES:
        facts = getattr(event, "facts", None)
        if facts is None:
            return  # a second factor's change stored before they were published
        yield (
            CONVERSATIONS_TOPIC,
            ConversationChangedV3(
                **_envelope(event, facts["tenant"]),
                conversation_id=str(event.originator_id),
                change=CONVERSATION_CHANGES[type(event)],
                channel=facts["channel"],
                **_who(
                    facts.get("personal"),
                    facts.get("unidentified_address", facts.get("address")),
                    facts["document"],
                ),
                document=facts["document"],
                status=facts["status"],
                operator=facts["operator"],
                previous_operator=getattr(event, "previous_operator", None),
                initiated_by=facts["initiated_by"],
                started_at=facts["started_at"],
                changed_at=event.at,
                messages=facts["messages"],
                verified=facts.get("verified"),
            ),
        )
