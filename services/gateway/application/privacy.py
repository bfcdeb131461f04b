"""Use case: erase a debtor's personal data on request (LGPD), by crypto-shredding.

The debtor's keys are destroyed in the key vault first: from then on nothing sealed with them
opens anywhere (event stores, topics, replays). Then the erasure is recorded in the gateway's
event store (`DebtorErasures`), which the outbox relay publishes as `PersonalDataErased`, so
every service removes the copies it kept in clear. Asking again is safe: the vault answers the
same keys and the consumers apply an erasure idempotently.

A debtor the tenant holds nothing about (no key, and no read model knows the document) is not
found. A debtor known only from data published before it was sealed (no key) is erased all the
same, with no key: the services remove their clear copies."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from anyio import to_thread
from sqlalchemy import Engine, Table, select

from service_runtime.eventstore import ServiceApplication
from service_runtime.personal_data import KeyVault
from services.gateway.domain.erasure import DebtorErasures, debtor_erasures_id
from services.gateway.read_models.call_list import call_debts
from services.gateway.read_models.conversations import conversations
from services.gateway.read_models.portal_view import portal_debts
from services.gateway.read_models.timeline import timeline_entries


@dataclass(frozen=True)
class ErasureReceipt:
    document: str
    key_ids: list[str]
    erased_at: dt.datetime
    requested_by: str


class NoPersonalData(Exception):
    """The tenant holds no personal data of this document."""


def debtor_known(engine: Engine, tenant: str, document: str) -> bool:
    """Whether any read model has something about the debtor."""
    tables: tuple[Table, ...] = (portal_debts, call_debts, conversations, timeline_entries)
    with engine.connect() as conn:
        for table in tables:
            found = conn.execute(
                select(table.c.tenant)
                .where(table.c.tenant == tenant, table.c.document == document)
                .limit(1)
            ).first()
            if found is not None:
                return True
    return False


class PrivacyService:
    def __init__(
        self,
        *,
        app: ServiceApplication,
        vault: KeyVault,
        read_engine: Engine,
        on_saved: Callable[[], None] | None = None,
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.app = app
        self.vault = vault
        self.read_engine = read_engine
        self.on_saved = on_saved
        # When keys are erased is a record of real time, not the business date.
        self.now = now

    async def erase(
        self, tenant: str, document: str, *, requested_by: str, reason: str
    ) -> ErasureReceipt:
        """Erase the debtor's keys and record it; NoPersonalData when there is nothing to
        erase. `document` is a normalized CPF/CNPJ."""
        at = self.now()
        key_ids = await to_thread.run_sync(
            lambda: self.vault.erase(tenant, document, by=requested_by, at=at)
        )
        if not key_ids and not await to_thread.run_sync(
            lambda: debtor_known(self.read_engine, tenant, document)
        ):
            raise NoPersonalData(document)

        def command() -> None:
            erasures = self.app.get_or_none(
                DebtorErasures, debtor_erasures_id(tenant, document)
            ) or DebtorErasures(tenant=tenant, document=document)
            erasures.erase(
                tenant=tenant,
                document=document,
                key_ids=list(key_ids),
                requested_by=requested_by,
                reason=reason,
                erased_at=at,
            )
            self.app.save(erasures)

        await to_thread.run_sync(lambda: self.app.retrying(command))
        if self.on_saved is not None:
            self.on_saved()
        return ErasureReceipt(
            document=document, key_ids=list(key_ids), erased_at=at, requested_by=requested_by
        )
