"""HTTP controllers for negotiating: payment conditions and settings (admins), offers and
agreements (the portal's debtor, operators, the chatbot), invoices' PDFs, and payments
(client systems and the bank's CNAB 240 return files). The negotiation service decides;
these forward over request/reply and pass its answers (and refusals) on."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, Response, get, post, put
from litestar.datastructures import ResponseHeader, State
from litestar.params import Parameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from contracts.negotiation import Channel, PaymentConditionTerms
from contracts.negotiation_requests import (
    AgreementOut,
    Cnab240Out,
    ConditionList,
    ConditionOut,
    GetSettings,
    ImportCnab240,
    ListConditions,
    NegotiationSettings,
    OffersOut,
    PaymentOut,
    PaymentReport,
    RecordPayment,
    SaveCondition,
    SaveSettings,
)
from service_runtime.service_client import ServiceClient
from services.gateway.adapters.tokens import Principal
from services.gateway.application.portal import InvoicePayment, NotEligible
from services.gateway.entrypoints.http.auth import (
    RENEWED_EXPIRY_HEADER,
    RENEWED_TOKEN_HEADER,
    principal_of,
    requires,
    role_refused,
)
from services.gateway.entrypoints.http.controllers import invoice_pdf_url
from services.gateway.entrypoints.http.errors import (
    ApiError,
    contract_fields,
    field_detail,
    field_error,
)
from services.gateway.entrypoints.http.portal_deps import not_eligible_error, portal_service
from services.gateway.entrypoints.http.raw_bodies import raw_body_operation
from services.gateway.entrypoints.http.schemas import AgreementAnswer, AgreementInvoice

MAX_CNAB_BYTES = 20 * 1024 * 1024
# Debts negotiated at once (the contracts' GetOffers and CloseAgreement say the same).
MAX_DEBTS = 200
MAX_DEBT_ID = 200


def _client(state: State) -> ServiceClient:
    client: ServiceClient = state.negotiation
    return client


class NegotiationAdminController(Controller):
    path = "/api/v1/admin"
    tags = ["admin: negotiation"]  # noqa: RUF012 (Litestar declares it a list)

    @post(
        "/conditions",
        status_code=HTTP_201_CREATED,
        guards=[requires("admin")],
        summary="Create a payment condition",
    )
    async def create_condition(
        self, request: Request[Any, Any, Any], state: State, data: PaymentConditionTerms
    ) -> ConditionOut:
        principal = principal_of(request)
        # The id is chosen here, so a request delivered twice creates one condition.
        return await _client(state).ask(
            SaveCondition(
                tenant=principal.tenant,
                condition_id=str(uuid.uuid4()),
                terms=data,
                saved_by=principal.subject,
            ),
            principal.tenant,
            ConditionOut,
        )

    @put(
        "/conditions/{condition_id:str}",
        guards=[requires("admin")],
        summary="Change a payment condition (agreements already closed keep their terms); "
        "404 when there is none with this id",
    )
    async def change_condition(
        self,
        request: Request[Any, Any, Any],
        state: State,
        condition_id: str,
        data: PaymentConditionTerms,
    ) -> ConditionOut:
        principal = principal_of(request)
        return await _client(state).ask(
            SaveCondition(
                tenant=principal.tenant,
                condition_id=condition_id,
                terms=data,
                saved_by=principal.subject,
                existing_only=True,
            ),
            principal.tenant,
            ConditionOut,
        )

    @get(
        "/conditions",
        guards=[requires("admin", "operator", "analyst")],
        summary="The tenant's payment conditions",
    )
    async def list_conditions(self, request: Request[Any, Any, Any], state: State) -> ConditionList:
        principal = principal_of(request)
        return await _client(state).ask(
            ListConditions(tenant=principal.tenant), principal.tenant, ConditionList
        )

    @get(
        "/negotiation-settings",
        guards=[requires("admin")],
        summary="Boleto, PIX, agreement breaking and charges settings",
    )
    async def get_settings(
        self, request: Request[Any, Any, Any], state: State
    ) -> NegotiationSettings:
        principal = principal_of(request)
        return await _client(state).ask(
            GetSettings(tenant=principal.tenant), principal.tenant, NegotiationSettings
        )

    @put("/negotiation-settings", guards=[requires("admin")], summary="Change the settings")
    async def save_settings(
        self, request: Request[Any, Any, Any], state: State, data: NegotiationSettings
    ) -> NegotiationSettings:
        principal = principal_of(request)
        return await _client(state).ask(
            SaveSettings(tenant=principal.tenant, settings=data, saved_by=principal.subject),
            principal.tenant,
            NegotiationSettings,
        )


class CloseAgreementIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    debt_ids: list[Annotated[str, Field(min_length=1, max_length=MAX_DEBT_ID)]] = Field(
        min_length=1, max_length=MAX_DEBTS
    )
    # A JSON integer: not "3", true nor 3.0 (lax parsing would read true as 1 installment).
    installments: StrictInt = Field(ge=1, le=120)
    channel: Channel | None = Field(
        default=None,
        description="Only client systems (the chatbot) say it; the portal and operators are "
        "known by their tokens",
    )


class Negotiator(BaseModel):
    """Who negotiates, from the token: the portal's debtor, an operator, or a client system."""

    document: str | None
    channel: Channel
    operator: str | None


