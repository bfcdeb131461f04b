"""The portal's view of agreements: a debt under an agreement leaves the negotiable list, the
agreement is listed with its invoices (so the debtor finds the boleto again), and it all holds
whatever order the three topics deliver in."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from contracts.envelope import Envelope, derived_event_id
from contracts.negotiation import (
    AgreementBroken,
    AgreementClosed,
    AgreementDebt,
    AgreementFulfilled,
    AgreementInstallment,
    BrokenAgreementDebt,
    InstallmentPaid,
    InvoiceOverdue,
    PaymentConditionTerms,
)
from contracts.portfolio import DebtImported, DebtorContact, DebtPaymentDeducted
from services.gateway.read_models.portal_view import (
    PortalViewProjection,
    agreements_of,
    open_debts,
)
from services.gateway.read_models.timeline import summarize
from tests.unit.test_projections import VAULT

AGENCY = "recupera-sul"
JOAO = "52998224725"
AT = dt.datetime(2026, 11, 25, 12, tzinfo=dt.UTC)


def env(aggregate_id: str, version: int) -> dict[str, Any]:
    return {
        "event_id": derived_event_id("t", aggregate_id, version),
        "occurred_at": AT,
        "tenant": AGENCY,
        "aggregate_id": aggregate_id,
        "aggregate_version": version,
        "correlation_id": aggregate_id,
        "causation_id": aggregate_id,
    }


def debt(debt_id: str) -> DebtImported:
    return DebtImported(
        **env(debt_id, 1),
        debt_id=debt_id,
        document=JOAO,
        document_kind="cpf",
        debtor=DebtorContact(name="João da Silva"),
        creditor="Banco Horizonte",
        contract=f"C-{debt_id}",
        installment="1",
        original_amount_cents=100_000,
        due_date=dt.date(2026, 9, 26),
        import_id="imp",
        row_key=debt_id,
    )


def closed(agreement_id: str, debt_ids: list[str]) -> AgreementClosed:
    return AgreementClosed(
        **env(agreement_id, 1),
        agreement_id=agreement_id,
        document=JOAO,
        debtor_name="João da Silva",
        creditor="Banco Horizonte",
        debt_ids=debt_ids,
        debts=[
            AgreementDebt(
                debt_id=d,
                contract=f"C-{d}",
                installment="1",
                due_date=dt.date(2026, 9, 26),
                principal_cents=100_000,
                penalty_cents=2_000,
                interest_cents=2_000,
                correction_cents=0,
                updated_value_cents=104_000,
                days_overdue=60,
            )
            for d in debt_ids
        ],
        channel="portal",
        condition_id="c3",
        condition=PaymentConditionTerms(installments=2, charges_discount_pct=Decimal(50)),
        closed_on=dt.date(2026, 11, 25),
        principal_cents=100_000,
        charges_cents=4_000,
        updated_value_cents=104_000,
        principal_discount_cents=0,
        charges_discount_cents=2_000,
        discount_cents=2_000,
        total_cents=102_000,
        installments=[
            AgreementInstallment(
                number=n,
                due_date=due,
                amount_cents=51_000,
                invoice_id=f"{agreement_id}-inv-{n}",
                nosso_numero=str(n),
                barcode=f"{n}" * 44,
                digitable_line=f"{n}" * 47,
                pix_txid=f"TX{n}",
                pix_code="000201",
            )
            for n, due in ((1, dt.date(2026, 11, 25)), (2, dt.date(2026, 12, 28)))
        ],
    )


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[sa.Engine]:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'read.sqlite'}")
    PortalViewProjection(VAULT).create_tables(engine)
    yield engine
    engine.dispose()


def apply(engine: sa.Engine, *events: Envelope) -> None:
    with engine.begin() as conn:
        PortalViewProjection(VAULT).apply(conn, list(events))


@pytest.mark.parametrize("order", list(itertools.permutations(["debt", "agreement"])))
def test_a_debt_under_an_agreement_leaves_the_negotiable_list_in_any_order(
    engine: sa.Engine, order: tuple[str, ...]
) -> None:
    events = {"debt": debt("d1"), "agreement": closed("a1", ["d1"])}
    apply(engine, debt("d2"))
    for name in order:
        apply(engine, events[name])
    assert [d["debt_id"] for d in open_debts(engine, AGENCY, JOAO)] == ["d2"]
    [agreement] = agreements_of(engine, AGENCY, JOAO)
    assert agreement["status"] == "active"
    assert [i["number"] for i in agreement["invoices"]] == [1, 2]


def test_invoices_are_paid_or_overdue_and_a_broken_agreement_gives_the_debt_back(
    engine: sa.Engine,
) -> None:
    apply(engine, debt("d1"), closed("a1", ["d1"]))
    apply(
        engine,
        InstallmentPaid(
            **env("a1", 2),
            agreement_id="a1",
            invoice_id="a1-inv-1",
            document=JOAO,
            creditor="Banco Horizonte",
            installment_number=1,
            due_date=dt.date(2026, 11, 25),
            amount_cents=51_000,
            paid_cents=51_000,
            paid_on=dt.date(2026, 11, 25),
            days_late=0,
            payment_ids=["p1"],
        ),
        InvoiceOverdue(
            **env("a1", 3),
            invoice_id="a1-inv-2",
            agreement_id="a1",
            document=JOAO,
            creditor="Banco Horizonte",
            installment_number=2,
            due_date=dt.date(2026, 12, 28),
            amount_cents=51_000,
            balance_cents=51_000,
            days_overdue=2,
            as_of=dt.date(2026, 12, 30),
        ),
    )
    [agreement] = agreements_of(engine, AGENCY, JOAO)
    assert [(i["status"], i["days_overdue"]) for i in agreement["invoices"]] == [
        ("paid", 0),
        ("overdue", 2),
    ]
    apply(
        engine,
        AgreementBroken(
            **env("a1", 4),
            agreement_id="a1",
            document=JOAO,
            creditor="Banco Horizonte",
            broken_on=dt.date(2027, 1, 27),
            rule="later_installment",
            installment_number=2,
            days_overdue=30,
            paid_cents=51_000,
            debts=[BrokenAgreementDebt(debt_id="d1", paid_cents=51_000, balance_cents=49_000)],
        ),
    )
    assert [d["debt_id"] for d in open_debts(engine, AGENCY, JOAO)] == ["d1"]
    assert agreements_of(engine, AGENCY, JOAO)[0]["status"] == "broken"


def test_a_fulfilled_agreement_settles_its_debts_for_good(engine: sa.Engine) -> None:
    apply(engine, debt("d1"), closed("a1", ["d1"]))
    fulfilled = AgreementFulfilled(
        **env("a1", 5),
        agreement_id="a1",
        document=JOAO,
        creditor="Banco Horizonte",
        debt_ids=["d1"],
        fulfilled_on=dt.date(2026, 12, 28),
        paid_cents=102_000,
    )
    apply(engine, fulfilled)
    apply(engine, debt("d1"))  # the creditor sends the carteira again
    assert open_debts(engine, AGENCY, JOAO) == []
    assert summarize(fulfilled) == "Acordo cumprido: R$ 1.020,00 pagos, dívidas quitadas"


def test_the_timeline_tells_the_agreement_in_portuguese() -> None:
    text = summarize(closed("a1", ["d1"]))
    assert text == (
        "Acordo fechado pelo portal: Banco Horizonte, R$ 1.020,00 em 2 parcelas "
        "(desconto de R$ 20,00), 1º vencimento 25/11/2026"
    )


def test_a_payment_to_a_broken_agreements_boleto_shows_as_less_owed() -> None:
    """QA: installment 1 paid on the break day, reported the day after by the bank's return,
    was only the debtor's credit: the lookup kept showing the whole balance. The portfolio
    deducts it (DebtPaymentDeducted) and the lookup shows what is still owed."""
    engine = sa.create_engine("sqlite://")
    PortalViewProjection(VAULT).create_tables(engine)
    apply(engine, debt("d1"), closed("a1", ["d1"]))
    apply(
        engine,
        AgreementBroken(
            **env("a1", 4),
            agreement_id="a1",
            document=JOAO,
            creditor="Banco Horizonte",
            broken_on=dt.date(2026, 11, 9),
            rule="first_installment",
            installment_number=1,
            days_overdue=5,
            paid_cents=0,
            debts=[BrokenAgreementDebt(debt_id="d1", paid_cents=0, balance_cents=100_000)],
        ),
    )
    deducted = DebtPaymentDeducted(
        **env("d1", 3),
        debt_id="d1",
        document=JOAO,
        creditor="Banco Horizonte",
        contract="CT-1",
        installment="1",
        agreement_id="a1",
        payment_id="p1",
        paid_on=dt.date(2026, 11, 9),
        deducted_cents=51_000,
        paid_cents=51_000,
        balance_cents=49_000,
    )
    apply(engine, deducted)
    apply(engine, deducted)  # delivered again
    [back] = open_debts(engine, AGENCY, JOAO)
    assert (back["debt_id"], back["balance_cents"]) == ("d1", 49_000)
    assert summarize(deducted) == (
        "R$ 510,00 pagos em 09/11/2026 ao acordo quebrado abatidos da dívida: "
        "Banco Horizonte, contrato CT-1 parcela 1, saldo R$ 490,00"
    )
