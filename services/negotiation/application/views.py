"""What the use cases answer: agreements and payments as the contracts' reply models."""

from __future__ import annotations

import datetime as dt
from typing import Any

from contracts.negotiation import AgreementDebt
from contracts.negotiation_requests import AgreementOut, InvoiceOut, PaymentOut, end_reason
from services.negotiation.domain.agreement import Agreement
from services.negotiation.domain.references import Payment


def invoice_status(agreement: Agreement, invoice: dict[str, Any], today: dt.date) -> str:
    if Agreement.balance_of(invoice) == 0:
        return "paid"
    if agreement.status != "active":
        return "cancelled"
    return "overdue" if invoice["due_date"] < today else "open"


def agreement_out(
    agreement: Agreement,
    debtor_name: str,
    today: dt.date,
    replayed: bool = False,
    end_rule: str | None = None,
    owed_cents: int | None = None,
) -> AgreementOut:
    """The agreement as answered; `debtor_name` opened by the caller (the aggregate keeps it
    sealed, see `NegotiationApplication.debtor_name`); `end_rule` the rule a broken one ended
    by, when the aggregate does not know it (restored from an older snapshot); `owed_cents`
    what a broken one's debts still owe (`NegotiationApplication.owed_since_end`)."""
    return AgreementOut(
        agreement_id=str(agreement.id),
        tenant=agreement.tenant,
        document=agreement.document,
        debtor_name=debtor_name,
        creditor=agreement.creditor,
        status=agreement.status,
        channel=agreement.channel,
        operator=agreement.operator,
        condition_id=agreement.condition_id,
        closed_on=agreement.closed_on,
        debts=[AgreementDebt(**d) for d in agreement.debts],
        updated_value_cents=agreement.totals["updated_value_cents"],
        discount_cents=agreement.totals["discount_cents"],
        total_cents=agreement.totals["total_cents"],
        paid_cents=agreement.paid_cents,
        credit_cents=agreement.credit_cents,
        end_reason=end_reason(agreement.status, agreement.end_rule or end_rule),
        owed_cents=owed_cents if agreement.status == "broken" else None,
        invoices=[
            InvoiceOut(
                invoice_id=i["invoice_id"],
                number=i["number"],
                kind=i["kind"],
                due_date=i["due_date"],
                amount_cents=i["amount_cents"],
                paid_cents=i["paid_cents"],
                balance_cents=Agreement.balance_of(i),
                status=invoice_status(agreement, i, today),
                nosso_numero=i["nosso_numero"],
                barcode=i["barcode"],
                digitable_line=i["digitable_line"],
                pix_code=i["pix_code"],
                pix_txid=i["pix_txid"],
                received_after_end_cents=int(i.get("received_after_end_cents", 0)),
            )
            for i in agreement.invoices
        ],
        replayed=replayed,
    )


def payment_out(payment: Payment, duplicate: bool) -> PaymentOut:
    return PaymentOut(
        payment_id=str(payment.id),
        reference=payment.reference,
        invoice_id=payment.invoice_id,
        agreement_id=payment.agreement_id,
        installment_number=payment.installment_number,
        amount_cents=payment.amount_cents,
        paid_on=payment.paid_on,
        outcome=payment.outcome,
        applied_cents=payment.applied_cents,
        balance_cents=payment.balance_cents,
        credit_cents=payment.credit_cents,
        reason=payment.reason,
        duplicate=duplicate,
    )
