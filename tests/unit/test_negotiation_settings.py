"""The boleto settings and the tenant's nosso número sequence: Sicredi's fields checked when
the settings are saved, its boletos made and paid through its return file, and each layout's
capacity kept: a number past it is refused when closing (409) and a layout already used up is
refused when saving (422), never wrapped around to a number some boleto already has."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.negotiation import PaymentConditionTerms
from contracts.negotiation_requests import (
    BoletoSettings,
    CloseAgreement,
    GetDocument,
    ImportCnab240,
    NegotiationSettings,
    PixSettings,
    SaveCondition,
    SaveSettings,
)
from service_runtime.refusal import Refused
from services.negotiation.adapters.cnab240 import ReturnPayment, write_cnab240_return
from services.negotiation.domain.boleto import (
    BeneficiaryAccount,
    barcode_from_digitable_line,
    segment_t_nosso_numero,
)
from services.negotiation.domain.tenant import NossoNumerosExhausted, TenantNegotiation
from services.negotiation.entrypoints.requests import document as document_pdf
from tests.unit.test_negotiation_app import (
    AGENCY,
    AGENCY_SETTINGS,
    MARIA,
    TODAY,
    Negotiation,
    _with_segment_t_nosso_numero,
    debt_event,
    pdf_text,
)

SICREDI = BoletoSettings(
    bank_code="748",
    bank_name="Banco Cooperativo Sicredi S.A.",
    agency="0165",
    account="623",
    wallet="1",
    beneficiary_code="00623",
    service_point="02",
)
BB_CONVENIO_6 = BoletoSettings(
    bank_code="001",
    bank_name="Banco do Brasil S.A.",
    agency="4042",
    account="61900",
    wallet="18",
    beneficiary_code="123879",
)
BB_CONVENIO_7 = BB_CONVENIO_6.model_copy(update={"beneficiary_code": "1238798"})


@pytest.fixture
def neg(tmp_path: Path) -> Iterator[Negotiation]:
    n = Negotiation(tmp_path)
    n.portal_discounts()
    yield n


def save(neg: Negotiation, boleto: BoletoSettings) -> NegotiationSettings:
    """The agency's account `boleto` (its beneficiary and PIX key as the agency's)."""
    ours = boleto.model_copy(
        update={
            "beneficiary_name": AGENCY_SETTINGS.boleto.beneficiary_name,
            "beneficiary_document": AGENCY_SETTINGS.boleto.beneficiary_document,
        }
    )
    settings = AGENCY_SETTINGS.model_copy(update={"boleto": ours})
    return neg.app.save_settings(SaveSettings(tenant=AGENCY, settings=settings, saved_by="adm"))


def refusal_of(neg: Negotiation, boleto: BoletoSettings) -> Refused:
    with pytest.raises(Refused) as refused:
        save(neg, boleto)
    return refused.value


def numbers_given(neg: Negotiation) -> int:
    return neg.app.tenant_record(AGENCY).allocated_nosso_numeros


def give_numbers_up_to(neg: Negotiation, last: int) -> None:
    """The tenant's sequence taken up to `last`, as years of boletos would have."""
    record = neg.app.tenant_record(AGENCY)
    record.allocate_nosso_numeros(last - record.allocated_nosso_numeros, capacity=last)
    neg.app.save(record)


# --- the sequence itself --------------------------------------------------------------------


def test_the_sequence_stops_at_the_capacity_all_or_none() -> None:
    record = TenantNegotiation(tenant=AGENCY, settings_json="{}")
    assert record.allocate_nosso_numeros(3, capacity=5) == [1, 2, 3]
    with pytest.raises(NossoNumerosExhausted) as refused:
        record.allocate_nosso_numeros(3, capacity=5)
    assert (refused.value.allocated, refused.value.wanted, refused.value.capacity) == (3, 3, 5)
    # The refusal took nothing: the two numbers left are still there, then none.
    assert record.allocated_nosso_numeros == 3
    assert record.allocate_nosso_numeros(2, capacity=5) == [4, 5]
    with pytest.raises(NossoNumerosExhausted):
        record.allocate_nosso_numeros(1, capacity=5)
    with pytest.raises(ValueError):
        record.allocate_nosso_numeros(0, capacity=10)


@given(st.lists(st.integers(1, 12), max_size=20), st.integers(1, 60))
def test_no_number_is_given_twice_nor_past_the_capacity(counts: list[int], capacity: int) -> None:
    record = TenantNegotiation(tenant=AGENCY, settings_json="{}")
    given_out: list[int] = []
    for count in counts:
        before = record.allocated_nosso_numeros
        try:
            given_out += record.allocate_nosso_numeros(count, capacity=capacity)
        except NossoNumerosExhausted:
            assert before + count > capacity
            assert record.allocated_nosso_numeros == before
    assert given_out == list(range(1, len(given_out) + 1))
    assert all(number <= capacity for number in given_out)


