"""Personal data sealed with per-debtor keys, and the key vault that holds them apart
(LGPD erasure by crypto-shredding; see contracts.personal and README, "Personal data").

Each debtor of each tenant, (tenant, CPF/CNPJ), has a random AES-256 key. Personal fields go
into events and aggregates as `SealedPersonalData` under that key; every service that needs
them in clear (to send a message, to show a name) opens them with the vault. Erasing the
debtor's keys makes every sealed copy unreadable at once, in the event stores, the topics and
any replay; each service then removes the clear copies it kept (`PersonalDataErased`).

The vault is a port: `SqlKeyVault` keeps the keys in their own database (a SQLite file under
the data dir, or the `vault` schema of the PostgreSQL server, or COBRANCA_VAULT_URL), never in
a service's event store or read database. A production deployment can put a KMS behind the
same methods.

The vault also holds a key per tenant and purpose (`settings_key`) for the tenant's own secrets
(the messaging channels' credentials): not a debtor's, so no erasure destroys it.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Index,
    LargeBinary,
    MetaData,
    String,
    Table,
    bindparam,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.exc import DBAPIError, IntegrityError

from contracts.personal import SealedPersonalData
from service_runtime.sql import in_ids

# What debtors and operators read where erased personal data was.
REMOVED = "[dado removido]"

PersonalFields = Mapping[str, Any]

metadata = MetaData()
debtor_keys = Table(
    "debtor_keys",
    metadata,
    Column("key_id", String(32), primary_key=True),
    Column("tenant", String(63), nullable=False),
    Column("document", String(14), nullable=False),
    Column("secret", LargeBinary(32), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("erased_at", DateTime(timezone=True), nullable=True),
    Column("erased_by", String(200), nullable=True),
    Index("ix_debtor_keys_debtor", "tenant", "document"),
    # One current (not erased) key per debtor, whichever process creates it first.
    Index(
        "uq_debtor_keys_current",
        "tenant",
        "document",
        unique=True,
        sqlite_where=text("erased_at IS NULL"),
        postgresql_where=text("erased_at IS NULL"),
    ),
)
# A tenant's own secrets (the messaging channels' credentials) are sealed under a key of the
# tenant and a purpose, apart from the debtors' keys: no debtor's erasure may make the tenant's
# settings unreadable, so these keys are never erased.
tenant_keys = Table(
    "tenant_keys",
    metadata,
    Column("key_id", String(32), primary_key=True),
    Column("tenant", String(63), nullable=False),
    Column("purpose", String(63), nullable=False),
    Column("secret", LargeBinary(32), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # One key per tenant and purpose, whichever process creates it first.
    Index("uq_tenant_keys_purpose", "tenant", "purpose", unique=True),
)
# The current keys of some debtors of a tenant, and the secrets of some keys.
_CURRENT_KEYS = (
    select(debtor_keys.c.document, debtor_keys.c.key_id, debtor_keys.c.secret)
    .where(debtor_keys.c.tenant == bindparam("tenant"))
    .where(in_ids(debtor_keys.c.document))
    .where(debtor_keys.c.erased_at.is_(None))
)
_SECRETS = select(debtor_keys.c.key_id, debtor_keys.c.secret).where(in_ids(debtor_keys.c.key_id))


def _create_tables(engine: Engine, attempts: int = 10) -> None:
    # Every service opens the vault at start, possibly at the same instant: checking for the
    # table and creating it is not atomic, so all but one may fail. Try again.
    for attempt in range(attempts):
        try:
            metadata.create_all(engine)
            return
        except DBAPIError:  # "already exists": IntegrityError or ProgrammingError on
            # PostgreSQL, OperationalError on SQLite
            if attempt == attempts - 1:
                raise
            time.sleep(0.1 * (attempt + 1))


@dataclass(frozen=True)
class DebtorKey:
    key_id: str
    secret: bytes


# A tenant's key (`KeyVault.settings_key`) has the same shape: `seal` takes either.
TenantKey = DebtorKey


class KeyVault(Protocol):
    """Where the debtors' keys live, apart from everything they protect."""

    def key_for(self, tenant: str, document: str) -> DebtorKey:
        """The debtor's current key, created on first use (and again after an erasure: data
        the creditor sends later is new data)."""
        return self.keys_for(tenant, [document])[document]

    def keys_for(self, tenant: str, documents: Iterable[str]) -> dict[str, DebtorKey]:
        """`key_for` of many debtors of one tenant at once (a carteira's batch of rows)."""
        raise NotImplementedError

    def secret(self, key_id: str) -> bytes | None:
        """The key's secret; None once erased (or never known)."""
        raise NotImplementedError

    def preload(self, key_ids: Iterable[str]) -> None:
        """Fetch the secrets of a batch at once, so the `secret` calls that follow are read
        from memory: a consumer opening a batch of new debtors' data asks the vault once,
        not once per event. Nothing to do for a vault that keeps no cache."""
        return None

    def erase(self, tenant: str, document: str, by: str, at: dt.datetime) -> list[str]:
        """Destroy every key of the debtor; returns their ids, those erased before included,
        so a repeated request answers the same."""
        raise NotImplementedError

    def forget(self, key_ids: Iterable[str]) -> None:
        """Drop cached secrets: another process erased them."""
        raise NotImplementedError

    def settings_key(self, tenant: str, purpose: str) -> TenantKey:
        """The tenant's key for its own settings of `purpose` (the messaging channels'
        credentials), created on first use. Not a debtor's key: no erasure destroys it."""
        raise NotImplementedError


