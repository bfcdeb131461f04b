"""HTTP controllers for the collection ruler and call campaigns: admins configure rulers,
campaigns and call result types and run the ruler now (the ruler service decides, over
request/reply); operators work the call lists (a projection in the gateway) and record calls.

A campaign's `condition_ids` name payment conditions, which the negotiation service owns: the
gateway asks it for the tenant's conditions (request/reply, as it does for the conditions'
own endpoints) before the ruler saves the campaign, so an unknown id is a 422 and nothing is
saved."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, cast

from anyio import to_thread
from litestar import Controller, Request, Response, get, post, put
from litestar.datastructures import State
from litestar.params import Parameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine, select

from contracts.documents import InvalidDocument, format_document, validate_document
from contracts.negotiation_requests import ConditionList, ListConditions
from contracts.ruler import CallResultType, CampaignDefinition, RulerDefinitionV4
from contracts.ruler_requests import (
    CallOut,
    CallResultTypes,
    CampaignList,
    CampaignOut,
    GetCallResultTypes,
    ListCampaigns,
    ListRulers,
    RecordCall,
    RulerList,
    RulerOut,
    RulerRunOut,
    RunRuler,
    SaveCallResultTypes,
    SaveCampaign,
    SaveRuler,
)
from contracts.ufs import UFS
from service_runtime.clock import BUSINESS_TZ
from service_runtime.request_reply import KafkaRequester
from service_runtime.service_client import ServiceClient
from services.gateway.entrypoints.http.auth import principal_of, requires
from services.gateway.entrypoints.http.errors import field_error, not_found, offset_missing
from services.gateway.read_models import call_list

ADMIN = requires("admin")
STAFF = requires("admin", "operator")


def _ruler(state: State) -> ServiceClient:
    client: ServiceClient = state.ruler
    return client


# A run goes over every open receivable of the tenant: the first one after a carteira of
# thousands takes longer than the usual wait for an answer. Below the ruler's 120 s after
# which it drops a request nobody waits for, and the CLI client's 120 s.
RUN_WAIT_SECONDS = 110.0


class _Waiting:
    """The gateway's requester, waiting `seconds` for each answer."""

    def __init__(self, requester: Any, seconds: float) -> None:
        self.requester = requester
        self.seconds = seconds

    async def request(self, topic: str, body: bytes, **kwargs: Any) -> bytes:
        answer: bytes = await self.requester.request(
            topic, body, **{**kwargs, "timeout": self.seconds}
        )
        return answer


def _waiting(client: ServiceClient, seconds: float) -> ServiceClient:
    """The same service client (its refusals and its 503 when no answer comes), waiting
    longer. (`_Waiting` has the one method ServiceClient calls of its requester.)"""
    requester = cast(KafkaRequester, _Waiting(client.requester, seconds))
    return ServiceClient(client.service, requester, client.topic, client.body_model)


class RunRulerIn(BaseModel):
    """Nothing to say: the tenant is the admin's, the day the ruler's business day."""

    model_config = ConfigDict(extra="forbid")


async def check_conditions(state: State, tenant: str, definition: CampaignDefinition) -> None:
    """Every condition a campaign names must be one of the tenant's payment conditions, as
    the negotiation service (their owner) knows them now: else a 422 naming `condition_ids`.
    A campaign naming none asks nothing."""
    if not definition.condition_ids:
        return
    negotiation: ServiceClient = state.negotiation
    known = await negotiation.ask(ListConditions(tenant=tenant), tenant, ConditionList)
    ids = [c.condition_id for c in known.conditions]
    unknown = [c for c in dict.fromkeys(definition.condition_ids) if c not in ids]
    if unknown:
        listed = ", ".join(unknown)
        hint = f"use uma de: {', '.join(ids)}" if ids else "o cadastro não tem nenhuma"
        raise field_error(
            "condition_ids",
            "unknown_condition",
            f"condição de pagamento não cadastrada: {listed}; {hint}",
        )


def check_states(definition: CampaignDefinition) -> None:
    """A campaign's states are UFs (SP, RJ, ...): the call list compares them with the
    debtors' UF, so any other name would list nobody. Else a 422 naming `states`."""
    unknown = [s for s in definition.states if s.strip().upper() not in UFS]
    if unknown:
        listed = ", ".join(repr(s) for s in unknown)
        raise field_error(
            "states",
            "unknown_state",
            f"UF não existe: {listed}; use a sigla de um dos 27 estados, como SP ou RJ",
        )


