"""What the gateway asks the messaging service over request/reply (`messaging.requests`):
templates, the tenant's channels and sending windows, opt-outs, and providers' delivery
callbacks."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator

from contracts.envelope import UtcDatetime
from contracts.ruler import MessageChannel

REQUESTS_TOPIC = "messaging.requests"
# The chatbot asks the negotiation service; its answers come back here.
MESSAGING_REPLIES_TOPIC = "messaging.replies"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TemplateIn(_Model):
    subject: str | None = Field(default=None, max_length=200, description="Email only")
    body: str = Field(min_length=1, max_length=100_000)
    html: str | None = Field(
        default=None,
        max_length=200_000,
        description="E-mail only: an HTML body sent with the text one",
    )
    legacy: bool = Field(
        default=False,
        description="Written with the seeds' syntaxes (#areceber_valor#, %LinkPortal%): "
        "converted when saved",
    )


class SaveTemplate(_Model):
    kind: Literal["save_template"] = "save_template"
    tenant: str
    channel: MessageChannel
    name: str = Field(pattern=r"^[a-z0-9_]{1,100}$")
    template: TemplateIn
    saved_by: str


class ListTemplates(_Model):
    kind: Literal["list_templates"] = "list_templates"
    tenant: str


ChatOption = Literal[
    "digitable_line", "boleto_pdf", "statement_pdf", "negotiate", "term_pdf", "operator", "restart"
]
CHAT_OPTIONS: tuple[ChatOption, ...] = (
    "digitable_line",
    "boleto_pdf",
    "statement_pdf",
    "negotiate",
    "term_pdf",
    "operator",
    "restart",
)


class ChatbotSettings(_Model):
    options: list[ChatOption] = Field(
        default_factory=lambda: list(CHAT_OPTIONS),
        description="The menu's options, in order; an option left out is switched off",
    )
    negotiate_in_chat: bool = Field(
        default=True,
        description="Offers and the agreement right in the chat (else only the portal link)",
    )
    closing_message: str = Field(
        default="Atendimento encerrado. Obrigado pelo contato! Se precisar, é só escrever.",
        min_length=1,
        max_length=1000,
    )
    max_document_attempts: StrictInt = Field(default=3, ge=1, le=10)
    max_per_operator: StrictInt = Field(
        default=5, ge=1, le=100, description="Conversations an operator takes at once"
    )


class WindowIn(_Model):
    weekdays: list[StrictInt] = Field(min_length=1, description="0 = Monday ... 6 = Sunday")
    start: str = Field(pattern=r"^\d\d:\d\d$")
    end: str = Field(pattern=r"^\d\d:\d\d$")


class PortalNotification(_Model):
    """The automatic e-mail with the portal link to every debtor with open debts (the seed's
    "notificação automática"), sent on the business days chosen."""

    enabled: bool = False
    template: str = Field(
        default="portal", pattern=r"^[a-z0-9_]{1,100}$", description="E-mail template sent"
    )
    weekdays: list[StrictInt] = Field(
        default_factory=lambda: [0],
        description="0 = Monday ... 6 = Sunday: the business days it runs",
    )

    @field_validator("weekdays")
    @classmethod
    def _weekdays(cls, value: list[int]) -> list[int]:
        if not value or any(not 0 <= day <= 6 for day in value):
            raise ValueError(
                "portal_notification.weekdays: informe ao menos um dia da semana, "
                "de 0 (segunda) a 6 (domingo)"
            )
        return sorted(set(value))


# What the messaging service answers in place of a channel's credential (never any character
# of it, nor its length); sent back as answered, it keeps the stored credential.
SECRET_MASK = "********"


# The platform's own portal. `{base_url}` is the platform's public address (COBRANCA_PUBLIC_URL,
# else its HTTP host and port: what the signed document links, /d/..., begin with).
DEFAULT_PORTAL_LINK = "{base_url}/p/{tenant}"
# The default before `{base_url}`: kept in settings saved then, and read as the default.
FORMER_DEFAULT_PORTAL_LINK = "http://127.0.0.1:8000/p/{tenant}"


class MessagingSettings(_Model):
    agency_name: str = Field(default="Assessoria de Cobrança", max_length=100)
    portal_link: str = Field(
        default=DEFAULT_PORTAL_LINK,
        max_length=300,
        description="The portal the messages link to ({{ link_portal }}, the chatbot): "
        "{base_url} is the platform's public address (the one its document links use), "
        "{tenant} the tenant",
    )
    windows: dict[MessageChannel, WindowIn] = Field(default_factory=dict)
    channels: dict[MessageChannel, dict[str, Any]] = Field(
        default_factory=dict,
        description='Adapter per channel: {"kind": "smtp", ...}, {"kind": "http", ...} or '
        '{"kind": "outbox"} (the default). Credentials are never answered: a field not known '
        "to be public (an SMTP username and password, a provider's token, any other field) "
        f'reads "{SECRET_MASK}" when set, null or "" when not, and a url with a path or query '
        f'reads as its origin and "/{SECRET_MASK}". Sent back as answered, a field keeps the '
        'stored value; a new value replaces it; null, "" or leaving it out clears it. A '
        f'credential carrying "{SECRET_MASK}" that is not the answer for a stored value is '
        "refused (422).",
    )
    max_attempts: StrictInt = Field(default=5, ge=1, le=20)
    chatbot: ChatbotSettings = Field(default_factory=ChatbotSettings)
    portal_notification: PortalNotification = Field(default_factory=PortalNotification)


def portal_url(portal_link: str, base_url: str, tenant: str) -> str:
    """The tenant's portal address of a `portal_link` setting, on the platform at `base_url`."""
    link = DEFAULT_PORTAL_LINK if portal_link == FORMER_DEFAULT_PORTAL_LINK else portal_link
    return link.replace("{base_url}", base_url.rstrip("/")).replace("{tenant}", tenant)


