"""What the negotiation service keeps per tenant: its settings, the ids of its conditions and
the next nosso número (each boleto needs a number of its own, never reused)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from eventsourcing.domain import Aggregate, event

from contracts.envelope import COBRANCA_NAMESPACE


class NossoNumerosExhausted(ValueError):
    def __init__(self, *, allocated: int, wanted: int, capacity: int) -> None:
        super().__init__(
            f"{wanted} nosso número(s) after {allocated} would pass the layout's {capacity}"
        )
        self.allocated = allocated
        self.wanted = wanted
        self.capacity = capacity


def tenant_aggregate_id(tenant: str) -> uuid.UUID:
    return uuid.uuid5(COBRANCA_NAMESPACE, f"negotiation-tenant|{tenant}")


class TenantNegotiation(Aggregate):
    @staticmethod
    def create_id(tenant: str, **_: Any) -> uuid.UUID:
        return tenant_aggregate_id(tenant)

    @event("Started")
    def __init__(self, *, tenant: str, settings_json: str) -> None:
        self.tenant = tenant
        self.settings_json = settings_json
        self.condition_ids: list[str] = []
        self.next_nosso_numero = 1

    @event("SettingsSaved")
    def save_settings(self, *, settings_json: str, saved_by: str) -> None:
        self.settings_json = settings_json

    @event("ConditionAdded")
    def add_condition(self, *, condition_id: str) -> None:
        self.condition_ids = [*self.condition_ids, condition_id]

    @property
    def allocated_nosso_numeros(self) -> int:
        """How many nosso números were given so far: 1..this one are taken."""
        return self.next_nosso_numero - 1

    def allocate_nosso_numeros(self, count: int, *, capacity: int) -> list[int]:
        """The next `count` numbers of the sequence, all or none: `NossoNumerosExhausted` when
        the last would pass `capacity` (the bank layout's room). Never wraps around: a number
        given twice would let a payment of one boleto settle another."""
        if count < 1:
            raise ValueError(f"allocate at least one nosso número, got {count}")
        first = self.next_nosso_numero
        if first + count - 1 > capacity:
            raise NossoNumerosExhausted(
                allocated=self.allocated_nosso_numeros, wanted=count, capacity=capacity
            )
        self._nosso_numeros_allocated(first=first, count=count)
        return list(range(first, first + count))

    @event("NossoNumerosAllocated")
    def _nosso_numeros_allocated(self, *, first: int, count: int) -> None:
        self.next_nosso_numero = first + count


def issuing_settings(events: Iterable[object]) -> list[str]:
    """The settings (their JSON) under which nosso números were allocated, in `events` (the
    tenant's `TenantNegotiation` events, oldest first): the boleto accounts that issued the
    tenant's boletos, a bank the tenant left included (its boletos are still paid there, and
    its return files keep coming). Each once, the latest first. A bank configured and left
    before any agreement was closed issued nothing: it is not here."""
    allocated = getattr(TenantNegotiation, "NossoNumerosAllocated")  # noqa: B009
    current: str | None = None
    used: list[str] = []
    for stored in events:
        settings_json = getattr(stored, "settings_json", None)
        if isinstance(settings_json, str):
            current = settings_json
        elif isinstance(stored, allocated) and current is not None and current not in used:
            used.append(current)
    return used[::-1]
