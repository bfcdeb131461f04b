"""The negotiation service's use cases, as the Recuperador portal and EliteSoft seeds tell
them: a debtor sees offers, closes an agreement once (however often the button is pressed),
pays it by boleto, PIX or a bank's return file, and an agreement left unpaid breaks. Runs on
the in-memory event store and the real debts projection over a SQLite file."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import threading
import uuid
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from eventsourcing.persistence import StoredEvent
from pypdf import PdfReader

from contracts.envelope import derived_event_id
from contracts.invoices import installment_heading, plan_kinds
from contracts.money import format_brl
from contracts.negotiation import (
    InstallmentPaid,
    InstallmentPaidV2,
    InvoiceOverdueV2,
    PaymentConditionTerms,
)
from contracts.negotiation_requests import (
    BoletoSettings,
    CloseAgreement,
    GetAgreement,
    GetDocument,
    GetOffers,
    GetStatement,
    ImportCnab240,
    ListAgreements,
    NegotiationSettings,
    PaymentReport,
    PixSettings,
    RecordPayment,
    SaveCondition,
    SaveSettings,
)
from contracts.personal import PersonalDataErased
from contracts.portfolio import DebtImported, DebtImportedV2, DebtorContact, DebtReopened
from contracts.registry import parse_event
from service_runtime.database import sqlite_engine
from service_runtime.personal_data import REMOVED, KeyVault, SqlKeyVault, seal, unseal
from service_runtime.refusal import Refused
from service_runtime.stored_aggregates import StoredAggregates
from services.negotiation.adapters.cnab240 import ReturnPayment, write_cnab240_return
from services.negotiation.adapters.debts_view import (
    DebtRow,
    ErasuresProjection,
    NegotiableDebtsProjection,
    SqlDebtLookup,
    SqlErasures,
)
from services.negotiation.adapters.integration_events import IntegrationEvents
from services.negotiation.application import NegotiationApplication
from services.negotiation.domain.boleto import BeneficiaryAccount, segment_t_nosso_numero
from services.negotiation.entrypoints.requests import answer
from services.negotiation.entrypoints.requests import document as document_pdf
from services.portfolio.adapters.integration_events import (
    integration_events as portfolio_events,
)
from services.portfolio.application.agreements import apply_agreement_outcomes
from services.portfolio.application.importing import PortfolioApplication
from services.portfolio.domain.debt import Debt
from tests.support.stored_events import as_stored_in

AGENCY = "recupera-sul"
JOAO = "52998224725"
MARIA = "11144477735"
TODAY = dt.date(2026, 11, 25)  # a Wednesday
# The agency's own beneficiary and PIX key; the rest as a tenant starts (Bradesco's layout).
AGENCY_SETTINGS = NegotiationSettings(
    boleto=BoletoSettings(
        beneficiary_name="Recupera Sul Assessoria Ltda", beneficiary_document="11222333000181"
    ),
    pix=PixSettings(key="pix@recupera-sul.com.br"),
)
T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


def debt_event(
    key: str,
    *,
    document: str = JOAO,
    creditor: str = "Banco Horizonte",
    amount: int = 100_000,
    due: dt.date = dt.date(2026, 9, 26),
) -> DebtImported:
    debt_id = str(uuid.uuid5(uuid.NAMESPACE_URL, key))
    return DebtImported(
        event_id=derived_event_id("test", debt_id, 1),
        occurred_at=T0,
        tenant=AGENCY,
        aggregate_id=debt_id,
        aggregate_version=1,
        correlation_id="imp-1",
        causation_id="row-1",
        debt_id=debt_id,
        document=document,
        document_kind="cpf",
        debtor=DebtorContact(name="João da Silva" if document == JOAO else "Maria Souza"),
        creditor=creditor,
        contract=f"CT-{key}",
        installment="1",
        original_amount_cents=amount,
        due_date=due,
        import_id="imp-1",
        row_key=key,
    )


def debt_event_v2(
    vault: KeyVault,
    key: str,
    *,
    document: str = MARIA,
    name: str = "Maria Souza",
    version: int = 1,
) -> DebtImportedV2:
    """What the portfolio publishes now: the debtor's contact sealed with the debtor's key."""
    debt_id = str(uuid.uuid5(uuid.NAMESPACE_URL, key))
    return DebtImportedV2(
        event_id=derived_event_id("test", debt_id, version),
        occurred_at=T0,
        tenant=AGENCY,
        aggregate_id=debt_id,
        aggregate_version=version,
        correlation_id="imp-2",
        causation_id="row-1",
        debt_id=debt_id,
        document=document,
        document_kind="cpf",
        personal=seal(
            vault.key_for(AGENCY, document),
            {
                "name": name,
                "email": "maria@example.com",
                "phone": None,
                "city": None,
                "state": None,
            },
        ),
        creditor="Banco Horizonte",
        contract=f"CT-{key}",
        installment="1",
        original_amount_cents=100_000,
        due_date=dt.date(2026, 9, 26),
        import_id="imp-2",
        row_key=key,
    )


def erasure(vault: KeyVault, document: str = MARIA) -> PersonalDataErased:
    """What the gateway does: erase the debtor's keys, then say so on privacy.erasures."""
    key_ids = vault.erase(AGENCY, document, by="admin@recupera-sul", at=T0)
    return PersonalDataErased(
        event_id=uuid.uuid4(),
        occurred_at=T0,
        tenant=AGENCY,
        aggregate_id=document,
        aggregate_version=1,
        correlation_id="erasure-1",
        causation_id="erasure-1",
        document=document,
        key_ids=key_ids,
        requested_by="admin@recupera-sul",
        reason="pedido do titular",
    )


def pdf_text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


