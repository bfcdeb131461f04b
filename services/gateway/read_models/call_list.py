"""Call lists of the call campaigns (EliteSoft's campanha de ligação): the debtors an operator
calls, grouped by debtor with the total of their debts, the stage of the ruler they are in,
and the last result recorded in the campaign; exported as a spreadsheet for a collection
office that makes the calls.

Built from six topics read independently (debts, agreements, the ruler's configuration,
stages, calls and the ruler's listings), so an event of one may arrive before an event of
another it depends on. Every fact is kept in a table of its own, written so that order and
repetition do not matter, and the columns of `call_debts` derived from them (status, amount
owed, stage, listing held) are refreshed from those tables after each batch:

- debts: the newest aggregate version wins (`call_debts`);
- payments: the newest DebtReopened or DebtPaymentDeducted (a broken agreement's boleto paid
  late) gives what was paid, DebtSettled settles for good (and
  a debt the creditor withdrew, DebtWithdrawn, is off every list for good too)
  (`debt_payments`);
- agreements: an agreement only moves from active to broken or fulfilled, never back
  (`call_agreements`, `agreement_debts`); a debt is in agreement while an agreement holding
  it is active, settled once one is fulfilled, open otherwise;
- stages: a debt's stage only moves forward by `stage_rank` (day, then stage order); leaving
  the ruler renegotiated or settled counts after that day's advances and sets the stage back
  to "current" (`debt_stages`);
- listings (ruler.bureau): the latest day its listing was held for want of a notice
  (NegativationHeld) and the latest day it was listed (DebtorNegativated), each only moving
  forward (`debt_listing_holds`). A debt's listing is held (`listing_held`) while its latest
  hold comes after its latest listing and after its latest stage move: listed later, or
  out of the ruler (the stage back to "current") or into a new cycle, it is not any more.

The debtor's name and contact (phone, e-mail, city, state) are personal data: opened with the
key vault from version 2 of the debts' events; once the debtor's data is erased the name reads
REMOVED and the contact is NULL (see read_models.personal).
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import json
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypedDict

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Date,
    Engine,
    Index,
    Integer,
    MetaData,
    Row,
    String,
    Table,
    Text,
    and_,
    case,
    false,
    func,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import UpdateBase

from contracts.envelope import Envelope
from contracts.negotiation import (
    AGREEMENTS_TOPIC,
    AgreementBroken,
    AgreementClosed,
    AgreementClosedV2,
    AgreementFulfilled,
)
from contracts.personal import ERASURES_TOPIC, PersonalDataErased
from contracts.portfolio import (
    DEBTS_TOPIC,
    PERSONAL_FIELDS,
    DebtImported,
    DebtImportedV2,
    DebtPaymentDeducted,
    DebtReopened,
    DebtSettled,
    DebtUpdated,
    DebtUpdatedV2,
    DebtWithdrawn,
)
from contracts.ruler import (
    BUREAU_TOPIC,
    CALLS_TOPIC,
    CONFIG_TOPIC,
    DEFAULT_CALL_RESULTS,
    OVERDUE_STAGE_LABELS,
    STAGES_TOPIC,
    CallRecorded,
    CallResultType,
    CallResultTypesSaved,
    CampaignDefinition,
    CampaignSaved,
    DebtorNegativated,
    NegativationHeld,
    ReceivableLeftRuler,
    Stage,
    StageAdvanced,
)
from service_runtime.clock import BUSINESS_TZ
from service_runtime.personal_data import REMOVED
from service_runtime.projection import event_types_of
from service_runtime.sql import (
    DialectInsert,
    cached,
    execute_many,
    in_ids,
    insert_ignore,
)
from service_runtime.sqltypes import UtcDateTime
from services.gateway.read_models.personal import (
    PersonalDataProjection,
    erased_rows,
    erasures_table,
    removed_values,
)

metadata = MetaData()
call_debts = Table(
    "call_debts",
    metadata,
    Column("debt_id", String(36), primary_key=True),
    Column("tenant", String(63), nullable=False),
    Column("document", String(14), nullable=False),
    # Personal data: REMOVED (the name) and NULL (the contact) once erased.
    Column("debtor_name", String(200), nullable=False),
    Column("phone", String(200)),
    Column("email", String(320)),
    Column("city", String(200)),
    Column("state", String(100)),
    # The key they were sealed with (NULL: they came in clear, version 1).
    Column("key_id", String(32)),
    Column("creditor", String(200), nullable=False),
    Column("category", String(100)),
    Column("contract", String(100), nullable=False),
    Column("installment", String(20), nullable=False),
    Column("original_amount_cents", Integer, nullable=False),
    # Paid under agreements that broke (DebtReopened), deducted from what is owed.
    Column("paid_cents", Integer, nullable=False),
    # What is owed: original minus paid; 0 once settled.
    Column("amount_cents", Integer, nullable=False),
    Column("due_date", Date, nullable=False),
    # open, in_agreement, settled
    Column("status", String(20), nullable=False),
    Column("stage", String(30), nullable=False),
    # Its listing at the credit bureau is held: its notice could not be sent (no phone or
    # e-mail...), the operator is to reach the debtor another way.
    Column("listing_held", Boolean, nullable=False),
    Column("version", Integer, nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    # Case-, accent- and space-insensitive keys the campaign filters compare.
    Column("creditor_key", String(200), nullable=False),
    Column("category_key", String(100)),
    Column("city_key", String(200)),
    Column("state_key", String(100)),
)
# The campaigns' queues pick open debts by tenant and status; the readers (and an erasure)
# find a debtor's by document.
ix_call_debts_tenant_status = Index(
    "ix_call_debts_tenant_status", call_debts.c.tenant, call_debts.c.status
)
ix_call_debts_tenant_document = Index(
    "ix_call_debts_tenant_document", call_debts.c.tenant, call_debts.c.document
)
debt_payments = Table(
    "debt_payments",
    metadata,
    Column("debt_id", String(36), primary_key=True),
    Column("paid_cents", Integer, nullable=False),
    # Version of the DebtReopened that gave paid_cents (-1: none yet).
    Column("paid_version", Integer, nullable=False),
    Column("settled", Boolean, nullable=False),
)
debt_stages = Table(
    "debt_stages",
    metadata,
    Column("debt_id", String(36), primary_key=True),
    Column("stage", String(30), nullable=False),
    Column("stage_rank", Integer, nullable=False),
)
debt_listing_holds = Table(
    "debt_listing_holds",
    metadata,
    Column("debt_id", String(36), primary_key=True),
    # `stage_rank`s of its latest NegativationHeld and DebtorNegativated (-1: none yet).
    Column("held_rank", Integer, nullable=False),
    Column("listed_rank", Integer, nullable=False),
)
call_agreements = Table(
    "call_agreements",
    metadata,
    Column("agreement_id", String(36), primary_key=True),
    Column("tenant", String(63), nullable=False),
    # active, broken, fulfilled
    Column("status", String(20), nullable=False),
)
agreement_debts = Table(
    "agreement_debts",
    metadata,
    Column("agreement_id", String(36), primary_key=True),
    Column("debt_id", String(36), primary_key=True),
    Index("ix_agreement_debts_debt", "debt_id"),
)
call_campaigns = Table(
    "call_campaigns",
    metadata,
    Column("tenant", String(63), primary_key=True),
    Column("campaign_id", String(64), primary_key=True),
    Column("definition", Text, nullable=False),
    Column("version", Integer, nullable=False),
)
campaign_members = Table(
    "campaign_members",
    metadata,
    Column("tenant", String(63), primary_key=True),
    Column("campaign_id", String(64), primary_key=True),
    Column("document", String(14), primary_key=True),
)
call_results = Table(
    "call_results",
    metadata,
    Column("tenant", String(63), primary_key=True),
    Column("result_types", Text, nullable=False),
    Column("version", Integer, nullable=False),
)
call_erasures = erasures_table("call_erasures", metadata)
campaign_calls = Table(
    "campaign_calls",
    metadata,
    Column("call_id", String(64), primary_key=True),
    Column("tenant", String(63), nullable=False),
    Column("campaign_id", String(64), nullable=False),
    Column("document", String(14), nullable=False),
    Column("operator", String(200), nullable=False),
    Column("result_code", String(40), nullable=False),
    Column("result_label", String(100), nullable=False),
    Column("removes_from_list", Boolean, nullable=False),
    Column("note", Text, nullable=False),
    Column("reschedule_at", UtcDateTime()),
    Column("recorded_at", UtcDateTime(), nullable=False),
    Index("ix_campaign_calls_campaign", "tenant", "campaign_id", "document"),
)

# Every stage in the order a receivable goes through them.
STAGE_ORDER: tuple[Stage, ...] = (
    "current",
    "pre_due",
    "notice",
    "questioning",
    "schedule_payment",
    "field_collection",
    "credit_bureau",
    "finalized",
)
_STAGE_INDEX = {stage: i for i, stage in enumerate(STAGE_ORDER)}
# A debt at the credit bureau stage whose listing is held (NegativationHeld): its notice of the
# listing could not be sent.
HELD_LABEL = "negativação suspensa (sem aviso)"
# A listing held or made on a day counts after that day's advances (the credit bureau stage
# comes first), and leaving the ruler on a day after both.
_HELD_SLOT = 7
_LISTED_SLOT = 8
_LEFT_SLOT = 9
STAGE_LABELS: dict[str, str] = {
    "current": "sem etapa da régua",
    "pre_due": "pré-vencimento",
    **OVERDUE_STAGE_LABELS,
    "finalized": "finalizada",
}

_DEBT_FIELDS = [
    "tenant",
    "document",
    "debtor_name",
    "phone",
    "email",
    "city",
    "state",
    "key_id",
    "creditor",
    "category",
    "contract",
    "installment",
    "original_amount_cents",
    "due_date",
    "version",
    "updated_at",
    "creditor_key",
    "category_key",
    "city_key",
    "state_key",
]


def fold(text: str | None) -> str | None:
    """A name as filters compare it: case, accents and surrounding or repeated spaces do not
    matter ("  São  Paulo " is "sao paulo"). None or blank gives None."""
    if text is None:
        return None
    decomposed = unicodedata.normalize("NFKD", text)
    bare = " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())
    return bare.casefold() or None


# Creditors, categories, cities and states repeat from debt to debt: fold each once.
_fold_key = functools.lru_cache(maxsize=4096)(fold)


def _clean(text: str | None) -> str | None:
    stripped = (text or "").strip()
    return stripped or None


def _stage_rank(on_date: dt.date, slot: int) -> int:
    return on_date.toordinal() * 10 + slot


def _insert(conn: Connection) -> Callable[[Table], Any]:
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


DebtEvent = DebtImported | DebtUpdated | DebtImportedV2 | DebtUpdatedV2
# What an erasure leaves of a debt's personal columns.
ERASED_CONTACT: dict[str, str | None] = {
    "debtor_name": REMOVED,
    "phone": None,
    "email": None,
    "city": None,
    "state": None,
    "city_key": None,
    "state_key": None,
}


def _debt_row(event: DebtEvent, contact: dict[str, Any], key_id: str | None) -> dict[str, Any]:
    """`contact`: name, email, phone, city and state, in clear or as erased."""
    return {
        "debt_id": event.debt_id,
        "tenant": event.tenant,
        "document": event.document,
        "debtor_name": (contact["name"] or "").strip(),
        "phone": _clean(contact["phone"]),
        "email": _clean(contact["email"]),
        "city": _clean(contact["city"]),
        "state": _clean(contact["state"]),
        "key_id": key_id,
        "creditor": event.creditor,
        "category": _clean(event.category),
        "contract": event.contract,
        "installment": event.installment,
        "original_amount_cents": event.original_amount_cents,
        "paid_cents": 0,
        "amount_cents": event.original_amount_cents,
        "due_date": event.due_date,
        "status": "open",
        "stage": "current",
        "listing_held": False,
        "version": event.aggregate_version,
        "updated_at": event.occurred_at,
        "creditor_key": _fold_key(event.creditor) or "",
        "category_key": _fold_key(event.category),
        "city_key": _fold_key(contact["city"]),
        "state_key": _fold_key(contact["state"]),
    }


# An agreement only moves up this order (fulfilled wins over broken should both arrive).
_AGREEMENT_RANK = {"active": 0, "broken": 1, "fulfilled": 2}


def _newer(rows: dict[Any, dict[str, Any]], key: Any, row: dict[str, Any], field: str) -> None:
    """Keep the row with the highest `field` for a key; the first of equals (as an upsert
    `WHERE old < new` keeps the first)."""
    kept = rows.get(key)
    if kept is None or kept[field] < row[field]:
        rows[key] = row


class _Facts:
    """The facts of one batch, one row per key as the batch leaves it, written with one
    statement per table (`executemany`). Every fact table is a merge that neither order nor
    repetition changes (a highest version or rank, a status that only moves up, a flag that
    only turns on, rows only added), so merging the batch first ends as writing each event
    alone would."""

    def __init__(self) -> None:
        self.settled: dict[str, dict[str, Any]] = {}
        self.reopened: dict[str, dict[str, Any]] = {}
        self.agreements: dict[str, dict[str, Any]] = {}
        self.agreement_debts: dict[tuple[str, str], None] = {}
        self.stages: dict[str, dict[str, Any]] = {}
        self.held: dict[str, dict[str, Any]] = {}
        self.listed: dict[str, dict[str, Any]] = {}
        self.members: dict[tuple[str, str, str], None] = {}
        self.campaigns: dict[tuple[str, str], dict[str, Any]] = {}
        self.results: dict[str, dict[str, Any]] = {}
        self.calls: dict[str, dict[str, Any]] = {}
        # Debts whose derived columns may change (and every debt of the agreements, found
        # once the batch is written).
        self.touched: set[str] = set()

    def add(self, event: Envelope) -> None:
        if isinstance(event, DebtSettled | DebtWithdrawn):
            self.settled[event.debt_id] = {
                "debt_id": event.debt_id,
                "paid_cents": 0,
                "paid_version": -1,
                "settled": True,
            }
            if isinstance(event, DebtSettled):
                self.agreement_debts[(event.agreement_id, event.debt_id)] = None
            self.touched.add(event.debt_id)
        elif isinstance(event, DebtReopened | DebtPaymentDeducted):
            row = {
                "debt_id": event.debt_id,
                "paid_cents": event.paid_cents,
                "paid_version": event.aggregate_version,
                "settled": False,
            }
            _newer(self.reopened, event.debt_id, row, "paid_version")
            self.agreement_debts[(event.agreement_id, event.debt_id)] = None
            self.touched.add(event.debt_id)
        elif isinstance(event, AgreementClosed | AgreementClosedV2):
            self._agreement(event.tenant, event.agreement_id, "active", event.debt_ids)
        elif isinstance(event, AgreementBroken):
            debt_ids = [d.debt_id for d in event.debts]
            self._agreement(event.tenant, event.agreement_id, "broken", debt_ids)
        elif isinstance(event, AgreementFulfilled):
            self._agreement(event.tenant, event.agreement_id, "fulfilled", event.debt_ids)
        elif isinstance(event, StageAdvanced):
            if event.receivable_kind == "debt":
                self._stage(
                    event.receivable_id,
                    event.to_stage,
                    _stage_rank(event.on_date, _STAGE_INDEX[event.to_stage]),
                )
            for action in event.actions:
                if action.kind == "call_campaign" and action.campaign:
                    self.members[(event.tenant, action.campaign, event.document)] = None
        elif isinstance(event, ReceivableLeftRuler):
            if event.receivable_kind == "debt" and event.reason in ("renegotiated", "settled"):
                self._stage(event.receivable_id, "current", _stage_rank(event.on_date, _LEFT_SLOT))
        elif isinstance(event, NegativationHeld):
            if event.receivable_kind == "debt":
                rank = _stage_rank(event.on_date, _HELD_SLOT)
                row = {"debt_id": event.receivable_id, "held_rank": rank, "listed_rank": -1}
                _newer(self.held, event.receivable_id, row, "held_rank")
                self.touched.add(event.receivable_id)
        elif isinstance(event, DebtorNegativated):
            # An installment's listing has a receivable_id no debt has: its row is never read.
            rank = _stage_rank(event.on_date, _LISTED_SLOT)
            row = {"debt_id": event.receivable_id, "held_rank": -1, "listed_rank": rank}
            _newer(self.listed, event.receivable_id, row, "listed_rank")
            self.touched.add(event.receivable_id)
        elif isinstance(event, CampaignSaved):
            row = {
                "tenant": event.tenant,
                "campaign_id": event.campaign_id,
                "definition": event.definition.model_dump_json(),
                "version": event.aggregate_version,
            }
            _newer(self.campaigns, (event.tenant, event.campaign_id), row, "version")
        elif isinstance(event, CallResultTypesSaved):
            row = {
                "tenant": event.tenant,
                "result_types": json.dumps(
                    [r.model_dump(mode="json") for r in event.result_types], ensure_ascii=False
                ),
                "version": event.aggregate_version,
            }
            _newer(self.results, event.tenant, row, "version")
        elif isinstance(event, CallRecorded):
            self.calls.setdefault(
                event.call_id,
                {
                    "call_id": event.call_id,
                    "tenant": event.tenant,
                    "campaign_id": event.campaign_id,
                    "document": event.document,
                    "operator": event.operator,
                    "result_code": event.result.code,
                    "result_label": event.result.label,
                    "removes_from_list": event.result.removes_from_list,
                    "note": event.note,
                    "reschedule_at": event.reschedule_at,
                    "recorded_at": event.recorded_at,
                },
            )

    def _agreement(
        self, tenant: str, agreement_id: str, status: str, debt_ids: Iterable[str]
    ) -> None:
        kept = self.agreements.get(agreement_id)
        if kept is None:
            # The first event's tenant, as the insert that wins keeps it.
            self.agreements[agreement_id] = {
                "agreement_id": agreement_id,
                "tenant": tenant,
                "status": status,
            }
        elif _AGREEMENT_RANK[kept["status"]] < _AGREEMENT_RANK[status]:
            kept["status"] = status
        for debt_id in debt_ids:
            self.agreement_debts[(agreement_id, debt_id)] = None
            self.touched.add(debt_id)

    def _stage(self, debt_id: str, stage: str, rank: int) -> None:
        _newer(
            self.stages,
            debt_id,
            {"debt_id": debt_id, "stage": stage, "stage_rank": rank},
            "stage_rank",
        )
        self.touched.add(debt_id)

    def write(self, conn: Connection) -> None:
        execute_many(
            conn,
            cached(conn, "debt_payments_settled", _settled_upsert),
            list(self.settled.values()),
        )
        # After the settlements or before, the same end: settled stays, the newest reopening
        # gives what was paid.
        execute_many(
            conn,
            cached(conn, "debt_payments_reopened", _reopened_upsert),
            list(self.reopened.values()),
        )
        for status, rows in _by_status(self.agreements.values()).items():
            execute_many(
                conn, cached(conn, ("call_agreements", status), _agreements_upsert(status)), rows
            )
        insert_ignore(
            conn,
            agreement_debts,
            [{"agreement_id": a, "debt_id": d} for a, d in self.agreement_debts],
        )
        execute_many(conn, cached(conn, "debt_stages", _stages_upsert), list(self.stages.values()))
        # Each rank only moves forward, whichever of the two comes first.
        for column, ranks in (("held_rank", self.held), ("listed_rank", self.listed)):
            execute_many(
                conn,
                cached(conn, ("debt_listing_holds", column), _holds_upsert(column)),
                list(ranks.values()),
            )
        insert_ignore(
            conn,
            campaign_members,
            [{"tenant": t, "campaign_id": c, "document": d} for t, c, d in self.members],
        )
        _versioned(conn, call_campaigns, list(self.campaigns.values()), ["tenant", "campaign_id"])
        _versioned(conn, call_results, list(self.results.values()), ["tenant"])
        insert_ignore(conn, campaign_calls, list(self.calls.values()))


# The statements of `_Facts.write`, built once per dialect (bulk.cached) with its `insert`.
def _settled_upsert(insert: DialectInsert) -> UpdateBase:
    return insert(debt_payments).on_conflict_do_update(
        index_elements=["debt_id"], set_={"settled": True}
    )


def _reopened_upsert(insert: DialectInsert) -> UpdateBase:
    stmt = insert(debt_payments)
    return stmt.on_conflict_do_update(
        index_elements=["debt_id"],
        set_={"paid_cents": stmt.excluded.paid_cents, "paid_version": stmt.excluded.paid_version},
        where=debt_payments.c.paid_version < stmt.excluded.paid_version,
    )


def _agreements_upsert(status: str) -> Callable[[DialectInsert], UpdateBase]:
    def build(insert: DialectInsert) -> UpdateBase:
        stmt = insert(call_agreements)
        if status == "active":
            return stmt.on_conflict_do_nothing(index_elements=["agreement_id"])
        weaker = ("active",) if status == "broken" else ("active", "broken")
        return stmt.on_conflict_do_update(
            index_elements=["agreement_id"],
            set_={"status": stmt.excluded.status},
            # Not IN: an expanding parameter cannot go with executemany.
            where=or_(*(call_agreements.c.status == w for w in weaker)),
        )

    return build


def _stages_upsert(insert: DialectInsert) -> UpdateBase:
    stmt = insert(debt_stages)
    return stmt.on_conflict_do_update(
        index_elements=["debt_id"],
        set_={"stage": stmt.excluded.stage, "stage_rank": stmt.excluded.stage_rank},
        where=debt_stages.c.stage_rank < stmt.excluded.stage_rank,
    )


def _holds_upsert(column: str) -> Callable[[DialectInsert], UpdateBase]:
    def build(insert: DialectInsert) -> UpdateBase:
        stmt = insert(debt_listing_holds)
        return stmt.on_conflict_do_update(
            index_elements=["debt_id"],
            set_={column: stmt.excluded[column]},
            where=debt_listing_holds.c[column] < stmt.excluded[column],
        )

    return build


def _debts_upsert(insert: DialectInsert) -> UpdateBase:
    stmt = insert(call_debts)
    # Status, payments and stage come from other events: an update keeps them.
    return stmt.on_conflict_do_update(
        index_elements=["debt_id"],
        set_={c: stmt.excluded[c] for c in _DEBT_FIELDS},
        where=call_debts.c.version < stmt.excluded.version,
    )


def _by_status(rows: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        grouped[row["status"]].append(row)
    return grouped


def _versioned(conn: Connection, table: Table, rows: list[dict[str, Any]], keys: list[str]) -> None:
    """Insert, or replace with a newer version."""
    if not rows:
        return
    stmt = _insert(conn)(table)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=keys,
            set_={k: stmt.excluded[k] for k in rows[0] if k not in keys},
            where=table.c.version < stmt.excluded.version,
        ),
        rows,
    )


class CallListProjection(PersonalDataProjection):
    name = "call_list"
    topics = (
        DEBTS_TOPIC,
        AGREEMENTS_TOPIC,
        CONFIG_TOPIC,
        STAGES_TOPIC,
        CALLS_TOPIC,
        BUREAU_TOPIC,
        ERASURES_TOPIC,
    )
    metadata = metadata
    erasures = call_erasures
    # What `apply` and `_Facts.add` read: the runtime passes over any other event unparsed.
    event_types = event_types_of(
        DebtImported,
        DebtUpdated,
        DebtImportedV2,
        DebtUpdatedV2,
        PersonalDataErased,
        DebtSettled,
        DebtWithdrawn,
        DebtReopened,
        DebtPaymentDeducted,
        AgreementClosed,
        AgreementClosedV2,
        AgreementBroken,
        AgreementFulfilled,
        StageAdvanced,
        ReceivableLeftRuler,
        CampaignSaved,
        CallResultTypesSaved,
        CallRecorded,
        NegativationHeld,
        DebtorNegativated,
    )

    reader_indexes = (ix_call_debts_tenant_status, ix_call_debts_tenant_document)

    def apply(self, conn: Connection, events: list[Envelope]) -> None:
        # Erasures first: then a contact in clear read in the same batch is removed as it comes.
        for erasure in self.apply_erasures(conn, events):
            conn.execute(
                update(call_debts).where(erased_rows(call_debts, erasure)).values(**ERASED_CONTACT)
            )
        # Newest version of each debt in this batch; older or repeated versions change nothing.
        latest: dict[str, DebtEvent] = {}
        for event in events:
            if isinstance(event, DebtImported | DebtUpdated | DebtImportedV2 | DebtUpdatedV2):
                current = latest.get(event.debt_id)
                if current is None or current.aggregate_version < event.aggregate_version:
                    latest[event.debt_id] = event
        if latest:
            self._upsert_debts(conn, self._debt_rows(conn, list(latest.values())))
        facts = _Facts()
        for event in events:
            facts.add(event)
        facts.write(conn)
        touched = set(latest) | facts.touched
        # Every debt of an agreement whose status may have changed.
        if facts.agreements:
            touched.update(
                conn.execute(_DEBTS_OF_AGREEMENTS, {"ids": list(facts.agreements)}).scalars()
            )
        if touched:
            self._refresh(conn, sorted(touched))

    # ---- writes -----------------------------------------------------------------------------

    def _debt_rows(self, conn: Connection, events: list[DebtEvent]) -> list[dict[str, Any]]:
        """The debts' rows, the contact opened (version 2) or as it came (version 1, unless the
        debtor's data was erased since)."""
        in_clear = [e for e in events if isinstance(e, DebtImported | DebtUpdated)]
        erased = self.erased_debtors(conn, {(e.tenant, e.document) for e in in_clear})
        rows = []
        for event in events:
            if isinstance(event, DebtImportedV2 | DebtUpdatedV2):
                contact, _ = self.open(event.personal, PERSONAL_FIELDS)
                rows.append(_debt_row(event, contact, event.personal.key_id))
            elif (event.tenant, event.document) in erased:
                rows.append(_debt_row(event, removed_values(PERSONAL_FIELDS), None))
            else:
                rows.append(_debt_row(event, event.debtor.model_dump(), None))
        return rows

    @staticmethod
    def _upsert_debts(conn: Connection, rows: list[dict[str, Any]]) -> None:
        execute_many(conn, cached(conn, "call_debts", _debts_upsert), rows)

    @staticmethod
    def _refresh(conn: Connection, debt_ids: list[str]) -> None:
        """Derive status, amount owed and stage of these debts from the facts kept: one
        statement, the rows that change rewritten in the database (they never come back to
        Python: reading every touched debt back was a cost of its own, for every debt of
        every batch)."""
        conn.execute(_REFRESH_DEBTS, {"ids": debt_ids})