class SqlKeyVault(KeyVault):
    """Keys in a SQL table of their own database. Secrets are cached for `cache_seconds` (a
    replay opens the same debtor's data many times); a process learns of an erasure made
    elsewhere by `PersonalDataErased` (`forget`), or at the latest when its cache expires."""

    def __init__(self, engine: Engine, cache_seconds: float = 30.0) -> None:
        self.engine = engine
        self.cache_seconds = cache_seconds
        _create_tables(engine)
        self._lock = threading.Lock()
        self._secrets: dict[str, tuple[bytes | None, float]] = {}
        self._current: dict[tuple[str, str], tuple[DebtorKey, float]] = {}
        # Tenants' keys never change once made (nor are erased): kept for the process's life.
        self._tenant_keys: dict[tuple[str, str], TenantKey] = {}

    def keys_for(self, tenant: str, documents: Iterable[str]) -> dict[str, DebtorKey]:
        wanted = list(dict.fromkeys(documents))
        now = time.monotonic()
        found: dict[str, DebtorKey] = {}
        with self._lock:
            for document in wanted:
                cached = self._current.get((tenant, document))
                if cached and now - cached[1] < self.cache_seconds:
                    found[document] = cached[0]
        missing = [d for d in wanted if d not in found]
        for attempt in range(3):
            if not missing:
                break
            found.update(self._select_current(tenant, missing))
            missing = [d for d in missing if d not in found]
            if not missing:
                break
            try:
                found.update(self._create(tenant, missing))
                missing = []
            except IntegrityError:
                # Another process created some of them first: read theirs.
                if attempt == 2:
                    raise
        with self._lock:
            for document, key in found.items():
                self._current[(tenant, document)] = (key, now)
                self._secrets[key.key_id] = (key.secret, now)
        return found

    def _select_current(self, tenant: str, documents: list[str]) -> dict[str, DebtorKey]:
        found: dict[str, DebtorKey] = {}
        with self.engine.connect() as conn:
            rows = conn.execute(_CURRENT_KEYS, {"tenant": tenant, "ids": documents})
            for row in rows:
                found[row.document] = DebtorKey(row.key_id, bytes(row.secret))
        return found

    def _create(self, tenant: str, documents: list[str]) -> dict[str, DebtorKey]:
        created = {
            document: DebtorKey(uuid.uuid4().hex, AESGCM.generate_key(bit_length=256))
            for document in documents
        }
        at = dt.datetime.now(dt.UTC)  # when the key was made: a record, not business time
        with self.engine.begin() as conn:
            conn.execute(
                insert(debtor_keys),
                [
                    {
                        "key_id": key.key_id,
                        "tenant": tenant,
                        "document": document,
                        "secret": key.secret,
                        "created_at": at,
                    }
                    for document, key in created.items()
                ],
            )
        return created

    def secret(self, key_id: str) -> bytes | None:
        now = time.monotonic()
        with self._lock:
            cached = self._secrets.get(key_id)
        if cached and now - cached[1] < self.cache_seconds:
            return cached[0]
        with self.engine.connect() as conn:
            value = conn.execute(
                select(debtor_keys.c.secret).where(debtor_keys.c.key_id == key_id)
            ).scalar()
        found = bytes(value) if value is not None else None
        with self._lock:
            self._secrets[key_id] = (found, now)
        return found

    def preload(self, key_ids: Iterable[str]) -> None:
        now = time.monotonic()
        with self._lock:
            missing = sorted(
                {
                    key_id
                    for key_id in key_ids
                    if (cached := self._secrets.get(key_id)) is None
                    or now - cached[1] >= self.cache_seconds
                }
            )
        if not missing:
            return
        found: dict[str, bytes | None] = dict.fromkeys(missing)
        with self.engine.connect() as conn:
            for row in conn.execute(_SECRETS, {"ids": missing}):
                found[row.key_id] = bytes(row.secret) if row.secret is not None else None
        with self._lock:
            for key_id, secret in found.items():
                self._secrets[key_id] = (secret, now)

    def erase(self, tenant: str, document: str, by: str, at: dt.datetime) -> list[str]:
        with self.engine.begin() as conn:
            conn.execute(
                update(debtor_keys)
                .where(debtor_keys.c.tenant == tenant)
                .where(debtor_keys.c.document == document)
                .where(debtor_keys.c.erased_at.is_(None))
                .values(secret=None, erased_at=at, erased_by=by)
            )
            key_ids = list(
                conn.execute(
                    select(debtor_keys.c.key_id)
                    .where(debtor_keys.c.tenant == tenant)
                    .where(debtor_keys.c.document == document)
                    .order_by(debtor_keys.c.created_at, debtor_keys.c.key_id)
                ).scalars()
            )
        self.forget(key_ids)
        with self._lock:
            self._current.pop((tenant, document), None)
        return key_ids

    def forget(self, key_ids: Iterable[str]) -> None:
        gone = set(key_ids)
        with self._lock:
            for key_id in gone:
                self._secrets.pop(key_id, None)
            for debtor, (key, _) in list(self._current.items()):
                if key.key_id in gone:
                    del self._current[debtor]

    def settings_key(self, tenant: str, purpose: str) -> TenantKey:
        with self._lock:
            known = self._tenant_keys.get((tenant, purpose))
        if known is not None:
            return known
        for attempt in range(3):
            found = self._select_tenant_key(tenant, purpose)
            if found is None:
                try:
                    found = self._create_tenant_key(tenant, purpose)
                except IntegrityError:
                    # Another process created it first: read theirs.
                    if attempt == 2:
                        raise
                    continue
            with self._lock:
                self._tenant_keys[(tenant, purpose)] = found
            return found
        raise AssertionError("unreachable")

    def _select_tenant_key(self, tenant: str, purpose: str) -> TenantKey | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(tenant_keys.c.key_id, tenant_keys.c.secret)
                .where(tenant_keys.c.tenant == tenant)
                .where(tenant_keys.c.purpose == purpose)
            ).first()
        return TenantKey(row.key_id, bytes(row.secret)) if row is not None else None

    def _create_tenant_key(self, tenant: str, purpose: str) -> TenantKey:
        key = TenantKey(uuid.uuid4().hex, AESGCM.generate_key(bit_length=256))
        with self.engine.begin() as conn:
            conn.execute(
                insert(tenant_keys).values(
                    key_id=key.key_id,
                    tenant=tenant,
                    purpose=purpose,
                    secret=key.secret,
                    created_at=dt.datetime.now(dt.UTC),  # a record, not business time
                )
            )
        return key


