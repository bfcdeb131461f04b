"""Portal view: what the portal and the chatbot show a debtor (per tenant and document): the
debts open to negotiation, and the agreements already made with their invoices, so the
debtor finds the boleto again (as the Recuperador portal does), and why each one that ended
ended (`end_reason`: the creditor's withdrawal or lowered amount, from the rule of
`AgreementBroken` v2/v3, the debtor's break, or paid off).

Built from three topics read independently (debts, agreements, invoices), so events of one
may arrive before those of another, live as in a replay (which may read a whole topic before
another): each change is written so that the order does not matter. A debt imported after
its agreement is still shown as in agreement; a payment or an overdue notice read before the
agreement that issued the invoice is kept (`portal_pending_invoices`) and applied when the
invoice comes; a settled debt keeps the agreement that settled it (its `DebtSettled` says
which), and a withdrawn one shows the agreement holding it, whichever came first. A payment
that leaves part of an invoice to pay (`PaymentReceived`, from the payments' topic: no
`InstallmentPaid` comes for it) is kept as the lowest balance said of the invoice
(`portal_invoice_balances`), whatever the order, and shown as what was paid of it. The
debtor's credit from an agreement (what was paid beyond what its debts owe: the share of a
debt the creditor withdrew or lowered at its end, `AgreementBroken` v2/v3 `credit_cents`, and
each payment's credit, `PaymentReceived` `credit_cents`) is kept one row per end and per
payment (`portal_agreement_credits`) and summed when read, as negotiation sums it.

The debtor's name is personal data: opened with the key vault from version 2 of the debts'
events, and replaced by REMOVED once the debtor's data is erased (see read_models.personal).
So is the date of birth the carteira may bring (the portal's second factor): the view never
keeps it, only its keyed digest (`birth_date_digest` of domain.portal_challenge, keyed with the
gateway's signing key), per debt as its newest version says, cleared by an erasure."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Date,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    bindparam,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.sql.dml import UpdateBase

from contracts.envelope import Envelope
from contracts.negotiation import (
    AGREEMENTS_TOPIC,
    INVOICES_TOPIC,
    PAYMENTS_TOPIC,
    AgreementBroken,
    AgreementBrokenV2,
    AgreementClosed,
    AgreementClosedV2,
    AgreementFulfilled,
    AgreementInstallment,
    InstallmentPaid,
    InvoiceOverdue,
    PaymentReceived,
)
from contracts.negotiation_requests import end_reason
from contracts.personal import ERASURES_TOPIC, PersonalDataErased
from contracts.portfolio import (
    DEBTS_TOPIC,
    DebtImported,
    DebtImportedV2,
    DebtPaymentDeducted,
    DebtReopened,
    DebtSettled,
    DebtUpdated,
    DebtUpdatedV2,
    DebtWithdrawn,
)
from service_runtime.personal_data import REMOVED, KeyVault
from service_runtime.projection import event_types_of
from service_runtime.sql import (
    DialectInsert,
    cached,
    execute_many,
    in_ids,
    insert_ignore,
    update_rows,
)
from service_runtime.sqltypes import UtcDateTime
from services.gateway.domain.portal_challenge import birth_date_digest
from services.gateway.read_models.personal import (
    PersonalDataProjection,
    erased_rows,
    erasures_table,
)

metadata = MetaData()
portal_debts = Table(
    "portal_debts",
    metadata,
    Column("debt_id", String(36), primary_key=True),
    Column("tenant", String(63), nullable=False),
    Column("document", String(14), nullable=False),
    Column("document_kind", String(4), nullable=False),
    # REMOVED once the debtor's personal data is erased.
    Column("debtor_name", String(200), nullable=False),
    # The key the name was sealed with (NULL: it came in clear, version 1).
    Column("key_id", String(32)),
    # HMAC-SHA256 (hex) of the debtor's date of birth, as this debt's carteira row gave it;
    # NULL without one, or once erased. Never the date itself.
    Column("birth_date_digest", String(64)),
    Column("creditor", String(200), nullable=False),
    Column("contract", String(100), nullable=False),
    Column("installment", String(20), nullable=False),
    Column("original_amount_cents", Integer, nullable=False),
    # Paid under agreements that broke (deducted from what is owed).
    Column("paid_cents", Integer, nullable=False),
    Column("due_date", Date, nullable=False),
    Column("category", String(100)),
    # open (negotiable), in_agreement, settled, withdrawn (by the creditor: for good)
    Column("status", String(20), nullable=False),
    Column("agreement_id", String(36)),
    Column("version", Integer, nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)
# A debtor's debts and agreements by document: the portal's and the chat's readers (and an
# erasure).
ix_portal_debts_tenant_document = Index(
    "ix_portal_debts_tenant_document", portal_debts.c.tenant, portal_debts.c.document
)
portal_agreements = Table(
    "portal_agreements",
    metadata,
    Column("agreement_id", String(36), primary_key=True),
    Column("tenant", String(63), nullable=False),
    Column("document", String(14), nullable=False),
    Column("creditor", String(200), nullable=False),
    Column("channel", String(20), nullable=False),
    Column("closed_on", Date, nullable=False),
    Column("total_cents", Integer, nullable=False),
    Column("updated_value_cents", Integer, nullable=False),
    Column("discount_cents", Integer, nullable=False),
    Column("installments", Integer, nullable=False),
    # active, broken, fulfilled
    Column("status", String(20), nullable=False),
    Column("ended_on", Date),
    # Why it ended (`contracts.negotiation_requests.end_reason`): debt_withdrawn or
    # debt_amount_lowered (the creditor ended it: the rule of `AgreementBroken` v2/v3),
    # not_paid (the debtor's break), fulfilled; NULL while active.
    Column("end_reason", String(30)),
)
ix_portal_agreements_tenant_document = Index(
    "ix_portal_agreements_tenant_document", portal_agreements.c.tenant, portal_agreements.c.document
)
portal_agreement_debts = Table(
    "portal_agreement_debts",
    metadata,
    Column("agreement_id", String(36), primary_key=True),
    Column("debt_id", String(36), primary_key=True),
    Index("ix_portal_agreement_debts_debt", "debt_id"),
)
portal_invoices = Table(
    "portal_invoices",
    metadata,
    Column("invoice_id", String(36), primary_key=True),
    Column("agreement_id", String(36), nullable=False, index=True),
    Column("number", Integer, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("due_date", Date, nullable=False),
    Column("amount_cents", Integer, nullable=False),
    Column("paid_cents", Integer, nullable=False),
    # open, overdue, paid
    Column("status", String(20), nullable=False),
    Column("days_overdue", Integer, nullable=False),
    Column("nosso_numero", String(20), nullable=False),
    Column("barcode", String(44), nullable=False),
    Column("digitable_line", String(47), nullable=False),
    Column("pix_code", Text, nullable=False),
)
# What the invoices' topic said of an invoice not seen yet (its agreement's `AgreementClosed`,
# read from another topic, has not come): its status as those events leave it, applied to
# the invoice (and the row removed) when it comes. Never shown; not dropped either.
portal_pending_invoices = Table(
    "portal_pending_invoices",
    metadata,
    Column("invoice_id", String(36), primary_key=True),
    Column("agreement_id", String(36), nullable=False, index=True),
    Column("status", String(20), nullable=False),
    Column("paid_cents", Integer, nullable=False),
    Column("days_overdue", Integer, nullable=False),
)
# The lowest balance the payments' topic said of each invoice (what is left to pay after the
# payments received so far), read with the invoice (paid: its amount less this); a table of its
# own, so that it is the same whichever topic comes first.
portal_invoice_balances = Table(
    "portal_invoice_balances",
    metadata,
    Column("invoice_id", String(36), primary_key=True),
    Column("balance_cents", Integer, nullable=False),
)
# The debtor's credit from each agreement, one row per fact that gave some: "end|<agreement>"
# (its end's credit_cents) or "payment|<payment_id>" (a payment's); rows are only added.
portal_agreement_credits = Table(
    "portal_agreement_credits",
    metadata,
    Column("credit_key", String(120), primary_key=True),
    Column("agreement_id", String(36), nullable=False, index=True),
    Column("credit_cents", Integer, nullable=False),
)
portal_erasures = erasures_table("portal_erasures", metadata)
# The outcomes of a payment applied to its invoice (its balance is then what is left).
_APPLIED = ("partial", "paid", "excess")

DebtEvent = DebtImported | DebtUpdated | DebtImportedV2 | DebtUpdatedV2

_DEBT_FIELDS = [
    "tenant",
    "document",
    "document_kind",
    "debtor_name",
    "key_id",
    "birth_date_digest",
    "creditor",
    "contract",
    "installment",
    "original_amount_cents",
    "due_date",
    "category",
    "version",
    "updated_at",
]


def _debt_row(
    event: DebtEvent, name: str, key_id: str | None, birth_digest: str | None = None
) -> dict[str, Any]:
    return {
        "debt_id": event.debt_id,
        "tenant": event.tenant,
        "document": event.document,
        "document_kind": event.document_kind,
        "debtor_name": name,
        "key_id": key_id,
        "birth_date_digest": birth_digest,
        "creditor": event.creditor,
        "contract": event.contract,
        "installment": event.installment,
        "original_amount_cents": event.original_amount_cents,
        "paid_cents": 0,
        "due_date": event.due_date,
        "category": event.category,
        "status": "open",
        "agreement_id": None,
        "version": event.aggregate_version,
        "updated_at": event.occurred_at,
    }


# A debt's outcome: what it was paid, its settlement or withdrawal.
_DebtOutcome = DebtSettled | DebtReopened | DebtPaymentDeducted | DebtWithdrawn

# The events `_Batch` applies (debts' versions are upserted before it).
_Change = (
    AgreementClosed
    | AgreementClosedV2
    | AgreementBroken
    | AgreementFulfilled
    | DebtSettled
    | DebtReopened
    | DebtPaymentDeducted
    | DebtWithdrawn
    | InstallmentPaid
    | InvoiceOverdue
)
_CHANGES = (
    AgreementClosed,
    AgreementClosedV2,
    AgreementBroken,
    AgreementFulfilled,
    DebtSettled,
    DebtReopened,
    DebtPaymentDeducted,
    DebtWithdrawn,
    InstallmentPaid,
    InvoiceOverdue,
)


class PortalViewProjection(PersonalDataProjection):
    name = "portal_view"
    topics = (DEBTS_TOPIC, AGREEMENTS_TOPIC, INVOICES_TOPIC, PAYMENTS_TOPIC, ERASURES_TOPIC)
    metadata = metadata
    erasures = portal_erasures
    # What `apply` reads: the runtime passes over any other event unparsed.
    event_types = event_types_of(
        DebtImported,
        DebtUpdated,
        DebtImportedV2,
        DebtUpdatedV2,
        PersonalDataErased,
        PaymentReceived,
        *_CHANGES,
    )
    reader_indexes = (ix_portal_debts_tenant_document, ix_portal_agreements_tenant_document)

    def __init__(self, vault: KeyVault, signing_key: str | None = None) -> None:
        """`signing_key`: the gateway's, which keys the dates of birth's digests (the portal
        checks a typed date with the same key); without it no digest is kept, and a tenant
        asking for the date finds none."""
        super().__init__(vault)
        self.signing_key = signing_key

    def apply(self, conn: Connection, events: list[Envelope]) -> None:
        # Erasures first: then a name in clear read in the same batch is removed as it comes.
        for erasure in self.apply_erasures(conn, events):
            conn.execute(
                update(portal_debts)
                .where(erased_rows(portal_debts, erasure))
                .values(debtor_name=REMOVED, birth_date_digest=None)
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
        changes = [e for e in events if isinstance(e, _CHANGES)]
        if changes or latest:
            _Batch(conn, changes, list(latest)).apply()
        _write_balances(conn, [e for e in events if isinstance(e, PaymentReceived)])
        _write_credits(conn, events)

    def _debt_rows(self, conn: Connection, events: list[DebtEvent]) -> list[dict[str, Any]]:
        """The debts' rows, the name opened (version 2) or as it came (version 1, unless the
        debtor's data was erased since)."""
        in_clear = [e for e in events if isinstance(e, DebtImported | DebtUpdated)]
        erased = self.erased_debtors(conn, {(e.tenant, e.document) for e in in_clear})
        rows = []
        for event in events:
            if isinstance(event, DebtImportedV2 | DebtUpdatedV2):
                # One opening for both (the batch's keys were preloaded by `prepare`).
                opened, _ = self.open(event.personal, ("name", "birth_date"))
                rows.append(
                    _debt_row(
                        event,
                        opened["name"] or "",
                        event.personal.key_id,
                        self._birth_digest(event, opened["birth_date"]),
                    )
                )
            else:
                gone = (event.tenant, event.document) in erased
                rows.append(_debt_row(event, REMOVED if gone else event.debtor.name, None))
        return rows

    def _birth_digest(self, event: DebtEvent, iso: Any) -> str | None:
        """The digest of the date of birth the sealed data holds (ISO), None without one (data
        sealed before dates came, a row without it, an erased key)."""
        if self.signing_key is None or not isinstance(iso, str) or not iso:
            return None
        try:
            day = dt.date.fromisoformat(iso)
        except ValueError:
            return None  # the portfolio seals only dates it validated: not one of those
        return birth_date_digest(self.signing_key, event.tenant, event.document, day)

    def _upsert_debts(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        execute_many(conn, cached(conn, "portal_debts", _debts_upsert), rows)


def _debts_upsert(insert: DialectInsert) -> UpdateBase:
    stmt = insert(portal_debts)
    # Status, payments and agreement come from agreements: an update keeps them.
    return stmt.on_conflict_do_update(
        index_elements=["debt_id"],
        set_={c: stmt.excluded[c] for c in _DEBT_FIELDS},
        where=portal_debts.c.version < stmt.excluded.version,
    )


# A settled or withdrawn debt stays so, whatever comes after.
_FINAL = ("settled", "withdrawn")

# Agreements that hold their debts (in agreement while active, settled once fulfilled).
_HOLDING = ("active", "fulfilled")
_AGREEMENTS = select(portal_agreements.c.agreement_id, portal_agreements.c.status).where(
    in_ids(portal_agreements.c.agreement_id)
)
_MEMBERS = select(portal_agreement_debts.c.agreement_id, portal_agreement_debts.c.debt_id).where(
    in_ids(portal_agreement_debts.c.agreement_id)
)
# The debts, each with the agreements holding it (a row each; a broken agreement never holds
# again, so it is left out).
_DEBTS = (
    select(
        portal_debts.c.debt_id,
        portal_debts.c.status,
        portal_debts.c.agreement_id,
        portal_debts.c.paid_cents,
        portal_agreements.c.agreement_id.label("holder"),
        portal_agreements.c.status.label("holder_status"),
    )
    .select_from(portal_debts)
    .outerjoin(portal_agreement_debts, portal_agreement_debts.c.debt_id == portal_debts.c.debt_id)
    .outerjoin(
        portal_agreements,
        and_(
            portal_agreements.c.agreement_id == portal_agreement_debts.c.agreement_id,
            or_(*(portal_agreements.c.status == s for s in _HOLDING)),
        ),
    )
    .where(in_ids(portal_debts.c.debt_id))
)
_INVOICES = select(
    portal_invoices.c.invoice_id,
    portal_invoices.c.status,
    portal_invoices.c.paid_cents,
    portal_invoices.c.days_overdue,
).where(in_ids(portal_invoices.c.invoice_id))
_PENDING = select(
    portal_pending_invoices.c.invoice_id,
    portal_pending_invoices.c.agreement_id,
    portal_pending_invoices.c.status,
    portal_pending_invoices.c.paid_cents,
    portal_pending_invoices.c.days_overdue,
).where(in_ids(portal_pending_invoices.c.invoice_id))


@dataclass(slots=True)
class _Debt:
    status: str
    agreement_id: str | None
    paid_cents: int


@dataclass(slots=True)
class _Invoice:
    status: str
    paid_cents: int
    days_overdue: int


def _paid(invoice: _Invoice, event: InstallmentPaid) -> None:
    invoice.status, invoice.paid_cents = "paid", event.paid_cents


def _overdue(invoice: _Invoice, event: InvoiceOverdue) -> None:
    # A lower count is older news; a paid invoice is not overdue.
    if invoice.status != "paid" and invoice.days_overdue < event.days_overdue:
        invoice.status, invoice.days_overdue = "overdue", event.days_overdue


def _invoice_row(
    event: AgreementClosed | AgreementClosedV2, installment: AgreementInstallment
) -> dict[str, Any]:
    return {
        "invoice_id": installment.invoice_id,
        "agreement_id": event.agreement_id,
        "number": installment.number,
        "kind": installment.kind,
        "due_date": installment.due_date,
        "amount_cents": installment.amount_cents,
        "paid_cents": 0,
        "status": "open",
        "days_overdue": 0,
        "nosso_numero": installment.nosso_numero,
        "barcode": installment.barcode,
        "digitable_line": installment.digitable_line,
        "pix_code": installment.pix_code,
    }


class _Batch:
    """The agreements, invoices and payments of one batch, applied in stream order to the rows
    they touch (read once, at the start) and written back once per kind of change.

    It ends exactly as applying every event alone would (one statement each, the status of a
    debt refreshed after each agreement's change and after its new versions): the rows are
    changed here as those statements would change them, and only what differs is written.
    What one event's statement did depends on what came before it in the batch (an agreement
    closed, then broken; an invoice created, then paid), so order is kept in memory.

    Order matters only within a topic's partition: what another topic says may come before or
    after (a payment before its agreement, a debt settled before its agreement is read), and
    the rows end the same either way."""

    def __init__(self, conn: Connection, events: Sequence[_Change], latest: list[str]) -> None:
        self.conn = conn
        self.events = events
        self.latest = latest
        # Agreements' statuses (those the batch names, and those holding its debts).
        self.status: dict[str, str] = {}
        # Agreements that are not stored yet: their rows, as they end the batch.
        self.new_agreements: dict[str, dict[str, Any]] = {}
        # Stored agreements the batch ends: (status, ended_on, end_reason) of the first end.
        self.ended: dict[str, tuple[str, dt.date, str | None]] = {}
        # The debts of each agreement the batch ends (stored and new), in order.
        self.members: dict[str, dict[str, None]] = {}
        # The agreements holding each debt the batch refreshes (stored ones only while active
        # or fulfilled: a broken one never holds again), in the order a query returns them.
        self.holders: dict[str, dict[str, None]] = defaultdict(dict)
        self.new_pairs: dict[tuple[str, str], None] = {}
        # The debts' rows as stored (`before`) and as the batch leaves them (`debts`).
        self.before: dict[str, tuple[str, str | None]] = {}
        self.debts: dict[str, _Debt] = {}
        self.paid: set[str] = set()
        self.settled: set[str] = set()
        self.withdrawn: set[str] = set()
        # Invoices: stored ones as stored and as left; new ones as rows.
        self.invoices: dict[str, _Invoice] = {}
        self.stored_invoices: dict[str, _Invoice] = {}
        self.new_invoices: dict[str, dict[str, Any]] = {}
        # Invoices not seen yet (`portal_pending_invoices`), as their payments and notices
        # leave them (`pending`), as stored (`stored_pending`), and their agreements.
        self.pending: dict[str, _Invoice] = {}
        self.stored_pending: dict[str, _Invoice] = {}
        self.pending_agreement: dict[str, str] = {}

    def apply(self) -> None:
        self._load()
        for event in self.events:
            if isinstance(event, AgreementClosed | AgreementClosedV2):
                self._closed(event)
            elif isinstance(event, AgreementBroken):
                # Version 2 and 3 may say the creditor ended it (their rule).
                self._ended(
                    event.agreement_id,
                    "broken",
                    event.broken_on,
                    end_reason("broken", event.rule),
                )
            elif isinstance(event, AgreementFulfilled):
                self._ended(event.agreement_id, "fulfilled", event.fulfilled_on, "fulfilled")
            elif isinstance(event, DebtSettled | DebtReopened | DebtPaymentDeducted):
                debt = self.debts.get(event.debt_id)
                if debt is not None:
                    debt.paid_cents = event.paid_cents
                    self.paid.add(event.debt_id)
                    if isinstance(event, DebtSettled):
                        # By the agreement it names, read yet or not (what a refresh would
                        # give depends on whether the agreements' topic came first).
                        debt.status, debt.agreement_id = "settled", event.agreement_id
                        self.settled.add(event.debt_id)
            elif isinstance(event, DebtWithdrawn):
                debt = self.debts.get(event.debt_id)
                if debt is not None and debt.status != "settled":
                    debt.status = "withdrawn"
                    self.withdrawn.add(event.debt_id)
            elif isinstance(event, InstallmentPaid):
                _paid(self._invoice(event), event)
            elif isinstance(event, InvoiceOverdue):
                _overdue(self._invoice(event), event)
        # Debts that arrived after their agreement: show them as it says.
        self._refresh(self.latest)
        self._write()

    # ---- reading what the batch touches ------------------------------------------------------

    def _load(self) -> None:
        conn = self.conn
        agreement_ids: set[str] = set()
        ended_ids: set[str] = set()
        refreshed: set[str] = set(self.latest)
        paid: set[str] = set()
        invoice_ids: set[str] = set()
        for event in self.events:
            if isinstance(event, AgreementClosed | AgreementClosedV2):
                agreement_ids.add(event.agreement_id)
                refreshed.update(event.debt_ids)
                invoice_ids.update(i.invoice_id for i in event.installments)
            elif isinstance(event, AgreementBroken | AgreementFulfilled):
                agreement_ids.add(event.agreement_id)
                ended_ids.add(event.agreement_id)
            elif isinstance(event, _DebtOutcome):
                paid.add(event.debt_id)
            elif isinstance(event, InstallmentPaid | InvoiceOverdue):
                invoice_ids.add(event.invoice_id)
        if agreement_ids:
            for found in conn.execute(_AGREEMENTS, {"ids": list(agreement_ids)}):
                self.status[found.agreement_id] = found.status
        for agreement_id in ended_ids:
            self.members[agreement_id] = {}
        if ended_ids:
            for pair in conn.execute(_MEMBERS, {"ids": list(ended_ids)}):
                self.members[pair.agreement_id][pair.debt_id] = None
                refreshed.add(pair.debt_id)
        if refreshed or paid:
            # Unpacked in the query's order (a row's attributes by name cost more).
            for debt_id, status, agreement_id, paid_cents, holder, holder_status in conn.execute(
                _DEBTS, {"ids": list(refreshed | paid)}
            ).all():
                if debt_id not in self.debts:
                    self.before[debt_id] = (status, agreement_id)
                    self.debts[debt_id] = _Debt(status, agreement_id, paid_cents)
                if holder is not None:
                    self.holders[debt_id][holder] = None
                    self.status[holder] = holder_status
        if invoice_ids:
            ids = {"ids": list(invoice_ids)}
            for stored in conn.execute(_INVOICES, ids):
                self.stored_invoices[stored.invoice_id] = _Invoice(
                    stored.status, stored.paid_cents, stored.days_overdue
                )
                self.invoices[stored.invoice_id] = _Invoice(
                    stored.status, stored.paid_cents, stored.days_overdue
                )
            for waiting in conn.execute(_PENDING, ids):
                self.pending_agreement[waiting.invoice_id] = waiting.agreement_id
                self.stored_pending[waiting.invoice_id] = _Invoice(
                    waiting.status, waiting.paid_cents, waiting.days_overdue
                )
                self.pending[waiting.invoice_id] = _Invoice(
                    waiting.status, waiting.paid_cents, waiting.days_overdue
                )

    # ---- each event, in memory ---------------------------------------------------------------

    def _closed(self, event: AgreementClosed | AgreementClosedV2) -> None:
        agreement_id = event.agreement_id
        # Stored (or closed earlier in the batch): kept as it is, as an ignored insert.
        if agreement_id not in self.status:
            self.status[agreement_id] = "active"
            self.new_agreements[agreement_id] = {
                "agreement_id": agreement_id,
                "tenant": event.tenant,
                "document": event.document,
                "creditor": event.creditor,
                "channel": event.channel,
                "closed_on": event.closed_on,
                "total_cents": event.total_cents,
                "updated_value_cents": event.updated_value_cents,
                "discount_cents": event.discount_cents,
                "installments": len(event.installments),
                "status": "active",
                "ended_on": None,
                "end_reason": None,
            }
        members = self.members.get(agreement_id)
        for debt_id in event.debt_ids:
            self.new_pairs[(agreement_id, debt_id)] = None
            self.holders[debt_id].setdefault(agreement_id, None)
            if members is not None:
                members.setdefault(debt_id, None)
        for installment in event.installments:
            if installment.invoice_id not in self.invoices:
                row = _invoice_row(event, installment)
                self.new_invoices[installment.invoice_id] = row
                # As its payments and notices read before it left it (then no longer pending).
                self.invoices[installment.invoice_id] = self.pending.pop(
                    installment.invoice_id, _Invoice("open", 0, 0)
                )
        self._refresh(event.debt_ids)

    def _invoice(self, event: InstallmentPaid | InvoiceOverdue) -> _Invoice:
        """The invoice an event of the invoices' topic is about; pending if not seen yet."""
        invoice = self.invoices.get(event.invoice_id)
        if invoice is None:
            invoice = self.pending.get(event.invoice_id)
            if invoice is None:
                invoice = self.pending[event.invoice_id] = _Invoice("open", 0, 0)
                self.pending_agreement[event.invoice_id] = event.agreement_id
        return invoice

    def _ended(self, agreement_id: str, status: str, on: dt.date, reason: str | None) -> None:
        if self.status.get(agreement_id) == "active":
            self.status[agreement_id] = status
            new = self.new_agreements.get(agreement_id)
            if new is not None:
                new.update(status=status, ended_on=on, end_reason=reason)
            else:
                self.ended[agreement_id] = (status, on, reason)
        self._refresh(self.members[agreement_id])

    def _refresh(self, debt_ids: Iterable[str]) -> None:
        """A debt is settled once settled (by the agreement that settled it); withdrawn once
        withdrawn (with the agreement holding it, if any); in agreement while an agreement
        holding it is active (or fulfilled); open otherwise."""
        for debt_id in debt_ids:
            debt = self.debts.get(debt_id)
            if debt is None or debt.status == "settled":
                continue
            held: str | None = None
            for agreement_id in self.holders.get(debt_id, ()):
                # The last one holding it, as the query's rows did.
                if self.status.get(agreement_id) in _HOLDING:
                    held = agreement_id
            if debt.status == "withdrawn":
                # Whether the agreement was read before the withdrawal or after.
                debt.agreement_id = held
            elif held is None:
                debt.status, debt.agreement_id = "open", None
            else:
                debt.status = "settled" if self.status[held] == "fulfilled" else "in_agreement"
                debt.agreement_id = held

    # ---- writing what changed ------------------------------------------------------------------

    def _write(self) -> None:
        conn = self.conn
        insert_ignore(conn, portal_agreements, list(self.new_agreements.values()))
        execute_many(
            conn,
            _END_AGREEMENT,
            [
                {"b_id": agreement_id, "b_status": status, "b_on": on, "b_reason": reason}
                for agreement_id, (status, on, reason) in self.ended.items()
            ],
        )
        insert_ignore(
            conn,
            portal_agreement_debts,
            [{"agreement_id": a, "debt_id": d} for a, d in self.new_pairs],
        )
        # New invoices as the batch leaves them; stored ones where they changed.
        for invoice_id, row in self.new_invoices.items():
            invoice = self.invoices[invoice_id]
            row.update(
                status=invoice.status,
                paid_cents=invoice.paid_cents,
                days_overdue=invoice.days_overdue,
            )
        insert_ignore(conn, portal_invoices, list(self.new_invoices.values()))
        changed_invoices = [
            {
                "invoice_id": invoice_id,
                "status": invoice.status,
                "paid_cents": invoice.paid_cents,
                "days_overdue": invoice.days_overdue,
            }
            for invoice_id, invoice in self.invoices.items()
            if invoice_id in self.stored_invoices and invoice != self.stored_invoices[invoice_id]
        ]
        update_rows(conn, portal_invoices, "invoice_id", changed_invoices)
        self._write_pending()
        self._write_debts()

    def _write_pending(self) -> None:
        conn = self.conn
        rows = [
            {
                "invoice_id": invoice_id,
                "agreement_id": self.pending_agreement[invoice_id],
                "status": invoice.status,
                "paid_cents": invoice.paid_cents,
                "days_overdue": invoice.days_overdue,
            }
            for invoice_id, invoice in self.pending.items()
            if invoice != self.stored_pending.get(invoice_id)
        ]
        execute_many(conn, cached(conn, "portal_pending_invoices", _pending_upsert), rows)
        # Those whose invoice came: applied to it.
        arrived = [i for i in self.stored_pending if i not in self.pending]
        if arrived:
            conn.execute(_DELETE_PENDING, {"ids": arrived})

    def _write_debts(self) -> None:
        conn = self.conn
        to_open: list[str] = []
        held: list[dict[str, Any]] = []
        settled: list[dict[str, Any]] = []
        withdrawn: list[dict[str, Any]] = []
        paid: list[dict[str, Any]] = []
        for debt_id, debt in self.debts.items():
            if debt_id in self.settled:
                # Settled for good, with the agreement its settlement named.
                settled.append(
                    {"b_id": debt_id, "b_agreement": debt.agreement_id, "b_paid": debt.paid_cents}
                )
                continue
            if debt.status == "withdrawn":
                # Withdrawn now, or an agreement holding it came or went.
                if debt_id in self.withdrawn or debt.agreement_id != self.before[debt_id][1]:
                    withdrawn.append({"b_id": debt_id, "b_agreement": debt.agreement_id})
            elif (debt.status, debt.agreement_id) != self.before[debt_id]:
                if debt.agreement_id is None:
                    to_open.append(debt_id)
                else:
                    held.append(
                        {"b_id": debt_id, "b_status": debt.status, "b_agreement": debt.agreement_id}
                    )
            if debt_id in self.paid:
                paid.append({"b_id": debt_id, "b_paid": debt.paid_cents})
        # The refreshes' changes, as they wrote them: never over a settled or withdrawn debt.
        if to_open:
            conn.execute(_OPEN_DEBTS, {"ids": to_open})
        execute_many(conn, _WITHDRAW_DEBT, withdrawn)
        execute_many(conn, _HOLD_DEBT, held)
        # Payments, whatever the status, as DebtSettled and DebtReopened wrote them.
        execute_many(conn, _SETTLE_DEBT, settled)
        execute_many(conn, _PAY_DEBT, paid)


# The statements of `_Batch._write`, built once.
_DELETE_PENDING = delete(portal_pending_invoices).where(
    in_ids(portal_pending_invoices.c.invoice_id)
)
_END_AGREEMENT = (
    update(portal_agreements)
    .where(
        portal_agreements.c.agreement_id == bindparam("b_id"),
        portal_agreements.c.status == "active",
    )
    .values(
        status=bindparam("b_status"), ended_on=bindparam("b_on"), end_reason=bindparam("b_reason")
    )
)
_BY_ID = portal_debts.c.debt_id == bindparam("b_id")
# Never over a settled or withdrawn debt (spelled out: an expanding NOT IN cannot go with
# executemany).
_NOT_FINAL = and_(*(portal_debts.c.status != status for status in _FINAL))
# The refreshes' debts no agreement holds any more: never over a settled or withdrawn debt.
_OPEN_DEBTS = (
    update(portal_debts)
    .where(in_ids(portal_debts.c.debt_id), _NOT_FINAL)
    .values(status="open", agreement_id=None)
)
_HOLD_DEBT = (
    update(portal_debts)
    .where(_BY_ID, _NOT_FINAL)
    .values(status=bindparam("b_status"), agreement_id=bindparam("b_agreement"))
)
_WITHDRAW_DEBT = (
    update(portal_debts)
    .where(_BY_ID, portal_debts.c.status != "settled")
    .values(status="withdrawn", agreement_id=bindparam("b_agreement"))
)
_SETTLE_DEBT = (
    update(portal_debts)
    .where(_BY_ID)
    .values(status="settled", agreement_id=bindparam("b_agreement"), paid_cents=bindparam("b_paid"))
)
_PAY_DEBT = update(portal_debts).where(_BY_ID).values(paid_cents=bindparam("b_paid"))


def _write_balances(conn: Connection, payments: list[PaymentReceived]) -> None:
    """The lowest balance each invoice was left with by its payments (a lower one is newer)."""
    lowest: dict[str, int] = {}
    for payment in payments:
        if payment.invoice_id is None or payment.outcome not in _APPLIED:
            continue
        known = lowest.get(payment.invoice_id)
        if known is None or payment.balance_cents < known:
            lowest[payment.invoice_id] = payment.balance_cents
    rows = [{"invoice_id": i, "balance_cents": b} for i, b in lowest.items()]
    execute_many(conn, cached(conn, "portal_invoice_balances", _balances_upsert), rows)


def _write_credits(conn: Connection, events: list[Envelope]) -> None:
    """The credits an agreement's end or a payment to one of its invoices left the debtor."""
    rows: dict[str, dict[str, Any]] = {}
    for event in events:
        if isinstance(event, AgreementBrokenV2):
            key = f"end|{event.agreement_id}"
        elif isinstance(event, PaymentReceived) and event.agreement_id:
            key = f"payment|{event.payment_id}"
        else:
            continue
        if event.credit_cents > 0:
            rows.setdefault(
                key,
                {
                    "credit_key": key,
                    "agreement_id": event.agreement_id,
                    "credit_cents": event.credit_cents,
                },
            )
    insert_ignore(conn, portal_agreement_credits, list(rows.values()))


def _balances_upsert(insert: DialectInsert) -> UpdateBase:
    stmt = insert(portal_invoice_balances)
    return stmt.on_conflict_do_update(
        index_elements=["invoice_id"],
        set_={"balance_cents": stmt.excluded.balance_cents},
        where=portal_invoice_balances.c.balance_cents > stmt.excluded.balance_cents,
    )


def _with_payments(invoice: dict[str, Any], balance: int | None) -> dict[str, Any]:
    """The invoice's row with what its payments paid (a partial payment: no InstallmentPaid)."""
    if balance is not None:
        invoice["paid_cents"] = max(invoice["paid_cents"], invoice["amount_cents"] - balance)
    return invoice


def _pending_upsert(insert: DialectInsert) -> UpdateBase:
    stmt = insert(portal_pending_invoices)
    return stmt.on_conflict_do_update(
        index_elements=["invoice_id"],
        set_={c: stmt.excluded[c] for c in ("status", "paid_cents", "days_overdue")},
    )


def open_debts(engine: Engine, tenant: str, document: str) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(portal_debts)
            .where(
                portal_debts.c.tenant == tenant,
                portal_debts.c.document == document,
                portal_debts.c.status == "open",
            )
            .order_by(portal_debts.c.due_date, portal_debts.c.creditor, portal_debts.c.contract)
        )
        return [
            dict(r._mapping) | {"balance_cents": max(0, r.original_amount_cents - r.paid_cents)}
            for r in rows
        ]


