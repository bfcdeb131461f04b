"""HTTP controllers of the gateway's API."""

from __future__ import annotations

import datetime as dt
from typing import Any

from anyio import to_thread
from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.status_codes import HTTP_200_OK, HTTP_202_ACCEPTED

from contracts.documents import InvalidDocument, document_kind, validate_document
from services.gateway.adapters.tokens import STAFF_ROLES
from services.gateway.application.portal import (
    BirthDateUnavailable,
    CodeRefused,
    CodeUnavailable,
    InvoicePayment,
    PendingLookup,
    PortalLookup,
)
from services.gateway.application.uploads import GatewayApplication
from services.gateway.domain.carteira_csv import NotACarteiraCsv
from services.gateway.domain.portal_challenge import BIRTH_DATE, InvalidBirthDate
from services.gateway.entrypoints.http.auth import principal_of, requires
from services.gateway.entrypoints.http.errors import ApiError, field_error, not_found
from services.gateway.entrypoints.http.portal_deps import has_portal, portal_service
from services.gateway.entrypoints.http.raw_bodies import raw_body_operation
from services.gateway.entrypoints.http.schemas import (
    EndedAgreementOut,
    ImportStatusOut,
    LookupRequest,
    LookupResponse,
    PortalAgreement,
    PortalDebt,
    PortalInvoice,
    RejectionOut,
    RowErrorOut,
    TimelineEntry,
    TimelineResponse,
    UploadAccepted,
    Verification,
    VerifyRequest,
)
from services.gateway.read_models import imports, timeline

CSV_TYPES = ("text/csv", "application/csv", "text/plain", "application/vnd.ms-excel")


def document_param(raw: str, field: str = "document") -> str:
    """A CPF/CNPJ of a path or query parameter, normalized; 422 naming the field and the rule."""
    try:
        return validate_document(raw)
    except InvalidDocument as exc:
        raise field_error(field, getattr(exc, "rule", "invalid_document"), exc.reason) from exc


class CarteiraController(Controller):
    path = "/api/v1/carteiras"
    tags = ["carteiras"]  # noqa: RUF012 (Litestar declares it a list)

    @post(
        "/",
        status_code=HTTP_202_ACCEPTED,
        guards=[requires("admin", "operator", "integration")],
        summary="Import a carteira (CSV body)",
        operation_class=raw_body_operation(
            "text/csv", description="The carteira CSV file itself (UTF-8 or Windows-1252)."
        ),
        description=(
            "Body: the CSV file itself (`Content-Type: text/csv`), `;` or `,` separated, UTF-8 or "
            "Windows-1252. Answers 202 with the import id; rows are validated by the portfolio "
            "service and the outcome is at `GET /api/v1/carteiras/{import_id}`."
        ),
    )
    async def upload(
        self, request: Request[Any, Any, Any], state: State, filename: str | None = None
    ) -> UploadAccepted:
        principal = principal_of(request)
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type and content_type not in CSV_TYPES:
            raise ApiError(
                415,
                "unsupported_media_type",
                f"envie o arquivo CSV com Content-Type text/csv (recebido: {content_type})",
            )
        data = await request.body()
        app: GatewayApplication = state.gateway_app
        try:
            receipt = await to_thread.run_sync(
                lambda: app.receive_carteira(
                    tenant=principal.tenant,
                    data=data,
                    filename=filename,
                    requested_by=principal.subject,
                )
            )
        except NotACarteiraCsv as exc:
            raise ApiError(
                422,
                "not_a_carteira_csv",
                exc.message,
                [{"field": "body", "rule": exc.rule, "message": exc.message}],
            ) from exc
        await to_thread.run_sync(
            lambda: imports.record_received(
                state.read_engine,
                tenant=principal.tenant,
                import_id=receipt.import_id,
                filename=filename,
                rows_total=receipt.rows_total,
                requested_by=principal.subject,
                at=dt.datetime.now(dt.UTC),
            )
        )
        state.gateway_relay.wake()
        return UploadAccepted(
            import_id=receipt.import_id,
            rows=receipt.rows_total,
            encoding=receipt.encoding,
            delimiter=receipt.delimiter,
            ignored_columns=receipt.ignored_columns,
            status_url=f"/api/v1/carteiras/{receipt.import_id}",
        )

    @get("/", guards=[requires(*STAFF_ROLES)], summary="Recent imports of the tenant")
    async def list_imports(
        self, request: Request[Any, Any, Any], state: State
    ) -> list[ImportStatusOut]:
        principal = principal_of(request)
        rows = await to_thread.run_sync(
            lambda: imports.list_imports(state.read_engine, principal.tenant)
        )
        return [_status_out(r | {"rejections": []}) for r in rows]

    @get("/{import_id:str}", guards=[requires(*STAFF_ROLES)], summary="Status of an import")
    async def status(
        self, request: Request[Any, Any, Any], state: State, import_id: str
    ) -> ImportStatusOut:
        principal = principal_of(request)
        row = await to_thread.run_sync(
            lambda: imports.import_status(state.read_engine, principal.tenant, import_id)
        )
        if row is None:
            raise not_found("import_id", f"importação {import_id} não encontrada nesta assessoria")
        return _status_out(row)


