"""Stream `gateway.portal`: what debtors tell the agency on the portal's pages.

A debtor whose document shows nothing to negotiate (or not what they expected) leaves a way to
be called back, or names the creditor they expected to find there (the Negociador.com seed: the
agency takes those names to the creditors and asks for their carteiras).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from contracts.envelope import Envelope, UtcDatetime
from contracts.personal import SealedPersonalData

PORTAL_TOPIC = "gateway.portal"


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
