"""A tenant's portal profile (TenantPortal, PortalDirectory) and the contacts debtors leave
(PortalContact), in the gateway's event store: deterministic ids, what is refused and why, and
what the outbox publishes (the contact as PortalContactLeft on gateway.portal; each save of the
profile as PortalProfileSaved on gateway.config, the logo by its digest only)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest

from contracts.gateway import (
    CONFIG_TOPIC,
    PORTAL_TOPIC,
    PortalContactLeft,
    PortalContactLeftV2,
    PortalProfileSaved,
)
from service_runtime.personal_data import seal, unseal
from service_runtime.stored_aggregates import StoredAggregates
from services.gateway.adapters.integration_events import IntegrationEvents, integration_events
from services.gateway.application.uploads import GatewayApplication
from services.gateway.domain.portal_contact import (
    InvalidContact,
    PortalContact,
    normalize_phone,
    portal_contact_id,
    validate_contact,
)
from services.gateway.domain.portal_list import PortalList
from services.gateway.domain.portal_profile import (
    MAX_LOGO_BYTES,
    PORTAL_DIRECTORY_ID,
    InvalidLogo,
    InvalidProfile,
    PortalDirectory,
    TenantPortal,
    check_logo,
    sniff_image,
    tenant_portal_id,
)
from services.gateway.read_models.timeline import SERVICE_OF, TimelineProjection, summarize
from tests.unit.test_projections import memory_vault

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 32
GIF = b"GIF89a" + b"\x00" * 32


@pytest.fixture
def gateway() -> GatewayApplication:
    return GatewayApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})


def stored(app: GatewayApplication) -> list[Any]:
    return [
        app.mapper.to_domain_event(n)
        for n in app.recorder.select_notifications(start=1, limit=1000)
    ]


# ---- the profile -----------------------------------------------------------------------------


def test_one_profile_per_tenant_with_a_deterministic_id() -> None:
    assert tenant_portal_id("acme") == tenant_portal_id("acme") != tenant_portal_id("demo")
    assert TenantPortal(tenant="acme").id == tenant_portal_id("acme")
    assert tenant_portal_id("acme").version == 5


def test_saving_a_profile_keeps_the_name_and_the_list(gateway: GatewayApplication) -> None:
    portal = TenantPortal(tenant="acme")
    assert not portal.has_profile and portal.portal_list == PortalList() and portal.logo is None
    portal.save_profile(
        name="  Acme   Cobranças ",
        portal_list=PortalList(creditors=("Banco X", "banco x", " Varejo "), days_overdue_min=30),
        saved_by="admin@acme",
    )
    gateway.save(portal)
    again = gateway.repository.get(tenant_portal_id("acme"))
    assert isinstance(again, TenantPortal)
    assert again.name == "Acme Cobranças"
    # Repeats (as the list compares names) and stray spaces go.
    assert again.portal_list == PortalList(creditors=("Banco X", "Varejo"), days_overdue_min=30)
    assert [type(e).__name__ for e in stored(gateway)] == ["Created", "ProfileSaved"]


@pytest.mark.parametrize(
    ("name", "portal_list", "fields"),
    [
        ("", PortalList(), ["name"]),
        ("x" * 101, PortalList(), ["name"]),
        (
            "Acme",
            PortalList(days_overdue_min=60, days_overdue_max=30),
            ["portal_list.days_overdue_max"],
        ),
        ("", PortalList(amount_min_cents=-1), ["name", "portal_list.amount_min_cents"]),
    ],
)
def test_a_wrong_profile_is_refused_naming_each_field(
    name: str, portal_list: PortalList, fields: list[str]
) -> None:
    portal = TenantPortal(tenant="acme")
    with pytest.raises(InvalidProfile) as refused:
        portal.save_profile(name=name, portal_list=portal_list, saved_by="admin@acme")
    assert [p.field for p in refused.value.problems] == fields
    assert portal.name is None


def test_the_directory_lists_tenants_with_a_profile_once(gateway: GatewayApplication) -> None:
    directory = PortalDirectory()
    assert directory.id == PORTAL_DIRECTORY_ID
    directory.list_tenant(tenant="acme", name="Acme")
    directory.list_tenant(tenant="acme", name="Acme")  # unchanged: no event
    directory.list_tenant(tenant="demo", name="Demo Cobranças")
    directory.list_tenant(tenant="acme", name="Acme Cobranças")
    gateway.save(directory)
    assert directory.tenants == {"acme": "Acme Cobranças", "demo": "Demo Cobranças"}
    assert [type(e).__name__ for e in stored(gateway)] == ["Created"] + ["TenantListed"] * 3


# ---- the logo --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("declared", "content", "media_type"),
    [
        ("image/png", PNG, "image/png"),
        ("image/jpeg", JPEG, "image/jpeg"),
        ("image/jpg", JPEG, "image/jpeg"),
        ("IMAGE/PNG; charset=binary", PNG, "image/png"),
    ],
)
def test_a_png_or_jpeg_logo_is_taken(declared: str, content: bytes, media_type: str) -> None:
    assert check_logo(declared, content) == media_type
    portal = TenantPortal(tenant="acme")
    portal.save_logo(declared_type=declared, content=content, saved_by="admin@acme")
    assert portal.logo is not None
    assert (portal.logo.media_type, portal.logo.content) == (media_type, content)
    assert len(portal.logo.sha256) == 64


@pytest.mark.parametrize(
    ("declared", "content", "rule"),
    [
        ("image/gif", GIF, "content_type"),
        ("", PNG, "content_type"),
        ("image/svg+xml", b"<svg/>", "content_type"),
        ("image/png", GIF, "magic_bytes"),
        ("image/png", JPEG, "magic_bytes"),
        ("image/jpeg", PNG, "magic_bytes"),
        ("image/png", b"", "required"),
        ("image/png", PNG + b"\x00" * MAX_LOGO_BYTES, "max_size"),
    ],
)
def test_anything_else_is_refused_naming_the_rule(declared: str, content: bytes, rule: str) -> None:
    with pytest.raises(InvalidLogo) as refused:
        check_logo(declared, content)
    assert refused.value.rule == rule
    portal = TenantPortal(tenant="acme")
    with pytest.raises(InvalidLogo):
        portal.save_logo(declared_type=declared, content=content, saved_by="admin@acme")
    assert portal.logo is None


def test_the_largest_logo_taken_is_200_kb() -> None:
    assert check_logo("image/png", PNG + b"\x00" * (MAX_LOGO_BYTES - len(PNG))) == "image/png"
    assert sniff_image(GIF) is None


def test_the_profile_publishes_each_save_and_the_directory_nothing(
    gateway: GatewayApplication,
) -> None:
    portal = TenantPortal(tenant="acme")
    portal.save_profile(name="Acme", portal_list=PortalList(), saved_by="admin@acme")
    portal.save_logo(declared_type="image/png", content=PNG, saved_by="admin@acme")
    directory = PortalDirectory()
    directory.list_tenant(tenant="acme", name="Acme")
    gateway.save(portal, directory)
    mapper = IntegrationEvents(StoredAggregates(gateway).tenant_of)
    published = [pair for e in stored(gateway) for pair in mapper(e)]
    saves = [m for _, m in published if isinstance(m, PortalProfileSaved)]
    assert len(saves) == len(published) and {t for t, _ in published} == {CONFIG_TOPIC}
    assert [(m.part, m.tenant, m.saved_by) for m in saves] == [
        ("profile", "acme", "admin@acme"),
        ("logo", "acme", "admin@acme"),
    ]
    # The profile's events do not carry the tenant: never published without it.
    with pytest.raises(RuntimeError, match="tenant_of"):
        [m for e in stored(gateway) for m in integration_events(e)]


# ---- the contact -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "phone"),
    [
        ("(81) 98413-4557", "+5581984134557"),
        ("+55 81 98413-4557", "+5581984134557"),
        ("081 3321-4455", "+558133214455"),
        ("6133214455", "+556133214455"),
        ("98413-4557", None),
        ("(00) 98413-4557", None),
        ("abc", None),
    ],
)
def test_phones_are_brazilian_with_area_code(raw: str, phone: str | None) -> None:
    assert normalize_phone(raw) == phone


def test_a_contact_needs_a_way_to_act_on_it() -> None:
    details = validate_contact(
        name=" Maria  Souza ",
        phone="",
        email="",
        expected_creditor=" Loja  Exemplo ",
        message="  ",
    )
    assert (details.name, details.phone, details.expected_creditor, details.message) == (
        "Maria Souza",
        None,
        "Loja Exemplo",
        None,
    )
    with pytest.raises(InvalidContact) as refused:
        validate_contact(name="Maria", phone="", email="", expected_creditor="", message="oi")
    assert [p.field for p in refused.value.problems] == ["phone"]
    with pytest.raises(InvalidContact) as refused:
        validate_contact(
            name="x" * 201, phone="123", email="maria@", expected_creditor=None, message=None
        )
    assert [p.field for p in refused.value.problems] == ["phone", "email", "name"]


def test_a_contact_stored_before_sealing_is_published_as_it_was(
    gateway: GatewayApplication,
) -> None:
    # Contacts stored before personal data was sealed carry it in clear: version 1.
    details = validate_contact(
        name="Maria",
        phone="(11) 98765-4321",
        email="maria@example.com.br",
        expected_creditor="Loja Exemplo",
        message="Tenho um carnê",
    )
    contact = PortalContact(
        tenant="acme",
        document="52998224725",
        form_key="form-1",
        name=details.name,
        phone=details.phone,
        email=details.email,
        expected_creditor=details.expected_creditor,
        message=details.message,
    )
    assert contact.id == portal_contact_id("acme", "52998224725", "form-1")
    assert contact.id != portal_contact_id("acme", "52998224725", "form-2")
    gateway.save(contact)
    (event,) = stored(gateway)
    ((topic, message),) = list(integration_events(event))
    assert topic == PORTAL_TOPIC
    assert isinstance(message, PortalContactLeft)
    assert message.document == "52998224725" and message.partition_key() == b"52998224725"
    assert (message.phone, message.email) == ("+5511987654321", "maria@example.com.br")
    assert message.left_at == message.occurred_at and message.left_at.tzinfo == dt.UTC
    # Publishing the same stored event again gives the same event id.
    ((_, again),) = list(integration_events(event))
    assert again.event_id == message.event_id and uuid.UUID(str(again.event_id))


def test_a_contact_is_stored_and_published_sealed_with_the_debtors_key(
    gateway: GatewayApplication,
) -> None:
    vault = memory_vault()
    fields = {"name": "Maria", "phone": "+5511987654321", "email": "maria@example.com.br"}
    contact = PortalContact(
        tenant="acme",
        document="52998224725",
        form_key="form-1",
        expected_creditor="Loja Exemplo",
        message="Tenho um carnê",
        personal=seal(vault.key_for("acme", "52998224725"), fields).model_dump(),
    )
    assert contact.id == portal_contact_id("acme", "52998224725", "form-1")
    gateway.save(contact)
    (event,) = stored(gateway)
    ((topic, message),) = list(integration_events(event))
    assert topic == PORTAL_TOPIC
    assert isinstance(message, PortalContactLeftV2) and message.personal is not None
    assert message.document == "52998224725" and message.partition_key() == b"52998224725"
    assert unseal(message.personal, vault) == fields
    assert (message.expected_creditor, message.message) == ("Loja Exemplo", "Tenho um carnê")
    for clear in ("Maria", "5511987654321", "maria@"):
        assert clear not in message.model_dump_json()
    assert summarize(message, vault) == (
        "Devedor deixou contato no portal: telefone +5511987654321, e-mail "
        'maria@example.com.br, credor esperado: Loja Exemplo; mensagem: "Tenho um carnê"'
    )
    # Erased: nothing of it opens again.
    vault.erase("acme", "52998224725", by="admin@acme", at=dt.datetime.now(dt.UTC))
    assert unseal(message.personal, vault) is None
    assert SERVICE_OF[PortalContactLeftV2] == "gateway"

    # Only the creditor expected: nothing to seal.
    bare = PortalContact(
        tenant="acme",
        document="52998224725",
        form_key="form-2",
        expected_creditor="Loja Exemplo",
        message=None,
    )
    gateway.save(bare)
    ((_, published),) = list(integration_events(stored(gateway)[-1]))
    assert isinstance(published, PortalContactLeftV2) and published.personal is None


def test_the_timeline_tells_the_contact_in_portuguese() -> None:
    contact = PortalContactLeft(
        event_id=uuid.uuid4(),
        occurred_at=dt.datetime(2026, 11, 25, 15, tzinfo=dt.UTC),
        tenant="acme",
        aggregate_id="c-1",
        aggregate_version=1,
        correlation_id="c-1",
        causation_id="c-1",
        document="52998224725",
        phone="+5511987654321",
        expected_creditor="Loja Exemplo",
        message="Tenho um carnê",
        left_at=dt.datetime(2026, 11, 25, 15, tzinfo=dt.UTC),
    )
    assert summarize(contact) == (
        "Devedor deixou contato no portal: telefone +5511987654321, credor esperado: "
        'Loja Exemplo; mensagem: "Tenho um carnê"'
    )
    assert SERVICE_OF[PortalContactLeft] == "gateway"
    assert PORTAL_TOPIC in TimelineProjection.topics
