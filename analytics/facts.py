"""From integration events to plain facts: what the indicators are computed from.

Each fact comes from one kind of event and has a natural key (a debt, an agreement, an
installment of an agreement, a payment, a date), and the first event seen for a key wins: an
event read twice (the same `event_id`, after a republish or a replay) changes nothing. Facts
from different topics may arrive in any order; what joins them (the carteira of an
agreement's debts, the business date a debt was placed on) is resolved by `assemble`, once
everything is read, so order never matters.

Money is integer centavos; dates are business dates (America/Sao_Paulo).
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar, cast

from contracts.clock import DayStarted
from contracts.envelope import Envelope
from contracts.negotiation import (
    AgreementBroken,
    AgreementClosed,
    AgreementClosedV2,
    AgreementPaymentShared,
    InstallmentPaid,
    PaymentReceived,
)
from contracts.portfolio import (
    CarteiraImportStarted,
    CarteiraImportStartedV2,
    DebtImported,
    DebtImportedV2,
    DebtSettled,
)
from service_runtime.clock import BUSINESS_TZ

# Days overdue at placement (the day the agency received the debt), as the industry cuts them.
AGING_BUCKETS: tuple[str, ...] = ("0-30", "31-90", "91-180", "181-360", ">360")
# Discount over the updated value of the agreement's debts; an upper bound is inclusive, so
# 20.5% falls in "21-40%" (the labels name whole percents).
DISCOUNT_BANDS: tuple[str, ...] = ("0%", "1-20%", "21-40%", "41-60%", ">60%")
# The value of a cut a fact does not have (no operator on a portal agreement, a debt whose
# import is not in the streams).
NONE = "-"


def aging_bucket(days_overdue: int) -> str:
    for limit, label in zip((30, 90, 180, 360), AGING_BUCKETS, strict=False):
        if days_overdue <= limit:
            return label
    return AGING_BUCKETS[-1]


def discount_band(discount_cents: int, updated_value_cents: int) -> str:
    if discount_cents <= 0 or updated_value_cents <= 0:
        return DISCOUNT_BANDS[0]
    # Integer comparisons: discount / updated <= limit%  <=>  discount * 100 <= limit * updated.
    for limit, label in zip((20, 40, 60), DISCOUNT_BANDS[1:], strict=False):
        if discount_cents * 100 <= limit * updated_value_cents:
            return label
    return DISCOUNT_BANDS[-1]


def month_of(date: dt.date) -> str:
    return f"{date.year:04d}-{date.month:02d}"


def local_date(moment: dt.datetime) -> dt.date:
    return moment.astimezone(BUSINESS_TZ).date()


@dataclass(frozen=True)
class BusinessDay:
    """A DayStarted: the business date `date` began at the wall-clock instant `started_at`."""

    date: dt.date
    started_at: dt.datetime


@dataclass(frozen=True)
class Placement:
    """A debt handed to the agency (DebtImported)."""

    tenant: str
    debt_id: str
    document: str
    creditor: str
    carteira: str  # the import id of the carteira that brought it
    original_cents: int
    due_date: dt.date
    placed_at: dt.datetime  # the event's occurred_at (wall clock, UTC)
    # The business date of placement: provisional (placed_at in America/Sao_Paulo) until
    # `assemble` resolves it against the clock's days.
    placed_on: dt.date

    @property
    def days_overdue(self) -> int:
        return max(0, (self.placed_on - self.due_date).days)

    @property
    def aging_bucket(self) -> str:
        return aging_bucket(self.days_overdue)

    @property
    def placement_month(self) -> str:
        return month_of(self.placed_on)


@dataclass(frozen=True)
class Agreement:
    """An agreement as closed (AgreementClosed)."""

    tenant: str
    agreement_id: str
    document: str
    creditor: str
    channel: str
    operator: str | None
    installments: int
    closed_on: dt.date
    updated_value_cents: int
    discount_cents: int
    total_cents: int
    debt_ids: tuple[str, ...]
    # Each debt's principal, in the order of debt_ids: money paid is shared by it, as the
    # negotiation service shares it when an agreement breaks.
    debt_principals_cents: tuple[int, ...]
    first_due: dt.date
    first_amount_cents: int
    # Resolved by `assemble` from the placements of its debts (sorted, without repeats).
    carteiras: tuple[str, ...] = ()
    aging_buckets: tuple[str, ...] = ()

    @property
    def cohort(self) -> str:
        return month_of(self.closed_on)

    @property
    def discount_band(self) -> str:
        return discount_band(self.discount_cents, self.updated_value_cents)


@dataclass(frozen=True)
class InstallmentPayment:
    """An installment of an agreement fully paid (InstallmentPaid)."""

    tenant: str
    agreement_id: str
    number: int
    due_date: dt.date
    amount_cents: int
    paid_cents: int
    paid_on: dt.date


@dataclass(frozen=True)
class Break:
    """An agreement broken (AgreementBroken). Rule `debt_withdrawn` (version 2) or
    `debt_amount_lowered` (version 3), `contracts.negotiation.CREDITOR_RULES`: it ended because
    the creditor withdrew one of its debts or lowered one's amount, not by the debtor's
    default: the break rate does not count it, nor FPD once it ended before the first
    installment was due."""

    tenant: str
    agreement_id: str
    broken_on: dt.date
    rule: str
    installment_number: int


@dataclass(frozen=True)
class Receipt:
    """A payment received (PaymentReceived), whatever it matched.

    Money received is `applied_cents` of receipts with an agreement: what was credited to an
    agreement's invoices. Not the excess (`credit_cents`: the debtor's credit, to be refunded
    or used later), not unmatched payments (no debt to attribute them to). InstallmentPaid's
    and DebtSettled's `paid_cents` are sums of these same payments, so they are never added
    to it: each centavo paid is counted once, on the date it was paid."""

    tenant: str
    payment_id: str
    agreement_id: str | None
    amount_cents: int
    applied_cents: int
    paid_on: dt.date
    outcome: str


@dataclass(frozen=True)
class Deduction:
    """A payment to a cancelled invoice of a broken agreement, deducted from its debts back
    in collection (AgreementPaymentShared): money received on those debts. Its PaymentReceived
    applied nothing (outcome `excess`), so each centavo is counted once, here; what stayed
    the debtor's credit is not received money."""

    tenant: str
    payment_id: str
    agreement_id: str
    paid_on: dt.date
    # (debt id, centavos deducted from it), the debts with something deducted.
    debts: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class Settlement:
    """A debt paid in full (DebtSettled): through its agreement, fulfilled, or back in
    collection after its agreement broke, by payments to that agreement's boleto deducted
    (`agreement_id` the broken one's). Either way its money is already counted, in the
    receipts or the deductions: it says the debt is settled, not how much more came in."""

    tenant: str
    debt_id: str
    agreement_id: str
    settled_on: dt.date
    paid_cents: int


