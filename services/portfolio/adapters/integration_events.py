"""From the portfolio's stored domain events to the integration events it publishes.

Debts are published in the events' version 2: the debtor's contact travels sealed, as the
debt keeps it (`DebtImportedV2`, `DebtUpdatedV2`); a change of a personal field names the
field only. Debt events stored before personal data was sealed (no `personal`) are not
published again: their contact cannot be sealed here, and must not travel in clear.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from typing import Any

from contracts.carteiras import REJECTED_TOPIC, DebtRejected, RowError, RowFields
from contracts.envelope import Envelope
from contracts.personal import SealedPersonalData
from contracts.portfolio import (
    DEBTS_TOPIC,
    IMPORTS_TOPIC,
    CarteiraImportCompleted,
    CarteiraImportStarted,
    CarteiraImportStartedV2,
    CarteiraRowsProcessed,
    DebtImportedV2,
    DebtPaymentDeducted,
    DebtReopened,
    DebtSettled,
    DebtUpdatedV2,
    DebtWithdrawn,
    FieldChange,
)
from service_runtime.outbox import envelope_fields
from services.portfolio.domain.carteira_import import CarteiraImport
from services.portfolio.domain.debt import Debt

# Event classes the @event decorator makes on the aggregates (invisible to the type checker).
DebtImportedEvent: type[Any] = Debt.Imported  # type: ignore[attr-defined]
DebtUpdatedEvent: type[Any] = Debt.Updated  # type: ignore[attr-defined]
DebtSettledEvent: type[Any] = Debt.Settled  # type: ignore[attr-defined]
DebtReopenedEvent: type[Any] = Debt.Reopened  # type: ignore[attr-defined]
DebtPaymentDeductedEvent: type[Any] = Debt.PaymentDeducted  # type: ignore[attr-defined]
DebtWithdrawnEvent: type[Any] = Debt.Withdrawn  # type: ignore[attr-defined]
ImportStartedEvent: type[Any] = CarteiraImport.Started  # type: ignore[attr-defined]
ImportDeclaredEvent: type[Any] = CarteiraImport.Declared  # type: ignore[attr-defined]
RowsProcessedEvent: type[Any] = CarteiraImport.RowsProcessed  # type: ignore[attr-defined]
ImportCompletedEvent: type[Any] = CarteiraImport.Completed  # type: ignore[attr-defined]

log = logging.getLogger(__name__)

# `DebtRejected` v1 echoes a row in the columns of version 1: a version 2 row's `status` is
# left out of the echo (its error, when it has one, names the field).
ROW_FIELDS = set(RowFields.model_fields)


def _envelope(event: Any, tenant: str, correlation_id: str, index: int = 0) -> dict[str, Any]:
    return envelope_fields(
        "portfolio",
        event,
        tenant=tenant,
        correlation_id=correlation_id,
        causation_id=event.cause_id,
        index=index,
    )


def _about_debt(event: Any, correlation_id: str) -> dict[str, Any]:
    """The envelope and the debt a debt's event is about, as its stored event carries them
    (an update carries them in `current` instead)."""
    return {
        **_envelope(event, event.tenant, correlation_id),
        "debt_id": str(event.originator_id),
        "document": event.document,
        "creditor": event.creditor,
        "contract": event.contract,
        "installment": event.installment,
    }


def _about_import(event: Any, index: int = 0) -> dict[str, Any]:
    """The envelope and the import an import's event is about."""
    return {
        **_envelope(event, event.tenant, event.import_id, index),
        "import_id": event.import_id,
    }


def _plain(value: Any) -> str | int | None:
    if isinstance(value, dt.date):
        return value.isoformat()
    return value  # type: ignore[no-any-return]


def _unsealed(event: Any) -> None:
    log.warning(
        "not publishing %s v%s of debt %s: stored before personal data was sealed",
        type(event).__name__,
        event.originator_version,
        event.originator_id,
    )