def negotiator(principal: Principal, tenant: str, channel: Channel | None = None) -> Negotiator:
    if principal.tenant != tenant:
        message = "este token é de outra assessoria"
        raise ApiError(403, "forbidden", message, [field_detail("tenant", "token_tenant", message)])
    if principal.role == "portal":
        if channel not in (None, "portal"):
            raise field_error("channel", "not_allowed", "o portal negocia pelo canal portal")
        return Negotiator(document=principal.document, channel="portal", operator=None)
    if principal.role in ("operator", "admin"):
        return Negotiator(document=None, channel="operator", operator=principal.subject)
    if principal.role == "integration":
        return Negotiator(document=None, channel=channel or "chatbot", operator=None)
    raise role_refused(f"o papel {principal.role} não negocia acordos")


NEGOTIATORS = requires("portal", "operator", "admin", "integration")


class AgreementsController(Controller):
    path = "/api/v1/portal/{tenant:str}"
    tags = ["portal"]  # noqa: RUF012 (Litestar declares it a list)
    # Set by RenewedPortalToken (a before_send hook); declared here for the OpenAPI document.
    response_headers = [  # noqa: RUF012 (Litestar declares it a list)
        ResponseHeader(
            name=RENEWED_TOKEN_HEADER,
            description="To a portal token: the token issued again (its lifetime from now, 15 "
            "minutes by default, never past 2 hours after the debtor identified); send this "
            "one from now on",
            documentation_only=True,
        ),
        ResponseHeader(
            name=RENEWED_EXPIRY_HEADER,
            description="When that token expires (ISO 8601)",
            documentation_only=True,
        ),
    ]

    @get(
        "/offers",
        guards=[NEGOTIATORS],
        summary="Payment offers for one or more debts",
        opt=contract_fields(debt_ids="debt_id"),
    )
    async def offers(
        self,
        request: Request[Any, Any, Any],
        state: State,
        tenant: str,
        debt_id: Annotated[
            list[Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_DEBT_ID)]],
            Parameter(query="debt_id", min_items=1, max_items=MAX_DEBTS),
        ],
        channel: Channel | None = None,
    ) -> OffersOut:
        who = negotiator(principal_of(request), tenant, channel)
        # The portal's debtor only for the debts the tenant's portal list lets through.
        try:
            return await portal_service(state).offers(
                tenant, debt_id, document=who.document, channel=who.channel
            )
        except NotEligible as exc:
            raise not_eligible_error(exc) from exc

    @post(
        "/agreements",
        guards=[NEGOTIATORS],
        summary="Close an agreement (send an Idempotency-Key header)",
        description="The same Idempotency-Key again returns the same agreement (200); "
        "a debt already in an active agreement answers 409.",
    )
    async def close(
        self,
        request: Request[Any, Any, Any],
        state: State,
        tenant: str,
        data: CloseAgreementIn,
    ) -> Response[AgreementAnswer]:
        who = negotiator(principal_of(request), tenant, data.channel)
        key = request.headers.get("idempotency-key", "").strip()
        if not key:
            raise field_error(
                "Idempotency-Key",
                "required",
                "envie o cabeçalho Idempotency-Key (um valor único por tentativa de acordo)",
            )
        if len(key) > 200:
            raise field_error("Idempotency-Key", "max_length", "no máximo 200 caracteres")
        try:
            agreement = await portal_service(state).close(
                tenant,
                data.debt_ids,
                data.installments,
                key,
                document=who.document,
                channel=who.channel,
                operator=who.operator,
            )
        except NotEligible as exc:
            raise not_eligible_error(exc) from exc
        # A replay may come after payments: it, too, gives only what still pays.
        return Response(
            answered(agreement),
            status_code=HTTP_200_OK if agreement.replayed else HTTP_201_CREATED,
        )

    @get("/agreements/{agreement_id:str}", guards=[NEGOTIATORS], summary="An agreement")
    async def agreement(
        self, request: Request[Any, Any, Any], state: State, tenant: str, agreement_id: str
    ) -> AgreementAnswer:
        who = negotiator(principal_of(request), tenant)
        agreement = await portal_service(state).agreement(
            tenant, agreement_id, document=who.document
        )
        return answered(agreement)

    @get(
        "/agreements/{agreement_id:str}/invoices/{invoice_file:str}",
        guards=[NEGOTIATORS],
        summary="An invoice's PDF (boleto and PIX): .../invoices/{invoice_id}.pdf",
        description="Only while the boleto pays its installment, for every token (the "
        "negotiation service decides): a paid installment answers 409 (invoice, rule `paid`), "
        "one cancelled when its agreement ended 409 (invoice, `cancelled`), and a partly paid "
        "one 409 (invoice, `partly_paid`): its boleto carries the whole amount, pay the "
        "balance (balance_cents) by the invoice's pix_code, which asks for it. The agreement's "
        "JSON gives the pdf_url only while the boleto pays.",
        media_type="application/pdf",
    )
    async def invoice_pdf(
        self,
        request: Request[Any, Any, Any],
        state: State,
        tenant: str,
        agreement_id: str,
        invoice_file: str,
    ) -> Response[bytes]:
        who = negotiator(principal_of(request), tenant)
        invoice_id = invoice_file.removesuffix(".pdf")
        # The negotiation service refuses a boleto that no longer pays its invoice (paid,
        # cancelled, partly paid), whoever asks: its refusal passes on as it is.
        pdf = await portal_service(state).invoice_pdf(
            tenant, agreement_id, invoice_id, document=who.document
        )
        return _pdf(pdf, f"boleto-{invoice_id[:8]}.pdf")

    @get(
        "/agreements/{agreement_id:str}/term.pdf",
        guards=[NEGOTIATORS],
        summary="The term of agreement (termo de acordo), PDF",
        media_type="application/pdf",
    )
    async def term_pdf(
        self, request: Request[Any, Any, Any], state: State, tenant: str, agreement_id: str
    ) -> Response[bytes]:
        who = negotiator(principal_of(request), tenant)
        pdf = await portal_service(state).term_pdf(tenant, agreement_id, document=who.document)
        return _pdf(pdf, f"termo-de-acordo-{agreement_id[:8]}.pdf")


