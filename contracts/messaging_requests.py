"""What the gateway asks the messaging service over request/reply (`messaging.requests`):
templates, the tenant's channels and sending windows, opt-outs, and providers' delivery
callbacks."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from contracts.envelope import UtcDatetime
from contracts.ruler import MessageChannel

REQUESTS_TOPIC = "messaging.requests"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TemplateIn(_Model):
    subject: str | None = Field(default=None, max_length=200, description="Email only")
    body: str = Field(min_length=1, max_length=100_000)
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


class WindowIn(_Model):
    weekdays: list[int] = Field(min_length=1, description="0 = Monday ... 6 = Sunday")
    start: str = Field(pattern=r"^\d\d:\d\d$")
    end: str = Field(pattern=r"^\d\d:\d\d$")


class MessagingSettings(_Model):
    agency_name: str = Field(default="Assessoria de Cobrança", max_length=100)
    portal_link: str = Field(default="http://127.0.0.1:8000/p/{tenant}", max_length=300)
    windows: dict[MessageChannel, WindowIn] = Field(default_factory=dict)
    channels: dict[MessageChannel, dict[str, Any]] = Field(
        default_factory=dict,
        description='Adapter per channel: {"kind": "smtp", ...}, {"kind": "http", ...} or '
        '{"kind": "outbox"} (the default)',
    )
    max_attempts: int = Field(default=5, ge=1, le=20)


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


MessagingRequest = Annotated[
    SaveTemplate | ListTemplates | SaveSettings | GetSettings | RecordOptOut | DeliveryReport,
    Field(discriminator="kind"),
]


class MessagingRequestBody(_Model):
    request: MessagingRequest


class TemplateOut(_Model):
    channel: MessageChannel
    name: str
    subject: str | None
    body: str
    variables: list[str]
    version: int


class TemplateList(_Model):
    templates: list[TemplateOut]


class OptOutOut(_Model):
    document: str
    channel: MessageChannel
    on_date: dt.date


class DeliveryOut(_Model):
    message_id: str | None
    applied: bool
