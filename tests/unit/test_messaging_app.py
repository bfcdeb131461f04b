"""The messaging service as the seeds ask (cobrança indevida, Envio de SMS/WhatsApp (Dia)):
each message asked for is sent once per key, only inside its window, never to a debtor who
opted out, retried with backoff when the provider fails for now, and failed with the
reason when it cannot be sent; nothing is dropped."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from contracts.envelope import derived_event_id
from contracts.messaging_requests import (
    MessagingSettings,
    RecordOptOut,
    SaveSettings,
    SaveTemplate,
    TemplateIn,
    WindowIn,
)
from contracts.portfolio import DebtImported, DebtorContact
from contracts.registry import parse_event
from contracts.ruler import MessageRequested
from service_runtime.refusal import Refused
from services.messaging.adapters.channels import (
    OutgoingMessage,
    SendResult,
    TemporaryFailure,
    read_outbox,
)
from services.messaging.adapters.contacts import ContactBook, ContactsProjection
from services.messaging.adapters.integration_events import integration_events
from services.messaging.application import MessagingApplication

AGENCY = "recupera-sul"
JOAO = "52998224725"
SP = dt.timezone(dt.timedelta(hours=-3))
FRIDAY_NIGHT = dt.datetime(2026, 11, 27, 21, 0, tzinfo=SP)
SATURDAY_8 = dt.datetime(2026, 11, 28, 8, 0, tzinfo=SP)


def requested(key: str, channel: str = "sms", template: str = "aviso") -> MessageRequested:
    return MessageRequested(
        event_id=derived_event_id("t", key),
        occurred_at=FRIDAY_NIGHT,
        tenant=AGENCY,
        aggregate_id="d1",
        aggregate_version=1,
        correlation_id="d1",
        causation_id="d1",
        key=key,
        document=JOAO,
        receivable_id="d1",
        channel=channel,  # type: ignore[arg-type]
        template=template,
        purpose="stage",
        stage="notice",
        variables={"valor": "R$ 1.000,00", "vencimento": "01/10/2026"},
    )


class Messaging:
    def __init__(self, tmp_path: Path) -> None:
        engine = sa.create_engine(f"sqlite:///{tmp_path / 'messaging.sqlite'}")
        self.app = MessagingApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
        self.app.contacts = ContactBook(engine)
        self.app.outbox_dir = tmp_path / "outbox"
        ContactsProjection().create_tables(engine)
        with engine.begin() as conn:
            ContactsProjection().apply(
                conn,
                [
                    DebtImported(
                        event_id=derived_event_id("t", "d1"),
                        occurred_at=FRIDAY_NIGHT,
                        tenant=AGENCY,
                        aggregate_id="d1",
                        aggregate_version=1,
                        correlation_id="i",
                        causation_id="r",
                        debt_id="d1",
                        document=JOAO,
                        document_kind="cpf",
                        debtor=DebtorContact(name="João da Silva", phone="+5511987654321"),
                        creditor="Banco Horizonte",
                        contract="C-1",
                        installment="1",
                        original_amount_cents=100_000,
                        due_date=dt.date(2026, 10, 1),
                        import_id="i",
                        row_key="r",
                    )
                ],
            )
        self.app.save_template(
            SaveTemplate(
                tenant=AGENCY,
                channel="sms",
                name="aviso",
                template=TemplateIn(
                    body="#areceber_valor# venceu em #areceber_data_vencimento#. "
                    "Negocie: %LinkPortal%",
                    legacy=True,
                ),
                saved_by="admin",
            )
        )

    def published(self, kind: str) -> list[Any]:
        out = []
        for n in self.app.recorder.select_notifications(1, 10_000):
            for _topic, event in integration_events(self.app.mapper.to_domain_event(n)):
                parsed = parse_event(event.model_dump_json().encode())
                if parsed.type == kind:
                    out.append(parsed)
        return out


@pytest.fixture
def messaging(tmp_path: Path) -> Messaging:
    return Messaging(tmp_path)


def test_a_message_asked_on_friday_night_waits_for_saturday_and_goes_once(
    messaging: Messaging, tmp_path: Path
) -> None:
    app = messaging.app
    assert app.handle_requests([requested("k1"), requested("k1")], FRIDAY_NIGHT) == 1
    assert app.handle_requests([requested("k1")], FRIDAY_NIGHT) == 0  # replayed: nothing
    [queued] = messaging.published("MessageQueued")
    assert queued.send_at == SATURDAY_8
    assert app.dispatch_due(FRIDAY_NIGHT + dt.timedelta(hours=2)) == 0
    assert app.dispatch_due(SATURDAY_8) == 1
    assert app.dispatch_due(SATURDAY_8 + dt.timedelta(hours=1)) == 0
    [line] = read_outbox(tmp_path / "outbox" / AGENCY / "sms.jsonl")
    assert line["to"] == "+5511987654321"
    assert line["body"] == (
        "R$ 1.000,00 venceu em 01/10/2026. Negocie: http://127.0.0.1:8000/p/recupera-sul"
    )
    [sent] = messaging.published("MessageSent")
    assert (sent.key, sent.attempts) == ("k1", 1)


def test_a_queue_lost_in_a_crash_is_rebuilt_from_the_event_store(messaging: Messaging) -> None:
    app = messaging.app
    app.handle_requests([requested("k1")], FRIDAY_NIGHT)
    assert app.contacts is not None
    app.contacts.replace_queue([])
    assert app.rebuild_queue() == 1
    assert app.dispatch_due(SATURDAY_8) == 1
    assert app.rebuild_queue() == 0


def test_no_template_no_contact_or_opted_out_are_failed_with_the_reason(
    messaging: Messaging,
) -> None:
    app = messaging.app
    app.handle_requests([requested("k-email", channel="email")], FRIDAY_NIGHT)
    app.record_opt_out(
        RecordOptOut(tenant=AGENCY, document=JOAO, channel="sms", source="SAIR"),
        FRIDAY_NIGHT.date(),
    )
    app.handle_requests([requested("k-sms")], FRIDAY_NIGHT)
    failed = {f.key: f.rule for f in messaging.published("MessageFailed")}
    assert failed == {"k-email": "no_template", "k-sms": "opted_out"}


def test_a_provider_failing_for_now_is_retried_with_backoff_then_failed(
    messaging: Messaging,
) -> None:
    app = messaging.app
    calls: list[OutgoingMessage] = []

    class Down:
        name = "sms"

        def send(self, message: OutgoingMessage) -> SendResult:
            calls.append(message)
            raise TemporaryFailure("provedor fora do ar")

    app.channel_factory = lambda tenant, channel, settings: Down()
    app.save_settings(
        SaveSettings(
            tenant=AGENCY,
            settings=MessagingSettings(
                windows={"sms": WindowIn(weekdays=list(range(7)), start="00:00", end="24:00")},
                max_attempts=3,
            ),
            saved_by="admin",
        )
    )
    app.handle_requests([requested("k1")], FRIDAY_NIGHT)
    now = FRIDAY_NIGHT
    for _ in range(10):
        app.dispatch_due(now)
        now += dt.timedelta(hours=3)
    assert len(calls) == 3
    [failed] = messaging.published("MessageFailed")
    assert failed.rule == "retries_exhausted" and failed.attempts == 2
    assert all(c.message_id == calls[0].message_id for c in calls)


def test_an_unknown_variable_is_refused_with_its_name(messaging: Messaging) -> None:
    with pytest.raises(Refused) as refused:
        messaging.app.save_template(
            SaveTemplate(
                tenant=AGENCY,
                channel="sms",
                name="ruim",
                template=TemplateIn(body="Olá {{ nome }}, pague {{ saldo }}"),
                saved_by="admin",
            )
        )
    assert refused.value.details[0][:2] == ("template.body", "unknown_variable")
    assert "saldo" in refused.value.message


def test_a_bad_window_names_its_field(messaging: Messaging) -> None:
    with pytest.raises(Refused) as refused:
        messaging.app.save_settings(
            SaveSettings(
                tenant=AGENCY,
                settings=MessagingSettings(
                    windows={"sms": WindowIn(weekdays=[0], start="20:00", end="08:00")}
                ),
                saved_by="admin",
            )
        )
    assert refused.value.details[0][0] == "windows.sms.end"
