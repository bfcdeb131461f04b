"""A tenant's messaging settings hold its channels' credentials (an SMTP server's password, a
provider's token): the messaging event store keeps them sealed under the tenant's settings key,
held apart in the key vault. They read back as saved; settings stored in clear before still
load, and the next save seals; a debtor's erasure leaves the key alone; another tenant's key,
or none, opens nothing, and says so rather than send with default settings."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from contracts.messaging_requests import MessagingSettings, SaveSettings
from contracts.personal import SealedPersonalData
from service_runtime.database import sqlite_engine
from service_runtime.personal_data import SqlKeyVault, TenantKey, unseal_with
from services.messaging.application import MessagingApplication
from services.messaging.application.service import SETTINGS_KEY_PURPOSE, SettingsUnreadable
from services.messaging.domain.records import TenantMessaging, tenant_messaging_id
from tests.unit.test_settings_published import (
    AGENCY,
    ANA,
    BRUNO,
    SECRETS,
    SMS_TOKEN,
    SMTP_PASSWORD,
    messaging_settings,
)

OTHER = "outra-assessoria"
JOAO = "52998224725"
AT = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)


class ClearTenantMessaging(Aggregate):
    """`TenantMessaging` as it was before its settings were sealed: its events, stored under
    the real aggregate's topics, are what an upgraded store holds (class_version 1)."""

    @staticmethod
    def create_id(tenant: str, **_: Any) -> Any:
        return tenant_messaging_id(tenant)

    @event("Started")
    def __init__(self, *, tenant: str, settings_json: str) -> None:
        self.tenant = tenant
        self.settings_json = settings_json

    @event("SettingsSaved")
    def save_settings(self, *, settings_json: str, saved_by: str) -> None:
        self.settings_json = settings_json


def sqlite_app(store: Path, vault: SqlKeyVault, tmp_path: Path) -> MessagingApplication:
    """The messaging application on a SQLite event store file, as a service runs it."""
    app = MessagingApplication(
        env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(store)}
    )
    app.vault = vault
    app.outbox_dir = tmp_path / "outbox"
    return app


def raw_store(store: Path) -> bytes:
    """Every byte SQLite keeps of the store: the file and its journals."""
    return b"".join(path.read_bytes() for path in sorted(store.parent.glob(f"{store.name}*")))


def save(app: MessagingApplication, settings: MessagingSettings, by: str = ANA) -> None:
    app.save_settings(SaveSettings(tenant=AGENCY, settings=settings, saved_by=by))


def stored_settings_events(app: MessagingApplication) -> list[dict[str, Any]]:
    """The states of the tenant's Started and SettingsSaved events, as stored."""
    topics = {get_topic(TenantMessaging.Started), get_topic(TenantMessaging.SettingsSaved)}
    return [
        json.loads(n.state)
        for n in app.recorder.select_notifications(1, 10_000)
        if n.topic in topics
    ]


@pytest.fixture
def vault(tmp_path: Path) -> SqlKeyVault:
    return SqlKeyVault(sqlite_engine(str(tmp_path / "keys.sqlite")))


@pytest.fixture
def app(vault: SqlKeyVault, tmp_path: Path) -> Iterator[MessagingApplication]:
    app = MessagingApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    app.vault = vault
    app.outbox_dir = tmp_path / "outbox"
    yield app
    app.close()


def test_saved_settings_are_not_readable_in_the_event_store_file(
    vault: SqlKeyVault, tmp_path: Path
) -> None:
    store = tmp_path / "events.sqlite"
    app = sqlite_app(store, vault, tmp_path)
    save(app, messaging_settings())
    save(app, messaging_settings(password="outra-senha-forte"), BRUNO)
    assert app.settings_of(AGENCY) == messaging_settings(password="outra-senha-forte")
    app.close()

    raw = raw_store(store)
    assert AGENCY.encode() in raw  # the bytes searched are the store's...
    for secret in (*SECRETS, "outra-senha-forte", "Recupera Sul"):
        assert secret.encode() not in raw  # ...and nothing of the settings is in clear
    assert SMTP_PASSWORD.encode() not in raw and SMS_TOKEN.encode() not in raw

    # Read back from the file by another process, with the vault.
    again = sqlite_app(store, SqlKeyVault(vault.engine), tmp_path)
    assert again.settings_of(AGENCY) == messaging_settings(password="outra-senha-forte")
    states = stored_settings_events(again)
    assert [s["class_version"] for s in states] == [2, 2, 2]
    assert all(s["settings_json"] is None and s["sealed_settings"] for s in states)
    again.close()


def test_settings_read_back_equal_and_a_tenant_without_any_reads_the_defaults(
    app: MessagingApplication,
) -> None:
    assert app.settings_of(AGENCY) == MessagingSettings()
    save(app, messaging_settings())
    assert app.settings_of(AGENCY) == messaging_settings()
    assert app.settings_of(OTHER) == MessagingSettings()
    assert app.tenants() == [AGENCY]