class SaveSettings(_Model):
    kind: Literal["save_settings"] = "save_settings"
    tenant: str
    settings: MessagingSettings
    saved_by: str


class GetSettings(_Model):
    kind: Literal["get_settings"] = "get_settings"
    tenant: str


class RecordOptOut(_Model):
    kind: Literal["opt_out"] = "opt_out"
    tenant: str
    document: str
    channel: MessageChannel
    source: str = Field(default="request", max_length=100)


class DeliveryReport(_Model):
    kind: Literal["delivery"] = "delivery"
    tenant: str
    id: str = Field(description="The provider's id or our message id")
    status: Literal["delivered", "failed"]
    reason: str | None = None
    at: UtcDatetime | None = None


ChatChannel = Literal["whatsapp", "web"]
ConversationStatus = Literal[
    "self_service", "waiting_operator", "with_operator", "initiated_unanswered", "closed"
]
# A chat message longer than this is refused (WhatsApp's own limit is 4,096 characters).
MAX_CHAT_TEXT = 4096


class ChatInbound(_Model):
    """A debtor's message: from the WhatsApp provider's webhook (address = the phone) or the
    web chat (conversation_id, none to start one)."""

    kind: Literal["chat_inbound"] = "chat_inbound"
    tenant: str
    channel: ChatChannel
    conversation_id: str | None = None
    address: str | None = Field(default=None, description="WhatsApp: the phone, E.164")
    text: str = Field(max_length=MAX_CHAT_TEXT)
    provider_message_id: str | None = Field(
        default=None,
        max_length=200,
        description="The provider's id: a retried webhook is answered once",
    )
    sender_name: str | None = Field(default=None, max_length=200)


class SetAvailability(_Model):
    kind: Literal["operator_availability"] = "operator_availability"
    tenant: str
    operator: str
    available: bool
    display_name: str | None = Field(
        default=None,
        max_length=200,
        description='The name debtors read ("Ana"); none keeps the one given before',
    )


class GetOperator(_Model):
    """An operator's place at the desk: available or not, the name debtors read, the
    conversations with them."""

    kind: Literal["get_operator"] = "get_operator"
    tenant: str
    operator: str


class ClearDisplayName(_Model):
    """Forget the name an operator gave: debtors read "um atendente" again."""

    kind: Literal["clear_display_name"] = "clear_display_name"
    tenant: str
    operator: str


class OperatorMessage(_Model):
    kind: Literal["operator_message"] = "operator_message"
    tenant: str
    conversation_id: str
    operator: str
    text: str = Field(min_length=1, max_length=MAX_CHAT_TEXT)
    supervisor: bool = Field(default=False, description="An admin may write in any conversation")


class TransferConversation(_Model):
    kind: Literal["transfer_conversation"] = "transfer_conversation"
    tenant: str
    conversation_id: str
    operator: str
    to_operator: str = Field(min_length=1, max_length=200)
    supervisor: bool = False


class CloseConversation(_Model):
    kind: Literal["close_conversation"] = "close_conversation"
    tenant: str
    conversation_id: str
    operator: str
    supervisor: bool = False


class StartConversation(_Model):
    """We write first (WhatsApp): the conversation is 'initiated by us and unanswered' until
    the debtor replies."""

    kind: Literal["start_conversation"] = "start_conversation"
    tenant: str
    operator: str
    document: str
    text: str = Field(min_length=1, max_length=MAX_CHAT_TEXT)


