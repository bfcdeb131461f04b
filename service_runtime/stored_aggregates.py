"""What the relays' mappers read back from their service's store, for stored events that do
not carry it themselves.

A tenant's own record (its negotiation or messaging settings, its portal profile) has an id
derived from the tenant, and its later events (settings saved) do not repeat the tenant, which
cannot be read back from the id: the record's first event (its creation) holds it, read once
and kept (an aggregate never changes tenant). A mapper telling what a save changed reads the
record as it was just before the event. Both read only stored facts, so publishing the same
stored event again gives the same integration event."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any

from eventsourcing.application import Application

TenantOf = Callable[[uuid.UUID], str]


class StoredAggregates:
    def __init__(self, app: Application[Any]) -> None:
        self.app = app
        self._tenants: dict[uuid.UUID, str] = {}
        self._lock = threading.Lock()

    def tenant_of(self, aggregate_id: uuid.UUID) -> str:
        """The `tenant` the aggregate's creation event set."""
        with self._lock:
            known = self._tenants.get(aggregate_id)
        if known is not None:
            return known
        tenant = str(self.app.repository.get(aggregate_id, version=1).tenant)
        with self._lock:
            self._tenants[aggregate_id] = tenant
        return tenant

    def before(self, aggregate_id: uuid.UUID, version: int) -> Any | None:
        """The aggregate as it was before its event `version` (None before its first)."""
        if version <= 1:
            return None
        return self.app.repository.get(aggregate_id, version=version - 1)
