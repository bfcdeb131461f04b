"""The receivables the ruler works on, in the ruler's own database: imported debts and
agreement installments, kept from `portfolio.debts`, `negotiation.agreements` and
`negotiation.invoices`. The stage column is a cache of the Receivable aggregate's (the event
store is the truth); a run compares against it to load only receivables that move.

The debtor's name is the one clear copy of personal data kept here: opened with the key
vault from the events that carry it sealed (`DebtImportedV2`, `AgreementClosedV2`), taken as
it is from the old ones. An erasure (`privacy.erasures`, `ReceivablesTable.erase`) replaces
the debtor's names by `REMOVED` and is remembered, so old events read again (their names in
clear) or sealed ones read before the erasure reached this process never bring a name back."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Iterator, Sequence
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
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from contracts.envelope import Envelope
from contracts.negotiation import (
    AgreementBroken,
    AgreementClosed,
    AgreementClosedV2,
    InstallmentPaid,
)
from contracts.personal import PersonalDataErased, SealedPersonalData
from contracts.portfolio import (
    DebtImported,
    DebtImportedV2,
    DebtReopened,
    DebtSettled,
    DebtUpdated,
    DebtUpdatedV2,
    DebtWithdrawn,
)
from service_runtime.erasure_records import ErasureRecords
from service_runtime.personal_data import REMOVED, KeyVault, unseal
from service_runtime.sql import insert_ignore

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
    Column("amount_cents", Integer, nullable=False),
    Column("due_date", Date, nullable=False),
    Column("agreement_id", String(36)),
    # open, in_agreement (debts), settled (debts), paid (installments), cancelled
    # (installments of a broken agreement; debts the creditor withdrew)
    Column("status", String(20), nullable=False),
    Column("stage", String(30), nullable=False),
    Column("version", Integer, nullable=False),
    Index("ix_ruler_receivables_status", "status", "tenant"),
)
# Erasures applied here (privacy.erasures).
erasures = ErasureRecords.declare("ruler", metadata)
erased_debtors, erased_keys = erasures.debtors, erasures.keys

DebtEvent = DebtImported | DebtUpdated | DebtImportedV2 | DebtUpdatedV2
ClosedEvent = AgreementClosed | AgreementClosedV2


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
    """A receivable that left the ruler with this batch (the application finalizes it)."""

    row: ReceivableRow
    reason: str
    on: dt.date


@dataclass(frozen=True)
class Reentry:
    row: ReceivableRow
    on: dt.date


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


class ReceivablesTable:
    def __init__(self, engine: Engine, vault: KeyVault) -> None:
        self.engine = engine
        self.vault = vault
        metadata.create_all(engine)

    @staticmethod
    def _erased_among(
        conn: Connection, debtors: Iterable[tuple[str, str]], key_ids: Iterable[str]
    ) -> tuple[set[tuple[str, str]], set[str]]:
        return erasures.erased_among(conn, debtors, key_ids)

    def _names(self, conn: Connection, events: Sequence[Envelope]) -> dict[int, str]:
        """The debtor's name each event carries (by the event's position in the batch): in
        clear, or `REMOVED` when the debtor's data was erased."""
        named = [(i, e) for i, e in enumerate(events) if isinstance(e, DebtEvent | ClosedEvent)]
        if not named:
            return {}
        erased_pairs, erased_key_ids = self._erased_among(
            conn,
            (
                (e.tenant, e.document)
                for _, e in named
                if isinstance(e, DebtImported | DebtUpdated | AgreementClosed)
            ),
            (
                e.personal.key_id
                for _, e in named
                if isinstance(e, DebtImportedV2 | DebtUpdatedV2 | AgreementClosedV2)
            ),
        )
        names: dict[int, str] = {}
        for i, event in named:
            if isinstance(event, DebtImportedV2 | DebtUpdatedV2 | AgreementClosedV2):
                field = "debtor_name" if isinstance(event, AgreementClosedV2) else "name"
                names[i] = (
                    REMOVED
                    if event.personal.key_id in erased_key_ids
                    else _opened(event.personal, self.vault, field)
                )
            elif (event.tenant, event.document) in erased_pairs:
                # The old events carried the name in clear: it stays erased here.
                names[i] = REMOVED
            elif isinstance(event, AgreementClosed):
                names[i] = event.debtor_name
            else:
                names[i] = event.debtor.name
        return names

    def erase(self, conn: Connection, event: PersonalDataErased) -> int:
        """Apply an erasure: forget its keys, remember it, and replace the debtor's names by
        `REMOVED`. Returns how many receivables it touched; applying it again changes
        nothing."""
        self.vault.forget(event.key_ids)
        insert_ignore(
            conn,
            erased_debtors,
            [{"tenant": event.tenant, "document": event.document, "erased_at": event.occurred_at}],
        )
        insert_ignore(
            conn,
            erased_keys,
            [
                {"key_id": key_id, "tenant": event.tenant, "document": event.document}
                for key_id in event.key_ids
            ],
        )
        result = conn.execute(
            update(receivables)
            .where(
                receivables.c.tenant == event.tenant,
                receivables.c.document == event.document,
                receivables.c.debtor_name != REMOVED,
            )
            .values(debtor_name=REMOVED)
        )
        return result.rowcount

    def apply(
        self, conn: Connection, events: Sequence[Envelope]
    ) -> tuple[list[Exit], list[Reentry]]:
        """Apply events idempotently; return the receivables that left or came back."""
        exits: list[Exit] = []
        reentries: list[Reentry] = []
        names = self._names(conn, events)
        for i, event in enumerate(events):
            if isinstance(event, DebtEvent):
                self._upsert_debt(conn, event, names[i])
            elif isinstance(event, DebtSettled):
                exits += self._close(conn, [event.debt_id], "settled", event.settled_on)
            elif isinstance(event, DebtWithdrawn):
                exits += self._withdraw(conn, event)
            elif isinstance(event, ClosedEvent):
                exits += self._close(
                    conn, event.debt_ids, "renegotiated", event.closed_on, "in_agreement"
                )
                self._installments(conn, event, names[i])
            elif isinstance(event, PersonalDataErased):
                self.erase(conn, event)
            elif isinstance(event, InstallmentPaid):
                exits += self._close(conn, [event.invoice_id], "paid", event.paid_on)
            elif isinstance(event, AgreementBroken):
                installments = [
                    r.receivable_id
                    for r in self._rows(
                        conn,
                        receivables.c.agreement_id == event.agreement_id,
                        receivables.c.kind == "installment",
                    )
                ]
                exits += self._close(conn, installments, "cancelled", event.broken_on)
            elif isinstance(event, DebtReopened):
                row = self._get(conn, event.debt_id)
                # A debt the creditor withdrew never comes back (the portfolio does not reopen
                # it either; this keeps a redelivered old DebtReopened from doing it).
                if row is not None and row.status not in ("open", "cancelled"):
                    conn.execute(
                        update(receivables)
                        .where(receivables.c.receivable_id == event.debt_id)
                        .values(status="open", amount_cents=event.balance_cents, stage="current")
                    )
                    reopened = self._get(conn, event.debt_id)
                    assert reopened is not None
                    reentries.append(Reentry(reopened, event.reopened_on))
        return exits, reentries

    def _upsert_debt(self, conn: Connection, event: DebtEvent, debtor_name: str) -> None:
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        values = {
            "receivable_id": event.debt_id,
            "tenant": event.tenant,
            "kind": "debt",
            "document": event.document,
            "debtor_name": debtor_name,
            "creditor": event.creditor,
            "category": event.category,
            "contract": event.contract,
            "amount_cents": event.original_amount_cents,
            "due_date": event.due_date,
            "agreement_id": None,
            "status": "open",
            "stage": "current",
            "version": event.aggregate_version,
        }
        stmt = dialect.insert(receivables).values(values)
        keep = {"receivable_id", "status", "stage", "agreement_id", "kind"}
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["receivable_id"],
                set_={k: stmt.excluded[k] for k in values if k not in keep},
                where=receivables.c.version < stmt.excluded.version,
            )
        )

    def _installments(self, conn: Connection, event: ClosedEvent, debtor_name: str) -> None:
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        for installment in event.installments:
            conn.execute(
                dialect.insert(receivables)
                .values(
                    receivable_id=installment.invoice_id,
                    tenant=event.tenant,
                    kind="installment",
                    document=event.document,
                    debtor_name=debtor_name,
                    creditor=event.creditor,
                    category=None,
                    contract=f"acordo {event.agreement_id[:8]} parcela {installment.number}",
                    amount_cents=installment.amount_cents,
                    due_date=installment.due_date,
                    agreement_id=event.agreement_id,
                    status="open",
                    stage="current",
                    version=1,
                )
                .on_conflict_do_nothing(index_elements=["receivable_id"])
            )

    def _close(
        self,
        conn: Connection,
        ids: Sequence[str],
        reason: str,
        on: dt.date,
        status: str | None = None,
    ) -> list[Exit]:
        new_status = status or {"renegotiated": "in_agreement"}.get(reason, reason)
        exits = []
        for receivable_id in ids:
            row = self._get(conn, receivable_id)
            if row is None or row.status != "open":
                continue
            conn.execute(
                update(receivables)
                .where(receivables.c.receivable_id == receivable_id)
                .values(status=new_status)
            )
            exits.append(Exit(row, reason, on))
        return exits

    def _withdraw(self, conn: Connection, event: DebtWithdrawn) -> list[Exit]:
        """The creditor cancelled the debt or took it back: an open debt leaves the ruler
        (reason `cancelled`); one under an agreement has left already (renegotiated), and is
        only marked, so that it does not come back if the agreement breaks."""
        exits = self._close(conn, [event.debt_id], "cancelled", event.withdrawn_on)
        if not exits:
            conn.execute(
                update(receivables)
                .where(
                    receivables.c.receivable_id == event.debt_id,
                    receivables.c.status == "in_agreement",
                )
                .values(status="cancelled")
            )
        return exits

    def _get(self, conn: Connection, receivable_id: str) -> ReceivableRow | None:
        found = conn.execute(
            select(receivables).where(receivables.c.receivable_id == receivable_id)
        ).first()
        return _row(found) if found else None

    @staticmethod
    def _rows(conn: Connection, *where: Any) -> list[ReceivableRow]:
        return [_row(r) for r in conn.execute(select(receivables).where(*where))]

    def open_rows(self, batch: int = 2000) -> Iterator[list[ReceivableRow]]:
        """Open receivables in pages (by id), so a long run holds no transaction open."""
        last = ""
        while True:
            with self.engine.connect() as conn:
                page = [
                    _row(r)
                    for r in conn.execute(
                        select(receivables)
                        .where(receivables.c.status == "open", receivables.c.receivable_id > last)
                        .order_by(receivables.c.receivable_id)
                        .limit(batch)
                    )
                ]
            if not page:
                return
            yield page
            last = page[-1].receivable_id

    def set_stage(self, receivable_id: str, stage: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(receivables)
                .where(receivables.c.receivable_id == receivable_id)
                .values(stage=stage)
            )
