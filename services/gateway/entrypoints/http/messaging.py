"""HTTP controllers for messaging: templates and the tenant's channels and sending windows
(admins), debtors' opt-outs (operators), and providers' delivery callbacks."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post, put
from litestar.datastructures import State
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED
from pydantic import BaseModel, ConfigDict

from contracts.documents import InvalidDocument, validate_document
from contracts.messaging_requests import (
    SECRET_MASK,
    DeliveryOut,
    DeliveryReport,
    GetSettings,
    ListTemplates,
    MessagingSettings,
    OptOutOut,
    RecordOptOut,
    SaveSettings,
    SaveTemplate,
    TemplateIn,
    TemplateList,
    TemplateOut,
)
from contracts.ruler import MessageChannel
from service_runtime.service_client import ServiceClient
from services.gateway.entrypoints.http.auth import principal_of, requires
from services.gateway.entrypoints.http.errors import field_error

# The messaging service masks the credentials (it alone opens them): told here for the API's
# readers, the field's own description in `MessagingSettings.channels` has the details.
_MASKED = (
    f'Channel credentials are never answered: each reads "{SECRET_MASK}" when set (a url with '
    f'a path or query: its origin and "/{SECRET_MASK}"), null or "" when not. A PUT that sends '
    "a credential back as it was answered keeps the stored one; a new value replaces it; null, "
    '"" or leaving it out clears it; one carrying the mask that stands for no stored value is '
    "refused (422)."
)


def _messaging(state: State) -> ServiceClient:
    client: ServiceClient = state.messaging
    return client


class MessagingAdminController(Controller):
    path = "/api/v1/admin"
    tags = ["admin: messaging"]  # noqa: RUF012 (Litestar declares it a list)

    @put(
        "/templates/{channel:str}/{name:str}",
        guards=[requires("admin")],
        summary="Save a message template (variables checked; legacy syntaxes converted)",
    )
    async def save_template(
        self,
        request: Request[Any, Any, Any],
        state: State,
        channel: MessageChannel,
        name: str,
        data: TemplateIn,
    ) -> TemplateOut:
        principal = principal_of(request)
        return await _messaging(state).ask(
            SaveTemplate(
                tenant=principal.tenant,
                channel=channel,
                name=name,
                template=data,
                saved_by=principal.subject,
            ),
            principal.tenant,
            TemplateOut,
        )

    @get("/templates", guards=[requires("admin", "operator")], summary="The templates")
    async def templates(self, request: Request[Any, Any, Any], state: State) -> TemplateList:
        principal = principal_of(request)
        return await _messaging(state).ask(
            ListTemplates(tenant=principal.tenant), principal.tenant, TemplateList
        )

    @get(
        "/messaging-settings",
        guards=[requires("admin")],
        summary="Channels and windows (credentials masked)",
        description=_MASKED,
    )
    async def settings(self, request: Request[Any, Any, Any], state: State) -> MessagingSettings:
        principal = principal_of(request)
        return await _messaging(state).ask(
            GetSettings(tenant=principal.tenant), principal.tenant, MessagingSettings
        )

    @put(
        "/messaging-settings",
        guards=[requires("admin")],
        summary="Change channels, windows (a masked credential sent back is kept)",
        description=_MASKED,
    )
    async def save_settings(
        self, request: Request[Any, Any, Any], state: State, data: MessagingSettings
    ) -> MessagingSettings:
        principal = principal_of(request)
        return await _messaging(state).ask(
            SaveSettings(tenant=principal.tenant, settings=data, saved_by=principal.subject),
            principal.tenant,
            MessagingSettings,
        )


class OptOutIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: MessageChannel
    source: str = "pedido do devedor"


class OptOutController(Controller):
    path = "/api/v1/debtors"
    tags = ["debtors"]  # noqa: RUF012 (Litestar declares it a list)

    @post(
        "/{document:str}/opt-outs",
        status_code=HTTP_201_CREATED,
        guards=[requires("admin", "operator", "integration")],
        summary="The debtor asks for no more messages on a channel",
    )
    async def opt_out(
        self, request: Request[Any, Any, Any], state: State, document: str, data: OptOutIn
    ) -> OptOutOut:
        principal = principal_of(request)
        try:
            normalized = validate_document(document)
        except InvalidDocument as exc:
            raise field_error("document", getattr(exc, "rule", "invalid"), exc.reason) from exc
        return await _messaging(state).ask(
            RecordOptOut(
                tenant=principal.tenant,
                document=normalized,
                channel=data.channel,
                source=data.source,
            ),
            principal.tenant,
            OptOutOut,
        )


class WebhooksController(Controller):
    path = "/api/v1/webhooks"
    tags = ["webhooks"]  # noqa: RUF012 (Litestar declares it a list)

    @post(
        "/messages",
        status_code=HTTP_200_OK,
        guards=[requires("integration")],
        summary="A provider's delivery callback (see services/messaging/adapters/channels.py)",
    )
    async def delivery(
        self, request: Request[Any, Any, Any], state: State, data: DeliveryReport
    ) -> DeliveryOut:
        principal = principal_of(request)
        if data.tenant != principal.tenant:
            raise field_error("tenant", "token_tenant", "o token é de outra assessoria")
        return await _messaging(state).ask(data, principal.tenant, DeliveryOut)