# What a debt's derived columns come from, for the debts of the batch (`ids`): its payments,
# its stage and the statuses of the agreements holding it (an agreement not seen yet holds
# nothing). A debt is settled once settled or withdrawn, or an agreement holding it was
# fulfilled; in agreement while one is active; open otherwise. It owes its original amount
# less what was paid (never below zero), nothing once settled. Its listing is held while its
# latest hold comes after its latest listing and its latest stage move.
_holders = (
    select(
        agreement_debts.c.debt_id,
        func.max(case((call_agreements.c.status == "fulfilled", 1), else_=0)).label("fulfilled"),
        func.max(case((call_agreements.c.status == "active", 1), else_=0)).label("active"),
    )
    .join(call_agreements, call_agreements.c.agreement_id == agreement_debts.c.agreement_id)
    .where(in_ids(agreement_debts.c.debt_id))
    .group_by(agreement_debts.c.debt_id)
    .subquery("holders")
)
_paid = func.coalesce(debt_payments.c.paid_cents, 0)
_settled = or_(
    func.coalesce(debt_payments.c.settled, False), func.coalesce(_holders.c.fulfilled, 0) == 1
)
_owed = call_debts.c.original_amount_cents - _paid
_derived = (
    select(
        call_debts.c.debt_id,
        _paid.label("paid_cents"),
        case((_settled, 0), (_owed > 0, _owed), else_=0).label("amount_cents"),
        case(
            (_settled, "settled"),
            (func.coalesce(_holders.c.active, 0) == 1, "in_agreement"),
            else_="open",
        ).label("status"),
        func.coalesce(debt_stages.c.stage, "current").label("stage"),
        case(
            (
                and_(
                    func.coalesce(debt_listing_holds.c.held_rank, -1)
                    > debt_listing_holds.c.listed_rank,
                    func.coalesce(debt_listing_holds.c.held_rank, -1)
                    > func.coalesce(debt_stages.c.stage_rank, -1),
                ),
                true(),
            ),
            else_=false(),
        ).label("listing_held"),
    )
    .select_from(call_debts)
    .outerjoin(debt_payments, debt_payments.c.debt_id == call_debts.c.debt_id)
    .outerjoin(debt_stages, debt_stages.c.debt_id == call_debts.c.debt_id)
    .outerjoin(debt_listing_holds, debt_listing_holds.c.debt_id == call_debts.c.debt_id)
    .outerjoin(_holders, _holders.c.debt_id == call_debts.c.debt_id)
    .where(in_ids(call_debts.c.debt_id))
    .subquery("derived")
)
_REFRESH_DEBTS = (
    update(call_debts)
    .where(
        call_debts.c.debt_id == _derived.c.debt_id,
        or_(
            call_debts.c.paid_cents != _derived.c.paid_cents,
            call_debts.c.amount_cents != _derived.c.amount_cents,
            call_debts.c.status != _derived.c.status,
            call_debts.c.stage != _derived.c.stage,
            call_debts.c.listing_held != _derived.c.listing_held,
        ),
    )
    .values(
        paid_cents=_derived.c.paid_cents,
        amount_cents=_derived.c.amount_cents,
        status=_derived.c.status,
        stage=_derived.c.stage,
        listing_held=_derived.c.listing_held,
    )
)
_DEBTS_OF_AGREEMENTS = select(agreement_debts.c.debt_id).where(
    in_ids(agreement_debts.c.agreement_id)
)


