"""A tenant's settings, as admins save them, leave each service as integration events with who
saved them: the negotiation settings (boleto, PIX, breaking, charges), the messaging settings
(windows, channels: never their credentials) and the portal profile (name, portal list, second
factor, logo). The relays' mappers read them from the stores; publishing again gives the same
events; the audit trail tells them in Portuguese."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from contracts.envelope import Envelope
from contracts.gateway import CONFIG_TOPIC as GATEWAY_CONFIG_TOPIC
from contracts.gateway import PortalProfileSaved
from contracts.messaging import CONFIG_TOPIC as MESSAGING_CONFIG_TOPIC
from contracts.messaging import MessagingSettingsSaved
from contracts.messaging_requests import MessagingSettings, WindowIn
from contracts.messaging_requests import SaveSettings as SaveMessagingSettings
from contracts.negotiation import CONDITIONS_TOPIC, NegotiationSettingsSaved
from contracts.negotiation_requests import (
    BoletoSettings,
    CreditorCharges,
    NegotiationSettings,
    PixSettings,
)
from contracts.negotiation_requests import SaveSettings as SaveNegotiationSettings
from contracts.registry import parse_event
from service_runtime.database import sqlite_engine
from service_runtime.personal_data import SqlKeyVault
from service_runtime.stored_aggregates import StoredAggregates
from services.gateway.adapters import integration_events as gateway_events
from services.gateway.application.uploads import GatewayApplication
from services.gateway.domain.portal_list import PortalList
from services.gateway.domain.portal_profile import TenantPortal, tenant_portal_id
from services.gateway.read_models.audit import AuditProjection, audit_trail
from services.messaging.adapters import integration_events as messaging_events
from services.messaging.application import MessagingApplication
from services.messaging.domain.published_settings import disclose, withheld_changes
from services.messaging.domain.records import tenant_messaging_id
from services.negotiation.adapters import integration_events as negotiation_events
from services.negotiation.application import NegotiationApplication
from services.negotiation.domain.tenant import tenant_aggregate_id
from tests.unit.test_projections import project

AGENCY = "recupera-sul"
ANA = "ana@recupera-sul"
BRUNO = "bruno@recupera-sul"
POPO = {"PERSISTENCE_MODULE": "eventsourcing.popo"}
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 2040

# Credentials an admin types into the channels' settings: none may leave the service.
SMTP_PASSWORD = "S3nh4-do-SMTP!"
SMTP_USER = "envios@recupera-sul.com.br"
SMS_TOKEN = "tok_live_9f8e7d6c5b4a"
PATH_TOKEN = "bot123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
QUERY_KEY = "chave-na-query-0042"
SECRETS = (SMTP_PASSWORD, SMTP_USER, SMS_TOKEN, PATH_TOKEN, QUERY_KEY, "api-secret-77")

Mapper = Callable[[Any], Iterator[tuple[str, Envelope]]]


def published(app: Any, mapper: Mapper) -> list[tuple[str, Envelope]]:
    """Everything the relay publishes from `app`'s store, in order, as consumers read it."""
    out = []
    for notification in app.recorder.select_notifications(1, 10_000):
        for topic, event in mapper(app.mapper.to_domain_event(notification)):
            out.append((topic, parse_event(event.model_dump_json().encode())))
    return out


def of_type(events: list[tuple[str, Envelope]], kind: type[Any]) -> list[Any]:
    return [event for _topic, event in events if isinstance(event, kind)]


def audit(engine: sa.Engine, events: list[Envelope]) -> list[dict[str, Any]]:
    """The audit trail after reading the events twice (a redelivery changes nothing)."""
    project(engine, AuditProjection(), events, events)
    return audit_trail(engine, AGENCY)


@pytest.fixture
def engine() -> Iterator[sa.Engine]:
    engine = sa.create_engine("sqlite://")
    yield engine
    engine.dispose()


