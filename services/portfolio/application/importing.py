"""Use case: import rows of carteiras (from uploads and client systems alike).

Commands in (inbound messages), events out (stored in the event store; the outbox relay
publishes them). A batch of rows is saved in one transaction: rows are idempotent by
(import, row_key) and debts by their deterministic id, so a redelivered batch changes nothing.

The creditor's last data is the truth, whatever order rows are read in: `carteiras.inbound` is
keyed by import, so two files sending the same debt come on different partitions. A row's time
is its envelope's `occurred_at` (when the gateway stored the upload's rows; a client's own
message time); a debt keeps the time of the row that last set its data (`Debt.data_as_of`), a
row older than that changes nothing (counted `unchanged`, logged), and a newer row that
changes nothing still moves the time on (`Debt.Reaffirmed`, not published). A withdrawal
applies whatever its time: it is for good.

Within one import the first row of a debt wins, as the first message of a row does: a later
row of the same debt (tenant, creditor, contract, installment) in the same import is rejected
as a row, naming the first and what differs (`repeated_row`; the import keeps, per debt, the
row that set it: `CarteiraImport.debt_rows`). An upload and a client's messages take this one
path. A debt in the next file is the creditor's correction, as before.

Every row is answered: a row for a tenant that is not a tenant name (`cobranca token create`'s
rule; its debts no token could reach) is rejected naming `tenant`, and a row the contract
cannot read but that names its import and row (`UnreadableRow`) is rejected naming the field
and the contract's rule. What names no row is kept in quarantine (`quarantine`,
`kept_messages`), until an operator marks it resolved (`resolve_kept`).

The debtor's personal data is sealed here, with the debtor's key from the key vault (one
`keys_for` per tenant and batch, never a vault round trip per row), before it reaches a debt:
the contact (`PERSONAL_FIELDS`) and, when the row brings it, the date of birth (`birth_date`,
ISO; the portal's second factor).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from eventsourcing.utils import get_topic

from contracts.carteiras import (
    CarteiraImportRequested,
    CarteiraRowSubmitted,
    CarteiraRowSubmittedV2,
    CarteiraRowSubmittedV3,
)
from contracts.documents import normalize_document
from contracts.envelope import Envelope, tenant_name_problem
from contracts.personal import SealedPersonalData
from contracts.portfolio import PERSONAL_FIELDS
from service_runtime.eventstore import ServiceApplication
from service_runtime.personal_data import DebtorKey, KeyVault, seal_as_dict, unseal
from services.portfolio.domain.carteira_import import (
    CarteiraImport,
    debt_row_key,
    first_row,
    import_aggregate_id,
    repeated_row,
)
from services.portfolio.domain.debt import Debt, Sealed, debt_id_for
from services.portfolio.domain.quarantine import QuarantinedMessage, payload_digest, quarantine_id
from services.portfolio.domain.row_rules import (
    RowRejection,
    RowRuleError,
    ValidRow,
    validate_row,
)

log = logging.getLogger(__name__)

RowMessage = CarteiraRowSubmitted | CarteiraRowSubmittedV2 | CarteiraRowSubmittedV3


@dataclass(frozen=True)
class UnreadableRow:
    """A message on `carteiras.inbound` the contract cannot read (an unknown field, an unknown
    `schema_version`, a value of the wrong type) that still names its tenant, import and row:
    a rejected row of that import, with the contract's broken rules as its errors (read by
    `services.portfolio.adapters.inbound.unreadable_row`). `fields` are the row's text columns
    as sent, to echo in the rejection."""

    tenant: str
    import_id: str
    row_key: str
    errors: list[RowRuleError]
    event_id: uuid.UUID
    occurred_at: dt.datetime | None
    source: str = "client"
    row_number: int | None = None
    client_row_id: str | None = None
    rows_total: int | None = None
    fields: dict[str, str] = field(default_factory=dict)


# A withdrawal row names a debt the portfolio must already hold.
UNKNOWN_DEBT = RowRejection(
    [
        RowRuleError(
            "status",
            "unknown_debt",
            "dívida não encontrada na carteira: só uma dívida já importada pode ser "
            "cancelada ou devolvida",
        )
    ]
)


@dataclass
class BatchOutcome:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    duplicates: int = 0
    imports_completed: list[str] = field(default_factory=list)


def _debt_values(row: ValidRow) -> dict[str, Any]:
    """The row's values a debt keeps as they are (its personal data apart: `_personal`)."""
    return {
        "document": row.document,
        "document_kind": row.document_kind,
        "original_amount_cents": row.original_amount_cents,
        "due_date": row.due_date,
        "category": row.category,
    }


