"""The admins' audit trail: configuration changes and erasures of personal data with who made
them, newest first."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from anyio import to_thread
from litestar import Controller, Request, get
from litestar.datastructures import State
from litestar.params import Parameter
from pydantic import BaseModel, ConfigDict, Field

from service_runtime.clock import BUSINESS_TZ
from services.gateway.entrypoints.http.auth import principal_of, requires
from services.gateway.entrypoints.http.errors import field_error
from services.gateway.read_models.audit import ENTITY_KINDS, audit_trail


class AuditEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    occurred_at: dt.datetime
    entity_kind: str
    entity_id: str
    actor: str = Field(description="Who made the change (the token's subject)")
    summary: str = Field(description="What changed, in pt-BR")
    type: str = Field(description="The event that told it")


class AuditResponse(BaseModel):
    model_config = ConfigDict(frozen=True)

    tenant: str
    entries: list[AuditEntry]


def parse_since(raw: str | None) -> dt.datetime | None:
    """An ISO date-time (without a zone: UTC) or a date (midnight in America/Sao_Paulo)."""
    if raw is None or not raw.strip():
        return None
    text = raw.strip()
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            return dt.datetime.combine(day, dt.time(), BUSINESS_TZ).astimezone(dt.UTC)
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise field_error(
            "from",
            "datetime",
            "use uma data AAAA-MM-DD ou data e hora ISO 8601 (2026-11-25T10:00:00-03:00)",
        ) from None
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


class AuditController(Controller):
    path = "/api/v1/admin/audit"
    tags = ["admin: audit"]  # noqa: RUF012 (Litestar declares it a list)

    @get(
        "/",
        guards=[requires("admin")],
        summary="Configuration changes (who, when, what), newest first",
        description="Payment conditions, rulers, call campaigns, call result types, "
        "message templates, the negotiation settings (boleto, PIX, breaking, charges), the "
        "messaging settings (windows, channels: credentials only said changed, never shown), "
        "the portal profile (name, portal list, second factor, logo) and erasures of a "
        "debtor's personal data (LGPD; `entity_kind` debtor, `entity_id` the document). "
        "Filter by `entity_kind` (" + ", ".join(ENTITY_KINDS) + "), "
        "`entity_id` (a template's is `channel/name`) and `from` (a date or date-time).",
    )
    async def audit(
        self,
        request: Request[Any, Any, Any],
        state: State,
        entity_kind: str | None = None,
        entity_id: str | None = None,
        since: Annotated[str | None, Parameter(query="from")] = None,
        limit: Annotated[int, Parameter(ge=1, le=1000)] = 200,
    ) -> AuditResponse:
        principal = principal_of(request)
        if entity_kind and entity_kind not in ENTITY_KINDS:
            raise field_error("entity_kind", "choice", "valor deve ser " + ", ".join(ENTITY_KINDS))
        start = parse_since(since)
        rows = await to_thread.run_sync(
            lambda: audit_trail(
                state.read_engine, principal.tenant, entity_kind, entity_id, start, limit
            )
        )
        return AuditResponse(
            tenant=principal.tenant,
            entries=[
                AuditEntry(
                    occurred_at=r["occurred_at"],
                    entity_kind=r["entity_kind"],
                    entity_id=r["entity_id"],
                    actor=r["actor"],
                    summary=r["summary"],
                    type=r["type"],
                )
                for r in rows
            ],
        )
