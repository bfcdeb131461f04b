"""One carteira import: which rows arrived, what became of them, and which row of the import
holds each debt it names: within one import the first row of a debt wins, a later row of the
same debt is rejected as a repeat (`repeated_row`), naming the first."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from eventsourcing.domain import Aggregate, event

from contracts.envelope import COBRANCA_NAMESPACE
from contracts.money import format_brl
from services.portfolio.domain.row_rules import RowRuleError


def import_aggregate_id(tenant: str, import_id: str) -> uuid.UUID:
    return uuid.uuid5(COBRANCA_NAMESPACE, f"carteira-import|{tenant}|{import_id}")


def debt_row_key(debt_id: uuid.UUID) -> str:
    """How an import names a debt it set: the first 64 bits of its id, in hex (two debts of one
    import sharing them: about one chance in 10^9 for a file of 200,000 rows)."""
    return debt_id.hex[:16]


class CarteiraImport(Aggregate):
    @staticmethod
    def create_id(tenant: str, import_id: str, **_: Any) -> uuid.UUID:
        return import_aggregate_id(tenant, import_id)

    @event("Started")
    def __init__(
        self,
        *,
        tenant: str,
        import_id: str,
        source: str,
        filename: str | None,
        rows_total: int | None,
        requested_by: str | None,
        cause_id: str,
        received_at: dt.datetime | None = None,
    ) -> None:
        self.tenant = tenant
        self.import_id = import_id
        self.source = source
        self.filename = filename
        self.rows_total = rows_total
        self.requested_by = requested_by
        # When the agency received the file (the upload's time, or the client's first row).
        self.received_at = received_at
        self.row_keys: set[str] = set()
        # Each debt a row of this import set (the first 16 hex of its id): that row, as
        # `first_row` wrote it.
        self.debt_rows: dict[str, str] = {}
        self.created = 0
        self.updated = 0
        self.unchanged = 0
        self.rejected = 0
        self.completed = False

    @property
    def rows_read(self) -> int:
        return len(self.row_keys)

    def has_row(self, row_key: str) -> bool:
        return row_key in self.row_keys

    def first_row_of(self, debt_id: uuid.UUID) -> str | None:
        """The row of this import that set the debt, if one did (`RowsProcessed`'s
        `debt_rows`, as `first_row` wrote it; an import stored before they were kept knows
        none)."""
        return self.debt_rows.get(debt_row_key(debt_id))

    def declare(
        self,
        *,
        rows_total: int | None,
        filename: str | None,
        requested_by: str | None,
        cause_id: str,
    ) -> None:
        self._declared(
            tenant=self.tenant,
            import_id=self.import_id,
            source=self.source,
            rows_total=rows_total,
            filename=filename or self.filename,
            requested_by=requested_by or self.requested_by,
            cause_id=cause_id,
            received_at=self.received_at,
        )

    @event("Declared")
    def _declared(
        self,
        *,
        tenant: str,
        import_id: str,
        source: str,
        rows_total: int | None,
        filename: str | None,
        requested_by: str | None,
        cause_id: str,
        received_at: dt.datetime | None = None,
    ) -> None:
        """The client said how many rows to expect after some rows had already arrived
        (`received_at` repeats the import's, for the event it publishes)."""
        self.rows_total = rows_total
        self.filename = filename
        self.requested_by = requested_by

    def record_rows(
        self,
        *,
        row_keys: list[str],
        created: int,
        updated: int,
        unchanged: int,
        rejections: list[dict[str, Any]],
        cause_id: str,
        debt_rows: dict[str, str] | None = None,
    ) -> None:
        """`debt_rows`: the debts these rows set (`debt_row_key`), each with its row as
        `first_row` wrote it."""
        totals = {
            "rows_read": self.rows_read + len(row_keys),
            "created": self.created + created,
            "updated": self.updated + updated,
            "unchanged": self.unchanged + unchanged,
            "rejected": self.rejected + len(rejections),
        }
        self._rows_processed(
            tenant=self.tenant,
            import_id=self.import_id,
            rows_total=self.rows_total,
            row_keys=row_keys,
            rejections=rejections,
            totals=totals,
            cause_id=cause_id,
            debt_rows=debt_rows or {},
        )

    @event("RowsProcessed")
    def _rows_processed(
        self,
        *,
        tenant: str,
        import_id: str,
        rows_total: int | None,
        row_keys: list[str],
        rejections: list[dict[str, Any]],
        totals: dict[str, int],
        cause_id: str,
        debt_rows: dict[str, str],
    ) -> None:
        """Carries the import's cumulative counters, so readers never add anything up."""
        self.row_keys.update(row_keys)
        self.debt_rows.update(debt_rows)
        self.created = totals["created"]
        self.updated = totals["updated"]
        self.unchanged = totals["unchanged"]
        self.rejected = totals["rejected"]

    @property
    def all_rows_read(self) -> bool:
        return self.rows_total is not None and self.rows_read >= self.rows_total

    def complete(self, *, cause_id: str) -> None:
        self._completed(
            tenant=self.tenant,
            import_id=self.import_id,
            totals={
                "rows_total": self.rows_read,
                "created": self.created,
                "updated": self.updated,
                "unchanged": self.unchanged,
                "rejected": self.rejected,
            },
            cause_id=cause_id,
        )

    @event("Completed")
    def _completed(
        self, *, tenant: str, import_id: str, totals: dict[str, int], cause_id: str
    ) -> None:
        self.completed = True


# ---- a debt named twice in one import ---------------------------------------------------------
# The row that set a debt, as the import keeps it: one short text per debt (a file of 200,000
# rows keeps 200,000 of them), "amount|due date|status|document|key|digests|place". `digests`
# are 6 hex characters per field of `DIGESTED` ("------" when empty), keyed with the debtor's
# key by the caller: personal data is compared, never kept readable. `place` is last (a
# client's row id may hold any character): the line as a number, or "#" and the client's id.

DIGESTED = ("category", "name", "email", "phone", "city", "state", "birth_date")
_DIGEST = 6
_STATUS_PT = {"active": "ativa", "cancelled": "cancelada", "returned": "devolvida"}
# Fields named when they differ, never shown: "outro telefone", "outra cidade".
_NAMED_PT = {
    "category": "outra categoria",
    "name": "outro nome",
    "email": "outro e-mail",
    "phone": "outro telefone",
    "city": "outra cidade",
    "state": "outra UF",
    "birth_date": "outra data de nascimento",
}


def first_row(
    *,
    row_number: int | None,
    ref: str,
    original_amount_cents: int,
    due_date: dt.date,
    status: str,
    document: str,
    key_id: str,
    digests: dict[str, str],
) -> str:
    """The text the import keeps for the debt a row set (`repeated_row` reads two of them).
    `digests`: each field of `DIGESTED` the row fills, as a keyed digest (hex)."""
    place = str(row_number) if row_number is not None else f"#{ref}"
    hashed = "".join(digests[f][:_DIGEST] if digests.get(f) else "-" * _DIGEST for f in DIGESTED)
    return "|".join(
        (
            str(original_amount_cents),
            due_date.isoformat(),
            status,
            document,
            key_id[:8],
            hashed,
            place,
        )
    )


# The parts of `first_row`'s text, before its place; those a rejection shows, in its order.
_AMOUNT, _DUE, _STATUS, _DOCUMENT, _KEY, _HASHED = range(6)
_SHOWN = ((_DOCUMENT, "documento"), (_AMOUNT, "valor"), (_DUE, "vencimento"), (_STATUS, "situação"))


def _shown(part: int, value: str) -> str:
    """A part of `first_row`'s text as a person reads it."""
    if part == _AMOUNT:
        return format_brl(int(value))
    if part == _DUE:
        return dt.date.fromisoformat(value).strftime("%d/%m/%Y")
    if part == _STATUS:
        return _STATUS_PT.get(value, value)
    return value


def _place(place: str, *, same: bool = False) -> str:
    if place.startswith("#"):
        return ("igual ao registro " if same else "no registro ") + place[1:]
    return ("igual à linha " if same else "na linha ") + place


def repeated_row(first: str, this: str) -> RowRuleError:
    """A row naming a debt an earlier row of the same import holds: rejected, naming the first
    row and, when they differ, both rows' values ("... já veio na linha 3 com valor
    R$ 300,00; esta diz R$ 350,00"); personal data and the category that differ are named,
    not shown. Those are compared only under one debtor key (the same document, the key not
    erased in between)."""
    *was, was_place = first.split("|", 6)
    *now, _ = this.split("|", 6)
    shown = [
        (label, _shown(i, was[i]), _shown(i, now[i])) for i, label in _SHOWN if was[i] != now[i]
    ]
    named = []
    if was[_KEY] == now[_KEY]:
        for n, field in enumerate(DIGESTED):
            chunk = slice(n * _DIGEST, (n + 1) * _DIGEST)
            if was[_HASHED][chunk] != now[_HASHED][chunk]:
                named.append(_NAMED_PT[field])
    if not shown and not named:
        return RowRuleError(
            "contract", "repeated_debt", f"linha repetida, {_place(was_place, same=True)}"
        )
    parts = []
    if shown:
        before = " e ".join(f"{label} {old}" for label, old, _ in shown)
        after = " e ".join(new for _, _, new in shown)
        parts.append(f"com {before}; esta diz {after}")
    if named:
        parts.append(("e " if shown else "com ") + " e ".join(named))
    return RowRuleError(
        "contract",
        "repeated_debt",
        f"linha repetida: a mesma dívida já veio {_place(was_place)} " + "; ".join(parts),
    )


# ---- events stored before the time an import was received was kept ----------------------------
# Version 2 of Started and Declared carry `received_at`. Read back, version 1 has none (None): its
# import is published as it was, with version 1 of CarteiraImportStarted.


def _upcast_v1_v2(state: dict[str, Any]) -> None:
    state.setdefault("received_at", None)


_started: Any = CarteiraImport.Started  # type: ignore[attr-defined]
_started.class_version = 2
_started.upcast_v1_v2 = staticmethod(_upcast_v1_v2)
_declared: Any = CarteiraImport.Declared  # type: ignore[attr-defined]
_declared.class_version = 2
_declared.upcast_v1_v2 = staticmethod(_upcast_v1_v2)


# ---- events stored before the debts of an import were kept -----------------------------------
# Version 2 of RowsProcessed carries `debt_rows` (the debts its rows set, each with its row).
# Read back, version 1 has none: an import half read when the service was upgraded knows no
# debt of its earlier rows, and a later row of one of them is read as every row was before.


def _upcast_rows_v1_v2(state: dict[str, Any]) -> None:
    state.setdefault("debt_rows", {})


_rows: Any = CarteiraImport.RowsProcessed  # type: ignore[attr-defined]
_rows.class_version = 2
_rows.upcast_v1_v2 = staticmethod(_upcast_rows_v1_v2)