def _personal(row: ValidRow) -> dict[str, Any]:
    """The row's personal data, in clear: to be sealed (the JSON of a DebtorContact, and the
    date of birth in ISO when the row has one). Without a date the blob is what it was before
    dates came, so re-importing an old row finds nothing changed."""
    fields: dict[str, Any] = {field: getattr(row, field) for field in PERSONAL_FIELDS}
    if row.birth_date is not None:
        fields["birth_date"] = row.birth_date.isoformat()
    return fields


def _keep_absent(
    absent: frozenset[str],
    values: dict[str, Any],
    personal: dict[str, Any],
    debt: Debt,
    opened: dict[str, Any] | None,
) -> None:
    """A re-imported row's fields it did not bring (`ValidRow.absent`: the column absent from
    the file, or a client's field left out or null) take the debt's values, in `values` and
    `personal` in place: only a field given, empty or not, changes the debt (QA pass 8, N3: a
    file with only the required columns erased the phone, e-mail, city, UF, category and
    date of birth). The personal ones are the debt's as the caller opened them: none to keep
    when they no longer open (the debtor's key erased)."""
    for name in absent:
        if name == "category":
            values["category"] = debt.category
            continue
        kept = None if opened is None else opened.get(name)
        if name in PERSONAL_FIELDS:
            personal[name] = kept
        elif kept is None:
            personal.pop(name, None)  # the date of birth: no key, as a row without one
        else:
            personal[name] = kept


def _as_first(msg: RowMessage, row: ValidRow, key: DebtorKey) -> str:
    """The row as the import keeps it for the debt it sets (`first_row`): its place, the values
    a rejection may show, the category and the personal data only as digests keyed with the
    debtor's key (comparable, never readable; meaningless once the key is erased)."""
    values = {**_personal(row), "category": row.category}
    return first_row(
        row_number=msg.row_number,
        ref=msg.client_row_id or msg.row_key,
        original_amount_cents=row.original_amount_cents,
        due_date=row.due_date,
        status=row.status,
        document=row.document,
        key_id=key.key_id,
        digests={
            f: hmac.new(key.secret, f"{f}|{v}".encode(), hashlib.sha256).hexdigest()
            for f, v in values.items()
            if v
        },
    )


def _row_mapping(msg: RowMessage) -> dict[str, str]:
    """`msg.fields.as_mapping()` read from the frozen model's attributes: the same values
    (flat optional strings, no extras) without pydantic's `model_dump` per row."""
    return {k: v for k, v in msg.fields.__dict__.items() if v is not None}


def _tenant_error(tenant: str) -> RowRuleError | None:
    """A tenant the envelope carries but no token can name (`cobranca token create`'s rule):
    its debts could never be reached."""
    problem = tenant_name_problem(tenant)
    return None if problem is None else RowRuleError("tenant", *problem)