def _status_out(row: dict[str, Any]) -> ImportStatusOut:
    return ImportStatusOut(
        import_id=row["import_id"],
        tenant=row["tenant"],
        source=row["source"],
        filename=row["filename"],
        status=row["status"],
        rows_total=row["rows_total"],
        rows_read=row["rows_read"] or 0,
        accepted=(row["created"] or 0) + (row["updated"] or 0) + (row["unchanged"] or 0),
        created=row["created"] or 0,
        updated=row["updated"] or 0,
        unchanged=row["unchanged"] or 0,
        rejected=row["rejected"] or 0,
        received_at=row["received_at"],
        completed_at=row["completed_at"],
        rejections=[
            RejectionOut(
                row_number=r["row_number"],
                row_key=r["row_key"],
                client_row_id=r["client_row_id"],
                document=r["document"],
                document_as_received=r["document_as_received"],
                reason=r["reason"],
                errors=[RowErrorOut(**e) for e in r["errors"]],
            )
            for r in row["rejections"]
        ],
        agreements_ended=row.get("agreements_ended", 0),
        ended_agreements=[
            EndedAgreementOut(
                row_key=e["row_key"],
                contract=e["contract"],
                installment=e["installment"],
                agreement_id=e["agreement_id"],
                debt_id=e["debt_id"],
                old_amount_cents=e["old_amount_cents"],
                new_amount_cents=e["new_amount_cents"],
                ended_on=e["ended_on"],
            )
            for e in row.get("ended_agreements", [])
        ],
    )


class PortalController(Controller):
    path = "/api/v1/portal/{tenant:str}"
    tags = ["portal"]  # noqa: RUF012 (Litestar declares it a list)
    # A tenant without a portal: 404 naming the tenant, no token (as its page /p/{tenant}).
    guards = [has_portal]  # noqa: RUF012 (Litestar declares it a list)

    @post("/lookup", status_code=HTTP_200_OK, summary="Look up a debtor's open debts by CPF/CNPJ")
    async def lookup(self, tenant: str, data: LookupRequest, state: State) -> LookupResponse:
        """The debts the tenant's portal list lets through (all open debts without a list).
        When the tenant asks for a second factor, the answer has only the masked name and
        `verification`: a code went to the debtor's phone or e-mail (`method` code), or the
        date of birth is asked (`method` birth_date); send it to
        `POST /api/v1/portal/{tenant}/verify`. A document locked for the day (5 wrong dates)
        is refused here (422, rule `exhausted`)."""
        try:
            found = await portal_service(state).lookup(tenant, data.document)
        except InvalidDocument as exc:
            raise field_error("document", exc.rule, exc.reason) from exc
        except CodeUnavailable as exc:
            raise field_error("document", "no_contact", str(exc)) from exc
        except BirthDateUnavailable as exc:
            raise _date_error(
                "document",
                "no_birth_date",
                str(exc),
                "No date of birth (or opening date) on file for this document; contact the agency",
            ) from exc
        except CodeRefused as exc:
            raise _date_error("document", exc.rule, exc.message, DATE_RULES_EN[exc.rule]) from exc
        if isinstance(found, PendingLookup):
            return LookupResponse(
                tenant=tenant,
                document=found.document,
                document_kind=document_kind(found.document) or "cpf",
                debtor_name=found.masked_name,
                debts=[],
                agreements=[],
                portal_token=None,
                token_expires_at=None,
                verification=Verification(
                    challenge_id=found.challenge_id,
                    method=found.method,
                    channel=found.channel,
                    destination=found.destination,
                    expires_at=found.expires_at,
                    attempts_left=found.attempts_left,
                ),
            )
        return _lookup_response(tenant, found)

    @post(
        "/verify",
        status_code=HTTP_200_OK,
        summary="The second factor: the code the debtor received, or the date of birth, "
        "opens the lookup",
    )
    async def verify(self, tenant: str, data: VerifyRequest, state: State) -> LookupResponse:
        """`code` for a challenge of method code; `birth_date` (1980-05-17 or 17/05/1980) for
        one of method birth_date: a wrong date says how many tries are left today (422, rule
        `mismatch`), the fifth locks the document until the next business day (`exhausted`),
        the wrong dates typed in the chat counting with the portal's; what is no date is
        refused without using a try (`format`, `not_in_future`, `too_old`)."""
        service = portal_service(state)
        if await service.challenge_method(tenant, data.challenge_id) == BIRTH_DATE:
            try:
                found = await service.verify_birth_date(
                    tenant, data.challenge_id, data.birth_date or ""
                )
            except InvalidBirthDate as exc:
                raise _date_error(
                    "birth_date", exc.rule, exc.message, DATE_RULES_EN[exc.rule]
                ) from exc
            except BirthDateUnavailable as exc:
                raise _date_error(
                    "birth_date",
                    "no_birth_date",
                    str(exc),
                    "No date of birth (or opening date) on file for this document; "
                    "contact the agency",
                ) from exc
            except CodeRefused as exc:
                raise _date_error(
                    "birth_date", exc.rule, exc.message, DATE_RULES_EN[exc.rule]
                ) from exc
            return _lookup_response(tenant, found)
        if data.code is None:
            raise field_error("code", "required", "informe o código de 6 dígitos recebido")
        try:
            found = await service.verify(tenant, data.challenge_id, data.code)
        except CodeRefused as exc:
            raise field_error("code", exc.rule, exc.message) from exc
        return _lookup_response(tenant, found)