@dataclass(frozen=True)
class CarteiraFile:
    """The file a carteira came in (CarteiraImportStarted): what people call the carteira.
    One fact per name an import was published with ("" for none: a client's import may be
    named only when it declares its rows), so any reading order keeps the same names."""

    tenant: str
    import_id: str
    filename: str  # "" when the import had none


Fact = (
    BusinessDay
    | Placement
    | Agreement
    | InstallmentPayment
    | Break
    | Receipt
    | Deduction
    | Settlement
    | CarteiraFile
)
_F = TypeVar("_F")


def fact_of(event: Envelope) -> Fact | None:
    """The fact an event states, None for events the indicators do not use."""
    # Both versions: the indicators use no personal data (version 2 seals it).
    if isinstance(event, DebtImported | DebtImportedV2):
        # DebtImported carries the debt's due_date but no business date, and its occurred_at
        # is the wall clock when the portfolio stored it, which is not the business date under
        # a manual or pinned clock. The business date in force at that instant is the latest
        # DayStarted published before it: `assemble` resolves it from the clock topic. Until
        # then (and when no DayStarted precedes it) it is the instant's date in Sao Paulo.
        return Placement(
            tenant=event.tenant,
            debt_id=event.debt_id,
            document=event.document,
            creditor=event.creditor,
            carteira=event.import_id,
            original_cents=event.original_amount_cents,
            due_date=event.due_date,
            placed_at=event.occurred_at,
            placed_on=local_date(event.occurred_at),
        )
    if isinstance(event, AgreementClosed | AgreementClosedV2):
        first = min(event.installments, key=lambda i: i.number)
        return Agreement(
            tenant=event.tenant,
            agreement_id=event.agreement_id,
            document=event.document,
            creditor=event.creditor,
            channel=event.channel,
            operator=event.operator or None,
            installments=len(event.installments),
            closed_on=event.closed_on,
            updated_value_cents=event.updated_value_cents,
            discount_cents=event.discount_cents,
            total_cents=event.total_cents,
            debt_ids=tuple(d.debt_id for d in event.debts),
            debt_principals_cents=tuple(d.principal_cents for d in event.debts),
            first_due=first.due_date,
            first_amount_cents=first.amount_cents,
        )
    if isinstance(event, InstallmentPaid):
        return InstallmentPayment(
            tenant=event.tenant,
            agreement_id=event.agreement_id,
            number=event.installment_number,
            due_date=event.due_date,
            amount_cents=event.amount_cents,
            paid_cents=event.paid_cents,
            paid_on=event.paid_on,
        )
    if isinstance(event, AgreementBroken):
        return Break(
            tenant=event.tenant,
            agreement_id=event.agreement_id,
            broken_on=event.broken_on,
            rule=event.rule,
            installment_number=event.installment_number,
        )
    if isinstance(event, PaymentReceived):
        return Receipt(
            tenant=event.tenant,
            payment_id=event.payment_id,
            agreement_id=event.agreement_id,
            amount_cents=event.amount_cents,
            applied_cents=event.applied_cents,
            paid_on=event.paid_on,
            outcome=event.outcome,
        )
    if isinstance(event, AgreementPaymentShared):
        return Deduction(
            tenant=event.tenant,
            payment_id=event.payment_id,
            agreement_id=event.agreement_id,
            paid_on=event.paid_on,
            debts=tuple((d.debt_id, d.deducted_cents) for d in event.debts if d.deducted_cents),
        )
    if isinstance(event, DebtSettled):
        return Settlement(
            tenant=event.tenant,
            debt_id=event.debt_id,
            agreement_id=event.agreement_id,
            settled_on=event.settled_on,
            paid_cents=event.paid_cents,
        )
    if isinstance(event, DayStarted):
        return BusinessDay(date=event.date, started_at=event.occurred_at)
    if isinstance(event, CarteiraImportStarted | CarteiraImportStartedV2):
        return CarteiraFile(
            tenant=event.tenant, import_id=event.import_id, filename=event.filename or ""
        )
    return None


