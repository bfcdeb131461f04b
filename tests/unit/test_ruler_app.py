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
from aiokafka import ConsumerRecord, TopicPartition

from contracts.envelope import derived_event_id
from contracts.messaging import MESSAGES_TOPIC, MessageSentV2
from contracts.negotiation import (
    AgreementBroken,
    AgreementClosed,
    AgreementClosedV2,
    AgreementDebt,
    AgreementInstallment,
    BrokenAgreementDebt,
    InstallmentPaid,
    PaymentConditionTerms,
)
from contracts.personal import ERASURES_TOPIC, PersonalDataErased, SealedPersonalData
from contracts.portfolio import (
    DebtImported,
    DebtImportedV2,
    DebtorContact,
    DebtPaymentDeducted,
    DebtReopened,
    DebtSettled,
)
from contracts.registry import parse_event
from contracts.ruler import (
    CampaignDefinition,
    RulerDefinitionV4,
    SendMessage,
    SendToBureau,
    StageAdvanced,
    StageAdvancedV2,
    StageSpec,
)
from contracts.ruler_requests import RecordCall, SaveCampaign, SaveRuler
from service_runtime.clock import BUSINESS_TZ
from service_runtime.database import sqlite_engine
from service_runtime.personal_data import REMOVED, KeyVault, SqlKeyVault, seal
from service_runtime.projection import stored_positions
from service_runtime.refusal import Refused
from services.ruler.adapters.bureau_file import FileBureau
from services.ruler.adapters.consumers import ErasuresApplier, NoticeOutcomesApplier
from services.ruler.adapters.integration_events import integration_events
from services.ruler.adapters.notices import NoticeOutcomes
from services.ruler.adapters.receivables import ReceivablesTable, held_moves
from services.ruler.application import RulerApplication
from tests.support.stored_events import as_stored_in

AGENCY = "recupera-sul"
JOAO = "52998224725"
AT = dt.datetime(2026, 10, 1, 12, tzinfo=dt.UTC)
DUE = dt.date(2026, 10, 1)  # a Thursday

