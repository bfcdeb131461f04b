"""Streams of the messaging service: `messaging.messages` (what became of every message asked
for on `messaging.requested`), `messaging.config` (templates and the tenant's messaging
settings, credentials withheld) and `messaging.optouts`."""

from __future__ import annotations

import datetime as dt
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from contracts.envelope import Envelope, UtcDatetime
from contracts.personal import SealedPersonalData
from contracts.ruler import MessageChannel

MESSAGES_TOPIC = "messaging.messages"
CONFIG_TOPIC = "messaging.config"
OPTOUTS_TOPIC = "messaging.optouts"


class _MessageEvent(Envelope):
    partition_key_field: ClassVar[str] = "document"
    message_id: str
    key: str = Field(description="The request's deterministic key")
    document: str
    channel: MessageChannel
    template: str


class MessageQueued(_MessageEvent):
    """Rendered and waiting for its channel's sending window."""

    type: Literal["MessageQueued"] = "MessageQueued"
    schema_version: Literal[1] = 1
    to: str
    send_at: UtcDatetime


class MessageSent(_MessageEvent):
    type: Literal["MessageSent"] = "MessageSent"
    schema_version: Literal[1] = 1
    to: str
    sent_at: UtcDatetime
    provider: str
    provider_id: str | None = None
    attempts: StrictInt = Field(ge=1)
    text: str = Field(description="What was sent (the subject and body, as rendered)")


class MessageQueuedV2(_MessageEvent):
    """Rendered and waiting for its channel's sending window (version 2: the address is
    sealed in `personal` as `{"to": ...}` with the debtor's key; see contracts.personal)."""

    type: Literal["MessageQueued"] = "MessageQueued"
    schema_version: Literal[2] = 2
    personal: SealedPersonalData
    send_at: UtcDatetime


class MessageSentV2(_MessageEvent):
    """Sent (version 2: the address and what was sent are sealed in `personal` as
    `{"to", "text"}` with the debtor's key; see contracts.personal)."""

    type: Literal["MessageSent"] = "MessageSent"
    schema_version: Literal[2] = 2
    personal: SealedPersonalData
    sent_at: UtcDatetime
    provider: str
    provider_id: str | None = None
    attempts: StrictInt = Field(ge=1)


class MessageDelivered(_MessageEvent):
    type: Literal["MessageDelivered"] = "MessageDelivered"
    schema_version: Literal[1] = 1
    delivered_at: UtcDatetime


class MessageFailed(_MessageEvent):
    """Not sent, and why: kept and reported, never dropped."""

    type: Literal["MessageFailed"] = "MessageFailed"
    schema_version: Literal[1] = 1
    reason: str
    rule: Literal[
        "no_template", "no_contact", "opted_out", "refused", "retries_exhausted", "render"
    ]
    attempts: StrictInt = Field(ge=0)
    failed_at: UtcDatetime


class MessageFailedV2(MessageFailed):
    """Not sent, and why (version 2: one more rule, `collection_ended`: a collection message
    (a ruler's pre-due reminder or stage message) whose receivable left collection (paid,
    settled, renegotiated, cancelled) before it went out; its reason says why in pt-BR).
    The messaging service publishes this version only for that rule, version 1 for the
    others. Read as a MessageFailed: what reads version 1 reads this one."""

    type: Literal["MessageFailed"] = "MessageFailed"
    schema_version: Literal[2] = 2  # type: ignore[assignment]
    rule: Literal[  # type: ignore[assignment]
        "no_template",
        "no_contact",
        "opted_out",
        "refused",
        "retries_exhausted",
        "render",
        "collection_ended",
    ]


class TemplateSaved(Envelope):
    type: Literal["TemplateSaved"] = "TemplateSaved"
    schema_version: Literal[1] = 1
    channel: MessageChannel
    name: str
    subject: str | None = None
    body: str
    variables: list[str]
    saved_by: str