class Negotiation:
    """The application with its debts projection, its erasures and the key vault, as the
    worker wires them."""

    def __init__(self, tmp_path: Path) -> None:
        self.engine = sa.create_engine(f"sqlite:///{tmp_path / 'negotiation.sqlite'}")
        # The keys in a database of their own, as in the platform.
        self.vault = SqlKeyVault(sqlite_engine(str(tmp_path / "keys.sqlite")))
        self.projection = NegotiableDebtsProjection(self.vault)
        self.projection.create_tables(self.engine)
        self.erasures_projection = ErasuresProjection(self.vault)
        self.erasures_projection.create_tables(self.engine)
        self.app = NegotiationApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
        self.app.debt_lookup = SqlDebtLookup(self.engine)
        self.app.vault = self.vault
        self.app.erasures = SqlErasures(self.engine)
        self.mapper = IntegrationEvents(
            self.vault, self.app.erasures.erased, StoredAggregates(self.app).tenant_of
        )
        self.paid_to(AGENCY)

    def paid_to(self, tenant: str) -> None:
        """Where the agency is paid: no boleto nor PIX is issued before it says so."""
        self.app.save_settings(
            SaveSettings(tenant=tenant, settings=AGENCY_SETTINGS, saved_by="admin")
        )

    def imported(self, *events: Any) -> list[str]:
        with self.engine.begin() as conn:
            self.projection.apply(conn, list(events))
        return [e.debt_id for e in events if isinstance(e, DebtImported | DebtImportedV2)]

    def erased(self, *events: Any) -> None:
        """`privacy.erasures` read by the service (as its consumer applies them)."""
        with self.engine.begin() as conn:
            self.erasures_projection.apply(conn, list(events))

    def portal_discounts(self) -> None:
        """The agency's portal discounts (Recuperador seed): à vista with every charge off,
        3x with half of them off."""
        self.condition(installments=1, charges_discount_pct=Decimal(100), description="À vista")
        self.condition(installments=3, charges_discount_pct=Decimal(50))

    def condition(self, **terms: Any) -> str:
        out = self.app.save_condition(
            SaveCondition(
                tenant=AGENCY,
                condition_id=str(uuid.uuid4()),
                terms=PaymentConditionTerms(**terms),
                saved_by="admin",
            )
        )
        return out.condition_id

    def close(
        self, debt_ids: list[str], n: int, key: str = "k1", document: str | None = JOAO
    ) -> Any:
        return self.app.close_agreement(
            CloseAgreement(
                tenant=AGENCY,
                document=document,
                debt_ids=debt_ids,
                installments=n,
                channel="portal",
                idempotency_key=key,
            ),
            TODAY,
        )

    def pay(self, today: dt.date = TODAY, **report: Any) -> Any:
        return self.app.record_payment(AGENCY, PaymentReport(**report), source="api", today=today)

    def published(self) -> list[Any]:
        """Every integration event the relay would publish, in order."""
        events = []
        for notification in self.app.recorder.select_notifications(1, 100_000):
            domain_event = self.app.mapper.to_domain_event(notification)
            for _topic, event in self.mapper(domain_event):
                # What consumers read: the JSON, parsed back by its contract.
                events.append(parse_event(event.model_dump_json().encode()))
        return events


@pytest.fixture
def neg(tmp_path: Path) -> Iterator[Negotiation]:
    n = Negotiation(tmp_path)
    # The portal discounts, and 10x with nothing off and a R$ 50,00 minimum.
    n.portal_discounts()
    n.condition(installments=10, min_installment_cents=5_000)
    yield n


def test_offers_show_the_updated_value_crossed_out_and_the_cash_price_suggested(neg: Negotiation):
    [debt] = neg.imported(debt_event("a"))
    offers = neg.app.offers(
        GetOffers(tenant=AGENCY, document=JOAO, debt_ids=[debt], channel="portal"), TODAY
    )
    # R$ 1.000,00 due 26/09, 60 days late: multa 2% = 20,00; juros 1% x 60/30 = 20,00.
    assert offers.updated_value_cents == 104_000
    assert [(o.installments, o.total_cents) for o in offers.offers] == [
        (1, 100_000),
        (3, 102_000),
        (10, 104_000),
    ]
    assert offers.suggested_value_cents == 100_000
    three = offers.offers[1]
    assert [p.amount_cents for p in three.schedule] == [34_000, 34_000, 34_000]
    # 25/11 (qua), 25/12 is Christmas (sex) -> 28/12 (seg), 25/01/2027 (seg).
    assert [p.due_date for p in three.schedule] == [
        dt.date(2026, 11, 25),
        dt.date(2026, 12, 28),
        dt.date(2027, 1, 25),
    ]


def test_a_debtor_never_sees_nor_negotiates_someone_elses_debt(neg: Negotiation):
    [joao_debt, maria_debt] = neg.imported(debt_event("a"), debt_event("m", document=MARIA))
    with pytest.raises(Refused) as refused:
        neg.app.offers(
            GetOffers(tenant=AGENCY, document=JOAO, debt_ids=[maria_debt], channel="portal"),
            TODAY,
        )
    assert refused.value.status == 404
    with pytest.raises(Refused) as refused:
        neg.close([joao_debt, maria_debt], 1, document=None)
    assert refused.value.details[0][1] == "same_debtor"


def test_closing_twice_with_the_same_key_gives_one_agreement(neg: Negotiation):
    [debt] = neg.imported(debt_event("a"))
    first = neg.close([debt], 3)
    again = neg.close([debt], 3)
    assert again.agreement_id == first.agreement_id
    assert again.replayed and not first.replayed
    assert first.total_cents == 102_000
    assert sum(i.amount_cents for i in first.invoices) == first.total_cents
    closed = [e for e in neg.published() if e.type == "AgreementClosed"]
    assert len(closed) == 1
    assert closed[0].installments[0].barcode == first.invoices[0].barcode


def test_the_same_key_for_other_debts_is_refused(neg: Negotiation):
    [a, b] = neg.imported(debt_event("a"), debt_event("b"))
    neg.close([a], 1)
    with pytest.raises(Refused) as refused:
        neg.close([b], 1)
    assert (refused.value.status, refused.value.details[0][0]) == (422, "Idempotency-Key")


def test_a_debt_in_an_active_agreement_cannot_be_negotiated_again(neg: Negotiation):
    [debt] = neg.imported(debt_event("a"))
    neg.close([debt], 1, key="first")
    with pytest.raises(Refused) as refused:
        neg.close([debt], 3, key="second")
    assert (refused.value.status, refused.value.code) == (409, "debt_in_agreement")


