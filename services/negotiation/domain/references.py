"""Small aggregates that give the event store's consistency to lookups and uniqueness:
which agreement holds a debt, which invoice a nosso número or an invoice id names, which
agreements a debtor has, and which payments were already received."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from eventsourcing.domain import Aggregate, event

from contracts.envelope import COBRANCA_NAMESPACE


def debt_slot_id(tenant: str, debt_id: str) -> uuid.UUID:
    return uuid.uuid5(COBRANCA_NAMESPACE, f"debt-slot|{tenant}|{debt_id}")


class DebtSlot(Aggregate):
    """A debt can be in one active agreement only. Two agreements taking the same debt at
    once both write version N+1 of this aggregate: the store keeps one, refuses the other."""

    @staticmethod
    def create_id(tenant: str, debt_id: str, **_: Any) -> uuid.UUID:
        return debt_slot_id(tenant, debt_id)

    @event("Opened")
    def __init__(self, *, tenant: str, debt_id: str) -> None:
        self.tenant = tenant
        self.debt_id = debt_id
        self.agreement_id: str | None = None

    @event("Taken")
    def take(self, *, agreement_id: str) -> None:
        self.agreement_id = agreement_id

    @event("Released")
    def release(self, *, agreement_id: str, reason: str) -> None:
        self.agreement_id = None


def invoice_ref_id(tenant: str, key: str) -> uuid.UUID:
    """`key` is "invoice:<invoice id>" or "nosso:<nosso número>"."""
    return uuid.uuid5(COBRANCA_NAMESPACE, f"invoice-ref|{tenant}|{key}")


class InvoiceRef(Aggregate):
    """Where an invoice lives, found by its id or by its nosso número (one of each)."""

    @staticmethod
    def create_id(tenant: str, key: str, **_: Any) -> uuid.UUID:
        return invoice_ref_id(tenant, key)

    @event("Registered")
    def __init__(
        self, *, tenant: str, key: str, invoice_id: str, agreement_id: str, number: int
    ) -> None:
        self.tenant = tenant
        self.key = key
        self.invoice_id = invoice_id
        self.agreement_id = agreement_id
        self.number = number


def debtor_agreements_id(tenant: str, document: str) -> uuid.UUID:
    return uuid.uuid5(COBRANCA_NAMESPACE, f"debtor-agreements|{tenant}|{document}")


class DebtorAgreements(Aggregate):
    """Every agreement of one debtor, in the order they were closed: the chatbot and the
    portal list them without scanning the store."""

    @staticmethod
    def create_id(tenant: str, document: str, **_: Any) -> uuid.UUID:
        return debtor_agreements_id(tenant, document)

    @event("Opened")
    def __init__(self, *, tenant: str, document: str) -> None:
        self.tenant = tenant
        self.document = document
        self.agreement_ids: list[str] = []

    @event("AgreementAdded")
    def add(self, *, agreement_id: str) -> None:
        if agreement_id not in self.agreement_ids:
            self.agreement_ids.append(agreement_id)


def payment_aggregate_id(tenant: str, payment_key: str) -> uuid.UUID:
    return uuid.uuid5(COBRANCA_NAMESPACE, f"payment|{tenant}|{payment_key}")


class Payment(Aggregate):
    """A payment as it was reported, with what it matched. Reported again, it is found here
    and applied no second time: by its key, or (`reports`) as the same invoice, amount and
    date reported by the other door (API or bank return) or again without a reference."""

    # Reports of this same payment after the first (source, reference or None), recorded by
    # `ReportedAgain`; none for a payment stored before that event existed.
    reported_again: tuple[tuple[str, str | None], ...] = ()

    @staticmethod
    def create_id(tenant: str, payment_key: str, **_: Any) -> uuid.UUID:
        return payment_aggregate_id(tenant, payment_key)

    @event("Received")
    def __init__(
        self,
        *,
        tenant: str,
        payment_key: str,
        source: str,
        reference: str,
        invoice_id: str | None,
        nosso_numero: str | None,
        agreement_id: str | None,
        document: str | None,
        installment_number: int | None,
        amount_cents: int,
        paid_on: dt.date,
        outcome: str,
        applied_cents: int,
        balance_cents: int,
        credit_cents: int,
        reason: str | None,
    ) -> None:
        self.tenant = tenant
        self.payment_key = payment_key
        self.source = source
        self.reference = reference
        self.invoice_id = invoice_id
        self.nosso_numero = nosso_numero
        self.agreement_id = agreement_id
        self.document = document
        self.installment_number = installment_number
        self.amount_cents = amount_cents
        self.paid_on = paid_on
        self.outcome = outcome
        self.applied_cents = applied_cents
        self.balance_cents = balance_cents
        self.credit_cents = credit_cents
        self.reason = reason

    @property
    def reports(self) -> list[tuple[str, str | None]]:
        """Every report of this payment: (source, its own reference, or None when it came
        without one: invoice, amount and date were all it said)."""
        own = self.reference if self.payment_key.startswith("ref:") else None
        return [(self.source, own), *self.reported_again]

    @event("ReportedAgain")
    def report_again(self, *, source: str, reference: str | None) -> None:
        """The same payment reported once more (by the other door, or with a reference it
        first came without): nothing applied, this report kept."""
        self.reported_again = (*self.reported_again, (source, reference))