def _rejection(msg: RowMessage | UnreadableRow, rejection: RowRejection) -> dict[str, Any]:
    if isinstance(msg, UnreadableRow):
        return {
            "row_key": msg.row_key,
            "row_number": msg.row_number,
            "client_row_id": msg.client_row_id,
            "document": None,
            "reason": rejection.reason,
            "errors": [
                {"field": e.field, "rule": e.rule, "message": e.message} for e in rejection.errors
            ],
            "fields": dict(msg.fields),
            "cause_id": str(msg.event_id),
        }
    document_ok = not any(e.field == "document" for e in rejection.errors)
    document = None
    if document_ok and msg.fields.document:
        document = normalize_document(msg.fields.document)
    return {
        "row_key": msg.row_key,
        "row_number": msg.row_number,
        "client_row_id": msg.client_row_id,
        "document": document,
        "reason": rejection.reason,
        "errors": [
            {"field": e.field, "rule": e.rule, "message": e.message} for e in rejection.errors
        ],
        # Without the date of birth: `DebtRejected` does not carry it (version 1 fields), and
        # a rejected row's date is personal data the import's store need not keep.
        "fields": {k: v for k, v in msg.fields.as_mapping().items() if k != "birth_date"},
        "cause_id": str(msg.event_id),
    }


