"""The collection indicators, as pure functions over facts (`analytics.facts`).

Every figure is "as of" a business date: only what had happened by then counts (agreements
closed, payments made, debts placed on or before it), so the same facts give the figures of
any past date.

- FPD-k (first payment default; the Cedrus seed: agreements broken on their first
  installment): the share of agreements whose first installment was still unpaid when the
  day due date + k was over. Only mature agreements count: those whose day due date + k is
  over by the as-of date, i.e. due date + k is before it (a figure taken during that day
  would change by its end: today's due dates are not judged yet). An installment paid on
  due date + k is not a default; paid later, or not at all, it is.
- Recovery rate: money received (what was credited to agreements' invoices, see
  `facts.Receipt`, and what a payment to a broken agreement's cancelled invoice deducted
  from its debts, `facts.Deduction`) over money placed (the original value of the debts
  imported). A payment is shared among its agreement's debts in proportion to their
  principal. As a curve: for each
  number of days d since placement, over the debts placed at least d days before the as-of
  date, what came in within d days of placement; every d asked for has its row (per cut),
  with 0 debts and no rate when no debt is that old.
- Agreement rate: debtors with an agreement over debtors placed (per cut, a debtor counts
  when one of their debts in the cut is in an agreement). Break rate: agreements broken over
  agreements closed.

Cuts (`by`): an agreement whose debts came in several carteiras (or aging buckets) counts
once in each of them, so such rows may add up to more than the total.

Rates are decimal fractions rounded half-up to 4 places (0.3333 is 33.33%); None when
nothing is counted (no denominator).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from analytics.facts import AGING_BUCKETS, DISCOUNT_BANDS, NONE, Agreement, Facts, Placement
from contracts.negotiation import CREDITOR_RULES

RATE_PLACES = Decimal("0.0001")

# What each indicator can be cut by.
AGREEMENT_DIMS: tuple[str, ...] = (
    "tenant",
    "cohort",
    "creditor",
    "carteira",
    "channel",
    "operator",
    "installments",
    "discount_band",
    "aging_bucket",
)
FPD_DIMS = AGREEMENT_DIMS
PLACEMENT_DIMS: tuple[str, ...] = (
    "tenant",
    "creditor",
    "carteira",
    "aging_bucket",
    "placement_month",
)
RECOVERY_DIMS = PLACEMENT_DIMS
# The agreement rate needs the cut on placements and agreements alike.
AGREEMENT_RATE_DIMS: tuple[str, ...] = ("tenant", "creditor", "carteira", "aging_bucket")
DEFAULT_CURVE_DAYS: tuple[int, ...] = (0, 30, 60, 90, 120, 180, 270, 360)
# The cuts as people read them (tables, charts).
CUT_LABELS: dict[str, str] = {
    "tenant": "assessoria",
    "cohort": "safra",
    "creditor": "credor",
    "carteira": "carteira",
    "channel": "canal",
    "operator": "operador",
    "installments": "parcelas",
    "discount_band": "faixa de desconto",
    "aging_bucket": "atraso na entrada (dias)",
    "placement_month": "mês de entrada",
}


# A cut's values as people read them (tables, charts), where the code's name is English; CSV
# and JSON keep the code's. The channels as the timeline names them.
VALUE_LABELS: dict[str, dict[str, str]] = {
    "channel": {"portal": "portal", "chatbot": "chatbot", "operator": "atendente"},
}


def value_label(dim: str, value: str, carteiras: Mapping[str, str] | None = None) -> str:
    """A cut's value as a table or a chart shows it; a carteira by its file name
    (`Facts.carteira_names`) when it is known."""
    if dim == "carteira" and carteiras:
        return carteiras.get(value, value)
    return VALUE_LABELS.get(dim, {}).get(value, value)


class UnknownCut(ValueError):
    def __init__(self, dim: str, allowed: Sequence[str]) -> None:
        super().__init__(f"unknown cut {dim!r}; use one of {', '.join(allowed)}")
        self.dim = dim
        self.allowed = tuple(allowed)


class FutureAsOf(ValueError):
    """An as-of date after today's business date: the figures of a day that has not come
    would count as defaulted what is not due yet."""

    def __init__(self, as_of: dt.date, today: dt.date) -> None:
        super().__init__(
            f"a data {as_of:%d/%m/%Y} ainda não chegou: hoje, pelo relógio de negócio, é "
            f"{today:%d/%m/%Y}; os indicadores só contam o que já aconteceu"
        )
        self.as_of = as_of
        self.today = today


def check_as_of(as_of: dt.date | None, today: dt.date) -> dt.date:
    """The as-of date (today's business date when none is given); a later one is refused."""
    if as_of is None:
        return today
    if as_of > today:
        raise FutureAsOf(as_of, today)
    return as_of


def check_cuts(by: Sequence[str], allowed: Sequence[str]) -> tuple[str, ...]:
    for dim in by:
        if dim not in allowed:
            raise UnknownCut(dim, allowed)
    # The same cut twice says nothing more.
    return tuple(dict.fromkeys(by))


# The cuts each indicator knows, by its name (the API's path, the command line's command).
DIMS: dict[str, tuple[str, ...]] = {
    "fpd": FPD_DIMS,
    "recovery": RECOVERY_DIMS,
    "agreements": AGREEMENT_DIMS,
}
CURVE_DAYS_MAX = 36500


@dataclass(frozen=True)
class Refusal:
    """A parameter of an indicator's request that cannot be answered: its name as the API
    has it (`by`, `as_of`, `curve_days`, `grace_days`), the rule, and why in pt-BR."""

    field: str
    rule: str
    message: str


def refusals(
    indicator: str,
    today: dt.date | None,
    by: Sequence[str] = (),
    as_of: dt.date | None = None,
    curve_days: Sequence[int] = (),
    grace_days: int = 0,
) -> list[Refusal]:
    """Every parameter of an indicator's request that cannot be answered, each named with its
    rule, all at once: the API's and the command line's checks (QA: `?by=foo&grace_days=-1`
    named only grace_days, by on the next try). `today` None: the as-of date is not judged
    (the command line, before it has read the clock)."""
    found: list[Refusal] = []
    allowed = DIMS[indicator]
    unknown = list(dict.fromkeys(d for d in by if d not in allowed))
    if unknown:
        message = f"corte desconhecido: {', '.join(unknown)}; use um de: {', '.join(allowed)}"
        found.append(Refusal("by", "unknown_cut", message))
    if today is not None:
        try:
            check_as_of(as_of, today)
        except FutureAsOf as exc:
            found.append(Refusal("as_of", "not_in_future", str(exc)))
    if any(d < 0 or d > CURVE_DAYS_MAX for d in curve_days):
        message = f"dias desde a entrada: de 0 a {CURVE_DAYS_MAX}"
        found.append(Refusal("curve_days", "range", message))
    if grace_days < 0:
        found.append(Refusal("grace_days", "range", "dias de tolerância: 0 ou mais"))
    return found


def rate(numerator: int, denominator: int) -> Decimal | None:
    if denominator <= 0:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(RATE_PLACES, ROUND_HALF_UP)


Key = tuple[str, ...]


def _agreement_values(a: Agreement, dim: str) -> tuple[str, ...]:
    if dim == "carteira":
        return a.carteiras or (NONE,)
    if dim == "aging_bucket":
        return a.aging_buckets or (NONE,)
    single: dict[str, Callable[[Agreement], str]] = {
        "tenant": lambda x: x.tenant,
        "cohort": lambda x: x.cohort,
        "creditor": lambda x: x.creditor,
        "channel": lambda x: x.channel,
        "operator": lambda x: x.operator or NONE,
        "installments": lambda x: str(x.installments),
        "discount_band": lambda x: x.discount_band,
    }
    return (single[dim](a),)


def _placement_value(p: Placement, dim: str) -> str:
    values: dict[str, Callable[[Placement], str]] = {
        "tenant": lambda x: x.tenant,
        "creditor": lambda x: x.creditor,
        "carteira": lambda x: x.carteira,
        "aging_bucket": lambda x: x.aging_bucket,
        "placement_month": lambda x: x.placement_month,
    }
    return values[dim](p)


def _agreement_keys(a: Agreement, by: Sequence[str]) -> set[Key]:
    return set(itertools.product(*(_agreement_values(a, dim) for dim in by)))


def _placement_key(p: Placement, by: Sequence[str]) -> Key:
    return tuple(_placement_value(p, dim) for dim in by)


# Cuts whose values have an order of their own (the bands' place, not their text).
_RANKED: dict[str, tuple[str, ...]] = {
    "aging_bucket": AGING_BUCKETS,
    "discount_band": DISCOUNT_BANDS,
}


def _order(by: Sequence[str], key: Key) -> tuple[tuple[int, int, str], ...]:
    """Rows in the order people read them: bands by their place (0-30, 31-90, ..., >360),
    numbers as numbers ("2" before "10" installments), the rest as text."""
    order: list[tuple[int, int, str]] = []
    for dim, v in zip(by, key, strict=True):
        ranked = _RANKED.get(dim)
        if ranked is not None and v in ranked:
            order.append((0, ranked.index(v), ""))
        elif v.isdigit():
            order.append((0, int(v), ""))
        else:
            order.append((1, 0, v))
    return tuple(order)


def _cuts(by: Sequence[str], key: Key) -> dict[str, str]:
    return dict(zip(by, key, strict=True))


# ---- FPD ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FpdRow:
    cuts: dict[str, str]
    agreements: int  # mature agreements
    defaulted: int

    @property
    def rate(self) -> Decimal | None:
        return rate(self.defaulted, self.agreements)


def first_installment_paid_on(facts: Facts) -> dict[tuple[str, str], dt.date]:
    paid: dict[tuple[str, str], dt.date] = {}
    for p in facts.installments_paid:
        if p.number == 1:
            key = (p.tenant, p.agreement_id)
            paid[key] = min(p.paid_on, paid.get(key, p.paid_on))
    return paid


def fpd(facts: Facts, *, k: int, as_of: dt.date, by: Sequence[str] = ()) -> list[FpdRow]:
    """FPD-k per cut; with no cut, one row (the total)."""
    if k < 0:
        raise ValueError("k (grace days) must be 0 or more")
    by = check_cuts(by, FPD_DIMS)
    paid = first_installment_paid_on(facts)
    # Ended by the creditor (a debt withdrawn, or its amount lowered) before the first
    # installment's time (due + k) was over and not paid by then: the debtor's first payment
    # cannot be judged.
    withdrawn = {
        (b.tenant, b.agreement_id): b.broken_on for b in facts.breaks if b.rule in CREDITOR_RULES
    }
    counts: dict[Key, list[int]] = defaultdict(lambda: [0, 0])
    for a in facts.agreements:
        limit = a.first_due + dt.timedelta(days=k)
        # Mature once the day due + k is over: before the as-of date, not on it.
        if a.closed_on > as_of or limit >= as_of:
            continue
        paid_on = paid.get((a.tenant, a.agreement_id))
        ended = withdrawn.get((a.tenant, a.agreement_id))
        if ended is not None and ended <= limit and (paid_on is None or paid_on > ended):
            continue
        defaulted = paid_on is None or paid_on > limit
        for key in _agreement_keys(a, by):
            counts[key][0] += 1
            counts[key][1] += defaulted
    if not by and not counts:
        counts[()] = [0, 0]
    return [
        FpdRow(_cuts(by, key), agreements=n, defaulted=d)
        for key, (n, d) in sorted(counts.items(), key=lambda kv: _order(by, kv[0]))
    ]


# ---- recovery -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RecoveryRow:
    cuts: dict[str, str]
    debts: int
    placed_cents: int
    received_cents: int

    @property
    def rate(self) -> Decimal | None:
        return rate(self.received_cents, self.placed_cents)


@dataclass(frozen=True)
class CurveRow:
    cuts: dict[str, str]
    days: int  # since placement
    debts: int  # placed at least `days` before the as-of date
    placed_cents: int
    received_cents: int  # within `days` of placement

    @property
    def rate(self) -> Decimal | None:
        return rate(self.received_cents, self.placed_cents)


def split_by_principal(amount: int, principals: Sequence[int]) -> list[int]:
    """Share an amount among debts in proportion to their principal, largest remainders
    first, so the shares add up to the amount exactly."""
    total = sum(principals)
    if total <= 0:
        return [0] * len(principals)
    exact = [amount * p for p in principals]
    shares = [e // total for e in exact]
    left = amount - sum(shares)
    for i in sorted(range(len(principals)), key=lambda i: (-(exact[i] % total), i))[:left]:
        shares[i] += 1
    return shares


def received_by_debt(facts: Facts) -> dict[tuple[str, str], list[tuple[dt.date, int]]]:
    """Money received on each debt, with the date it was paid."""
    agreements = {(a.tenant, a.agreement_id): a for a in facts.agreements}
    received: dict[tuple[str, str], list[tuple[dt.date, int]]] = defaultdict(list)
    for r in facts.receipts:
        if r.agreement_id is None or r.applied_cents <= 0:
            continue
        a = agreements.get((r.tenant, r.agreement_id))
        if a is None:
            continue  # its agreement is not in the streams: no debt to attribute it to
        shares = split_by_principal(r.applied_cents, a.debt_principals_cents)
        for debt_id, share in zip(a.debt_ids, shares, strict=True):
            if share:
                received[(a.tenant, debt_id)].append((r.paid_on, share))
    # Paid to a broken agreement's cancelled invoice, deducted from its debts (each debt's
    # share said by the agreement: its receipt applied nothing).
    for d in facts.deductions:
        for debt_id, cents in d.debts:
            received[(d.tenant, debt_id)].append((d.paid_on, cents))
    return received


def _placed(facts: Facts, as_of: dt.date) -> list[Placement]:
    return [p for p in facts.placements if p.placed_on <= as_of]


def recovery(facts: Facts, *, as_of: dt.date, by: Sequence[str] = ()) -> list[RecoveryRow]:
    """Recovery rate per cut of the debts placed by `as_of`, with money received by then."""
    by = check_cuts(by, RECOVERY_DIMS)
    received = received_by_debt(facts)
    sums: dict[Key, list[int]] = defaultdict(lambda: [0, 0, 0])
    for p in _placed(facts, as_of):
        got = sum(c for on, c in received.get((p.tenant, p.debt_id), ()) if on <= as_of)
        row = sums[_placement_key(p, by)]
        row[0] += 1
        row[1] += p.original_cents
        row[2] += got
    if not by and not sums:
        sums[()] = [0, 0, 0]
    return [
        RecoveryRow(_cuts(by, key), debts=n, placed_cents=placed, received_cents=got)
        for key, (n, placed, got) in sorted(sums.items(), key=lambda kv: _order(by, kv[0]))
    ]


def recovery_curve(
    facts: Facts,
    *,
    as_of: dt.date,
    by: Sequence[str] = (),
    days: Iterable[int] = DEFAULT_CURVE_DAYS,
) -> list[CurveRow]:
    """Recovery by days since placement, per cut: a row for every number of days asked for
    and every cut value placed by `as_of` (with no cut, one row a day even with nothing
    placed), 0 debts and no rate where no debt is that old yet: a horizon is never dropped."""
    by = check_cuts(by, RECOVERY_DIMS)
    horizons = sorted(set(days))
    if any(d < 0 for d in horizons):
        raise ValueError("days since placement must be 0 or more")
    received = received_by_debt(facts)
    sums: dict[tuple[Key, int], list[int]] = defaultdict(lambda: [0, 0, 0])
    keys: set[Key] = set() if by else {()}
    for p in _placed(facts, as_of):
        payments = received.get((p.tenant, p.debt_id), ())
        key = _placement_key(p, by)
        keys.add(key)
        for d in horizons:
            until = p.placed_on + dt.timedelta(days=d)
            if until > as_of:
                break  # younger than d days: not in this point nor the later ones
            row = sums[(key, d)]
            row[0] += 1
            row[1] += p.original_cents
            row[2] += sum(c for on, c in payments if on <= until)
    for key in keys:
        for d in horizons:
            sums.setdefault((key, d), [0, 0, 0])  # nothing counted: still a row
    return [
        CurveRow(_cuts(by, key), days=d, debts=n, placed_cents=placed, received_cents=got)
        for (key, d), (n, placed, got) in sorted(
            sums.items(), key=lambda kv: (_order(by, kv[0][0]), kv[0][1])
        )
    ]


# ---- agreements and breaks ----------------------------------------------------------------


@dataclass(frozen=True)
class AgreementRow:
    cuts: dict[str, str]
    # None when the cut is not one of placements (channel, operator...): debtors placed have
    # no channel.
    debtors: int | None
    debtors_with_agreement: int | None
    agreements: int
    broken: int

    @property
    def agreement_rate(self) -> Decimal | None:
        if self.debtors is None or self.debtors_with_agreement is None:
            return None
        return rate(self.debtors_with_agreement, self.debtors)

    @property
    def break_rate(self) -> Decimal | None:
        return rate(self.broken, self.agreements)


def agreements(facts: Facts, *, as_of: dt.date, by: Sequence[str] = ()) -> list[AgreementRow]:
    """Agreement rate and break rate per cut, as of a date."""
    by = check_cuts(by, AGREEMENT_DIMS)
    closed = [a for a in facts.agreements if a.closed_on <= as_of]
    # A debtor's breaks: not an agreement the creditor ended by withdrawing one of its debts
    # or lowering one's amount.
    broken = {
        (b.tenant, b.agreement_id)
        for b in facts.breaks
        if b.broken_on <= as_of and b.rule not in CREDITOR_RULES
    }
    counts: dict[Key, list[int]] = defaultdict(lambda: [0, 0])
    for a in closed:
        for key in _agreement_keys(a, by):
            counts[key][0] += 1
            counts[key][1] += (a.tenant, a.agreement_id) in broken
    with_debtors = all(dim in AGREEMENT_RATE_DIMS for dim in by)
    debtors: dict[Key, set[tuple[str, str]]] = defaultdict(set)
    agreeing: dict[Key, set[tuple[str, str]]] = defaultdict(set)
    if with_debtors:
        in_agreement = {(a.tenant, d) for a in closed for d in a.debt_ids}
        for p in _placed(facts, as_of):
            key = _placement_key(p, by)
            debtors[key].add((p.tenant, p.document))
            if (p.tenant, p.debt_id) in in_agreement:
                agreeing[key].add((p.tenant, p.document))
    keys = set(counts) | set(debtors)
    if not by:
        keys.add(())
    return [
        AgreementRow(
            _cuts(by, key),
            debtors=len(debtors.get(key, ())) if with_debtors else None,
            debtors_with_agreement=len(agreeing.get(key, ())) if with_debtors else None,
            agreements=counts[key][0] if key in counts else 0,
            broken=counts[key][1] if key in counts else 0,
        )
        for key in sorted(keys, key=lambda key: _order(by, key))
    ]


def as_records(
    rows: Sequence[FpdRow | RecoveryRow | CurveRow | AgreementRow],
    by: Sequence[str],
    carteiras: Mapping[str, str] | None = None,
) -> list[dict[str, object]]:
    """Flat rows (cut values first, then the counts and rates): for tables, CSV and frames.
    Cut by carteira, with `carteiras` (`Facts.carteira_names`): its file name too, in
    `carteira_name` after the cuts (empty when the import had none)."""
    records: list[dict[str, object]] = []
    for row in rows:
        record: dict[str, object] = {dim: row.cuts.get(dim, "") for dim in by}
        if carteiras is not None and "carteira" in by:
            record["carteira_name"] = carteiras.get(row.cuts.get("carteira", ""), "")
        record.update(_figures(row))
        records.append(record)
    return records


def _figures(row: FpdRow | RecoveryRow | CurveRow | AgreementRow) -> Mapping[str, object]:
    if isinstance(row, FpdRow):
        return {"agreements": row.agreements, "defaulted": row.defaulted, "rate": row.rate}
    if isinstance(row, CurveRow):
        return {
            "days": row.days,
            "debts": row.debts,
            "placed_cents": row.placed_cents,
            "received_cents": row.received_cents,
            "rate": row.rate,
        }
    if isinstance(row, RecoveryRow):
        return {
            "debts": row.debts,
            "placed_cents": row.placed_cents,
            "received_cents": row.received_cents,
            "rate": row.rate,
        }
    return {
        "debtors": row.debtors,
        "debtors_with_agreement": row.debtors_with_agreement,
        "agreement_rate": row.agreement_rate,
        "agreements": row.agreements,
        "broken": row.broken,
        "break_rate": row.break_rate,
    }
