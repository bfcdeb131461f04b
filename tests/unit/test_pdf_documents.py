"""The boleto (with PIX) and the agreement term render as PDFs that say what they must."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import date

import pytest
from pypdf import PdfReader

from services.negotiation.adapters.pdf_documents import (
    AgreementTerm,
    InvoiceDocument,
    Party,
    TermDebt,
    TermInstallment,
    bank_code_dv,
    channel_pt_br,
    invoice_pdf,
    long_date_pt_br,
    term_pdf,
)

# A consistent Bradesco boleto: R$ 1.234,56 due 25/11/2026 (general DV and field DVs computed).
BARCODE = "23791164100001234561234090000000000100123450"
DIGITABLE_LINE = "23791.23405 90000.000001 01001.234507 1 16410000123456"
PIX_CODE = (
    "00020101021226880014br.gov.bcb.pix2566qrpix.example.com.br/v2/cobv/"
    "5f3c1d2e4b6a48b89e0f1a2b3c4d5e6f5204000053039865406123456"
    "5802BR5925ASSESSORIA EXEMPLO LTDA6009SAO PAULO62070503***6304ABCD"
)

AGENCY = Party(
    name="Assessoria Exemplo Ltda",
    document="12.345.678/0001-95",
    address="Av. Paulista, 1000 – São Paulo/SP – 01310-100",
)
DEBTOR = Party(
    name="Maria da Conceição Araújo",
    document="***.456.789-**",
    address="Rua das Flores, 42 – Campinas/SP – 13010-000",
)


def _text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


def _invoice() -> InvoiceDocument:
    return InvoiceDocument(
        bank_code="237",
        bank_name="Banco Bradesco S.A.",
        beneficiary=AGENCY,
        payer=DEBTOR,
        agency_account="1234 / 0012345",
        wallet="09",
        nosso_numero="09/00000000001-P",
        document_number="A1B2C3D4/2",
        issue_date=date(2026, 11, 10),
        due_date=date(2026, 11, 25),
        amount_cents=123456,
        installment_label="Parcela 2 de 6",
        digitable_line=DIGITABLE_LINE,
        barcode=BARCODE,
        pix_code=PIX_CODE,
        instructions="Não receber após o vencimento. Pagamento referente a acordo de dívida.",
        creditor="Banco Credor S.A.",
        agreement_id="a1b2c3d4-0000-4000-8000-000000000001",
    )


def _term(**changes: object) -> AgreementTerm:
    term = AgreementTerm(
        agreement_id="a1b2c3d4-0000-4000-8000-000000000001",
        tenant_name="Assessoria Exemplo Ltda",
        creditor="Banco Credor S.A.",
        debtor=DEBTOR,
        closed_on=date(2026, 11, 25),
        channel="operator",
        operator="João Atendente",
        debts=[
            TermDebt("CTR-000123", "3/12", date(2026, 1, 10), 100000, 23456, 123456, 319),
            TermDebt("CTR-000123", "4/12", date(2026, 2, 10), 100000, 20000, 120000, 288),
        ],
        updated_value_cents=243456,
        principal_discount_cents=20000,
        charges_discount_cents=43456,
        total_cents=180000,
        installments=[
            TermInstallment(0, "Entrada", date(2026, 11, 28), 30000),
            TermInstallment(1, "Parcela 1", date(2026, 12, 28), 75000),
            TermInstallment(2, "Parcela 2", date(2027, 1, 28), 75000),
        ],
        break_first_days=7,
        break_later_days=45,
    )
    return replace(term, **changes)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def invoice_bytes() -> bytes:
    return invoice_pdf(_invoice())


@pytest.fixture(scope="module")
def term_bytes() -> bytes:
    return term_pdf(_term())


# --- small helpers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bank", "dv"),
    [("237", "2"), ("001", "9"), ("341", "7"), ("033", "7"), ("748", "X"), ("756", "0")],
)
def test_bank_code_check_digit(bank: str, dv: str) -> None:
    assert bank_code_dv(bank) == dv


@pytest.mark.parametrize("bad", ["", "23", "2370", "23a"])
def test_bank_code_must_be_three_digits(bad: str) -> None:
    with pytest.raises(ValueError):
        bank_code_dv(bad)


def test_long_date_and_channel_in_pt_br() -> None:
    assert long_date_pt_br(date(2026, 3, 1)) == "1 de março de 2026"
    assert long_date_pt_br(date(2026, 11, 25)) == "25 de novembro de 2026"
    assert channel_pt_br("portal") == "Portal de negociação"
    assert channel_pt_br("chatbot") == "ChatBot"
    assert channel_pt_br("operator") == "Atendente"


# --- invoice ------------------------------------------------------------------------------------


def test_invoice_is_a_one_page_pdf(invoice_bytes: bytes) -> None:
    assert invoice_bytes.startswith(b"%PDF")
    assert len(PdfReader(io.BytesIO(invoice_bytes)).pages) == 1


def test_invoice_says_what_a_boleto_says(invoice_bytes: bytes) -> None:
    text = _text(invoice_bytes)
    for fact in (
        "Recibo do Pagador",
        "237-2",
        DIGITABLE_LINE,
        "R$ 1.234,56",
        "25/11/2026",
        "Local de pagamento",
        "Pagável em qualquer banco até o vencimento",
        "Vencimento",
        "Beneficiário",
        "Assessoria Exemplo Ltda",
        "12.345.678/0001-95",
        "Agência/Código do beneficiário",
        "1234 / 0012345",
        "Data do documento",
        "10/11/2026",
        "Nº do documento",
        "A1B2C3D4/2",
        "Nosso número",
        "09/00000000001-P",
        "Valor do documento",
        "Instruções",
        "Não receber após o vencimento.",
        "Pagador",
        "Maria da Conceição Araújo",
        "***.456.789-**",
        "Parcela 2 de 6",
        "Ficha de Compensação",
        "Pague com PIX",
    ):
        assert fact in text, fact


def test_invoice_prints_the_pix_code(invoice_bytes: bytes) -> None:
    # Printed wrapped over several lines: glue the lines back before looking for it.
    text = "".join(_text(invoice_bytes).split())
    assert "".join(PIX_CODE.split()) in text


def test_invoice_is_deterministic(invoice_bytes: bytes) -> None:
    assert invoice_pdf(_invoice()) == invoice_bytes


def test_invoice_needs_a_44_digit_barcode() -> None:
    with pytest.raises(ValueError):
        invoice_pdf(replace(_invoice(), barcode=BARCODE[:-1]))
    with pytest.raises(ValueError):
        invoice_pdf(replace(_invoice(), barcode=BARCODE[:-1] + "X"))


# --- term ---------------------------------------------------------------------------------------


def test_term_is_a_pdf(term_bytes: bytes) -> None:
    assert term_bytes.startswith(b"%PDF")
    assert len(PdfReader(io.BytesIO(term_bytes)).pages) >= 1


def test_term_says_what_was_agreed(term_bytes: bytes) -> None:
    text = _text(term_bytes)
    for fact in (
        "TERMO DE ACORDO",
        "Termo de Confissão e Renegociação de Dívida",
        "Banco Credor S.A.",
        "Assessoria Exemplo Ltda",
        "Maria da Conceição Araújo",
        "CPF ***.456.789-**",
        # debts
        "CTR-000123",
        "3/12",
        "10/01/2026",
        "R$ 1.000,00",
        "R$ 234,56",
        "R$ 1.234,56",
        "319",
        "R$ 1.200,00",
        # totals
        "R$ 2.434,56",
        "Desconto no principal",
        "R$ 200,00",
        "Desconto em encargos",
        "R$ 434,56",
        "Valor do acordo",
        "R$ 1.800,00",
        # schedule
        "Entrada",
        "28/11/2026",
        "R$ 300,00",
        "Parcela 1",
        "28/12/2026",
        "R$ 750,00",
        "Parcela 2",
        "28/01/2027",
        # clauses
        "confessa",
        "boleto bancário ou por PIX",
        "primeira parcela estiver em atraso há 7 dias",
        "demais parcelas estiver em atraso há 45 dias",
        "deduzidos os valores já pagos",
        "quitados",
        "cadastros de proteção ao crédito",
        # where and how
        "Atendente",
        "João Atendente",
        "São Paulo, 25 de novembro de 2026",
        "a1b2c3d4-0000-4000-8000-000000000001",
    ):
        assert fact in text, fact


def test_term_by_portal_has_no_operator() -> None:
    text = _text(term_pdf(_term(channel="portal", operator=None, break_first_days=1)))
    assert "Portal de negociação" in text
    assert "atendente" not in text.lower()
    assert "atraso há 1 dia " in text


def test_term_is_deterministic(term_bytes: bytes) -> None:
    assert term_pdf(_term()) == term_bytes


def test_long_term_runs_over_pages() -> None:
    debts = [
        TermDebt(f"CTR-{i:06d}", "1/1", date(2025, 1, 10), 10000, 1000, 11000, 400)
        for i in range(40)
    ]
    installments = [
        TermInstallment(i, f"Parcela {i}", date(2027, 1, 5), 1000 + i) for i in range(1, 37)
    ]
    pdf = term_pdf(_term(debts=debts, installments=installments))
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) > 1
    text = _text(pdf)
    assert "CTR-000039" in text
    assert "R$ 10,36" in text
    assert "Página 2" in text
