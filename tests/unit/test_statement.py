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
    assert out.total_updated_cents == sum(d.updated_value_cents for d in out.debts)


def test_an_unknown_document_has_an_empty_statement(neg: Negotiation):
    out = statement(neg, MARIA)
    assert (out.debts, out.total_updated_cents, out.debtor_name) == ([], 0, None)


# ---- the statement's PDF -------------------------------------------------------------------


def test_statement_pdf_shows_the_debts_and_the_total(neg: Negotiation):
    [a, _] = neg.imported(
        debt_event("a", due=TODAY - dt.timedelta(days=30)),
        debt_event("b", amount=55_555, creditor="Loja Estrela"),
    )
    neg.close([a], 1)
    out = statement(neg)
    pdf = statement_document(out, "Recupera Sul Cobranças")
    assert pdf.startswith(b"%PDF")
    text = pdf_text(pdf)
    assert "Demonstrativo de débito" in text
    assert "Recupera Sul Cobranças" in text
    assert f"posição em {TODAY:%d/%m/%Y}" in text.lower()
    assert "João da Silva" in text and "***.982.247-**" in text
    assert format_brl(out.total_updated_cents) in text
    assert "em acordo" in text
    assert "Loja Estrela" in text
    # The same input gives the same bytes.
    assert statement_document(out, "Recupera Sul Cobranças") == pdf


def test_statement_pdf_without_open_debts_says_so(neg: Negotiation):
    pdf = statement_document(statement(neg, MARIA), "Recupera Sul Cobranças")
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
