"""Finding the model of a message by its (type, schema_version), so consumers can read any
version ever published: events are facts, a new schema is a new version, never an edit."""

from __future__ import annotations

import json
import re
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


# The envelope's first fields as the relays write them; anything else takes the general path.
_HEAD = re.compile(rb'^\{"event_id":"[^"]*","type":"(?P<type>\w+)","schema_version":(?P<v>\d+),')


def head_model(data: object) -> type[Envelope] | None:
    """The model of a body whose head is as the relays write it, read from its first bytes
    without parsing it (a consumer can pass over events it has no use for); None for any other
    body or an unknown (type, schema_version). Such a body is parsed by `parse_event` with
    `model.model_validate_json`, the model this returns."""
    if isinstance(data, bytes) and (head := _HEAD.match(data)):
        return EVENT_MODELS.get((head["type"].decode(), int(head["v"])))
    return None


def parse_event(data: bytes | str | dict[str, Any] | None) -> Envelope:
    """Parse a message body into its event model; raises ValueError on anything else."""
    if data is None:
        raise ValueError("a message without a body is not an event")
    if isinstance(data, bytes) and (head := _HEAD.match(data)):
        # Fast path for our own messages: one pass of pydantic's JSON parser.
        model = EVENT_MODELS.get((head["type"].decode(), int(head["v"])))
        if model is not None:
            return model.model_validate_json(data)
    raw = data if isinstance(data, dict) else json.loads(data)
    if not isinstance(raw, dict):
        raise ValueError("an event must be a JSON object")
    version = raw.get("schema_version", 1)
    if not isinstance(version, int) or isinstance(version, bool):
        raise ValueError(f"schema_version must be an integer, not {version!r}")
    return model_for(str(raw.get("type")), version).model_validate(raw)
