"""The analysts' indicators over HTTP: FPD, recovery, agreement and break rates, computed by
the same pure functions as `cobranca analytics` (`analytics.indicators`) over the facts the
gateway's analytics projection keeps. Always the token's tenant."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Sequence
from typing import Annotated, Any

from anyio import to_thread
from litestar import Controller, Request, Response, get
from litestar.datastructures import State
from litestar.exceptions import ValidationException
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
from services.gateway.entrypoints.http.errors import (
    ApiError,
    error_response,
    field_detail,
    handle_http_exception,
    validation_details,
)
from services.gateway.read_models.analytics import load_facts

ANALYSTS = requires("analyst", "admin")

RATES = (
    "Rates are decimal fractions with 4 places (0.3333 = 33.33%), null when nothing is "
    "counted; money is integer centavos. `as_of` defaults to the business clock's date."
)


DIMS = indicators.DIMS


def refusals(
    indicator: str,
    today: dt.date,
    by: Sequence[str] = (),
    as_of: dt.date | None = None,
    curve_days: Sequence[int] = (),
) -> list[dict[str, str]]:
    """Every parameter of an indicator's request that cannot be answered, each named with its
    rule, in the error shape's details: the checks the command line makes too
    (`analytics.indicators.refusals`)."""
    return [
        field_detail(r.field, r.rule, r.message)
        for r in indicators.refusals(indicator, today, by, as_of, curve_days)
    ]


def _refused(details: list[dict[str, str]]) -> ApiError:
    message = "; ".join(f"{d['field']}: {d['message']}" for d in details)
    return ApiError(422, "validation_failed", message, details)


def _checked(
    indicator: str,
    state: State,
    by: Sequence[str] | None,
    as_of: dt.date | None,
    curve_days: Sequence[int] = (),
) -> tuple[list[str], dt.date]:
    """The cuts and the as-of date of a request whose parameters all are right."""
    today = state.clock.today()
    details = refusals(indicator, today, by or (), as_of, curve_days)
    if details:
        raise _refused(details)
    return list(indicators.check_cuts(list(by or ()), DIMS[indicator])), (as_of or today)


def _all_refusals(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    """A request Litestar refused (a value of the wrong type or out of its range) is answered
    with the indicator's own refusals of the other parameters too, all at once."""
    details = validation_details(request, exc)
    if not details:
        return handle_http_exception(request, exc)
    refused = {d["field"] for d in details}
    query = request.query_params
    indicator = request.url.path.rstrip("/").rsplit("/", 1)[-1]
    if indicator not in DIMS:
        return handle_http_exception(request, exc)
    as_of: dt.date | None = None
    if "as_of" not in refused and (sent := query.get("as_of")):
        with contextlib.suppress(ValueError):
            as_of = dt.date.fromisoformat(sent)
    curve_days: list[int] = []
    if "curve_days" not in refused:
        with contextlib.suppress(ValueError):
            curve_days = [int(d) for d in query.getall("curve_days", [])]
    today = request.app.state.clock.today()
    more = refusals(indicator, today, query.getall("by", []), as_of, curve_days)
    every = details + [d for d in more if d["field"] not in refused]
    error = _refused(every)
    return error_response(request, error.status, error.code, error.message, error.details)


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
    exception_handlers = {ValidationException: _all_refusals}  # noqa: RUF012

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
        cuts, day = _checked("fpd", state, by, as_of)
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
        horizons = tuple(curve_days) if curve_days else indicators.DEFAULT_CURVE_DAYS
        cuts, day = _checked("recovery", state, by, as_of, horizons)
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
        cuts, day = _checked("agreements", state, by, as_of)
        facts = await to_thread.run_sync(lambda: load_facts(state.read_engine, tenant))
        return agreements_report(facts, as_of=day, by=cuts, tenant=tenant)