# ---- negotiation ------------------------------------------------------------------------------


def negotiation_settings(**changes: Any) -> NegotiationSettings:
    return NegotiationSettings(
        boleto=BoletoSettings(
            bank_code="237",
            bank_name="Banco Bradesco S.A.",
            agency="1234",
            account="0012345",
            wallet="09",
            beneficiary_name="Recupera Sul Cobranças",
            beneficiary_document="11.222.333/0001-81",
        ),
        pix=PixSettings(
            key="pix@recupera-sul.com.br",
            merchant_name="RECUPERA SUL",
            merchant_city="PORTO ALEGRE",
        ),
        creditor_charges={"Banco Horizonte": CreditorCharges(interest_monthly_pct=Decimal("0.5"))},
        **changes,
    )


def test_negotiation_settings_are_published_whole_with_who_saved_them(engine: sa.Engine) -> None:
    app = NegotiationApplication(env=POPO)
    app.save_settings(
        SaveNegotiationSettings(tenant=AGENCY, settings=negotiation_settings(), saved_by=ANA)
    )
    app.save_settings(
        SaveNegotiationSettings(
            tenant=AGENCY,
            settings=negotiation_settings(break_first_installment_days=10),
            saved_by=BRUNO,
        )
    )
    mapper = negotiation_events.IntegrationEvents(tenant_of=StoredAggregates(app).tenant_of)

    events = published(app, mapper)
    first, second = of_type(events, NegotiationSettingsSaved)
    assert {topic for topic, e in events if isinstance(e, NegotiationSettingsSaved)} == {
        CONDITIONS_TOPIC
    }
    record = str(tenant_aggregate_id(AGENCY))
    assert (first.tenant, first.aggregate_id, first.saved_by) == (AGENCY, record, ANA)
    assert (second.saved_by, second.aggregate_version) == (BRUNO, first.aggregate_version + 1)
    assert (first.boleto.bank_code, first.boleto.agency, first.boleto.account) == (
        "237",
        "1234",
        "0012345",
    )
    assert first.pix.key == "pix@recupera-sul.com.br"
    assert first.creditor_charges["Banco Horizonte"].interest_monthly_pct == Decimal("0.5")
    assert (first.break_first_installment_days, second.break_first_installment_days) == (5, 10)
    # Published again (a relay starting over): the same events, ids included.
    assert published(app, mapper) == events

    rows = audit(engine, [first, second])
    assert [(r["entity_kind"], r["entity_id"], r["actor"]) for r in rows] == [
        ("negotiation_settings", "negotiation", BRUNO),
        ("negotiation_settings", "negotiation", ANA),
    ]
    assert rows[0]["summary"].startswith(
        "Configurações de negociação: boleto no banco 237 (Banco Bradesco S.A.), agência 1234, "
        "conta 0012345, carteira 09"
    )
    assert "quebra do acordo com a 1ª parcela 10 dias em atraso" in rows[0]["summary"]
    assert [r["actor"] for r in audit_trail(engine, AGENCY, "negotiation_settings")] == [
        BRUNO,
        ANA,
    ]


def test_settings_are_not_published_without_the_store_to_read_the_tenant_from() -> None:
    app = NegotiationApplication(env=POPO)
    app.save_settings(
        SaveNegotiationSettings(tenant=AGENCY, settings=negotiation_settings(), saved_by=ANA)
    )
    # Never published with a wrong or missing tenant: the relay stops and says why.
    with pytest.raises(RuntimeError, match="tenant_of"):
        published(app, negotiation_events.IntegrationEvents())


# ---- messaging --------------------------------------------------------------------------------


