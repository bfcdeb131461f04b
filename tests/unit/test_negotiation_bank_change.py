"""A tenant that changes its boleto bank still gets the former bank's return files applied to
the boletos that bank issued: they are still paid there for months, and the bank keeps
sending its returns. QA: an agency that moved from Bradesco to Itaú had Bradesco's return
refused whole (422, bank_code, other_bank), its debtors' payments never applied.

A file of a bank that never issued any of the tenant's boletos is still refused, and a
former bank's file pays only that bank's boletos, once, whichever door brought it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from contracts.negotiation_requests import (
    BoletoSettings,
    GetAgreement,
    ImportCnab240,
    SaveSettings,
)
from service_runtime.refusal import Refused
from services.negotiation.adapters.cnab240 import ReturnPayment, write_cnab240_return
from services.negotiation.application.service import beneficiary_account
from services.negotiation.domain.boleto import segment_t_nosso_numero
from services.negotiation.entrypoints.requests import answer
from tests.unit.test_negotiation_app import (
    AGENCY,
    AGENCY_SETTINGS,
    MARIA,
    TODAY,
    Negotiation,
    _with_segment_t_nosso_numero,
    debt_event,
    paid_in_full,
)

BRADESCO = AGENCY_SETTINGS.boleto  # where the agency starts
ITAU = BRADESCO.model_copy(
    update={
        "bank_code": "341",
        "bank_name": "Itaú Unibanco S.A.",
        "agency": "810",
        "account": "53678",
        "wallet": "175",
    }
)


@pytest.fixture
def neg(tmp_path: Path) -> Iterator[Negotiation]:
    n = Negotiation(tmp_path)
    n.portal_discounts()
    yield n


def _moves_to(neg: Negotiation, boleto: BoletoSettings) -> None:
    settings = AGENCY_SETTINGS.model_copy(update={"boleto": boleto})
    neg.app.save_settings(SaveSettings(tenant=AGENCY, settings=settings, saved_by="admin"))


def _return_of(boleto: BoletoSettings, *paid: tuple[Any, ReturnPayment]) -> str:
    """`boleto`'s bank's return file of today: for each (invoice, payment), the nosso número
    as that bank writes it for the tenant's account there."""
    content = write_cnab240_return(
        bank_code=boleto.bank_code,
        company_name="RECUPERA SUL",
        generated_on=TODAY,
        payments=[payment for _, payment in paid],
    )
    account = beneficiary_account(boleto)
    return _with_segment_t_nosso_numero(
        content,
        [segment_t_nosso_numero(account, int(invoice.nosso_numero)) for invoice, _ in paid],
    )


def _import(neg: Negotiation, content: str) -> Any:
    return neg.app.import_cnab240(ImportCnab240(tenant=AGENCY, content=content), TODAY)


def _refusal(neg: Negotiation, content: str) -> Any:
    with pytest.raises(Refused) as refused:
        answer(neg.app, ImportCnab240(tenant=AGENCY, content=content), TODAY)
    return refused.value.reply()


def _invoice(neg: Negotiation, agreement: Any) -> Any:
    return neg.app.get_agreement(
        GetAgreement(tenant=AGENCY, agreement_id=agreement.agreement_id), TODAY
    ).invoices[0]


def _received(neg: Negotiation) -> list[Any]:
    return [e for e in neg.published() if e.type == "PaymentReceived"]


def _from_bradesco_to_itau(neg: Negotiation) -> tuple[Any, Any]:
    """An agreement closed while the agency was at Bradesco, one after it moved to Itaú."""
    [a, b] = neg.imported(debt_event("a"), debt_event("b", document=MARIA))
    at_bradesco = neg.close([a], 1)
    _moves_to(neg, ITAU)
    at_itau = neg.close([b], 1, key="k2", document=MARIA)
    assert at_bradesco.invoices[0].barcode.startswith("237")
    assert at_itau.invoices[0].barcode.startswith("341")
    return at_bradesco, at_itau


