"""Propriedades das regras da negociação, para quaisquer valores (hypothesis)."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.negotiation import PaymentConditionTerms, Periodicity
from contracts.negotiation_requests import CreditorCharges
from services.negotiation.domain.business_days import is_business_day
from services.negotiation.domain.offers import ConditionChoice, DebtForOffer, quote
from services.negotiation.domain.schedule import down_payment, due_dates, split_installments

# The first call loads the holidays package's Brazil calendar (slow once): no deadline where
# due dates are computed.
NO_DEADLINE = settings(deadline=None)

percents = st.decimals(min_value=0, max_value=100, places=2)
dates = st.dates(min_value=dt.date(2024, 1, 1), max_value=dt.date(2035, 12, 31))
installments = st.integers(min_value=1, max_value=120)


@st.composite
def totals_and_n(draw: st.DrawFn) -> tuple[int, int]:
    n = draw(installments)
    return draw(st.integers(min_value=n, max_value=10**10)), n


@st.composite
def debts(draw: st.DrawFn) -> list[DebtForOffer]:
    count = draw(st.integers(min_value=1, max_value=5))
    return [
        DebtForOffer(
            debt_id=f"d{i}",
            creditor="Banco Exemplo",
            contract="CT",
            installment=str(i),
            principal_cents=draw(st.integers(min_value=1, max_value=10**9)),
            due_date=draw(dates),
        )
        for i in range(count)
    ]


charges = st.builds(
    CreditorCharges,
    penalty_pct=percents,
    interest_monthly_pct=percents,
    correction_monthly_pct=percents,
)


@given(totals_and_n())
def test_split_sums_to_the_total_and_only_the_first_differs(case: tuple[int, int]) -> None:
    total, n = case
    amounts = split_installments(total, n)
    assert len(amounts) == n
    assert sum(amounts) == total
    assert len(set(amounts[1:])) <= 1
    assert amounts[0] - amounts[-1] == total % n
    assert min(amounts) >= 1


@given(totals_and_n(), percents)
def test_split_with_down_payment(case: tuple[int, int], pct: Decimal) -> None:
    total, n = case
    entrada = down_payment(total, n, pct)
    amounts = split_installments(total, n, entrada)
    assert sum(amounts) == total
    assert min(amounts) >= 1
    if entrada is not None:
        assert amounts[0] == entrada
        rest = amounts[1:]
        # A entrada nunca é menor que a parcela regular (a primeira depois dela pode levar
        # alguns centavos de resto a mais).
        assert entrada >= rest[-1]
        assert len(set(rest[1:])) <= 1
        assert rest[0] - rest[-1] == (total - entrada) % (n - 1)


@NO_DEADLINE
@given(
    dates,
    st.integers(min_value=1, max_value=36),
    st.one_of(st.none(), st.integers(min_value=1, max_value=60)),
    st.integers(min_value=0, max_value=365),
)
def test_due_dates_are_increasing_business_days(
    start: dt.date, n: int, every: int | None, days_to_first_due: int
) -> None:
    periodicity: Periodicity = "monthly" if every is None else "every_n_days"
    result = due_dates(start, n, periodicity, every, days_to_first_due)
    assert len(result) == n
    assert all(is_business_day(d) for d in result)
    assert all(a < b for a, b in itertools.pairwise(result))
    assert result[0] >= start + dt.timedelta(days=days_to_first_due)


@settings(max_examples=200, deadline=None)
@given(
    debts(),
    dates,
    charges,
    st.builds(
        PaymentConditionTerms,
        installments=st.integers(min_value=1, max_value=24),
        principal_discount_pct=percents,
        charges_discount_pct=percents,
        min_down_payment_pct=percents,
        days_to_first_due=st.integers(min_value=0, max_value=60),
    ),
)
def test_quote_totals(
    items: list[DebtForOffer], on: dt.date, rates: CreditorCharges, terms: PaymentConditionTerms
) -> None:
    q = quote(items, ConditionChoice("c", 1, terms), on, rates)
    if q is None:
        # Sem mínimo de parcela, só não há oferta quando o total não cobre n centavos.
        cash = terms.model_copy(update={"installments": 1, "min_down_payment_pct": Decimal(0)})
        single = quote(items, ConditionChoice("c", 1, cash), on, rates)
        assert single is None or single.total_cents < terms.installments
        return
    assert q.discount_cents >= 0
    assert q.total_cents <= q.updated_value_cents
    assert q.updated_value_cents == q.principal_cents + q.charges_cents
    assert q.discount_cents == q.principal_discount_cents + q.charges_discount_cents
    assert sum(p.amount_cents for p in q.schedule) == q.total_cents
    assert [p.number for p in q.schedule] == list(range(1, terms.installments + 1))
    assert all(p.amount_cents >= 1 for p in q.schedule)
    assert sum(v.total_cents for _, v in q.debts) == q.updated_value_cents


@NO_DEADLINE
@given(debts(), dates, charges, st.integers(min_value=1, max_value=12))
def test_no_discount_means_the_updated_value(
    items: list[DebtForOffer], on: dt.date, rates: CreditorCharges, n: int
) -> None:
    # Sem desconto o total é ao menos a soma dos principais: n não passa dela.
    n = min(n, sum(d.principal_cents for d in items))
    terms = PaymentConditionTerms(installments=n)
    q = quote(items, ConditionChoice("c", 1, terms), on, rates)
    assert q is not None
    assert q.total_cents == q.updated_value_cents
    assert q.discount_cents == 0
