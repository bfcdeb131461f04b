"""What the gateway asks the ruler service over request/reply (`ruler.requests`): its
configuration (rulers, call campaigns, call result types) and operators' calls. Refusals
come back as `contracts.negotiation_requests.ErrorReply`, the API's error shape."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from contracts.envelope import UtcDatetime
from contracts.ruler import CallResultType, CampaignDefinition, RulerDefinition

REQUESTS_TOPIC = "ruler.requests"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SaveRuler(_Model):
    kind: Literal["save_ruler"] = "save_ruler"
    tenant: str
    ruler_id: str
    definition: RulerDefinition
    saved_by: str


class ListRulers(_Model):
    kind: Literal["list_rulers"] = "list_rulers"
    tenant: str


class SaveCampaign(_Model):
    kind: Literal["save_campaign"] = "save_campaign"
    tenant: str
    campaign_id: str
    definition: CampaignDefinition
    saved_by: str


class ListCampaigns(_Model):
    kind: Literal["list_campaigns"] = "list_campaigns"
    tenant: str


class SaveCallResultTypes(_Model):
    kind: Literal["save_call_results"] = "save_call_results"
    tenant: str
    result_types: list[CallResultType] = Field(min_length=1)
    saved_by: str


class GetCallResultTypes(_Model):
    kind: Literal["call_results"] = "call_results"
    tenant: str


class RecordCall(_Model):
    kind: Literal["record_call"] = "record_call"
    tenant: str
    call_id: str
    campaign_id: str
    document: str
    operator: str
    result: str = Field(description="A result type's code")
    note: str = Field(default="", max_length=2000)
    reschedule_at: UtcDatetime | None = None


RulerRequest = Annotated[
    SaveRuler
    | ListRulers
    | SaveCampaign
    | ListCampaigns
    | SaveCallResultTypes
    | GetCallResultTypes
    | RecordCall,
    Field(discriminator="kind"),
]


class RulerRequestBody(_Model):
    request: RulerRequest


class RulerOut(_Model):
    ruler_id: str
    version: int
    definition: RulerDefinition


class RulerList(_Model):
    rulers: list[RulerOut]


class CampaignOut(_Model):
    campaign_id: str
    version: int
    definition: CampaignDefinition


class CampaignList(_Model):
    campaigns: list[CampaignOut]


class CallResultTypes(_Model):
    result_types: list[CallResultType]


class CallOut(_Model):
    call_id: str
    campaign_id: str
    document: str
    operator: str
    result: CallResultType
    note: str
    reschedule_at: UtcDatetime | None
    recorded_at: UtcDatetime
