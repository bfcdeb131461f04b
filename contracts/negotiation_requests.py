"""What the gateway (and the chatbot, operators' tools) ask the negotiation service over
request/reply (`negotiation.requests`), and what it answers. A refusal is an `ErrorReply`,
the same shape as the HTTP API's errors, so the gateway passes it on unchanged."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, model_validator

from contracts.envelope import Cents
from contracts.negotiation import (
    AgreementDebt,
    Channel,
    PaymentConditionTerms,
    PaymentOutcome,
    Percent,
)

REQUESTS_TOPIC = "negotiation.requests"
# Replies to the gateway's requests (one partition is enough; each instance reads them all).
GATEWAY_REPLIES_TOPIC = "gateway.replies"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# ---- settings of a tenant ------------------------------------------------------------------


class CreditorCharges(_Model):
    """How a debt's value is updated (per creditor; these are the defaults)."""

    penalty_pct: Percent = Field(default=Decimal(2), description="Multa, once, when overdue")
    interest_monthly_pct: Percent = Field(
        default=Decimal(1), description="Juros simples pro rata die"
    )
    correction_monthly_pct: Percent = Field(default=Decimal(0), description="Correção monetária")


class BoletoSettings(_Model):
    """The bank account boletos are issued through. Digits only, without check digits; which
    fields a bank needs, and how long they are, is checked when the settings are saved (a bank
    without a known boleto layout is refused)."""

    bank_code: str = Field(
        default="237",
        pattern=r"^\d{3}$",
        description="001 Banco do Brasil, 033 Santander, 104 Caixa, 237 Bradesco, 341 Itaú, "
        "748 Sicredi, 756 Sicoob",
    )
    bank_name: str = Field(default="Banco Bradesco S.A.", max_length=100)
    agency: str = Field(default="1234", pattern=r"^\d{1,4}$")
    account: str = Field(default="0012345", pattern=r"^\d{1,8}$")
    wallet: str = Field(default="09", pattern=r"^\d{1,3}$", description="Carteira")
    beneficiary_code: str = Field(
        default="",
        pattern=r"^\d{0,7}$",
        description="Convênio (Banco do Brasil, 6 or 7 digits), código do cedente (Santander), "
        "código do beneficiário (Caixa, 6 digits; Sicredi, 5), código do cliente (Sicoob); "
        "without DV",
    )
    service_point: str = Field(
        default="",
        pattern=r"^\d{0,2}$",
        description="Posto of the Sicredi cooperative the account belongs to (2 digits); "
        "Sicredi only",
    )
    beneficiary_name: str = Field(default="Assessoria de Cobrança", max_length=100)
    beneficiary_document: str = Field(default="", max_length=18)
    instructions: str = Field(
        default="Não receber após 30 dias do vencimento. Pagamento referente a acordo.",
        max_length=300,
    )


class PixSettings(_Model):
    key: str = Field(default="cobranca@example.com.br", min_length=1, max_length=77)
    merchant_name: str = Field(default="ASSESSORIA DE COBRANCA", min_length=1, max_length=25)
    merchant_city: str = Field(default="SAO PAULO", min_length=1, max_length=15)


class NegotiationSettings(_Model):
    """Per tenant: how boletos and PIX codes are made, when an agreement breaks, and how
    each creditor's debts are updated."""

    boleto: BoletoSettings = Field(default_factory=BoletoSettings)
    pix: PixSettings = Field(default_factory=PixSettings)
    break_first_installment_days: StrictInt = Field(
        default=5, ge=1, le=365, description="First invoice unpaid this many days: broken"
    )
    break_later_installment_days: StrictInt = Field(
        default=30, ge=1, le=365, description="Any later invoice unpaid this many days: broken"
    )
    charges: CreditorCharges = Field(default_factory=CreditorCharges)
    creditor_charges: dict[str, CreditorCharges] = Field(default_factory=dict)


# ---- requests ------------------------------------------------------------------------------


class SaveCondition(_Model):
    kind: Literal["save_condition"] = "save_condition"
    tenant: str
    condition_id: str | None = Field(default=None, description="None creates a new condition")
    terms: PaymentConditionTerms
    saved_by: str
    existing_only: bool = Field(
        default=False,
        description="A change (PUT to its id): refused, 404, when there is none with this id",
    )


class ListConditions(_Model):
    kind: Literal["list_conditions"] = "list_conditions"
    tenant: str


class SaveSettings(_Model):
    kind: Literal["save_settings"] = "save_settings"
    tenant: str
    settings: NegotiationSettings
    saved_by: str