def test_two_concurrent_closes_on_the_same_debt_give_one_agreement_and_one_409(
    neg: Negotiation,
):
    [debt] = neg.imported(debt_event("a"))
    real_lookup = neg.app.debt_lookup
    both_read = threading.Barrier(2)
    waited: set[int] = set()

    class RacingLookup:
        # Both requests read the debt before either saves: the store must decide.
        def debts(self, tenant: str, debt_ids: Sequence[str]) -> list[DebtRow]:
            rows = real_lookup.debts(tenant, debt_ids)
            me = threading.get_ident()
            if me not in waited:
                waited.add(me)
                both_read.wait(timeout=5)
            return rows

    neg.app.debt_lookup = RacingLookup()
    outcomes: list[Any] = []

    def close(key: str) -> None:
        try:
            outcomes.append(neg.close([debt], 1, key=key))
        except Refused as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=close, args=(k,)) for k in ("tab-1", "tab-2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    refusals = [o for o in outcomes if isinstance(o, Refused)]
    agreements = [o for o in outcomes if not isinstance(o, Refused)]
    assert len(agreements) == 1 and len(refusals) == 1
    assert refusals[0].status == 409
    assert len([e for e in neg.published() if e.type == "AgreementClosed"]) == 1


def test_changing_a_condition_never_changes_an_agreement_already_closed(neg: Negotiation):
    [debt] = neg.imported(debt_event("a"))
    agreement = neg.close([debt], 3)
    [three] = [c for c in neg.app.list_conditions(AGENCY).conditions if c.terms.installments == 3]
    neg.app.save_condition(
        SaveCondition(
            tenant=AGENCY,
            condition_id=three.condition_id,
            terms=PaymentConditionTerms(installments=3, charges_discount_pct=Decimal(0)),
            saved_by="admin",
        )
    )
    again = neg.app.get_agreement(
        GetAgreement(tenant=AGENCY, agreement_id=agreement.agreement_id), TODAY
    )
    assert again.total_cents == 102_000
    assert [i.amount_cents for i in again.invoices] == [34_000] * 3


def test_what_does_not_exist_is_named_and_a_change_never_creates(neg: Negotiation) -> None:
    [debt] = neg.imported(debt_event("a"))
    neg.condition(installments=1)
    agreement = neg.close([debt], 1)
    asked = {
        "agreement_id": GetAgreement(tenant=AGENCY, agreement_id="nope"),
        "invoice_id": GetDocument(
            tenant=AGENCY, agreement_id=agreement.agreement_id, invoice_id="nope"
        ),
    }
    for field, request in asked.items():
        with pytest.raises(Refused) as refused:
            if isinstance(request, GetAgreement):
                neg.app.get_agreement(request, TODAY)
            else:
                document_pdf(neg.app, request, TODAY)
        assert (refused.value.status, refused.value.details[0][:2]) == (
            404,
            (field, "not_found"),
        )
    # A change (PUT) to a condition id that does not exist adds no condition.
    before = neg.app.list_conditions(AGENCY).conditions
    with pytest.raises(Refused) as refused:
        neg.app.save_condition(
            SaveCondition(
                tenant=AGENCY,
                condition_id="nope",
                terms=PaymentConditionTerms(installments=3),
                saved_by="admin",
                existing_only=True,
            )
        )
    assert refused.value.details[0][:2] == ("condition_id", "not_found")
    assert neg.app.list_conditions(AGENCY).conditions == before


def test_payments_exact_partial_excess_unmatched_and_twice(neg: Negotiation):
    [debt] = neg.imported(debt_event("a"))
    agreement = neg.close([debt], 3)
    first, second, third = agreement.invoices

    paid = neg.pay(invoice_id=first.invoice_id, amount_cents=34_000, paid_on=TODAY)
    assert (paid.outcome, paid.balance_cents, paid.duplicate) == ("paid", 0, False)
    again = neg.pay(invoice_id=first.invoice_id, amount_cents=34_000, paid_on=TODAY)
    assert again.duplicate and again.payment_id == paid.payment_id

    partial = neg.pay(nosso_numero=second.nosso_numero, amount_cents=30_000, paid_on=TODAY)
    assert (partial.outcome, partial.applied_cents, partial.balance_cents) == (
        "partial",
        30_000,
        4_000,
    )
    # A person reads the reason (the API's answer, the debtor's timeline): money in reais.
    assert partial.reason == "pagamento parcial: faltam R$ 40,00 nesta parcela"
    rest = neg.pay(
        invoice_id=second.invoice_id, amount_cents=5_000, paid_on=TODAY, reference="pix-e2e-9"
    )
    assert (rest.outcome, rest.applied_cents, rest.credit_cents) == ("excess", 4_000, 1_000)

    nowhere = neg.pay(invoice_id="not-an-invoice", amount_cents=1_234, paid_on=TODAY)
    assert nowhere.outcome == "unmatched" and nowhere.reason

    state = neg.app.get_agreement(
        GetAgreement(tenant=AGENCY, agreement_id=agreement.agreement_id), TODAY
    )
    assert [i.status for i in state.invoices] == ["paid", "paid", "open"]
    assert (state.paid_cents, state.credit_cents) == (68_000, 1_000)

    events = neg.published()
    received = [e for e in events if e.type == "PaymentReceived"]
    # Every payment kept, the unmatched one too; the repeated one once.
    assert sorted(e.outcome for e in received) == ["excess", "paid", "partial", "unmatched"]
    assert [e.installment_number for e in events if e.type == "InstallmentPaid"] == [1, 2]

    last = neg.pay(invoice_id=third.invoice_id, amount_cents=34_000, paid_on=TODAY)
    assert last.outcome == "paid"
    fulfilled = [e for e in neg.published() if e.type == "AgreementFulfilled"]
    assert len(fulfilled) == 1 and fulfilled[0].paid_cents == 102_000


def paid_in_full(
    invoice: Any, paid_on: dt.date = TODAY, credited_on: dt.date | None = None
) -> ReturnPayment:
    """A bank's liquidation of `invoice` (an invoice of a closed agreement), for its amount."""
    return ReturnPayment(
        nosso_numero=invoice.nosso_numero,
        amount_cents=invoice.amount_cents,
        paid_cents=invoice.amount_cents,
        due_date=invoice.due_date,
        paid_on=paid_on,
        credited_on=credited_on,
    )


def return_file(*payments: ReturnPayment) -> str:
    """Bradesco's CNAB 240 return file of today with these payments."""
    return write_cnab240_return(
        bank_code="237", company_name="RECUPERA SUL", generated_on=TODAY, payments=list(payments)
    )


def test_a_bank_return_file_pays_by_nosso_numero(neg: Negotiation):
    [debt] = neg.imported(debt_event("a"))
    agreement = neg.close([debt], 1)
    invoice = agreement.invoices[0]
    content = return_file(
        paid_in_full(invoice),
        ReturnPayment(
            nosso_numero="99999", amount_cents=500, paid_cents=500, due_date=TODAY, paid_on=TODAY
        ),
    )
    result = neg.app.import_cnab240(ImportCnab240(tenant=AGENCY, content=content), TODAY)
    assert [p.outcome for p in result.payments] == ["paid", "unmatched"]
    # The same file again: nothing applied twice.
    again = neg.app.import_cnab240(ImportCnab240(tenant=AGENCY, content=content), TODAY)
    assert all(p.duplicate for p in again.payments)


def test_a_payment_dated_after_the_business_day_is_refused_and_nothing_is_kept(
    neg: Negotiation,
) -> None:
    [debt] = neg.imported(debt_event("a"))
    agreement = neg.close([debt], 1)
    invoice = agreement.invoices[0]
    tomorrow = TODAY + dt.timedelta(days=1)

    # As the gateway asks it: the request server answers on the business clock's day.
    with pytest.raises(Refused) as refused:
        answer(
            neg.app,
            RecordPayment(
                tenant=AGENCY,
                payment=PaymentReport(
                    invoice_id=invoice.invoice_id, amount_cents=100, paid_on=tomorrow
                ),
            ),
            TODAY,
        )

    error = refused.value.reply()
    assert (error.status, error.code) == (422, "validation_failed")
    [detail] = error.details
    assert (detail.field, detail.rule) == ("paid_on", "not_in_future")
    assert detail.message == "data de pagamento 26/11/2026 está no futuro: hoje é 25/11/2026"
    assert [e for e in neg.published() if e.type == "PaymentReceived"] == []
    state = neg.app.get_agreement(
        GetAgreement(tenant=AGENCY, agreement_id=agreement.agreement_id), TODAY
    )
    assert state.invoices[0].status == "open"
    # On that day it is a payment like any other.
    assert (
        neg.pay(
            today=tomorrow, invoice_id=invoice.invoice_id, amount_cents=100, paid_on=tomorrow
        ).outcome
        == "partial"
    )


def test_a_return_file_liquidation_dated_after_the_business_day_is_a_problem_line(
    neg: Negotiation,
) -> None:
    [a, b] = neg.imported(debt_event("a"), debt_event("b", document=MARIA))
    today_s = neg.close([a], 1).invoices[0]
    tomorrow_s = neg.close([b], 1, key="k2", document=MARIA).invoices[0]
    tomorrow = TODAY + dt.timedelta(days=1)
    content = return_file(
        paid_in_full(today_s),
        # Paid today, but the bank credits it tomorrow: not received yet.
        paid_in_full(tomorrow_s, credited_on=tomorrow),
    )

    result = neg.app.import_cnab240(ImportCnab240(tenant=AGENCY, content=content), TODAY)

    assert [p.invoice_id for p in result.payments] == [today_s.invoice_id]
    [problem] = result.skipped
    assert problem.startswith("linha 5: nosso número ")
    assert "data de crédito 26/11/2026 está no futuro (hoje é 25/11/2026): não aplicado" in (
        problem
    )
    received = [e.invoice_id for e in neg.published() if e.type == "PaymentReceived"]
    assert received == [today_s.invoice_id]

    # The same file the next business day: the one left is applied, the other not twice.
    again = neg.app.import_cnab240(ImportCnab240(tenant=AGENCY, content=content), tomorrow)
    assert [(p.invoice_id, p.duplicate) for p in again.payments] == [
        (today_s.invoice_id, True),
        (tomorrow_s.invoice_id, False),
    ]
    assert again.skipped == []


def test_a_payment_dated_before_its_agreement_is_refused_and_nothing_is_kept(
    neg: Negotiation,
) -> None:
    [debt] = neg.imported(debt_event("a"))
    agreement = neg.close([debt], 1)
    invoice = agreement.invoices[0]

    with pytest.raises(Refused) as refused:
        answer(
            neg.app,
            RecordPayment(
                tenant=AGENCY,
                payment=PaymentReport(
                    invoice_id=invoice.invoice_id, amount_cents=100, paid_on=dt.date(1900, 1, 1)
                ),
            ),
            TODAY,
        )

    error = refused.value.reply()
    assert (error.status, error.code) == (422, "validation_failed")
    [detail] = error.details
    assert (detail.field, detail.rule) == ("paid_on", "before_agreement")
    assert detail.message == (
        "data de pagamento 01/01/1900 é anterior ao acordo que emitiu a fatura, "
        "fechado em 25/11/2026"
    )
    assert [e for e in neg.published() if e.type == "PaymentReceived"] == []
    state = neg.app.get_agreement(
        GetAgreement(tenant=AGENCY, agreement_id=agreement.agreement_id), TODAY
    )
    assert state.invoices[0].status == "open"
    # Paid the day it was closed: applied.
    assert neg.pay(invoice_id=invoice.invoice_id, amount_cents=100, paid_on=TODAY).outcome == (
        "partial"
    )


def test_a_return_file_liquidation_dated_before_its_agreement_is_a_problem_line(
    neg: Negotiation,
) -> None:
    [a, b] = neg.imported(debt_event("a"), debt_event("b", document=MARIA))
    good = neg.close([a], 1).invoices[0]
    early = neg.close([b], 1, key="k2", document=MARIA).invoices[0]
    last_year = dt.date(2025, 11, 25)
    content = return_file(
        paid_in_full(good), paid_in_full(early, paid_on=last_year, credited_on=last_year)
    )

    result = neg.app.import_cnab240(ImportCnab240(tenant=AGENCY, content=content), TODAY)

    assert [p.invoice_id for p in result.payments] == [good.invoice_id]
    [problem] = result.skipped
    assert problem.startswith("linha 5: nosso número ")
    assert problem.endswith(
        "data de pagamento 25/11/2025 é anterior ao acordo que emitiu a fatura, "
        "fechado em 25/11/2026: não aplicado"
    )
    received = [e.invoice_id for e in neg.published() if e.type == "PaymentReceived"]
    assert received == [good.invoice_id]


def test_unknown_debts_are_named_a_few_at_a_time(neg: Negotiation) -> None:
    [debt] = neg.imported(debt_event("a"))
    unknown = [f"x-{i}" for i in range(199)]  # with the known one, the most a request takes

    for missing, said in [
        (["x-0"], "dívida não encontrada: x-0"),
        (unknown[:3], "3 dívidas não encontradas: x-0, x-1 e x-2"),
        (unknown[:4], "4 dívidas não encontradas: x-0, x-1, x-2 e mais 1"),
        (unknown, "199 dívidas não encontradas: x-0, x-1, x-2 e mais 196"),
    ]:
        with pytest.raises(Refused) as refused:
            neg.close([debt, *missing], 1)
        error = refused.value.reply()
        assert (error.status, error.code, error.message) == (404, "debt_not_found", said)
        assert [(d.field, d.rule, d.message) for d in error.details] == [
            ("debt_ids", "not_found", said)
        ]


def _with_segment_t_nosso_numero(content: str, fields: list[str]) -> str:
    """The return file with positions 38-57 of each segment T replaced, in order, by `fields`:
    the nosso número as the bank writes it."""
    lines = content.split("\r\n")
    pending = iter(fields)
    for i, line in enumerate(lines):
        if line[7:8] == "3" and line[13:14] == "T":
            lines[i] = line[:37] + next(pending) + line[57:]
    return "\r\n".join(lines)


@pytest.mark.parametrize(
    "boleto",
    [
        BoletoSettings(
            bank_code="001",
            bank_name="Banco do Brasil S.A.",
            agency="4042",
            account="61900",
            wallet="18",
            beneficiary_code="1238798",
        ),
        BoletoSettings(
            bank_code="341", bank_name="Itaú Unibanco S.A.", agency="810", account="53678",
            wallet="175",
        ),
        BoletoSettings(
            bank_code="104", bank_name="Caixa Econômica Federal", agency="1825", account="528",
            wallet="1", beneficiary_code="245274",
        ),
    ],
    ids=lambda b: b.bank_code,
)  # fmt: skip
def test_a_bank_return_file_pays_by_the_nosso_numero_the_bank_writes(
    neg: Negotiation, boleto: BoletoSettings
) -> None:
    boleto = boleto.model_copy(update={"beneficiary_document": "11222333000181"})
    settings = AGENCY_SETTINGS.model_copy(update={"boleto": boleto})
    neg.app.save_settings(SaveSettings(tenant=AGENCY, settings=settings, saved_by="adm"))
    [a, b] = neg.imported(debt_event("a"), debt_event("b", document=MARIA))
    first = neg.close([a], 1).invoices[0]
    second = neg.close([b], 1, key="k2", document=MARIA).invoices[0]
    assert first.barcode.startswith(boleto.bank_code)
    account = BeneficiaryAccount(
        boleto.bank_code, boleto.agency, boleto.account, boleto.wallet, boleto.beneficiary_code
    )
    written = [
        segment_t_nosso_numero(account, int(first.nosso_numero)),
        segment_t_nosso_numero(account, int(second.nosso_numero)),
    ]
    # The bank's own field is not just our number: reading its digits would not find it.
    assert all(
        w.strip() != inv.nosso_numero for w, inv in zip(written, (first, second), strict=True)
    )
    payments = [
        ReturnPayment(
            nosso_numero="1",  # replaced below by the bank's field
            amount_cents=invoice.amount_cents,
            paid_cents=invoice.amount_cents,
            due_date=invoice.due_date,
            paid_on=TODAY,
        )
        for invoice in (first, second)
    ]
    content = _with_segment_t_nosso_numero(
        write_cnab240_return(
            bank_code=boleto.bank_code,
            company_name="RECUPERA SUL",
            generated_on=TODAY,
            payments=payments,
        ),
        written,
    )

    result = neg.app.import_cnab240(ImportCnab240(tenant=AGENCY, content=content), TODAY)

    assert [p.outcome for p in result.payments] == ["paid", "paid"]
    assert [p.invoice_id for p in result.payments] == [first.invoice_id, second.invoice_id]


def test_a_bank_without_a_boleto_layout_is_refused(neg: Negotiation) -> None:
    settings = NegotiationSettings(boleto=BoletoSettings(bank_code="422"))
    with pytest.raises(Refused) as refused:
        neg.app.save_settings(SaveSettings(tenant=AGENCY, settings=settings, saved_by="adm"))
    error = refused.value.reply()
    assert error.status == 422
    assert error.code == "validation_failed"
    [detail] = error.details
    assert (detail.field, detail.rule) == ("boleto.bank_code", "unsupported_bank")
    assert "'422'" in detail.message and "748 (Sicredi)" in detail.message


def test_boleto_settings_a_bank_cannot_take_are_refused(neg: Negotiation) -> None:
    settings = NegotiationSettings(boleto=BoletoSettings(bank_code="001", wallet="18"))
    with pytest.raises(Refused) as refused:
        neg.app.save_settings(SaveSettings(tenant=AGENCY, settings=settings, saved_by="adm"))
    assert [(d.field, d.rule) for d in refused.value.reply().details] == [
        ("boleto.beneficiary_code", "required")
    ]


def test_unpaid_invoices_go_overdue_and_the_agreement_breaks(neg: Negotiation):
    [a, b] = neg.imported(debt_event("a"), debt_event("b", amount=50_000))
    agreement = neg.close([a, b], 3)
    first = agreement.invoices[0]
    # The down payment (entrada) paid 10 days late; nothing else.
    neg.app.run_day(first.due_date + dt.timedelta(days=1))
    neg.pay(invoice_id=first.invoice_id, amount_cents=first.amount_cents, paid_on=TODAY)
    second = agreement.invoices[1]
    neg.app.run_day(second.due_date + dt.timedelta(days=1))
    neg.app.run_day(second.due_date + dt.timedelta(days=1))  # the same day twice: once
    events = neg.published()
    overdue = [(e.installment_number, e.days_overdue) for e in events if e.type == "InvoiceOverdue"]
    assert overdue == [(1, 1), (2, 1)]
    assert not [e for e in events if e.type == "AgreementBroken"]

    breaking_day = second.due_date + dt.timedelta(days=30)
    neg.app.run_day(breaking_day)
    [broken] = [e for e in neg.published() if e.type == "AgreementBroken"]
    assert (broken.rule, broken.installment_number, broken.days_overdue) == (
        "later_installment",
        2,
        30,
    )
    # What was paid is shared by principal: 2/3 to the R$ 1.000 debt, 1/3 to the R$ 500.
    assert broken.paid_cents == first.amount_cents
    assert sum(d.paid_cents for d in broken.debts) == first.amount_cents
    # Its debts can be negotiated again.
    neg.imported(
        DebtReopened(
            event_id=derived_event_id("test", a, 9),
            occurred_at=T0,
            tenant=AGENCY,
            aggregate_id=a,
            aggregate_version=2,
            correlation_id=broken.agreement_id,
            causation_id=str(broken.event_id),
            debt_id=a,
            document=JOAO,
            creditor="Banco Horizonte",
            contract="CT-a",
            installment="1",
            agreement_id=broken.agreement_id,
            reopened_on=breaking_day,
            paid_cents=broken.debts[0].paid_cents,
            balance_cents=broken.debts[0].balance_cents,
        )
    )
    offers = neg.app.offers(
        GetOffers(tenant=AGENCY, document=JOAO, debt_ids=[a], channel="portal"), breaking_day
    )
    assert offers.debts[0].principal_cents == broken.debts[0].balance_cents


def test_the_first_installment_breaks_the_agreement_after_five_days(neg: Negotiation):
    [debt] = neg.imported(debt_event("a"))
    agreement = neg.close([debt], 3)
    due = agreement.invoices[0].due_date
    neg.app.run_day(due + dt.timedelta(days=4))
    assert not [e for e in neg.published() if e.type == "AgreementBroken"]
    neg.app.run_day(due + dt.timedelta(days=5))
    [broken] = [e for e in neg.published() if e.type == "AgreementBroken"]
    assert broken.rule == "first_installment" and broken.paid_cents == 0
    late = neg.pay(invoice_id=agreement.invoices[0].invoice_id, amount_cents=34_000, paid_on=TODAY)
    # Money after the break is never lost: deducted from the debt back in collection.
    assert (late.outcome, late.applied_cents, late.credit_cents) == ("excess", 0, 0)
    [shared] = [e for e in neg.published() if e.type == "AgreementPaymentShared"]
    assert [(d.debt_id, d.deducted_cents) for d in shared.debts] == [(debt, 34_000)]


# ---- personal data (LGPD): the name sealed, opened when shown, gone once erased ---------


def names_in_view(neg: Negotiation, document: str) -> set[str]:
    with neg.engine.connect() as conn:
        return set(
            conn.execute(
                sa.text("SELECT debtor_name FROM negotiable_debts WHERE document = :d"),
                {"d": document},
            ).scalars()
        )


def test_debts_of_both_versions_are_read_and_the_sealed_name_opened(neg: Negotiation) -> None:
    old = debt_event("a")  # version 1: the name in clear
    new = debt_event_v2(neg.vault, "m")  # version 2: sealed
    assert "Maria" not in new.model_dump_json()
    [a, m] = neg.imported(old, new)
    [row_a] = neg.app.debt_lookup.debts(AGENCY, [a])
    [row_m] = neg.app.debt_lookup.debts(AGENCY, [m])
    assert (row_a.debtor_name, row_m.debtor_name) == ("João da Silva", "Maria Souza")
    # An update of version 2 (a higher version) replaces the name too.
    neg.imported(debt_event_v2(neg.vault, "m", name="Maria Souza Lima", version=2))
    assert names_in_view(neg, MARIA) == {"Maria Souza Lima"}


def test_agreement_events_stored_and_published_hold_no_clear_name(neg: Negotiation) -> None:
    [debt] = neg.imported(debt_event_v2(neg.vault, "m"))
    agreement = neg.close([debt], 3, document=MARIA)
    assert agreement.debtor_name == "Maria Souza"
    stored = [n.state for n in neg.app.recorder.select_notifications(1, 100_000)]
    assert stored and not any(b"Maria" in state or b"Souza" in state for state in stored)
    [closed] = [e for e in neg.published() if e.type == "AgreementClosed"]
    assert closed.schema_version == 2
    assert "Maria" not in closed.model_dump_json()
    assert unseal(closed.personal, neg.vault) == {"debtor_name": "Maria Souza"}


def test_after_the_erasure_the_agreement_and_its_documents_show_the_name_removed(
    neg: Negotiation,
) -> None:
    [debt] = neg.imported(debt_event_v2(neg.vault, "m"))
    agreement = neg.close([debt], 3, document=MARIA)
    get = GetAgreement(tenant=AGENCY, agreement_id=agreement.agreement_id, document=MARIA)
    term = GetDocument(tenant=AGENCY, agreement_id=agreement.agreement_id)
    invoice = GetDocument(
        tenant=AGENCY,
        agreement_id=agreement.agreement_id,
        invoice_id=agreement.invoices[0].invoice_id,
    )
    assert "MARIA SOUZA" in pdf_text(document_pdf(neg.app, term, TODAY)).upper()
    assert "MARIA SOUZA" in pdf_text(document_pdf(neg.app, invoice, TODAY)).upper()

    neg.erased(erasure(neg.vault))

    assert neg.app.get_agreement(get, TODAY).debtor_name == REMOVED
    statement = neg.app.statement(GetStatement(tenant=AGENCY, document=MARIA), TODAY)
    assert statement.debtor_name == REMOVED
    for pdf in (document_pdf(neg.app, term, TODAY), document_pdf(neg.app, invoice, TODAY)):
        text = pdf_text(pdf)
        assert "Maria" not in text and "MARIA" not in text.upper()
        assert REMOVED in text
    # Published again (a relay republishing everything), the name stays sealed and gone.
    [closed] = [e for e in neg.published() if e.type == "AgreementClosed"]
    assert unseal(closed.personal, neg.vault) is None


def test_the_erasure_scrubs_the_debts_view_for_good_and_is_idempotent(neg: Negotiation) -> None:
    old = debt_event("a", document=MARIA)  # version 1, "Maria Souza" in clear
    new = debt_event_v2(neg.vault, "m")
    neg.imported(old, new, debt_event("j"))
    assert names_in_view(neg, MARIA) == {"Maria Souza"}
    erased = erasure(neg.vault)

    neg.erased(erased)
    neg.erased(erased)  # delivered twice: nothing more happens

    assert names_in_view(neg, MARIA) == {REMOVED}
    assert names_in_view(neg, JOAO) == {"João da Silva"}  # another debtor: untouched
    assert neg.app.erasures.erased(AGENCY, MARIA)
    # Replayed from offset zero, the old events (name in clear) bring nothing back.
    with neg.engine.begin() as conn:
        neg.projection.reset(conn)
    neg.imported(old, new)
    assert names_in_view(neg, MARIA) == {REMOVED}
    # New data the creditor sends later is new data, under a new key.
    neg.imported(debt_event_v2(neg.vault, "m", name="Maria S.", version=2))
    assert "Maria S." in names_in_view(neg, MARIA)


def test_an_erasure_read_before_the_vault_forgets_still_hides_the_sealed_name(
    neg: Negotiation, tmp_path: Path
) -> None:
    new = debt_event_v2(neg.vault, "m")
    # Another process of the service, whose vault cache still holds the key.
    stale = SqlKeyVault(sqlite_engine(str(tmp_path / "keys.sqlite")), cache_seconds=3600)
    assert unseal(new.personal, stale) is not None
    neg.erased(erasure(neg.vault))
    projection = NegotiableDebtsProjection(stale)
    with neg.engine.begin() as conn:
        projection.apply(conn, [new])
    assert names_in_view(neg, MARIA) == {REMOVED}


def legacy_agreement(neg: Negotiation, name: str, document: str = JOAO) -> uuid.UUID:
    """An agreement closed before names were sealed: its stored Closed event (class version
    1) has `debtor_name` in clear."""
    [debt] = neg.imported(debt_event("legacy", document=document))
    out = neg.close([debt], 1, key="legacy", document=document)
    [closed] = [
        n
        for n in neg.app.recorder.select_notifications(1, 100_000)
        if n.originator_id == uuid.UUID(out.agreement_id) and n.originator_version == 1
    ]
    state = json.loads(closed.state)
    for field in ("class_version", "personal", "legacy_debtor_name"):
        del state[field]
    state["debtor_name"] = name
    legacy_id = uuid.uuid4()
    neg.app.recorder.insert_events(
        [
            StoredEvent(
                originator_id=legacy_id,
                originator_version=1,
                topic=closed.topic,
                state=json.dumps(state).encode(),
            )
        ]
    )
    return legacy_id


def test_a_legacy_agreement_reads_publishes_sealed_and_hides_its_name_once_erased(
    neg: Negotiation,
) -> None:
    legacy_id = legacy_agreement(neg, "Maria Souza", document=MARIA)
    get = GetAgreement(tenant=AGENCY, agreement_id=str(legacy_id))
    assert neg.app.get_agreement(get, TODAY).debtor_name == "Maria Souza"
    [_, republished] = [e for e in neg.published() if e.type == "AgreementClosed"]
    assert republished.schema_version == 2 and "Maria" not in republished.model_dump_json()
    assert unseal(republished.personal, neg.vault) == {"debtor_name": "Maria Souza"}

    neg.erased(erasure(neg.vault))

    assert neg.app.get_agreement(get, TODAY).debtor_name == REMOVED
    [_, again] = [e for e in neg.published() if e.type == "AgreementClosed"]
    assert unseal(again.personal, neg.vault) == {"debtor_name": REMOVED}


# ---- the documents: how installments are named ---------------------------------------------


def _documents(neg: Negotiation, agreement: Any) -> tuple[str, list[str]]:
    """The term's text and each boleto's, as the service hands them out."""
    term = GetDocument(tenant=AGENCY, agreement_id=agreement.agreement_id)
    boletos = [
        GetDocument(tenant=AGENCY, agreement_id=agreement.agreement_id, invoice_id=i.invoice_id)
        for i in agreement.invoices
    ]
    return pdf_text(document_pdf(neg.app, term, TODAY)), [
        pdf_text(document_pdf(neg.app, b, TODAY)) for b in boletos
    ]


def _schedule(term: str) -> list[str]:
    """The names of the installments in the term's payment schedule, in order."""
    table = term[term.index("Cronograma de pagamento") :]
    table = table[: table.index("Total")]
    return re.findall(r"Entrada|Parcela \d+ de \d+|Parcela única", table)


def _named(boleto: str) -> set[str]:
    """How a boleto names its installment (its reference and its instructions)."""
    found = re.findall(r"(Entrada|Parcela \d+ de \d+|Parcela única) (?:–|do) acordo", boleto)
    assert found, boleto
    return set(found)


def test_the_term_and_the_boletos_call_the_entrada_entrada_and_count_the_installments_after_it(
    neg: Negotiation,
) -> None:
    """QA: an agreement of an entrada and 3 installments read 'Parcela 2 de 4' for the first
    installment after the entrada in its term and boleto, while the portal said 'Parcela 1 de
    3'. One rule now (contracts.invoices), the portal's."""
    neg.condition(installments=4, min_down_payment_pct=Decimal(30))
    [debt] = neg.imported(debt_event("entrada"))
    agreement = neg.close([debt], 4, key="entrada")
    assert [i.kind for i in agreement.invoices] == ["down_payment"] + ["installment"] * 3

    term, boletos = _documents(neg, agreement)

    assert _schedule(term) == ["Entrada", "Parcela 1 de 3", "Parcela 2 de 3", "Parcela 3 de 3"]
    assert "de 4" not in term
    assert [_named(b) for b in boletos] == [
        {"Entrada"},
        {"Parcela 1 de 3"},
        {"Parcela 2 de 3"},
        {"Parcela 3 de 3"},
    ]


def test_without_an_entrada_every_installment_is_counted_and_one_payment_is_the_parcela_unica(
    neg: Negotiation,
) -> None:
    [a, b] = neg.imported(debt_event("a"), debt_event("b"))
    three = neg.close([a], 3, key="three")
    once = neg.close([b], 1, key="once")

    term, boletos = _documents(neg, three)
    assert _schedule(term) == ["Parcela 1 de 3", "Parcela 2 de 3", "Parcela 3 de 3"]
    assert [_named(b) for b in boletos] == [{f"Parcela {n} de 3"} for n in (1, 2, 3)]
    term, [boleto] = _documents(neg, once)
    assert _schedule(term) == ["Parcela única"]
    assert _named(boleto) == {"Parcela única"}


# ---- the boleto: handed out only while it pays its invoice ---------------------------------


def _boleto(neg: Negotiation, invoice: Any, document: str | None = None) -> bytes:
    """The invoice's boleto as the service answers a request for it (`document`: the debtor's
    own door, the portal or a chat link; None: staff)."""
    agreement_id = next(
        a.agreement_id
        for a in neg.app.list_agreements(
            ListAgreements(tenant=AGENCY, document=JOAO), TODAY
        ).agreements
        if any(i.invoice_id == invoice.invoice_id for i in a.invoices)
    )
    request = GetDocument(
        tenant=AGENCY, agreement_id=agreement_id, invoice_id=invoice.invoice_id, document=document
    )
    answered = answer(neg.app, request, TODAY)
    assert isinstance(answered, bytes)
    return answered


def _withheld(neg: Negotiation, invoice: Any) -> tuple[int, str, list[tuple[str, str, str]]]:
    """The refusal of the invoice's boleto, the same for the debtor and for staff."""
    replies = []
    for document in (JOAO, None):
        with pytest.raises(Refused) as refused:
            _boleto(neg, invoice, document)
        reply = refused.value.reply()
        replies.append(
            (reply.status, reply.code, [(d.field, d.rule, d.message) for d in reply.details])
        )
    assert replies[0] == replies[1]
    return replies[0]


def test_a_paid_invoices_boleto_is_refused_to_everyone_and_its_data_stays(neg: Negotiation):
    """QA: the negotiation service handed out a paid installment's boleto (the portal's API
    refused it to the debtor only; staff, the chat's links and the service itself gave it).
    The service owns invoices: it refuses it to every caller."""
    [debt] = neg.imported(debt_event("a"))
    agreement = neg.close([debt], 3)
    first, second, _ = agreement.invoices
    assert _boleto(neg, first).startswith(b"%PDF")
    neg.pay(invoice_id=first.invoice_id, amount_cents=first.amount_cents, paid_on=TODAY)

    message = "parcela paga: o boleto não serve mais"
    assert _withheld(neg, first) == (409, "invoice_paid", [("invoice", "paid", message)])
    # The next one still pays its invoice; the term is no boleto.
    assert _boleto(neg, second, JOAO).startswith(b"%PDF")
    term = GetDocument(tenant=AGENCY, agreement_id=agreement.agreement_id)
    assert document_pdf(neg.app, term, TODAY).startswith(b"%PDF")
    # Staff still see the invoice and its payment.
    shown = neg.app.get_agreement(
        GetAgreement(tenant=AGENCY, agreement_id=agreement.agreement_id), TODAY
    )
    paid = shown.invoices[0]
    assert (paid.status, paid.paid_cents, paid.balance_cents) == ("paid", first.amount_cents, 0)
    assert paid.digitable_line == first.digitable_line


def test_a_broken_agreements_boletos_are_cancelled_and_refused(neg: Negotiation):
    [debt] = neg.imported(debt_event("a"))
    agreement = neg.close([debt], 3)
    neg.app.run_day(agreement.invoices[0].due_date + dt.timedelta(days=5))  # broken
    assert [e.type for e in neg.published()].count("AgreementBroken") == 1

    for invoice in agreement.invoices:
        assert _withheld(neg, invoice) == (
            409,
            "invoice_cancelled",
            [
                (
                    "invoice",
                    "cancelled",
                    "parcela cancelada com o fim do acordo: o boleto não serve mais",
                )
            ],
        )


def test_a_partly_paid_invoices_boleto_is_refused_and_points_at_the_pix_of_its_balance(
    neg: Negotiation,
):
    """The boleto is registered with the installment's whole amount: paid by barcode it would
    charge again what was paid (the excess left as credit). Refused, saying what was paid and
    what is left, and how to pay it: the PIX of the balance (the portal and the chat give it)."""
    [debt] = neg.imported(debt_event("a"))
    agreement = neg.close([debt], 3)
    first = agreement.invoices[0]
    neg.pay(invoice_id=first.invoice_id, amount_cents=10_000, paid_on=TODAY)

    left = first.amount_cents - 10_000
    assert _withheld(neg, first) == (
        409,
        "invoice_partly_paid",
        [
            (
                "invoice",
                "partly_paid",
                f"parcela paga em parte (R$ 100,00 de {format_brl(first.amount_cents)}): o "
                "boleto tem o valor integral e não serve para pagar só o saldo; pague os "
                f"{format_brl(left)} que faltam com o PIX da parcela",
            )
        ],
    )
    shown = neg.app.get_agreement(
        GetAgreement(tenant=AGENCY, agreement_id=agreement.agreement_id), TODAY
    )
    assert (shown.invoices[0].status, shown.invoices[0].balance_cents) == ("open", left)
    # Paid in full afterwards: paid, still refused.
    neg.pay(invoice_id=first.invoice_id, amount_cents=left, paid_on=TODAY)
    assert _withheld(neg, first)[1] == "invoice_paid"


def test_an_invoice_paid_or_overdue_says_where_it_sits_in_the_plan(neg: Negotiation) -> None:
    """Its events travel on another topic than the agreement's closing: with its place in the
    plan (version 2) a reader names it as the boleto does without the closing."""
    neg.condition(installments=4, min_down_payment_pct=Decimal(30))
    [debt] = neg.imported(debt_event("placed"))
    agreement = neg.close([debt], 4, key="placed")
    entrada, first = agreement.invoices[:2]
    neg.pay(invoice_id=entrada.invoice_id, amount_cents=entrada.amount_cents, paid_on=TODAY)
    neg.app.run_day(first.due_date + dt.timedelta(days=1))

    events = neg.published()
    [paid] = [e for e in events if e.type == "InstallmentPaid"]
    [overdue] = [e for e in events if e.type == "InvoiceOverdue"]
    assert isinstance(paid, InstallmentPaidV2) and isinstance(overdue, InvoiceOverdueV2)
    assert (paid.installment_kind, paid.installments, paid.with_down_payment) == (
        "down_payment",
        4,
        True,
    )
    assert (overdue.installment_kind, overdue.installments, overdue.installment_number) == (
        "installment",
        4,
        2,
    )
    kinds = plan_kinds(overdue.installments, overdue.with_down_payment)
    assert installment_heading(overdue.installment_kind, overdue.installment_number, kinds) == (
        "Parcela 1 de 3"
    )


def test_an_invoice_event_stored_before_its_place_was_kept_is_published_as_it_was(
    neg: Negotiation,
) -> None:
    [debt] = neg.imported(debt_event("legacy"))
    agreement = neg.close([debt], 3, key="legacy")
    first = agreement.invoices[0]
    neg.pay(invoice_id=first.invoice_id, amount_cents=first.amount_cents, paid_on=TODAY)
    [stored] = [
        n
        for n in neg.app.recorder.select_notifications(1, 100_000)
        if n.topic.endswith("InstallmentPaid")
    ]
    legacy = as_stored_in(
        stored, 1, without=("installment_kind", "installments", "with_down_payment")
    )

    [(_, published)] = list(neg.mapper(neg.app.mapper.to_domain_event(legacy)))

    assert type(published) is InstallmentPaid  # version 1, as it went out then
    assert published.installment_number == 1


# ---- a payment to a broken agreement's boleto, reported after the break -----------------


class Collection:
    """The portfolio as negotiation meets it: its debts imported into the negotiation's view,
    and the agreements' outcomes it reads back (`negotiation.agreements`), whose debt events
    go to the view again, as the topics carry them."""

    def __init__(self, neg: Negotiation) -> None:
        self.neg = neg
        self.portfolio = PortfolioApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
        self.read_agreements = 0
        self.read_debts = 0

    def debt(self, contract: str, amount: int) -> str:
        debt = Debt(
            tenant=AGENCY,
            creditor="Banco Horizonte",
            contract=contract,
            installment="1",
            document=JOAO,
            document_kind="cpf",
            personal=seal(
                self.neg.vault.key_for(AGENCY, JOAO),
                {"name": "João da Silva", "email": None, "phone": None, "city": None},
            ).model_dump(),
            original_amount_cents=amount,
            due_date=dt.date(2026, 6, 1),
            category=None,
            import_id="imp-1",
            row_key=contract,
            cause_id="row",
            data_as_of=T0,
        )
        self.portfolio.save(debt)
        self.flow()
        return str(debt.id)

    def flow(self) -> None:
        """Everything published since: agreements to the portfolio, debts to the view."""
        published = [e for e in self.neg.published() if e.type.startswith("Agreement")]
        agreements = published[self.read_agreements :]
        self.read_agreements += len(agreements)
        apply_agreement_outcomes(self.portfolio, agreements)
        debts = [
            event
            for n in self.portfolio.recorder.select_notifications(1, 10_000)
            for _topic, event in portfolio_events(self.portfolio.mapper.to_domain_event(n))
        ][self.read_debts :]
        self.read_debts += len(debts)
        self.neg.imported(*debts)

    def owed(self, debt_id: str) -> int:
        debt: Debt = self.portfolio.repository.get(uuid.UUID(debt_id))
        return debt.original_amount_cents - debt.paid_cents


def test_a_payment_to_a_broken_agreements_boleto_is_deducted_from_its_debts_once(
    neg: Negotiation,
) -> None:
    """QA: installment 1 of a broken agreement, paid on the break day and reported by the
    bank's return the next day, came back `excess` as the debtor's credit that nothing used:
    the debt kept its whole balance, the offers charged it again (CDC art. 42)."""
    portfolio = Collection(neg)
    a, b = portfolio.debt("CT-a", 100_000), portfolio.debt("CT-b", 50_000)
    agreement = neg.close([a, b], 3)
    first = agreement.invoices[0]
    breaking_day = first.due_date + dt.timedelta(days=5)
    neg.app.run_day(breaking_day)
    portfolio.flow()
    assert (portfolio.owed(a), portfolio.owed(b)) == (100_000, 50_000)

    # The bank's return comes the day after: installment 1 paid on the break day.
    content = return_file(paid_in_full(first, paid_on=breaking_day))
    day_after = breaking_day + dt.timedelta(days=1)
    [payment] = neg.app.import_cnab240(
        ImportCnab240(tenant=AGENCY, content=content), day_after
    ).payments
    assert (payment.outcome, payment.applied_cents, payment.credit_cents) == ("excess", 0, 0)
    assert payment.reason == (
        "acordo quebrado: o valor foi abatido das dívidas que voltaram à cobrança"
    )
    portfolio.flow()

    # Shared by principal as the break shares what was paid: 2/3 and 1/3.
    [shared] = [e for e in neg.published() if e.type == "AgreementPaymentShared"]
    deducted = {d.debt_id: d.deducted_cents for d in shared.debts}
    assert sum(deducted.values()) == first.amount_cents and shared.credit_cents == 0
    assert deducted[a] == first.amount_cents * 2 // 3 + (first.amount_cents * 2 % 3 > 1)
    assert (portfolio.owed(a), portfolio.owed(b)) == (100_000 - deducted[a], 50_000 - deducted[b])
    # The offers start from what is still owed.
    offers = neg.app.offers(
        GetOffers(tenant=AGENCY, document=JOAO, debt_ids=[a, b], channel="portal"), day_after
    )
    assert [d.principal_cents for d in offers.debts] == [
        100_000 - deducted[a],
        50_000 - deducted[b],
    ]
    # The same return file again, and the same payment by the API: nothing deducted twice.
    again = neg.app.import_cnab240(ImportCnab240(tenant=AGENCY, content=content), day_after)
    assert [p.duplicate for p in again.payments] == [True]
    by_api = neg.pay(
        day_after,
        invoice_id=first.invoice_id,
        amount_cents=first.amount_cents,
        paid_on=breaking_day,
    )
    assert by_api.duplicate and by_api.payment_id == payment.payment_id
    portfolio.flow()
    assert len([e for e in neg.published() if e.type == "AgreementPaymentShared"]) == 1
    assert (portfolio.owed(a), portfolio.owed(b)) == (100_000 - deducted[a], 50_000 - deducted[b])
    # The event read twice by the portfolio changes nothing either.
    assert apply_agreement_outcomes(portfolio.portfolio, [shared, shared]) == 0


def test_a_debt_in_a_new_agreement_keeps_its_share_as_the_debtors_credit(
    neg: Negotiation,
) -> None:
    """The broken agreement's debts went separate ways: one is in a new agreement (its
    installments already count what it owes). The payment's share of that one is the
    debtor's credit, said in the payment's reason and on the broken agreement."""
    portfolio = Collection(neg)
    a, b = portfolio.debt("CT-a", 100_000), portfolio.debt("CT-b", 50_000)
    agreement = neg.close([a, b], 3)
    first = agreement.invoices[0]
    breaking_day = first.due_date + dt.timedelta(days=5)
    neg.app.run_day(breaking_day)
    portfolio.flow()
    neg.close([b], 1, key="k2")

    payment = neg.pay(
        breaking_day, invoice_id=first.invoice_id, amount_cents=30_000, paid_on=breaking_day
    )
    portfolio.flow()
    assert (payment.outcome, payment.applied_cents, payment.credit_cents) == (
        "excess",
        0,
        10_000,
    )
    assert payment.reason == (
        "acordo quebrado: R$ 200,00 abatidos das dívidas que voltaram à cobrança; "
        "R$ 100,00 ficam como crédito do devedor"
    )
    assert (portfolio.owed(a), portfolio.owed(b)) == (80_000, 50_000)
    shown = neg.app.get_agreement(
        GetAgreement(tenant=AGENCY, agreement_id=agreement.agreement_id), breaking_day
    )
    assert shown.credit_cents == 10_000
