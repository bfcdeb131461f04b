"""From the negotiation service's stored domain events to the integration events it
publishes. Slots, invoice references and the tenant's counters stay inside.

Agreements are published as `AgreementClosedV2` only: the debtor's name travels sealed, as
the aggregate keeps it. An agreement closed before names were sealed has its name in clear in
its stored event: published again (a relay that republishes everything), its name is sealed
with the debtor's current key, or published as `REMOVED` when the debtor's data was erased;
that needs the key vault (`IntegrationEvents`).

A tenant's settings saved (`TenantNegotiation.SettingsSaved`, which does not carry the tenant:
the relay reads it from the record's first event, `tenant_of`) are published whole as
`NegotiationSettingsSaved` on `negotiation.conditions`, next to the payment conditions."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from contracts.envelope import Envelope
from contracts.negotiation import (
    AGREEMENTS_TOPIC,
    CONDITIONS_TOPIC,
    INVOICES_TOPIC,
    PAYMENTS_TOPIC,
    AgreementBroken,
    AgreementBrokenV2,
    AgreementBrokenV3,
    AgreementClosedV2,
    AgreementDebt,
    AgreementFulfilled,
    AgreementInstallment,
    AgreementPaymentShared,
    BoletoAccount,
    BrokenAgreementDebt,
    ChargeRates,
    InstallmentPaid,
    InstallmentPaidV2,
    InvoiceOverdue,
    InvoiceOverdueV2,
    LoweredDebt,
    NegotiationSettingsSaved,
    PaymentConditionSaved,
    PaymentConditionTerms,
    PaymentReceived,
    PixReceiver,
    SharedPaymentDebt,
)
from contracts.negotiation_requests import NegotiationSettings
from contracts.personal import SealedPersonalData
from service_runtime.outbox import envelope_fields
from service_runtime.personal_data import REMOVED, KeyVault, seal
from service_runtime.stored_aggregates import TenantOf
from services.negotiation.domain.agreement import Agreement
from services.negotiation.domain.condition import PaymentCondition
from services.negotiation.domain.references import Payment
from services.negotiation.domain.tenant import TenantNegotiation

# Event classes the @event decorator makes on the aggregates (invisible to the type checker).
ConditionSavedEvent: type[Any] = PaymentCondition.Saved  # type: ignore[attr-defined]
ConditionChangedEvent: type[Any] = PaymentCondition.Changed  # type: ignore[attr-defined]
ClosedEvent: type[Any] = Agreement.Closed  # type: ignore[attr-defined]
InstallmentPaidEvent: type[Any] = Agreement.InstallmentPaid  # type: ignore[attr-defined]
OverdueEvent: type[Any] = Agreement.InvoiceOverdue  # type: ignore[attr-defined]
BrokenEvent: type[Any] = Agreement.Broken  # type: ignore[attr-defined]
FulfilledEvent: type[Any] = Agreement.Fulfilled  # type: ignore[attr-defined]
PaymentSharedEvent: type[Any] = Agreement.PaymentShared  # type: ignore[attr-defined]
PaymentReceivedEvent: type[Any] = Payment.Received  # type: ignore[attr-defined]
SettingsSavedEvent: type[Any] = TenantNegotiation.SettingsSaved  # type: ignore[attr-defined]


def _envelope(event: Any, correlation_id: str | None = None) -> dict[str, Any]:
    return envelope_fields("negotiation", event, tenant=event.tenant, correlation_id=correlation_id)


def _about_agreement(event: Any) -> dict[str, Any]:
    """The envelope and the agreement an agreement's event is about."""
    return {
        **_envelope(event),
        "agreement_id": str(event.originator_id),
        "document": event.document,
        "creditor": event.creditor,
    }


def _place(event: Any) -> dict[str, Any] | None:
    """Where an invoice's event puts it in the plan (version 2), None when it was stored
    before that was kept: published as version 1, as it was."""
    if event.installment_kind is None:
        return None
    return {
        "installment_kind": event.installment_kind,
        "installments": event.installments,
        "with_down_payment": event.with_down_payment,
    }


Erased = Callable[[str, str], bool]