def messaging_settings(password: str = SMTP_PASSWORD, **changes: Any) -> MessagingSettings:
    return MessagingSettings(
        **{
            "agency_name": "Recupera Sul",
            "windows": {"sms": WindowIn(weekdays=[0, 1, 2, 3, 4], start="08:00", end="20:00")},
            "channels": {
                "email": {
                    "kind": "smtp",
                    "host": "smtp.exemplo.com.br",
                    "port": 587,
                    "tls": "starttls",
                    "sender": "cobranca@recupera-sul.com.br",
                    "username": SMTP_USER,
                    "password": password,
                },
                "sms": {
                    "kind": "http",
                    "url": f"https://sms.provedor.com.br/{PATH_TOKEN}/send?key={QUERY_KEY}",
                    "token": SMS_TOKEN,
                    "api_secret": "api-secret-77",
                },
            },
            **changes,
        }
    )


@pytest.fixture
def messaging(tmp_path: Path) -> MessagingApplication:
    app = MessagingApplication(env=POPO)
    app.outbox_dir = tmp_path / "outbox"
    app.vault = SqlKeyVault(sqlite_engine(str(tmp_path / "keys.sqlite")))
    return app


def save_messaging(app: MessagingApplication, settings: MessagingSettings, by: str) -> None:
    app.save_settings(SaveMessagingSettings(tenant=AGENCY, settings=settings, saved_by=by))


def test_messaging_settings_are_published_without_any_credential(
    messaging: MessagingApplication, engine: sa.Engine
) -> None:
    save_messaging(messaging, messaging_settings(), ANA)
    mapper = messaging_events.IntegrationEvents(StoredAggregates(messaging))

    events = published(messaging, mapper)
    (saved,) = of_type(events, MessagingSettingsSaved)
    assert {t for t, e in events if isinstance(e, MessagingSettingsSaved)} == {
        MESSAGING_CONFIG_TOPIC
    }
    assert (saved.tenant, saved.aggregate_id, saved.saved_by) == (
        AGENCY,
        str(tenant_messaging_id(AGENCY)),
        ANA,
    )
    email, sms = saved.channels["email"], saved.channels["sms"]
    assert (email.kind, email.settings) == (
        "smtp",
        {
            "host": "smtp.exemplo.com.br",
            "port": 587,
            "tls": "starttls",
            "sender": "cobranca@recupera-sul.com.br",
        },
    )
    assert email.withheld == email.withheld_changed == ["password", "username"]
    # Of a url, only its origin: a token may hide in its path or query.
    assert (sms.kind, sms.settings) == ("http", {"url": "https://sms.provedor.com.br"})
    assert sms.withheld == ["api_secret", "token", "url"]
    assert saved.windows["sms"].weekdays == [0, 1, 2, 3, 4]

    # No credential in anything the service publishes, nor in the audit trail.
    text = json.dumps([json.loads(e.model_dump_json()) for _t, e in events], ensure_ascii=False)
    assert "password" in text and "token" in text  # named...
    for secret in SECRETS:
        assert secret not in text  # ...never shown
    rows = audit(engine, [saved])
    for secret in SECRETS:
        assert secret not in rows[0]["summary"]
    assert rows[0]["summary"] == (
        "Configurações de mensagens: assessoria «Recupera Sul»; janela de SMS seg-sex "
        "08:00-20:00; SMS por HTTP https://sms.provedor.com.br (credenciais alteradas: "
        "api_secret, token, endereço completo); e-mail por SMTP smtp.exemplo.com.br:587, "
        "remetente cobranca@recupera-sul.com.br (credenciais alteradas: senha, usuário); "
        "até 5 tentativas por mensagem; chatbot com 7 opções no menu, negocia no chat; "
        "notificação do portal desligada"
    )


