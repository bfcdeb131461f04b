"""The one error shape, shared by the HTTP API and the services' replies to requests:
{"status": 422, "code": "validation_failed", "message": "...",
 "details": [{"field": "...", "rule": "...", "message": "..."}]}"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ErrorDetail(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    field: str
    rule: str
    message: str


class ErrorReply(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    status: int
    code: str
    message: str
    details: list[ErrorDetail] = Field(default_factory=list)