def debtor_name(engine: Engine, tenant: str, document: str) -> str | None:
    with engine.connect() as conn:
        return conn.execute(
            select(portal_debts.c.debtor_name)
            .where(portal_debts.c.tenant == tenant, portal_debts.c.document == document)
            .limit(1)
        ).scalar_one_or_none()


def birth_date_digests(engine: Engine, tenant: str, document: str) -> set[str]:
    """The digests of the dates of birth the document's carteira rows gave (any debt, whatever
    its status: a debtor with agreements only still opens the view). Usually one; two
    creditors may disagree, and either date is the debtor's by someone's records."""
    with engine.connect() as conn:
        return set(
            conn.execute(
                select(portal_debts.c.birth_date_digest)
                .where(
                    portal_debts.c.tenant == tenant,
                    portal_debts.c.document == document,
                    portal_debts.c.birth_date_digest.is_not(None),
                )
                .distinct()
            ).scalars()
        )


def agreements_of(engine: Engine, tenant: str, document: str) -> list[dict[str, Any]]:
    """The debtor's agreements, newest first, each with its invoices in order."""
    with engine.connect() as conn:
        agreements = [
            dict(r._mapping)
            for r in conn.execute(
                select(portal_agreements)
                .where(
                    portal_agreements.c.tenant == tenant,
                    portal_agreements.c.document == document,
                )
                .order_by(portal_agreements.c.closed_on.desc(), portal_agreements.c.agreement_id)
            )
        ]
        ids = [a["agreement_id"] for a in agreements]
        invoices: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
        if ids:
            for r in conn.execute(
                select(portal_invoices, portal_invoice_balances.c.balance_cents)
                .outerjoin(
                    portal_invoice_balances,
                    portal_invoice_balances.c.invoice_id == portal_invoices.c.invoice_id,
                )
                .where(portal_invoices.c.agreement_id.in_(ids))
                .order_by(portal_invoices.c.agreement_id, portal_invoices.c.number)
            ):
                row = dict(r._mapping)
                invoices[r.agreement_id].append(_with_payments(row, row.pop("balance_cents")))
        # Debts of each agreement still owed something (not settled nor withdrawn): a broken
        # one with none left owes nothing (QA pass 9, D4: not "negociar o novo valor").
        owing: set[str] = set()
        if ids:
            owing = set(
                conn.execute(
                    select(portal_agreement_debts.c.agreement_id)
                    .join(portal_debts, portal_debts.c.debt_id == portal_agreement_debts.c.debt_id)
                    .where(
                        portal_agreement_debts.c.agreement_id.in_(ids),
                        portal_debts.c.status.not_in(_FINAL),
                    )
                    .distinct()
                ).scalars()
            )
        # The debtor's credit from each (QA pass 9, D4: shown on the debts page too).
        credits: dict[str, int] = {}
        if ids:
            credits = {
                r.agreement_id: int(r.credit_cents)
                for r in conn.execute(
                    select(
                        portal_agreement_credits.c.agreement_id,
                        func.sum(portal_agreement_credits.c.credit_cents).label("credit_cents"),
                    )
                    .where(portal_agreement_credits.c.agreement_id.in_(ids))
                    .group_by(portal_agreement_credits.c.agreement_id)
                )
            }
    for agreement in agreements:
        agreement["invoices"] = invoices[agreement["agreement_id"]]
        agreement["credit_cents"] = credits.get(agreement["agreement_id"], 0)
        if agreement["status"] == "broken":
            agreement["owed_cents"] = None if agreement["agreement_id"] in owing else 0
        if agreement["status"] == "broken":
            # Its unpaid invoices went with it: not to be paid any more (the negotiation
            # service cancels them), whatever the last notice said of them.
            for invoice in agreement["invoices"]:
                if invoice["status"] != "paid":
                    invoice["status"] = "cancelled"
    return agreements


def count_debts(engine: Engine, tenant: str | None = None) -> int:
    query = select(func.count()).select_from(portal_debts)
    if tenant:
        query = query.where(portal_debts.c.tenant == tenant)
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def due_date_of(row: dict[str, Any]) -> dt.date:
    value = row["due_date"]
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