def test_a_save_tells_which_credentials_changed_never_what_they_are(
    messaging: MessagingApplication, engine: sa.Engine
) -> None:
    save_messaging(messaging, messaging_settings(), ANA)
    # The windows change, the credentials stay.
    save_messaging(
        messaging,
        messaging_settings(
            windows={"sms": WindowIn(weekdays=[0, 1, 2, 3, 4, 5], start="09:00", end="18:00")}
        ),
        BRUNO,
    )
    # Only the SMTP password changes.
    save_messaging(messaging, messaging_settings(password="outra-senha-forte"), ANA)
    mapper = messaging_events.IntegrationEvents(StoredAggregates(messaging))

    events = published(messaging, mapper)
    first, windows, password = of_type(events, MessagingSettingsSaved)
    assert windows.channels["email"].withheld_changed == []
    assert windows.channels["sms"].withheld_changed == []
    assert password.channels["email"].withheld_changed == ["password"]
    assert password.channels["sms"].withheld_changed == []
    text = "".join(e.model_dump_json() for _t, e in events)
    assert "outra-senha-forte" not in text
    assert published(messaging, mapper) == events

    rows = audit(engine, [first, windows, password])
    assert [(r["entity_kind"], r["entity_id"], r["actor"]) for r in rows] == [
        ("messaging_settings", "messaging", ANA),
        ("messaging_settings", "messaging", BRUNO),
        ("messaging_settings", "messaging", ANA),
    ]
    assert "e-mail por SMTP smtp.exemplo.com.br:587" in rows[0]["summary"]
    assert "(credenciais alteradas: senha)" in rows[0]["summary"]
    assert "janela de SMS seg-sáb 09:00-18:00" in rows[1]["summary"]
    assert "(credenciais mantidas)" in rows[1]["summary"]
    assert "credenciais alteradas" not in rows[1]["summary"]


def test_messaging_settings_are_not_published_without_the_store(
    messaging: MessagingApplication,
) -> None:
    # Without the store the settings cannot be told (tenant, credentials changed): the relay
    # stops and says why rather than publish them wrong.
    app = messaging
    save_messaging(app, MessagingSettings(), ANA)
    with pytest.raises(RuntimeError, match="aggregates"):
        published(app, messaging_events.integration_events)


# ---- the portal profile -----------------------------------------------------------------------


def test_each_save_of_the_portal_profile_is_published_with_who_saved_it(
    engine: sa.Engine,
) -> None:
    gateway = GatewayApplication(env=POPO)
    portal = TenantPortal(tenant=AGENCY)
    portal.save_profile(
        name="Recupera Sul",
        portal_list=PortalList(creditors=("Banco Horizonte", "Loja Exemplo"), days_overdue_min=30),
        saved_by=ANA,
    )
    portal.save_second_factor(second_factor="code", code_channels=["sms", "email"], saved_by=BRUNO)
    portal.save_logo(declared_type="image/png", content=PNG, saved_by=ANA)
    gateway.save(portal)
    mapper = gateway_events.IntegrationEvents(StoredAggregates(gateway).tenant_of)

    events = published(gateway, mapper)
    assert {t for t, e in events if isinstance(e, PortalProfileSaved)} == {GATEWAY_CONFIG_TOPIC}
    profile, second_factor, logo = of_type(events, PortalProfileSaved)
    assert {e.aggregate_id for e in (profile, second_factor, logo)} == {
        str(tenant_portal_id(AGENCY))
    }
    assert (profile.part, profile.tenant, profile.name, profile.saved_by) == (
        "profile",
        AGENCY,
        "Recupera Sul",
        ANA,
    )
    assert profile.portal_list is not None
    assert profile.portal_list.creditors == ["Banco Horizonte", "Loja Exemplo"]
    assert profile.second_factor is None and profile.logo is None
    assert (second_factor.part, second_factor.second_factor, second_factor.code_channels) == (
        "second_factor",
        "code",
        ["sms", "email"],
    )
    assert logo.logo is not None
    assert (logo.part, logo.logo.media_type, logo.logo.size_bytes) == ("logo", "image/png", 2048)
    assert logo.logo.sha256 == hashlib.sha256(PNG).hexdigest()
    assert "iVBOR" not in logo.model_dump_json()  # the image itself stays in the gateway
    assert published(gateway, mapper) == events

    rows = audit(engine, [profile, second_factor, logo])
    assert [(r["entity_kind"], r["entity_id"], r["actor"]) for r in rows] == [
        ("portal_profile", "portal", ANA),
        ("portal_profile", "portal", BRUNO),
        ("portal_profile", "portal", ANA),
    ]
    assert [r["summary"] for r in rows] == [
        f"Perfil do portal: logotipo PNG de 2 KB (sha256 {logo.logo.sha256[:12]})",
        "Perfil do portal: acesso com código de uso único por SMS ou e-mail",
        "Perfil do portal: nome «Recupera Sul»; lista do portal: credores Banco Horizonte, "
        "Loja Exemplo, atraso (dias) a partir de 30",
    ]
    assert len(audit_trail(engine, AGENCY, "portal_profile", "portal")) == 3


