"""A payment condition (condição de pagamento) of a tenant. Its terms are stored as the
contract's JSON, so what an agreement copies is exactly what the admin saved."""

from __future__ import annotations

import uuid
from typing import Any

from eventsourcing.domain import Aggregate, event

from contracts.envelope import COBRANCA_NAMESPACE


def condition_aggregate_id(tenant: str, condition_id: str) -> uuid.UUID:
    return uuid.uuid5(COBRANCA_NAMESPACE, f"condition|{tenant}|{condition_id}")


class PaymentCondition(Aggregate):
    @staticmethod
    def create_id(tenant: str, condition_id: str, **_: Any) -> uuid.UUID:
        return condition_aggregate_id(tenant, condition_id)

    @event("Saved")
    def __init__(self, *, tenant: str, condition_id: str, terms_json: str, saved_by: str) -> None:
        self.tenant = tenant
        self.condition_id = condition_id
        self.terms_json = terms_json
        self.saved_by = saved_by

    def change(self, *, terms_json: str, saved_by: str) -> None:
        self._changed(
            tenant=self.tenant,
            condition_id=self.condition_id,
            terms_json=terms_json,
            saved_by=saved_by,
        )

    @event("Changed")
    def _changed(self, *, tenant: str, condition_id: str, terms_json: str, saved_by: str) -> None:
        self.terms_json = terms_json
        self.saved_by = saved_by