# ---- queries ----------------------------------------------------------------------------------


class LastCall(TypedDict):
    result_code: str
    result_label: str
    operator: str
    note: str
    recorded_at: dt.datetime
    reschedule_at: dt.datetime | None


@dataclass(frozen=True)
class CallListEntry:
    """A debtor on a campaign's call list, with the open debts that put them there."""

    document: str
    debtor_name: str
    phones: list[str]
    email: str | None
    city: str | None
    state: str | None
    creditors: list[str]
    debts: int
    total_cents: int
    max_days_overdue: int
    stage: str
    last_call: LastCall | None
    oldest_due_date: dt.date
    newest_due_date: dt.date
    # How many of these debts have their listing held for want of a notice (NegativationHeld),
    # and how many are at the credit bureau stage with it not held.
    listings_held: int = 0
    listings_not_held: int = 0

    @property
    def listing_held(self) -> bool:
        """A listing of theirs is held: its notice could not be sent, reach them another way."""
        return self.listings_held > 0

    @property
    def stage_label(self) -> str:
        """The stage as operators read it (pt-BR); a held listing says so."""
        if self.listings_held and not self.listings_not_held:
            return HELD_LABEL
        if self.listings_held:
            total = self.listings_held + self.listings_not_held
            held = f"{HELD_LABEL} em {self.listings_held} de {total} dívidas"
            return f"{STAGE_LABELS['credit_bureau']}; {held}"
        return STAGE_LABELS.get(self.stage, self.stage)