class IntegrationEvents:
    """The relay's mapper, with what legacy agreements need: the key vault and the erasures,
    and what settings need: the tenant of a tenant's record (set once the host exists:
    `build_host` takes the mapper before it makes the vault and the application)."""

    def __init__(
        self,
        vault: KeyVault | None = None,
        erased: Erased | None = None,
        tenant_of: TenantOf | None = None,
    ) -> None:
        self.vault = vault
        self.erased = erased
        self.tenant_of = tenant_of

    def __call__(self, event: Any) -> Iterator[tuple[str, Envelope]]:
        return integration_events(event, self.vault, self.erased, self.tenant_of)


def sealed_name(event: Any, vault: KeyVault | None, erased: Erased | None) -> SealedPersonalData:
    """The Closed event's sealed name: as stored, or, for a legacy agreement (its name in
    clear), sealed now with the debtor's current key (`REMOVED` when erased)."""
    if event.personal is not None:
        return SealedPersonalData.model_validate(event.personal)
    if vault is None:
        raise RuntimeError(
            f"agreement {event.originator_id} predates sealed names: publishing it needs the "
            "key vault"
        )
    name = event.legacy_debtor_name
    if name is None or (erased is not None and erased(event.tenant, event.document)):
        name = REMOVED
    return seal(vault.key_for(event.tenant, event.document), {"debtor_name": name})


def settings_saved(event: Any, tenant_of: TenantOf | None) -> NegotiationSettingsSaved:
    """The settings as saved, whole (the contract's fields only: the settings' model may grow
    fields a new version of the event will carry)."""
    if tenant_of is None:
        raise RuntimeError(
            f"negotiation settings {event.originator_id}: publishing them needs the tenant of "
            "the record (IntegrationEvents.tenant_of)"
        )
    settings = NegotiationSettings.model_validate_json(event.settings_json)

    def rates(charges: Any) -> ChargeRates:
        return ChargeRates(**charges.model_dump(include=set(ChargeRates.model_fields)))

    return NegotiationSettingsSaved(
        **envelope_fields("negotiation", event, tenant=tenant_of(event.originator_id)),
        boleto=BoletoAccount(**settings.boleto.model_dump(include=set(BoletoAccount.model_fields))),
        pix=PixReceiver(**settings.pix.model_dump(include=set(PixReceiver.model_fields))),
        break_first_installment_days=settings.break_first_installment_days,
        break_later_installment_days=settings.break_later_installment_days,
        charges=rates(settings.charges),
        creditor_charges={name: rates(c) for name, c in settings.creditor_charges.items()},
        saved_by=event.saved_by,
    )


