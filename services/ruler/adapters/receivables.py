"""The receivables the ruler works on, in the ruler's own database: imported debts and
agreement installments, kept from `portfolio.debts`, `negotiation.agreements` and
`negotiation.invoices`. The stage column is a cache of the Receivable aggregate's (the event
store is the truth); a run compares against it to load only receivables that move.

The debtor's name is the one clear copy of personal data kept here: opened with the key
vault from the events that carry it sealed (`DebtImportedV2`, `AgreementClosedV2`), taken as
it is from the old ones. An erasure (`privacy.erasures`, `ReceivablesTable.erase`) replaces
the debtor's names by `REMOVED` and is remembered, so old events read again (their names in
clear) or sealed ones read before the erasure reached this process never bring a name back.

A debt's amount is what it owes: its original amount (as the creditor's latest row says it)
less everything paid on it so far (`paid_cents`, as the portfolio's latest `DebtReopened` or
`DebtPaymentDeducted` said it). A re-import (`DebtUpdated`) changes the original, never what
was paid. Every debt event moves the row to the debt's version (`aggregate_version`): an older
or repeated one changes nothing. A row stored before `paid_cents` was kept has it empty (the
column is added at start); the first re-import works it out from the balance the row holds.

Each row says when its receivable entered collection and when it left (`entered_on`,
`left_on`: the business dates its events carry: the agreement's closing for its installments
and its debts leaving, a break's date for the installments cancelled and the debts reopened,
a payment's, a settlement's, a withdrawal's; the business date it was read on for a debt
imported, whose events carry none). The day run of D goes over the receivables that were in
collection on D (`entered_on` <= D < `left_on`), so a run of an earlier day than the change,
during a multi-day advance of the clock or a catch-up after downtime, judges it as it was on
that day. A receivable leaving or coming back on a day the ruler's runs have not reached is
held (`ruler_held_moves`) until they do (`held_until`): the day run of D finalizes the
receivables that left up to D and restarts those that came back, then runs D. A row stored
before the dates were kept has them empty: entered from always, and left before anything
the ruler runs now (the columns are added at start).

An installment's amount is what it still owes: its amount less what the payments to its
invoice paid (`paid_cents`), as the payments' topic says it (`PaymentReceived` with the
balance left on the invoice after each payment: the lowest one is the newest, so payments read
again, or in any order, end the same). The balance is kept apart, per invoice
(`ruler_installment_balances`), so a payment read before its agreement's closing is not lost:
the installment owes it from the moment it is read. A payment that pays the invoice off leaves
it to `InstallmentPaid`, whose exit says the installment's amount.

A batch is applied with a few statements whatever its size (a carteira import brings
thousands of debts): the rows it touches are read at once, every event is applied to them in
memory in stream order, and what changed is written back once per kind of change. It ends
exactly as applying the events one at a time would."""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
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
    inspect,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.sql.elements import BindParameter, ColumnElement

from contracts.envelope import Envelope
from contracts.invoices import installment_heading
from contracts.negotiation import (
    AgreementBroken,
    AgreementClosed,
    AgreementClosedV2,
    InstallmentPaid,
    PaymentReceived,
)
from contracts.personal import PersonalDataErased, SealedPersonalData
from contracts.portfolio import (
    DebtImported,
    DebtImportedV2,
    DebtPaymentDeducted,
    DebtReopened,
    DebtSettled,
    DebtUpdated,
    DebtUpdatedV2,
    DebtWithdrawn,
)
from service_runtime.erasure_records import ErasureRecords
from service_runtime.personal_data import REMOVED, KeyVault, unseal

log = logging.getLogger(__name__)

