"""Stream of the ruler service: `ruler.stages`."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from contracts.envelope import Envelope

STAGES_TOPIC = "ruler.stages"

Stage = Literal[
    "current",
    "pre_due",
    "notice",
    "questioning",
    "schedule_payment",
    "field_collection",
    "credit_bureau",
    "finalized",
]
ReceivableKind = Literal["debt", "installment"]


class StageAction(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["message", "call_campaign", "credit_bureau"]
    key: str = Field(description="Deterministic (tenant, receivable, stage, action) key")
    channel: str | None = None
    template: str | None = None
    campaign: str | None = None


class StageAdvanced(Envelope):
    """A receivable moved to another stage of its ruler on a business day."""

    type: Literal["StageAdvanced"] = "StageAdvanced"
    schema_version: Literal[1] = 1
    receivable_id: str
    receivable_kind: ReceivableKind
    document: str
    ruler_id: str
    from_stage: Stage
    to_stage: Stage
    days_overdue: int
    on_date: dt.date
    actions: list[StageAction]