def store_in_clear(app: MessagingApplication, record: ClearTenantMessaging) -> None:
    """Store the record's events as the messaging service stored them before sealing."""
    old_topic = get_topic(ClearTenantMessaging)
    stored = []
    for domain_event in record.collect_events():
        event = app.mapper.to_stored_event(domain_event)
        state = json.loads(event.state)
        assert "class_version" not in state  # version 1, as the old classes wrote it
        if "originator_topic" in state:
            state["originator_topic"] = get_topic(TenantMessaging)
        stored.append(
            StoredEvent(
                originator_id=event.originator_id,
                originator_version=event.originator_version,
                topic=event.topic.replace(old_topic, get_topic(TenantMessaging)),
                state=json.dumps(state).encode(),
            )
        )
    app.recorder.insert_events(stored)


def test_settings_stored_in_clear_before_still_load_and_the_next_save_seals_them(
    vault: SqlKeyVault, tmp_path: Path
) -> None:
    store = tmp_path / "events.sqlite"
    app = sqlite_app(store, vault, tmp_path)
    old = ClearTenantMessaging(tenant=AGENCY, settings_json=MessagingSettings().model_dump_json())
    old.save_settings(settings_json=messaging_settings().model_dump_json(), saved_by=ANA)
    store_in_clear(app, old)
    clear_states = stored_settings_events(app)
    assert SMTP_PASSWORD in json.dumps(clear_states)  # the old shape, in clear

    assert app.settings_of(AGENCY) == messaging_settings()
    assert app.tenants() == [AGENCY]
    record = app.repository.get(tenant_messaging_id(AGENCY))
    assert (record.version, record.sealed_settings) == (2, None)

    save(app, messaging_settings(password="nova-senha"), BRUNO)
    states = stored_settings_events(app)
    assert states[:2] == clear_states  # stored events are never edited
    new = states[2]
    assert (new["class_version"], new["settings_json"], new["saved_by"]) == (2, None, BRUNO)
    assert "nova-senha" not in json.dumps(new) and SMS_TOKEN not in json.dumps(new)
    sealed = SealedPersonalData.model_validate(new["sealed_settings"])
    assert sealed.key_id == vault.settings_key(AGENCY, SETTINGS_KEY_PURPOSE).key_id

    app.close()
    # Another process on the same store: nothing cached.
    fresh = sqlite_app(store, SqlKeyVault(vault.engine), tmp_path)
    assert fresh.settings_of(AGENCY) == messaging_settings(password="nova-senha")
    fresh.close()


def test_the_settings_key_survives_a_debtors_erasure(
    app: MessagingApplication, vault: SqlKeyVault, tmp_path: Path
) -> None:
    save(app, messaging_settings())
    key = vault.settings_key(AGENCY, SETTINGS_KEY_PURPOSE)
    vault.key_for(AGENCY, JOAO)
    assert vault.erase(AGENCY, JOAO, by="admin@recupera", at=AT)
    # The vault as another process reads it after the erasure: nothing cached.
    after = SqlKeyVault(vault.engine)
    assert after.settings_key(AGENCY, SETTINGS_KEY_PURPOSE) == key
    app.vault = after
    assert app.settings_of(AGENCY) == messaging_settings()


def test_another_tenants_key_does_not_open_them(
    app: MessagingApplication, vault: SqlKeyVault
) -> None:
    save(app, messaging_settings())
    record = app.repository.get(tenant_messaging_id(AGENCY))
    sealed = SealedPersonalData.model_validate(record.sealed_settings)
    others = vault.settings_key(OTHER, SETTINGS_KEY_PURPOSE)
    assert others != vault.settings_key(AGENCY, SETTINGS_KEY_PURPOSE)

    with pytest.raises(ValueError, match="sealed under key"):
        unseal_with(sealed, others)
    # Not even under the key's id: the cipher refuses another secret.
    with pytest.raises(ValueError, match="does not open"):
        unseal_with(sealed, TenantKey(sealed.key_id, others.secret))
    with pytest.raises(SettingsUnreadable, match=OTHER):
        app.settings_in(OTHER, record)


def test_settings_whose_key_is_not_in_the_vault_are_an_error_naming_the_tenant(
    app: MessagingApplication, tmp_path: Path
) -> None:
    save(app, messaging_settings())
    # A vault that lost the key (another vault, or one restored from before the save).
    app.vault = SqlKeyVault(sqlite_engine(str(tmp_path / "other-keys.sqlite")))
    # Never the default settings, which would send from a wrong sender.
    with pytest.raises(SettingsUnreadable, match=AGENCY):
        app.settings_of(AGENCY)
    # Saving again seals them under the key the vault has now.
    save(app, messaging_settings())
    assert app.settings_of(AGENCY) == messaging_settings()


def test_a_tenants_settings_key_is_one_per_purpose_whoever_creates_it(tmp_path: Path) -> None:
    path = str(tmp_path / "keys.sqlite")
    vaults = [SqlKeyVault(sqlite_engine(path)) for _ in range(4)]
    found: list[TenantKey] = []
    start = threading.Barrier(len(vaults))

    def first_use(vault: SqlKeyVault) -> None:
        start.wait()
        found.append(vault.settings_key(AGENCY, SETTINGS_KEY_PURPOSE))

    threads = [threading.Thread(target=first_use, args=(v,)) for v in vaults]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(found) == len(vaults) and len(set(found)) == 1
    key = found[0]
    assert len(key.secret) == 32
    assert vaults[0].settings_key(AGENCY, "another-purpose") != key
    assert vaults[0].settings_key(OTHER, SETTINGS_KEY_PURPOSE) != key
    # Not a debtor's key: the debtors' lookups do not know it.
    assert vaults[0].secret(key.key_id) is None
