"""Personal data in events, and its erasure (LGPD, crypto-shredding).

A debtor's personal data (name, e-mail, phone, address; what a message said to them) never
travels in clear in an event of the current schemas: it travels as `SealedPersonalData`,
encrypted with a key of that debtor alone, which the key vault holds apart from every event
store, topic and read model. Erasing the debtor's key (`PersonalDataErased`, on the stream
`privacy.erasures`) makes every copy unreadable at once: events are never edited, and a replay
from offset zero finds only ciphertext it cannot open.

The CPF/CNPJ is not sealed: it identifies the debt the creditor still holds (the legal basis
of the collection) and keys the streams.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from contracts.envelope import Envelope

ERASURES_TOPIC = "privacy.erasures"


class SealedPersonalData(BaseModel):
    """A JSON object of personal fields, encrypted with AES-256-GCM under the debtor's key
    `key_id` (the key id is the associated data). Only a service that can reach the key
    vault reads it; once the key is erased nobody can."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key_id: str = Field(pattern=r"^[0-9a-f]{32}$", description="The debtor's key in the vault")
    ciphertext: str = Field(
        min_length=1, description="base64url of the 12-byte nonce, the ciphertext and its tag"
    )


class PersonalDataErased(Envelope):
    """An admin erased a debtor's personal data on request: the debtor's keys are gone from the
    vault. Every service removes its clear copies (read models, contact lists); sealed data in
    events stays sealed forever."""

    partition_key_field: ClassVar[str] = "document"
    type: Literal["PersonalDataErased"] = "PersonalDataErased"
    schema_version: Literal[1] = 1
    document: str = Field(description="The debtor's normalized CPF/CNPJ")
    key_ids: list[str] = Field(description="The erased keys (none: the debtor had none)")
    requested_by: str = Field(description="Who erased it (the admin's subject)")
    reason: str = Field(min_length=1, max_length=500, description="Why (the debtor's request)")
