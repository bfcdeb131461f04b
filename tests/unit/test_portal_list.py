"""The tenant's portal list (services/gateway/domain/portal_list.py): which open debts a debtor
may see and negotiate on the portal. Hand cases for each filter and its boundaries, and
hypothesis properties: an empty list lets everything through, a list is the conjunction of
its filters, adding a filter never lets more through, names ignore case, accents and spaces,
and days overdue come from the date given (the business clock's), never the system's."""

from __future__ import annotations

import dataclasses
import datetime as dt
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.gateway.domain.portal_list import (
    ListedDebt,
    PortalList,
    days_overdue,
    exclusion,
    is_eligible,
    list_problems,
    normalize_name,
)

TODAY = dt.date(2026, 11, 25)
CREDITORS = ["Varejo Bom Preço Ltda", "Banco Horizonte S.A.", "Conecta Fibra Telecom"]
CATEGORIES = ["carnê", "cartão de crédito", "internet banda larga"]


def debt(
    creditor: str = "Varejo Bom Preço Ltda",
    category: str | None = "carnê",
    amount: int = 10_000,
    late: int = 40,
) -> ListedDebt:
    return ListedDebt(
        creditor=creditor,
        category=category,
        amount_cents=amount,
        due_date=TODAY - dt.timedelta(days=late),
    )


# ---- hand cases ----------------------------------------------------------------------------


def test_an_empty_list_lets_every_debt_through() -> None:
    assert PortalList().is_open
    assert is_eligible(debt(category=None, amount=1, late=0), PortalList(), TODAY)


@pytest.mark.parametrize(
    ("portal_list", "listed", "expected"),
    [
        (PortalList(creditors=("Banco Horizonte S.A.",)), debt(), "creditor"),
        (PortalList(creditors=("VAREJO  BOM PRECO LTDA",)), debt(), None),
        (PortalList(categories=("cartão",)), debt(), "category"),
        (PortalList(categories=("Carne",)), debt(), None),
        (PortalList(categories=("carnê",)), debt(category=None), "category"),
        (PortalList(amount_min_cents=10_000), debt(amount=10_000), None),
        (PortalList(amount_min_cents=10_001), debt(amount=10_000), "amount_min"),
        (PortalList(amount_max_cents=10_000), debt(amount=10_000), None),
        (PortalList(amount_max_cents=9_999), debt(amount=10_000), "amount_max"),
        (PortalList(days_overdue_min=40), debt(late=40), None),
        (PortalList(days_overdue_min=41), debt(late=40), "days_overdue_min"),
        (PortalList(days_overdue_max=40), debt(late=40), None),
        (PortalList(days_overdue_max=39), debt(late=40), "days_overdue_max"),
        # A debt not yet due is 0 days late, never negative.
        (PortalList(days_overdue_max=0), debt(late=-10), None),
        (PortalList(days_overdue_min=1), debt(late=-10), "days_overdue_min"),
    ],
)
def test_each_filter_and_its_boundaries(
    portal_list: PortalList, listed: ListedDebt, expected: str | None
) -> None:
    assert exclusion(listed, portal_list, TODAY) == expected
    assert is_eligible(listed, portal_list, TODAY) is (expected is None)


def test_the_first_filter_that_fails_is_named() -> None:
    strict = PortalList(creditors=("Outro",), amount_min_cents=1_000_000, days_overdue_min=999)
    assert exclusion(debt(), strict, TODAY) == "creditor"


def test_days_overdue_come_from_the_date_given() -> None:
    listed = debt(late=29)
    thirty = PortalList(days_overdue_min=30)
    assert not is_eligible(listed, thirty, TODAY)
    assert is_eligible(listed, thirty, TODAY + dt.timedelta(days=1))
    assert days_overdue(TODAY, TODAY) == 0
    assert days_overdue(TODAY - dt.timedelta(days=3), TODAY) == 3
    assert days_overdue(TODAY + dt.timedelta(days=3), TODAY) == 0


def test_problems_name_the_field_and_the_rule() -> None:
    assert list_problems(PortalList()) == []
    assert list_problems(PortalList(amount_min_cents=5, amount_max_cents=5)) == []
    problems = list_problems(
        PortalList(
            creditors=("Banco X", " "),
            amount_min_cents=500,
            amount_max_cents=100,
            days_overdue_min=-1,
            days_overdue_max=10,
        )
    )
    assert [(p.field, p.rule) for p in problems] == [
        ("portal_list.creditors.1", "required"),
        ("portal_list.amount_max_cents", "range"),
        ("portal_list.days_overdue_min", "minimum"),
    ]
    assert "menor que o mínimo" in problems[1].message
    too_many = list_problems(PortalList(categories=tuple(str(i) for i in range(201))))
    assert [(p.field, p.rule) for p in too_many] == [("portal_list.categories", "max_items")]
    too_long = list_problems(PortalList(creditors=("x" * 201,)))
    assert [(p.field, p.rule) for p in too_long] == [("portal_list.creditors.0", "max_length")]


def test_a_list_survives_its_stored_form() -> None:
    portal_list = PortalList(
        creditors=("Banco X",), categories=("carnê",), amount_max_cents=1, days_overdue_min=2
    )
    assert PortalList.from_dict(portal_list.to_dict()) == portal_list
    assert PortalList.from_dict({}) == PortalList()