def _campaign(
    conn: Connection, tenant: str, campaign_id: str
) -> tuple[CampaignDefinition, int] | None:
    row = conn.execute(
        select(call_campaigns.c.definition, call_campaigns.c.version).where(
            call_campaigns.c.tenant == tenant, call_campaigns.c.campaign_id == campaign_id
        )
    ).one_or_none()
    if row is None:
        return None
    return CampaignDefinition.model_validate_json(row.definition), int(row.version)


def campaign(
    engine: Engine, tenant: str, campaign_id: str
) -> tuple[CampaignDefinition, int] | None:
    """A campaign's definition and version, or None when it was never saved."""
    with engine.connect() as conn:
        return _campaign(conn, tenant, campaign_id)


def _keys(names: Iterable[str]) -> set[str]:
    return {k for k in (fold(n) for n in names) if k}


def _days_overdue(due: dt.date, today: dt.date) -> int:
    return max(0, (today - due).days)


def _last_calls(
    conn: Connection, tenant: str, campaign_id: str
) -> dict[str, tuple[bool, LastCall]]:
    """The last call of this campaign to each debtor, and whether its result removes them from
    the list (latest recorded_at; the call id breaks a tie, so the answer does not depend on
    the order the calls arrived in)."""
    last: dict[str, tuple[bool, LastCall]] = {}
    rows = conn.execute(
        select(campaign_calls)
        .where(campaign_calls.c.tenant == tenant, campaign_calls.c.campaign_id == campaign_id)
        .order_by(campaign_calls.c.recorded_at, campaign_calls.c.call_id)
    )
    for r in rows:
        last[r.document] = (
            bool(r.removes_from_list),
            LastCall(
                result_code=r.result_code,
                result_label=r.result_label,
                operator=r.operator,
                note=r.note,
                recorded_at=r.recorded_at,
                reschedule_at=r.reschedule_at,
            ),
        )
    return last