RULER = RulerDefinitionV4(
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


def debt_v2(vault: KeyVault, debt_id: str, due: dt.date = DUE, version: int = 1) -> DebtImportedV2:
    """What the portfolio publishes now: the contact sealed with the debtor's key."""
    return DebtImportedV2(
        **env(debt_id, version),
        debt_id=debt_id,
        document=JOAO,
        document_kind="cpf",
        personal=seal(
            vault.key_for(AGENCY, JOAO),
            {"name": "João da Silva", "phone": "(11) 98765-4321", "email": None},
        ),
        creditor="Banco Horizonte",
        contract=f"C-{debt_id}",
        installment="1",
        original_amount_cents=100_000,
        due_date=due,
        import_id="imp",
        row_key=debt_id,
    )


def agreement_fields(closed_on: dt.date) -> dict[str, Any]:
    """An agreement of debt d1 in one installment (inv-1), closed on `closed_on`."""
    return {
        **env("a1", 1),
        "agreement_id": "a1",
        "document": JOAO,
        "creditor": "Banco Horizonte",
        "debt_ids": ["d1"],
        "debts": [
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
        "channel": "portal",
        "condition_id": "c1",
        "condition": PaymentConditionTerms(installments=1),
        "closed_on": closed_on,
        "principal_cents": 100_000,
        "charges_cents": 2_433,
        "updated_value_cents": 102_433,
        "principal_discount_cents": 0,
        "charges_discount_cents": 0,
        "discount_cents": 0,
        "total_cents": 102_433,
        "installments": [
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
    }


def erasure(vault: KeyVault) -> PersonalDataErased:
    """What the gateway does: erase the debtor's keys, then say so on privacy.erasures."""
    return PersonalDataErased(
        **env(JOAO, 1),
        document=JOAO,
        key_ids=vault.erase(AGENCY, JOAO, by="admin", at=AT),
        requested_by="admin",
        reason="pedido do titular",
    )


class Ruler:
    def __init__(self, tmp_path: Path) -> None:
        self.engine = sa.create_engine(f"sqlite:///{tmp_path / 'ruler.sqlite'}")
        self.app = RulerApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
        self.vault = SqlKeyVault(sqlite_engine(str(tmp_path / "keys.sqlite")))
        self.table = ReceivablesTable(self.engine, self.vault)
        self.app.receivables = self.table
        self.bureau = FileBureau(tmp_path / "bureau")
        self.app.bureau = self.bureau
        self.notices = NoticeOutcomes(self.engine)
        self.app.notices = self.notices
        # The messaging service: every message asked by a day's run is sent that same day,
        # after the run (`MessageSent` read by the ruler); False, nothing is sent unless a test
        # says so (`messages_read`).
        self.messaging_sends = True
        self._run_day = self.app.run_day
        self.app.run_day = self._run_and_send  # type: ignore[method-assign]
        self.app.save_ruler(
            SaveRuler(tenant=AGENCY, ruler_id="padrao", definition=RULER, saved_by="admin")
        )

    def _run_and_send(self, today: dt.date, tenant: str | None = None) -> dict[str, int]:
        counts = self._run_day(today, tenant=tenant)
        if self.messaging_sends:
            self.messages_read(*(sent(m.key, today) for m in self.published("MessageRequested")))
        return counts

    def messages_read(self, *events: Any) -> None:
        """What the messaging service said of the messages (`messaging.messages`), read by
        the ruler's consumer."""
        if not events:
            return
        records = [consumer_record(MESSAGES_TOPIC, e, n) for n, e in enumerate(events)]
        NoticeOutcomesApplier(self.notices, self.engine).apply_records(
            {TopicPartition(MESSAGES_TOPIC, 0): records}
        )

    def receive(self, *events: Any, today: dt.date | None = None) -> None:
        """The events read by the receivables' consumer. `today`: the day the ruler's runs
        reached (the daily run's clock), a receivable leaving or coming back after it held
        until a run reaches its day; None, the runs are at the events' days (as when nothing
        lags): every move is finalized or restarted as it is read."""
        if today is not None:
            self.app.release_moves(today)
        with self.engine.begin() as conn:
            exits, reentries = self.table.apply(conn, list(events))
            self.app.handle_moves(exits, reentries, today or DUE)
        if today is None:
            with self.engine.connect() as conn:
                latest = conn.execute(sa.select(sa.func.max(held_moves.c.on))).scalar()
            if latest is not None:
                self.app.release_moves(dt.date.fromisoformat(str(latest)))

    def run(self, start: dt.date, end: dt.date) -> None:
        day = start
        while day <= end:
            if day.weekday() < 5:
                self.app.run_day(day)
            day += dt.timedelta(days=1)

    def published(self, kind: str) -> list[Any]:
        return published_by(self.app, kind)


def sent(key: str, on: dt.date, document: str = JOAO) -> MessageSentV2:
    """The messaging service's word that the message `key` went out on the business date
    `on` (10:00 in São Paulo)."""
    at = dt.datetime.combine(on, dt.time(10), tzinfo=BUSINESS_TZ).astimezone(dt.UTC)
    return MessageSentV2(
        **{**env(f"msg-{key}", 3), "event_id": uuid.uuid5(uuid.NAMESPACE_URL, f"sent|{key}")},
        message_id=f"msg-{key}",
        key=key,
        document=document,
        channel=key.rsplit(":", 2)[-2] if key.count(":") >= 2 else "sms",  # type: ignore[arg-type]
        template=key.rsplit(":", 1)[-1],
        personal=SealedPersonalData(key_id="0" * 32, ciphertext="c2VhbGVk"),
        sent_at=at,
        provider="outbox",
        attempts=1,
    )


def consumer_record(topic: str, event: Any, offset: int) -> Any:
    return ConsumerRecord(
        topic=topic,
        partition=0,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=event.partition_key(),
        value=event.model_dump_json().encode(),
        checksum=None,
        serialized_key_size=0,
        serialized_value_size=0,
        headers=[("event-id", str(event.event_id).encode())],
    )


def published_by(app: RulerApplication, kind: str) -> list[Any]:
    """The integration events of a kind the ruler's stored events publish, as read back."""
    out = []
    for n in app.recorder.select_notifications(1, 100_000):
        for _topic, event in integration_events(app.mapper.to_domain_event(n)):
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
    # The stages' messages, then the notice of the listing on the bureau stage's day (this
    # ruler names none: its latest stage's message again, as the notice; QA pass 9, D3).
    assert [(m.channel, m.template) for m in messages] == [
        ("email", "aviso"),
        ("whatsapp", "questionamento"),
        ("whatsapp", "questionamento"),
    ]
    assert "|listing_notice|" in messages[2].key
    assert len({m.key for m in messages}) == 3
    assert messages[0].variables["valor"] == "R$ 1.000,00"
    [listed] = ruler.published("DebtorNegativated")
    # Noticed on Monday 16/11, listed 10 days after: Thursday 26/11.
    assert listed.bureau == "arquivo-remessa" and listed.on_date == DUE + dt.timedelta(days=56)
    assert ruler.bureau.listed_keys() == {listed.record_key}


def test_a_very_overdue_debt_gets_only_the_latest_stages_actions(ruler: Ruler) -> None:
    ruler.receive(debt("old", due=DUE - dt.timedelta(days=200)))
    ruler.app.run_day(DUE)
    [stage] = ruler.published("StageAdvanced")
    assert (stage.from_stage, stage.to_stage) == ("current", "credit_bureau")
    assert [a.kind for a in stage.actions] == ["credit_bureau"]
    # No stale notice, questionamento...: only the notice its listing waits for (never
    # listed unnoticed; see test_ruler_listing_notice.py).
    [notice] = ruler.published("MessageRequested")
    assert "|listing_notice|" in notice.key
    assert ruler.published("DebtorNegativated") == []


def test_a_settled_debt_leaves_the_ruler_and_the_bureau(ruler: Ruler) -> None:
    ruler.receive(debt("d1"))
    ruler.run(DUE, DUE + dt.timedelta(days=60))
    assert len(ruler.bureau.listed_keys()) == 1
    settled = DebtSettled(
        **env("d1", 2),
        debt_id="d1",
        document=JOAO,
        creditor="Banco Horizonte",
        contract="C-d1",
        installment="1",
        agreement_id="a1",
        settled_on=DUE + dt.timedelta(days=61),
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
    ruler.run(DUE + dt.timedelta(days=61), DUE + dt.timedelta(days=70))
    assert len(ruler.published("StageAdvanced")) == 3  # nothing after leaving


def test_renegotiation_takes_debts_out_and_a_broken_agreement_starts_a_new_cycle(
    ruler: Ruler,
) -> None:
    ruler.receive(debt("d1"))
    ruler.run(DUE, DUE + dt.timedelta(days=12))
    closed_on = DUE + dt.timedelta(days=13)
    agreement = AgreementClosed(**agreement_fields(closed_on), debtor_name="João da Silva")
    ruler.receive(agreement, today=closed_on)
    [left] = ruler.published("ReceivableLeftRuler")
    assert left.reason == "renegotiated"
    # The installment (due Wed 21/10) is reminded 5 days before (Fri 16/10); 3 days before
    # is a Sunday, and the Friday before already has the 5-day one: it keeps its Sunday and
    # goes with Monday's run (19/10), still before the due date. Both, as the ruler says.
    ruler.run(closed_on, closed_on + dt.timedelta(days=6))
    reminders = [m for m in ruler.published("MessageRequested") if m.purpose == "pre_due"]
    assert [(m.template, m.receivable_id) for m in reminders] == [("lembrete", "inv-1")] * 2
    assert ["|pre_due|5|" in reminders[0].key, "|pre_due|3|" in reminders[1].key] == [True] * 2
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


def test_a_payment_deducted_after_the_break_is_what_the_messages_charge(ruler: Ruler) -> None:
    """Its broken agreement's boleto paid late: the debt back in collection owes less, and
    the ruler charges that, in the same cycle."""
    ruler.receive(debt("d1"))
    closed_on = DUE + dt.timedelta(days=13)
    ruler.receive(
        AgreementClosed(**agreement_fields(closed_on), debtor_name="João da Silva"),
        today=closed_on,
    )
    outcome = {
        "debt_id": "d1",
        "document": JOAO,
        "creditor": "Banco Horizonte",
        "contract": "C-d1",
        "installment": "1",
        "agreement_id": "a1",
    }
    reopened_on = closed_on + dt.timedelta(days=30)
    ruler.receive(
        DebtReopened(
            **env("d1", 3),
            **outcome,
            reopened_on=reopened_on,
            paid_cents=0,
            balance_cents=100_000,
        )
    )
    ruler.receive(
        DebtPaymentDeducted(
            **env("d1", 4),
            **outcome,
            payment_id="p-1",
            paid_on=reopened_on,
            deducted_cents=34_000,
            paid_cents=34_000,
            balance_cents=66_000,
        )
    )

    ruler.app.run_day(reopened_on + dt.timedelta(days=1))

    [stage] = [
        s
        for s in ruler.published("StageAdvanced")
        if s.receivable_id == "d1" and s.on_date > reopened_on
    ]
    assert stage.amount_cents == 66_000
    charged = [
        m
        for m in ruler.published("MessageRequested")
        if m.occurred_at and m.key in {a.key for a in stage.actions}
    ]
    assert [m.variables["valor"] for m in charged] == ["R$ 660,00"]


def test_a_broken_agreement_ends_its_installments_without_a_message_to_the_debtor(
    ruler: Ruler,
) -> None:
    ruler.receive(debt("d1"))
    closed_on = DUE + dt.timedelta(days=13)
    ruler.receive(AgreementClosed(**agreement_fields(closed_on), debtor_name="João da Silva"))
    ruler.run(closed_on, closed_on + dt.timedelta(days=6))  # the installment is reminded
    broken_on = closed_on + dt.timedelta(days=30)
    broken = AgreementBroken(
        **env("a1", 2),
        agreement_id="a1",
        document=JOAO,
        creditor="Banco Horizonte",
        broken_on=broken_on,
        rule="first_installment",
        installment_number=1,
        days_overdue=10,
        paid_cents=0,
        debts=[BrokenAgreementDebt(debt_id="d1", paid_cents=0, balance_cents=100_000)],
    )
    ruler.receive(broken, today=broken_on)
    left = [e for e in ruler.published("ReceivableLeftRuler") if e.receivable_id == "inv-1"]
    assert [e.reason for e in left] == ["cancelled"]
    # Neither "paid" nor "cancelled" is true of the debt: it comes back to collection.
    assert [m for m in ruler.published("MessageRequested") if m.purpose == "finalization"] == []


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


# ---- personal data (LGPD): names opened from sealed events, never in the ruler's events --


def names(ruler: Ruler) -> dict[str, str]:
    with ruler.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT receivable_id, debtor_name FROM ruler_receivables"))
        return {r.receivable_id: r.debtor_name for r in rows}


def test_debts_and_agreements_of_both_versions_are_read(ruler: Ruler) -> None:
    closed_on = DUE + dt.timedelta(days=13)
    ruler.receive(debt("old"), debt_v2(ruler.vault, "d1"))
    sealed = seal(ruler.vault.key_for(AGENCY, JOAO), {"debtor_name": "João da Silva"})
    ruler.receive(AgreementClosedV2(**agreement_fields(closed_on), personal=sealed))
    assert names(ruler) == {"old": "João da Silva", "d1": "João da Silva", "inv-1": "João da Silva"}
    # The agreement of version 2 took d1 out, as version 1 does.
    with ruler.engine.connect() as conn:
        status = conn.execute(
            sa.text("SELECT status FROM ruler_receivables WHERE receivable_id = 'd1'")
        ).scalar()
    assert status == "in_agreement"


def test_the_ruler_stores_and_publishes_no_debtor_name(ruler: Ruler) -> None:
    ruler.receive(debt_v2(ruler.vault, "d1"))
    ruler.run(DUE - dt.timedelta(days=5), DUE + dt.timedelta(days=60))
    states = [n.state for n in ruler.app.recorder.select_notifications(1, 100_000)]
    assert len(ruler.published("StageAdvanced")) == 3
    assert not any(b"Silva" in state for state in states)
    messages = ruler.published("MessageRequested")
    assert messages and all("nome" not in m.variables for m in messages)
    assert not any("Silva" in m.model_dump_json() for m in messages)
    # The bureau's file is where the name goes: a listing needs it.
    [record] = ruler.bureau.read_records()
    assert record["debtor_name"] == "JOAO DA SILVA"


def erasure_record(event: PersonalDataErased, offset: int) -> ConsumerRecord[Any, Any]:
    return ConsumerRecord(
        topic=ERASURES_TOPIC,
        partition=0,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=JOAO.encode(),
        value=event.model_dump_json().encode(),
        checksum=None,
        serialized_key_size=len(JOAO),
        serialized_value_size=0,
        headers=[("event-id", str(event.event_id).encode())],
    )


def test_the_erasure_scrubs_the_receivables_for_good_and_is_idempotent(ruler: Ruler) -> None:
    closed_on = DUE + dt.timedelta(days=13)
    old, new = debt("old"), debt_v2(ruler.vault, "d1")
    sealed = seal(ruler.vault.key_for(AGENCY, JOAO), {"debtor_name": "João da Silva"})
    agreement = AgreementClosedV2(**agreement_fields(closed_on), personal=sealed)
    ruler.receive(old, new, agreement)
    applier = ErasuresApplier(ruler.table, ruler.engine)
    record = erasure_record(erasure(ruler.vault), offset=0)

    applier.apply_records({TopicPartition(ERASURES_TOPIC, 0): [record]})
    applier.apply_records({TopicPartition(ERASURES_TOPIC, 0): [record]})  # read again

    assert set(names(ruler).values()) == {REMOVED}
    assert stored_positions(ruler.engine, "ruler.erasures")[(ERASURES_TOPIC, 0)][0] == 1
    # The same events read again (a replay) bring no name back: the old ones had it in
    # clear, the sealed ones no longer open.
    ruler.receive(old, new, agreement)
    assert set(names(ruler).values()) == {REMOVED}


def test_a_debtor_whose_name_was_erased_is_not_listed_at_the_bureau(
    ruler: Ruler, caplog: pytest.LogCaptureFixture
) -> None:
    ruler.receive(debt_v2(ruler.vault, "d1"))
    ruler.run(DUE, DUE + dt.timedelta(days=20))
    ruler.receive(erasure(ruler.vault))
    ruler.run(DUE + dt.timedelta(days=21), DUE + dt.timedelta(days=60))
    # The stage is reached (and published); the listing, which needs the name, is not made.
    assert [e.to_stage for e in ruler.published("StageAdvanced")][-1] == "credit_bureau"
    assert ruler.published("DebtorNegativated") == []
    assert ruler.bureau.read_records() == []
    assert "not listed at the bureau" in caplog.text


def test_a_listing_made_before_the_erasure_is_still_removed_without_the_name(
    ruler: Ruler,
) -> None:
    ruler.receive(debt_v2(ruler.vault, "d1"))
    ruler.run(DUE, DUE + dt.timedelta(days=60))
    [listed] = ruler.bureau.read_records()
    ruler.receive(erasure(ruler.vault))
    settled = DebtSettled(
        **env("d1", 2),
        debt_id="d1",
        document=JOAO,
        creditor="Banco Horizonte",
        contract="C-d1",
        installment="1",
        agreement_id="a1",
        settled_on=DUE + dt.timedelta(days=61),
        paid_cents=100_000,
    )
    ruler.receive(settled)
    _, excluded = ruler.bureau.read_records()
    assert (excluded["record_type"], excluded["record_key"]) == ("E", listed["record_key"])
    assert excluded["debtor_name"] == ""
    assert ruler.bureau.listed_keys() == set()


def test_an_agreements_installments_are_named_as_the_debtors_boletos_name_them(
    ruler: Ruler,
) -> None:
    ruler.receive(debt("d1"))
    closed_on = DUE + dt.timedelta(days=13)
    fields = agreement_fields(closed_on)
    entrada, first = (
        AgreementInstallment(
            number=number,
            kind=kind,
            due_date=closed_on + dt.timedelta(days=7 + 30 * (number - 1)),
            amount_cents=51_216 + number - 1,
            invoice_id=f"inv-{number}",
            nosso_numero=str(number),
            barcode="1" * 44,
            digitable_line="1" * 47,
            pix_txid=f"TX{number}",
            pix_code="000201",
        )
        for number, kind in ((1, "down_payment"), (2, "installment"))
    )
    fields["installments"] = [entrada, first]
    ruler.receive(AgreementClosed(**fields, debtor_name="João da Silva"), today=closed_on)

    ruler.run(closed_on, closed_on + dt.timedelta(days=40))

    named = {
        m.receivable_id: m.variables["numero"]
        for m in ruler.published("MessageRequested")
        if m.receivable_id in ("inv-1", "inv-2")
    }
    # Never "parcela 2" for the first installment after the entrada.
    assert named == {"inv-1": "acordo a1 entrada", "inv-2": "acordo a1 parcela 1 de 1"}
    # The stages they reach name them so too (StageAdvanced v2).
    stages = ruler.published("StageAdvanced")
    assert {type(s) for s in stages} == {StageAdvancedV2}
    assert {(s.receivable_id, s.contract) for s in stages} == {
        ("inv-1", "acordo a1 entrada"),
        ("inv-2", "acordo a1 parcela 1 de 1"),
    }


def test_a_stage_stored_before_it_named_its_contract_is_published_as_it_was(
    ruler: Ruler,
) -> None:
    ruler.receive(debt("d1"))
    ruler.run(DUE, DUE + dt.timedelta(days=4))
    (published_before,) = ruler.published("StageAdvanced")
    later = RulerApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    later.recorder.insert_events(
        [
            as_stored_in(n, 1, without=("names_contract",))
            for n in ruler.app.recorder.select_notifications(start=1, limit=1_000)
        ]
    )

    (legacy,) = published_by(later, "StageAdvanced")
    assert type(legacy) is StageAdvanced  # version 1, as it went out then
    assert legacy.event_id == published_before.event_id
    assert legacy.model_dump() == published_before.model_dump(
        exclude={"schema_version", "contract"}
    ) | {"schema_version": 1}


def test_a_change_to_a_ruler_or_campaign_that_does_not_exist_is_refused(ruler: Ruler) -> None:
    """A PUT to a mistyped id must not add a tenant-wide ruler or campaign."""
    with pytest.raises(Refused) as ruler_refused:
        ruler.app.save_ruler(
            SaveRuler(
                tenant=AGENCY,
                ruler_id="padrao-x",
                definition=RULER,
                saved_by="admin",
                existing_only=True,
            )
        )
    with pytest.raises(Refused) as campaign_refused:
        ruler.app.save_campaign(
            SaveCampaign(
                tenant=AGENCY,
                campaign_id="nope",
                definition=CampaignDefinition(name="x"),
                saved_by="admin",
                existing_only=True,
            )
        )

    assert [
        (r.value.status, r.value.details[0][:2]) for r in (ruler_refused, campaign_refused)
    ] == [
        (404, ("ruler_id", "not_found")),
        (404, ("campaign_id", "not_found")),
    ]
    assert [r.ruler_id for r in ruler.app.rulers(AGENCY)] == ["padrao"]
    # The existing one changes.
    changed = ruler.app.save_ruler(
        SaveRuler(
            tenant=AGENCY,
            ruler_id="padrao",
            definition=RULER.model_copy(update={"name": "Padrão 2"}),
            saved_by="admin",
            existing_only=True,
        )
    )
    assert changed.version == 2
    # A call in a campaign that does not exist names it.
    with pytest.raises(Refused) as no_campaign:
        ruler.app.record_call(
            RecordCall(
                tenant=AGENCY,
                call_id="c-1",
                campaign_id="nope",
                document=JOAO,
                operator="ana",
                result="no_answer",
            ),
            AT,
        )
    assert no_campaign.value.details[0][:2] == ("campaign_id", "not_found")
