"""The one error shape, shared by the HTTP API and the services' replies to requests:
{"status": 422, "code": "validation_failed", "message": "...", "message_en": "...",
 "details": [{"field": "...", "rule": "...", "message": "...", "message_en": "..."}],
 "request_id": "..."}

`message` is pt-BR, for people; `message_en` the same in English (the gateway fills it from
the code and the rule); `request_id` is the gateway's X-Request-ID of the request."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictInt


class ErrorDetail(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    field: str
    rule: str
    message: str
    message_en: str | None = None


class ErrorReply(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    status: StrictInt
    code: str
    message: str
    message_en: str | None = None
    details: list[ErrorDetail] = Field(default_factory=list)
    request_id: str | None = None
