"""The tenant's portal list: which open debts a debtor may see and negotiate on the portal (the
Recuperador portal's "lista para seleção de devedores aptos", chosen in the agency's profile).

A debt is eligible when it passes every filter the list sets: its creditor among the listed
creditors, its category among the listed categories, its balance within the amount range and
its days overdue within the days range (both ranges inclusive). A filter left empty lets every
debt through, so an empty list makes every open debt eligible. Names are compared ignoring
case, accents and repeated spaces, as admins type them.

Days overdue are counted from the business date the caller passes (the business clock's
today), never from the system date. Pure rules, no I/O.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

MAX_NAMES = 200
MAX_NAME_LENGTH = 200

Exclusion = Literal[
    "creditor", "category", "amount_min", "amount_max", "days_overdue_min", "days_overdue_max"
]


def normalize_name(name: str) -> str:
    """'  Banco   Horizonte S.A. ' and 'banco horizonte s.a.' are one creditor."""
    decomposed = unicodedata.normalize("NFKD", name)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(plain.casefold().split())


def days_overdue(due_date: dt.date, today: dt.date) -> int:
    return max(0, (today - due_date).days)


@dataclass(frozen=True)
class PortalList:
    creditors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    amount_min_cents: int | None = None
    amount_max_cents: int | None = None
    days_overdue_min: int | None = None
    days_overdue_max: int | None = None

    @property
    def is_open(self) -> bool:
        """No filter at all: every open debt is eligible."""
        return (
            not self.creditors
            and not self.categories
            and all(
                v is None
                for v in (
                    self.amount_min_cents,
                    self.amount_max_cents,
                    self.days_overdue_min,
                    self.days_overdue_max,
                )
            )
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "creditors": list(self.creditors),
            "categories": list(self.categories),
            "amount_min_cents": self.amount_min_cents,
            "amount_max_cents": self.amount_max_cents,
            "days_overdue_min": self.days_overdue_min,
            "days_overdue_max": self.days_overdue_max,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PortalList:
        return cls(
            creditors=tuple(str(c) for c in data.get("creditors") or ()),
            categories=tuple(str(c) for c in data.get("categories") or ()),
            amount_min_cents=_optional_int(data.get("amount_min_cents")),
            amount_max_cents=_optional_int(data.get("amount_max_cents")),
            days_overdue_min=_optional_int(data.get("days_overdue_min")),
            days_overdue_max=_optional_int(data.get("days_overdue_max")),
        )


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


@dataclass(frozen=True)
class ListProblem:
    """What is wrong with a list, for the API's error shape: the field path, a stable rule and
    a pt-BR message."""

    field: str
    rule: str
    message: str


def list_problems(portal_list: PortalList, prefix: str = "portal_list.") -> list[ListProblem]:
    """Everything wrong with a list (empty when it can be saved)."""
    problems: list[ListProblem] = []
    for field, names in (
        ("creditors", portal_list.creditors),
        ("categories", portal_list.categories),
    ):
        if len(names) > MAX_NAMES:
            problems.append(
                ListProblem(prefix + field, "max_items", f"no máximo {MAX_NAMES} itens")
            )
        for index, name in enumerate(names):
            if not name.strip():
                problems.append(ListProblem(f"{prefix}{field}.{index}", "required", "nome vazio"))
            elif len(name) > MAX_NAME_LENGTH:
                problems.append(
                    ListProblem(
                        f"{prefix}{field}.{index}",
                        "max_length",
                        f"no máximo {MAX_NAME_LENGTH} caracteres",
                    )
                )
    for low_field, high_field, what in (
        ("amount_min_cents", "amount_max_cents", "valor"),
        ("days_overdue_min", "days_overdue_max", "dias em atraso"),
    ):
        low, high = getattr(portal_list, low_field), getattr(portal_list, high_field)
        for field, value in ((low_field, low), (high_field, high)):
            if value is not None and value < 0:
                problems.append(
                    ListProblem(prefix + field, "minimum", "deve ser maior ou igual a 0")
                )
        if low is not None and high is not None and 0 <= high < low:
            problems.append(
                ListProblem(
                    prefix + high_field,
                    "range",
                    f"o máximo de {what} ({high}) é menor que o mínimo ({low})",
                )
            )
    return problems


@dataclass(frozen=True)
class ListedDebt:
    """What the list looks at in a debt: its balance (what is still owed of the principal)."""

    creditor: str
    category: str | None
    amount_cents: int
    due_date: dt.date


def exclusion(debt: ListedDebt, portal_list: PortalList, today: dt.date) -> Exclusion | None:
    """The first filter that leaves the debt out, or None when the debt is eligible."""
    if portal_list.creditors and normalize_name(debt.creditor) not in {
        normalize_name(c) for c in portal_list.creditors
    }:
        return "creditor"
    if portal_list.categories and (
        debt.category is None
        or normalize_name(debt.category) not in {normalize_name(c) for c in portal_list.categories}
    ):
        return "category"
    if (
        portal_list.amount_min_cents is not None
        and debt.amount_cents < portal_list.amount_min_cents
    ):
        return "amount_min"
    if (
        portal_list.amount_max_cents is not None
        and debt.amount_cents > portal_list.amount_max_cents
    ):
        return "amount_max"
    late = days_overdue(debt.due_date, today)
    if portal_list.days_overdue_min is not None and late < portal_list.days_overdue_min:
        return "days_overdue_min"
    if portal_list.days_overdue_max is not None and late > portal_list.days_overdue_max:
        return "days_overdue_max"
    return None


def is_eligible(debt: ListedDebt, portal_list: PortalList, today: dt.date) -> bool:
    return exclusion(debt, portal_list, today) is None