metadata = MetaData()
receivables = Table(
    "ruler_receivables",
    metadata,
    Column("receivable_id", String(36), primary_key=True),
    Column("tenant", String(63), nullable=False),
    Column("kind", String(12), nullable=False),
    Column("document", String(14), nullable=False),
    Column("debtor_name", String(200), nullable=False),
    Column("creditor", String(200), nullable=False),
    Column("category", String(100)),
    Column("contract", String(100), nullable=False),
    # What the receivable owes: its original amount (a debt's) or its amount (an
    # installment's) less `paid_cents`.
    Column("amount_cents", Integer, nullable=False),
    # A debt's payments so far (its broken agreements'), an installment's (partial payments
    # to its invoice); None: stored before this was kept.
    Column("paid_cents", Integer),
    Column("due_date", Date, nullable=False),
    # An installment's agreement; for a debt, the last agreement that renegotiated it.
    Column("agreement_id", String(36)),
    # open, in_agreement (debts), settled (debts), paid (installments), cancelled
    # (installments of a broken agreement; debts the creditor withdrew)
    Column("status", String(20), nullable=False),
    Column("stage", String(30), nullable=False),
    Column("version", Integer, nullable=False),
    # The business dates its current cycle entered collection and left it (None: entered
    # before anything the ruler runs now, or not left; a row stored before they were kept has
    # both empty, and a row not open then left before anything the ruler runs now).
    Column("entered_on", Date),
    Column("left_on", Date),
    Index("ix_ruler_receivables_status", "status", "tenant"),
    Index("ix_ruler_receivables_left_on", "left_on"),
)
# Receivables leaving or coming back on a day the ruler's runs have not reached yet, in the
# order they were read: finalized or restarted when the ruler's day reaches `on`.
held_moves = Table(
    "ruler_held_moves",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    # The batch that read them: its exits are finalized together (one message per contract).
    Column("batch", String(36), nullable=False),
    Column("receivable_id", String(36), nullable=False),
    Column("move", String(8), nullable=False),  # exit, reentry
    Column("reason", String(20)),
    Column("on", Date, nullable=False),
    # The row as it was when it left or came back (JSON).
    Column("row", Text, nullable=False),
    Index("ix_ruler_held_moves_on", "on"),
)
# The latest day the ruler's runs reached (the clock's days as the daily run reads them,
# business days or not): a move dated after it is held.
moves_released = Table(
    "ruler_moves_released",
    metadata,
    Column("name", String(20), primary_key=True),
    Column("day", Date, nullable=False),
)
_RELEASED = "released"
# The lowest balance the payments' topic said of each installment's invoice (what is left to
# pay after the payments received so far, above zero): its own table, so that a payment read
# before the installment's receivable exists is applied when it does.
installment_balances = Table(
    "ruler_installment_balances",
    metadata,
    Column("invoice_id", String(36), primary_key=True),
    Column("balance_cents", Integer, nullable=False),
)
# The outcomes of a payment applied to its invoice (its balance is then what is left).
_APPLIED = ("partial", "paid", "excess")
# Erasures applied here (privacy.erasures).
erasures = ErasureRecords.declare("ruler", metadata)
erased_debtors, erased_keys = erasures.debtors, erasures.keys

DebtEvent = DebtImported | DebtUpdated | DebtImportedV2 | DebtUpdatedV2

# The cached stage (`stage` column) of a receivable in the credit bureau stage whose listing
# waits for its notice's days: a run loads it every day until it is listed (or leaves).
LISTING_WAITS = "credit_bureau:listing_waits"
# ...and one whose listing is held because its notice could not be sent (`ListingHeld`): not
# listed, not loaded again until a re-import brings the debtor's contact (below), or its next
# cycle (after a broken agreement) is noticed anew.
LISTING_HELD = "credit_bureau:listing_held"
# ...and a held one whose row a re-import changed a contact of (phone or e-mail, `DebtUpdated`):
# the next run asks the notice again (QA pass 9, D7: a hold never resumed after the agency
# added the debtor's phone).
NOTICE_AGAIN = "credit_bureau:notice_again"
CONTACT_FIELDS = frozenset({"phone", "email"})
ClosedEvent = AgreementClosed | AgreementClosedV2

# Ids per `IN (...)`.
_CHUNK = 500


def _ids() -> BindParameter[Any]:
    """The ids a query is given (a list; an IN of as many)."""
    return bindparam("ids", expanding=True)


# Built once: building statements for every event was most of what a batch cost.
_BY_ID = select(receivables).where(receivables.c.receivable_id.in_(_ids()))
# The installments of agreements. No ORDER BY, as before: a broken agreement's installments
# leave in the order the database finds them (on SQLite, the order they were inserted).
_INSTALLMENTS_OF = select(receivables).where(
    receivables.c.agreement_id.in_(_ids()), receivables.c.kind == "installment"
)
# New rows only (the batch read them as absent): a row another writer inserted meanwhile
# fails the batch, which is then read again from the rows as they are.
_INSERT = receivables.insert()
# SET takes the columns the parameters name (the rows of one execute name the same ones).
_UPDATE = update(receivables).where(receivables.c.receivable_id == bindparam("row_id"))
_SCRUB = (
    update(receivables)
    .where(
        receivables.c.tenant == bindparam("erased_tenant"),
        receivables.c.document == bindparam("erased_document"),
        receivables.c.debtor_name != REMOVED,
    )
    .values(debtor_name=REMOVED)
)
_BALANCES_OF = select(installment_balances).where(installment_balances.c.invoice_id.in_(_ids()))
# Only ever lower (a batch read the balance as it was; another's lower one stays).
_LOWER_BALANCE = (
    update(installment_balances)
    .where(
        installment_balances.c.invoice_id == bindparam("b_invoice"),
        installment_balances.c.balance_cents > bindparam("b_balance"),
    )
    .values(balance_cents=bindparam("b_balance"))
)
_SET_STAGE = (
    update(receivables)
    .where(receivables.c.receivable_id == bindparam("row_id"))
    .values(stage=bindparam("new_stage"))
)