def integration_events(event: Any) -> Iterator[tuple[str, Envelope]]:
    if isinstance(event, DebtImportedEvent):
        if event.personal is None:
            _unsealed(event)
            return
        yield (
            DEBTS_TOPIC,
            DebtImportedV2(
                **_about_debt(event, event.import_id),
                document_kind=event.document_kind,
                personal=SealedPersonalData.model_validate(event.personal),
                original_amount_cents=event.original_amount_cents,
                due_date=event.due_date,
                category=event.category,
                import_id=event.import_id,
                row_key=event.row_key,
            ),
        )
    elif isinstance(event, DebtUpdatedEvent):
        current = event.current
        if current.get("personal") is None:
            _unsealed(event)
            return
        yield (
            DEBTS_TOPIC,
            DebtUpdatedV2(
                **_envelope(event, current["tenant"], event.import_id),
                debt_id=str(event.originator_id),
                document=current["document"],
                document_kind=current["document_kind"],
                creditor=current["creditor"],
                contract=current["contract"],
                installment=current["installment"],
                changes=[
                    FieldChange(field=c["field"], old=_plain(c["old"]), new=_plain(c["new"]))
                    for c in event.changes
                ],
                original_amount_cents=current["original_amount_cents"],
                due_date=current["due_date"],
                personal=SealedPersonalData.model_validate(current["personal"]),
                category=current["category"],
                import_id=event.import_id,
                row_key=event.row_key,
            ),
        )
    elif isinstance(event, DebtSettledEvent):
        yield (
            DEBTS_TOPIC,
            DebtSettled(
                **_about_debt(event, event.agreement_id),
                agreement_id=event.agreement_id,
                settled_on=event.on,
                paid_cents=event.paid_cents,
            ),
        )
    elif isinstance(event, DebtReopenedEvent):
        yield (
            DEBTS_TOPIC,
            DebtReopened(
                **_about_debt(event, event.agreement_id),
                agreement_id=event.agreement_id,
                reopened_on=event.on,
                paid_cents=event.paid_cents,
                balance_cents=event.balance_cents,
            ),
        )
    elif isinstance(event, DebtPaymentDeductedEvent):
        yield (
            DEBTS_TOPIC,
            DebtPaymentDeducted(
                **_about_debt(event, event.agreement_id),
                agreement_id=event.agreement_id,
                payment_id=event.payment_id,
                paid_on=event.paid_on,
                deducted_cents=event.deducted_cents,
                paid_cents=event.paid_cents,
                balance_cents=event.balance_cents,
            ),
        )
    elif isinstance(event, DebtWithdrawnEvent):
        yield (
            DEBTS_TOPIC,
            DebtWithdrawn(
                **_about_debt(event, event.import_id),
                reason=event.reason,
                withdrawn_on=event.on,
                import_id=event.import_id,
                row_key=event.row_key,
            ),
        )
    elif isinstance(event, ImportStartedEvent | ImportDeclaredEvent):
        started = {
            **_about_import(event),
            "source": event.source,
            "filename": event.filename,
            "rows_total": event.rows_total,
            "requested_by": event.requested_by,
        }
        # Stored before the time received was kept: published as it always was.
        yield (
            IMPORTS_TOPIC,
            CarteiraImportStarted(**started)
            if event.received_at is None
            else CarteiraImportStartedV2(**started, received_at=event.received_at),
        )
    elif isinstance(event, RowsProcessedEvent):
        totals = event.totals
        yield (
            IMPORTS_TOPIC,
            CarteiraRowsProcessed(
                **_about_import(event),
                rows_total=event.rows_total,
                rows_read=totals["rows_read"],
                created=totals["created"],
                updated=totals["updated"],
                unchanged=totals["unchanged"],
                rejected=totals["rejected"],
            ),
        )
        for index, rejection in enumerate(event.rejections, start=1):
            about = _about_import(event, index)
            about["causation_id"] = rejection["cause_id"]
            yield (
                REJECTED_TOPIC,
                DebtRejected(
                    **about,
                    row_key=rejection["row_key"],
                    row_number=rejection["row_number"],
                    client_row_id=rejection["client_row_id"],
                    document=rejection["document"],
                    reason=rejection["reason"],
                    errors=[RowError(**e) for e in rejection["errors"]],
                    fields=RowFields(
                        **{k: v for k, v in rejection["fields"].items() if k in ROW_FIELDS}
                    ),
                ),
            )
    elif isinstance(event, ImportCompletedEvent):
        totals = event.totals
        yield (
            IMPORTS_TOPIC,
            CarteiraImportCompleted(
                **_about_import(event),
                rows_total=totals["rows_total"],
                created=totals["created"],
                updated=totals["updated"],
                unchanged=totals["unchanged"],
                rejected=totals["rejected"],
            ),
        )