# --- Sicredi ----------------------------------------------------------------------------------


def test_sicredi_settings_need_the_posto(neg: Negotiation) -> None:
    refused = refusal_of(neg, SICREDI.model_copy(update={"service_point": ""}))
    assert refused.status == 422
    assert [(field, rule) for field, rule, _ in refused.details] == [
        ("boleto.service_point", "required")
    ]
    assert refused.details[0][2].startswith("posto:")


def test_sicredi_settings_take_a_5_digit_beneficiary_code(neg: Negotiation) -> None:
    refused = refusal_of(neg, SICREDI.model_copy(update={"beneficiary_code": "123456"}))
    [(field, rule, message)] = refused.details
    assert (field, rule) == ("boleto.beneficiary_code", "max_length")
    assert message == "código do beneficiário: no máximo 5 dígitos"


def test_a_sicredi_boleto_is_paid_through_sicredis_return_file(neg: Negotiation) -> None:
    save(neg, SICREDI)
    [a, b] = neg.imported(debt_event("a"), debt_event("b", document=MARIA))
    agreement = neg.close([a], 1)
    first = agreement.invoices[0]
    second = neg.close([b], 1, key="k2", document=MARIA).invoices[0]
    assert (first.nosso_numero, second.nosso_numero) == ("1", "2")
    assert barcode_from_digitable_line(first.digitable_line) == first.barcode
    # Tipo de cobrança 1, carteira 1, then the nosso número of the year of closing (2026),
    # byte 2 and the sequence, its DV, the cooperativa, posto and beneficiário, "10".
    free = first.barcode[19:44]
    assert (free[0:10], free[11:24]) == ("1126200001", "0165020062310")
    # The boleto prints the same nosso número, DV included.
    pdf = document_pdf(
        neg.app,
        GetDocument(
            tenant=AGENCY, agreement_id=agreement.agreement_id, invoice_id=first.invoice_id
        ),
        TODAY,
    )
    assert f"26/200001-{free[10]}" in pdf_text(pdf)
    account = BeneficiaryAccount("748", "0165", "623", "1", "00623", "02")
    written = [
        segment_t_nosso_numero(account, 1, TODAY),
        segment_t_nosso_numero(account, 2, TODAY),
    ]
    assert [w[:8] for w in written] == ["26200001", "26200002"]
    payments = [
        ReturnPayment(
            nosso_numero="1",  # replaced below by Sicredi's field
            amount_cents=invoice.amount_cents,
            paid_cents=invoice.amount_cents,
            due_date=invoice.due_date,
            paid_on=TODAY,
        )
        for invoice in (first, second)
    ]
    content = _with_segment_t_nosso_numero(
        write_cnab240_return(
            bank_code="748", company_name="RECUPERA SUL", generated_on=TODAY, payments=payments
        ),
        written,
    )

    result = neg.app.import_cnab240(ImportCnab240(tenant=AGENCY, content=content), TODAY)

    assert [p.outcome for p in result.payments] == ["paid", "paid"]
    assert [p.invoice_id for p in result.payments] == [first.invoice_id, second.invoice_id]


# --- capacity ---------------------------------------------------------------------------------


def test_settings_whose_layout_is_used_up_are_refused(neg: Negotiation) -> None:
    save(neg, BoletoSettings())  # Bradesco: 11 digits
    give_numbers_up_to(neg, 99_999)

    refused = refusal_of(neg, BB_CONVENIO_6)

    assert (refused.status, refused.code) == (422, "validation_failed")
    [(field, rule, message)] = refused.details
    assert (field, rule) == ("boleto.beneficiary_code", "sequence_exhausted")
    assert "99.999" in message and "não resta nenhum" in message
    assert neg.app.settings_of(AGENCY).boleto.bank_code == "237"
    # A 7-digit convênio has room for 10 digits: taken, and the sequence goes on from there.
    assert save(neg, BB_CONVENIO_7).boleto.beneficiary_code == "1238798"
    [debt] = neg.imported(debt_event("a"))
    assert neg.close([debt], 1).invoices[0].nosso_numero == "100000"


def test_closing_past_the_capacity_is_refused_and_takes_no_number(neg: Negotiation) -> None:
    save(neg, BB_CONVENIO_6)
    give_numbers_up_to(neg, 99_998)
    [a, b, c] = neg.imported(debt_event("a"), debt_event("b"), debt_event("c"))

    with pytest.raises(Refused) as refused:
        neg.close([a], 3, key="three")  # 3 boletos, 1 number left

    assert (refused.value.status, refused.value.code) == (409, "conflict")
    [(field, rule, message)] = refused.value.details
    assert (field, rule) == ("boleto.beneficiary_code", "sequence_exhausted")
    assert "restam 1 e são necessários 3" in message
    assert numbers_given(neg) == 99_998
    # The last number is still there for a one-boleto agreement; after it, nothing.
    assert neg.close([b], 1, key="one").invoices[0].nosso_numero == "99999"
    with pytest.raises(Refused) as after:
        neg.close([c], 1, key="none")
    assert after.value.status == 409
    assert numbers_given(neg) == 99_999