@dataclass(frozen=True)
class ReceivableRow:
    receivable_id: str
    tenant: str
    kind: str
    document: str
    debtor_name: str
    creditor: str
    category: str | None
    contract: str
    amount_cents: int
    due_date: dt.date
    agreement_id: str | None
    status: str
    stage: str


@dataclass(frozen=True)
class Exit:
    """A receivable that left the ruler with this batch (the application finalizes it).
    `seq`: its place among the batch's moves (a debt reopened then settled in one batch comes
    back, then leaves: `handle_moves` keeps that order)."""

    row: ReceivableRow
    reason: str
    on: dt.date
    seq: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Reentry:
    row: ReceivableRow
    on: dt.date
    seq: int = field(default=0, compare=False)


def move_order(move: Exit | Reentry) -> tuple[int, bool]:
    """Moves in the order they happened (`seq`); of one place, exits first."""
    return (move.seq, isinstance(move, Reentry))


def _date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def _row(r: Any) -> ReceivableRow:
    return ReceivableRow(
        receivable_id=r.receivable_id,
        tenant=r.tenant,
        kind=r.kind,
        document=r.document,
        debtor_name=r.debtor_name,
        creditor=r.creditor,
        category=r.category,
        contract=r.contract,
        amount_cents=r.amount_cents,
        due_date=_date(r.due_date),
        agreement_id=r.agreement_id,
        status=r.status,
        stage=r.stage,
    )


def _row_json(row: ReceivableRow) -> str:
    return json.dumps({**asdict(row), "due_date": row.due_date.isoformat()})


def _row_of_json(value: str) -> ReceivableRow:
    return _snapshot(json.loads(value))


def _snapshot(values: dict[str, Any]) -> ReceivableRow:
    """The row as a batch holds it in memory (the table's columns by name)."""
    return ReceivableRow(
        receivable_id=values["receivable_id"],
        tenant=values["tenant"],
        kind=values["kind"],
        document=values["document"],
        debtor_name=values["debtor_name"],
        creditor=values["creditor"],
        category=values["category"],
        contract=values["contract"],
        amount_cents=values["amount_cents"],
        due_date=_date(values["due_date"]),
        agreement_id=values["agreement_id"],
        status=values["status"],
        stage=values["stage"],
    )


def _opened(sealed: SealedPersonalData, vault: KeyVault, field: str) -> str:
    try:
        opened = unseal(sealed, vault)
    except ValueError as exc:
        # One bad event must not stop the consumer: logged, and nothing shown.
        log.warning("personal data under key %s: %s", sealed.key_id, exc)
        return REMOVED
    if opened is None:
        return REMOVED
    value = opened.get(field)
    return str(value) if value is not None else ""


def _sealed(event: Envelope) -> SealedPersonalData | None:
    personal = event.field_or_none("personal")
    return personal if isinstance(personal, SealedPersonalData) else None


# Columns added after the table was first made: to a table stored before, at start, empty.
# `paid_cents`: `_paid_before` works it out when the debt is re-imported. `entered_on` and
# `left_on`: an old row entered before anything the ruler runs now, and one not open left
# before it (see the module's docstring).
_ADDED_COLUMNS = (("paid_cents", "INTEGER"), ("entered_on", "DATE"), ("left_on", "DATE"))


def _add_columns(engine: Engine) -> None:
    found = {c["name"] for c in inspect(engine).get_columns(receivables.name)}
    for name, kind in _ADDED_COLUMNS:
        if name in found:
            continue
        log.info("%s: adding the column %s", receivables.name, name)
        with engine.begin() as conn:
            conn.execute(text(f"ALTER TABLE {receivables.name} ADD COLUMN {name} {kind}"))
    indexes = {i["name"] for i in inspect(engine).get_indexes(receivables.name)}
    for index in receivables.indexes:
        if index.name not in indexes:
            index.create(engine)


def _chunks(ids: Collection[str]) -> Iterator[list[str]]:
    ordered = list(ids)
    for start in range(0, len(ordered), _CHUNK):
        yield ordered[start : start + _CHUNK]


