"""The envelope every integration event carries, whatever its stream."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    TypeAdapter,
    ValidationError,
)

# Every id derived from content uses this namespace, so a republished event keeps its id.
COBRANCA_NAMESPACE = uuid.UUID("5f1d9b8e-2c4a-4f7e-9a51-0c0bb7a1c0de")


def _require_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("occurred_at must be timezone-aware (UTC)")
    return value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_require_utc)]
Cents = Annotated[StrictInt, Field(description="Money in integer centavos (R$ 1,00 = 100)")]

# The tenant (assessoria) every event carries. The one rule for a tenant identifier: whatever
# names a tenant (a token, a command) checks it here, so nothing accepted upstream can be an
# event the relay cannot publish.
TENANT_MIN_LENGTH = 1
TENANT_MAX_LENGTH = 63
TENANT_RULE = "tenant_length"
TENANT_RULE_EN = f"A tenant is a text of {TENANT_MIN_LENGTH} to {TENANT_MAX_LENGTH} characters"
TenantId = Annotated[str, Field(min_length=TENANT_MIN_LENGTH, max_length=TENANT_MAX_LENGTH)]
_tenant_id: TypeAdapter[str] = TypeAdapter(TenantId)
# What a tenant is named when it is made (a token issued): it goes into addresses (/p/{tenant})
# and file names, so letters without accents, digits, '.', '_' and '-', first a letter or a
# digit. Stricter than the envelope's rule, which events already published keep.
TENANT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")
TENANT_NAME_RULE = "tenant_name"
TENANT_NAME_RULE_EN = (
    "A tenant is named with letters, digits, '.', '_' and '-', first a letter or a digit"
)


def tenant_problem(value: object) -> str | None:
    """Why `value` cannot be a tenant (pt-BR, naming the rule), or None when it can."""
    try:
        _tenant_id.validate_python(value, strict=True)
    except ValidationError:
        return (
            f"a assessoria (tenant) deve ser um texto de {TENANT_MIN_LENGTH} a "
            f"{TENANT_MAX_LENGTH} caracteres"
        )
    return None


def tenant_name_problem(value: object) -> tuple[str, str] | None:
    """(rule, pt-BR reason) when `value` cannot name a tenant, or None when it can."""
    problem = tenant_problem(value)
    if problem is not None:
        return TENANT_RULE, problem
    if not TENANT_NAME.fullmatch(str(value)):
        return TENANT_NAME_RULE, (
            "a assessoria (tenant) deve ter só letras sem acento, dígitos, '.', '_' ou '-', "
            "começando por letra ou dígito"
        )
    return None


def _identity_required(schema: dict[str, Any]) -> None:
    # `type` and `schema_version` have defaults in Python, but a message must carry them.
    required = schema.setdefault("required", [])
    for key in ("schema_version", "type"):
        if key not in required:
            required.insert(0, key)


class Envelope(BaseModel):
    """Fields shared by all events. Subclasses pin `type` and `schema_version` with Literals."""

    model_config = ConfigDict(frozen=True, extra="forbid", json_schema_extra=_identity_required)

    # The key the relay uses to place the event in a partition (all events of one
    # aggregate in one partition). Subclasses override when another key fits better.
    partition_key_field: ClassVar[str] = "aggregate_id"

    event_id: uuid.UUID
    type: str
    schema_version: int
    occurred_at: UtcDatetime
    tenant: TenantId
    aggregate_id: str
    aggregate_version: StrictInt = Field(ge=0)
    correlation_id: str
    causation_id: str

    def partition_key(self) -> bytes:
        return str(getattr(self, self.partition_key_field)).encode()

    def field_or_none(self, name: str) -> Any:
        """The field `name` of this event, None when its type has no such field. (A projection
        asks it of every event it reads: `getattr` with a default pays for the model's failed
        attribute lookup and its exception each time.)"""
        return self.__dict__.get(name) if name in type(self).model_fields else None


def derived_event_id(*parts: object) -> uuid.UUID:
    """A deterministic event id: publishing the same stored event again yields the same id."""
    return uuid.uuid5(COBRANCA_NAMESPACE, "|".join(str(p) for p in parts))