# The events `fact_of` takes a fact from; a replay need not parse any other.
FACT_EVENTS: tuple[type[Envelope], ...] = (
    DebtImported,
    DebtImportedV2,
    AgreementClosed,
    AgreementClosedV2,
    InstallmentPaid,
    AgreementBroken,
    PaymentReceived,
    AgreementPaymentShared,
    DebtSettled,
    DayStarted,
    CarteiraImportStarted,
    CarteiraImportStartedV2,
)
FACT_EVENT_TYPES: frozenset[str] = frozenset(m.model_fields["type"].default for m in FACT_EVENTS)


def key_of(fact: Fact) -> tuple[object, ...]:
    """The natural key of a fact: one fact per key, the first seen wins."""
    if isinstance(fact, BusinessDay):
        return ("day", fact.date)
    if isinstance(fact, Placement):
        return ("placement", fact.tenant, fact.debt_id)
    if isinstance(fact, Agreement):
        return ("agreement", fact.tenant, fact.agreement_id)
    if isinstance(fact, InstallmentPayment):
        return ("installment", fact.tenant, fact.agreement_id, fact.number)
    if isinstance(fact, Break):
        return ("break", fact.tenant, fact.agreement_id)
    if isinstance(fact, Receipt):
        return ("receipt", fact.tenant, fact.payment_id)
    if isinstance(fact, Deduction):
        return ("deduction", fact.tenant, fact.payment_id)
    if isinstance(fact, CarteiraFile):
        return ("carteira", fact.tenant, fact.import_id, fact.filename)
    return ("settlement", fact.tenant, fact.debt_id, fact.agreement_id)