class ReceivablesTable:
    def __init__(self, engine: Engine, vault: KeyVault) -> None:
        self.engine = engine
        self.vault = vault
        metadata.create_all(engine)
        _add_columns(engine)

    def prepare(self, events: Iterable[Envelope]) -> None:
        """Before a batch's transaction: fetch the secrets of every key its sealed personal
        data is under in one query, so that opening the names reads memory (one vault query
        per event was a good part of an import's cost)."""
        self.vault.preload(
            sealed.key_id for event in events if (sealed := _sealed(event)) is not None
        )

    def erase(self, conn: Connection, event: PersonalDataErased) -> int:
        """Apply an erasure: forget its keys, remember it, and replace the debtor's names by
        `REMOVED`. Returns how many receivables it touched; applying it again changes
        nothing."""
        self.vault.forget(event.key_ids)
        if erasures.applied_before(event, erasures.erased_among(conn, [], event.key_ids)[1]):
            return 0
        erasures.remember(conn, [event])
        result = conn.execute(
            _SCRUB, {"erased_tenant": event.tenant, "erased_document": event.document}
        )
        return result.rowcount

    def apply(
        self, conn: Connection, events: Sequence[Envelope], today: dt.date | None = None
    ) -> tuple[list[Exit], list[Reentry]]:
        """Apply events idempotently; return the receivables that left or came back on a day
        the ruler's runs reached (in the order the events made them leave or come back). The
        others are held until the runs reach their day (`held_until`), as are those after a
        move of the same receivable held. `today`: the business date a debt imported now
        enters collection (None: from always)."""
        exits, reentries = _Batch(self.vault, conn, events, today).apply()
        if not exits and not reentries:
            return exits, reentries
        return self._hold(conn, exits, reentries)

    def _hold(
        self, conn: Connection, exits: list[Exit], reentries: list[Reentry]
    ) -> tuple[list[Exit], list[Reentry]]:
        # Read after the batch's writes, the row locked where the database can: a day the
        # runs reach meanwhile releases these moves, or is seen here.
        reached = conn.execute(
            select(moves_released.c.day).where(moves_released.c.name == _RELEASED).with_for_update()
        ).scalar_one_or_none()
        if reached is None:
            return exits, reentries  # no day run yet: nothing to hold them for
        reached = _date(reached)
        moves: list[Exit | Reentry] = sorted([*exits, *reentries], key=move_order)
        ids = [m.row.receivable_id for m in moves]
        waiting = {
            r.receivable_id
            for chunk in _chunks(list(dict.fromkeys(ids)))
            for r in conn.execute(
                select(held_moves.c.receivable_id).where(held_moves.c.receivable_id.in_(chunk))
            )
        }
        batch = str(uuid.uuid4())
        held: list[dict[str, Any]] = []
        now_exits: list[Exit] = []
        now_reentries: list[Reentry] = []
        for move in moves:
            receivable_id = move.row.receivable_id
            if move.on <= reached and receivable_id not in waiting:
                if isinstance(move, Exit):
                    now_exits.append(move)
                else:
                    now_reentries.append(move)
                continue
            waiting.add(receivable_id)
            held.append(
                {
                    "batch": batch,
                    "receivable_id": receivable_id,
                    "move": "exit" if isinstance(move, Exit) else "reentry",
                    "reason": move.reason if isinstance(move, Exit) else None,
                    "on": move.on,
                    "row": _row_json(move.row),
                }
            )
        if held:
            conn.execute(held_moves.insert(), held)
            log.info(
                "%d receivable move(s) held until the ruler's runs reach their day (now %s)",
                len(held),
                reached,
            )
        return now_exits, now_reentries

    def held_until(self, day: dt.date) -> list[tuple[list[int], list[Exit], list[Reentry]]]:
        """The ruler's runs reached `day` (business day or not): moves dated after it are held
        from now on. Returns the held moves dated `day` or before, per batch in the order they
        were read (their ids, to `forget_held` once finalized or restarted); a receivable's
        move stays held behind an earlier one of it that does."""
        with self.engine.begin() as conn:
            found = conn.execute(
                select(moves_released.c.day)
                .where(moves_released.c.name == _RELEASED)
                .with_for_update()
            ).scalar_one_or_none()
            if found is None:
                conn.execute(moves_released.insert().values(name=_RELEASED, day=day))
            elif _date(found) < day:
                conn.execute(
                    moves_released.update()
                    .where(moves_released.c.name == _RELEASED)
                    .values(day=day)
                )
            rows = conn.execute(select(held_moves).order_by(held_moves.c.seq)).all()
        out: dict[str, tuple[list[int], list[Exit], list[Reentry]]] = {}
        blocked: set[str] = set()
        for r in rows:
            on = _date(r.on)
            if r.receivable_id in blocked or on > day:
                blocked.add(r.receivable_id)
                continue
            seqs, exits, reentries = out.setdefault(r.batch, ([], [], []))
            seqs.append(r.seq)
            row = _row_of_json(r.row)
            if r.move == "exit":
                exits.append(Exit(row, r.reason, on, r.seq))
            else:
                reentries.append(Reentry(row, on, r.seq))
        return list(out.values())

    def forget_held(self, seqs: Sequence[int]) -> None:
        ordered = list(seqs)
        with self.engine.begin() as conn:
            for start in range(0, len(ordered), _CHUNK):
                chunk = ordered[start : start + _CHUNK]
                conn.execute(delete(held_moves).where(held_moves.c.seq.in_(chunk)))

    def open_rows(
        self, batch: int = 2000, tenant: str | None = None, on: dt.date | None = None
    ) -> Iterator[list[ReceivableRow]]:
        """The receivables in collection (of `tenant`, or of every tenant) in pages (by id), so
        a long run holds no transaction open: open ones, or, `on` a day, those in collection
        that day (entered on it or before, and not left by then: one that left after it, its
        exit held, is gone over as it was)."""
        is_open = receivables.c.status == "open"
        if on is None:
            yield from self._pages(is_open, batch, tenant)
            return
        entered = or_(receivables.c.entered_on.is_(None), receivables.c.entered_on <= on)
        yield from self._pages(and_(is_open, entered), batch, tenant)
        # Those that left after `on` (a few: their exits are held), by the left_on index.
        yield from self._pages(
            and_(receivables.c.left_on > on, receivables.c.status != "open", entered),
            batch,
            tenant,
        )

    def _pages(
        self, where: ColumnElement[bool], batch: int, tenant: str | None
    ) -> Iterator[list[ReceivableRow]]:
        last = ""
        while True:
            query = select(receivables).where(where, receivables.c.receivable_id > last)
            if tenant is not None:
                query = query.where(receivables.c.tenant == tenant)
            with self.engine.connect() as conn:
                page = [
                    _row(r)
                    for r in conn.execute(query.order_by(receivables.c.receivable_id).limit(batch))
                ]
            if not page:
                return
            yield page
            last = page[-1].receivable_id

    def set_stage(self, receivable_id: str, stage: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(_SET_STAGE, {"row_id": receivable_id, "new_stage": stage})


# What a debt's newer version changes (status, stage, agreement and kind stay).
_DEBT_DATA = (
    "tenant",
    "document",
    "debtor_name",
    "creditor",
    "category",
    "contract",
    "amount_cents",
    "due_date",
    "version",
)


def _older(row: dict[str, Any], event: Envelope) -> bool:
    """Whether the debt's row is at the event's version or a newer one (the event read again,
    or late): it changes nothing then."""
    return bool(row["version"] >= event.aggregate_version)


def _owed(original_cents: int, paid_cents: int) -> int:
    return max(0, original_cents - paid_cents)


def _part_left(event: PaymentReceived) -> str | None:
    """The invoice a payment left part of to pay (applied to it, a balance above zero)."""
    if event.invoice_id is None or event.outcome not in _APPLIED or event.balance_cents <= 0:
        return None
    return event.invoice_id


def _owe(row: dict[str, Any], balance_cents: int) -> None:
    """An open installment owes `balance_cents` of its amount (never more than it owed)."""
    if row["kind"] != "installment" or row["status"] != "open":
        return
    paid_before = int(row["paid_cents"] or 0)
    amount = int(row["amount_cents"]) + paid_before
    paid = max(paid_before, amount - balance_cents)
    row.update(paid_cents=paid, amount_cents=amount - paid)


def _paid_before(row: dict[str, Any], event: DebtEvent) -> int:
    """What was paid on the debt before a re-import: as the row keeps it, or, for a row
    stored before it was kept, its original amount before the re-import (the change's old
    value, else the event's: it did not change) less the balance it holds. A debt never in
    an agreement has paid nothing."""
    if row["paid_cents"] is not None:
        return int(row["paid_cents"])
    if row["agreement_id"] is None:
        return 0
    original = event.original_amount_cents
    changes = event.changes if isinstance(event, DebtUpdated | DebtUpdatedV2) else []
    for change in changes:
        if change.field == "original_amount_cents" and isinstance(change.old, int):
            original = change.old
    return max(0, original - int(row["amount_cents"]))


class _Batch:
    """The events of one batch applied, in stream order, to the rows they touch (read once,
    at the start), then written back: the erasures' scrubbing first, new rows in one insert,
    changed ones in one update per set of changed columns.

    Each event is replayed in memory as its own statements used to run, against the rows as
    the events before it left them: a debt's newer version (an older or repeated one changes
    nothing), an open receivable leaving (the exit carries the row as it was), a reopened
    debt, a name opened or removed by the erasures known at that point of the stream. So any
    cut of a stream into batches, or a batch delivered again, ends with the same rows and
    the same exits and reentries."""

    def __init__(
        self,
        vault: KeyVault,
        conn: Connection,
        events: Sequence[Envelope],
        today: dt.date | None = None,
    ) -> None:
        self.vault = vault
        self.today = today
        self.conn = conn
        self.events = events
        # The rows as stored at the start, and as the events leave them (with new ones).
        self.stored: dict[str, dict[str, Any]] = {}
        self.rows: dict[str, dict[str, Any]] = {}
        # The installments of each agreement the batch breaks: stored ones in the order the
        # database finds them, then those the batch creates, in order (as inserted).
        self.installments: dict[str, list[str]] = defaultdict(list)
        # Debtors and keys erased: stored before the batch, or by its erasures so far.
        self.erased_pairs: set[tuple[str, str]] = set()
        self.erased_keys: set[str] = set()
        self.erasures: list[PersonalDataErased] = []
        self.exits: list[Exit] = []
        self.reentries: list[Reentry] = []
        self._moves = 0
        # Installments' invoices: the lowest balance their payments said, as stored at the
        # start and as the batch's payments leave it.
        self.stored_balances: dict[str, int] = {}
        self.balances: dict[str, int] = {}

    def _next_seq(self) -> int:
        self._moves += 1
        return self._moves

    def apply(self) -> tuple[list[Exit], list[Reentry]]:
        self._load()
        for event in self.events:
            if isinstance(event, DebtEvent):
                self._debt(event)
            elif isinstance(event, DebtSettled):
                self._settle(event)
            elif isinstance(event, DebtWithdrawn):
                self._withdraw(event)
            elif isinstance(event, ClosedEvent):
                self._renegotiate(event)
                self._installments(event)
            elif isinstance(event, PersonalDataErased):
                self._erase(event)
            elif isinstance(event, InstallmentPaid):
                # Its exit says the installment's amount, not what its last payment left.
                self._close(
                    [event.invoice_id], "paid", event.paid_on, said_cents=event.amount_cents
                )
            elif isinstance(event, PaymentReceived):
                self._pay(event)
            elif isinstance(event, AgreementBroken):
                installments = list(self.installments[event.agreement_id])
                self._close(installments, "cancelled", event.broken_on)
            elif isinstance(event, DebtReopened):
                self._reopen(event)
            elif isinstance(event, DebtPaymentDeducted):
                self._deduct(event)
        self._write()
        return self.exits, self.reentries

    # ---- reading what the batch touches ------------------------------------------------------

    def _load(self) -> None:
        ids: dict[str, None] = {}
        broken: dict[str, None] = {}
        invoices: dict[str, None] = {}
        in_clear: list[tuple[str, str]] = []
        sealed_keys: list[str] = []
        for event in self.events:
            if isinstance(
                event, DebtEvent | DebtSettled | DebtWithdrawn | DebtReopened | DebtPaymentDeducted
            ):
                ids[event.debt_id] = None
            elif isinstance(event, ClosedEvent):
                ids.update(dict.fromkeys(event.debt_ids))
                ids.update(dict.fromkeys(i.invoice_id for i in event.installments))
                invoices.update(dict.fromkeys(i.invoice_id for i in event.installments))
            elif isinstance(event, InstallmentPaid):
                ids[event.invoice_id] = None
            elif isinstance(event, PaymentReceived) and (invoice := _part_left(event)):
                ids[invoice] = None
                invoices[invoice] = None
            elif isinstance(event, AgreementBroken):
                broken[event.agreement_id] = None
            if isinstance(event, DebtImported | DebtUpdated | AgreementClosed):
                in_clear.append((event.tenant, event.document))
            elif isinstance(event, DebtImportedV2 | DebtUpdatedV2 | AgreementClosedV2):
                sealed_keys.append(event.personal.key_id)
            elif isinstance(event, PersonalDataErased):
                sealed_keys.extend(event.key_ids)
        conn = self.conn
        for chunk in _chunks(broken):
            for found in conn.execute(_INSTALLMENTS_OF, {"ids": chunk}):
                self.stored.setdefault(found.receivable_id, dict(found._mapping))
                self.installments[found.agreement_id].append(found.receivable_id)
        for chunk in _chunks([i for i in ids if i not in self.stored]):
            for found in conn.execute(_BY_ID, {"ids": chunk}):
                self.stored[found.receivable_id] = dict(found._mapping)
        self.rows = {receivable_id: dict(row) for receivable_id, row in self.stored.items()}
        for chunk in _chunks(invoices):
            for found in conn.execute(_BALANCES_OF, {"ids": chunk}):
                self.stored_balances[found.invoice_id] = found.balance_cents
        self.balances = dict(self.stored_balances)
        if in_clear or sealed_keys:
            self.erased_pairs, self.erased_keys = erasures.erased_among(conn, in_clear, sealed_keys)

    # ---- each event, in memory ---------------------------------------------------------------

    def _name(self, event: DebtEvent | ClosedEvent) -> str:
        """The debtor's name the event carries: in clear, or `REMOVED` when the debtor's data
        was erased before this point of the stream."""
        if isinstance(event, DebtImportedV2 | DebtUpdatedV2 | AgreementClosedV2):
            if event.personal.key_id in self.erased_keys:
                return REMOVED
            field = "debtor_name" if isinstance(event, AgreementClosedV2) else "name"
            return _opened(event.personal, self.vault, field)
        if (event.tenant, event.document) in self.erased_pairs:
            # The old events carried the name in clear: it stays erased here.
            return REMOVED
        if isinstance(event, AgreementClosed):
            return event.debtor_name
        return event.debtor.name

    def _debt(self, event: DebtEvent) -> None:
        row = self.rows.get(event.debt_id)
        if row is not None and row["version"] >= event.aggregate_version:
            return  # an older version, or this one again: nothing changes
        data = {
            "tenant": event.tenant,
            "document": event.document,
            "debtor_name": self._name(event),
            "creditor": event.creditor,
            "category": event.category,
            "contract": event.contract,
            "amount_cents": event.original_amount_cents,
            "due_date": event.due_date,
            "version": event.aggregate_version,
        }
        if row is not None:
            paid = _paid_before(row, event)
            row.update(data, paid_cents=paid, amount_cents=_owed(event.original_amount_cents, paid))
            if (
                isinstance(event, DebtUpdated | DebtUpdatedV2)
                and row["stage"] == LISTING_HELD
                and any(change.field in CONTACT_FIELDS for change in event.changes)
            ):
                row["stage"] = NOTICE_AGAIN
            return
        self.rows[event.debt_id] = {
            "receivable_id": event.debt_id,
            "kind": "debt",
            "agreement_id": None,
            "status": "open",
            "stage": "current",
            "paid_cents": 0,
            "entered_on": self.today,
            "left_on": None,
            **data,
        }

    def _installments(self, event: ClosedEvent) -> None:
        name: str | None = None
        kinds = [i.kind for i in event.installments]
        for installment in event.installments:
            if installment.invoice_id in self.rows:
                continue  # there already (an insert that changes nothing)
            if name is None:
                name = self._name(event)
            self.rows[installment.invoice_id] = {
                "receivable_id": installment.invoice_id,
                "tenant": event.tenant,
                "kind": "installment",
                "document": event.document,
                "debtor_name": name,
                "creditor": event.creditor,
                "category": None,
                # "acordo 1a2b3c4d entrada", "... parcela 1 de 3": as the debtor's boleto says.
                "contract": f"acordo {event.agreement_id[:8]} "
                + installment_heading(installment.kind, installment.number, kinds).lower(),
                "amount_cents": installment.amount_cents,
                "due_date": installment.due_date,
                "agreement_id": event.agreement_id,
                "status": "open",
                "stage": "current",
                "paid_cents": 0,
                "version": 1,
                "entered_on": event.closed_on,
                "left_on": None,
            }
            self.installments[event.agreement_id].append(installment.invoice_id)
            balance = self.balances.get(installment.invoice_id)
            if balance is not None:  # its payments were read first
                _owe(self.rows[installment.invoice_id], balance)

    def _pay(self, event: PaymentReceived) -> None:
        """A payment to an invoice that leaves part of it to pay: the installment owes that
        part from now on (its messages' `valor`, a listing of it). A balance no lower than
        one known (the payment read again, or an earlier one read late) changes nothing."""
        invoice = _part_left(event)
        if invoice is None:
            return
        known = self.balances.get(invoice)
        if known is not None and known <= event.balance_cents:
            return
        self.balances[invoice] = event.balance_cents
        row = self.rows.get(invoice)
        if row is not None:
            _owe(row, event.balance_cents)

    def _close(
        self,
        ids: Iterable[str],
        reason: str,
        on: dt.date,
        status: str | None = None,
        said_cents: int | None = None,
    ) -> int:
        """Open receivables leave (each an exit with the row as it was, its amount
        `said_cents` when given); returns how many."""
        new_status = status or {"renegotiated": "in_agreement"}.get(reason, reason)
        closed = 0
        for receivable_id in ids:
            row = self.rows.get(receivable_id)
            if row is None or row["status"] != "open":
                continue
            said = row if said_cents is None else {**row, "amount_cents": said_cents}
            self.exits.append(Exit(_snapshot(said), reason, on, self._next_seq()))
            row["status"] = new_status
            row["left_on"] = on
            closed += 1
        return closed

    def _renegotiate(self, event: ClosedEvent) -> None:
        """The agreement's open debts leave (renegotiated), each remembering the agreement:
        the same closing read again (a partition read from the start after the broker lost
        its log) must not take out a debt that the agreement's break brought back."""
        for debt_id in event.debt_ids:
            row = self.rows.get(debt_id)
            if row is None or row["agreement_id"] == event.agreement_id:
                continue
            if self._close([debt_id], "renegotiated", event.closed_on, "in_agreement"):
                row["agreement_id"] = event.agreement_id

    def _settle(self, event: DebtSettled) -> None:
        """Paid in full: the debt leaves (`settled`). One paid off by payments to its broken
        agreement's boleto owes R$ 0,00 by then (the deductions took it there): its exit, and
        so its finalization message, says what was paid on it (`paid_cents`), not R$ 0,00."""
        row = self.rows.get(event.debt_id)
        paid_off = row is not None and row["amount_cents"] == 0
        self._close(
            [event.debt_id],
            "settled",
            event.settled_on,
            said_cents=event.paid_cents if paid_off else None,
        )

    def _withdraw(self, event: DebtWithdrawn) -> None:
        """The creditor cancelled the debt or took it back: an open debt leaves the ruler
        (reason `cancelled`); one under an agreement has left already (renegotiated), and is
        only marked, so that it does not come back if the agreement breaks."""
        if self._close([event.debt_id], "cancelled", event.withdrawn_on):
            return
        row = self.rows.get(event.debt_id)
        if row is not None and row["status"] == "in_agreement":
            row["status"] = "cancelled"

    def _reopen(self, event: DebtReopened) -> None:
        row = self.rows.get(event.debt_id)
        # A debt the creditor withdrew never comes back (the portfolio does not reopen it
        # either; this keeps a redelivered old DebtReopened from doing it); nor does one
        # whose row is newer than the event (read again after a later agreement took it).
        if row is None or row["status"] in ("open", "cancelled") or _older(row, event):
            return
        row.update(
            status="open",
            amount_cents=event.balance_cents,
            paid_cents=event.paid_cents,
            version=event.aggregate_version,
            stage="current",
            entered_on=event.reopened_on,
            left_on=None,
        )
        self.reentries.append(Reentry(_snapshot(row), event.reopened_on, self._next_seq()))

    def _deduct(self, event: DebtPaymentDeducted) -> None:
        """A payment to its broken agreement's boleto was taken off the debt back in
        collection: its messages and listing say what is still owed. The same cycle goes on
        (no reentry: the debtor was not reached again)."""
        row = self.rows.get(event.debt_id)
        if row is None or row["status"] != "open" or _older(row, event):
            return
        row.update(
            amount_cents=event.balance_cents,
            paid_cents=event.paid_cents,
            version=event.aggregate_version,
        )

    def _erase(self, event: PersonalDataErased) -> None:
        self.vault.forget(event.key_ids)
        if erasures.applied_before(event, self.erased_keys):
            return
        self.erasures.append(event)
        self.erased_pairs.add((event.tenant, event.document))
        self.erased_keys.update(event.key_ids)
        for row in self.rows.values():
            if row["tenant"] == event.tenant and row["document"] == event.document:
                row["debtor_name"] = REMOVED

    # ---- writing it back -----------------------------------------------------------------------

    def _write(self) -> None:
        conn = self.conn
        scrubbed: set[tuple[str, str]] = set()
        if self.erasures:
            erasures.remember(conn, self.erasures)
            scrubbed = {(e.tenant, e.document) for e in self.erasures}
            # First, on the rows as stored: the rows the batch read are written below as the
            # events leave them, and the others are not touched by anything but the erasures.
            conn.execute(
                _SCRUB,
                [{"erased_tenant": t, "erased_document": d} for t, d in sorted(scrubbed)],
            )
        new = [row for receivable_id, row in self.rows.items() if receivable_id not in self.stored]
        if new:
            conn.execute(_INSERT, new)
        changes: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
        for receivable_id, before in self.stored.items():
            if (before["tenant"], before["document"]) in scrubbed:
                before = {**before, "debtor_name": REMOVED}  # as the scrub above left it
            after = self.rows[receivable_id]
            changed = {c: v for c, v in after.items() if before[c] != v}
            if changed:
                changes[tuple(changed)].append({"row_id": receivable_id, **changed})
        for params in changes.values():
            conn.execute(_UPDATE, params)
        new_balances = [
            {"invoice_id": i, "balance_cents": b}
            for i, b in self.balances.items()
            if i not in self.stored_balances
        ]
        if new_balances:
            conn.execute(installment_balances.insert(), new_balances)
        lowered = [
            {"b_invoice": i, "b_balance": b}
            for i, b in self.balances.items()
            if i in self.stored_balances and b < self.stored_balances[i]
        ]
        if lowered:
            conn.execute(_LOWER_BALANCE, lowered)
