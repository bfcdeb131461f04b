"""Stream `carteiras.inbound` (rows of a carteira, from an upload or a client system) and
`carteiras.rejected` (rows the portfolio service could not import, with the reason).

A client system pushes a carteira by publishing, keyed by its `import_id`, an optional
`CarteiraImportRequested` (so the import knows how many rows to expect) and then one
`CarteiraRowSubmitted` per row. An upload through the gateway becomes exactly these messages.

Version 2 of `CarteiraRowSubmitted` adds the row's `status` (situação): the creditor sends a
debt's row again with `cancelado` or `devolvido` to withdraw it from collection. Version 3 adds
the debtor's `birth_date` (data de nascimento; for a CNPJ, the company's opening date), which
the portal may ask for before showing values; once imported it travels only sealed.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from contracts.envelope import Envelope

INBOUND_TOPIC = "carteiras.inbound"
REJECTED_TOPIC = "carteiras.rejected"

ImportSource = Literal["upload", "client"]


class RowFields(BaseModel):
    """One row as received: strings as the creditor wrote them (`1.234,56` or `1234.56`,
    `31/12/2025` or `2025-12-31`). The portfolio service parses and validates them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    document: str | None = None
    name: str | None = None
    creditor: str | None = None
    contract: str | None = None
    installment: str | None = None
    original_amount: str | None = None
    due_date: str | None = None
    email: str | None = None
    phone: str | None = None
    city: str | None = None
    state: str | None = None
    category: str | None = None

    def as_mapping(self) -> dict[str, str]:
        return {k: v for k, v in self.model_dump().items() if v is not None}


class RowFieldsV2(RowFields):
    """A row of version 2: the columns of version 1 and the row's `status` (situação), as the
    creditor wrote it. Empty, `ativo` or `em cobrança`: the debt is in collection; `cancelado`
    (the creditor cancelled it) or `devolvido` (the creditor took it back): it leaves
    collection (`DebtWithdrawn`)."""

    status: str | None = None


class RowFieldsV3(RowFieldsV2):
    """A row of version 3: the columns of version 2 and the debtor's `birth_date` (data de
    nascimento; for a CNPJ, the company's opening date, data de abertura), as the creditor
    wrote it: `17/05/1980` or `1980-05-17`. Personal data: the portfolio service seals it with
    the debtor's other personal fields; it is not repeated in `DebtRejected`."""

    birth_date: str | None = None


class CarteiraImportRequested(Envelope):
    """An import begins: who sent it and how many rows to expect (when known)."""

    partition_key_field: ClassVar[str] = "import_id"
    type: Literal["CarteiraImportRequested"] = "CarteiraImportRequested"
    schema_version: Literal[1] = 1
    import_id: str = Field(min_length=1, max_length=128)
    source: ImportSource
    filename: str | None = None
    rows_total: StrictInt | None = Field(default=None, ge=0)
    requested_by: str | None = None


class _RowSubmitted(Envelope):
    """The fields every version of `CarteiraRowSubmitted` shares; not an event of its own.
    Each version adds its `schema_version` and its `fields` (the last field); `type` and
    `schema_version` keep the envelope's place, so each version's fields and JSON Schema are
    as if it declared them all."""

    partition_key_field: ClassVar[str] = "import_id"
    type: Literal["CarteiraRowSubmitted"] = "CarteiraRowSubmitted"
    import_id: str = Field(min_length=1, max_length=128)
    source: ImportSource
    row_key: str = Field(min_length=1, max_length=128)
    row_number: StrictInt | None = Field(default=None, ge=1)
    client_row_id: str | None = None
    rows_total: StrictInt | None = Field(default=None, ge=0)


class CarteiraRowSubmitted(_RowSubmitted):
    """One row of a carteira. `row_key` identifies the row within its import: the line number
    of an uploaded file, or the client's own row id."""

    schema_version: Literal[1] = 1
    fields: RowFields


class CarteiraRowSubmittedV2(_RowSubmitted):
    """One row of a carteira (version 2: `fields` may carry the row's `status`, by which the
    creditor withdraws a debt). `row_key` as in version 1."""

    schema_version: Literal[2] = 2
    fields: RowFieldsV2


class CarteiraRowSubmittedV3(_RowSubmitted):
    """One row of a carteira (version 3: `fields` may also carry the debtor's `birth_date`).
    `row_key` as in version 1."""

    schema_version: Literal[3] = 3
    fields: RowFieldsV3


class RowError(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    field: str
    rule: str
    message: str


class DebtRejected(Envelope):
    """A row that was not imported, with the reason in words a person understands (pt-BR)."""

    partition_key_field: ClassVar[str] = "import_id"
    type: Literal["DebtRejected"] = "DebtRejected"
    schema_version: Literal[1] = 1
    import_id: str
    row_key: str
    row_number: StrictInt | None = None
    client_row_id: str | None = None
    document: str | None = Field(
        default=None, description="Normalized CPF/CNPJ when the row's document itself was valid"
    )
    reason: str
    errors: list[RowError]
    fields: RowFields