class BusinessCalendar:
    """The business date at any wall-clock instant, from the clock's DayStarted events."""

    def __init__(self, days: Iterable[BusinessDay]) -> None:
        ordered = sorted(days, key=lambda d: (d.started_at, d.date))
        self._starts = [d.started_at for d in ordered]
        # The clock never moves back: a running maximum guards against a date republished late.
        self._dates: list[dt.date] = []
        for day in ordered:
            self._dates.append(max(day.date, self._dates[-1]) if self._dates else day.date)

    def date_at(self, moment: dt.datetime) -> dt.date:
        i = bisect.bisect_right(self._starts, moment)
        return self._dates[i - 1] if i else local_date(moment)


@dataclass(frozen=True)
class Facts:
    placements: tuple[Placement, ...] = ()
    agreements: tuple[Agreement, ...] = ()
    installments_paid: tuple[InstallmentPayment, ...] = ()
    breaks: tuple[Break, ...] = ()
    receipts: tuple[Receipt, ...] = ()
    deductions: tuple[Deduction, ...] = ()
    settlements: tuple[Settlement, ...] = ()
    days: tuple[BusinessDay, ...] = ()
    carteira_files: tuple[CarteiraFile, ...] = ()

    def carteira_names(self) -> dict[str, str]:
        """Each carteira (import id) as people read it: its file name, with the start of its
        id when another import has the same name; the id when it had no name."""
        named: dict[str, str] = {}
        for f in self.carteira_files:  # sorted by key: the first name of each import
            if f.filename and f.import_id not in named:
                named[f.import_id] = f.filename
        shared = Counter(named.values())
        return {
            import_id: name if shared[name] == 1 else f"{name} ({import_id[:8]})"
            for import_id, name in named.items()
        }

    @property
    def latest_day(self) -> dt.date | None:
        """The business date now: the clock's latest DayStarted."""
        return max((d.date for d in self.days), default=None)

    def for_tenant(self, tenant: str | None) -> Facts:
        """Only one tenant's facts (the clock's days are everyone's); None: all."""
        if tenant is None:
            return self
        return Facts(
            placements=tuple(f for f in self.placements if f.tenant == tenant),
            agreements=tuple(f for f in self.agreements if f.tenant == tenant),
            installments_paid=tuple(f for f in self.installments_paid if f.tenant == tenant),
            breaks=tuple(f for f in self.breaks if f.tenant == tenant),
            receipts=tuple(f for f in self.receipts if f.tenant == tenant),
            deductions=tuple(f for f in self.deductions if f.tenant == tenant),
            settlements=tuple(f for f in self.settlements if f.tenant == tenant),
            days=self.days,
            carteira_files=tuple(f for f in self.carteira_files if f.tenant == tenant),
        )


def assemble(facts: Iterable[Fact]) -> Facts:
    """Facts as the indicators read them: one per natural key (first wins), each placement's
    business date resolved from the clock's days, each agreement's carteiras and aging
    buckets from its debts' placements. Sorted by key, so the result does not depend on the
    order facts were read in."""
    unique: dict[tuple[object, ...], Fact] = {}
    for fact in facts:
        unique.setdefault(key_of(fact), fact)
    return _assemble_unique(unique)