class PortfolioApplication(ServiceApplication):
    name = "portfolio"

    def __init__(self, env: Any = None, vault: KeyVault | None = None) -> None:
        super().__init__(env)
        # The debtors' keys (the worker passes the host's): set before importing rows.
        self.vault = vault

    def _key_vault(self) -> KeyVault:
        if self.vault is None:
            raise RuntimeError(
                "the portfolio seals debtors' personal data: give it the key vault "
                "(PortfolioApplication(vault=...) or app.vault = host.vault)"
            )
        return self.vault

    def _open(self, personal: Sealed | None) -> dict[str, Any] | None:
        """A debt's personal data in clear; None when there is none to read: its key was
        erased, or it was imported before personal data was sealed."""
        if personal is None:
            return None
        try:
            return unseal(SealedPersonalData.model_validate(personal), self._key_vault())
        except ValueError as exc:
            # Does not open (damaged): the row's data replaces it, as after an erasure.
            log.warning("sealed personal data under key %s: %s", personal.get("key_id"), exc)
            return None

    def _get_import(self, tenant: str, import_id: str) -> CarteiraImport | None:
        try:
            # Not copied from the cache: its set of row keys grows with the file, and copying it
            # on every batch made big imports slower and slower. A failed batch evicts it.
            aggregate: Any = self.repository.get(
                import_aggregate_id(tenant, import_id), deepcopy_from_cache=False
            )
        except AggregateNotFoundError:
            return None
        assert isinstance(aggregate, CarteiraImport)
        return aggregate

    def _get_debt(self, debt_id: Any) -> Debt | None:
        try:
            aggregate: Any = self.repository.get(debt_id)
        except AggregateNotFoundError:
            return None
        assert isinstance(aggregate, Debt)
        return aggregate

    def handle_inbound(
        self, messages: Sequence[Envelope | UnreadableRow], today: dt.date
    ) -> BatchOutcome:
        """Process a batch of inbound messages; retried whole on a concurrent write."""
        for attempt in range(5):
            try:
                return self._handle_inbound(messages, today)
            except IntegrityError:
                # Another replica saved the same aggregate first: try again. Debts are copied
                # from the cache and fast-forwarded from the store on every read; the import
                # aggregates this attempt changed in place are dropped from the cache.
                self._evict_imports(messages)
                log.info("conflict while importing, retrying (attempt %d)", attempt + 1)
            except Exception:
                self._evict_imports(messages)
                raise
        return self._handle_inbound(messages, today)

    def _evict_imports(self, messages: Sequence[Envelope | UnreadableRow]) -> None:
        cache: Any = self.repository.cache
        if cache is None:
            return
        for msg in messages:
            with contextlib.suppress(KeyError):
                cache.get(
                    import_aggregate_id(msg.tenant, getattr(msg, "import_id", "")), evict=True
                )

    def existing_ids(self, ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        """Which of these aggregates exist, in one query per 500 ids: looking new debts up one
        by one was the largest cost of an import."""
        recorder: Any = self.recorder
        found: set[uuid.UUID] = set()
        table = getattr(recorder, "events_table_name", "")
        for start in range(0, len(ids), 500):
            chunk = list(ids[start : start + 500])
            if isinstance(recorder, SQLiteApplicationRecorder):
                marks = ",".join("?" * len(chunk))
                with recorder.datastore.transaction(commit=False) as cursor:
                    cursor.execute(
                        f"SELECT DISTINCT originator_id FROM {table} "
                        f"WHERE originator_id IN ({marks})",
                        [i.hex for i in chunk],
                    )
                    found.update(uuid.UUID(row[0]) for row in cursor.fetchall())
            elif isinstance(recorder, PostgresApplicationRecorder):
                schema = recorder.datastore.schema
                with recorder.datastore.transaction(commit=False) as cursor:
                    cursor.execute(
                        f'SELECT DISTINCT originator_id FROM "{schema}"."{table}" '
                        "WHERE originator_id = ANY(%s)",
                        [chunk],
                    )
                    found.update(uuid.UUID(str(r["originator_id"])) for r in cursor.fetchall())
            else:
                found.update(i for i in chunk if self._get_debt(i) is not None)
        return found

    def _handle_inbound(
        self, messages: Sequence[Envelope | UnreadableRow], today: dt.date
    ) -> BatchOutcome:
        outcome = BatchOutcome()
        imports: dict[tuple[str, str], CarteiraImport] = {}
        debts: dict[Any, Debt] = {}
        pending_rows: dict[tuple[str, str], list[RowMessage | UnreadableRow]] = {}
        tenant_errors: dict[str, RowRuleError | None] = {}

        def import_for(msg: CarteiraImportRequested | RowMessage | UnreadableRow) -> CarteiraImport:
            key = (msg.tenant, msg.import_id)
            if key not in imports:
                found = self._get_import(*key)
                if found is None:
                    found = CarteiraImport(
                        tenant=msg.tenant,
                        import_id=msg.import_id,
                        source=msg.source,
                        filename=msg.filename if isinstance(msg, CarteiraImportRequested) else None,
                        rows_total=msg.rows_total,
                        requested_by=(
                            msg.requested_by if isinstance(msg, CarteiraImportRequested) else None
                        ),
                        cause_id=str(msg.event_id),
                        received_at=msg.occurred_at,
                    )
                imports[key] = found
            return imports[key]

        for msg in messages:
            if isinstance(msg, CarteiraImportRequested):
                imp = import_for(msg)
                if imp.rows_total != msg.rows_total and msg.rows_total is not None:
                    imp.declare(
                        rows_total=msg.rows_total,
                        filename=msg.filename,
                        requested_by=msg.requested_by,
                        cause_id=str(msg.event_id),
                    )
            elif isinstance(msg, RowMessage | UnreadableRow):
                imp = import_for(msg)
                if imp.rows_total is None and msg.rows_total is not None:
                    imp.declare(
                        rows_total=msg.rows_total,
                        filename=None,
                        requested_by=None,
                        cause_id=str(msg.event_id),
                    )
                pending_rows.setdefault((msg.tenant, msg.import_id), []).append(msg)

        # Validate every row first, so the debts that already exist are found in one query.
        # A row is its first message, in a batch as across batches: a row_key sent again in
        # the same batch is a duplicate (counted below), its content never read.
        validated: dict[tuple[str, str, str], ValidRow | RowRejection] = {}
        debt_ids: dict[tuple[str, str, str], uuid.UUID] = {}
        for rows in pending_rows.values():
            for msg in rows:
                row_id = (msg.tenant, msg.import_id, msg.row_key)
                if row_id in validated:
                    continue
                result: ValidRow | RowRejection = (
                    RowRejection(list(msg.errors))
                    if isinstance(msg, UnreadableRow)
                    else validate_row(_row_mapping(msg), today)
                )
                if msg.tenant not in tenant_errors:
                    tenant_errors[msg.tenant] = _tenant_error(msg.tenant)
                tenant_error = tenant_errors[msg.tenant]
                if tenant_error is not None:
                    # Named with the row's own problems, all at once.
                    own = result.errors if isinstance(result, RowRejection) else []
                    result = RowRejection([tenant_error, *own])
                validated[row_id] = result
                if isinstance(result, ValidRow):
                    debt_ids[row_id] = debt_id_for(
                        msg.tenant, result.creditor, result.contract, result.installment
                    )
        known = self.existing_ids(sorted(set(debt_ids.values())))
        # The debtors' keys, one vault call per tenant of the batch.
        documents: dict[str, set[str]] = {}
        for (tenant, _, _), result in validated.items():
            if isinstance(result, ValidRow):
                documents.setdefault(tenant, set()).add(result.document)
        keys: dict[str, dict[str, DebtorKey]] = {}
        if documents:
            vault = self._key_vault()
            keys = {
                tenant: vault.keys_for(tenant, sorted(docs)) for tenant, docs in documents.items()
            }

        for key, rows in pending_rows.items():
            imp = imports[key]
            seen: set[str] = set()
            row_keys: list[str] = []
            counts = {"created": 0, "updated": 0, "unchanged": 0}
            rejections: list[dict[str, Any]] = []
            # Rows older than the data their debt holds: (row_key, debt id), logged once.
            superseded: list[tuple[str, uuid.UUID]] = []
            # The debts these rows set, each with its row: a later row of one is a repeat.
            debt_rows: dict[str, str] = {}
            for msg in rows:
                if imp.has_row(msg.row_key) or msg.row_key in seen:
                    outcome.duplicates += 1
                    continue
                seen.add(msg.row_key)
                row_keys.append(msg.row_key)
                result = validated[(msg.tenant, msg.import_id, msg.row_key)]
                if isinstance(result, RowRejection):
                    rejections.append(_rejection(msg, result))
                    continue
                assert not isinstance(msg, UnreadableRow)  # always a rejection
                debt_id = debt_ids[(msg.tenant, msg.import_id, msg.row_key)]
                # Within one import the first row of a debt wins (as the first message of a
                # row does): a later one is rejected, naming the first and what differs.
                this_row = _as_first(msg, result, keys[msg.tenant][result.document])
                first = debt_rows.get(debt_row_key(debt_id)) or imp.first_row_of(debt_id)
                if first is not None:
                    rejections.append(
                        _rejection(msg, RowRejection([repeated_row(first, this_row)]))
                    )
                    continue
                debt = debts.get(debt_id)
                if debt is None and debt_id in known:
                    debt = self._get_debt(debt_id)
                if result.status != "active":
                    # The creditor withdraws the debt: only the status counts, not the data.
                    # It applies whatever its time (`data_as_of` is the data's, not the
                    # status's): a withdrawal is for good and a later row does not bring the
                    # debt back, so read in any order the debt ends withdrawn.
                    if debt is None:
                        rejections.append(_rejection(msg, UNKNOWN_DEBT))
                        continue
                    debt_rows[debt_row_key(debt_id)] = this_row
                    withdrawn = debt.withdraw(
                        reason=result.status,
                        on=today,
                        import_id=msg.import_id,
                        row_key=msg.row_key,
                        cause_id=str(msg.event_id),
                    )
                    counts["updated" if withdrawn else "unchanged"] += 1
                    debts[debt_id] = debt
                    continue
                # The creditor's data as of when this row was received: the upload's rows as
                # the gateway stored them, a client's row as the client sent it.
                received_at = msg.occurred_at
                debt_rows[debt_row_key(debt_id)] = this_row
                if debt is not None and debt.has_data_newer_than(received_at):
                    # Rows of one debt come on as many partitions as imports: a row read after
                    # a later one changes nothing (the creditor's last data is the truth).
                    counts["unchanged"] += 1
                    superseded.append((msg.row_key, debt_id))
                    debts[debt_id] = debt
                    continue
                values = _debt_values(result)
                personal = _personal(result)
                debtor_key = keys[msg.tenant][result.document]
                if debt is None:
                    debt = Debt.import_new(
                        debt_id,
                        tenant=msg.tenant,
                        creditor=result.creditor,
                        contract=result.contract,
                        installment=result.installment,
                        personal=seal_as_dict(debtor_key, personal),
                        import_id=msg.import_id,
                        row_key=msg.row_key,
                        cause_id=str(msg.event_id),
                        data_as_of=received_at,
                        **values,
                    )
                    counts["created"] += 1
                else:
                    opened = self._open(debt.personal)
                    if result.absent:
                        _keep_absent(result.absent, values, personal, debt, opened)
                    changes = debt.changes_from({**values, **personal}, opened)
                    if changes:
                        sealed = debt.personal
                        # Sealed anew when the data changed, or is not under the current key
                        # of the row's debtor (another document, or a key erased since).
                        if (
                            opened != personal
                            or sealed is None
                            or sealed["key_id"] != debtor_key.key_id
                        ):
                            sealed = seal_as_dict(debtor_key, personal)
                        debt.update(
                            changes=changes,
                            personal=sealed,
                            import_id=msg.import_id,
                            row_key=msg.row_key,
                            cause_id=str(msg.event_id),
                            data_as_of=received_at,
                        )
                        counts["updated"] += 1
                    else:
                        # Unchanged, but now as of this row: an older row read later must not
                        # undo it.
                        debt.reaffirm(
                            at=received_at,
                            import_id=msg.import_id,
                            row_key=msg.row_key,
                            cause_id=str(msg.event_id),
                        )
                        counts["unchanged"] += 1
                debts[debt_id] = debt
            if superseded:
                log.info(
                    "import %s of %s: %d row(s) older than the data their debt holds, "
                    "counted unchanged (row_key, debt): %s",
                    key[1],
                    key[0],
                    len(superseded),
                    ", ".join(f"{row_key} {debt_id}" for row_key, debt_id in superseded[:20])
                    + (" ..." if len(superseded) > 20 else ""),
                )
            if row_keys:
                imp.record_rows(
                    row_keys=row_keys,
                    rejections=rejections,
                    cause_id=str(rows[-1].event_id),
                    debt_rows=debt_rows,
                    **counts,
                )
                outcome.created += counts["created"]
                outcome.updated += counts["updated"]
                outcome.unchanged += counts["unchanged"]
                outcome.rejected += len(rejections)

        for imp in imports.values():
            if imp.all_rows_read and not imp.completed:
                imp.complete(cause_id=imp.import_id)
                outcome.imports_completed.append(imp.import_id)

        self.save(*imports.values(), *debts.values())
        return outcome


def quarantine(
    app: PortfolioApplication,
    *,
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    payload: bytes,
    reason: str,
) -> bool:
    """Keep an unreadable inbound message. Returns False when it was already kept."""
    digest = payload_digest(payload)
    aggregate_id = quarantine_id(topic, digest)
    try:
        app.repository.get(aggregate_id)
        return False
    except AggregateNotFoundError:
        pass
    tenant = import_id = None
    try:
        raw = json.loads(payload)
        if isinstance(raw, dict):
            tenant = str(raw["tenant"]) if raw.get("tenant") else None
            import_id = str(raw["import_id"]) if raw.get("import_id") else None
    except ValueError:
        pass
    text = payload.decode("utf-8", "replace")
    app.save(
        QuarantinedMessage(
            topic=topic,
            partition=partition,
            offset=offset,
            key=key.decode("utf-8", "replace") if key else None,
            digest=digest,
            payload=text,
            reason=reason,
            tenant=tenant,
            import_id=import_id,
        )
    )
    log.warning("kept unreadable message %s[%d]@%d: %s", topic, partition, offset, reason)
    return True


@dataclass(frozen=True)
class KeptMessage:
    """A message kept in quarantine, as an operator lists it (`cobranca quarantine list`):
    open until an operator resolves it (`resolve_kept`), then with who, when and why."""

    kept_at: dt.datetime
    topic: str
    partition: int
    offset: int
    key: str | None
    tenant: str | None
    import_id: str | None
    reason: str
    payload: str
    digest: str
    id: str = ""
    resolved_at: dt.datetime | None = None
    resolved_by: str | None = None
    resolution_note: str | None = None

    @property
    def resolved(self) -> bool:
        return self.resolved_at is not None

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.__dict__,
            "kept_at": self.kept_at.isoformat(),
            "resolved_at": self.resolved_at.isoformat() if self.resolved_at else None,
        }


