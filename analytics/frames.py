"""The indicators as polars DataFrames, for notebooks.

Replay the topics once and ask as many questions as needed of the facts::

    >>> import datetime as dt
    >>> from analytics import frames
    >>> facts = frames.load_facts("127.0.0.1:9092", tenant="demo")   # doctest: +SKIP
    >>> frames.fpd(facts, k=5, by=["creditor"], as_of=dt.date(2026, 12, 31))  # doctest: +SKIP
    shape: (3, 4)
    ┌───────────────────────┬────────────┬───────────┬────────┐
    │ creditor              ┆ agreements ┆ defaulted ┆ rate   │
    ...
    >>> frames.recovery_curve(facts, by=["carteira"])  # doctest: +SKIP

Each function also takes the broker's address (or nothing: the configured cluster, or the
one `cobranca up` runs) instead of facts, and replays the topics itself. `as_of` defaults
to the business clock's current date (the clock topic's latest DayStarted). Rates are
floats with 4 decimal places; money is integer centavos.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
from collections.abc import Coroutine, Iterable, Sequence
from typing import Any, TypeVar

import polars as pl

from analytics import indicators
from analytics.facts import Facts
from analytics.replay import Progress, Replayed, replay_facts

Source = Facts | str | None
_T = TypeVar("_T")


def _run(coro: Coroutine[Any, Any, _T]) -> _T:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    # A notebook runs its own event loop: replay on another thread's loop.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def default_bootstrap() -> str:
    from service_runtime.kafka import bootstrap_servers
    from service_runtime.settings import Settings

    return bootstrap_servers(Settings())


def replay(
    bootstrap: str | None = None, *, tenant: str | None = None, progress: Progress | None = None
) -> Replayed:
    return _run(replay_facts(bootstrap or default_bootstrap(), tenant=tenant, progress=progress))


def load_facts(bootstrap: str | None = None, *, tenant: str | None = None) -> Facts:
    """Replay the topics from offset zero into facts (one tenant's, or everyone's)."""
    return replay(bootstrap, tenant=tenant).facts


def _facts(source: Source, tenant: str | None) -> Facts:
    facts = source if isinstance(source, Facts) else load_facts(source, tenant=tenant)
    return facts.for_tenant(tenant)


def default_as_of(facts: Facts) -> dt.date:
    """The business clock's date (its latest DayStarted); without one, the fallback every
    service uses (COBRANCA_CLOCK_START, COBRANCA_TODAY, or today in America/Sao_Paulo)."""
    latest = facts.latest_day
    if latest is not None:
        return latest
    from service_runtime.clock import BusinessClock
    from service_runtime.settings import Settings

    return BusinessClock.from_settings(Settings()).today()


def _frame(
    rows: Sequence[Any], by: Sequence[str], figures: dict[str, pl.DataType | type[pl.DataType]]
) -> pl.DataFrame:
    schema: dict[str, pl.DataType | type[pl.DataType]] = dict.fromkeys(by, pl.String)
    schema.update(figures)
    records = indicators.as_records(rows, by)
    for record in records:
        for name, value in record.items():
            if name.endswith("rate") and value is not None:
                record[name] = float(str(value))
    return pl.DataFrame(records, schema=schema)


def fpd(
    source: Source = None,
    *,
    k: int = 0,
    by: Sequence[str] = (),
    as_of: dt.date | None = None,
    tenant: str | None = None,
) -> pl.DataFrame:
    """FPD-k: columns `by...`, agreements (mature), defaulted, rate."""
    facts = _facts(source, tenant)
    by = indicators.check_cuts(by, indicators.FPD_DIMS)
    rows = indicators.fpd(facts, k=k, as_of=as_of or default_as_of(facts), by=by)
    return _frame(rows, by, {"agreements": pl.Int64, "defaulted": pl.Int64, "rate": pl.Float64})


def recovery(
    source: Source = None,
    *,
    by: Sequence[str] = (),
    as_of: dt.date | None = None,
    tenant: str | None = None,
) -> pl.DataFrame:
    """Recovery rate: columns `by...`, debts, placed_cents, received_cents, rate."""
    facts = _facts(source, tenant)
    by = indicators.check_cuts(by, indicators.RECOVERY_DIMS)
    rows = indicators.recovery(facts, as_of=as_of or default_as_of(facts), by=by)
    return _frame(
        rows,
        by,
        {
            "debts": pl.Int64,
            "placed_cents": pl.Int64,
            "received_cents": pl.Int64,
            "rate": pl.Float64,
        },
    )


def recovery_curve(
    source: Source = None,
    *,
    by: Sequence[str] = (),
    days: Iterable[int] = indicators.DEFAULT_CURVE_DAYS,
    as_of: dt.date | None = None,
    tenant: str | None = None,
) -> pl.DataFrame:
    """Recovery by days since placement: columns `by...`, days, debts, placed_cents,
    received_cents, rate."""
    facts = _facts(source, tenant)
    by = indicators.check_cuts(by, indicators.RECOVERY_DIMS)
    rows = indicators.recovery_curve(facts, as_of=as_of or default_as_of(facts), by=by, days=days)
    return _frame(
        rows,
        by,
        {
            "days": pl.Int64,
            "debts": pl.Int64,
            "placed_cents": pl.Int64,
            "received_cents": pl.Int64,
            "rate": pl.Float64,
        },
    )


def agreements(
    source: Source = None,
    *,
    by: Sequence[str] = (),
    as_of: dt.date | None = None,
    tenant: str | None = None,
) -> pl.DataFrame:
    """Agreement and break rates: columns `by...`, debtors, debtors_with_agreement,
    agreement_rate, agreements, broken, break_rate."""
    facts = _facts(source, tenant)
    by = indicators.check_cuts(by, indicators.AGREEMENT_DIMS)
    rows = indicators.agreements(facts, as_of=as_of or default_as_of(facts), by=by)
    return _frame(
        rows,
        by,
        {
            "debtors": pl.Int64,
            "debtors_with_agreement": pl.Int64,
            "agreement_rate": pl.Float64,
            "agreements": pl.Int64,
            "broken": pl.Int64,
            "break_rate": pl.Float64,
        },
    )
