"""What the chatbot asks the negotiation service about a debtor: the agreements they have
(newest first) and the debt statement (demonstrativo de débito), as data and as a PDF."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from pypdf import PdfReader

from contracts.envelope import derived_event_id
from contracts.money import format_brl
from contracts.negotiation_requests import (
    AgreementList,
    CloseAgreement,
    GetStatement,
    ListAgreements,
    NegotiationRequestBody,
    StatementOut,
)
from contracts.portfolio import DebtSettled
from services.messaging.application.conversations import situation
from services.negotiation.adapters.agreement_documents import statement_document
from services.negotiation.domain.agreement import Agreement
from services.negotiation.domain.references import DebtorAgreements, debtor_agreements_id
from services.negotiation.entrypoints.requests import NegotiationRequests
from tests.unit.test_negotiation_app import (
    AGENCY,
    JOAO,
    MARIA,
    T0,
    TODAY,
    Collection,
    Negotiation,
    debt_event,
)


@pytest.fixture
def neg(tmp_path: Path) -> Iterator[Negotiation]:
    n = Negotiation(tmp_path)
    n.portal_discounts()
    yield n


def settled(debt_id: str, paid_cents: int) -> DebtSettled:
    return DebtSettled(
        event_id=derived_event_id("test", debt_id, 5),
        occurred_at=T0,
        tenant=AGENCY,
        aggregate_id=debt_id,
        aggregate_version=5,
        correlation_id="pay-1",
        causation_id="pay-1",
        debt_id=debt_id,
        document=JOAO,
        creditor="Banco Horizonte",
        contract="CT-s",
        installment="1",
        agreement_id="a-fulfilled",
        settled_on=TODAY,
        paid_cents=paid_cents,
    )


def statement(neg: Negotiation, document: str = JOAO) -> StatementOut:
    return neg.app.statement(GetStatement(tenant=AGENCY, document=document), TODAY)


def pdf_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


# ---- agreements of a debtor ----------------------------------------------------------------


def test_list_agreements_newest_first_with_every_status(neg: Negotiation):
    [a, b, c] = neg.imported(debt_event("a"), debt_event("b"), debt_event("c"))
    neg.imported(debt_event("m", document=MARIA))
    first = neg.close([a], 1, key="k-a")
    second = neg.close([b], 3, key="k-b")
    later: Any = neg.app.close_agreement(
        CloseAgreement(
            tenant=AGENCY,
            document=JOAO,
            debt_ids=[c],
            installments=1,
            channel="chatbot",
            idempotency_key="k-c",
        ),
        TODAY + dt.timedelta(days=1),
    )
    # The first one fulfilled: it is listed all the same.
    neg.pay(invoice_id=first.invoices[0].invoice_id, amount_cents=first.total_cents, paid_on=TODAY)

    listed = neg.app.list_agreements(ListAgreements(tenant=AGENCY, document=JOAO), TODAY)
    assert [x.agreement_id for x in listed.agreements] == [
        later.agreement_id,
        second.agreement_id,
        first.agreement_id,
    ]
    assert [x.status for x in listed.agreements] == ["active", "active", "fulfilled"]
    assert all(x.document == JOAO for x in listed.agreements)


def test_an_unknown_document_or_another_tenant_has_no_agreements(neg: Negotiation):
    [a] = neg.imported(debt_event("a"))
    neg.close([a], 1)
    assert neg.app.list_agreements(ListAgreements(tenant=AGENCY, document=MARIA), TODAY) == (
        neg.app.list_agreements(ListAgreements(tenant="outra", document=JOAO), TODAY)
    )
    assert not neg.app.list_agreements(
        ListAgreements(tenant=AGENCY, document=MARIA), TODAY
    ).agreements


def test_the_index_is_saved_in_the_agreements_own_transaction(
    neg: Negotiation, monkeypatch: pytest.MonkeyPatch
):
    [a, b] = neg.imported(debt_event("a"), debt_event("b"))
    saves: list[list[Any]] = []
    real_save = neg.app.save

    def save(*objs: Any, **kwargs: Any) -> Any:
        saves.append(list(objs))
        return real_save(*objs, **kwargs)

    monkeypatch.setattr(neg.app, "save", save)
    first = neg.close([a], 1, key="k-a")
    [together] = [s for s in saves if any(isinstance(o, Agreement) for o in s)]
    [index] = [o for o in together if isinstance(o, DebtorAgreements)]
    assert index.id == debtor_agreements_id(AGENCY, JOAO)
    second = neg.close([b], 1, key="k-b")
    # The same close again (same key) adds nothing.
    neg.close([b], 1, key="k-b")
    stored = neg.app.repository.get(debtor_agreements_id(AGENCY, JOAO))
    assert stored.agreement_ids == [first.agreement_id, second.agreement_id]


# ---- the statement -------------------------------------------------------------------------


def test_statement_updates_each_open_debt_to_the_business_date(neg: Negotiation):
    # R$ 1.000,00 due 30 days ago: multa 2% = 20,00; juros 1% a.m. x 30/30 = 10,00.
    due = TODAY - dt.timedelta(days=30)
    [debt] = neg.imported(debt_event("a", amount=100_000, due=due))
    out = statement(neg)
    [line] = out.debts
    assert (line.debt_id, line.due_date, line.days_overdue) == (debt, due, 30)
    assert (
        line.principal_cents,
        line.penalty_cents,
        line.interest_cents,
        line.correction_cents,
        line.updated_value_cents,
    ) == (100_000, 2_000, 1_000, 0, 103_000)
    assert line.agreement_id is None
    assert (out.as_of, out.debtor_name, out.total_updated_cents) == (
        TODAY,
        "João da Silva",
        103_000,
    )


def test_statement_leaves_out_settled_debts_and_other_debtors(neg: Negotiation):
    due = TODAY - dt.timedelta(days=30)
    [kept, paid] = neg.imported(
        debt_event("a", due=due), debt_event("s", creditor="Banco Horizonte", due=due)
    )
    neg.imported(debt_event("m", document=MARIA), settled(paid, 100_000))
    out = statement(neg)
    assert [d.debt_id for d in out.debts] == [kept]
    assert out.total_updated_cents == out.debts[0].updated_value_cents


def test_statement_sorts_by_creditor_then_due_date_and_marks_active_agreements(
    neg: Negotiation,
):
    [late, early, other] = neg.imported(
        debt_event("late", creditor="Banco Horizonte", due=dt.date(2026, 10, 1)),
        debt_event("early", creditor="Banco Horizonte", due=dt.date(2026, 9, 1)),
        debt_event("other", creditor="Água Viva Saneamento", due=dt.date(2026, 10, 20)),
    )
    agreement = neg.close([late], 3)
    out = statement(neg)
    assert [d.debt_id for d in out.debts] == [other, early, late]
    assert {d.debt_id: d.agreement_id for d in out.debts} == {
        other: None,
        early: None,
        late: agreement.agreement_id,
    }
    # The total is of the debts in collection: the agreement's are paid by its installments.
    assert out.total_updated_cents == sum(d.updated_value_cents for d in out.debts[:2])


def test_an_unknown_document_has_an_empty_statement(neg: Negotiation):
    out = statement(neg, MARIA)
    assert (out.debts, out.total_updated_cents, out.debtor_name) == ([], 0, None)


# ---- the statement's PDF -------------------------------------------------------------------


def test_statement_pdf_shows_the_debts_and_the_total(neg: Negotiation):
    [a, _] = neg.imported(
        debt_event("a", due=TODAY - dt.timedelta(days=30)),
        debt_event("b", amount=55_555, creditor="Loja Estrela"),
    )
    agreement = neg.close([a], 1)
    out = statement(neg)
    agreements = neg.app.list_agreements(ListAgreements(tenant=AGENCY, document=JOAO), TODAY)
    pdf = statement_document(out, "Recupera Sul Cobranças", agreements.agreements)
    assert pdf.startswith(b"%PDF")
    text = pdf_text(pdf)
    assert "Demonstrativo de débito" in text
    assert "Recupera Sul Cobranças" in text
    assert f"posição em {TODAY:%d/%m/%Y}" in text.lower()
    assert "João da Silva" in text and "***.982.247-**" in text
    assert format_brl(out.total_updated_cents) in text
    assert "Acordos em andamento" in text and agreement.agreement_id in text
    assert "Loja Estrela" in text
    # The same input gives the same bytes.
    assert statement_document(out, "Recupera Sul Cobranças", agreements.agreements) == pdf


def test_a_debt_of_an_agreement_not_given_stays_in_collection_tagged(neg: Negotiation):
    """Nothing owed is left out: without its agreement, a debt held by it is listed (and
    summed) in collection, tagged as before."""
    [a] = neg.imported(debt_event("a"))
    neg.close([a], 3)
    out = statement(neg)
    pdf = statement_document(out, "Recupera Sul Cobranças", [])
    text = " ".join(pdf_text(pdf).split())
    assert "em acordo" in text and "CT-a" in text
    updated = format_brl(out.debts[0].updated_value_cents)
    assert f"Total a pagar: {updated}" in text


def test_statement_pdf_without_open_debts_says_so(neg: Negotiation):
    pdf = statement_document(statement(neg, MARIA), "Recupera Sul Cobranças", [])
    assert pdf.startswith(b"%PDF")
    text = pdf_text(pdf)
    assert "Demonstrativo de débito" in text
    assert "Nenhum débito em aberto" in text


def test_the_request_server_answers_both_kinds(neg: Negotiation):
    [a] = neg.imported(debt_event("a"))
    neg.close([a], 1)
    host = SimpleNamespace(
        clock=SimpleNamespace(today=lambda: TODAY),
        broker=SimpleNamespace(subscriber=lambda *_, **__: lambda handler: handler),
        consumer_kwargs={},
    )
    server = NegotiationRequests(host, neg.app)  # type: ignore[arg-type]

    def ask(request: Any) -> Any:
        # As it arrives: the JSON body, parsed by the union.
        body = NegotiationRequestBody(request=request).model_dump_json()
        return server.run(NegotiationRequestBody.model_validate_json(body).request)

    listed = ask(ListAgreements(tenant=AGENCY, document=JOAO))
    assert isinstance(listed, AgreementList) and len(listed.agreements) == 1
    data = ask(GetStatement(tenant=AGENCY, document=JOAO))
    assert isinstance(data, StatementOut) and data.debts[0].agreement_id is not None
    pdf = ask(GetStatement(tenant=AGENCY, document=JOAO, pdf=True))
    assert isinstance(pdf, bytes) and pdf.startswith(b"%PDF")
    # The agency's name, from its settings.
    assert "Recupera Sul Assessoria Ltda" in pdf_text(pdf)


# ---- a debtor with an agreement (QA pass 7, D1) --------------------------------------------


def statement_pdf_text(neg: Negotiation, document: str = JOAO) -> str:
    """The PDF the chatbot links under /d/...: asked of the request server as the gateway does,
    its text on one line."""
    host = SimpleNamespace(
        clock=SimpleNamespace(today=lambda: TODAY),
        broker=SimpleNamespace(subscriber=lambda *_, **__: lambda handler: handler),
        consumer_kwargs={},
    )
    server = NegotiationRequests(host, neg.app)  # type: ignore[arg-type]
    pdf = server.run(GetStatement(tenant=AGENCY, document=document, pdf=True))
    assert isinstance(pdf, bytes) and pdf.startswith(b"%PDF")
    return " ".join(pdf_text(pdf).split())


def chat_left_to_pay(neg: Negotiation, document: str = JOAO) -> tuple[int, int]:
    """What the chat's greeting says: the debts without an agreement, and what is left of the
    active agreements."""
    agreements = neg.app.list_agreements(ListAgreements(tenant=AGENCY, document=document), TODAY)
    said = situation(statement(neg, document), agreements.agreements)
    return said.open_cents, said.left_cents


def test_the_statement_of_an_agreement_with_a_paid_installment_totals_what_is_left_to_pay(
    neg: Negotiation,
):
    """QA: three debts of Banco Horizonte in an agreement in 3, parcela 1 paid. The chat said
    'R$ 7.993,52 a pagar' and the PDF listed the three debts at their full updated values under
    'Débitos em aberto', 'Total atualizado: R$ 13.379,10', the agreement named nowhere."""
    debts = neg.imported(
        debt_event("a", amount=300_000, due=dt.date(2024, 9, 10)),
        debt_event("b", amount=250_000, due=dt.date(2024, 10, 10)),
        debt_event("c", amount=280_000, due=dt.date(2024, 11, 10)),
    )
    agreement = neg.close(debts, 3)
    first, second, third = agreement.invoices
    neg.pay(invoice_id=first.invoice_id, amount_cents=first.amount_cents, paid_on=TODAY)
    full_value = sum(d.updated_value_cents for d in statement(neg).debts)
    left = second.amount_cents + third.amount_cents
    assert agreement.total_cents < full_value

    # The data: nothing in collection; the debts still named with their agreement.
    out = statement(neg)
    assert {d.agreement_id for d in out.debts} == {agreement.agreement_id}
    assert out.total_updated_cents == 0
    assert chat_left_to_pay(neg) == (0, left)

    text = statement_pdf_text(neg)
    # The agreement, as the portal names it, with its figures.
    assert f"Banco Horizonte: acordo de {TODAY:%d/%m/%Y}" in text
    assert f"Acordo nº {agreement.agreement_id}" in text
    assert f"Total do acordo: {format_brl(agreement.total_cents)}" in text
    assert f"Pago até agora: {format_brl(first.amount_cents)}" in text
    assert f"Saldo a pagar do acordo: {format_brl(left)}" in text
    # Its debts, by contract, and the installments still to pay: due date and amount.
    assert all(f"CT-{key}" in text for key in "abc")
    assert f"Parcela 2 de 3 {second.due_date:%d/%m/%Y} {format_brl(second.amount_cents)}" in text
    assert f"Parcela 3 de 3 {third.due_date:%d/%m/%Y} {format_brl(third.amount_cents)}" in text
    assert "Parcela 1 de 3" not in text
    # Nothing in collection, and the total agrees with the chat.
    assert "Nenhum débito em cobrança fora de acordo" in text
    assert f"Total atualizado dos débitos em cobrança: {format_brl(0)}" in text
    assert f"Total a pagar: {format_brl(left)}" in text
    # The full value is named only as what the agreement started from, never as owed.
    assert text.count(format_brl(full_value)) == 1
    assert f"Valor atualizado das dívidas na data do acordo: {format_brl(full_value)}" in text


def test_debts_in_collection_are_summed_apart_from_the_agreement(neg: Negotiation):
    [a, free] = neg.imported(
        debt_event("a", due=TODAY - dt.timedelta(days=60)),
        debt_event(
            "free", amount=55_555, creditor="Loja Estrela", due=TODAY - dt.timedelta(days=30)
        ),
    )
    agreement = neg.close([a], 3)
    out = statement(neg)
    [in_collection] = [d for d in out.debts if d.agreement_id is None]
    assert in_collection.debt_id == free
    assert out.total_updated_cents == in_collection.updated_value_cents
    assert chat_left_to_pay(neg) == (in_collection.updated_value_cents, agreement.total_cents)

    text = statement_pdf_text(neg)
    collection = format_brl(in_collection.updated_value_cents)
    assert "Débitos em cobrança" in text and "Loja Estrela" in text
    assert f"Total atualizado dos débitos em cobrança: {collection}" in text
    assert f"Saldo a pagar do acordo: {format_brl(agreement.total_cents)}" in text
    total = in_collection.updated_value_cents + agreement.total_cents
    assert f"Total a pagar: {format_brl(total)}" in text
    assert "Parcela 1 de 3" in text


def test_a_partly_paid_installment_shows_what_was_paid_and_its_balance(neg: Negotiation):
    [a] = neg.imported(debt_event("a"))
    agreement = neg.close([a], 3)
    first, second, third = agreement.invoices
    neg.pay(invoice_id=first.invoice_id, amount_cents=10_000, paid_on=TODAY)
    balance = first.amount_cents - 10_000
    left = balance + second.amount_cents + third.amount_cents
    assert chat_left_to_pay(neg) == (0, left)

    text = statement_pdf_text(neg)
    assert (
        f"Parcela 1 de 3 {first.due_date:%d/%m/%Y} {format_brl(first.amount_cents)} "
        f"{format_brl(10_000)} {format_brl(balance)}"
    ) in text
    assert f"Pago até agora: {format_brl(10_000)}" in text
    assert f"Saldo a pagar do acordo: {format_brl(left)}" in text
    assert f"Total a pagar: {format_brl(left)}" in text


def test_debts_back_from_a_broken_agreement_owe_their_balance_after_what_was_paid(
    neg: Negotiation,
):
    portfolio = Collection(neg)
    a, b = portfolio.debt("CT-a", 100_000), portfolio.debt("CT-b", 50_000)
    agreement = neg.close([a, b], 3)
    first = agreement.invoices[0]
    neg.pay(invoice_id=first.invoice_id, amount_cents=first.amount_cents, paid_on=TODAY)
    neg.app.run_day(agreement.invoices[1].due_date + dt.timedelta(days=30))
    portfolio.flow()
    owed = {a: portfolio.owed(a), b: portfolio.owed(b)}
    assert sum(owed.values()) == 150_000 - first.amount_cents

    out = statement(neg)
    assert {d.debt_id: d.principal_cents for d in out.debts} == owed
    assert all(d.agreement_id is None for d in out.debts)
    assert out.total_updated_cents == sum(d.updated_value_cents for d in out.debts)

    text = statement_pdf_text(neg)
    # The broken agreement is no longer to be paid: its debts are back in collection.
    assert "Acordo nº" not in text
    assert all(format_brl(cents) in text for cents in owed.values())
    assert f"Total a pagar: {format_brl(out.total_updated_cents)}" in text
