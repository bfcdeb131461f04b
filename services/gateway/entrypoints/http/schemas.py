"""Request and response bodies of the HTTP API (pydantic v2)."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from contracts.negotiation_requests import AgreementFacts, InvoiceFacts


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UploadAccepted(Model):
    import_id: str
    status: str = "received"
    rows: int
    encoding: str
    delimiter: str
    ignored_columns: list[str]
    status_url: str


class RowErrorOut(Model):
    field: str
    rule: str
    message: str


class RejectionOut(Model):
    row_number: int | None
    row_key: str
    client_row_id: str | None
    document: str | None
    document_as_received: str | None = Field(
        default=None, description="The row's document as typed in the file, valid or not"
    )
    reason: str
    errors: list[RowErrorOut]


class EndedAgreementOut(Model):
    """An agreement a row of the import ended by lowering a debt's original amount below what
    the agreement charged (negotiation's `AgreementBroken` v3, rule `debt_amount_lowered`)."""

    row_key: str
    contract: str
    installment: str = Field(description="The debt's parcela")
    agreement_id: str
    debt_id: str
    old_amount_cents: int = Field(description="The debt's original amount before the row")
    new_amount_cents: int = Field(description="The original amount the row set")
    ended_on: dt.date = Field(description="The business date the agreement ended")


class ImportStatusOut(Model):
    import_id: str
    tenant: str
    source: str
    filename: str | None
    status: str = Field(description="received, processing or completed")
    rows_total: int | None = Field(
        description="Rows in the file (unknown for a client push that did not declare it)"
    )
    rows_read: int
    accepted: int = Field(description="created + updated + unchanged")
    created: int
    updated: int
    unchanged: int
    rejected: int
    received_at: dt.datetime
    completed_at: dt.datetime | None
    rejections: list[RejectionOut] = []
    agreements_ended: int = Field(
        default=0,
        description="Active agreements the import's rows ended by lowering a debt's amount "
        "(known after the import: negotiation ends them once it reads the rows)",
    )
    ended_agreements: list[EndedAgreementOut] = Field(
        default_factory=list,
        description="Each debt whose lowered amount ended its agreement, with its row (in "
        "the list of imports too)",
    )


class LookupRequest(Model):
    document: str = Field(
        description="CPF or CNPJ, with or without punctuation", examples=["123.456.789-09"]
    )


class PortalDebt(Model):
    debt_id: str
    creditor: str
    contract: str
    installment: str
    original_amount_cents: int
    balance_cents: int = Field(description="Still owed of the principal (after payments)")
    due_date: dt.date
    days_overdue: int


BOLETO_DESCRIPTION = (
    "The boleto's linha digitável while it pays the installment; null, as pdf_url, once it is "
    "paid, cancelled or partly paid (the boleto is registered for the whole amount: paid at a "
    "bank it would charge again what was paid)"
)
PIX_DESCRIPTION = (
    "PIX copia e cola: for the balance after a partial payment (same txid); null once the "
    "installment is paid or cancelled"
)
PDF_DESCRIPTION = (
    "The boleto's PDF while it pays the installment; null once the installment is paid, "
    "cancelled or partly paid (its PDF answers 409: invoice, paid / cancelled / partly_paid)"
)


class PortalInvoice(Model):
    invoice_id: str
    number: int
    kind: str = Field(description="down_payment or installment")
    due_date: dt.date
    amount_cents: int
    paid_cents: int
    balance_cents: int | None = Field(
        default=None,
        description="Still to pay (amount - paid); after a partial payment pix_code asks for "
        "it, while the boleto carries the whole amount (no digitable_line, barcode nor pdf_url)",
    )
    status: str = Field(
        description="open, overdue, paid, or cancelled (its agreement broken before it was paid)"
    )
    digitable_line: str | None = Field(description=BOLETO_DESCRIPTION)
    barcode: str | None = Field(description="The boleto's barcode (44 digits), null as above")
    pix_code: str | None = Field(description=PIX_DESCRIPTION)
    pdf_url: str | None = Field(description=PDF_DESCRIPTION)


class AgreementInvoice(InvoiceFacts):
    """An invoice as the API answers it: only the means that still pay it."""

    digitable_line: str | None = Field(description=BOLETO_DESCRIPTION)
    barcode: str | None = Field(description="The boleto's barcode (44 digits), null as above")
    pix_code: str | None = Field(description=PIX_DESCRIPTION)
    pix_txid: str = Field(description="The PIX charge's txid, kept for reconciliation")
    pdf_url: str | None = Field(description=PDF_DESCRIPTION)


class AgreementAnswer(AgreementFacts):
    invoices: list[AgreementInvoice]
    replayed: bool = Field(
        default=False,
        description="The same Idempotency-Key again: this is the agreement it closed the "
        "first time",
    )


class PortalAgreement(Model):
    agreement_id: str
    creditor: str
    channel: str
    closed_on: dt.date
    status: str = Field(description="active, broken or fulfilled")
    end_reason: str | None = Field(
        default=None,
        description="Why it is no longer in force: debt_withdrawn or debt_amount_lowered (the "
        "creditor ended it), not_paid (the debtor's break), fulfilled; null while active",
    )
    total_cents: int
    updated_value_cents: int
    discount_cents: int
    installments: int
    term_url: str
    invoices: list[PortalInvoice]


class LookupResponse(Model):
    tenant: str
    document: str
    document_kind: str
    debtor_name: str | None
    debts: list[PortalDebt] = Field(description="Open to negotiation")
    agreements: list[PortalAgreement] = Field(
        description="Agreements already made, newest first, with their invoices"
    )
    portal_token: str | None = Field(
        description="None while the tenant's second factor waits for the code"
    )
    token_expires_at: dt.datetime | None
    verification: Verification | None = Field(
        default=None,
        description="The tenant asks for a second factor first (a code sent, or the date of "
        "birth): send it to .../verify with the challenge id",
    )


class Verification(Model):
    challenge_id: str
    method: str = Field(
        default="code",
        description="code (the code sent to `destination`) or birth_date (the debtor's date "
        "of birth, a company's opening date, as the carteira has it)",
    )
    channel: str | None = Field(description="sms or email; None for birth_date")
    destination: str | None = Field(
        description="Masked: (11) *****-4321 or j***@gmail.com; None for birth_date"
    )
    expires_at: dt.datetime = Field(
        description="A code's end; for birth_date, the end of the business day (the tries "
        "come back the next day)"
    )
    attempts_left: int = Field(description="Wrong answers still allowed (for a date, today)")


class VerifyRequest(Model):
    challenge_id: str = Field(min_length=1, max_length=64)
    code: str | None = Field(
        default=None,
        pattern=r"^\s*\d{6}\s*$",
        description="The six digits received (method code)",
    )
    birth_date: str | None = Field(
        default=None,
        max_length=32,
        description="The date of birth (method birth_date): 1980-05-17 or 17/05/1980",
        examples=["1980-05-17"],
    )


class TimelineEntry(Model):
    occurred_at: dt.datetime
    type: str
    service: str
    summary: str
    event_id: str


class TimelineResponse(Model):
    tenant: str
    document: str
    entries: list[TimelineEntry]


class ErrorDetailOut(BaseModel):
    field: str = Field(description="The field (or parameter) at fault")
    rule: str = Field(description="The rule it broke, for programs: check_digit, max_length...")
    message: str = Field(description="What is wrong, in pt-BR")
    message_en: str = Field(description="What is wrong, in English")


class ErrorOut(BaseModel):
    status: int
    code: str = Field(description="For programs: validation_failed, not_found, forbidden...")
    message: str = Field(description="For people, in pt-BR")
    message_en: str = Field(description="For people, in English")
    details: list[ErrorDetailOut]
    request_id: str | None = Field(description="The request's X-Request-ID")


class ErrorResponse(BaseModel):
    """The API's one error shape."""

    error: ErrorOut