CodeChannel = Literal["sms", "email"]
CODE_CHANNELS: tuple[CodeChannel, ...] = ("sms", "email")


class SendAccessCode(_Model):
    """The portal's second factor: a one-time code to the debtor's phone (SMS) or e-mail from
    the carteira, sent at once; one message per challenge."""

    kind: Literal["send_access_code"] = "send_access_code"
    tenant: str
    document: str
    challenge_id: str = Field(min_length=1, max_length=64)
    code: str = Field(pattern=r"^\d{6}$")
    channels: list[CodeChannel] = Field(
        default_factory=lambda: list(CODE_CHANNELS),
        min_length=1,
        description="In order of preference: the first the debtor has a contact for",
    )


class BirthDateTry(_Model):
    """The portal's date of birth, counted with the chat's: a document has so many wrong dates
    a business day in all (whoever typed its CPF, on either door). Without `try_id`: how many
    are left; with it: a wrong date typed on the portal, one more used (once per `try_id`: a
    request delivered twice counts once). Locked documents use nothing more."""

    kind: Literal["birth_date_try"] = "birth_date_try"
    tenant: str
    document: str
    try_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="A wrong date typed on the portal: its id; none to ask what is left",
    )


class BirthDateTriesOut(_Model):
    left: StrictInt = Field(ge=0, description="Wrong dates still allowed today, on both doors")
    locked: bool = Field(description="No more today: the right date is refused too")


class GetConversation(_Model):
    kind: Literal["get_conversation"] = "get_conversation"
    tenant: str
    conversation_id: str


MessagingRequest = Annotated[
    SaveTemplate
    | ListTemplates
    | SaveSettings
    | GetSettings
    | RecordOptOut
    | DeliveryReport
    | ChatInbound
    | SetAvailability
    | GetOperator
    | ClearDisplayName
    | OperatorMessage
    | TransferConversation
    | CloseConversation
    | StartConversation
    | GetConversation
    | SendAccessCode
    | BirthDateTry,
    Field(discriminator="kind"),
]


class MessagingRequestBody(_Model):
    request: MessagingRequest


class TemplateOut(_Model):
    channel: MessageChannel
    name: str
    subject: str | None
    body: str
    html: str | None = None
    variables: list[str]
    version: StrictInt


class TemplateList(_Model):
    templates: list[TemplateOut]


class OptOutOut(_Model):
    document: str
    channel: MessageChannel
    on_date: dt.date


class DeliveryOut(_Model):
    message_id: str | None
    applied: bool


class ChatLink(_Model):
    kind: Literal["boleto", "term", "statement", "portal"]
    label: str
    url: str


class ChatText(_Model):
    text: str
    links: list[ChatLink] = Field(default_factory=list)


class ChatReplyOut(_Model):
    conversation_id: str | None = Field(description="None: nothing was started (a group chat)")
    status: ConversationStatus | None
    replies: list[ChatText]
    duplicate: bool = Field(default=False, description="The same provider message again")


class ConversationEntry(_Model):
    at: UtcDatetime
    sender: Literal["debtor", "bot", "operator", "system"]
    operator: str | None = None
    text: str
    links: list[ChatLink] = Field(default_factory=list)


class ConversationOut(_Model):
    conversation_id: str
    tenant: str
    channel: ChatChannel
    address: str | None
    document: str | None
    debtor_name: str | None
    status: ConversationStatus
    operator: str | None
    started_at: UtcDatetime
    updated_at: UtcDatetime
    initiated_by: Literal["debtor", "agency"]
    entries: list[ConversationEntry]
    verified: bool | None = Field(
        default=None,
        description="Whether whoever writes proved to be the document's holder: true once "
        "identified (after the tenant's second factor, when it asks one); false while that "
        "second factor is pending or failed (nothing of the debtor was shown); null before "
        "any document",
    )
    second_factor: Literal["code", "birth_date"] | None = Field(
        default=None, description="The second factor the conversation waits for, if any"
    )


class AvailabilityOut(_Model):
    operator: str
    available: bool
    display_name: str | None = Field(
        default=None,
        description='The name debtors read; none: they read "um atendente", never the login',
    )
    conversations: list[str] = Field(description="Conversations with this operator now")


class AccessCodeOut(_Model):
    sent: bool
    channel: CodeChannel | None = None
    destination: str | None = Field(
        default=None, description="Masked: (11) *****-4321 or j***@gmail.com"
    )
    reason: str | None = None
    rule: Literal["no_contact", "too_many_codes"] | None = Field(
        default=None, description="Why no code went (with `sent` false)"
    )
