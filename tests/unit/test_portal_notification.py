"""HTML e-mails and the seed's automatic portal notification ("notificação automática com o
link do portal"): an e-mail template may carry an HTML body, rendered with autoescape so a
debtor's name never becomes markup, and old stored events without it still load; on the
business days an agency chose, every debtor with open debts and an e-mail is asked one e-mail
with the portal link, once per date."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiokafka import ConsumerRecord, TopicPartition
from aiosmtpd.controller import Controller
from eventsourcing.persistence import StoredEvent
from pydantic import ValidationError

from contracts.clock import CLOCK_TOPIC, PLATFORM_TENANT, DayStarted
from contracts.envelope import Envelope, derived_event_id
from contracts.messaging_requests import (
    MessagingSettings,
    PortalNotification,
    SaveSettings,
    SaveTemplate,
    TemplateIn,
)
from contracts.portfolio import (
    DebtImported,
    DebtorContact,
    DebtReopened,
    DebtSettled,
    DebtUpdated,
    FieldChange,
)
from service_runtime.database import sqlite_engine
from service_runtime.personal_data import SqlKeyVault
from service_runtime.projection import offsets_metadata, projection_offsets, stored_positions
from service_runtime.refusal import Refused
from services.messaging.adapters.channels import read_outbox
from services.messaging.adapters.contacts import (
    ContactBook,
    ContactsProjection,
    DebtorOpenDebts,
    create_tables,
)
from services.messaging.adapters.contacts import contacts as contacts_table
from services.messaging.adapters.daily_notification import PortalNotificationApplier
from services.messaging.application.service import AskedMessage, portal_notification_key
from services.messaging.domain.records import Message, Template, template_id
from tests.unit.test_message_channels import RecordingHandler, free_port
from tests.unit.test_messaging_app import AGENCY, SP, Messaging

OTHER = "cobra-norte"
JOAO = "34771278202"  # two open debts, e-mail (not the fixture's debtor, who has none)
MARIA = "11144477735"  # her only debt settled
PEDRO = "12345678909"  # open debt, no e-mail
ANA = "98765432100"  # settled, then the agreement broke: open again
MONDAY = dt.date(2026, 11, 30)
MONDAY_8 = dt.datetime(2026, 11, 30, 8, 0, tzinfo=SP)
TUESDAY = dt.date(2026, 12, 1)

PORTAL_HTML = (
    "<p>Olá, {{ nome }}!</p><p>Você tem {{ quantidade_dividas }} dívida(s) em aberto, "
    'somando {{ valor_total }}. <a href="{{ link_portal }}">Negocie pelo portal</a>.</p>'
)


def _envelope(tenant: str, debt_id: str, version: int, at: dt.datetime) -> dict[str, Any]:
    return {
        "event_id": derived_event_id("t", tenant, debt_id, version),
        "occurred_at": at,
        "tenant": tenant,
        "aggregate_id": debt_id,
        "aggregate_version": version,
        "correlation_id": "i",
        "causation_id": "r",
    }


def imported(
    debt_id: str,
    document: str,
    name: str,
    email_address: str | None,
    cents: int,
    *,
    tenant: str = AGENCY,
) -> DebtImported:
    return DebtImported(
        **_envelope(tenant, debt_id, 1, MONDAY_8 - dt.timedelta(days=30)),
        debt_id=debt_id,
        document=document,
        document_kind="cpf",
        debtor=DebtorContact(name=name, email=email_address),
        creditor="Banco Horizonte",
        contract=f"C-{debt_id}",
        installment="1",
        original_amount_cents=cents,
        due_date=dt.date(2026, 10, 1),
        import_id="i",
        row_key=f"r-{debt_id}",
    )


def updated(debt: DebtImported, cents: int, version: int) -> DebtUpdated:
    return DebtUpdated(
        **_envelope(debt.tenant, debt.debt_id, version, MONDAY_8 - dt.timedelta(days=20)),
        debt_id=debt.debt_id,
        document=debt.document,
        document_kind="cpf",
        creditor=debt.creditor,
        contract=debt.contract,
        installment=debt.installment,
        changes=[
            FieldChange(field="original_amount_cents", old=debt.original_amount_cents, new=cents)
        ],
        original_amount_cents=cents,
        due_date=debt.due_date,
        debtor=debt.debtor,
        import_id="i2",
        row_key=debt.row_key,
    )


def settled(debt: DebtImported, version: int) -> DebtSettled:
    return DebtSettled(
        **_envelope(debt.tenant, debt.debt_id, version, MONDAY_8 - dt.timedelta(days=10)),
        debt_id=debt.debt_id,
        document=debt.document,
        creditor=debt.creditor,
        contract=debt.contract,
        installment=debt.installment,
        agreement_id="a1",
        settled_on=dt.date(2026, 11, 20),
        paid_cents=debt.original_amount_cents,
    )


def reopened(debt: DebtImported, version: int) -> DebtReopened:
    return DebtReopened(
        **_envelope(debt.tenant, debt.debt_id, version, MONDAY_8 - dt.timedelta(days=5)),
        debt_id=debt.debt_id,
        document=debt.document,
        creditor=debt.creditor,
        contract=debt.contract,
        installment=debt.installment,
        agreement_id="a1",
        reopened_on=dt.date(2026, 11, 25),
        paid_cents=0,
        balance_cents=debt.original_amount_cents,
    )


def day_started(
    date: dt.date, *, business_day: bool = True, at: dt.datetime | None = None
) -> DayStarted:
    return DayStarted(
        event_id=derived_event_id("clock", date.isoformat()),
        occurred_at=at or dt.datetime.combine(date, dt.time(0, 1), tzinfo=SP),
        tenant=PLATFORM_TENANT,
        aggregate_id="calendar",
        aggregate_version=1,
        correlation_id="c",
        causation_id="c",
        date=date,
        business_day=business_day,
        mode="manual",
    )


def record_of(event: Envelope, offset: int) -> ConsumerRecord[bytes, bytes]:
    value = event.model_dump_json().encode()
    return ConsumerRecord(
        topic=CLOCK_TOPIC,
        partition=0,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=b"calendar",
        value=value,
        checksum=None,
        serialized_key_size=8,
        serialized_value_size=len(value),
        headers=[("event-id", str(event.event_id).encode())],
    )


class Portal(Messaging):
    """The messaging fixture with the debtors above, an e-mail template and the days applier."""

    def __init__(self, tmp_path: Path) -> None:
        super().__init__(tmp_path)
        assert self.app.contacts is not None
        self.engine = self.app.contacts.engine
        joao_1 = imported("j1", JOAO, "João <b>Silva</b>", "joao@example.com", 100_000)
        joao_2 = imported("j2", JOAO, "João <b>Silva</b>", "joao@example.com", 40_000)
        maria = imported("m1", MARIA, "Maria Souza", "maria@example.com", 30_000)
        ana = imported("a1", ANA, "Ana Lima", "ana@example.com", 25_000)
        events: list[Envelope] = [
            joao_1,
            joao_2,
            updated(joao_2, 50_050, 2),
            maria,
            settled(maria, 2),
            imported("p1", PEDRO, "Pedro Alves", None, 70_000),
            ana,
            settled(ana, 2),
            reopened(ana, 3),
            imported("o1", JOAO, "João Silva", "joao@example.com", 10_000, tenant=OTHER),
        ]
        with self.engine.begin() as conn:
            ContactsProjection(self.vault).apply(conn, events)
            ContactsProjection(self.vault).apply(conn, events)  # read again: changes nothing
        for tenant in (AGENCY, OTHER):
            self.app.save_template(portal_template(tenant))
        self.offset = 0
        self.wall = MONDAY_8
        self.applier = PortalNotificationApplier(
            self.app, self.engine, lambda: MONDAY_8, wall_now=lambda: self.wall
        )

    def enable(self, tenant: str = AGENCY, **changes: Any) -> None:
        setting = PortalNotification(enabled=True, **changes)
        self.app.save_settings(
            SaveSettings(
                tenant=tenant,
                settings=MessagingSettings(portal_notification=setting),
                saved_by="admin",
            )
        )

    def day(self, day: DayStarted) -> None:
        self.offset += 1
        self.wall = day.occurred_at + dt.timedelta(minutes=1)
        self.applier.apply_records({TopicPartition(CLOCK_TOPIC, 0): [record_of(day, self.offset)]})

    def queued_keys(self) -> set[tuple[str, str]]:
        return {(q.tenant, q.key) for q in self.published("MessageQueued")}


def portal_template(tenant: str = AGENCY) -> SaveTemplate:
    return SaveTemplate(
        tenant=tenant,
        channel="email",
        name="portal",
        template=TemplateIn(
            subject="{{ assessoria }}: negocie suas dívidas",
            body="Olá, {{ nome }}. Você tem {{ quantidade_dividas }} dívida(s) em aberto, "
            "somando {{ valor_total }}. Negocie: {{ link_portal }}",
            html=PORTAL_HTML,
        ),
        saved_by="admin",
    )


@pytest.fixture
def portal(tmp_path: Path) -> Portal:
    return Portal(tmp_path)


# ---- HTML e-mails -------------------------------------------------------------------------


def asked(document: str = JOAO, key: str = "k1", template: str = "portal") -> AskedMessage:
    return AskedMessage(
        tenant=AGENCY,
        key=key,
        document=document,
        channel="email",
        template=template,
        variables={"quantidade_dividas": "2", "valor_total": "R$ 1.500,50"},
    )


def test_an_html_body_is_saved_listed_and_rendered_with_autoescape(
    portal: Portal, tmp_path: Path
) -> None:
    [listed] = [t for t in portal.app.list_templates(AGENCY).templates if t.channel == "email"]
    assert listed.html == PORTAL_HTML
    assert {"quantidade_dividas", "valor_total", "link_portal"} <= set(listed.variables)

    assert portal.app.handle_requests([asked()], MONDAY_8) == 1
    assert portal.app.dispatch_due(MONDAY_8) == 1
    [line] = read_outbox(tmp_path / "outbox" / AGENCY / "email.jsonl")
    assert "João &lt;b&gt;Silva&lt;/b&gt;" in line["html"]
    assert "<b>" not in line["html"]
    assert '<a href="http://127.0.0.1:8000/p/recupera-sul">' in line["html"]
    assert line["body"].startswith("Olá, João <b>Silva</b>. Você tem 2 dívida(s)")  # plain text


def test_a_legacy_html_body_is_converted(portal: Portal) -> None:
    out = portal.app.save_template(
        SaveTemplate(
            tenant=AGENCY,
            channel="email",
            name="legado",
            template=TemplateIn(
                body="Negocie: %LinkPortal%",
                html='<a href="%LinkPortal%">Portal</a> de %NomeCliente%',
                legacy=True,
            ),
            saved_by="admin",
        )
    )
    assert out.html == '<a href="{{ link_portal }}">Portal</a> de {{ nome }}'
    assert out.variables == ["link_portal", "nome"]


def test_an_html_body_is_refused_outside_email(portal: Portal) -> None:
    with pytest.raises(Refused) as refused:
        portal.app.save_template(
            SaveTemplate(
                tenant=AGENCY,
                channel="sms",
                name="aviso_html",
                template=TemplateIn(body="Olá {{ nome }}", html="<p>Olá {{ nome }}</p>"),
                saved_by="admin",
            )
        )
    assert refused.value.details[0][:2] == ("template.html", "email_only")


def test_an_unknown_variable_in_the_html_body_is_refused_with_its_name(portal: Portal) -> None:
    with pytest.raises(Refused) as refused:
        portal.app.save_template(
            SaveTemplate(
                tenant=AGENCY,
                channel="email",
                name="ruim",
                template=TemplateIn(body="Olá {{ nome }}", html="<p>Pague {{ saldo }}</p>"),
                saved_by="admin",
            )
        )
    assert refused.value.details[0][:2] == ("template.html", "unknown_variable")
    assert "saldo" in refused.value.message


def _store_without_html(portal: Portal, *aggregates: Template | Message) -> int:
    """Store the aggregates' pending events as they were written before `html` existed;
    returns how many events lost it."""
    app = portal.app
    stored: list[StoredEvent] = []
    stripped = 0
    for aggregate in aggregates:
        for domain_event in aggregate.collect_events():
            event = app.mapper.to_stored_event(domain_event)
            state = json.loads(event.state)
            stripped += state.pop("html", 0) is None
            stored.append(
                StoredEvent(
                    originator_id=event.originator_id,
                    originator_version=event.originator_version,
                    topic=event.topic,
                    state=json.dumps(state).encode(),
                )
            )
    app.recorder.insert_events(stored)
    return stripped


def test_old_template_and_message_events_without_html_still_load(
    portal: Portal, tmp_path: Path
) -> None:
    app = portal.app
    old = Template(
        tenant=AGENCY,
        channel="email",
        name="antigo",
        subject="Aviso",
        body="Olá, {{ nome }}",
        variables=["nome"],
        saved_by="admin",
        html=None,
    )
    old.change(subject="Aviso", body="Oi, {{ nome }}", variables=["nome"], saved_by="admin")
    message = Message(
        tenant=AGENCY,
        key="antiga",
        document=JOAO,
        channel="email",
        template="antigo",
        variables={},
    )
    message.queue(
        to="joao@example.com", subject="Aviso", body="Oi, João", send_at=MONDAY_8, html=None
    )
    # Template.Saved, Template.Changed and Message.Queued, as stored before e-mails had HTML.
    assert _store_without_html(portal, old, message) == 3

    loaded: Template = app.repository.get(template_id(AGENCY, "email", "antigo"))
    assert (loaded.body, loaded.html, loaded.version) == ("Oi, {{ nome }}", None, 2)
    assert app.rebuild_queue() == 1
    assert app.dispatch_due(MONDAY_8) == 1
    [line] = read_outbox(tmp_path / "outbox" / AGENCY / "email.jsonl")
    assert (line["body"], line["html"]) == ("Oi, João", None)


@pytest.fixture
def smtp_server() -> Iterator[tuple[RecordingHandler, int]]:
    handler = RecordingHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def test_an_html_email_reaches_a_real_smtp_server_as_multipart(
    portal: Portal, smtp_server: tuple[RecordingHandler, int]
) -> None:
    handler, port = smtp_server
    smtp = {"kind": "smtp", "host": "127.0.0.1", "port": port, "tls": "none"}
    portal.app.save_settings(
        SaveSettings(
            tenant=AGENCY,
            settings=MessagingSettings(
                channels={"email": {**smtp, "sender": "Recupera Sul <cobranca@recupera.com.br>"}}
            ),
            saved_by="admin",
        )
    )
    portal.app.handle_requests([asked()], MONDAY_8)
    assert portal.app.dispatch_due(MONDAY_8) == 1

    [received] = handler.received
    assert received.rcpt_tos == ["joao@example.com"]
    parsed = email.message_from_bytes(received.content, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    assert parsed.get_content_type() == "multipart/alternative"
    text, html = parsed.iter_parts()
    assert isinstance(text, EmailMessage) and isinstance(html, EmailMessage)
    assert (text.get_content_type(), html.get_content_type()) == ("text/plain", "text/html")
    assert text.get_content().startswith("Olá, João <b>Silva</b>.")
    assert "Olá, João &lt;b&gt;Silva&lt;/b&gt;!" in html.get_content()
    assert "somando R$ 1.500,50" in html.get_content()


# ---- the portal notification ---------------------------------------------------------------


def test_the_open_debts_of_each_debtor_with_an_email(portal: Portal) -> None:
    assert portal.app.contacts is not None
    assert portal.app.contacts.debtors_with_open_debts(AGENCY) == [
        DebtorOpenDebts(JOAO, "joao@example.com", 2, 150_050),  # 1.000,00 + 500,50 (updated)
        DebtorOpenDebts(ANA, "ana@example.com", 1, 25_000),
    ]
    assert portal.app.contacts.debtors_with_open_debts("ninguem") == []


def test_on_its_weekday_each_debtor_with_open_debts_and_an_email_gets_one(
    portal: Portal, tmp_path: Path
) -> None:
    portal.enable()  # Mondays, the default
    portal.day(day_started(MONDAY))
    assert portal.queued_keys() == {
        (AGENCY, portal_notification_key(MONDAY, JOAO)),
        (AGENCY, portal_notification_key(MONDAY, ANA)),
    }  # not Maria (settled), not Pedro (no e-mail), not the disabled agency
    assert portal.applier.days_run == 1

    portal.day(day_started(MONDAY))  # the same day again (a replay, a restart)
    assert len(portal.published("MessageQueued")) == 2

    assert portal.app.dispatch_due(MONDAY_8) == 2
    sent = {m["to"]: m for m in read_outbox(tmp_path / "outbox" / AGENCY / "email.jsonl")}
    assert set(sent) == {"joao@example.com", "ana@example.com"}
    assert sent["joao@example.com"]["subject"] == "Assessoria de Cobrança: negocie suas dívidas"
    assert "2 dívida(s) em aberto, somando R$ 1.500,50" in sent["joao@example.com"]["body"]
    assert "1 dívida(s) em aberto, somando R$ 250,00" in sent["ana@example.com"]["body"]
    assert "http://127.0.0.1:8000/p/recupera-sul" in sent["ana@example.com"]["body"]


def test_nothing_on_another_weekday_a_holiday_or_when_disabled(portal: Portal) -> None:
    portal.day(day_started(MONDAY))  # not enabled yet
    portal.enable()
    portal.day(day_started(TUESDAY))  # not its weekday
    portal.day(day_started(dt.date(2026, 12, 7), business_day=False))  # a Monday, a holiday
    assert portal.published("MessageQueued") == []

    portal.enable(weekdays=[1, 3])
    portal.day(day_started(TUESDAY))
    assert portal.queued_keys() == {
        (AGENCY, portal_notification_key(TUESDAY, JOAO)),
        (AGENCY, portal_notification_key(TUESDAY, ANA)),
    }


def test_the_other_agency_gets_its_own_when_enabled(portal: Portal) -> None:
    portal.enable(OTHER)
    portal.day(day_started(MONDAY))
    assert portal.queued_keys() == {(OTHER, portal_notification_key(MONDAY, JOAO))}


def test_a_day_recorded_long_ago_is_history_not_a_day_starting(portal: Portal) -> None:
    portal.enable()
    old = day_started(MONDAY)
    portal.offset += 1
    portal.wall = old.occurred_at + dt.timedelta(days=3)  # a new consumer group reading history
    portal.applier.apply_records({TopicPartition(CLOCK_TOPIC, 0): [record_of(old, 1)]})
    assert portal.published("MessageQueued") == []
    assert portal.applier.days_run == 0


def test_enabling_it_without_the_template_is_refused(portal: Portal) -> None:
    with pytest.raises(Refused) as refused:
        portal.enable(template="portal_semanal")
    assert refused.value.details[0][:2] == ("portal_notification.template", "unknown_template")
    assert "portal_semanal" in refused.value.message


@pytest.mark.parametrize("weekdays", [[], [7], [-1, 2]])
def test_weekdays_must_be_0_to_6_and_not_empty(weekdays: list[int]) -> None:
    with pytest.raises(ValidationError) as error:
        PortalNotification(weekdays=weekdays)
    assert "weekdays" in str(error.value)


def test_weekdays_are_kept_sorted_once() -> None:
    assert PortalNotification(weekdays=[4, 0, 4]).weekdays == [0, 4]


def test_old_settings_without_the_portal_notification_still_load() -> None:
    old = json.dumps({"agency_name": "Recupera Sul", "max_attempts": 3})
    settings = MessagingSettings.model_validate_json(old)
    assert settings.portal_notification == PortalNotification(enabled=False)


def test_a_database_read_before_debtor_debts_existed_reads_the_debts_again(
    tmp_path: Path,
) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'old.sqlite'}")
    contacts_table.create(engine)
    offsets_metadata.create_all(engine)
    position = {"projection": "messaging.contacts", "topic": "portfolio.debts", "partition": 0}
    with engine.begin() as conn:
        conn.execute(projection_offsets.insert(), [{**position, "next_offset": 42}])

    create_tables(engine)  # the new table: the topic is read again from its start to fill it
    assert stored_positions(engine, "messaging.contacts") == {}

    with engine.begin() as conn:
        conn.execute(projection_offsets.insert(), [{**position, "next_offset": 42}])
    ContactBook(engine)  # the table exists now: positions stay
    ContactsProjection(SqlKeyVault(sqlite_engine(str(tmp_path / "keys.sqlite")))).create_tables(
        engine
    )
    assert stored_positions(engine, "messaging.contacts")[("portfolio.debts", 0)][0] == 42
