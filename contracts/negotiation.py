"""Streams of the negotiation service: `negotiation.conditions` (payment conditions and the
tenant's negotiation settings), `negotiation.agreements`, `negotiation.invoices` and
`negotiation.payments`.

Percentages are decimals with up to two places (12.5 means 12.5%); money is integer centavos.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StrictBool,
    StrictInt,
    model_validator,
)

from contracts.envelope import Cents, Envelope
from contracts.personal import SealedPersonalData

CONDITIONS_TOPIC = "negotiation.conditions"
AGREEMENTS_TOPIC = "negotiation.agreements"
INVOICES_TOPIC = "negotiation.invoices"
PAYMENTS_TOPIC = "negotiation.payments"

Channel = Literal["portal", "chatbot", "operator"]
CHANNELS: tuple[Channel, ...] = ("portal", "chatbot", "operator")
Periodicity = Literal["monthly", "every_n_days"]

Percent = Annotated[
    Decimal,
    Field(ge=0, le=100, max_digits=5, decimal_places=2),
    # Numbers in JSON, not strings: 12.5, not "12.5".
    PlainSerializer(float, return_type=float, when_used="json"),
]


class PaymentConditionTerms(BaseModel):
    """A payment condition as an admin defines it (EliteSoft's condição de pagamento and the
    Recuperador portal's descontos do portal in one model)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    installments: StrictInt = Field(ge=1, le=120, description="Number of invoices (n)")
    creditor: str = Field(
        default="",
        max_length=200,
        description="Empty: all creditors. A creditor's own condition for the same n wins.",
    )
    description: str = Field(default="", max_length=200)
    principal_discount_pct: Percent = Decimal(0)
    charges_discount_pct: Percent = Field(
        default=Decimal(0), description="Discount on penalty, interest and correction"
    )
    min_down_payment_pct: Percent = Field(
        default=Decimal(0),
        description="When above 0 and n > 1, the first invoice is a down payment (entrada) of "
        "at least this share of the total",
    )
    min_installment_cents: Cents = Field(default=0, ge=0)
    days_to_first_due: StrictInt = Field(
        default=0, ge=0, le=365, description="0 = the agreement day"
    )
    periodicity: Periodicity = "monthly"
    every_n_days: StrictInt | None = Field(
        default=None, ge=1, le=365, description="Days between invoices, for every_n_days"
    )
    amount_min_cents: Cents | None = Field(default=None, ge=0)
    amount_max_cents: Cents | None = Field(default=None, ge=0)
    days_overdue_min: StrictInt | None = Field(default=None, ge=0)
    days_overdue_max: StrictInt | None = Field(default=None, ge=0)
    channels: list[Channel] = Field(default_factory=lambda: list(CHANNELS), min_length=1)
    active: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> PaymentConditionTerms:
        if self.periodicity == "every_n_days" and self.every_n_days is None:
            raise ValueError("every_n_days: obrigatório quando periodicity é every_n_days")
        if self.periodicity == "monthly" and self.every_n_days is not None:
            raise ValueError("every_n_days: só vale para periodicity every_n_days")
        for low, high in (
            ("amount_min_cents", "amount_max_cents"),
            ("days_overdue_min", "days_overdue_max"),
        ):
            lo, hi = getattr(self, low), getattr(self, high)
            if lo is not None and hi is not None and lo > hi:
                raise ValueError(f"{low}: não pode ser maior que {high}")
        return self


class PaymentConditionSaved(Envelope):
    """A condition was created or changed (the whole condition, as it is now). Agreements
    keep the terms they were closed with."""

    type: Literal["PaymentConditionSaved"] = "PaymentConditionSaved"
    schema_version: Literal[1] = 1
    condition_id: str
    terms: PaymentConditionTerms
    saved_by: str


class BoletoAccount(BaseModel):
    """Where the tenant's boletos are paid and what they say, as saved (the bank account is
    printed on every boleto: nothing here is secret)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    bank_code: str = Field(max_length=10, description="The bank's COMPE code (237)")
    bank_name: str = Field(max_length=100)
    agency: str = Field(max_length=10)
    account: str = Field(max_length=20)
    wallet: str = Field(max_length=5, description="Carteira")
    beneficiary_code: str = Field(
        default="",
        max_length=20,
        description="The bank's code of the agency as beneficiary (convênio, código do "
        "cedente or do beneficiário), when its bank has one",
    )
    beneficiary_name: str = Field(max_length=100)
    beneficiary_document: str = Field(max_length=18, description="The agency's CNPJ/CPF")
    instructions: str = Field(max_length=300)


class PixReceiver(BaseModel):
    """Who receives the PIX payments (the key is in every PIX code: not secret)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str = Field(max_length=77, description="The PIX key (chave PIX)")
    merchant_name: str = Field(max_length=25)
    merchant_city: str = Field(max_length=15)


class ChargeRates(BaseModel):
    """How a debt's value is updated: multa once when overdue, juros and correção monthly."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    penalty_pct: Percent
    interest_monthly_pct: Percent
    correction_monthly_pct: Percent


class NegotiationSettingsSaved(Envelope):
    """The tenant's negotiation settings were saved (all of them, as they are now): how boletos
    and PIX codes are made, when an agreement breaks and how each creditor's debts are
    updated. Keyed by the tenant's negotiation record (`aggregate_id`)."""

    type: Literal["NegotiationSettingsSaved"] = "NegotiationSettingsSaved"
    schema_version: Literal[1] = 1
    boleto: BoletoAccount
    pix: PixReceiver
    break_first_installment_days: StrictInt = Field(
        ge=1, description="First invoice unpaid this many days: broken"
    )
    break_later_installment_days: StrictInt = Field(
        ge=1, description="Any later invoice unpaid this many days: broken"
    )
    charges: ChargeRates = Field(description="The defaults")
    creditor_charges: dict[str, ChargeRates] = Field(
        default_factory=dict, description="A creditor's own rates, by creditor name"
    )
    saved_by: str


class AgreementDebt(BaseModel):
    """One debt of an agreement, with its updated value on the agreement day."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    debt_id: str
    contract: str
    installment: str
    due_date: dt.date
    principal_cents: Cents = Field(gt=0)
    penalty_cents: Cents = Field(ge=0)
    interest_cents: Cents = Field(ge=0)
    correction_cents: Cents = Field(ge=0)
    updated_value_cents: Cents = Field(gt=0)
    days_overdue: StrictInt = Field(ge=0)


class AgreementInstallment(BaseModel):
    """One invoice of an agreement, with how to pay it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    number: StrictInt = Field(ge=1, description="1 is the first invoice (the down payment, if any)")
    kind: Literal["down_payment", "installment"] = "installment"
    due_date: dt.date
    amount_cents: Cents = Field(gt=0)
    invoice_id: str
    nosso_numero: str
    barcode: str = Field(pattern=r"^\d{44}$")
    digitable_line: str = Field(pattern=r"^\d{47}$")
    pix_txid: str
    pix_code: str


class AgreementClosed(Envelope):
    """A debtor committed to pay one or more debts of one creditor in installments."""

    type: Literal["AgreementClosed"] = "AgreementClosed"
    schema_version: Literal[1] = 1
    agreement_id: str
    document: str
    debtor_name: str
    creditor: str
    debt_ids: list[str] = Field(min_length=1)
    debts: list[AgreementDebt] = Field(min_length=1)
    channel: Channel
    operator: str | None = None
    condition_id: str
    condition: PaymentConditionTerms
    closed_on: dt.date
    principal_cents: Cents = Field(gt=0)
    charges_cents: Cents = Field(ge=0, description="Penalty + interest + correction")
    updated_value_cents: Cents = Field(gt=0)
    principal_discount_cents: Cents = Field(ge=0)
    charges_discount_cents: Cents = Field(ge=0)
    discount_cents: Cents = Field(ge=0)
    total_cents: Cents = Field(gt=0)
    installments: list[AgreementInstallment] = Field(min_length=1)


class AgreementClosedV2(Envelope):
    """A debtor committed to pay one or more debts of one creditor in installments (version 2:
    the debtor's name is sealed in `personal` as `{"debtor_name": ...}`; see
    contracts.personal)."""

    type: Literal["AgreementClosed"] = "AgreementClosed"
    schema_version: Literal[2] = 2
    agreement_id: str
    document: str
    personal: SealedPersonalData
    creditor: str
    debt_ids: list[str] = Field(min_length=1)
    debts: list[AgreementDebt] = Field(min_length=1)
    channel: Channel
    operator: str | None = None
    condition_id: str
    condition: PaymentConditionTerms
    closed_on: dt.date
    principal_cents: Cents = Field(gt=0)
    charges_cents: Cents = Field(ge=0, description="Penalty + interest + correction")
    updated_value_cents: Cents = Field(gt=0)
    principal_discount_cents: Cents = Field(ge=0)
    charges_discount_cents: Cents = Field(ge=0)
    discount_cents: Cents = Field(ge=0)
    total_cents: Cents = Field(gt=0)
    installments: list[AgreementInstallment] = Field(min_length=1)


class InstallmentPaid(Envelope):
    """An invoice of an agreement is fully paid."""

    type: Literal["InstallmentPaid"] = "InstallmentPaid"
    schema_version: Literal[1] = 1
    agreement_id: str
    invoice_id: str
    document: str
    creditor: str
    installment_number: StrictInt = Field(ge=1)
    due_date: dt.date
    amount_cents: Cents = Field(gt=0)
    paid_cents: Cents = Field(gt=0, description="Everything paid on this invoice")
    paid_on: dt.date
    days_late: StrictInt = Field(ge=0)
    payment_ids: list[str] = Field(min_length=1)


class InvoiceOverdue(Envelope):
    """An agreement installment is past its due date unpaid, on a business day."""

    type: Literal["InvoiceOverdue"] = "InvoiceOverdue"
    schema_version: Literal[1] = 1
    invoice_id: str
    agreement_id: str
    document: str
    creditor: str
    installment_number: StrictInt = Field(ge=1)
    due_date: dt.date
    amount_cents: Cents = Field(gt=0)
    balance_cents: Cents = Field(gt=0, description="What is still unpaid on the invoice")
    days_overdue: StrictInt = Field(ge=1)
    as_of: dt.date


# Where an invoice sits in its agreement's plan (versions 2 of InstallmentPaid and
# InvoiceOverdue): a reader names it as the debtor's boleto does ("Entrada", "Parcela 1 de 3")
# without the agreement's closing, which comes on another topic.
_KIND = "down_payment: the entrada (always the first invoice), or installment"
_INSTALLMENTS = "The agreement's invoices, the entrada counted"
_WITH_DOWN_PAYMENT = "Whether the agreement opens with an entrada"


class InstallmentPaidV2(InstallmentPaid):
    """An invoice of an agreement is fully paid (version 2: with its place in the plan)."""

    schema_version: Literal[2] = 2  # type: ignore[assignment]
    installment_kind: Literal["down_payment", "installment"] = Field(description=_KIND)
    installments: StrictInt = Field(ge=1, description=_INSTALLMENTS)
    with_down_payment: StrictBool = Field(description=_WITH_DOWN_PAYMENT)


class InvoiceOverdueV2(InvoiceOverdue):
    """An agreement installment is past its due date unpaid (version 2: with its place in the
    plan)."""

    schema_version: Literal[2] = 2  # type: ignore[assignment]
    installment_kind: Literal["down_payment", "installment"] = Field(description=_KIND)
    installments: StrictInt = Field(ge=1, description=_INSTALLMENTS)
    with_down_payment: StrictBool = Field(description=_WITH_DOWN_PAYMENT)


class BrokenAgreementDebt(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    debt_id: str
    paid_cents: Cents = Field(ge=0, description="Share of the payments credited to this debt")
    balance_cents: Cents = Field(ge=0, description="Principal still owed on this debt")


class AgreementBroken(Envelope):
    """An agreement was broken (quebra de acordo): its debts return to collection with what
    was paid deducted."""

    type: Literal["AgreementBroken"] = "AgreementBroken"
    schema_version: Literal[1] = 1
    agreement_id: str
    document: str
    creditor: str
    broken_on: dt.date
    rule: Literal["first_installment", "later_installment"]
    installment_number: StrictInt = Field(ge=1)
    days_overdue: StrictInt = Field(ge=1)
    paid_cents: Cents = Field(ge=0)
    debts: list[BrokenAgreementDebt] = Field(min_length=1)


class AgreementBrokenV2(AgreementBroken):
    """An agreement ended because the creditor withdrew one of its debts (version 2: one more
    rule, `debt_withdrawn`; the withdrawn debts named, and their share of what was paid kept as
    the debtor's credit). The creditor's cancellation (cancelamento) or devolução wins over
    the agreement: it ends as a break does, its unpaid invoices cancelled; what was paid is
    shared by principal (`debts`), the other debts going back to collection owing less; the
    withdrawn debts do not come back, their share is `credit_cents`. `installment_number` is
    the first unpaid installment (cancelled with it), `days_overdue` how late it was that day
    (0: not due yet). The negotiation service publishes this version only for that rule,
    version 1 for an agreement broken by an overdue installment. Read as an AgreementBroken:
    what reads version 1 reads this one (a consumer counting debtors' breaks checks `rule`)."""

    schema_version: Literal[2] = 2  # type: ignore[assignment]
    rule: Literal[  # type: ignore[assignment]
        "first_installment", "later_installment", "debt_withdrawn"
    ]
    days_overdue: StrictInt = Field(ge=0)
    withdrawn_debt_ids: list[str] = Field(
        min_length=1, description="The agreement's debts the creditor withdrew (DebtWithdrawn)"
    )
    credit_cents: Cents = Field(
        ge=0,
        description="The withdrawn debts' share of what was paid: the debtor's credit",
    )


class LoweredDebt(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    debt_id: str
    contract: str
    installment: str
    old_amount_cents: Cents = Field(
        gt=0, description="The debt's original amount before the creditor's update"
    )
    new_amount_cents: Cents = Field(
        gt=0, description="The original amount the creditor's update set (DebtUpdated)"
    )
    owed_cents: Cents = Field(
        ge=0,
        description="What the debt owed by the new amount when the agreement ended: the new "
        "amount less what was paid on it before this agreement",
    )
    import_id: str = Field(description="The import whose row lowered it")
    row_key: str


# The rules by which the creditor, not the debtor, ended an agreement: not a debtor's break.
CREDITOR_RULES = frozenset({"debt_withdrawn", "debt_amount_lowered"})


class AgreementBrokenV3(AgreementBrokenV2):
    """An agreement ended because the creditor lowered the original amount of one of its
    debts below what the agreement charges as that debt's principal (version 3: one more rule,
    `debt_amount_lowered`, and the lowered debts named in `lowered_debts`). The debtor never
    pays more than the creditor says is owed (CDC art. 42): the agreement ends as a withdrawal
    ends it, its unpaid invoices cancelled; what was paid is shared by principal (`debts`) and
    every debt goes back to collection owing less, a lowered one from its new amount (settled
    when nothing is left of it), so the debtor can negotiate again on the creditor's figure.
    `credit_cents` is what a lowered debt's share paid beyond what it owed by the new amount:
    the debtor's credit. `withdrawn_debt_ids` is empty. The negotiation service publishes this
    version only for that rule. Read as an AgreementBroken (and a V2): a consumer counting
    debtors' breaks checks `rule` (`CREDITOR_RULES`)."""

    schema_version: Literal[3] = 3  # type: ignore[assignment]
    rule: Literal[  # type: ignore[assignment]
        "first_installment", "later_installment", "debt_withdrawn", "debt_amount_lowered"
    ]
    withdrawn_debt_ids: list[str] = Field(
        default_factory=list,
        description="The agreement's debts the creditor withdrew: none for this rule",
    )
    credit_cents: Cents = Field(
        ge=0,
        description="What the lowered debts' share of the payments paid beyond what they owed "
        "by their new amount: the debtor's credit",
    )
    lowered_debts: list[LoweredDebt] = Field(
        min_length=1,
        description="The agreement's debts whose original amount the creditor lowered "
        "(DebtUpdated) below what the agreement charged as their principal",
    )


class SharedPaymentDebt(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    debt_id: str
    deducted_cents: Cents = Field(
        ge=0, description="Deducted from this debt, back in collection after the break"
    )
    credit_cents: Cents = Field(
        ge=0,
        description="This debt's share kept as the debtor's credit: the debt is settled, "
        "withdrawn or in another agreement",
    )


class AgreementPaymentShared(Envelope):
    """A payment to an invoice of a broken agreement (the invoice was cancelled with it) is
    deducted from the agreement's debts, back in collection: shared by principal as the break
    shared what was paid, each debt's share no more than it still owes of its principal. What
    no debt could take stays the debtor's credit (`credit_cents`). One per payment
    (`payment_id`); the payment itself is `PaymentReceived`, outcome `excess`."""

    type: Literal["AgreementPaymentShared"] = "AgreementPaymentShared"
    schema_version: Literal[1] = 1
    agreement_id: str
    document: str
    creditor: str
    payment_id: str
    invoice_id: str
    installment_number: StrictInt = Field(ge=1)
    paid_on: dt.date
    amount_cents: Cents = Field(gt=0, description="The payment")
    deducted_cents: Cents = Field(ge=0, description="Deducted from the debts, in all")
    credit_cents: Cents = Field(ge=0, description="Kept as the debtor's credit")
    debts: list[SharedPaymentDebt] = Field(min_length=1)


class AgreementFulfilled(Envelope):
    """Every invoice of an agreement is paid: its debts are settled."""

    type: Literal["AgreementFulfilled"] = "AgreementFulfilled"
    schema_version: Literal[1] = 1
    agreement_id: str
    document: str
    creditor: str
    debt_ids: list[str] = Field(min_length=1)
    fulfilled_on: dt.date
    paid_cents: Cents = Field(gt=0)


PaymentOutcome = Literal["paid", "partial", "excess", "unmatched", "already_paid"]


class PaymentReceived(Envelope):
    """A payment reported by the bank or a client system, whatever it matched. Nothing is
    dropped: a payment that matches no invoice is kept here with the reason."""

    type: Literal["PaymentReceived"] = "PaymentReceived"
    schema_version: Literal[1] = 1
    payment_id: str
    source: Literal["api", "cnab240"]
    reference: str = Field(description="The payer's or bank's own reference of the payment")
    invoice_id: str | None = None
    nosso_numero: str | None = None
    agreement_id: str | None = None
    document: str | None = None
    installment_number: StrictInt | None = None
    amount_cents: Cents = Field(gt=0)
    paid_on: dt.date
    outcome: PaymentOutcome
    applied_cents: Cents = Field(ge=0, description="Credited to the invoice")
    balance_cents: Cents = Field(ge=0, description="Still unpaid on the invoice after this")
    credit_cents: Cents = Field(ge=0, description="Paid beyond the invoice: a credit")
    reason: str | None = Field(default=None, description="Why it was not fully applied (pt-BR)")
