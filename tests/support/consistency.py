"""Reading a service's event store directly, to check that the read models built from Kafka
say exactly what the stores say: nothing lost, nothing doubled."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from contracts.portfolio import DebtImported, DebtUpdated
from service_runtime.database import service_engine
from service_runtime.eventstore import build_application
from service_runtime.settings import Settings
from services.gateway.read_models.imports import carteira_imports, carteira_rejections
from services.gateway.read_models.portal_view import portal_debts
from services.gateway.read_models.timeline import summarize, timeline_entries
from services.portfolio.adapters.integration_events import integration_events
from services.portfolio.application.importing import PortfolioApplication
from services.portfolio.domain.carteira_import import CarteiraImport
from services.portfolio.domain.debt import Debt


def portfolio_store(settings: Settings) -> dict[str, Any]:
    app = build_application(PortfolioApplication, settings, "portfolio")
    debts: dict[str, dict[str, Any]] = {}
    imports: dict[tuple[str, str], dict[str, int | None]] = {}
    timeline_ids: set[str] = set()
    rejection_keys: set[tuple[str, str, str]] = set()
    position = 0
    while True:
        notifications = app.recorder.select_notifications(
            start=position, limit=1000, inclusive_of_start=False
        )
        if not notifications:
            break
        for notification in notifications:
            event = app.mapper.to_domain_event(notification)
            for _topic, integration in integration_events(event):
                if getattr(integration, "document", None) and summarize(integration):
                    timeline_ids.add(str(integration.event_id))
                if integration.type == "DebtRejected":
                    rejection_keys.add(
                        (integration.tenant, integration.import_id, integration.row_key)  # type: ignore[attr-defined]
                    )
            if isinstance(event, Debt.Imported | Debt.Updated):
                # The views keep the version of the debt's last import or update (a settlement
                # or a reopening changes its status, not what the creditor sent).
                debt = app.repository.get(event.originator_id)
                debts[str(debt.id)] = {
                    "tenant": debt.tenant,
                    "document": debt.document,
                    "original_amount_cents": debt.original_amount_cents,
                    "due_date": debt.due_date,
                    "version": event.originator_version,
                }
            elif isinstance(event, CarteiraImport.Started):
                imp = app.repository.get(event.originator_id)
                imports[(imp.tenant, imp.import_id)] = {
                    "rows_read": imp.rows_read,
                    "created": imp.created,
                    "updated": imp.updated,
                    "unchanged": imp.unchanged,
                    "rejected": imp.rejected,
                }
        position = notifications[-1].id
    app.close()
    return {
        "debts": debts,
        "imports": imports,
        "timeline_ids": timeline_ids,
        "rejection_keys": rejection_keys,
        "notifications": position,
    }


def read_models(settings: Settings) -> dict[str, Any]:
    engine = service_engine(settings, "gateway", "read")
    with engine.connect() as conn:
        debts = {
            r.debt_id: {
                "tenant": r.tenant,
                "document": r.document,
                "original_amount_cents": r.original_amount_cents,
                "due_date": r.due_date,
                "version": r.version,
            }
            for r in conn.execute(select(portal_debts))
        }
        imports = {
            (r.tenant, r.import_id): {
                "rows_read": r.rows_read,
                "created": r.created,
                "updated": r.updated,
                "unchanged": r.unchanged,
                "rejected": r.rejected,
            }
            for r in conn.execute(select(carteira_imports))
        }
        # The portfolio's entries: the other services' (agreements, calls, messages) are
        # theirs to check.
        timeline_ids = {
            r.event_id
            for r in conn.execute(
                select(timeline_entries.c.event_id).where(timeline_entries.c.service == "portfolio")
            )
        }
        rejection_keys = {
            (r.tenant, r.import_id, r.row_key)
            for r in conn.execute(
                select(
                    carteira_rejections.c.tenant,
                    carteira_rejections.c.import_id,
                    carteira_rejections.c.row_key,
                )
            )
        }
    engine.dispose()
    return {
        "debts": debts,
        "imports": imports,
        "timeline_ids": timeline_ids,
        "rejection_keys": rejection_keys,
    }


def differences(settings: Settings) -> list[str]:
    """What the read models get wrong about the store (empty when they agree exactly)."""
    store = portfolio_store(settings)
    views = read_models(settings)
    problems = []
    for name in ("debts", "imports", "timeline_ids", "rejection_keys"):
        expected, actual = store[name], views[name]
        if expected != actual:
            if isinstance(expected, dict):
                missing = set(expected) - set(actual)
                extra = set(actual) - set(expected)
                wrong = {k for k in set(expected) & set(actual) if expected[k] != actual[k]}
                problems.append(
                    f"{name}: {len(missing)} missing, {len(extra)} extra, {len(wrong)} differ "
                    f"(e.g. {next(iter(missing or extra or wrong), None)})"
                )
            else:
                problems.append(
                    f"{name}: {len(expected - actual)} missing, {len(actual - expected)} extra"
                )
    return problems


__all__ = ["DebtImported", "DebtUpdated", "differences", "portfolio_store", "read_models"]
