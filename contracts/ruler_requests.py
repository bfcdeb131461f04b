"""What the gateway asks the ruler service over request/reply (`ruler.requests`): its
configuration (rulers, call campaigns, call result types), operators' calls and a run of the
tenant's rulers now. Refusals come back as `contracts.negotiation_requests.ErrorReply`, the
API's error shape."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from contracts.envelope import UtcDatetime
from contracts.ruler import CallResultType, CampaignDefinition, RulerDefinitionV4

REQUESTS_TOPIC = "ruler.requests"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SaveRuler(_Model):
    kind: Literal["save_ruler"] = "save_ruler"
    tenant: str
    ruler_id: str
    definition: RulerDefinitionV4
    saved_by: str
    existing_only: bool = Field(
        default=False,
        description="A change (PUT to its id): refused, 404, when there is none with this id",
    )


class ListRulers(_Model):
    kind: Literal["list_rulers"] = "list_rulers"
    tenant: str


class SaveCampaign(_Model):
    kind: Literal["save_campaign"] = "save_campaign"
    tenant: str
    campaign_id: str
    definition: CampaignDefinition
    saved_by: str
    existing_only: bool = Field(
        default=False,
        description="A change (PUT to its id): refused, 404, when there is none with this id",
    )


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


class RunRuler(_Model):
    """Run the tenant's rulers now for the business day the ruler service is on (its last
    DayStarted), as the daily run does; what was done already is not done again."""

    kind: Literal["run_ruler"] = "run_ruler"
    tenant: str
    requested_by: str


RulerRequest = Annotated[
    SaveRuler
    | ListRulers
    | SaveCampaign
    | ListCampaigns
    | SaveCallResultTypes
    | GetCallResultTypes
    | RecordCall
    | RunRuler,
    Field(discriminator="kind"),
]


class RulerRequestBody(_Model):
    request: RulerRequest


class RulerOut(_Model):
    ruler_id: str
    version: StrictInt
    definition: RulerDefinitionV4


class RulerList(_Model):
    rulers: list[RulerOut]


class CampaignOut(_Model):
    campaign_id: str
    version: StrictInt
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


class RulerRunOut(_Model):
    """What a run did for the tenant: zeros when everything due that day was done already."""

    date: dt.date = Field(description="The business day run")
    receivables: StrictInt = Field(description="Open receivables of the tenant gone over")
    stages: StrictInt = Field(description="Receivables moved to a later stage")
    reminders: StrictInt = Field(description="Pre-due reminders")
    listings: StrictInt = Field(description="Listings at the credit bureau")
    messages: StrictInt = Field(description="Messages asked of the messaging service")