def _entry(
    document: str, debts: list[Row[Any]], today: dt.date, last: LastCall | None
) -> CallListEntry:
    # Contact data from the most recently imported or updated debt that has it.
    recent = sorted(debts, key=lambda d: (d.updated_at, d.debt_id), reverse=True)
    phones = list(dict.fromkeys(d.phone for d in recent if d.phone))
    creditors: dict[str, str] = {}
    for d in recent:
        creditors.setdefault(d.creditor_key, d.creditor)
    dues = [d.due_date for d in debts]
    held = sum(1 for d in debts if d.listing_held)
    # A held debt is at the credit bureau stage, though its advance may not be read yet.
    stage = max(
        ("credit_bureau" if d.listing_held else d.stage for d in debts),
        key=lambda s: _STAGE_INDEX.get(s, 0),
    )
    return CallListEntry(
        document=document,
        debtor_name=recent[0].debtor_name,
        phones=phones,
        email=next((d.email for d in recent if d.email), None),
        city=next((d.city for d in recent if d.city), None),
        state=next((d.state for d in recent if d.state), None),
        creditors=[creditors[k] for k in sorted(creditors)],
        debts=len(debts),
        total_cents=sum(d.amount_cents for d in debts),
        max_days_overdue=_days_overdue(min(dues), today),
        stage=stage,
        last_call=last,
        oldest_due_date=min(dues),
        newest_due_date=max(dues),
        listings_held=held,
        listings_not_held=sum(
            1 for d in debts if d.stage == "credit_bureau" and not d.listing_held
        ),
    )