def test_the_tenant_of_a_profile_comes_from_its_first_event() -> None:
    gateway = GatewayApplication(env=POPO)
    portal = TenantPortal(tenant=AGENCY)
    portal.save_profile(name="Recupera Sul", portal_list=PortalList(), saved_by=ANA)
    gateway.save(portal)
    aggregates = StoredAggregates(gateway)
    assert aggregates.tenant_of(portal.id) == AGENCY
    assert aggregates.before(portal.id, 1) is None
    created = aggregates.before(portal.id, 2)  # as created, before the save
    assert created is not None and created.name is None and created.version == 1


@pytest.mark.parametrize(
    ("config", "kind", "public", "withheld"),
    [
        ({}, "outbox", {}, []),
        ({"kind": "outbox"}, "outbox", {}, []),
        (
            {"kind": "http", "url": "https://user:senha@api.sms.com.br:8443/v1?x=1", "token": "t"},
            "http",
            {"url": "https://api.sms.com.br:8443"},
            ["token", "url"],
        ),
        # Nothing beyond the origin: the url is published whole, nothing withheld of it.
        (
            {"kind": "http", "url": "https://api.sms.com.br/", "token": "t"},
            "http",
            {"url": "https://api.sms.com.br"},
            ["token"],
        ),
        # Not a web address (or a host that is no host name): withheld whole.
        ({"kind": "http", "url": "ftp://segredo@x", "token": "t"}, "http", {}, ["token", "url"]),
        (
            {"kind": "smtp", "host": "smtp://u:p@mail", "sender": "a@b.com", "password": "p"},
            "smtp",
            {"sender": "a@b.com"},
            ["host", "password"],
        ),
        # An adapter this service does not know: only its kind goes out.
        (
            {"kind": "twilio", "account_sid": "AC1", "from": "+5511"},
            "twilio",
            {},
            ["account_sid", "from"],
        ),
        # A field named like a credential is withheld even where the allow-list has none.
        (
            {"kind": "smtp", "host": "mail.x.com", "api_key": "k", "extra": {"a": 1}},
            "smtp",
            {"host": "mail.x.com"},
            ["api_key", "extra"],
        ),
    ],
)
def test_only_fields_known_not_to_be_secret_leave_a_channels_settings(
    config: dict[str, Any], kind: str, public: dict[str, Any], withheld: list[str]
) -> None:
    shown = disclose(config)
    assert (shown.kind, shown.public, sorted(shown.withheld)) == (kind, public, withheld)


def test_which_withheld_fields_changed_between_two_saves() -> None:
    smtp = {"kind": "smtp", "host": "h.com", "sender": "a@b.com", "username": "u", "password": "p"}
    assert withheld_changes(None, smtp) == ["password", "username"]
    assert withheld_changes(smtp, {**smtp, "host": "outro.com"}) == []
    assert withheld_changes(smtp, {**smtp, "password": "q"}) == ["password"]
    without = {k: v for k, v in smtp.items() if k not in ("username", "password")}
    assert withheld_changes(smtp, without) == ["password", "username"]
