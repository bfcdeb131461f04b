"""A carteira uploaded through the gateway: kept in the gateway's event store until the relay
has turned it into `carteiras.inbound` messages, so a broker restart loses nothing."""

from __future__ import annotations

import uuid
from typing import Any

from eventsourcing.domain import Aggregate, event

# Rows per stored event: large enough to save 200,000 rows quickly, small enough to read back.
CHUNK_ROWS = 1000


class CarteiraUpload(Aggregate):
    @staticmethod
    def create_id(import_id: str, **_: Any) -> uuid.UUID:
        return uuid.UUID(import_id)

    @event("Received")
    def __init__(
        self,
        *,
        import_id: str,
        tenant: str,
        filename: str | None,
        rows_total: int,
        requested_by: str,
        encoding: str,
        delimiter: str,
    ) -> None:
        self.import_id = import_id
        self.tenant = tenant
        self.rows_total = rows_total

    def add_rows(self, rows: list[tuple[int, dict[str, str]]]) -> None:
        for start in range(0, len(rows), CHUNK_ROWS):
            chunk = rows[start : start + CHUNK_ROWS]
            self._rows_received(
                tenant=self.tenant,
                import_id=self.import_id,
                rows_total=self.rows_total,
                rows=[[number, fields] for number, fields in chunk],
            )

    @event("RowsReceived")
    def _rows_received(
        self, *, tenant: str, import_id: str, rows_total: int, rows: list[list[Any]]
    ) -> None:
        """Each row is [line number in the file, {canonical column: value}]."""
