"""The business clock's stream: `clock.days`. Every service takes "today" from it."""

from __future__ import annotations

import datetime as dt
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from contracts.envelope import Envelope

CLOCK_TOPIC = "clock.days"
# Commands to a manual clock (`cobranca clock advance`), answered over request/reply.
CLOCK_COMMANDS_TOPIC = "clock.commands"
# The clock is the platform's, not a tenant's.
PLATFORM_TENANT = "platform"

ClockMode = Literal["wall", "manual"]


class DayStarted(Envelope):
    """A business date began in America/Sao_Paulo. Published once per date, in order, with no
    date skipped: a clock advanced by N days publishes N of these."""

    partition_key_field: ClassVar[str] = "aggregate_id"
    type: Literal["DayStarted"] = "DayStarted"
    schema_version: Literal[1] = 1
    date: dt.date
    business_day: bool = Field(
        description="False on Saturdays, Sundays and Brazilian national holidays"
    )
    mode: ClockMode


class AdvanceClock(BaseModel):
    """Move a manual clock forward (the body of a request on `clock.commands`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    days: StrictInt = Field(ge=1, le=3660)


class ClockState(BaseModel):
    """The clock's answer to a command: where it stands now."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: ClockMode
    today: dt.date