def integration_events(
    event: Any,
    vault: KeyVault | None = None,
    erased: Erased | None = None,
    tenant_of: TenantOf | None = None,
) -> Iterator[tuple[str, Envelope]]:
    if isinstance(event, SettingsSavedEvent):
        yield CONDITIONS_TOPIC, settings_saved(event, tenant_of)
    elif isinstance(event, ConditionSavedEvent | ConditionChangedEvent):
        yield (
            CONDITIONS_TOPIC,
            PaymentConditionSaved(
                **_envelope(event),
                condition_id=event.condition_id,
                terms=PaymentConditionTerms.model_validate_json(event.terms_json),
                saved_by=event.saved_by,
            ),
        )
    elif isinstance(event, ClosedEvent):
        totals = event.totals
        yield (
            AGREEMENTS_TOPIC,
            AgreementClosedV2(
                **_about_agreement(event),
                personal=sealed_name(event, vault, erased),
                debt_ids=[d["debt_id"] for d in event.debts],
                debts=[AgreementDebt(**d) for d in event.debts],
                channel=event.channel,
                operator=event.operator,
                condition_id=event.condition_id,
                condition=PaymentConditionTerms.model_validate_json(event.terms_json),
                closed_on=event.closed_on,
                principal_cents=totals["principal_cents"],
                charges_cents=totals["charges_cents"],
                updated_value_cents=totals["updated_value_cents"],
                principal_discount_cents=totals["principal_discount_cents"],
                charges_discount_cents=totals["charges_discount_cents"],
                discount_cents=totals["discount_cents"],
                total_cents=totals["total_cents"],
                installments=[
                    AgreementInstallment(
                        number=i["number"],
                        kind=i["kind"],
                        due_date=i["due_date"],
                        amount_cents=i["amount_cents"],
                        invoice_id=i["invoice_id"],
                        nosso_numero=i["nosso_numero"],
                        barcode=i["barcode"],
                        digitable_line=i["digitable_line"],
                        pix_txid=i["pix_txid"],
                        pix_code=i["pix_code"],
                    )
                    for i in event.invoices
                ],
            ),
        )
    elif isinstance(event, InstallmentPaidEvent):
        paid = {
            **_about_agreement(event),
            "invoice_id": event.invoice_id,
            "installment_number": event.number,
            "due_date": event.due_date,
            "amount_cents": event.amount_cents,
            "paid_cents": event.paid_cents,
            "paid_on": event.paid_on,
            "days_late": event.days_late,
            "payment_ids": event.payment_ids,
        }
        place = _place(event)
        yield (
            INVOICES_TOPIC,
            InstallmentPaid(**paid) if place is None else InstallmentPaidV2(**paid, **place),
        )
    elif isinstance(event, OverdueEvent):
        overdue = {
            **_about_agreement(event),
            "invoice_id": event.invoice_id,
            "installment_number": event.number,
            "due_date": event.due_date,
            "amount_cents": event.amount_cents,
            "balance_cents": event.balance_cents,
            "days_overdue": event.days,
            "as_of": event.as_of,
        }
        place = _place(event)
        yield (
            INVOICES_TOPIC,
            InvoiceOverdue(**overdue) if place is None else InvoiceOverdueV2(**overdue, **place),
        )
    elif isinstance(event, BrokenEvent):
        broken = {
            **_about_agreement(event),
            "broken_on": event.on,
            "rule": event.rule,
            "installment_number": event.number,
            "days_overdue": event.days_overdue,
            "paid_cents": event.paid_cents,
            "debts": [BrokenAgreementDebt(**d) for d in event.debts],
        }
        # Version 2 only for an agreement ended by the creditor's withdrawal of a debt,
        # version 3 only for one ended by the creditor's lowering of a debt's amount.
        ended: AgreementBroken
        if event.rule == "debt_amount_lowered":
            ended = AgreementBrokenV3(
                **broken,
                credit_cents=event.credit_cents,
                lowered_debts=[LoweredDebt(**d) for d in event.lowered_debts],
            )
        elif event.rule == "debt_withdrawn":
            ended = AgreementBrokenV2(
                **broken,
                withdrawn_debt_ids=event.withdrawn_debt_ids,
                credit_cents=event.credit_cents,
            )
        else:
            ended = AgreementBroken(**broken)
        yield AGREEMENTS_TOPIC, ended
    elif isinstance(event, FulfilledEvent):
        yield (
            AGREEMENTS_TOPIC,
            AgreementFulfilled(
                **_about_agreement(event),
                debt_ids=event.debt_ids,
                fulfilled_on=event.on,
                paid_cents=event.paid_cents,
            ),
        )
    elif isinstance(event, PaymentSharedEvent):
        deducted = sum(d["deducted_cents"] for d in event.debts)
        yield (
            AGREEMENTS_TOPIC,
            AgreementPaymentShared(
                **_about_agreement(event),
                payment_id=event.payment_id,
                invoice_id=event.invoice_id,
                installment_number=event.number,
                paid_on=event.paid_on,
                amount_cents=event.amount_cents,
                deducted_cents=deducted,
                credit_cents=event.amount_cents - deducted,
                debts=[SharedPaymentDebt(**d) for d in event.debts],
            ),
        )
    elif isinstance(event, PaymentReceivedEvent):
        yield (
            PAYMENTS_TOPIC,
            PaymentReceived(
                **_envelope(event, correlation_id=event.agreement_id),
                payment_id=str(event.originator_id),
                source=event.source,
                reference=event.reference,
                invoice_id=event.invoice_id,
                nosso_numero=event.nosso_numero,
                agreement_id=event.agreement_id,
                document=event.document,
                installment_number=event.installment_number,
                amount_cents=event.amount_cents,
                paid_on=event.paid_on,
                outcome=event.outcome,
                applied_cents=event.applied_cents,
                balance_cents=event.balance_cents,
                credit_cents=event.credit_cents,
                reason=event.reason,
            ),
        )
