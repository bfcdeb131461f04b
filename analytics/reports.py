"""The indicators as pydantic models: the body of `GET /api/v1/analytics/...` and of
`cobranca analytics ... --format json`, so both say the same thing in the same shape.

Rates are decimal fractions with 4 places (0.3333 is 33.33%), JSON numbers, null when there
is nothing to count; money is integer centavos; `cuts` holds the value of each cut asked for.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from analytics import indicators
from analytics.facts import Facts

Rate = Annotated[
    Decimal | None,
    PlainSerializer(lambda v: None if v is None else float(v), return_type=float | None),
    Field(description="Decimal fraction, 4 places (0.3333 = 33.33%); null: nothing to count"),
]


class _Row(BaseModel):
    model_config = ConfigDict(frozen=True)

    cuts: dict[str, str] = Field(description="The value of each cut asked for (`by`)")


class FpdRowOut(_Row):
    agreements: int = Field(description="Mature agreements: first due date + k < as_of")
    defaulted: int = Field(description="Of those, first installment not paid by due date + k")
    rate: Rate


class RecoveryRowOut(_Row):
    debts: int
    placed_cents: int = Field(description="Original value of the debts placed")
    received_cents: int = Field(description="Money credited to their agreements' invoices")
    rate: Rate


class RecoveryCurveRowOut(RecoveryRowOut):
    days: int = Field(
        description="Days since placement; debts placed at least that long ago (none yet: "
        "debts 0, rate null)"
    )


class AgreementRowOut(_Row):
    debtors: int | None = Field(description="Debtors placed (null for agreement-only cuts)")
    debtors_with_agreement: int | None
    agreement_rate: Rate
    agreements: int = Field(description="Agreements closed")
    broken: int = Field(description="Of those, broken")
    break_rate: Rate


class _Report(BaseModel):
    model_config = ConfigDict(frozen=True)

    as_of: dt.date = Field(description="Business date the figures are as of")
    by: list[str]
    tenant: str | None
    carteiras: dict[str, str] = Field(
        default_factory=dict,
        description="Cut by carteira: the file name of each carteira (import id) in the "
        "rows, with the start of its id when two imports share a name (none when the import "
        "had no name)",
    )


class FpdReport(_Report):
    indicator: Literal["fpd"] = "fpd"
    grace_days: int = Field(description="k of FPD-k")
    rows: list[FpdRowOut]


class RecoveryReport(_Report):
    indicator: Literal["recovery"] = "recovery"
    rows: list[RecoveryRowOut]
    curve: list[RecoveryCurveRowOut]


class AgreementsReport(_Report):
    indicator: Literal["agreements"] = "agreements"
    rows: list[AgreementRowOut]


def _carteiras(
    facts: Facts,
    by: Sequence[str],
    rows: Iterable[
        indicators.FpdRow | indicators.RecoveryRow | indicators.CurveRow | indicators.AgreementRow
    ],
) -> dict[str, str]:
    if "carteira" not in by:
        return {}
    names = facts.carteira_names()
    shown = {r.cuts["carteira"] for r in rows}
    return {i: names[i] for i in sorted(shown) if i in names}


def fpd_report(
    facts: Facts, *, k: int, as_of: dt.date, by: Sequence[str] = (), tenant: str | None = None
) -> FpdReport:
    scoped = facts.for_tenant(tenant)
    rows = indicators.fpd(scoped, k=k, as_of=as_of, by=by)
    return FpdReport(
        as_of=as_of,
        by=list(indicators.check_cuts(by, indicators.FPD_DIMS)),
        tenant=tenant,
        carteiras=_carteiras(scoped, by, rows),
        grace_days=k,
        rows=[
            FpdRowOut(cuts=r.cuts, agreements=r.agreements, defaulted=r.defaulted, rate=r.rate)
            for r in rows
        ],
    )


def recovery_report(
    facts: Facts,
    *,
    as_of: dt.date,
    by: Sequence[str] = (),
    tenant: str | None = None,
    curve_days: Iterable[int] = indicators.DEFAULT_CURVE_DAYS,
) -> RecoveryReport:
    scoped = facts.for_tenant(tenant)
    rows = indicators.recovery(scoped, as_of=as_of, by=by)
    curve = indicators.recovery_curve(scoped, as_of=as_of, by=by, days=curve_days)
    return RecoveryReport(
        as_of=as_of,
        by=list(indicators.check_cuts(by, indicators.RECOVERY_DIMS)),
        tenant=tenant,
        carteiras=_carteiras(scoped, by, [*rows, *curve]),
        rows=[
            RecoveryRowOut(
                cuts=r.cuts,
                debts=r.debts,
                placed_cents=r.placed_cents,
                received_cents=r.received_cents,
                rate=r.rate,
            )
            for r in rows
        ],
        curve=[
            RecoveryCurveRowOut(
                cuts=c.cuts,
                days=c.days,
                debts=c.debts,
                placed_cents=c.placed_cents,
                received_cents=c.received_cents,
                rate=c.rate,
            )
            for c in curve
        ],
    )


def agreements_report(
    facts: Facts, *, as_of: dt.date, by: Sequence[str] = (), tenant: str | None = None
) -> AgreementsReport:
    scoped = facts.for_tenant(tenant)
    rows = indicators.agreements(scoped, as_of=as_of, by=by)
    return AgreementsReport(
        as_of=as_of,
        by=list(indicators.check_cuts(by, indicators.AGREEMENT_DIMS)),
        tenant=tenant,
        carteiras=_carteiras(scoped, by, rows),
        rows=[
            AgreementRowOut(
                cuts=r.cuts,
                debtors=r.debtors,
                debtors_with_agreement=r.debtors_with_agreement,
                agreement_rate=r.agreement_rate,
                agreements=r.agreements,
                broken=r.broken,
                break_rate=r.break_rate,
            )
            for r in rows
        ],
    )
