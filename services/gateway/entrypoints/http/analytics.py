"""The analysts' indicators over HTTP: FPD, recovery, agreement and break rates, computed by
the same pure functions as `cobranca analytics` (`analytics.indicators`) over the facts the
gateway's analytics projection keeps. Always the token's tenant."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Annotated, Any

from anyio import to_thread
from litestar import Controller, Request, get
from litestar.datastructures import State
from litestar.params import Parameter

from analytics import indicators
from analytics.reports import (
    AgreementsReport,
    FpdReport,
    RecoveryReport,
    agreements_report,
    fpd_report,
    recovery_report,
)
from services.gateway.entrypoints.http.auth import principal_of, requires
from services.gateway.entrypoints.http.errors import field_error
from services.gateway.read_models.analytics import load_facts

ANALYSTS = requires("analyst", "admin")

RATES = (
    "Rates are decimal fractions with 4 places (0.3333 = 33.33%), null when nothing is "
    "counted; money is integer centavos. `as_of` defaults to the business clock's date."
)


def _cuts(by: Sequence[str] | None, allowed: Sequence[str]) -> list[str]:
    try:
        return list(indicators.check_cuts(list(by or ()), allowed))
    except indicators.UnknownCut as exc:
        raise field_error(
            "by", "unknown_cut", f"corte desconhecido: {exc.dim}; use um de: {', '.join(allowed)}"
        ) from exc


def _as_of(as_of: dt.date | None, state: State) -> dt.date:
    try:
        return indicators.check_as_of(as_of, state.clock.today())
    except indicators.FutureAsOf as exc:
        raise field_error("as_of", "not_in_future", str(exc)) from exc


By = Annotated[
    list[str] | None,
    Parameter(query="by", description="Cut by (repeat for several)", required=False),
]
AsOf = Annotated[
    dt.date | None,
    Parameter(
        query="as_of",
        description="Business date, today's or before (default: today's; a later one is "
        "refused: 422 as_of, not_in_future)",
        required=False,
    ),
]


class AnalyticsController(Controller):
    path = "/api/v1/analytics"
    tags = ["analytics"]  # noqa: RUF012 (Litestar declares it a list)

    @get(
        "/fpd",
        guards=[ANALYSTS],
        summary="First payment default (FPD-k)",
        description=(
            "The share of mature agreements (the day first due date + grace_days is over: "
            "before as_of, so today's due dates are not judged yet) whose first installment "
            "was not paid by first due date + grace_days (paid on that day is not a default; "
            "later, or not at all, is). Cuts: "
            f"{', '.join(indicators.FPD_DIMS)}. {RATES}"
        ),
    )
    async def fpd(
        self,
        request: Request[Any, Any, Any],
        state: State,
        by: By = None,
        grace_days: Annotated[int, Parameter(ge=0, le=3650, description="k of FPD-k")] = 0,
        as_of: AsOf = None,
    ) -> FpdReport:
        tenant = principal_of(request).tenant
        cuts = _cuts(by, indicators.FPD_DIMS)
        day = _as_of(as_of, state)
        facts = await to_thread.run_sync(lambda: load_facts(state.read_engine, tenant))
        return fpd_report(facts, k=grace_days, as_of=day, by=cuts, tenant=tenant)

    @get(
        "/recovery",
        guards=[ANALYSTS],
        summary="Recovery rate, and its curve by days since placement",
        description=(
            "Money received (credited to agreements' invoices) over the original value of the "
            "debts placed by as_of; `curve`: for each number of days since placement, over the "
            "debts at least that old, what came in within those days (every curve_days asked "
            "for has its rows: 0 debts and rate null when no debt is that old). Cuts: "
            f"{', '.join(indicators.RECOVERY_DIMS)}. {RATES}"
        ),
    )
    async def recovery(
        self,
        request: Request[Any, Any, Any],
        state: State,
        by: By = None,
        as_of: AsOf = None,
        curve_days: Annotated[
            list[int] | None,
            Parameter(
                query="curve_days",
                description="Points of the curve in days since placement (repeat)",
                required=False,
            ),
        ] = None,
    ) -> RecoveryReport:
        tenant = principal_of(request).tenant
        cuts = _cuts(by, indicators.RECOVERY_DIMS)
        horizons = tuple(curve_days) if curve_days else indicators.DEFAULT_CURVE_DAYS
        if any(d < 0 or d > 36500 for d in horizons):
            raise field_error("curve_days", "range", "dias desde a entrada: de 0 a 36500")
        day = _as_of(as_of, state)
        facts = await to_thread.run_sync(lambda: load_facts(state.read_engine, tenant))
        return recovery_report(facts, as_of=day, by=cuts, tenant=tenant, curve_days=horizons)

    @get(
        "/agreements",
        guards=[ANALYSTS],
        summary="Agreement rate and break rate",
        description=(
            "Agreement rate: debtors with an agreement over debtors placed (only for the cuts "
            f"{', '.join(indicators.AGREEMENT_RATE_DIMS)}; null otherwise). Break rate: "
            "agreements broken over agreements closed, by as_of. Cuts: "
            f"{', '.join(indicators.AGREEMENT_DIMS)}. {RATES}"
        ),
    )
    async def agreements(
        self,
        request: Request[Any, Any, Any],
        state: State,
        by: By = None,
        as_of: AsOf = None,
    ) -> AgreementsReport:
        tenant = principal_of(request).tenant
        cuts = _cuts(by, indicators.AGREEMENT_DIMS)
        day = _as_of(as_of, state)
        facts = await to_thread.run_sync(lambda: load_facts(state.read_engine, tenant))
        return agreements_report(facts, as_of=day, by=cuts, tenant=tenant)
