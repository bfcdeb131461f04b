"""The messaging service as the seeds ask (cobrança indevida, Envio de SMS/WhatsApp (Dia)):
each message asked for is sent once per key, only inside its window, never to a debtor who
opted out, retried with backoff when the provider fails for now, and failed with the
reason when it cannot be sent; nothing is dropped."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiokafka.structs import ConsumerRecord, TopicPartition

from contracts.envelope import derived_event_id
from contracts.messaging_requests import (
    MessagingSettings,
    RecordOptOut,
    SaveSettings,
    SaveTemplate,
    SendAccessCode,
    TemplateIn,
    WindowIn,
)
from contracts.personal import PersonalDataErased
from contracts.portfolio import DebtImported, DebtImportedV2, DebtorContact
from contracts.registry import parse_event
from contracts.ruler import MESSAGES_REQUESTED_TOPIC, MessageRequested
from service_runtime.database import sqlite_engine
from service_runtime.personal_data import SqlKeyVault, seal, unseal
from service_runtime.refusal import Refused
from service_runtime.stored_aggregates import StoredAggregates
from services.messaging.adapters.channels import (
    OutgoingMessage,
    SendResult,
    TemporaryFailure,
    read_outbox,
)
from services.messaging.adapters.consumers import RequestedApplier
from services.messaging.adapters.contacts import (
    ContactBook,
    ContactsProjection,
    ErasuresProjection,
)
from services.messaging.adapters.integration_events import IntegrationEvents
from services.messaging.application import MessagingApplication
from services.messaging.application.service import WAIT_FOR_CONTACT
from services.messaging.domain.records import ERASED_REASON, Message

AGENCY = "recupera-sul"
JOAO = "52998224725"
MARIA = "11144477735"
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


def joao_v1() -> DebtImported:
    """João's debt as the portfolio published it before personal data were sealed."""
    return DebtImported(
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


class Messaging:
    def __init__(self, tmp_path: Path) -> None:
        engine = sa.create_engine(f"sqlite:///{tmp_path / 'messaging.sqlite'}")
        self.vault = SqlKeyVault(sqlite_engine(str(tmp_path / "keys.sqlite")))
        self.app = MessagingApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
        self.app.contacts = ContactBook(engine)
        self.app.vault = self.vault
        self.app.outbox_dir = tmp_path / "outbox"
        self.engine = engine
        # The relay's mapper, reading the tenant's settings from the store as the worker's.
        self.mapper = IntegrationEvents(StoredAggregates(self.app))
        ContactsProjection(self.vault).create_tables(engine)
        self.contacts_applied(joao_v1())
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

    def contacts_applied(self, *events: Any) -> None:
        with self.engine.begin() as conn:
            ContactsProjection(self.vault).apply(conn, list(events))

    def imported_v2(
        self,
        document: str,
        contact: dict[str, str | None],
        at: dt.datetime = FRIDAY_NIGHT,
        debt_id: str = "d2",
        version: int = 1,
    ) -> DebtImportedV2:
        """A debt as the portfolio publishes it now: the contact sealed with the debtor's key."""
        return DebtImportedV2(
            event_id=derived_event_id("t", debt_id, version),
            occurred_at=at,
            tenant=AGENCY,
            aggregate_id=debt_id,
            aggregate_version=version,
            correlation_id="i",
            causation_id="r",
            debt_id=debt_id,
            document=document,
            document_kind="cpf",
            personal=seal(self.vault.key_for(AGENCY, document), contact),
            creditor="Banco Horizonte",
            contract="C-2",
            installment="1",
            original_amount_cents=50_000,
            due_date=dt.date(2026, 10, 1),
            import_id="i",
            row_key="r2",
        )

    def erase(self, document: str, at: dt.datetime) -> PersonalDataErased:
        """What the gateway does (the keys erased in the vault, then PersonalDataErased), and
        this service's erasure consumer reading it (twice: nothing changes the second time)."""
        key_ids = self.vault.erase(AGENCY, document, by="admin@recupera", at=at)
        erased = PersonalDataErased(
            event_id=derived_event_id("erasure", document),
            occurred_at=at,
            tenant=AGENCY,
            aggregate_id=document,
            aggregate_version=1,
            correlation_id="e",
            causation_id="e",
            document=document,
            key_ids=key_ids,
            requested_by="admin@recupera",
            reason="pedido do titular",
        )
        for _ in range(2):
            with self.engine.begin() as conn:
                ErasuresProjection(self.vault).apply(conn, [erased])
        return erased

    def stored(self) -> list[tuple[str, str]]:
        """Every stored event of the service: its topic and its state as stored, read as
        compact JSON text (escapes undone)."""
        return [
            (n.topic, json.dumps(json.loads(n.state), ensure_ascii=False, separators=(",", ":")))
            for n in self.app.recorder.select_notifications(1, 10_000)
        ]

    def published(self, kind: str) -> list[Any]:
        out = []
        for n in self.app.recorder.select_notifications(1, 10_000):
            for _topic, event in self.mapper(self.app.mapper.to_domain_event(n)):
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


@pytest.mark.parametrize(
    ("portal_link", "sent"),
    [
        (None, "http://127.0.0.1:8171/p/recupera-sul"),  # never set: the platform's portal
        # Saved before the link followed the platform: the old default is read as the new.
        ("http://127.0.0.1:8000/p/{tenant}", "http://127.0.0.1:8171/p/recupera-sul"),
        ("https://recupera-sul.com.br/portal", "https://recupera-sul.com.br/portal"),
    ],
)
def test_the_portal_link_is_on_the_platforms_own_address(
    messaging: Messaging, tmp_path: Path, portal_link: str | None, sent: str
) -> None:
    app = messaging.app
    # The gateway on COBRANCA_HTTP_PORT=8171: the signed document links' base, and the portal's.
    app.base_url = "http://127.0.0.1:8171"
    if portal_link is not None:
        app.save_settings(
            SaveSettings(
                tenant=AGENCY,
                settings=MessagingSettings(portal_link=portal_link),
                saved_by="admin",
            )
        )
    app.handle_requests([requested("k1")], FRIDAY_NIGHT)
    assert app.dispatch_due(SATURDAY_8) == 1
    [line] = read_outbox(tmp_path / "outbox" / AGENCY / "sms.jsonl")
    assert line["body"].endswith(f"Negocie: {sent}")


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


# ---- personal data: sealed, and erased (LGPD) -----------------------------------------------

# Personal data that must not be read in clear anywhere (the rendered text among them).
CLEAR = ("987654321", "João", "Silva", "00 venceu em 01")


def test_stored_and_published_messages_carry_no_clear_address_name_or_text(
    messaging: Messaging, tmp_path: Path
) -> None:
    app = messaging.app
    messaging.app.save_template(
        SaveTemplate(
            tenant=AGENCY,
            channel="sms",
            name="nome",
            template=TemplateIn(body="Olá, {{ nome }}: {{ valor }} venceu em {{ vencimento }}"),
            saved_by="admin",
        )
    )
    asked = requested("k1", template="nome")
    asked = asked.model_copy(update={"variables": {**asked.variables, "nome": "João da Silva"}})
    app.handle_requests([asked], FRIDAY_NIGHT)
    assert app.dispatch_due(SATURDAY_8) == 1
    [line] = read_outbox(tmp_path / "outbox" / AGENCY / "sms.jsonl")
    assert line["body"] == "Olá, João da Silva: R$ 1.000,00 venceu em 01/10/2026"

    for topic, state in messaging.stored():
        assert not [c for c in CLEAR if c in state], topic
    [queued] = messaging.published("MessageQueued")
    [sent] = messaging.published("MessageSent")
    assert (queued.schema_version, sent.schema_version) == (2, 2)
    for event in (queued, sent):
        assert not [c for c in CLEAR if c in json.dumps(event.model_dump(mode="json"))]
        assert not [c for c in CLEAR if c in event.model_dump_json()]
    assert unseal(sent.personal, messaging.vault) == {
        "to": "+5511987654321",
        "text": "Olá, João da Silva: R$ 1.000,00 venceu em 01/10/2026",
    }
    assert unseal(queued.personal, messaging.vault)["to"] == "+5511987654321"  # type: ignore[index]


def test_a_contact_sealed_by_the_portfolio_is_opened_and_used(
    messaging: Messaging, tmp_path: Path
) -> None:
    messaging.contacts_applied(
        messaging.imported_v2(MARIA, {"name": "Maria Souza", "phone": "(21) 98888-7777"})
    )
    app = messaging.app
    assert app.contact_of(AGENCY, MARIA) == ("Maria Souza", "(21) 98888-7777")
    assert app.documents_with_phone(AGENCY, "+5521988887777") == [MARIA]
    maria = requested("k-maria").model_copy(update={"document": MARIA})
    app.handle_requests([maria], FRIDAY_NIGHT)
    assert app.dispatch_due(SATURDAY_8) == 1
    [line] = read_outbox(tmp_path / "outbox" / AGENCY / "sms.jsonl")
    assert line["to"] == "+5521988887777"


def test_after_the_erasure_nothing_is_sent_and_each_message_says_why(
    messaging: Messaging, tmp_path: Path
) -> None:
    app = messaging.app
    assert app.contacts is not None
    sealed = messaging.imported_v2(JOAO, {"name": "João da Silva", "phone": "+5511911112222"})
    messaging.contacts_applied(sealed)
    app.handle_requests([requested("before")], FRIDAY_NIGHT)  # queued for Saturday

    messaging.erase(JOAO, FRIDAY_NIGHT + dt.timedelta(hours=1))

    # The clear copies are gone: no contact, no phone, nothing to send to.
    assert app.contact_of(AGENCY, JOAO) is None
    assert app.documents_with_phone(AGENCY, "+5511987654321") == []
    assert app.documents_with_phone(AGENCY, "+5511911112222") == []
    with messaging.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT name, email, phone FROM debtor_contacts")).all()
    assert rows == []
    # What was queued before fails with the reason; what is asked after too.
    app.handle_requests([requested("after")], SATURDAY_8)
    code = app.send_access_code(
        SendAccessCode(tenant=AGENCY, document=JOAO, challenge_id="c", code="123456"),
        SATURDAY_8,
    )
    assert (code.sent, code.reason) == (False, ERASED_REASON)
    assert app.dispatch_due(SATURDAY_8) == 0
    assert not (tmp_path / "outbox" / AGENCY / "sms.jsonl").exists()
    failed = {f.key: (f.rule, f.reason) for f in messaging.published("MessageFailed")}
    assert failed == {
        "before": ("no_contact", ERASED_REASON),
        "after": ("no_contact", ERASED_REASON),
    }

    # Reading portfolio.debts again (the old clear event, the sealed one whose key is gone)
    # brings nothing back.
    messaging.contacts_applied(joao_v1(), sealed)
    assert app.contact_of(AGENCY, JOAO) is None
    assert app.documents_with_phone(AGENCY, "+5511911112222") == []


def test_a_message_sealed_before_the_erasure_does_not_open_after_it(
    messaging: Messaging,
) -> None:
    """Even in a process that has not read the erasure yet (the key vault's cache aside)."""
    app = messaging.app
    app.handle_requests([requested("k1")], FRIDAY_NIGHT)
    [queued] = messaging.published("MessageQueued")
    messaging.vault.erase(AGENCY, JOAO, by="admin@recupera", at=FRIDAY_NIGHT)
    assert unseal(queued.personal, messaging.vault) is None
    assert app.dispatch_due(SATURDAY_8) == 0
    [failed] = messaging.published("MessageFailed")
    assert (failed.rule, failed.reason) == ("no_contact", ERASED_REASON)


def test_data_the_creditor_sends_after_the_erasure_is_new_and_used(messaging: Messaging) -> None:
    app = messaging.app
    messaging.erase(JOAO, FRIDAY_NIGHT)
    later = FRIDAY_NIGHT + dt.timedelta(days=2)
    messaging.contacts_applied(
        messaging.imported_v2(JOAO, {"name": "João S.", "phone": "11933334444"}, at=later)
    )
    assert app.contact_of(AGENCY, JOAO) == ("João S.", "11933334444")
    assert app.handle_requests([requested("k-new")], later) == 1
    [queued] = messaging.published("MessageQueued")
    assert unseal(queued.personal, messaging.vault)["to"] == "+5511933334444"  # type: ignore[index]


def test_a_providers_refusal_keeps_no_address(messaging: Messaging) -> None:
    app = messaging.app

    class Refusing:
        name = "sms"

        def send(self, message: OutgoingMessage) -> SendResult:
            return SendResult(None, False, f"número {message.to} inexistente")

    app.channel_factory = lambda tenant, channel, settings: Refusing()
    app.handle_requests([requested("k1")], FRIDAY_NIGHT)
    app.dispatch_due(SATURDAY_8)
    [failed] = messaging.published("MessageFailed")
    assert failed.reason == "número (11) *****-4321 inexistente"


def test_a_message_queued_in_clear_before_sealing_goes_out_sealed_or_not_at_all(
    messaging: Messaging,
) -> None:
    """Messages stored before personal data were sealed keep their address in clear: sent,
    they are published sealed; once the debtor was erased, they fail with the reason."""
    app = messaging.app
    assert app.contacts is not None
    for key, document in (("old-joao", JOAO), ("old-maria", MARIA)):
        message = Message(
            tenant=AGENCY, key=key, document=document, channel="sms", template="aviso", variables={}
        )
        message.queue(to="+5511987654321", subject=None, body="Oi", send_at=SATURDAY_8)
        app.save(message)
        app.contacts.enqueue(str(message.id), AGENCY, SATURDAY_8, 0)
    messaging.erase(MARIA, FRIDAY_NIGHT)

    assert app.dispatch_due(SATURDAY_8) == 1
    assert messaging.published("MessageQueued") == []  # no sealed address to publish
    [sent] = messaging.published("MessageSent")
    assert sent.key == "old-joao"
    assert unseal(sent.personal, messaging.vault) == {"to": "+5511987654321", "text": "Oi"}
    [failed] = messaging.published("MessageFailed")
    assert (failed.key, failed.reason) == ("old-maria", ERASED_REASON)


# ---- a message asked before this service read the debtor ------------------------------------


def requests_read(messaging: Messaging, *asked: MessageRequested, at: dt.datetime) -> None:
    """The requests' consumer reading `messaging.requested` (one batch, positions stored)."""
    records = []
    for offset, event in enumerate(asked):
        value = event.model_dump_json().encode()
        records.append(
            ConsumerRecord(
                topic=MESSAGES_REQUESTED_TOPIC,
                partition=0,
                offset=offset,
                timestamp=0,
                timestamp_type=0,
                key=event.document.encode(),
                value=value,
                checksum=None,
                serialized_key_size=11,
                serialized_value_size=len(value),
                headers=[],
            )
        )
    applier = RequestedApplier(messaging.app, messaging.engine, lambda: at)
    applier.apply_records({TopicPartition(MESSAGES_REQUESTED_TOPIC, 0): records})


def for_maria(key: str) -> MessageRequested:
    return requested(key).model_copy(update={"document": MARIA})


def test_a_message_asked_before_the_debtors_contact_arrives_waits_for_it(
    messaging: Messaging, tmp_path: Path
) -> None:
    # The carteira was imported and the ruler run at once: its request for Maria comes before
    # this service has read Maria's debt (another consumer, on portfolio.debts).
    app = messaging.app
    requests_read(messaging, for_maria("m-aviso"), requested("j-aviso"), at=FRIDAY_NIGHT)
    assert [q.key for q in messaging.published("MessageQueued")] == ["j-aviso"]  # João: known
    assert messaging.published("MessageFailed") == []  # Maria's waits, nothing failed
    assert app.accept_waiting(FRIDAY_NIGHT + dt.timedelta(minutes=1)) == 0  # still unknown

    # Read again (a restart before the contact came): it waits once, from when it first came.
    requests_read(messaging, for_maria("m-aviso"), at=FRIDAY_NIGHT + dt.timedelta(minutes=2))
    assert app.contacts is not None and len(app.contacts.waiting()) == 1

    messaging.contacts_applied(
        messaging.imported_v2(MARIA, {"name": "Maria", "phone": "11912345678"})
    )
    assert app.accept_waiting(FRIDAY_NIGHT + dt.timedelta(minutes=3)) == 1
    assert sorted(q.key for q in messaging.published("MessageQueued")) == ["j-aviso", "m-aviso"]
    assert app.accept_waiting(FRIDAY_NIGHT + dt.timedelta(minutes=4)) == 0
    assert app.dispatch_due(SATURDAY_8) == 2
    sent = {line["to"] for line in read_outbox(tmp_path / "outbox" / AGENCY / "sms.jsonl")}
    assert sent == {"+5511987654321", "+5511912345678"}


def test_a_message_for_a_debtor_that_never_arrives_fails_after_a_while_with_the_reason(
    messaging: Messaging,
) -> None:
    app = messaging.app
    requests_read(messaging, for_maria("m-aviso"), at=FRIDAY_NIGHT)
    assert app.accept_waiting(FRIDAY_NIGHT + WAIT_FOR_CONTACT - dt.timedelta(seconds=1)) == 0
    assert app.accept_waiting(FRIDAY_NIGHT + WAIT_FOR_CONTACT) == 1
    [failed] = messaging.published("MessageFailed")
    assert (failed.key, failed.rule) == ("m-aviso", "no_contact")
    assert "nenhuma dívida deste devedor" in failed.reason
    assert app.contacts is not None and app.contacts.waiting() == []


def test_a_message_for_an_erased_debtor_does_not_wait(messaging: Messaging) -> None:
    messaging.erase(MARIA, FRIDAY_NIGHT - dt.timedelta(days=1))
    requests_read(messaging, for_maria("m-aviso"), at=FRIDAY_NIGHT)
    [failed] = messaging.published("MessageFailed")
    assert (failed.key, failed.reason) == ("m-aviso", ERASED_REASON)
