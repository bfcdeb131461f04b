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
        self.settled_by: str | None = None
        self.paid_cents = 0
        self.broken_agreements: tuple[str, ...] = ()

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

    # ---- outcomes of agreements ----------------------------------------------------------

    def settle(self, *, agreement_id: str, on: dt.date, paid_cents: int, cause_id: str) -> bool:
        """The debt's agreement was fulfilled. False when already settled (a redelivery)."""
        if self.settled_by is not None:
            return False
        self._settled(
            **self._identity(),
            agreement_id=agreement_id,
            on=on,
            paid_cents=self.paid_cents + paid_cents,
            cause_id=cause_id,
        )
        return True

    def reopen(self, *, agreement_id: str, on: dt.date, paid_cents: int, cause_id: str) -> bool:
        """The debt's agreement was broken: back to collection, what was paid deducted.
        False when this agreement's break was already applied, or the debt is settled."""
        if self.settled_by is not None or agreement_id in self.broken_agreements:
            return False
        paid = self.paid_cents + paid_cents
        self._reopened(
            **self._identity(),
            agreement_id=agreement_id,
            on=on,
            paid_cents=paid,
            balance_cents=max(0, self.original_amount_cents - paid),
            cause_id=cause_id,
        )
        return True

    def _identity(self) -> dict[str, Any]:
        # Each event carries who it is about, so it stands on its own when published.
        return {
            "tenant": self.tenant,
            "document": self.document,
            "creditor": self.creditor,
            "contract": self.contract,
            "installment": self.installment,
        }

    @event("Settled")
    def _settled(
        self,
        *,
        tenant: str,
        document: str,
        creditor: str,
        contract: str,
        installment: str,
        agreement_id: str,
        on: dt.date,
        paid_cents: int,
        cause_id: str,
    ) -> None:
        self.settled_by = agreement_id
        self.paid_cents = paid_cents

    @event("Reopened")
    def _reopened(
        self,
        *,
        tenant: str,
        document: str,
        creditor: str,
        contract: str,
        installment: str,
        agreement_id: str,
        on: dt.date,
        paid_cents: int,
        balance_cents: int,
        cause_id: str,
    ) -> None:
        self.broken_agreements = (*self.broken_agreements, agreement_id)
        self.paid_cents = paid_cents
