"""How an agreement's total is split into invoices, and when each one is due."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Literal

from services.negotiation.domain.business_days import add_months, next_business_day
from services.negotiation.domain.money import pct_of

_ONE_DAY = dt.timedelta(days=1)


def _equal_split(total_cents: int, n: int) -> list[int]:
    base, remainder = divmod(total_cents, n)
    # The first invoice absorbs the remainder, so the later ones are all the same amount.
    return [base + remainder] + [base] * (n - 1)


def split_installments(
    total_cents: int, n: int, down_payment_cents: int | None = None
) -> list[int]:
    """`n` amounts in centavos adding up to exactly `total_cents`, none of them zero.

    With a down payment (entrada) the first is the down payment and the other n - 1 split what
    is left equally, the first of them absorbing the remainder.
    """
    if n < 1:
        raise ValueError(f"installments must be at least 1, not {n}")
    if total_cents < n:
        raise ValueError(f"{total_cents} centavos cannot be split into {n} non-zero installments")
    if down_payment_cents is None:
        return _equal_split(total_cents, n)
    if n == 1:
        # A single invoice is the whole total; any other down payment would not add up.
        if down_payment_cents != total_cents:
            raise ValueError("with one installment the down payment must be the whole total")
        return [total_cents]
    highest = total_cents - (n - 1)
    if not 1 <= down_payment_cents <= highest:
        raise ValueError(
            f"down payment must be between 1 and {highest} centavos, not {down_payment_cents}"
        )
    return [down_payment_cents, *_equal_split(total_cents - down_payment_cents, n - 1)]


def down_payment(total_cents: int, n: int, min_down_payment_pct: Decimal) -> int | None:
    """The down payment (entrada) a condition asks for, or None when it asks for none."""
    if min_down_payment_pct == 0 or n == 1:
        return None
    if total_cents < n:
        raise ValueError(f"{total_cents} centavos cannot be split into {n} non-zero installments")
    # Never smaller than the first invoice of an equal split: an entrada below a regular
    # installment would not be an entrada.
    equal_first = total_cents // n + total_cents % n
    wanted = max(pct_of(total_cents, min_down_payment_pct), equal_first)
    # Each of the n - 1 later invoices needs at least one centavo.
    return min(wanted, total_cents - (n - 1))


def due_dates(
    start: dt.date,
    n: int,
    periodicity: Literal["monthly", "every_n_days"],
    every_n_days: int | None,
    days_to_first_due: int,
) -> list[dt.date]:
    """The due dates of `n` invoices, all business days, strictly increasing."""
    if n < 1:
        raise ValueError(f"installments must be at least 1, not {n}")
    if days_to_first_due < 0:
        raise ValueError("days_to_first_due must not be negative")
    anchor = start + dt.timedelta(days=days_to_first_due)
    if periodicity == "monthly":
        # Months counted from the anchor, not chained: Jan 31 gives Feb 28, then Mar 31.
        nominal = [add_months(anchor, k) for k in range(n)]
    else:
        if every_n_days is None or every_n_days < 1:
            raise ValueError("every_n_days must be at least 1 for periodicity every_n_days")
        nominal = [anchor + dt.timedelta(days=k * every_n_days) for k in range(n)]
    dates: list[dt.date] = []
    for day in nominal:
        due = next_business_day(day)
        # Short periods can land two invoices on the same Monday after a weekend or holiday:
        # each invoice keeps a day of its own.
        if dates and due <= dates[-1]:
            due = next_business_day(dates[-1] + _ONE_DAY)
        dates.append(due)
    return dates