class SendingWindowSpec(BaseModel):
    """When a channel may send, in America/Sao_Paulo time."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    weekdays: list[StrictInt] = Field(description="0 = Monday ... 6 = Sunday")
    start: str = Field(description="HH:MM")
    end: str = Field(description="HH:MM (24:00: end of the day)")


ChannelSettingValue = str | int | float | bool | None


class ChannelAdapterSettings(BaseModel):
    """How a channel sends, without its credentials: only fields known not to be secret are
    published (smtp: host, port, tls, sender, timeout; http: the url's origin, timeout).
    Everything else (password, token, username, any other field, a url's path and query) is
    withheld: named, never shown, and told when it changed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str = Field(max_length=40, description="smtp, http or outbox (the default)")
    settings: dict[str, ChannelSettingValue] = Field(
        default_factory=dict, description="The channel's fields known not to be secret"
    )
    withheld: list[str] = Field(
        default_factory=list,
        description="Names of the fields not published (credentials among them), sorted",
    )
    withheld_changed: list[str] = Field(
        default_factory=list,
        description="Which withheld fields this save set, changed or removed, against the "
        "settings before it (a change shown, its value never), sorted",
    )


class ChatbotOptions(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    options: list[str] = Field(description="The menu's options, in order")
    negotiate_in_chat: bool
    closing_message: str
    max_document_attempts: StrictInt
    max_per_operator: StrictInt


class PortalNotificationSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool
    template: str = Field(description="E-mail template sent")
    weekdays: list[StrictInt] = Field(description="0 = Monday ... 6 = Sunday")


class MessagingSettingsSaved(Envelope):
    """The tenant's messaging settings were saved (all of them, as they are now): sending
    windows, each channel's adapter without its credentials (see ChannelAdapterSettings),
    retries, the chatbot and the portal notification. Keyed by the tenant's messaging record
    (`aggregate_id`)."""

    type: Literal["MessagingSettingsSaved"] = "MessagingSettingsSaved"
    schema_version: Literal[1] = 1
    agency_name: str
    portal_link: str
    windows: dict[MessageChannel, SendingWindowSpec] = Field(
        default_factory=dict,
        description="A channel without one keeps the default window (SMS, WhatsApp, push: "
        "Monday to Saturday 08:00-20:00; e-mail: any time)",
    )
    channels: dict[MessageChannel, ChannelAdapterSettings] = Field(
        default_factory=dict, description="A channel without one writes to the outbox file"
    )
    max_attempts: StrictInt = Field(ge=1)
    chatbot: ChatbotOptions
    portal_notification: PortalNotificationSettings
    saved_by: str


class OptOutRecorded(Envelope):
    """The debtor asked for no more messages on a channel (a reply such as SAIR, or a request
    to the agency)."""

    partition_key_field: ClassVar[str] = "document"
    type: Literal["OptOutRecorded"] = "OptOutRecorded"
    schema_version: Literal[1] = 1
    document: str
    channel: MessageChannel
    source: str
    on_date: dt.date


CONVERSATIONS_TOPIC = "messaging.conversations"

ConversationChange = Literal[
    "started",
    "answered",
    "identified",
    "waiting_operator",
    "assigned",
    "transferred",
    "closed",
]


class ConversationChanged(Envelope):
    """A conversation (chatbot, WhatsApp, web chat) as it stands after a change: who, where,
    its status and operator. Keyed by conversation; the transcript stays with the messaging
    service."""

    type: Literal["ConversationChanged"] = "ConversationChanged"
    schema_version: Literal[1] = 1
    conversation_id: str
    change: ConversationChange
    channel: Literal["whatsapp", "web"]
    address: str | None = Field(default=None, description="WhatsApp: the debtor's phone")
    document: str | None = None
    debtor_name: str | None = None
    status: Literal[
        "self_service", "waiting_operator", "with_operator", "initiated_unanswered", "closed"
    ]
    operator: str | None = None
    previous_operator: str | None = None
    initiated_by: Literal["debtor", "agency"]
    started_at: UtcDatetime
    changed_at: UtcDatetime
    messages: StrictInt = Field(ge=0, description="Messages in the conversation so far")


class _ConversationChangedSealed(Envelope):
    """The fields every version of `ConversationChanged` from version 2 on shares (the phone
    and the name sealed); not an event of its own. Each version adds its `schema_version`,
    narrows `change` to the kinds it knows and adds what it knows more; `type`,
    `schema_version` and `change` keep their place, so each version's fields and JSON Schema
    are as if it declared them all."""

    type: Literal["ConversationChanged"] = "ConversationChanged"
    conversation_id: str
    change: str
    channel: Literal["whatsapp", "web"]
    personal: SealedPersonalData | None = Field(
        default=None,
        description='`{"address", "debtor_name"}` sealed with the debtor\'s key, once the '
        "conversation knows the debtor's document (before that: in clear, below)",
    )
    unidentified_address: str | None = Field(
        default=None, description="WhatsApp: the phone of a debtor not identified yet"
    )
    document: str | None = None
    status: Literal[
        "self_service", "waiting_operator", "with_operator", "initiated_unanswered", "closed"
    ]
    operator: str | None = None
    previous_operator: str | None = None
    initiated_by: Literal["debtor", "agency"]
    started_at: UtcDatetime
    changed_at: UtcDatetime
    messages: StrictInt = Field(ge=0, description="Messages in the conversation so far")


class ConversationChangedV2(_ConversationChangedSealed):
    """A conversation (chatbot, WhatsApp, web chat) as it stands after a change: who, where,
    its status and operator. Keyed by conversation; the transcript stays with the messaging
    service. Version 2: the phone and the name are sealed in `personal` once the document is
    known (see contracts.personal)."""

    schema_version: Literal[2] = 2
    change: ConversationChange


# Version 3's changes: version 1's and 2's, and the tenant's second factor. Its own list, so
# that the published schemas of versions 1 and 2 (and their consumers) stay as they are.
ConversationChangeV3 = Literal[
    ConversationChange,
    # The tenant's second factor was asked: whoever writes is not verified (`verified` false).
    "second_factor_asked",
    # The second factor passed: whoever writes proved to be the document's holder.
    "verified",
]


class ConversationChangedV3(_ConversationChangedSealed):
    """A conversation (chatbot, WhatsApp, web chat) as it stands after a change: who, where,
    its status and operator. Keyed by conversation; the transcript stays with the messaging
    service. Version 3: version 2 and whether whoever writes proved to be the debtor
    (`verified`), with the tenant's second factor's changes (`second_factor_asked`,
    `verified`)."""

    schema_version: Literal[3] = 3
    change: ConversationChangeV3
    verified: bool | None = Field(
        description="Whether whoever writes proved to be the document's holder: true once "
        "identified (after the tenant's second factor, when it asks one; a conversation the "
        "agency starts goes to the phone on file); false while that second factor is pending "
        "or failed (nothing of the debtor was shown); null before any document (or not known: a "
        "change stored by the messaging service before it kept this)",
    )