def _ciphertext(key: DebtorKey, fields: PersonalFields) -> str:
    nonce = os.urandom(12)
    plain = json.dumps(dict(fields), separators=(",", ":"), sort_keys=True).encode()
    body = AESGCM(key.secret).encrypt(nonce, plain, key.key_id.encode())
    return base64.urlsafe_b64encode(nonce + body).decode()


def seal(key: DebtorKey, fields: PersonalFields) -> SealedPersonalData:
    """Encrypt personal fields (a JSON object) under the debtor's key."""
    return SealedPersonalData(key_id=key.key_id, ciphertext=_ciphertext(key, fields))


def seal_as_dict(key: DebtorKey, fields: PersonalFields) -> dict[str, str]:
    """`seal(key, fields).model_dump()` without building the model: a key id from the vault
    needs no validating, and the model took a third of sealing a carteira's row."""
    return {"key_id": key.key_id, "ciphertext": _ciphertext(key, fields)}


def unseal(sealed: SealedPersonalData, vault: KeyVault) -> dict[str, Any] | None:
    """The personal fields in clear; None when the key was erased (the data is gone)."""
    secret = vault.secret(sealed.key_id)
    if secret is None:
        return None
    raw = base64.urlsafe_b64decode(sealed.ciphertext.encode())
    try:
        plain = AESGCM(secret).decrypt(raw[:12], raw[12:], sealed.key_id.encode())
    except InvalidTag:
        raise ValueError(f"sealed data under key {sealed.key_id} does not open") from None
    opened = json.loads(plain)
    if not isinstance(opened, dict):
        raise ValueError("sealed personal data must be a JSON object")
    return opened


def unseal_with(sealed: SealedPersonalData, key: TenantKey) -> dict[str, Any]:
    """Fields sealed under a key the caller holds (a tenant's `settings_key`): unlike
    `unseal`, nothing here was erased, so a different key or data that do not open raise
    ValueError rather than read as gone."""
    if sealed.key_id != key.key_id:
        raise ValueError(f"sealed under key {sealed.key_id}, not under key {key.key_id}")
    raw = base64.urlsafe_b64decode(sealed.ciphertext.encode())
    try:
        plain = AESGCM(key.secret).decrypt(raw[:12], raw[12:], sealed.key_id.encode())
    except InvalidTag:
        raise ValueError(f"sealed data under key {sealed.key_id} does not open") from None
    opened = json.loads(plain)
    if not isinstance(opened, dict):
        raise ValueError("sealed data must be a JSON object")
    return opened


def unseal_or_removed(
    sealed: SealedPersonalData | None, vault: KeyVault, fields: Iterable[str]
) -> dict[str, Any]:
    """The named fields in clear, each `REMOVED` once erased (None where there was nothing):
    what a read model or a screen shows."""
    names = list(fields)
    if sealed is None:
        return dict.fromkeys(names)
    opened = unseal(sealed, vault)
    if opened is None:
        return dict.fromkeys(names, REMOVED)
    return {name: opened.get(name) for name in names}