def answered(agreement: AgreementOut) -> AgreementAnswer:
    """The agreement as the API answers it, to every token: each invoice with only the means
    that still pay it (a partly paid one's PIX asking for its balance, txid kept; no boleto
    for a paid, cancelled or partly paid one, no PIX for a paid or cancelled one), as the
    portal's pages and lookup show it."""
    url = f"/api/v1/portal/{agreement.tenant}/agreements/{agreement.agreement_id}"
    means = ("digitable_line", "barcode", "pix_code")
    invoices = [
        AgreementInvoice(
            **i.model_dump(exclude=set(means)),
            **InvoicePayment.of(i).means(
                digitable_line=i.digitable_line,
                barcode=i.barcode,
                pix_code=i.pix_code,
                pdf_url=invoice_pdf_url(url, i.invoice_id),
            ),
        )
        for i in agreement.invoices
    ]
    return AgreementAnswer(**agreement.model_dump(exclude={"invoices"}), invoices=invoices)


def _pdf(content: bytes, filename: str) -> Response[bytes]:
    return Response(
        content,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{filename}"'},
    )


class PaymentsController(Controller):
    path = "/api/v1/payments"
    tags = ["payments"]  # noqa: RUF012 (Litestar declares it a list)

    @post(
        "/",
        status_code=HTTP_200_OK,
        guards=[requires("integration", "admin")],
        summary="Report a payment of an invoice (by invoice id or nosso número)",
        description="A payment that matches nothing, or pays less or more than the invoice, "
        "is kept and reported in the answer; the same payment reported twice is applied once.",
    )
    async def record(
        self, request: Request[Any, Any, Any], state: State, data: PaymentReport
    ) -> PaymentOut:
        principal = principal_of(request)
        return await _client(state).ask(
            RecordPayment(tenant=principal.tenant, payment=data),
            f"{principal.tenant}|{data.invoice_id or data.nosso_numero}",
            PaymentOut,
        )

    @post(
        "/cnab240",
        status_code=HTTP_200_OK,
        guards=[requires("integration", "admin")],
        summary="Import a bank's CNAB 240 return file (segments T and U)",
        operation_class=raw_body_operation(
            "text/plain",
            "application/octet-stream",
            description="The bank's CNAB 240 return file itself (Latin-1).",
        ),
        description="Body: the file itself (text/plain or application/octet-stream), "
        "Latin-1 as banks write it.",
    )
    async def cnab240(
        self,
        request: Request[Any, Any, Any],
        state: State,
        filename: str | None = None,
        kind: Literal["retorno"] = "retorno",
    ) -> Cnab240Out:
        principal = principal_of(request)
        data = await request.body()
        if not data.strip():
            raise field_error("body", "required", "envie o arquivo de retorno CNAB 240 no corpo")
        if len(data) > MAX_CNAB_BYTES:
            raise ApiError(413, "payload_too_large", "arquivo de retorno grande demais (20 MB)")
        return await _client(state).ask(
            ImportCnab240(
                tenant=principal.tenant, content=data.decode("latin-1"), filename=filename
            ),
            principal.tenant,
            Cnab240Out,
        )
