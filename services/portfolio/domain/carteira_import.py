"""One carteira import: which rows arrived, what became of them."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from eventsourcing.domain import Aggregate, event

from contracts.envelope import COBRANCA_NAMESPACE


def import_aggregate_id(tenant: str, import_id: str) -> uuid.UUID:
    return uuid.uuid5(COBRANCA_NAMESPACE, f"carteira-import|{tenant}|{import_id}")


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
    ) -> None:
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
    ) -> None:
        """Carries the import's cumulative counters, so readers never add anything up."""
        self.row_keys.update(row_keys)
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