# ---- properties ----------------------------------------------------------------------------

names = st.sampled_from(CREDITORS)
categories = st.one_of(st.none(), st.sampled_from(CATEGORIES))
amounts = st.integers(min_value=1, max_value=10_000_000)
lates = st.integers(min_value=-60, max_value=2_000)
bounds = st.one_of(st.none(), st.integers(min_value=0, max_value=10_000_000))
day_bounds = st.one_of(st.none(), st.integers(min_value=0, max_value=2_000))

debts = st.builds(debt, creditor=names, category=categories, amount=amounts, late=lates)
lists = st.builds(
    PortalList,
    creditors=st.lists(names, max_size=3, unique=True).map(tuple),
    categories=st.lists(st.sampled_from(CATEGORIES), max_size=3, unique=True).map(tuple),
    amount_min_cents=bounds,
    amount_max_cents=bounds,
    days_overdue_min=day_bounds,
    days_overdue_max=day_bounds,
)

SINGLE_FILTERS = (
    "creditors",
    "categories",
    "amount_min_cents",
    "amount_max_cents",
    "days_overdue_min",
    "days_overdue_max",
)


def only(portal_list: PortalList, field: str) -> PortalList:
    return dataclasses.replace(PortalList(), **{field: getattr(portal_list, field)})


@given(debts, lists)
def test_a_list_is_the_conjunction_of_its_filters(
    listed: ListedDebt, portal_list: PortalList
) -> None:
    each = [is_eligible(listed, only(portal_list, f), TODAY) for f in SINGLE_FILTERS]
    assert is_eligible(listed, portal_list, TODAY) is all(each)


def narrowed(portal_list: PortalList, other: PortalList) -> PortalList:
    """The list with every filter it leaves unset taken from `other`."""
    return dataclasses.replace(
        portal_list,
        **{
            field: getattr(other, field)
            for field in SINGLE_FILTERS
            if getattr(portal_list, field) in ((), None)
        },
    )


@given(debts, lists, lists)
def test_adding_filters_never_lets_more_debts_through(
    listed: ListedDebt, portal_list: PortalList, other: PortalList
) -> None:
    if is_eligible(listed, narrowed(portal_list, other), TODAY):
        assert is_eligible(listed, portal_list, TODAY)


@given(debts, lists)
def test_each_filter_means_what_it_says(listed: ListedDebt, portal_list: PortalList) -> None:
    late = max(0, (TODAY - listed.due_date).days)
    expected = {
        "creditors": not portal_list.creditors or listed.creditor in portal_list.creditors,
        "categories": not portal_list.categories or listed.category in portal_list.categories,
        "amount_min_cents": portal_list.amount_min_cents is None
        or listed.amount_cents >= portal_list.amount_min_cents,
        "amount_max_cents": portal_list.amount_max_cents is None
        or listed.amount_cents <= portal_list.amount_max_cents,
        "days_overdue_min": portal_list.days_overdue_min is None
        or late >= portal_list.days_overdue_min,
        "days_overdue_max": portal_list.days_overdue_max is None
        or late <= portal_list.days_overdue_max,
    }
    for field, wanted in expected.items():
        assert is_eligible(listed, only(portal_list, field), TODAY) is wanted, field


def _variant(name: str, upper: bool, spaces: bool, plain: bool) -> str:
    if plain:
        name = "".join(
            c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c)
        )
    if upper:
        name = name.upper()
    if spaces:
        name = "  " + name.replace(" ", "   ") + " "
    return name


@given(names, st.booleans(), st.booleans(), st.booleans())
def test_names_ignore_case_accents_and_spaces(
    name: str, upper: bool, spaces: bool, plain: bool
) -> None:
    variant = _variant(name, upper, spaces, plain)
    assert normalize_name(variant) == normalize_name(name)
    assert is_eligible(debt(creditor=name), PortalList(creditors=(variant,)), TODAY)


@given(debts, lists, st.integers(min_value=0, max_value=400))
def test_a_debt_only_gets_later(listed: ListedDebt, portal_list: PortalList, wait: int) -> None:
    """Without an upper bound on days overdue, a debt eligible today stays eligible later."""
    open_ended = dataclasses.replace(portal_list, days_overdue_max=None)
    if is_eligible(listed, open_ended, TODAY):
        assert is_eligible(listed, open_ended, TODAY + dt.timedelta(days=wait))


@given(lists)
def test_valid_ranges_have_no_problems(portal_list: PortalList) -> None:
    problems = {p.field for p in list_problems(portal_list)}
    amounts_crossed = (
        portal_list.amount_min_cents is not None
        and portal_list.amount_max_cents is not None
        and portal_list.amount_min_cents > portal_list.amount_max_cents
    )
    days_crossed = (
        portal_list.days_overdue_min is not None
        and portal_list.days_overdue_max is not None
        and portal_list.days_overdue_min > portal_list.days_overdue_max
    )
    assert ("portal_list.amount_max_cents" in problems) is amounts_crossed
    assert ("portal_list.days_overdue_max" in problems) is days_crossed
    assert len(problems) == amounts_crossed + days_crossed