class GetSettings(_Model):
    kind: Literal["get_settings"] = "get_settings"
    tenant: str


class GetOffers(_Model):
    kind: Literal["offers"] = "offers"
    tenant: str
    document: str | None = Field(default=None, description="The portal's debtor, when it asks")
    debt_ids: list[str] = Field(min_length=1, max_length=200)
    channel: Channel


class CloseAgreement(_Model):
    kind: Literal["close_agreement"] = "close_agreement"
    tenant: str
    document: str | None = Field(default=None, description="The portal's debtor, when it asks")
    debt_ids: list[str] = Field(min_length=1, max_length=200)
    installments: StrictInt = Field(ge=1, le=120)
    channel: Channel
    operator: str | None = None
    idempotency_key: str = Field(min_length=1, max_length=200)


class GetAgreement(_Model):
    kind: Literal["get_agreement"] = "get_agreement"
    tenant: str
    agreement_id: str
    document: str | None = None


class ListAgreements(_Model):
    kind: Literal["list_agreements"] = "list_agreements"
    tenant: str
    document: str


class GetStatement(_Model):
    kind: Literal["statement"] = "statement"
    tenant: str
    document: str
    pdf: bool = Field(default=False, description="True: the answer is the statement's PDF")


class PaymentReport(_Model):
    invoice_id: str | None = None
    nosso_numero: str | None = Field(default=None, pattern=r"^\d{1,20}$")
    amount_cents: Cents = Field(gt=0)
    paid_on: dt.date
    reference: str | None = Field(
        default=None,
        max_length=100,
        description="The payment's own id; the same id is "
        "applied once. Without it: invoice, amount and date identify it.",
    )

    @model_validator(mode="after")
    def _names_an_invoice(self) -> PaymentReport:
        if not self.invoice_id and not self.nosso_numero:
            raise ValueError("invoice_id: informe invoice_id ou nosso_numero")
        return self


class RecordPayment(_Model):
    kind: Literal["record_payment"] = "record_payment"
    tenant: str
    payment: PaymentReport


class ImportCnab240(_Model):
    kind: Literal["import_cnab240"] = "import_cnab240"
    tenant: str
    content: str = Field(description="The return file, decoded as Latin-1")
    filename: str | None = None


class GetDocument(_Model):
    """A PDF: the invoice (`invoice_id` given) or the term of agreement."""

    kind: Literal["document"] = "document"
    tenant: str
    agreement_id: str
    invoice_id: str | None = None
    document: str | None = None


NegotiationRequest = Annotated[
    SaveCondition
    | ListConditions
    | SaveSettings
    | GetSettings
    | GetOffers
    | CloseAgreement
    | GetAgreement
    | ListAgreements
    | GetStatement
    | RecordPayment
    | ImportCnab240
    | GetDocument,
    Field(discriminator="kind"),
]


class NegotiationRequestBody(_Model):
    request: NegotiationRequest


# ---- replies -------------------------------------------------------------------------------


class ConditionOut(_Model):
    condition_id: str
    version: StrictInt
    terms: PaymentConditionTerms


class ConditionList(_Model):
    conditions: list[ConditionOut]


class ScheduledInstallment(_Model):
    number: StrictInt
    kind: Literal["down_payment", "installment"]
    due_date: dt.date
    amount_cents: Cents


class Offer(_Model):
    condition_id: str
    description: str
    installments: StrictInt
    principal_cents: Cents
    charges_cents: Cents
    updated_value_cents: Cents = Field(description="The crossed-out value")
    principal_discount_cents: Cents
    charges_discount_cents: Cents
    discount_cents: Cents
    total_cents: Cents
    down_payment_cents: Cents | None = None
    schedule: list[ScheduledInstallment]


class OfferDebt(_Model):
    debt_id: str
    creditor: str
    contract: str
    installment: str
    due_date: dt.date
    days_overdue: StrictInt
    principal_cents: Cents
    penalty_cents: Cents
    interest_cents: Cents
    correction_cents: Cents
    updated_value_cents: Cents


class OffersOut(_Model):
    as_of: dt.date
    creditor: str
    debts: list[OfferDebt]
    updated_value_cents: Cents = Field(description="Crossed out in red on the portal")
    suggested_value_cents: Cents | None = Field(
        description="The total of the offer with the fewest installments (in blue)"
    )
    offers: list[Offer]