def call_list(
    engine: Engine,
    tenant: str,
    campaign_id: str,
    today: dt.date,
    page: int = 1,
    page_size: int = 50,
) -> tuple[list[CallListEntry], int]:
    """One page of a campaign's call list and how many debtors the whole list has.

    A debtor is listed when the campaign is active and at least one of their open debts
    (owing more than zero) matches every filter of the campaign: creditors, categories,
    cities and states (case, accents and spaces aside), days overdue (each debt's: days past
    its due date on `today`, 0 before it) and stages (each debt's ruler stage); the amount
    range applies to the total of the debtor's matching debts. A campaign that does not list
    by filters lists only debtors a ruler stage put on it (who must still match). The last
    call of the campaign decides: a result that removes from the list takes the debtor off,
    a later call that does not remove puts them back. A debtor with a callback scheduled is
    still listed, shown with it.

    Each entry sums up the matching debts. Priority: higher amount and more recent debt
    first, as the seeds suggest (the list groups by debtor, with the total of the debt):
    total_cents descending, then the newest due date descending, then the document.
    """
    if page < 1 or page_size < 1:
        raise ValueError("page and page_size start at 1")
    with engine.connect() as conn:
        found = _campaign(conn, tenant, campaign_id)
        if found is None or not found[0].active:
            return [], 0
        definition = found[0]
        query = select(call_debts).where(
            call_debts.c.tenant == tenant,
            call_debts.c.status == "open",
            call_debts.c.amount_cents > 0,
        )
        for column, names in (
            (call_debts.c.creditor_key, definition.creditors),
            (call_debts.c.category_key, definition.categories),
            (call_debts.c.city_key, definition.cities),
            (call_debts.c.state_key, definition.states),
        ):
            if names:
                query = query.where(column.in_(sorted(_keys(names))))
        # days overdue = max(0, today - due): at least n means due on or before today - n.
        if definition.days_overdue_min:
            low = today - dt.timedelta(days=definition.days_overdue_min)
            query = query.where(call_debts.c.due_date <= low)
        if definition.days_overdue_max is not None:
            high = today - dt.timedelta(days=definition.days_overdue_max)
            query = query.where(call_debts.c.due_date >= high)
        if definition.stages:
            query = query.where(call_debts.c.stage.in_(list(definition.stages)))
        if not definition.by_filters:
            query = query.where(
                call_debts.c.document.in_(
                    select(campaign_members.c.document).where(
                        campaign_members.c.tenant == tenant,
                        campaign_members.c.campaign_id == campaign_id,
                    )
                )
            )
        by_debtor: dict[str, list[Row[Any]]] = defaultdict(list)
        for row in conn.execute(query):
            by_debtor[row.document].append(row)
        last = _last_calls(conn, tenant, campaign_id)
        # (priority key, document, debts)
        listed: list[tuple[tuple[int, int, str], str, list[Row[Any]]]] = []
        for document, debts in by_debtor.items():
            if last.get(document, (False, None))[0]:
                continue
            total = sum(d.amount_cents for d in debts)
            if definition.amount_min_cents is not None and total < definition.amount_min_cents:
                continue
            if definition.amount_max_cents is not None and total > definition.amount_max_cents:
                continue
            newest = max(d.due_date for d in debts)
            listed.append(((-total, -newest.toordinal(), document), document, debts))
        listed.sort(key=lambda item: item[0])
        start = (page - 1) * page_size
        chosen = listed[start : start + page_size]
    entries = [
        _entry(document, debts, today, last[document][1] if document in last else None)
        for _, document, debts in chosen
    ]
    return entries, len(listed)


