"""Queries of the portal view the portal's eligibility rule needs (beyond portal_view's own):
a debtor's debts by id whatever their status, and whether a tenant has any debt at all."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select

from services.gateway.read_models.portal_view import portal_debts


def debts_by_id(
    engine: Engine, tenant: str, document: str, debt_ids: list[str]
) -> dict[str, dict[str, Any]]:
    """The debtor's debts among `debt_ids`, by id (others' debts are not found)."""
    found: dict[str, dict[str, Any]] = {}
    unique = sorted(set(debt_ids))
    with engine.connect() as conn:
        for start in range(0, len(unique), 500):
            rows = conn.execute(
                select(portal_debts).where(
                    portal_debts.c.tenant == tenant,
                    portal_debts.c.document == document,
                    portal_debts.c.debt_id.in_(unique[start : start + 500]),
                )
            )
            for r in rows:
                found[r.debt_id] = dict(r._mapping) | {
                    "balance_cents": max(0, r.original_amount_cents - r.paid_cents)
                }
    return found


def tenant_has_debts(engine: Engine, tenant: str) -> bool:
    with engine.connect() as conn:
        return (
            conn.execute(
                select(portal_debts.c.debt_id).where(portal_debts.c.tenant == tenant).limit(1)
            ).first()
            is not None
        )
