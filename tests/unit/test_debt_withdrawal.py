"""A creditor withdraws a debt from the agency (push-notification routine seed, "Cancelamento
do contas a receber"; the creditor's devolução): it sends the debt's row again with its
situação `cancelado` or `devolvido`. The gateway reads the column, the portfolio publishes
`DebtWithdrawn`, and the ruler finalizes the receivable with exit reason `cancelled`: its
finalization message, and the credit bureau listing removed. Nothing happens twice, and a
withdrawn debt never comes back to collection."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from contracts.carteiras import (
    REJECTED_TOPIC,
    CarteiraRowSubmitted,
    CarteiraRowSubmittedV2,
    DebtRejected,
)
from contracts.envelope import Envelope
from contracts.portfolio import (
    DEBTS_TOPIC,
    DebtImportedV2,
    DebtReopened,
    DebtUpdated,
    DebtWithdrawn,
    FieldChange,
)
from contracts.registry import parse_event
from services.gateway.adapters.integration_events import (
    integration_events as gateway_events,
)
from services.gateway.application.uploads import GatewayApplication
from services.gateway.domain.carteira_csv import read_carteira
from services.gateway.read_models.timeline import summarize
from services.portfolio.adapters.integration_events import (
    integration_events as portfolio_events,
)
from services.portfolio.application.importing import PortfolioApplication
from services.portfolio.domain.debt import Debt, debt_id_for
from services.portfolio.domain.row_rules import validate_row
from tests.unit.test_ruler_app import (
    AGENCY,
    DUE,
    JOAO,
    Ruler,
    agreement_fields,
    debt,
    env,
)

CREDITOR = "Banco Horizonte"
# The carteira as the creditor exported it; the second file withdraws the first debt.
CARTEIRA = (
    "CPF/CNPJ;Nome;Credor;Contrato;Parcela;Valor;Vencimento;Telefone\n"
    "529.982.247-25;João da Silva;Banco Horizonte;BH-1;1;1.000,00;01/10/2026;(11) 98765-4321\n"
    "529.982.247-25;João da Silva;Banco Horizonte;BH-2;1;250,00;01/10/2026;(11) 98765-4321\n"
)
CANCELAMENTO = (
    "CPF/CNPJ;Nome;Credor;Contrato;Parcela;Valor;Vencimento;Situação\n"
    "529.982.247-25;João da Silva;Banco Horizonte;BH-1;1;1.000,00;01/10/2026;Cancelado\n"
    "529.982.247-25;João da Silva;Banco Horizonte;BH-2;1;250,00;01/10/2026;\n"
)
BH_1 = str(debt_id_for(AGENCY, CREDITOR, "BH-1", "1"))
BH_2 = str(debt_id_for(AGENCY, CREDITOR, "BH-2", "1"))


class Agency:
    """The gateway, the portfolio and the ruler of one agency, wired as the topics would."""

    def __init__(self, tmp_path: Path) -> None:
        self.ruler = Ruler(tmp_path)
        self.gateway = GatewayApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
        self.portfolio = PortfolioApplication(
            env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, vault=self.ruler.vault
        )
        self.sent = 0

    def upload(self, csv: str, today: dt.date, name: str = "carteira.csv") -> list[Envelope]:
        """An upload through the gateway, read by the portfolio; returns its inbound rows."""
        before = self._inbound()
        self.gateway.receive_carteira(
            tenant=AGENCY, data=csv.encode(), filename=name, requested_by="ana"
        )
        messages = self._inbound()[len(before) :]
        self.portfolio.handle_inbound(messages, today)
        return messages

    def _inbound(self) -> list[Envelope]:
        notifications = self.gateway.recorder.select_notifications(start=1, limit=100_000)
        return [
            parse_event(message.model_dump_json().encode())
            for n in notifications
            for _, message in gateway_events(self.gateway.mapper.to_domain_event(n))
        ]

    def published(self, topic: str = DEBTS_TOPIC) -> list[Envelope]:
        notifications = self.portfolio.recorder.select_notifications(start=1, limit=100_000)
        return [
            parse_event(message.model_dump_json().encode())
            for n in notifications
            for to, message in portfolio_events(self.portfolio.mapper.to_domain_event(n))
            if to == topic
        ]

    def deliver(self, today: dt.date) -> None:
        """Every debt event so far to the ruler, the old ones again: a redelivery."""
        self.ruler.receive(*self.published(), today=today)


@pytest.fixture
def agency(tmp_path: Path) -> Agency:
    return Agency(tmp_path)


def of_type(events: Sequence[Envelope], kind: type[Any]) -> list[Any]:
    return [e for e in events if isinstance(e, kind)]


# ---- the whole way: a file with a situação column to the ruler and the bureau ---------------


def test_a_cancelled_debt_leaves_the_ruler_and_the_bureau_once(agency: Agency) -> None:
    ruler = agency.ruler
    agency.upload(CARTEIRA, DUE + dt.timedelta(days=1))
    agency.deliver(DUE + dt.timedelta(days=1))
    ruler.run(DUE, DUE + dt.timedelta(days=60))
    # Both debts reach the bureau stage on day 46, are sent the notice of the listing that
    # day and listed 10 days after it went out (day 56).
    assert len(ruler.bureau.listed_keys()) == 2

    cancelled_on = DUE + dt.timedelta(days=62)
    rows = agency.upload(CANCELAMENTO, cancelled_on, "cancelamento.csv")
    # A file with the situação column leaves the gateway in version 2.
    assert [type(r).__name__ for r in rows[1:]] == ["CarteiraRowSubmittedV2"] * 2
    assert [r.fields.status for r in of_type(rows, CarteiraRowSubmittedV2)] == ["Cancelado", ""]
    [withdrawn] = of_type(agency.published(), DebtWithdrawn)
    assert (withdrawn.debt_id, withdrawn.reason, withdrawn.withdrawn_on) == (
        BH_1,
        "cancelled",
        cancelled_on,
    )
    assert (withdrawn.document, withdrawn.contract) == (JOAO, "BH-1")

    listed = ruler.bureau.listed_keys()
    agency.deliver(cancelled_on)
    agency.deliver(cancelled_on)  # everything again: nothing new
    [left] = ruler.published("ReceivableLeftRuler")
    assert (left.receivable_id, left.reason, left.last_stage) == (
        BH_1,
        "cancelled",
        "credit_bureau",
    )
    [removed] = ruler.published("NegativationRemoved")
    assert (removed.receivable_id, removed.reason) == (BH_1, "cancelled")
    # BH-2 (its row active) stays listed; BH-1's exclusion is in the remittance file.
    [excluded] = listed - ruler.bureau.listed_keys()
    assert len(ruler.bureau.listed_keys()) == 1
    exclusions = [r for r in ruler.bureau.read_records() if r["record_type"] == "E"]
    assert [(r["record_key"], r["reason"], r["contract"]) for r in exclusions] == [
        (excluded, "CANCELLED", "BH-1")
    ]
    [final] = [m for m in ruler.published("MessageRequested") if m.purpose == "finalization"]
    assert (final.receivable_id, final.template, final.stage) == (BH_1, "quitacao", "finalized")
    assert final.variables["motivo"] == "cancelada"
    assert final.variables["numero"] == "BH-1"

    stages = len(ruler.published("StageAdvanced"))
    ruler.run(cancelled_on, cancelled_on + dt.timedelta(days=30))
    assert len(ruler.published("StageAdvanced")) == stages  # BH-1 never moves again


def test_the_same_cancellation_sent_again_changes_nothing(agency: Agency) -> None:
    agency.upload(CARTEIRA, DUE + dt.timedelta(days=1))
    agency.upload(CANCELAMENTO, DUE + dt.timedelta(days=5), "cancelamento.csv")
    agency.upload(CANCELAMENTO, DUE + dt.timedelta(days=6), "cancelamento-de-novo.csv")
    assert len(of_type(agency.published(), DebtWithdrawn)) == 1
    debt_events = [e for e in agency.published() if e.aggregate_id == BH_1]
    assert [e.type for e in debt_events] == ["DebtImported", "DebtWithdrawn"]


def test_a_debt_cancelled_before_it_is_overdue_enough_never_enters_the_ruler(
    agency: Agency,
) -> None:
    ruler = agency.ruler
    agency.upload(CARTEIRA, DUE + dt.timedelta(days=1))
    agency.upload(CANCELAMENTO, DUE + dt.timedelta(days=1), "cancelamento.csv")
    agency.deliver(DUE + dt.timedelta(days=1))
    ruler.run(DUE, DUE + dt.timedelta(days=20))
    # Nothing to finalize (it was in no stage), and no stage afterwards: only BH-2 moves.
    assert ruler.published("ReceivableLeftRuler") == []
    assert {e.receivable_id for e in ruler.published("StageAdvanced")} == {BH_2}


# ---- the portfolio: which rows withdraw what ---------------------------------------------------


def test_the_situacao_column_is_read_and_its_words_understood() -> None:
    carteira = read_carteira(CANCELAMENTO.encode())
    assert carteira.columns[-1] == "status"
    assert [r.fields["status"] for r in carteira.rows] == ["Cancelado", ""]
    row = {
        "document": "529.982.247-25",
        "name": "João da Silva",
        "creditor": CREDITOR,
        "contract": "BH-1",
        "original_amount": "1.000,00",
        "due_date": "01/10/2026",
    }
    today = DUE + dt.timedelta(days=1)
    statuses = {
        word: getattr(validate_row({**row, "status": word}, today), "status", None)
        for word in ("", "Ativo", "EM COBRANÇA", "cancelada", "Devolução", "devolvido", "retirado")
    }
    assert statuses == {
        "": "active",
        "Ativo": "active",
        "EM COBRANÇA": "active",
        "cancelada": "cancelled",
        "Devolução": "returned",
        "devolvido": "returned",
        "retirado": "returned",
    }
    rejected = validate_row({**row, "status": "quitado"}, today)
    assert [(e.field, e.rule) for e in getattr(rejected, "errors", [])] == [
        ("status", "unknown_status")
    ]


def test_withdrawing_an_unknown_debt_or_with_an_unknown_situacao_is_rejected(
    agency: Agency,
) -> None:
    agency.upload(CARTEIRA, DUE + dt.timedelta(days=1))
    agency.upload(
        "Credor;Contrato;Parcela;CPF;Nome;Valor;Vencimento;Status\n"
        "Banco Horizonte;BH-9;1;529.982.247-25;João da Silva;10,00;01/10/2026;devolvido\n"
        "Banco Horizonte;BH-2;1;529.982.247-25;João da Silva;250,00;01/10/2026;quitado\n",
        DUE + dt.timedelta(days=2),
        "devolucao.csv",
    )
    assert of_type(agency.published(), DebtWithdrawn) == []
    rejected = of_type(agency.published(REJECTED_TOPIC), DebtRejected)
    assert [(r.row_number, [(e.field, e.rule) for e in r.errors]) for r in rejected] == [
        (2, [("status", "unknown_debt")]),
        (3, [("status", "unknown_status")]),
    ]
    # The rejection echoes the row in version 1's columns: the situação is in its error.
    assert all(r.fields.contract and "status" not in r.fields.model_fields for r in rejected)


def test_a_withdrawn_debt_is_not_reopened_when_its_agreement_breaks(agency: Agency) -> None:
    agency.upload(CARTEIRA, DUE + dt.timedelta(days=1))
    agency.upload(CANCELAMENTO, DUE + dt.timedelta(days=5), "cancelamento.csv")
    found: Any = agency.portfolio.repository.get(debt_id_for(AGENCY, CREDITOR, "BH-1", "1"))
    assert isinstance(found, Debt) and found.withdrawn == "cancelled"
    assert not found.reopen(agreement_id="a1", on=DUE, paid_cents=0, cause_id="x")
    # Settled, it cannot be withdrawn any more (nothing is left to collect).
    other: Any = agency.portfolio.repository.get(debt_id_for(AGENCY, CREDITOR, "BH-2", "1"))
    assert isinstance(other, Debt)
    assert other.settle(agreement_id="a2", on=DUE, paid_cents=25_000, cause_id="y")
    assert not other.withdraw(reason="returned", on=DUE, import_id="imp", row_key="2", cause_id="z")


def test_a_row_without_the_situacao_column_still_leaves_in_version_1(agency: Agency) -> None:
    rows = agency.upload(CARTEIRA, DUE + dt.timedelta(days=1))
    assert all(isinstance(r, CarteiraRowSubmitted) for r in rows[1:])
    assert len(of_type(agency.published(), DebtImportedV2)) == 2


# ---- the ruler, event by event ---------------------------------------------------------------


def withdrawn(debt_id: str, on: dt.date, version: int = 2) -> DebtWithdrawn:
    return DebtWithdrawn(
        **env(debt_id, version),
        debt_id=debt_id,
        document=JOAO,
        creditor="Banco Horizonte",
        contract=f"C-{debt_id}",
        installment="1",
        reason="returned",
        withdrawn_on=on,
        import_id="devolucao",
        row_key="7",
    )


def status_of(ruler: Ruler, receivable_id: str) -> str:
    with ruler.engine.connect() as conn:
        found: str = conn.execute(
            sa.text("SELECT status FROM ruler_receivables WHERE receivable_id = :r"),
            {"r": receivable_id},
        ).scalar_one()
    return found


def test_a_debt_withdrawn_under_an_agreement_does_not_come_back_when_it_breaks(
    tmp_path: Path,
) -> None:
    from contracts.negotiation import AgreementClosed

    ruler = Ruler(tmp_path)
    ruler.receive(debt("d1"))
    ruler.run(DUE, DUE + dt.timedelta(days=12))
    closed_on = DUE + dt.timedelta(days=13)
    ruler.receive(AgreementClosed(**agreement_fields(closed_on), debtor_name="João da Silva"))
    ruler.receive(withdrawn("d1", closed_on + dt.timedelta(days=2), version=3))
    assert status_of(ruler, "d1") == "cancelled"
    reopened = DebtReopened(
        **env("d1", 4),
        debt_id="d1",
        document=JOAO,
        creditor="Banco Horizonte",
        contract="C-d1",
        installment="1",
        agreement_id="a1",
        reopened_on=closed_on + dt.timedelta(days=30),
        paid_cents=0,
        balance_cents=100_000,
    )
    stages = ruler.published("StageAdvanced")
    ruler.receive(reopened)
    ruler.app.run_day(closed_on + dt.timedelta(days=30))
    # It left once, renegotiated; the withdrawal and the break change nothing more.
    assert [e.reason for e in ruler.published("ReceivableLeftRuler")] == ["renegotiated"]
    assert status_of(ruler, "d1") == "cancelled"
    moved = ruler.published("StageAdvanced")[len(stages) :]
    assert [e.receivable_id for e in moved if e.receivable_id == "d1"] == []


def test_a_withdrawn_debt_corrected_by_the_creditor_stays_out(tmp_path: Path) -> None:
    ruler = Ruler(tmp_path)
    ruler.receive(debt("d1"))
    ruler.run(DUE, DUE + dt.timedelta(days=5))
    ruler.receive(withdrawn("d1", DUE + dt.timedelta(days=6)))
    [left] = ruler.published("ReceivableLeftRuler")
    assert (left.reason, left.last_stage) == ("cancelled", "notice")
    imported = debt("d1")
    updated = DebtUpdated(
        **env("d1", 3),
        debt_id="d1",
        document=JOAO,
        document_kind="cpf",
        creditor=imported.creditor,
        contract=imported.contract,
        installment="1",
        changes=[FieldChange(field="original_amount_cents", old=100_000, new=90_000)],
        original_amount_cents=90_000,
        due_date=DUE,
        debtor=imported.debtor,
        import_id="correcao",
        row_key="1",
    )
    ruler.receive(updated)
    assert status_of(ruler, "d1") == "cancelled"
    ruler.run(DUE + dt.timedelta(days=6), DUE + dt.timedelta(days=60))
    assert [e.to_stage for e in ruler.published("StageAdvanced")] == ["notice"]
    assert ruler.published("DebtorNegativated") == []


# ---- the timeline -----------------------------------------------------------------------------


def test_the_timeline_says_the_creditor_withdrew_the_debt() -> None:
    event = withdrawn("d1", DUE).model_copy(update={"reason": "cancelled"})
    assert summarize(event) == (
        "Dívida cancelada pelo credor, sai da cobrança: Banco Horizonte, contrato C-d1 parcela 1"
    )
    returned = withdrawn("d1", DUE)
    assert "devolvida pelo credor" in (summarize(returned) or "")


# ---- the negotiation: a withdrawn debt is no longer offered ---------------------------------


def test_a_withdrawn_debt_is_no_longer_negotiable(tmp_path: Path) -> None:
    from services.negotiation.adapters.debts_view import NegotiableDebtsProjection, SqlDebtLookup

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'negotiation.sqlite'}")
    projection = NegotiableDebtsProjection(Ruler(tmp_path).vault)
    projection.create_tables(engine)
    lookup = SqlDebtLookup(engine)
    with engine.begin() as conn:
        projection.apply(conn, [debt("d1"), debt("d2")])
    assert [d.debt_id for d in lookup.open_debts(AGENCY, JOAO)] == ["d1", "d2"]
    for _ in range(2):  # redelivered: the same
        with engine.begin() as conn:
            projection.apply(conn, [withdrawn("d1", DUE)])
        assert [d.debt_id for d in lookup.open_debts(AGENCY, JOAO)] == ["d2"]
    [found] = lookup.debts(AGENCY, ["d1"])
    assert found.settled
