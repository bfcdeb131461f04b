"""The erasures of a debtor's personal data (LGPD, crypto-shredding): one aggregate per debtor
of a tenant, one `Erased` event per request an admin made. The keys are destroyed in the key
vault first; the event records who did it, when, why and which keys, and the outbox relay
publishes it as `PersonalDataErased` so every service removes its clear copies.

Asking again is safe: the vault answers the same keys, and the consumers apply an erasure
idempotently; the second request is recorded too (who asked, when)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from eventsourcing.domain import Aggregate, event

from contracts.envelope import COBRANCA_NAMESPACE

MAX_REASON = 500


def debtor_erasures_id(tenant: str, document: str) -> uuid.UUID:
    return uuid.uuid5(COBRANCA_NAMESPACE, f"debtor-erasures|{tenant}|{document}")


class DebtorErasures(Aggregate):
    @staticmethod
    def create_id(tenant: str, document: str, **_: Any) -> uuid.UUID:
        return debtor_erasures_id(tenant, document)

    @event("Registered")
    def __init__(self, *, tenant: str, document: str) -> None:
        self.tenant = tenant
        self.document = document
        self.erasures = 0
        self.erased_at: dt.datetime | None = None

    @event("Erased")
    def erase(
        self,
        *,
        tenant: str,
        document: str,
        key_ids: list[str],
        requested_by: str,
        reason: str,
        erased_at: dt.datetime,
    ) -> None:
        """The debtor's keys `key_ids` were erased from the vault at `erased_at`."""
        self.erasures += 1
        self.erased_at = erased_at
