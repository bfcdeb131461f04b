"""The PDFs of an agreement (each invoice, and the term) from the agreement as stored, and
the debtor's debt statement from its answer.

The agreement keeps the debtor's name sealed: the caller opens it when the document is made
(`NegotiationApplication.debtor_name`) and passes it; without it, the documents print
`REMOVED` (nothing personal leaks from a caller that forgot to open it)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from contracts.documents import format_document, mask_document
from contracts.invoices import installment_heading
from contracts.negotiation_requests import AgreementOut, NegotiationSettings, StatementOut
from service_runtime.personal_data import REMOVED
from services.negotiation.adapters.pdf_documents import (
    AgreementTerm,
    DebtStatement,
    InvoiceDocument,
    Party,
    StatementAgreement,
    StatementInstallment,
    StatementLine,
    TermDebt,
    TermInstallment,
    invoice_pdf,
    statement_pdf,
    term_pdf,
)
from services.negotiation.domain.agreement import Agreement
from services.negotiation.domain.boleto import BeneficiaryAccount, Boleto, printed_nosso_numero


def _label(invoice: dict[str, Any], invoices: list[dict[str, Any]]) -> str:
    """'Entrada', 'Parcela 1 de 3' (counted after the entrada), 'Parcela única': the rule the
    portal and the chatbot name installments by."""
    return installment_heading(
        invoice["kind"], int(invoice["number"]), [i["kind"] for i in invoices]
    )


def invoice_document(
    agreement: Agreement,
    invoice: dict[str, Any],
    settings: NegotiationSettings,
    debtor_name: str | None = None,
) -> bytes:
    boleto_settings = settings.boleto
    account = BeneficiaryAccount(
        bank_code=boleto_settings.bank_code,
        agency=boleto_settings.agency,
        account=boleto_settings.account,
        wallet=boleto_settings.wallet,
        beneficiary_code=boleto_settings.beneficiary_code,
    )
    beneficiary_code = boleto_settings.beneficiary_code
    boleto = Boleto(
        barcode=invoice["barcode"],
        digitable_line=invoice["digitable_line"],
        nosso_numero=f"{int(invoice['nosso_numero']):011d}",
    )
    beneficiary_document = boleto_settings.beneficiary_document
    return invoice_pdf(
        InvoiceDocument(
            bank_code=boleto_settings.bank_code,
            bank_name=boleto_settings.bank_name,
            beneficiary=Party(
                name=boleto_settings.beneficiary_name,
                document=format_document(beneficiary_document) if beneficiary_document else "",
            ),
            payer=Party(
                name=REMOVED if debtor_name is None else debtor_name,
                document=format_document(agreement.document),
            ),
            agency_account=f"{boleto_settings.agency} / "
            + (beneficiary_code or boleto_settings.account),
            wallet=boleto_settings.wallet,
            nosso_numero=invoice.get("nosso_numero_printed")
            or printed_nosso_numero(account, int(invoice["nosso_numero"])),
            document_number=f"{str(agreement.id)[:8]}/{invoice['number']}",
            issue_date=agreement.closed_on,
            due_date=invoice["due_date"],
            amount_cents=invoice["amount_cents"],
            installment_label=_label(invoice, agreement.invoices),
            digitable_line=boleto.formatted_digitable_line(),
            barcode=invoice["barcode"],
            pix_code=invoice["pix_code"],
            instructions=boleto_settings.instructions,
            creditor=agreement.creditor,
            agreement_id=str(agreement.id),
        )
    )


# Why an agreement ended, as its term's mark says it (`contracts.negotiation_requests
# .end_reason`; not known: only that its open installments were cancelled).
TERM_ENDED_BECAUSE = {
    "debt_withdrawn": "o credor retirou a dívida da cobrança e as parcelas em aberto foram "
    "canceladas",
    "debt_amount_lowered": "o credor reduziu o valor da dívida e as parcelas em aberto foram "
    "canceladas",
    "not_paid": "quebrado por falta de pagamento; as parcelas em aberto foram canceladas e os "
    "débitos voltaram a ser cobrados, deduzidos os valores já pagos",
}
_ENDED_UNKNOWN = "as parcelas em aberto foram canceladas"


def term_document(
    agreement: Agreement,
    tenant_name: str,
    debtor_name: str | None = None,
    end_reason: str | None = None,
) -> bytes:
    """The term as signed; an agreement no longer in force marked so, with the day and
    `end_reason` (negotiation's answer's: the stored aggregate's rule, or its stored event's
    for an older snapshot)."""
    totals = agreement.totals
    ended_on: dt.date | None = getattr(agreement, "ended_on", None)
    broken = agreement.status == "broken"
    return term_pdf(
        AgreementTerm(
            agreement_id=str(agreement.id),
            tenant_name=tenant_name,
            creditor=agreement.creditor,
            debtor=Party(
                name=REMOVED if debtor_name is None else debtor_name,
                document=format_document(agreement.document),
            ),
            closed_on=agreement.closed_on,
            channel=agreement.channel,
            operator=agreement.operator,
            debts=[
                TermDebt(
                    contract=d["contract"],
                    installment=d["installment"],
                    due_date=_date(d["due_date"]),
                    principal_cents=d["principal_cents"],
                    charges_cents=d["penalty_cents"] + d["interest_cents"] + d["correction_cents"],
                    updated_value_cents=d["updated_value_cents"],
                    days_overdue=d["days_overdue"],
                )
                for d in agreement.debts
            ],
            updated_value_cents=totals["updated_value_cents"],
            principal_discount_cents=totals["principal_discount_cents"],
            charges_discount_cents=totals["charges_discount_cents"],
            total_cents=totals["total_cents"],
            installments=[
                TermInstallment(
                    number=i["number"],
                    label=_label(i, agreement.invoices),
                    due_date=i["due_date"],
                    amount_cents=i["amount_cents"],
                )
                for i in agreement.invoices
            ],
            break_first_days=agreement.break_first_days,
            break_later_days=agreement.break_later_days,
            ended_on=ended_on if broken else None,
            ended_because=TERM_ENDED_BECAUSE.get(end_reason or "", _ENDED_UNKNOWN)
            if broken
            else None,
            fulfilled_on=ended_on if agreement.status == "fulfilled" else None,
        )
    )


def statement_document(
    statement: StatementOut, tenant_name: str, agreements: Sequence[AgreementOut]
) -> bytes:
    """The debt statement's PDF: the debts in collection, updated, and each of `agreements`
    still active (the debtor's, as `list_agreements` answers) apart, with what is left of it.
    A debt held by an agreement not given stays in collection, tagged "em acordo": nothing
    the debtor owes is left out."""
    try:
        # Masked: the statement travels by chat and e-mail.
        printed_document = mask_document(statement.document)
    except ValueError:
        printed_document = statement.document
    active = [a for a in agreements if a.status == "active"]
    shown = {a.agreement_id for a in active}
    lines = [
        StatementLine(
            creditor=d.creditor,
            contract=d.contract,
            installment=d.installment,
            due_date=d.due_date,
            days_overdue=d.days_overdue,
            principal_cents=d.principal_cents,
            penalty_cents=d.penalty_cents,
            interest_cents=d.interest_cents,
            correction_cents=d.correction_cents,
            updated_value_cents=d.updated_value_cents,
            in_agreement=d.agreement_id is not None,
        )
        for d in statement.debts
        if d.agreement_id not in shown
    ]
    return statement_pdf(
        DebtStatement(
            tenant_name=tenant_name,
            debtor=Party(name=statement.debtor_name or "", document=printed_document),
            as_of=statement.as_of,
            lines=lines,
            total_updated_cents=sum(line.updated_value_cents for line in lines),
            agreements=[_statement_agreement(a) for a in active],
        )
    )


def _statement_agreement(agreement: AgreementOut) -> StatementAgreement:
    kinds = [i.kind for i in agreement.invoices]
    # What is left as the chat and the portal count it: the balance of the installments
    # still to pay.
    left = sorted(
        (i for i in agreement.invoices if i.status in ("open", "overdue")),
        key=lambda i: (i.due_date, i.number),
    )
    return StatementAgreement(
        agreement_id=agreement.agreement_id,
        creditor=agreement.creditor,
        closed_on=agreement.closed_on,
        debts=[
            TermDebt(
                contract=d.contract,
                installment=d.installment,
                due_date=d.due_date,
                principal_cents=d.principal_cents,
                charges_cents=d.penalty_cents + d.interest_cents + d.correction_cents,
                updated_value_cents=d.updated_value_cents,
                days_overdue=d.days_overdue,
            )
            for d in agreement.debts
        ],
        updated_value_cents=agreement.updated_value_cents,
        discount_cents=agreement.discount_cents,
        total_cents=agreement.total_cents,
        paid_cents=agreement.paid_cents,
        due_cents=sum(i.balance_cents for i in left),
        installments=[
            StatementInstallment(
                label=installment_heading(i.kind, i.number, kinds),
                due_date=i.due_date,
                amount_cents=i.amount_cents,
                paid_cents=i.paid_cents,
                balance_cents=i.balance_cents,
                overdue=i.status == "overdue",
            )
            for i in left
        ],
    )


def _date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
