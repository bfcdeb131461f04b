"""Finding the model of a message by its (type, schema_version), so consumers can read any
version ever published: events are facts, a new schema is a new version, never an edit."""

from __future__ import annotations

import json
from typing import Any

from contracts.envelope import Envelope
from contracts.topics import TOPICS

EVENT_MODELS: dict[tuple[str, int], type[Envelope]] = {}
for _topic in TOPICS:
    for _model in _topic.events:
        _fields = _model.model_fields
        EVENT_MODELS[(_fields["type"].default, _fields["schema_version"].default)] = _model


class UnknownEventType(ValueError):
    pass


def model_for(event_type: str, schema_version: int) -> type[Envelope]:
    try:
        return EVENT_MODELS[(event_type, schema_version)]
    except KeyError:
        raise UnknownEventType(f"unknown event {event_type} v{schema_version}") from None


def parse_event(data: bytes | str | dict[str, Any] | None) -> Envelope:
    """Parse a message body into its event model; raises ValueError on anything else."""
    if data is None:
        raise ValueError("a message without a body is not an event")
    raw = data if isinstance(data, dict) else json.loads(data)
    # (Parsing twice, json then pydantic, keeps the error for a missing `type` readable.)
    if not isinstance(raw, dict):
        raise ValueError("an event must be a JSON object")
    version = raw.get("schema_version", 1)
    if not isinstance(version, int) or isinstance(version, bool):
        raise ValueError(f"schema_version must be an integer, not {version!r}")
    return model_for(str(raw.get("type")), version).model_validate(raw)
