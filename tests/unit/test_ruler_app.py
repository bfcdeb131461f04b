"""The collection ruler over an agency's receivables, day by day (push-notification routine
and Cedrus seeds): stages by days overdue, the messages asked of the messaging service, the
credit bureau's remittance file, and receivables leaving when paid or renegotiated."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from contracts.envelope import derived_event_id
from contracts.negotiation import (
    AgreementClosed,
    AgreementDebt,
    AgreementInstallment,
    InstallmentPaid,
    PaymentConditionTerms,
)
from contracts.portfolio import DebtImported, DebtorContact, DebtReopened, DebtSettled
from contracts.registry import parse_event
from contracts.ruler import (
    RulerDefinition,
    SendMessage,
    SendToBureau,
    StageSpec,
)
from contracts.ruler_requests import RecordCall, SaveCampaign, SaveRuler
from service_runtime.refusal import Refused
from services.ruler.adapters.bureau_file import FileBureau
from services.ruler.adapters.integration_events import integration_events
from services.ruler.adapters.receivables import ReceivablesTable
from services.ruler.application import RulerApplication

AGENCY = "recupera-sul"
JOAO = "52998224725"
AT = dt.datetime(2026, 10, 1, 12, tzinfo=dt.UTC)
DUE = dt.date(2026, 10, 1)  # a Thursday

RULER = RulerDefinition(
    name="Padrão",
    pre_due_days=[5, 3],
    pre_due_actions=[SendMessage(channel="sms", template="lembrete")],
    stages=[
        StageSpec(stage="notice", day=3, actions=[SendMessage(channel="email", template="aviso")]),
        StageSpec(
            stage="questioning",
            day=10,
            actions=[SendMessage(channel="whatsapp", template="questionamento")],
        ),
        StageSpec(stage="credit_bureau", day=45, actions=[SendToBureau()]),
    ],
    finalization_actions=[SendMessage(channel="email", template="quitacao")],
)


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


def debt(debt_id: str, due: dt.date = DUE, amount: int = 100_000) -> DebtImported:
    return DebtImported(
        **env(debt_id, 1),
        debt_id=debt_id,
        document=JOAO,
        document_kind="cpf",
        debtor=DebtorContact(name="João da Silva", phone="(11) 98765-4321"),
        creditor="Banco Horizonte",
        contract=f"C-{debt_id}",
        installment="1",
        original_amount_cents=amount,
        due_date=due,
        import_id="imp",
        row_key=debt_id,
    )


class Ruler:
    def __init__(self, tmp_path: Path) -> None:
        self.engine = sa.create_engine(f"sqlite:///{tmp_path / 'ruler.sqlite'}")
        self.app = RulerApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
        self.table = ReceivablesTable(self.engine)
        self.app.receivables = self.table
        self.bureau = FileBureau(tmp_path / "bureau")
        self.app.bureau = self.bureau
        self.app.save_ruler(
            SaveRuler(tenant=AGENCY, ruler_id="padrao", definition=RULER, saved_by="admin")
        )

    def receive(self, *events: Any, today: dt.date = DUE) -> None:
        with self.engine.begin() as conn:
            exits, reentries = self.table.apply(conn, list(events))
            self.app.handle_moves(exits, reentries, today)

    def run(self, start: dt.date, end: dt.date) -> None:
        day = start
        while day <= end:
            if day.weekday() < 5:
                self.app.run_day(day)
            day += dt.timedelta(days=1)

    def published(self, kind: str) -> list[Any]:
        out = []
        for n in self.app.recorder.select_notifications(1, 100_000):
            for _topic, event in integration_events(self.app.mapper.to_domain_event(n)):
                parsed = parse_event(event.model_dump_json().encode())
                if parsed.type == kind:
                    out.append(parsed)
        return out


@pytest.fixture
def ruler(tmp_path: Path) -> Ruler:
    return Ruler(tmp_path)


def test_a_debt_walks_the_stages_and_each_message_is_asked_once(ruler: Ruler) -> None:
    ruler.receive(debt("d1"))
    ruler.run(DUE, DUE + dt.timedelta(days=60))
    ruler.run(DUE, DUE + dt.timedelta(days=60))  # the same days again: nothing new
    stages = [(e.from_stage, e.to_stage, e.days_overdue) for e in ruler.published("StageAdvanced")]
    # 04/10 is a Sunday: notice (day 3) comes on Monday 05/10 with 4 days overdue.
    assert stages == [
        ("current", "notice", 4),
        ("notice", "questioning", 11),  # day 10 = 11/10, a Sunday
        ("questioning", "credit_bureau", 46),  # day 45 = 15/11, a Sunday (and a holiday)
    ]
    messages = ruler.published("MessageRequested")
    assert [(m.channel, m.template) for m in messages] == [
        ("email", "aviso"),
        ("whatsapp", "questionamento"),
    ]
    assert len({m.key for m in messages}) == 2
    assert messages[0].variables["valor"] == "R$ 1.000,00"
    [listed] = ruler.published("DebtorNegativated")
    assert listed.bureau == "arquivo-remessa" and listed.on_date == DUE + dt.timedelta(days=46)
    assert ruler.bureau.listed_keys() == {listed.record_key}


def test_a_very_overdue_debt_gets_only_the_latest_stages_actions(ruler: Ruler) -> None:
    ruler.receive(debt("old", due=DUE - dt.timedelta(days=200)))
    ruler.app.run_day(DUE)
    [stage] = ruler.published("StageAdvanced")
    assert (stage.from_stage, stage.to_stage) == ("current", "credit_bureau")
    assert ruler.published("MessageRequested") == []
    assert len(ruler.published("DebtorNegativated")) == 1


def test_a_settled_debt_leaves_the_ruler_and_the_bureau(ruler: Ruler) -> None:
    ruler.receive(debt("d1"))
    ruler.run(DUE, DUE + dt.timedelta(days=50))
    assert len(ruler.bureau.listed_keys()) == 1
    settled = DebtSettled(
        **env("d1", 2),
        debt_id="d1",
        document=JOAO,
        creditor="Banco Horizonte",
        contract="C-d1",
        installment="1",
        agreement_id="a1",
        settled_on=DUE + dt.timedelta(days=51),
        paid_cents=100_000,
    )
    ruler.receive(settled, settled)
    [left] = ruler.published("ReceivableLeftRuler")
    assert (left.reason, left.last_stage) == ("settled", "credit_bureau")
    [removed] = ruler.published("NegativationRemoved")
    assert removed.reason == "settled"
    assert ruler.bureau.listed_keys() == set()
    finals = [m for m in ruler.published("MessageRequested") if m.purpose == "finalization"]
    assert [m.template for m in finals] == ["quitacao"]
    ruler.run(DUE + dt.timedelta(days=51), DUE + dt.timedelta(days=70))
    assert len(ruler.published("StageAdvanced")) == 3  # nothing after leaving


def test_renegotiation_takes_debts_out_and_a_broken_agreement_starts_a_new_cycle(
    ruler: Ruler,
) -> None:
    ruler.receive(debt("d1"))
    ruler.run(DUE, DUE + dt.timedelta(days=12))
    closed_on = DUE + dt.timedelta(days=13)
    agreement = AgreementClosed(
        **env("a1", 1),
        agreement_id="a1",
        document=JOAO,
        debtor_name="João da Silva",
        creditor="Banco Horizonte",
        debt_ids=["d1"],
        debts=[
            AgreementDebt(
                debt_id="d1",
                contract="C-d1",
                installment="1",
                due_date=DUE,
                principal_cents=100_000,
                penalty_cents=2_000,
                interest_cents=433,
                correction_cents=0,
                updated_value_cents=102_433,
                days_overdue=13,
            )
        ],
        channel="portal",
        condition_id="c1",
        condition=PaymentConditionTerms(installments=1),
        closed_on=closed_on,
        principal_cents=100_000,
        charges_cents=2_433,
        updated_value_cents=102_433,
        principal_discount_cents=0,
        charges_discount_cents=0,
        discount_cents=0,
        total_cents=102_433,
        installments=[
            AgreementInstallment(
                number=1,
                due_date=closed_on + dt.timedelta(days=7),
                amount_cents=102_433,
                invoice_id="inv-1",
                nosso_numero="1",
                barcode="1" * 44,
                digitable_line="1" * 47,
                pix_txid="TX1",
                pix_code="000201",
            )
        ],
    )
    ruler.receive(agreement, today=closed_on)
    [left] = ruler.published("ReceivableLeftRuler")
    assert left.reason == "renegotiated"
    # The installment (due Wed 21/10) is reminded 5 days before (Fri 16/10) and 3 days
    # before, which is a Sunday: on Monday 19/10.
    ruler.run(closed_on, closed_on + dt.timedelta(days=6))
    reminders = [m for m in ruler.published("MessageRequested") if m.purpose == "pre_due"]
    assert [(m.template, m.receivable_id) for m in reminders] == [("lembrete", "inv-1")] * 2
    assert [m.occurred_at for m in reminders] == sorted(m.occurred_at for m in reminders)
    # The debt comes back (agreement broken): a new cycle, with keys of its own.
    reopened = DebtReopened(
        **env("d1", 3),
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
    ruler.receive(reopened)
    ruler.app.run_day(closed_on + dt.timedelta(days=30))
    keys = [m.key for m in ruler.published("MessageRequested")]
    assert len(keys) == len(set(keys))
    assert ruler.published("StageAdvanced")[-1].from_stage == "current"


def test_an_installment_paid_leaves_without_fuss(ruler: Ruler) -> None:
    paid = InstallmentPaid(
        **env("a9", 2),
        agreement_id="a9",
        invoice_id="never-tracked",
        document=JOAO,
        creditor="Banco Horizonte",
        installment_number=1,
        due_date=DUE,
        amount_cents=100,
        paid_cents=100,
        paid_on=DUE,
        days_late=0,
        payment_ids=["p"],
    )
    ruler.receive(paid)
    assert ruler.published("ReceivableLeftRuler") == []


def test_calls_need_a_known_campaign_and_result(ruler: Ruler) -> None:
    from contracts.ruler import CampaignDefinition

    request = RecordCall(
        tenant=AGENCY,
        call_id=str(uuid.uuid4()),
        campaign_id="c1",
        document=JOAO,
        operator="ana",
        result="promise",
    )
    with pytest.raises(Refused) as missing:
        ruler.app.record_call(request, AT)
    assert missing.value.status == 404
    ruler.app.save_campaign(
        SaveCampaign(
            tenant=AGENCY,
            campaign_id="c1",
            definition=CampaignDefinition(name="Varejo"),
            saved_by="admin",
        )
    )
    with pytest.raises(Refused) as unknown:
        ruler.app.record_call(request.model_copy(update={"result": "maybe"}), AT)
    assert unknown.value.details[0][:2] == ("result", "unknown_result")
    first = ruler.app.record_call(request, AT)
    again = ruler.app.record_call(request, AT + dt.timedelta(minutes=1))
    assert first == again and first.result.allows_receipt
    assert len(ruler.published("CallRecorded")) == 1