def _assemble_unique(unique: dict[tuple[object, ...], Fact]) -> Facts:
    """`assemble` of facts already one per key (the dict's keys are their `key_of`)."""
    by_kind: dict[type, list[tuple[tuple[object, ...], Fact]]] = {}
    for item in unique.items():
        by_kind.setdefault(type(item[1]), []).append(item)

    days = tuple(_ordered(by_kind, BusinessDay))
    calendar = BusinessCalendar(days)
    placements = []
    for p in _ordered(by_kind, Placement):
        placed_on = calendar.date_at(p.placed_at)
        # Frozen: the same fact when the date stands (a wall clock), a copy when it moves.
        placements.append(p if placed_on == p.placed_on else replace(p, placed_on=placed_on))
    placed = {(p.tenant, p.debt_id): p for p in placements}
    agreements = []
    for a in _ordered(by_kind, Agreement):
        found = [placed[(a.tenant, d)] for d in a.debt_ids if (a.tenant, d) in placed]
        agreements.append(
            replace(
                a,
                carteiras=tuple(sorted({p.carteira for p in found})),
                aging_buckets=tuple(
                    sorted({p.aging_bucket for p in found}, key=AGING_BUCKETS.index)
                ),
            )
        )
    return Facts(
        placements=tuple(placements),
        agreements=tuple(agreements),
        installments_paid=tuple(_ordered(by_kind, InstallmentPayment)),
        breaks=tuple(_ordered(by_kind, Break)),
        receipts=tuple(_ordered(by_kind, Receipt)),
        deductions=tuple(_ordered(by_kind, Deduction)),
        settlements=tuple(_ordered(by_kind, Settlement)),
        days=days,
        carteira_files=tuple(_ordered(by_kind, CarteiraFile)),
    )


# Kinds whose keys are all strings after the kind's name: they sort as they are, which is how
# `_sortable` (each part as text) sorts them, without making text of each part.
_TEXT_KEYS: tuple[type, ...] = (
    Placement,
    Agreement,
    Break,
    Receipt,
    Deduction,
    Settlement,
    CarteiraFile,
)


def _ordered(
    by_kind: dict[type, list[tuple[tuple[object, ...], Fact]]], kind: type[_F]
) -> list[_F]:
    """The facts of one kind in the order of their keys, each part compared as text."""
    items = by_kind.get(kind, [])
    if kind in _TEXT_KEYS:
        items.sort(key=_key_itself)
    else:
        items.sort(key=_text_of_key)
    return [f for _, f in items if isinstance(f, kind)]


def _key_itself(item: tuple[tuple[object, ...], Fact]) -> tuple[str, ...]:
    return cast(tuple[str, ...], item[0])


def _text_of_key(item: tuple[tuple[object, ...], Fact]) -> tuple[str, ...]:
    return _sortable(item[0])


def _sortable(key: tuple[object, ...]) -> tuple[str, ...]:
    return tuple(str(part) for part in key)


class FactsCollector:
    """Accumulates facts from events in any order, any number of times each. Events of other
    kinds are ignored; `facts()` gives the assembled facts so far."""

    def __init__(self, tenant: str | None = None) -> None:
        self.tenant = tenant
        self._facts: dict[tuple[object, ...], Fact] = {}
        self.ignored = 0

    def add(self, event: Envelope) -> bool:
        """True when the event brought a new fact."""
        fact = fact_of(event)
        if fact is None or (
            self.tenant is not None
            and not isinstance(fact, BusinessDay)
            and fact.tenant != self.tenant
        ):
            self.ignored += 1
            return False
        key = key_of(fact)
        if key in self._facts:
            return False
        self._facts[key] = fact
        return True

    def add_all(self, events: Sequence[Envelope]) -> int:
        return sum(self.add(e) for e in events)

    def facts(self) -> Facts:
        return _assemble_unique(self._facts)