def call_result_types(engine: Engine, tenant: str) -> list[CallResultType]:
    """The results operators may record: the tenant's own, else the defaults."""
    with engine.connect() as conn:
        saved = conn.execute(
            select(call_results.c.result_types).where(call_results.c.tenant == tenant)
        ).scalar_one_or_none()
    if saved is None:
        return list(DEFAULT_CALL_RESULTS)
    return [CallResultType.model_validate(r) for r in json.loads(saved)]


# ---- export -----------------------------------------------------------------------------------

CSV_HEADER = (
    "documento",
    "nome",
    "telefones",
    "email",
    "cidade",
    "uf",
    "credores",
    "dividas",
    "total",
    "dias_em_atraso",
    "etapa",
    "ultimo_resultado",
    "ultima_ligacao",
    "retorno",
)


def money_br(cents: int) -> str:
    """123456 -> '1.234,56' (a spreadsheet in pt-BR reads it as a number)."""
    sign = "-" if cents < 0 else ""
    reais, centavos = divmod(abs(cents), 100)
    return f"{sign}{reais:,}".replace(",", ".") + f",{centavos:02d}"


def _local(moment: dt.datetime | None, with_time: bool) -> str:
    if moment is None:
        return ""
    local = moment.astimezone(BUSINESS_TZ)
    return local.strftime("%d/%m/%Y %H:%M" if with_time else "%d/%m/%Y")