def test_the_former_banks_return_pays_the_boletos_it_issued(neg: Negotiation) -> None:
    at_bradesco, at_itau = _from_bradesco_to_itau(neg)
    bradesco_boleto = at_bradesco.invoices[0]

    result = _import(neg, _return_of(BRADESCO, (bradesco_boleto, paid_in_full(bradesco_boleto))))

    assert result.bank_code == "237"
    assert [(p.invoice_id, p.outcome) for p in result.payments] == [
        (bradesco_boleto.invoice_id, "paid")
    ]
    assert _invoice(neg, at_bradesco).status == "paid"
    # The current bank's own return pays its boletos as before.
    itau_boleto = at_itau.invoices[0]
    result = _import(neg, _return_of(ITAU, (itau_boleto, paid_in_full(itau_boleto))))
    assert [(p.invoice_id, p.outcome) for p in result.payments] == [
        (itau_boleto.invoice_id, "paid")
    ]
    assert len(_received(neg)) == 2


def test_a_former_banks_payment_counts_once_whichever_door_brought_it(neg: Negotiation) -> None:
    at_bradesco, _ = _from_bradesco_to_itau(neg)
    boleto = at_bradesco.invoices[0]
    by_api = neg.pay(invoice_id=boleto.invoice_id, amount_cents=boleto.amount_cents, paid_on=TODAY)

    bradesco = _return_of(BRADESCO, (boleto, paid_in_full(boleto)))
    [by_bank] = _import(neg, bradesco).payments
    [again] = _import(neg, bradesco).payments

    assert (by_bank.duplicate, by_bank.payment_id) == (True, by_api.payment_id)
    assert (again.duplicate, again.payment_id) == (True, by_api.payment_id)
    assert len(_received(neg)) == 1


def test_a_former_banks_file_pays_no_boleto_of_another_bank(neg: Negotiation) -> None:
    # Bradesco writing the number of a boleto Itaú issued: not that boleto (a number of the
    # agency's at Bradesco it did not issue here), kept for reconciliation, nothing applied.
    _, at_itau = _from_bradesco_to_itau(neg)
    itau_boleto = at_itau.invoices[0]
    content = write_cnab240_return(
        bank_code="237",
        company_name="RECUPERA SUL",
        generated_on=TODAY,
        payments=[paid_in_full(itau_boleto)],
    )

    [payment] = _import(neg, content).payments

    assert (payment.outcome, payment.invoice_id, payment.applied_cents) == ("unmatched", None, 0)
    assert payment.reason == (
        f"nenhuma parcela encontrada para nosso número {int(itau_boleto.nosso_numero)} em "
        "boleto do banco 237 (Bradesco); pagamento guardado para conciliação"
    )
    assert _invoice(neg, at_itau).status == "open"


def test_a_bank_that_never_issued_the_tenants_boletos_is_refused(neg: Negotiation) -> None:
    at_bradesco, _ = _from_bradesco_to_itau(neg)
    boleto = at_bradesco.invoices[0]
    santander = write_cnab240_return(
        bank_code="033",
        company_name="RECUPERA SUL",
        generated_on=TODAY,
        payments=[paid_in_full(boleto)],
    )

    error = _refusal(neg, santander)

    said = (
        "arquivo de retorno do banco 033 (Santander), mas os boletos da assessoria são do "
        "banco 341 (Itaú) (antes, também do 237 (Bradesco)): nada foi aplicado"
    )
    assert (error.status, error.message) == (422, said)
    assert [(d.field, d.rule, d.message) for d in error.details] == [
        ("bank_code", "other_bank", said)
    ]
    assert _received(neg) == []


def test_a_bank_configured_and_left_before_any_boleto_is_not_a_former_bank(
    neg: Negotiation,
) -> None:
    # The agency started on Bradesco's layout but closed its first agreement at Itaú:
    # Bradesco never issued any of its boletos.
    _moves_to(neg, ITAU)
    [a] = neg.imported(debt_event("a"))
    boleto = neg.close([a], 1).invoices[0]
    content = write_cnab240_return(
        bank_code="237",
        company_name="RECUPERA SUL",
        generated_on=TODAY,
        payments=[paid_in_full(boleto)],
    )

    error = _refusal(neg, content)

    assert [(d.field, d.rule) for d in error.details] == [("bank_code", "other_bank")]
    assert error.message == (
        "arquivo de retorno do banco 237 (Bradesco), mas os boletos da assessoria são do banco "
        "341 (Itaú): nada foi aplicado"
    )
