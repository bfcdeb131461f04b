"""Streams of the negotiation service: `negotiation.agreements` and `negotiation.invoices`."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from contracts.envelope import Cents, Envelope

AGREEMENTS_TOPIC = "negotiation.agreements"
INVOICES_TOPIC = "negotiation.invoices"

Channel = Literal["portal", "chatbot", "operator"]


class AgreementInstallment(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    number: int = Field(ge=0, description="0 is the down payment, when there is one")
    due_date: dt.date
    amount_cents: Cents = Field(gt=0)


class AgreementClosed(Envelope):
    """A debtor committed to pay one or more debts in installments."""

    type: Literal["AgreementClosed"] = "AgreementClosed"
    schema_version: Literal[1] = 1
    agreement_id: str
    document: str
    creditor: str
    debt_ids: list[str] = Field(min_length=1)
    channel: Channel
    operator: str | None = None
    condition_id: str | None = None
    closed_on: dt.date
    updated_value_cents: Cents = Field(ge=0)
    total_cents: Cents = Field(gt=0)
    discount_cents: Cents = Field(ge=0)
    installments: list[AgreementInstallment] = Field(min_length=1)


class InvoiceOverdue(Envelope):
    """An agreement installment passed its due date unpaid."""

    type: Literal["InvoiceOverdue"] = "InvoiceOverdue"
    schema_version: Literal[1] = 1
    invoice_id: str
    agreement_id: str
    document: str
    creditor: str
    installment_number: int = Field(ge=0)
    due_date: dt.date
    amount_cents: Cents = Field(gt=0)
    days_overdue: int = Field(ge=1)
    as_of: dt.date
