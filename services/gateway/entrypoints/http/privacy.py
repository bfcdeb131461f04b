"""Admin API of debtors' personal data (LGPD): the erasure a debtor asks for, by
crypto-shredding (see application.privacy and README, "Personal data (LGPD)")."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from litestar import Controller, Request, post
from litestar.datastructures import State
from litestar.openapi.datastructures import ResponseSpec
from litestar.status_codes import HTTP_200_OK
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.gateway.application.privacy import NoPersonalData, PrivacyService
from services.gateway.domain.erasure import MAX_REASON
from services.gateway.entrypoints.http.auth import principal_of, requires
from services.gateway.entrypoints.http.controllers import document_param
from services.gateway.entrypoints.http.errors import not_found
from services.gateway.entrypoints.http.schemas import ErrorResponse


class ErasureIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_REASON)
    ] = Field(
        description="Why: the debtor's request (how and when it came), for the audit trail",
        examples=["Pedido do titular por e-mail em 25/11/2026 (protocolo 1234)"],
    )


class ErasureOut(BaseModel):
    document: str = Field(description="The debtor's normalized CPF/CNPJ")
    key_ids: list[str] = Field(
        description="The debtor's keys, now erased (those erased before included; none when "
        "the debtor's data was only ever in clear)"
    )
    erased_at: dt.datetime = Field(description="When this request erased them (UTC)")
    requested_by: str = Field(description="Who asked (the admin's token subject)")


def _error(description: str) -> ResponseSpec:
    return ResponseSpec(ErrorResponse, description=description, generate_examples=False)


def privacy_service(state: State) -> PrivacyService:
    return PrivacyService(
        app=state.gateway_app,
        vault=state.vault,
        read_engine=state.read_engine,
        on_saved=state.gateway_relay.wake,
    )


class PrivacyController(Controller):
    path = "/api/v1/admin/debtors"
    tags = ["admin: personal data"]  # noqa: RUF012 (Litestar declares it a list)

    @post(
        "/{document:str}/erasure",
        status_code=HTTP_200_OK,
        guards=[requires("admin")],
        summary="Erase a debtor's personal data on their request (LGPD)",
        description="Destroys the debtor's keys in the key vault: their name, e-mail, phone and "
        "address, sealed under those keys in every event and store, can never be read again, "
        "not even by a replay. The erasure is published (`PersonalDataErased` on "
        "`privacy.erasures`): every read model then shows `[dado removido]` for the name and "
        "nothing for the contacts, the debtor's timeline tells who erased it and when, and the "
        "audit trail records it (`entity_kind` debtor). The debts stay (the CPF/CNPJ is not "
        "erased). Asking again is safe and answers the same keys. 404 when the tenant holds no "
        "personal data of the document.",
        responses={
            401: _error("No token, or not a valid one"),
            403: _error("Only an admin may erase personal data"),
            404: _error("The tenant holds no personal data of this document"),
            422: _error("A bad document or reason: `details` names the field and the rule"),
        },
    )
    async def erase(
        self, request: Request[Any, Any, Any], state: State, document: str, data: ErasureIn
    ) -> ErasureOut:
        principal = principal_of(request)
        normalized = document_param(document)
        try:
            receipt = await privacy_service(state).erase(
                principal.tenant,
                normalized,
                requested_by=principal.subject,
                reason=data.reason,
            )
        except NoPersonalData as exc:
            raise not_found(
                "document", f"esta assessoria não tem dados pessoais do documento {normalized}"
            ) from exc
        return ErasureOut(
            document=receipt.document,
            key_ids=receipt.key_ids,
            erased_at=receipt.erased_at,
            requested_by=receipt.requested_by,
        )
