"""Reading `carteiras.inbound`: parse each message, import the batch, remember the position.

The position is stored after the batch is saved in the event store (not in the same
transaction): a batch read again after a crash changes nothing, since rows are idempotent.

Every message is answered. A row the contract cannot read (an unknown field, an unknown
`schema_version`, a value of the wrong type) that still names its tenant, import and row is a
rejected row of that import (`UnreadableRow`): counted, listed and published on
`carteiras.rejected` naming the field and the rule, so the client learns of it and the import
can complete. A message that names no row (not JSON, not a row, no `import_id` or `row_key`, a
tenant no event can carry) is kept in quarantine, never dropped: `cobranca quarantine list`."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import Engine

from contracts.carteiras import (
    INBOUND_TOPIC,
    CarteiraImportRequested,
    CarteiraRowSubmitted,
    CarteiraRowSubmittedV2,
    CarteiraRowSubmittedV3,
    RowFieldsV2,
)
from contracts.envelope import Envelope, UtcDatetime, derived_event_id, tenant_problem
from contracts.registry import UnknownEventType, parse_event
from service_runtime.clock import BusinessClock
from service_runtime.projection import (
    RecordsByPartition,
    offsets_metadata,
    store_position,
    stored_positions,
)
from services.portfolio.application.importing import (
    PortfolioApplication,
    UnreadableRow,
    quarantine,
)
from services.portfolio.domain.quarantine import payload_digest
from services.portfolio.domain.row_rules import RowRuleError

ROW_TYPE = "CarteiraRowSubmitted"
ROW_VERSIONS: dict[int, type[Envelope]] = {
    1: CarteiraRowSubmitted,
    2: CarteiraRowSubmittedV2,
    3: CarteiraRowSubmittedV3,
}
# What a row's columns echo in its rejection: text columns of the contract, never the date of
# birth (personal data a rejection does not repeat) nor an unknown field's value.
ECHOED_FIELDS = frozenset(RowFieldsV2.model_fields)
_utc: TypeAdapter[dt.datetime] = TypeAdapter(UtcDatetime)


def _problem(field: str, rule: str, version: int) -> str:
    """What a broken rule of the contract means, in pt-BR, naming the field and the rule."""
    said = {
        "extra_forbidden": f"o campo '{field}' não faz parte de {ROW_TYPE} v{version}",
        "missing": f"falta o campo obrigatório '{field}'",
        "string_type": f"o campo '{field}' deve ser texto",
        "int_type": f"o campo '{field}' deve ser um número inteiro",
        "int_parsing": f"o campo '{field}' deve ser um número inteiro",
        "int_from_float": f"o campo '{field}' deve ser um número inteiro",
        "greater_than_equal": f"o campo '{field}' está abaixo do mínimo",
        "string_too_short": f"o campo '{field}' não pode ser vazio",
        "string_too_long": f"o campo '{field}' é longo demais",
        "uuid_type": f"o campo '{field}' deve ser um UUID",
        "uuid_parsing": f"o campo '{field}' deve ser um UUID",
        "datetime_type": f"o campo '{field}' deve ser data e hora ISO 8601 com fuso horário",
        "datetime_parsing": f"o campo '{field}' deve ser data e hora ISO 8601 com fuso horário",
        "literal_error": f"o campo '{field}' tem um valor que o contrato não aceita",
        "model_type": f"o campo '{field}' deve ser um objeto",
        "dict_type": f"o campo '{field}' deve ser um objeto",
    }.get(rule, f"o campo '{field}' tem um valor inválido")
    return f"{said} ({field}: {rule})"


def _contract_errors(raw: dict[str, Any]) -> list[RowRuleError]:
    """Every rule of the contract the row breaks (none when it reads after all)."""
    version = raw.get("schema_version", 1)
    model = (
        ROW_VERSIONS.get(version)
        if isinstance(version, int) and not isinstance(version, bool)
        else None
    )
    if model is None:
        shown = json.dumps(version, ensure_ascii=False)
        return [
            RowRuleError(
                "schema_version",
                "unknown_version",
                f"a versão {shown} de {ROW_TYPE} não existe: as versões são 1, 2 e 3 "
                "(schema_version: unknown_version)",
            )
        ]
    try:
        model.model_validate(raw)
    except ValidationError as exc:
        errors: dict[tuple[str, str], RowRuleError] = {}
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"]) or "mensagem"
            rule = error["type"]
            errors.setdefault(
                (field, rule), RowRuleError(field, rule, _problem(field, rule, version))
            )
        return list(errors.values())
    return []


def _named(value: object) -> str | None:
    """An import's or a row's key, when the message gives one the contract accepts."""
    return value if isinstance(value, str) and 1 <= len(value) <= 128 else None


def unreadable_row(
    payload: bytes | None, received_at: dt.datetime | None = None
) -> UnreadableRow | None:
    """The row a message the contract cannot read still names (its tenant, import and row), to
    be rejected as a row of that import; None when it names none, or reads after all."""
    try:
        raw = json.loads(payload or b"")
    except ValueError:
        return None
    if not isinstance(raw, dict) or raw.get("type") != ROW_TYPE:
        return None
    tenant, import_id, row_key = raw.get("tenant"), raw.get("import_id"), raw.get("row_key")
    # A tenant the envelope refuses could not carry the rejection: that one is quarantined.
    if tenant_problem(tenant) is not None or not _named(import_id) or not _named(row_key):
        return None
    assert isinstance(tenant, str) and import_id and row_key
    errors = _contract_errors(raw)
    if not errors:
        return None
    try:
        event_id = uuid.UUID(str(raw.get("event_id")))
    except ValueError:
        event_id = derived_event_id("unreadable-row", payload_digest(payload or b""))
    try:
        occurred_at: dt.datetime | None = _utc.validate_python(raw.get("occurred_at"))
    except ValidationError:
        occurred_at = received_at
    fields = raw.get("fields")
    row_number, rows_total = raw.get("row_number"), raw.get("rows_total")
    return UnreadableRow(
        tenant=tenant,
        import_id=import_id,
        row_key=row_key,
        errors=errors,
        event_id=event_id,
        occurred_at=occurred_at,
        source="upload" if raw.get("source") == "upload" else "client",
        row_number=_whole(row_number, at_least=1),
        client_row_id=_text(raw.get("client_row_id")),
        rows_total=_whole(rows_total, at_least=0),
        fields=(
            {k: v for k, v in fields.items() if k in ECHOED_FIELDS and isinstance(v, str)}
            if isinstance(fields, dict)
            else {}
        ),
    )


def _whole(value: object, at_least: int) -> int | None:
    """A count the contract accepts, or None."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= at_least:
        return value
    return None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