# --- the beneficiary's CPF/CNPJ and the PIX key -------------------------------------------------


def refusal_of_settings(neg: Negotiation, settings: NegotiationSettings) -> Refused:
    with pytest.raises(Refused) as refused:
        neg.app.save_settings(SaveSettings(tenant=AGENCY, settings=settings, saved_by="adm"))
    return refused.value


@pytest.mark.parametrize(
    ("document", "rule"),
    [
        ("abc", "length"),
        ("11.222.333/0001-82", "check_digit"),  # the CNPJ's last digit is 1
        ("529.982.247-24", "check_digit"),
        ("00000000000", "repeated_digits"),
    ],
)
def test_a_beneficiary_document_that_is_no_cpf_or_cnpj_is_refused(
    neg: Negotiation, document: str, rule: str
) -> None:
    before = neg.app.settings_of(AGENCY)
    settings = NegotiationSettings(boleto=BoletoSettings(beneficiary_document=document))

    error = refusal_of_settings(neg, settings).reply()

    assert (error.status, error.code) == (422, "validation_failed")
    assert [(d.field, d.rule) for d in error.details] == [("boleto.beneficiary_document", rule)]
    assert neg.app.settings_of(AGENCY) == before


@pytest.mark.parametrize(
    ("key", "rule", "says"),
    [
        ("não é chave", "format", "chave PIX inválida"),
        ("pix@", "format", "e-mail"),
        ("+55119876", "format", "+5511987654321"),
        ("11987654321", "check_digit", "um telefone vai com +55: +5511987654321"),
        ("11222333000182", "check_digit", "CNPJ com dígito verificador inválido"),
        ("529.982.247-25", "format", "só os dígitos"),
        ("123e4567-e89b-12d3-a456", "format", "chave PIX inválida"),
    ],
)
def test_a_pix_key_is_checked_by_its_kind(neg: Negotiation, key: str, rule: str, says: str) -> None:
    settings = NegotiationSettings(pix=PixSettings(key=key))

    error = refusal_of_settings(neg, settings).reply()

    [detail] = error.details
    assert (detail.field, detail.rule) == ("pix.key", rule)
    assert says in detail.message


@pytest.mark.parametrize(
    "key",
    [
        "52998224725",  # CPF
        "11222333000181",  # CNPJ
        "12ABC34501DE35",  # alphanumeric CNPJ
        "cobranca@recupera-sul.com.br",
        "+5511987654321",
        "123e4567-e89b-12d3-a456-426614174000",  # random key (EVP)
    ],
)
def test_each_kind_of_pix_key_is_taken(neg: Negotiation, key: str) -> None:
    settings = NegotiationSettings(
        boleto=BoletoSettings(beneficiary_document="11.222.333/0001-81"), pix=PixSettings(key=key)
    )
    neg.app.save_settings(SaveSettings(tenant=AGENCY, settings=settings, saved_by="adm"))
    assert neg.app.settings_of(AGENCY).pix.key == key


def test_a_tenant_that_never_said_where_it_is_paid_issues_no_boleto(tmp_path: Path) -> None:
    """A tenant starts with a placeholder account and PIX key, shared by every tenant: boletos
    and PIX codes on them would send the debtor's money nowhere."""
    neg = Negotiation(tmp_path)
    other = "nova-assessoria"
    neg.app.save_condition(
        SaveCondition(tenant=other, terms=PaymentConditionTerms(installments=1), saved_by="admin")
    )
    [debt] = neg.imported(debt_event("x").model_copy(update={"tenant": other}))

    with pytest.raises(Refused) as refused:
        neg.app.close_agreement(
            CloseAgreement(
                tenant=other,
                document=None,
                debt_ids=[debt],
                installments=1,
                channel="operator",
                operator="ana",
                idempotency_key="k-nova",
            ),
            TODAY,
        )

    error = refused.value
    assert (error.status, error.code) == (409, "conflict")
    assert [(d[0], d[1]) for d in error.details] == [
        ("boleto.beneficiary_document", "not_configured"),
        ("pix.key", "not_configured"),
    ]
    assert neg.app.tenant_record(other).allocated_nosso_numeros == 0  # no number taken
    # Once it says so, it closes.
    neg.paid_to(other)
    assert neg.app.close_agreement(
        CloseAgreement(
            tenant=other,
            document=None,
            debt_ids=[debt],
            installments=1,
            channel="operator",
            operator="ana",
            idempotency_key="k-nova",
        ),
        TODAY,
    ).invoices