class InvoiceFacts(_Model):
    """An invoice of an agreement, but the means to pay it (its boleto and PIX)."""

    invoice_id: str
    number: StrictInt
    kind: Literal["down_payment", "installment"]
    due_date: dt.date
    amount_cents: Cents
    paid_cents: Cents
    balance_cents: Cents
    status: Literal["open", "paid", "overdue", "cancelled"]
    nosso_numero: str
    received_after_end_cents: Cents = Field(
        default=0,
        description="Paid to it after its agreement ended (a cancelled invoice): nothing applied "
        "to it, deducted from the agreement's debts or the debtor's credit",
    )


class InvoiceOut(InvoiceFacts):
    barcode: str
    digitable_line: str
    pix_code: str
    pix_txid: str


# Why an agreement is no longer in force, as every reader shows it: the creditor withdrew one of
# its debts (`debt_withdrawn`) or lowered one's amount below what the agreement charged
# (`debt_amount_lowered`), the debtor did not pay (`not_paid`: a debtor's break), or it was
# paid off (`fulfilled`). None while it is active.
AgreementEndReason = Literal["debt_withdrawn", "debt_amount_lowered", "not_paid", "fulfilled"]
# The rules of `AgreementBroken` by which the creditor, not the debtor, ended it.
_CREDITOR_ENDS: dict[str, AgreementEndReason] = {
    "debt_withdrawn": "debt_withdrawn",
    "debt_amount_lowered": "debt_amount_lowered",
}


def end_reason(status: str, rule: str | None) -> AgreementEndReason | None:
    """The end reason of an agreement of `status` (active, broken, fulfilled), broken by
    `rule` (its `AgreementBroken`'s; None when not known). A break by any other rule
    (`first_installment`, `later_installment`) is the debtor's; a broken one whose rule is not
    known has no reason said (None), never the debtor's break by default."""
    if status == "fulfilled":
        return "fulfilled"
    if status != "broken" or rule is None:
        return None
    return _CREDITOR_ENDS.get(rule, "not_paid")


class AgreementFacts(_Model):
    """An agreement, but its invoices."""

    agreement_id: str
    tenant: str
    document: str
    debtor_name: str
    creditor: str
    status: Literal["active", "broken", "fulfilled"]
    channel: Channel
    operator: str | None
    condition_id: str
    closed_on: dt.date
    debts: list[AgreementDebt]
    updated_value_cents: Cents
    discount_cents: Cents
    total_cents: Cents
    paid_cents: Cents
    credit_cents: Cents
    end_reason: AgreementEndReason | None = Field(
        default=None,
        description="Why it is no longer in force: debt_withdrawn or debt_amount_lowered (the "
        "creditor ended it), not_paid (the debtor's break), fulfilled; null while active",
    )
    owed_cents: Cents | None = Field(
        default=None,
        description="Once ended (broken): what its debts still owe, less what was paid and the "
        "payments to its cancelled invoices deducted since, at the creditor's newest amount; "
        "0 when nothing is left to pay (settled, or withdrawn by the creditor); null while "
        "active or fulfilled",
    )


class AgreementOut(AgreementFacts):
    invoices: list[InvoiceOut]
    # The same idempotency key again: this is the agreement it closed the first time.
    replayed: bool = False


class AgreementList(_Model):
    agreements: list[AgreementOut]


class StatementDebt(_Model):
    debt_id: str
    creditor: str
    contract: str
    installment: str
    due_date: dt.date
    days_overdue: StrictInt
    principal_cents: Cents
    penalty_cents: Cents
    interest_cents: Cents
    correction_cents: Cents
    updated_value_cents: Cents
    agreement_id: str | None = Field(default=None, description="In an active agreement")


class StatementOut(_Model):
    as_of: dt.date
    tenant: str
    document: str
    debtor_name: str | None
    debts: list[StatementDebt]
    total_updated_cents: Cents = Field(
        description="The updated value of the debts in collection; those of an active agreement "
        "are left out (its installments pay them)"
    )


class PaymentOut(_Model):
    payment_id: str
    reference: str
    invoice_id: str | None
    agreement_id: str | None
    installment_number: StrictInt | None
    amount_cents: Cents
    paid_on: dt.date
    outcome: PaymentOutcome
    applied_cents: Cents
    balance_cents: Cents
    credit_cents: Cents
    reason: str | None
    duplicate: bool = Field(description="Reported before: applied only the first time")


class Cnab240Out(_Model):
    filename: str | None
    bank_code: str
    records: StrictInt
    payments: list[PaymentOut]
    skipped: list[str] = Field(
        default_factory=list, description="Segments that are not liquidations, with why"
    )
