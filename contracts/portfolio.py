"""Streams of the portfolio service: `portfolio.debts` (the debts it holds) and
`portfolio.imports` (the progress of each carteira import)."""

from __future__ import annotations

import datetime as dt
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from contracts.envelope import Cents, Envelope, UtcDatetime
from contracts.personal import SealedPersonalData

DEBTS_TOPIC = "portfolio.debts"
IMPORTS_TOPIC = "portfolio.imports"

DocumentKind = Literal["cpf", "cnpj"]


class DebtorContact(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    email: str | None = None
    phone: str | None = None
    city: str | None = None
    state: str | None = None


class DebtImported(Envelope):
    """A debt entered the agency's portfolio. `aggregate_id` is the debt id, derived from
    (tenant, creditor, contract, installment), so importing the same row again never
    creates a second debt."""

    type: Literal["DebtImported"] = "DebtImported"
    schema_version: Literal[1] = 1
    debt_id: str
    document: str
    document_kind: DocumentKind
    debtor: DebtorContact
    creditor: str
    contract: str
    installment: str
    original_amount_cents: Cents = Field(gt=0)
    due_date: dt.date
    category: str | None = None
    import_id: str
    row_key: str


class FieldChange(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    field: str
    old: str | StrictInt | None
    new: str | StrictInt | None


class DebtUpdated(Envelope):
    """A re-imported row changed a debt (amount, due date, contact...). Old and new values
    of each changed field; the full current values of the money and the date."""

    type: Literal["DebtUpdated"] = "DebtUpdated"
    schema_version: Literal[1] = 1
    debt_id: str
    document: str
    document_kind: DocumentKind
    creditor: str
    contract: str
    installment: str
    changes: list[FieldChange]
    original_amount_cents: Cents = Field(gt=0)
    due_date: dt.date
    debtor: DebtorContact
    category: str | None = None
    import_id: str
    row_key: str


# Personal fields of a debtor: sealed together in `personal` in the events' version 2.
PERSONAL_FIELDS = ("name", "email", "phone", "city", "state")


class DebtImportedV2(Envelope):
    """A debt entered the agency's portfolio (version 2: the debtor's contact, a
    `DebtorContact`, is sealed in `personal` with the debtor's key; see contracts.personal).
    `aggregate_id` is the debt id, derived from (tenant, creditor, contract, installment)."""

    type: Literal["DebtImported"] = "DebtImported"
    schema_version: Literal[2] = 2
    debt_id: str
    document: str
    document_kind: DocumentKind
    personal: SealedPersonalData
    creditor: str
    contract: str
    installment: str
    original_amount_cents: Cents = Field(gt=0)
    due_date: dt.date
    category: str | None = None
    import_id: str
    row_key: str


class DebtUpdatedV2(Envelope):
    """A re-imported row changed a debt (version 2: the contact is sealed in `personal`; a
    change of a personal field names the field, with `old` and `new` left empty)."""

    type: Literal["DebtUpdated"] = "DebtUpdated"
    schema_version: Literal[2] = 2
    debt_id: str
    document: str
    document_kind: DocumentKind
    creditor: str
    contract: str
    installment: str
    changes: list[FieldChange]
    original_amount_cents: Cents = Field(gt=0)
    due_date: dt.date
    personal: SealedPersonalData
    category: str | None = None
    import_id: str
    row_key: str


class CarteiraImportStarted(Envelope):
    partition_key_field: ClassVar[str] = "import_id"
    type: Literal["CarteiraImportStarted"] = "CarteiraImportStarted"
    schema_version: Literal[1] = 1
    import_id: str
    source: Literal["upload", "client"]
    filename: str | None = None
    rows_total: StrictInt | None = None
    requested_by: str | None = None


class CarteiraImportStartedV2(CarteiraImportStarted):
    """An import began (version 2: `received_at`, when the agency received the file or the
    client's first row, which can be well before the portfolio starts on it; version 1's
    `occurred_at` was the start)."""

    schema_version: Literal[2] = 2  # type: ignore[assignment]
    received_at: UtcDatetime


class CarteiraRowsProcessed(Envelope):
    """Cumulative counters of an import after one more batch of rows."""

    partition_key_field: ClassVar[str] = "import_id"
    type: Literal["CarteiraRowsProcessed"] = "CarteiraRowsProcessed"
    schema_version: Literal[1] = 1
    import_id: str
    rows_total: StrictInt | None = None
    rows_read: StrictInt
    created: StrictInt
    updated: StrictInt
    unchanged: StrictInt
    rejected: StrictInt


class CarteiraImportCompleted(Envelope):
    partition_key_field: ClassVar[str] = "import_id"
    type: Literal["CarteiraImportCompleted"] = "CarteiraImportCompleted"
    schema_version: Literal[1] = 1
    import_id: str
    rows_total: StrictInt
    created: StrictInt
    updated: StrictInt
    unchanged: StrictInt
    rejected: StrictInt


class _DebtOutcome(Envelope):
    """The debt an outcome (settled, reopened, withdrawn) is about, its first fields after the
    envelope. Not an event of its own; `type` and `schema_version`, pinned by each event, keep
    the envelope's place, so each event's fields and schema are as if it declared them all."""

    debt_id: str
    document: str
    creditor: str
    contract: str
    installment: str


class DebtSettled(_DebtOutcome):
    """A debt was paid in full (its agreement was fulfilled): it leaves collection."""

    type: Literal["DebtSettled"] = "DebtSettled"
    schema_version: Literal[1] = 1
    agreement_id: str
    settled_on: dt.date
    paid_cents: Cents = Field(ge=0, description="Everything paid on the debt")


class DebtReopened(_DebtOutcome):
    """A debt's agreement was broken: the debt returns to collection, owing its principal
    minus what was paid under the agreement."""

    type: Literal["DebtReopened"] = "DebtReopened"
    schema_version: Literal[1] = 1
    agreement_id: str
    reopened_on: dt.date
    paid_cents: Cents = Field(ge=0, description="Everything paid on the debt so far")
    balance_cents: Cents = Field(ge=0, description="Principal still owed")


class DebtPaymentDeducted(_DebtOutcome):
    """A payment to an invoice of the debt's broken agreement, reported after the break, was
    deducted from the debt (its share of it, `AgreementPaymentShared`): the debt stays in
    collection owing less. Once per payment (`payment_id`)."""

    type: Literal["DebtPaymentDeducted"] = "DebtPaymentDeducted"
    schema_version: Literal[1] = 1
    agreement_id: str
    payment_id: str
    paid_on: dt.date
    deducted_cents: Cents = Field(gt=0, description="This payment's share deducted")
    paid_cents: Cents = Field(ge=0, description="Everything paid on the debt so far")
    balance_cents: Cents = Field(ge=0, description="Principal still owed")


WithdrawalReason = Literal["cancelled", "returned"]


class DebtWithdrawn(_DebtOutcome):
    """The creditor withdrew a debt from collection: cancelled it (`cancelled`, cancelamento)
    or took it back (`returned`, devolução), by sending its row with that status. It leaves
    collection for good: the ruler finalizes it (removing any credit bureau listing) and it is
    no longer offered to the debtor."""

    type: Literal["DebtWithdrawn"] = "DebtWithdrawn"
    schema_version: Literal[1] = 1
    reason: WithdrawalReason
    withdrawn_on: dt.date
    import_id: str
    row_key: str