class InboundApplier:
    name = "portfolio.inbound"
    topics: tuple[str, ...] = (INBOUND_TOPIC,)

    def __init__(self, app: PortfolioApplication, engine: Engine, clock: BusinessClock) -> None:
        self.app = app
        self.engine = engine
        self.clock = clock
        self.epoch: str | None = None
        offsets_metadata.create_all(engine)

    def stored_positions(self) -> dict[tuple[str, int], tuple[int, str | None, str | None]]:
        return stored_positions(self.engine, self.name)

    def apply_records(self, records_by_tp: RecordsByPartition) -> None:
        accepted: list[Envelope | UnreadableRow] = []
        for records in records_by_tp.values():
            for record in records:
                event = self._parse(record)
                if event is not None:
                    accepted.append(event)
        if accepted:
            self.app.handle_inbound(accepted, self.clock.today())
        with self.engine.begin() as conn:
            for tp, records in records_by_tp.items():
                store_position(conn, self.name, tp, records[-1], self.epoch)

    def _parse(self, record: Any) -> Envelope | UnreadableRow | None:
        try:
            event = parse_event(record.value)
            if not isinstance(
                event,
                CarteiraImportRequested
                | CarteiraRowSubmitted
                | CarteiraRowSubmittedV2
                | CarteiraRowSubmittedV3,
            ):
                raise ValueError(f"{event.type} does not belong on {INBOUND_TOPIC}")
            return event
        except (ValidationError, UnknownEventType, ValueError, TypeError) as exc:
            row = unreadable_row(record.value, _record_time(record))
            if row is not None:
                return row
            quarantine(
                self.app,
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                key=record.key,
                payload=record.value or b"",
                reason=str(exc)[:2000],
            )
            return None


def _record_time(record: Any) -> dt.datetime | None:
    """When the broker received the message (milliseconds), when it says."""
    stamp = getattr(record, "timestamp", None)
    if isinstance(stamp, int) and stamp > 0:
        return dt.datetime.fromtimestamp(stamp / 1000, dt.UTC)
    return None