# The English of the date's refusals (the code's are the error messages' own rules).
DATE_RULES_EN = {
    "required": "The date of birth is required (dd/mm/yyyy or yyyy-mm-dd)",
    "format": "Not a date: use dd/mm/yyyy or yyyy-mm-dd",
    "not_in_future": "The date is in the future",
    "too_old": "The date is before 1900",
    "mismatch": "The date does not match; see the message for the tries left today",
    "exhausted": "Too many tries; try again tomorrow or contact the agency",
    "expired": "This check was for another day; look the document up again",
    "not_found": "Check not found; look the document up again",
    # Not a date's: the lookup's own refusal when the day's access codes are used up.
    "too_many_codes": "Too many access codes sent today for this document; try tomorrow or "
    "contact the agency",
}


def _date_error(field: str, rule: str, message: str, message_en: str) -> ApiError:
    """422 in the API's one error shape, with the English said for a date, not a code."""
    return ApiError(
        422,
        "validation_failed",
        message,
        [{"field": field, "rule": rule, "message": message, "message_en": message_en}],
    )


def _lookup_response(tenant: str, found: PortalLookup) -> LookupResponse:
    view = found.view
    return LookupResponse(
        tenant=tenant,
        document=view.document,
        document_kind=view.document_kind,
        debtor_name=view.debtor_name,
        debts=[
            PortalDebt(
                debt_id=d.debt_id,
                creditor=d.creditor,
                contract=d.contract,
                installment=d.installment,
                original_amount_cents=d.original_amount_cents,
                balance_cents=d.balance_cents,
                due_date=d.due_date,
                days_overdue=d.days_overdue,
            )
            for d in view.debts
        ],
        agreements=[_portal_agreement(tenant, a) for a in view.agreements],
        portal_token=found.token,
        token_expires_at=found.token_expires_at,
    )


def _portal_agreement(tenant: str, row: dict[str, Any]) -> PortalAgreement:
    base = f"/api/v1/portal/{tenant}/agreements/{row['agreement_id']}"
    return PortalAgreement(
        agreement_id=row["agreement_id"],
        creditor=row["creditor"],
        channel=row["channel"],
        closed_on=row["closed_on"],
        status=row["status"],
        end_reason=row.get("end_reason"),
        total_cents=row["total_cents"],
        updated_value_cents=row["updated_value_cents"],
        discount_cents=row["discount_cents"],
        installments=row["installments"],
        term_url=f"{base}/term.pdf",
        invoices=[_portal_invoice(base, i) for i in row["invoices"]],
    )


def _portal_invoice(base: str, row: dict[str, Any]) -> PortalInvoice:
    """As the portal's page shows it: a partly paid invoice's PIX asks for the balance; only
    an invoice its boleto still pays has the boleto (its line, barcode and PDF: the
    negotiation service refuses a paid, cancelled or partly paid one's PDF)."""
    paying = InvoicePayment.of_row(row)
    return PortalInvoice(
        invoice_id=row["invoice_id"],
        number=row["number"],
        kind=row["kind"],
        due_date=row["due_date"],
        amount_cents=row["amount_cents"],
        paid_cents=row["paid_cents"],
        balance_cents=paying.balance_cents,
        status=row["status"],
        **paying.means(
            digitable_line=row["digitable_line"],
            barcode=row["barcode"],
            pix_code=row["pix_code"],
            pdf_url=invoice_pdf_url(base, row["invoice_id"]),
        ),
    )


def invoice_pdf_url(agreement_url: str, invoice_id: str) -> str:
    return f"{agreement_url}/invoices/{invoice_id}.pdf"


class DebtorController(Controller):
    path = "/api/v1/debtors"
    tags = ["debtors"]  # noqa: RUF012 (Litestar declares it a list)

    @get(
        "/{document:str}/timeline",
        guards=[requires("admin", "operator", "analyst")],
        summary="Everything that happened to a debtor, oldest first",
    )
    async def timeline(
        self, request: Request[Any, Any, Any], state: State, document: str
    ) -> TimelineResponse:
        principal = principal_of(request)
        normalized = document_param(document)
        rows = await to_thread.run_sync(
            lambda: timeline.debtor_timeline(state.read_engine, principal.tenant, normalized)
        )
        return TimelineResponse(
            tenant=principal.tenant,
            document=normalized,
            entries=[
                TimelineEntry(
                    occurred_at=r["occurred_at"],
                    type=r["type"],
                    service=r["service"],
                    summary=r["summary"],
                    event_id=r["event_id"],
                )
                for r in rows
            ],
        )
