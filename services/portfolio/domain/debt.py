"""A debt (dívida, título) in a tenant's portfolio."""

from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata
import uuid
from typing import Any

from eventsourcing.domain import Aggregate, event

from contracts.envelope import COBRANCA_NAMESPACE

# Fields a re-imported row may change; order is the order changes are listed in.
TRACKED_FIELDS = (
    "document",
    "document_kind",
    "name",
    "original_amount_cents",
    "due_date",
    "email",
    "phone",
    "city",
    "state",
    "category",
)


@functools.lru_cache(maxsize=65536)
def natural_key_part(text: str) -> str:
    """Creditor and contract as a key: case, accents and repeated spaces do not matter."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"\s+", " ", folded).strip().casefold()


def debt_id_for(tenant: str, creditor: str, contract: str, installment: str) -> uuid.UUID:
    """The same (tenant, creditor, contract, installment) always names the same debt."""
    key = "|".join(
        [tenant, natural_key_part(creditor), natural_key_part(contract), installment.strip()]
    )
    return uuid.uuid5(COBRANCA_NAMESPACE, f"debt|{key}")


class Debt(Aggregate):
    @staticmethod
    def create_id(
        tenant: str, creditor: str, contract: str, installment: str, **_: Any
    ) -> uuid.UUID:
        return debt_id_for(tenant, creditor, contract, installment)

    @event("Imported")
    def __init__(
        self,
        *,
        tenant: str,
        creditor: str,
        contract: str,
        installment: str,
        document: str,
        document_kind: str,
        name: str,
        original_amount_cents: int,
        due_date: dt.date,
        email: str | None,
        phone: str | None,
        city: str | None,
        state: str | None,
        category: str | None,
        import_id: str,
        row_key: str,
        cause_id: str,
    ) -> None:
        self.tenant = tenant
        self.creditor = creditor
        self.contract = contract
        self.installment = installment
        self.document = document
        self.document_kind = document_kind
        self.name = name
        self.original_amount_cents = original_amount_cents
        self.due_date = due_date
        self.email = email
        self.phone = phone
        self.city = city
        self.state = state
        self.category = category
        self.import_id = import_id

    def changes_from(self, values: dict[str, Any]) -> list[dict[str, Any]]:
        """What a re-imported row would change: [{field, old, new}], empty when nothing."""
        changes = []
        for field in TRACKED_FIELDS:
            old, new = getattr(self, field), values.get(field)
            if old != new:
                changes.append({"field": field, "old": old, "new": new})
        return changes

    def snapshot(self) -> dict[str, Any]:
        return {
            f: getattr(self, f)
            for f in (*TRACKED_FIELDS, "tenant", "creditor", "contract", "installment")
        }

    def update(
        self, *, changes: list[dict[str, Any]], import_id: str, row_key: str, cause_id: str
    ) -> None:
        current = self.snapshot()
        current.update({c["field"]: c["new"] for c in changes})
        self._updated(
            changes=changes,
            current=current,
            import_id=import_id,
            row_key=row_key,
            cause_id=cause_id,
        )

    @event("Updated")
    def _updated(
        self,
        *,
        changes: list[dict[str, Any]],
        current: dict[str, Any],
        import_id: str,
        row_key: str,
        cause_id: str,
    ) -> None:
        """Carries the debt's values after the change, so the event stands on its own."""
        for change in changes:
            setattr(self, change["field"], change["new"])
        self.import_id = import_id