def call_list_csv(entries: Sequence[CallListEntry]) -> bytes:
    """The call list as a spreadsheet for a collection office (Exportar Ligações): `;`
    separated, UTF-8 with a BOM and CRLF line ends so Excel in pt-BR opens it as is; money as
    1.234,56, dates as dd/mm/aaaa and times in America/Sao_Paulo."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(CSV_HEADER)
    for e in entries:
        last = e.last_call
        writer.writerow(
            (
                e.document,
                e.debtor_name,
                " / ".join(e.phones),
                e.email or "",
                e.city or "",
                e.state or "",
                " / ".join(e.creditors),
                e.debts,
                money_br(e.total_cents),
                e.max_days_overdue,
                e.stage_label,
                last["result_label"] if last else "",
                _local(last["recorded_at"], with_time=True) if last else "",
                _local(last["reschedule_at"], with_time=True) if last else "",
            )
        )
    return b"\xef\xbb\xbf" + out.getvalue().encode("utf-8")


__all__ = [
    "CSV_HEADER",
    "HELD_LABEL",
    "STAGE_LABELS",
    "CallListEntry",
    "CallListProjection",
    "LastCall",
    "call_list",
    "call_list_csv",
    "call_result_types",
    "campaign",
    "fold",
    "money_br",
]
