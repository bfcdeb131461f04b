"""A debt (dívida, título) in a tenant's portfolio.

The debtor's personal data (name, e-mail, phone, city, state, and the date of birth when the
carteira brings it) never enters the debt in clear:
the application seals it with the debtor's key (service_runtime.personal_data) and the debt
keeps, and its events carry, only the sealed blob `personal` (a `SealedPersonalData` as a
dict). Comparing a re-imported row with the debt needs the personal fields in clear: the
application opens them and hands them to `changes_from`; the domain itself never sees a key.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata
import uuid
from collections.abc import Mapping
from typing import Any

from eventsourcing.domain import Aggregate, event

from contracts.envelope import COBRANCA_NAMESPACE
from contracts.portfolio import PERSONAL_FIELDS

# The fields sealed in `personal`: the contact of the published events' DebtorContact, and the
# date of birth (ISO; absent from data sealed before dates came, and from rows without one).
SEALED_FIELDS = (*PERSONAL_FIELDS, "birth_date")

# Fields a re-imported row may change; order is the order changes are listed in. A change of a
# personal field (SEALED_FIELDS) names the field only: `old` and `new` are None, its values
# live sealed in `personal` alone.
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
    "birth_date",
)
# The debt's own (not personal) tracked fields: attributes of the aggregate.
PLAIN_FIELDS = tuple(f for f in TRACKED_FIELDS if f not in SEALED_FIELDS)

# A sealed blob as the debt keeps it: SealedPersonalData.model_dump(), {key_id, ciphertext}.
Sealed = dict[str, str]


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

    @classmethod
    def import_new(cls, debt_id: uuid.UUID, **kwargs: Any) -> Debt:
        """`Debt(**kwargs)` for a caller that already holds the debt's id, `debt_id_for` of
        the same tenant, creditor, contract and installment: the same `Imported` event,
        without hashing the id again nor the library's checks of positional arguments (a
        third of the cost of creating a debt)."""
        debt: Debt = cls._create(cls.Imported, id=debt_id, **kwargs)  # type: ignore[attr-defined]
        return debt

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
        personal: Sealed | None,
        original_amount_cents: int,
        due_date: dt.date,
        category: str | None,
        import_id: str,
        row_key: str,
        cause_id: str,
        data_as_of: dt.datetime | None,
    ) -> None:
        self.tenant = tenant
        self.creditor = creditor
        self.contract = contract
        self.installment = installment
        self.document = document
        self.document_kind = document_kind
        # The debtor's name and contact, sealed (None: imported before they were sealed).
        self.personal = personal
        self.original_amount_cents = original_amount_cents
        self.due_date = due_date
        self.category = category
        self.import_id = import_id
        self.settled_by: str | None = None
        self.paid_cents = 0
        self.broken_agreements: tuple[str, ...] = ()
        # Payments to cancelled invoices of its broken agreements deducted from it (snapshots
        # taken before this was kept have none: read with getattr).
        self.deducted_payments: tuple[str, ...] = ()
        # Why the creditor withdrew it ("cancelled", "returned"); None while in collection.
        self.withdrawn: str | None = None
        # When the creditor's data it holds was received (the row's `occurred_at`); None when
        # imported before this was kept: any row then is newer.
        self.data_as_of = data_as_of

    def has_data_newer_than(self, at: dt.datetime) -> bool:
        """Whether this debt holds data the creditor sent after `at`: a row received at `at`
        then changes nothing (the last data the creditor sent is the truth, whatever order
        the rows are read in). Equal times (one file, or one row read again) are not newer:
        such rows apply in the order they are read."""
        return self.data_as_of is not None and at < self.data_as_of

    def reaffirm(self, *, at: dt.datetime, import_id: str, row_key: str, cause_id: str) -> bool:
        """The creditor sent this debt's data again, unchanged, at `at`: the debt's data is
        now as of `at`, so a row received between its data's time and `at`, read late, cannot
        bring back what this one says. False (nothing stored) when `at` is not newer."""
        if self.data_as_of is not None and at <= self.data_as_of:
            return False
        self._reaffirmed(data_as_of=at, import_id=import_id, row_key=row_key, cause_id=cause_id)
        return True

    @event("Reaffirmed")
    def _reaffirmed(
        self, *, data_as_of: dt.datetime, import_id: str, row_key: str, cause_id: str
    ) -> None:
        """Not published: nothing a consumer sees changed, only the time of the debt's data."""
        self.data_as_of = data_as_of

    def changes_from(
        self, values: Mapping[str, Any], personal: Mapping[str, Any] | None
    ) -> list[dict[str, Any]]:
        """What a re-imported row would change: [{field, old, new}], empty when nothing.

        `values` are the row's, its personal fields in clear; `personal` is this debt's
        personal data as the caller opened it, None when it no longer opens (the debtor's key
        was erased): then every personal field the row fills is new data. A changed personal
        field is named with `old` and `new` None."""
        changes = []
        for field in TRACKED_FIELDS:
            new = values.get(field)
            if field in SEALED_FIELDS:
                # Nothing to compare with after an erasure: what the row brings is new.
                changed = new is not None if personal is None else personal.get(field) != new
                if changed:
                    changes.append({"field": field, "old": None, "new": None})
            else:
                old = getattr(self, field)
                if old != new:
                    changes.append({"field": field, "old": old, "new": new})
        return changes

    def snapshot(self) -> dict[str, Any]:
        values = {
            f: getattr(self, f)
            for f in (*PLAIN_FIELDS, "tenant", "creditor", "contract", "installment")
        }
        values["personal"] = self.personal
        return values

    def update(
        self,
        *,
        changes: list[dict[str, Any]],
        personal: Sealed | None,
        import_id: str,
        row_key: str,
        cause_id: str,
        data_as_of: dt.datetime | None,
    ) -> None:
        """Apply `changes_from`'s changes; `personal` is the sealed personal data after them
        (the same blob when no personal field changed and the key is still the debtor's)."""
        current = self.snapshot()
        current.update({c["field"]: c["new"] for c in changes if c["field"] in PLAIN_FIELDS})
        current["personal"] = personal
        self._updated(
            changes=changes,
            current=current,
            import_id=import_id,
            row_key=row_key,
            cause_id=cause_id,
            data_as_of=data_as_of,
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
        data_as_of: dt.datetime | None,
    ) -> None:
        """Carries the debt's values after the change (personal data sealed), so the event
        stands on its own."""
        for change in changes:
            if change["field"] in PLAIN_FIELDS:
                setattr(self, change["field"], change["new"])
        self.personal = current.get("personal")
        self.import_id = import_id
        if data_as_of is not None:
            self.data_as_of = data_as_of

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
        When what was paid already covers the debt (an agreement with charges paid up to its
        principal), nothing is left to collect: it is settled too, in the same save
        (`Settled`, by that agreement, on the day of the break, with everything paid), as a
        deduction to 0 settles it (`deduct_payment`).
        False when this agreement's break was already applied, or the debt is settled or was
        withdrawn by the creditor (it does not come back to collection)."""
        if (
            self.settled_by is not None
            or self.withdrawn is not None
            or agreement_id in self.broken_agreements
        ):
            return False
        paid = self.paid_cents + paid_cents
        balance = max(0, self.original_amount_cents - paid)
        self._reopened(
            **self._identity(),
            agreement_id=agreement_id,
            on=on,
            paid_cents=paid,
            balance_cents=balance,
            cause_id=cause_id,
        )
        self._settle_if_paid_off(balance, agreement_id, on, paid, cause_id)
        return True

    def deduct_payment(
        self,
        *,
        agreement_id: str,
        payment_id: str,
        paid_on: dt.date,
        deducted_cents: int,
        cause_id: str,
    ) -> bool:
        """A payment to a cancelled invoice of the debt's broken agreement, reported after the
        break: its share is deducted from what the debt owes. When nothing is left to pay, the
        debt is settled too (`Settled`, by that agreement, on the payment's date, with
        everything paid): it leaves collection as a debt whose agreement was fulfilled does.
        False when this payment was already deducted (a redelivery), when nothing is deducted,
        or when the debt is not back in collection from that agreement (settled, withdrawn, or
        never reopened by it): the caller reports it. So an older payment read late never
        takes a settled debt back to collection."""
        deducted: tuple[str, ...] = getattr(self, "deducted_payments", ())
        if (
            deducted_cents <= 0
            or payment_id in deducted
            or self.settled_by is not None
            or self.withdrawn is not None
            or agreement_id not in self.broken_agreements
        ):
            return False
        paid = self.paid_cents + deducted_cents
        balance = max(0, self.original_amount_cents - paid)
        self._payment_deducted(
            **self._identity(),
            agreement_id=agreement_id,
            payment_id=payment_id,
            paid_on=paid_on,
            deducted_cents=deducted_cents,
            paid_cents=paid,
            balance_cents=balance,
            cause_id=cause_id,
        )
        self._settle_if_paid_off(balance, agreement_id, paid_on, paid, cause_id)
        return True

    def _settle_if_paid_off(
        self, balance: int, agreement_id: str, on: dt.date, paid: int, cause_id: str
    ) -> None:
        """Nothing left to pay after a break or a payment to its boleto: settled too, in the
        same save, as a fulfilled agreement's debt is (the ruler finalizes it, the portal and
        the call list drop it). The money was counted where it was paid; Settled only says the
        debt left collection."""
        if balance == 0:
            self._settled(
                **self._identity(),
                agreement_id=agreement_id,
                on=on,
                paid_cents=paid,
                cause_id=cause_id,
            )

    # ---- withdrawn by the creditor -------------------------------------------------------

    def withdraw(
        self, *, reason: str, on: dt.date, import_id: str, row_key: str, cause_id: str
    ) -> bool:
        """The creditor cancelled the debt ("cancelled") or took it back ("returned"): it
        leaves collection for good. False when already withdrawn (a row sent again) or
        settled (nothing left to collect)."""
        if self.withdrawn is not None or self.settled_by is not None:
            return False
        self._withdrawn(
            **self._identity(),
            reason=reason,
            on=on,
            import_id=import_id,
            row_key=row_key,
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

    @event("PaymentDeducted")
    def _payment_deducted(
        self,
        *,
        tenant: str,
        document: str,
        creditor: str,
        contract: str,
        installment: str,
        agreement_id: str,
        payment_id: str,
        paid_on: dt.date,
        deducted_cents: int,
        paid_cents: int,
        balance_cents: int,
        cause_id: str,
    ) -> None:
        self.deducted_payments = (*getattr(self, "deducted_payments", ()), payment_id)
        self.paid_cents = paid_cents

    @event("Withdrawn")
    def _withdrawn(
        self,
        *,
        tenant: str,
        document: str,
        creditor: str,
        contract: str,
        installment: str,
        reason: str,
        on: dt.date,
        import_id: str,
        row_key: str,
        cause_id: str,
    ) -> None:
        self.withdrawn = reason


# ---- events stored before personal data was sealed ------------------------------------------
# Version 1 of Imported and Updated carried the debtor's name and contact in clear. Read back,
# the clear values are dropped: such a debt has no personal data (`personal` None) until the
# creditor sends the row again, when it is sealed like any new data. Nothing of version 1 is
# published again (see adapters.integration_events).


def _upcast_imported_v1_v2(state: dict[str, Any]) -> None:
    for field in PERSONAL_FIELDS:
        state.pop(field, None)
    state["personal"] = None


def _upcast_updated_v1_v2(state: dict[str, Any]) -> None:
    state["changes"] = [
        {**c, "old": None, "new": None} if c.get("field") in PERSONAL_FIELDS else c
        for c in state.get("changes", [])
    ]
    current = {k: v for k, v in state.get("current", {}).items() if k not in PERSONAL_FIELDS}
    current["personal"] = None
    state["current"] = current


# ---- events stored before the time of a debt's data was kept --------------------------------
# Version 3 of Imported and Updated carry `data_as_of`, the time the row that set the debt's
# data was received. Read back, version 2 has none (None): the first row received after it
# applies, as every row did before.


def _upcast_v2_v3(state: dict[str, Any]) -> None:
    state.setdefault("data_as_of", None)


_imported: Any = Debt.Imported  # type: ignore[attr-defined]
_imported.class_version = 3
_imported.upcast_v1_v2 = staticmethod(_upcast_imported_v1_v2)
_imported.upcast_v2_v3 = staticmethod(_upcast_v2_v3)
_updated: Any = Debt.Updated  # type: ignore[attr-defined]
_updated.class_version = 3
_updated.upcast_v1_v2 = staticmethod(_upcast_updated_v1_v2)
_updated.upcast_v2_v3 = staticmethod(_upcast_v2_v3)
