"""Use case: receive a carteira file. The file is read and checked synchronously (a file that
is not a carteira CSV is refused with nothing imported); its rows are stored at once and
become `carteiras.inbound` messages through the outbox."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from service_runtime.eventstore import ServiceApplication
from services.gateway.domain.carteira_csv import read_carteira
from services.gateway.domain.upload import CarteiraUpload


@dataclass(frozen=True)
class UploadReceipt:
    import_id: str
    rows_total: int
    encoding: str
    delimiter: str
    ignored_columns: list[str]


class GatewayApplication(ServiceApplication):
    name = "gateway"

    def receive_carteira(
        self, *, tenant: str, data: bytes, filename: str | None, requested_by: str
    ) -> UploadReceipt:
        carteira = read_carteira(data)  # raises NotACarteiraCsv
        import_id = str(uuid.uuid4())
        upload = CarteiraUpload(
            import_id=import_id,
            tenant=tenant,
            filename=filename,
            rows_total=len(carteira.rows),
            requested_by=requested_by,
            encoding=carteira.encoding,
            delimiter=carteira.delimiter,
        )
        upload.add_rows([(row.row_number, dict(row.fields)) for row in carteira.rows])
        self.save(upload)
        return UploadReceipt(
            import_id=import_id,
            rows_total=len(carteira.rows),
            encoding=carteira.encoding,
            delimiter=carteira.delimiter,
            ignored_columns=list(getattr(carteira, "ignored_columns", [])),
        )