class RulerAdminController(Controller):
    path = "/api/v1/admin"
    tags = ["admin: ruler and campaigns"]  # noqa: RUF012 (Litestar declares it a list)

    @post("/rulers", status_code=HTTP_201_CREATED, guards=[ADMIN], summary="Create a ruler")
    async def create_ruler(
        self, request: Request[Any, Any, Any], state: State, data: RulerDefinitionV4
    ) -> RulerOut:
        return await self._save_ruler(request, state, str(uuid.uuid4()), data, existing=False)

    @put(
        "/rulers/{ruler_id:str}",
        guards=[ADMIN],
        summary="Change a ruler (from the next run); 404 when there is none with this id",
    )
    async def change_ruler(
        self,
        request: Request[Any, Any, Any],
        state: State,
        ruler_id: str,
        data: RulerDefinitionV4,
    ) -> RulerOut:
        return await self._save_ruler(request, state, ruler_id, data, existing=True)

    async def _save_ruler(
        self,
        request: Request[Any, Any, Any],
        state: State,
        ruler_id: str,
        data: RulerDefinitionV4,
        *,
        existing: bool,
    ) -> RulerOut:
        principal = principal_of(request)
        return await _ruler(state).ask(
            SaveRuler(
                tenant=principal.tenant,
                ruler_id=ruler_id,
                definition=data,
                saved_by=principal.subject,
                existing_only=existing,
            ),
            principal.tenant,
            RulerOut,
        )

    @get("/rulers", guards=[requires("admin", "operator", "analyst")], summary="The rulers")
    async def list_rulers(self, request: Request[Any, Any, Any], state: State) -> RulerList:
        principal = principal_of(request)
        return await _ruler(state).ask(
            ListRulers(tenant=principal.tenant), principal.tenant, RulerList
        )

    @post(
        "/ruler/run",
        status_code=HTTP_200_OK,
        guards=[ADMIN],
        summary="Run the ruler now (processar régua agora): today's run, for this tenant",
        description="Today is the ruler's business day (the clock's last DayStarted). What "
        "today's run did already is not done again: every action has its key, so asking "
        "twice sends nothing twice (the second answer counts zeros). 409 before the ruler "
        "has seen a day (`no_business_date`) and on a day that is not a business day "
        "(`not_business_day`).",
    )
    async def run_ruler(
        self,
        request: Request[Any, Any, Any],
        state: State,
        data: RunRulerIn | None = None,
    ) -> RulerRunOut:
        principal = principal_of(request)
        return await _waiting(_ruler(state), RUN_WAIT_SECONDS).ask(
            RunRuler(tenant=principal.tenant, requested_by=principal.subject),
            principal.tenant,
            RulerRunOut,
        )

    @post("/campaigns", status_code=HTTP_201_CREATED, guards=[ADMIN], summary="Create a campaign")
    async def create_campaign(
        self, request: Request[Any, Any, Any], state: State, data: CampaignDefinition
    ) -> CampaignOut:
        return await self._save_campaign(request, state, str(uuid.uuid4()), data, existing=False)

    @put(
        "/campaigns/{campaign_id:str}",
        guards=[ADMIN],
        summary="Change a call campaign; 404 when there is none with this id",
    )
    async def change_campaign(
        self,
        request: Request[Any, Any, Any],
        state: State,
        campaign_id: str,
        data: CampaignDefinition,
    ) -> CampaignOut:
        return await self._save_campaign(request, state, campaign_id, data, existing=True)

    async def _save_campaign(
        self,
        request: Request[Any, Any, Any],
        state: State,
        campaign_id: str,
        data: CampaignDefinition,
        *,
        existing: bool,
    ) -> CampaignOut:
        principal = principal_of(request)
        check_states(data)
        await check_conditions(state, principal.tenant, data)
        return await _ruler(state).ask(
            SaveCampaign(
                tenant=principal.tenant,
                campaign_id=campaign_id,
                definition=data,
                saved_by=principal.subject,
                existing_only=existing,
            ),
            principal.tenant,
            CampaignOut,
        )

    @get("/campaigns", guards=[STAFF], summary="The call campaigns")
    async def list_campaigns(self, request: Request[Any, Any, Any], state: State) -> CampaignList:
        principal = principal_of(request)
        return await _ruler(state).ask(
            ListCampaigns(tenant=principal.tenant), principal.tenant, CampaignList
        )

    @get("/call-results", guards=[STAFF], summary="The results an operator may record")
    async def call_results(self, request: Request[Any, Any, Any], state: State) -> CallResultTypes:
        principal = principal_of(request)
        return await _ruler(state).ask(
            GetCallResultTypes(tenant=principal.tenant), principal.tenant, CallResultTypes
        )

    @put("/call-results", guards=[ADMIN], summary="Change the call result types")
    async def save_call_results(
        self, request: Request[Any, Any, Any], state: State, data: list[CallResultType]
    ) -> CallResultTypes:
        principal = principal_of(request)
        if not data:
            raise field_error("body", "min_items", "informe ao menos um tipo de resultado")
        return await _ruler(state).ask(
            SaveCallResultTypes(
                tenant=principal.tenant, result_types=data, saved_by=principal.subject
            ),
            principal.tenant,
            CallResultTypes,
        )


class CallIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    document: str = Field(description="The debtor called (CPF/CNPJ)")
    result: str = Field(description="A call result type's code")
    note: str = Field(default="", max_length=2000)
    reschedule_at: dt.datetime | None = Field(
        default=None,
        description="Call again at (with offset, e.g. 2026-12-01T14:00:00-03:00); not before "
        "the business day",
    )


class LastCallOut(BaseModel):
    result_code: str
    result_label: str
    operator: str
    note: str
    recorded_at: dt.datetime
    reschedule_at: dt.datetime | None


class CallListEntryOut(BaseModel):
    document: str
    debtor_name: str
    phones: list[str]
    email: str | None
    city: str | None
    state: str | None
    creditors: list[str]
    debts: int
    total_cents: int
    max_days_overdue: int
    stage: str
    stage_label: str = Field(
        description="The stage as operators read it (pt-BR), as in the spreadsheet's etapa: "
        "'negativação suspensa (sem aviso)' when a listing of theirs is held"
    )
    listing_held: bool = Field(
        description="A debt of theirs at the credit bureau stage is not listed because its "
        "notice could not be sent (no phone or e-mail...): reach the debtor another way"
    )
    listings_held: int = Field(description="How many of these debts have their listing held")
    last_call: LastCallOut | None


class CallListOut(BaseModel):
    campaign_id: str
    name: str
    as_of: dt.date
    page: int
    page_size: int
    total: int
    priority: str
    entries: list[CallListEntryOut]


PRIORITY = "total owed (highest first), then the most recent debt, then the document"
# What the call list's answer says of its order: operators read it.
PRIORITY_PT = "maior valor devido primeiro, depois a dívida mais recente, depois o documento"


