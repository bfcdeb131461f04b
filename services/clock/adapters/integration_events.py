"""From the clock's stored domain events to the integration events it publishes: each recorded
date becomes a `DayStarted` on `clock.days`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from contracts.clock import CLOCK_TOPIC, PLATFORM_TENANT, DayStarted
from contracts.envelope import Envelope, derived_event_id
from services.clock.domain.calendar import BusinessCalendar

# The event class the @event decorator makes on the aggregate (invisible to the type checker).
DayStartedEvent: type[Any] = BusinessCalendar.DayStarted  # type: ignore[attr-defined]


def integration_events(event: Any) -> Iterator[tuple[str, Envelope]]:
    if isinstance(event, DayStartedEvent):
        yield (
            CLOCK_TOPIC,
            DayStarted(
                event_id=derived_event_id(
                    "clock", event.originator_id, event.originator_version, 0
                ),
                occurred_at=event.timestamp,
                tenant=PLATFORM_TENANT,
                aggregate_id=str(event.originator_id),
                aggregate_version=event.originator_version,
                correlation_id=event.cause_id,
                causation_id=event.cause_id,
                date=event.date,
                business_day=event.business_day,
                mode=event.mode,
            ),
        )
