"""Streams of the gateway: `gateway.portal`, what debtors tell the agency on the portal's pages,
and `gateway.config`, the tenant's portal profile as admins save it.

A debtor whose document shows nothing to negotiate (or not what they expected) leaves a way to
be called back, or names the creditor they expected to find there (the Negociador.com seed: the
agency takes those names to the creditors and asks for their carteiras).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from contracts.envelope import Cents, Envelope, UtcDatetime
from contracts.personal import SealedPersonalData

PORTAL_TOPIC = "gateway.portal"
CONFIG_TOPIC = "gateway.config"


class PortalContactLeft(Envelope):
    """A contact left on the portal. `phone` is +55 and digits; at least one of `phone`,
    `email` and `expected_creditor` is given."""

    partition_key_field: ClassVar[str] = "document"
    type: Literal["PortalContactLeft"] = "PortalContactLeft"
    schema_version: Literal[1] = 1
    document: str = Field(description="The debtor's normalized CPF/CNPJ")
    name: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=20)
    email: str | None = Field(default=None, max_length=254)
    expected_creditor: str | None = Field(
        default=None, max_length=200, description="The creditor the debtor expected to find"
    )
    message: str | None = Field(default=None, max_length=1000)
    left_at: UtcDatetime


class PortalContactLeftV2(Envelope):
    """A contact left on the portal (version 2: the name, phone and e-mail are sealed in
    `personal` as `{"name", "phone", "email"}` with the debtor's key, absent when the debtor
    left none of them). At least one of them or `expected_creditor` is given."""

    partition_key_field: ClassVar[str] = "document"
    type: Literal["PortalContactLeft"] = "PortalContactLeft"
    schema_version: Literal[2] = 2
    document: str = Field(description="The debtor's normalized CPF/CNPJ")
    personal: SealedPersonalData | None = None
    expected_creditor: str | None = Field(
        default=None, max_length=200, description="The creditor the debtor expected to find"
    )
    message: str | None = Field(default=None, max_length=1000)
    left_at: UtcDatetime


class PortalListTerms(BaseModel):
    """Which open debts the portal shows: every filter empty lets every open debt through;
    ranges are inclusive."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    creditors: list[str] = Field(default_factory=list, description="Empty: all creditors")
    categories: list[str] = Field(default_factory=list, description="Empty: all categories")
    amount_min_cents: Cents | None = None
    amount_max_cents: Cents | None = None
    days_overdue_min: StrictInt | None = None
    days_overdue_max: StrictInt | None = None


class PortalLogo(BaseModel):
    """The logo saved, told by its type, size and digest (the image stays in the gateway)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    media_type: str = Field(description="image/png or image/jpeg")
    size_bytes: StrictInt = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class _ProfileSaved(Envelope):
    """The fields every version of `PortalProfileSaved` shares; not an event of its own. Each
    version adds its `schema_version` and its `second_factor` (the choices it knows)."""

    type: Literal["PortalProfileSaved"] = "PortalProfileSaved"
    part: Literal["profile", "second_factor", "logo"]
    name: str | None = Field(default=None, max_length=200)
    portal_list: PortalListTerms | None = None
    code_channels: list[str] | None = Field(default=None, description="sms, email, in order")
    logo: PortalLogo | None = None
    saved_by: str


class PortalProfileSaved(_ProfileSaved):
    """A part of the tenant's portal profile was saved, `part` says which, and only that
    part's fields are given (the others are None): `profile`, the name debtors see and the
    portal list; `second_factor`, whether a one-time code comes before values and by which
    channels; `logo`. Keyed by the tenant's portal profile (`aggregate_id`)."""

    schema_version: Literal[1] = 1
    second_factor: Literal["none", "code"] | None = None


class PortalProfileSavedV2(_ProfileSaved):
    """A part of the tenant's portal profile was saved (version 2: `second_factor` may also be
    `birth_date`, the debtor's date of birth, or a company's opening date, from the carteira).
    Published only for that choice; the others go out in version 1 as before."""

    schema_version: Literal[2] = 2
    second_factor: Literal["none", "code", "birth_date"] | None = None