# How many characters of a kept message's id an operator may type, at least (as git's
# abbreviated hashes: the list shows the whole id).
MIN_ID_PREFIX = 8


class UnknownKeptMessage(LookupError):
    """No kept message has that id, or more than one begins with it. `message` in pt-BR."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def kept_messages(app: PortfolioApplication) -> list[KeptMessage]:
    """Every message kept in quarantine, oldest first, each with its resolution when it has
    one: only their events are read from the store, by their topics."""
    quarantined = get_topic(QuarantinedMessage.Quarantined)  # type: ignore[attr-defined]
    resolved = get_topic(QuarantinedMessage.Resolved)  # type: ignore[attr-defined]
    kept: dict[uuid.UUID, KeptMessage] = {}
    start = 1
    while True:
        page = app.recorder.select_notifications(
            start=start, limit=1000, topics=[quarantined, resolved]
        )
        for notification in page:
            event: Any = app.mapper.to_domain_event(notification)
            if notification.topic == resolved:
                found = kept.get(event.originator_id)
                if found is not None:
                    kept[event.originator_id] = replace(
                        found,
                        resolved_at=event.resolved_at,
                        resolved_by=event.resolved_by,
                        resolution_note=event.note,
                    )
                continue
            kept[event.originator_id] = KeptMessage(
                kept_at=event.timestamp,
                topic=event.topic,
                partition=event.partition,
                offset=event.offset,
                key=event.key,
                tenant=event.tenant,
                import_id=event.import_id,
                reason=event.reason,
                payload=event.payload,
                digest=event.digest,
                id=str(event.originator_id),
            )
        if len(page) < 1000:
            return list(kept.values())
        start = page[-1].id + 1


def find_kept(app: PortfolioApplication, message_id: str) -> KeptMessage:
    """The kept message with this id, or the one whose id begins with it (at least
    MIN_ID_PREFIX characters). Raises UnknownKeptMessage."""
    wanted = message_id.strip().lower()
    if len(wanted) < MIN_ID_PREFIX:
        raise UnknownKeptMessage(
            f"id {message_id!r} curto demais: use o id que `cobranca quarantine list` mostra "
            f"(pelo menos {MIN_ID_PREFIX} caracteres)"
        )
    found = [m for m in kept_messages(app) if m.id.startswith(wanted)]
    if not found:
        raise UnknownKeptMessage(
            f"nenhuma mensagem em quarentena tem o id {message_id!r} "
            "(veja `cobranca quarantine list --all`)"
        )
    if len(found) > 1:
        raise UnknownKeptMessage(
            f"{len(found)} mensagens em quarentena têm id começando por {message_id!r}: "
            "use o id inteiro"
        )
    return found[0]


def resolve_kept(
    app: PortfolioApplication,
    message_id: str,
    *,
    note: str,
    resolved_by: str,
    resolved_at: dt.datetime,
) -> tuple[KeptMessage, bool]:
    """Mark a kept message resolved: who dealt with it, when (the business clock's time) and
    what was done (`QuarantinedMessage.Resolved`). Returns the message as it stands and
    whether this call recorded the resolution: resolving it again records nothing, the first
    resolution stands. Raises UnknownKeptMessage for an id no kept message has, ValueError
    for an empty note."""
    kept = find_kept(app, message_id)
    aggregate_id = uuid.UUID(kept.id)

    def command() -> bool:
        message: QuarantinedMessage = app.repository.get(aggregate_id)
        recorded = message.resolve(note=note, resolved_by=resolved_by, resolved_at=resolved_at)
        if recorded:
            app.save(message)
        return recorded

    recorded = app.retrying(command)
    message: QuarantinedMessage = app.repository.get(aggregate_id)
    return (
        replace(
            kept,
            resolved_at=message.resolved_at,
            resolved_by=message.resolved_by,
            resolution_note=message.resolution_note,
        ),
        recorded,
    )