class CampaignsController(Controller):
    path = "/api/v1/campaigns"
    tags = ["call campaigns"]  # noqa: RUF012 (Litestar declares it a list)

    async def _list(
        self, request: Request[Any, Any, Any], state: State, campaign_id: str, page: int, size: int
    ) -> tuple[CampaignDefinition, list[call_list.CallListEntry], int]:
        principal = principal_of(request)
        found = await to_thread.run_sync(
            lambda: call_list.campaign(state.read_engine, principal.tenant, campaign_id)
        )
        if found is None:
            raise not_found("campaign_id", f"campanha {campaign_id} não encontrada")
        today = state.clock.today()
        entries, total = await to_thread.run_sync(
            lambda: call_list.call_list(
                state.read_engine, principal.tenant, campaign_id, today, page, size
            )
        )
        return found[0], entries, total

    @get(
        "/{campaign_id:str}/call-list",
        guards=[STAFF],
        summary="The campaign's call list, in priority order, paginated",
        description=f"Priority: {PRIORITY}.",
    )
    async def list_calls(
        self,
        request: Request[Any, Any, Any],
        state: State,
        campaign_id: str,
        page: int = Parameter(default=1, ge=1),
        page_size: int = Parameter(default=50, ge=1, le=500),
    ) -> CallListOut:
        definition, entries, total = await self._list(request, state, campaign_id, page, page_size)
        return CallListOut(
            campaign_id=campaign_id,
            name=definition.name,
            as_of=state.clock.today(),
            page=page,
            page_size=page_size,
            total=total,
            priority=PRIORITY_PT,
            entries=[_entry_out(e) for e in entries],
        )

    @get(
        "/{campaign_id:str}/call-list.csv",
        guards=[STAFF],
        summary="The whole call list as CSV (;, UTF-8 with BOM) for an outside office",
        media_type="text/csv",
    )
    async def export(
        self, request: Request[Any, Any, Any], state: State, campaign_id: str
    ) -> Response[bytes]:
        _definition, entries, _ = await self._list(request, state, campaign_id, 1, 1_000_000)
        body = call_list.call_list_csv(entries)
        return Response(
            body,
            media_type="text/csv",  # Litestar adds "; charset=utf-8" to a text/* type
            headers={"Content-Disposition": f'attachment; filename="{_csv_name(campaign_id)}"'},
        )

    @post(
        "/{campaign_id:str}/calls",
        status_code=HTTP_201_CREATED,
        guards=[STAFF],
        summary="Record a call (its result, a note, when to call again)",
    )
    async def record(
        self, request: Request[Any, Any, Any], state: State, campaign_id: str, data: CallIn
    ) -> CallOut:
        principal = principal_of(request)
        try:
            document = validate_document(data.document)
        except InvalidDocument as exc:
            raise field_error("document", getattr(exc, "rule", "invalid"), exc.reason) from exc
        reschedule_at = _reschedule_at(data.reschedule_at, state.clock.today())
        if not await to_thread.run_sync(
            lambda: _has_debts(state.read_engine, principal.tenant, document)
        ):
            raise field_error(
                "document",
                "no_debt",
                f"nenhuma dívida do documento {format_document(document)} nesta assessoria",
            )
        key = request.headers.get("idempotency-key", "").strip() or str(uuid.uuid4())
        return await _ruler(state).ask(
            RecordCall(
                tenant=principal.tenant,
                call_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{principal.tenant}|call|{key}")),
                campaign_id=campaign_id,
                document=document,
                operator=principal.subject,
                result=data.result,
                note=data.note,
                reschedule_at=reschedule_at,
            ),
            principal.tenant,
            CallOut,
        )


def _reschedule_at(moment: dt.datetime | None, today: dt.date) -> dt.datetime | None:
    """When to call again, in UTC: with its offset, and not on a day before the business
    clock's (a date-time earlier on that day is taken: the clock knows days, not hours)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise offset_missing("reschedule_at", moment)
    if moment.astimezone(BUSINESS_TZ).date() < today:
        raise field_error(
            "reschedule_at",
            "not_in_past",
            f"a nova ligação não pode ser antes de hoje ({today.strftime('%d/%m/%Y')})",
        )
    return moment.astimezone(dt.UTC)


def _has_debts(engine: Engine, tenant: str, document: str) -> bool:
    """Whether the tenant has any debt of `document` (the call lists' own debts)."""
    query = (
        select(call_list.call_debts.c.debt_id)
        .where(call_list.call_debts.c.tenant == tenant)
        .where(call_list.call_debts.c.document == document)
        .limit(1)
    )
    with engine.connect() as conn:
        return conn.execute(query).first() is not None


def _csv_name(campaign_id: str) -> str:
    # A header is Latin-1: the file name keeps only what any client reads.
    safe = "".join(c for c in campaign_id if c.isascii() and (c.isalnum() or c in "-_"))
    return f"lista-{safe[:8] or 'campanha'}.csv"


def _entry_out(entry: call_list.CallListEntry) -> CallListEntryOut:
    last = entry.last_call
    return CallListEntryOut(
        document=entry.document,
        debtor_name=entry.debtor_name,
        phones=list(entry.phones),
        email=entry.email,
        city=entry.city,
        state=entry.state,
        creditors=list(entry.creditors),
        debts=entry.debts,
        total_cents=entry.total_cents,
        max_days_overdue=entry.max_days_overdue,
        stage=entry.stage,
        stage_label=entry.stage_label,
        listing_held=entry.listing_held,
        listings_held=entry.listings_held,
        last_call=LastCallOut(**last) if last else None,
    )
