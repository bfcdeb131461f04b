"""Our own messages are parsed on a fast path; it must read exactly what the general path
reads, and leave everything else to it."""

from __future__ import annotations

import json

import pytest

from contracts.envelope import Envelope
from contracts.registry import UnknownEventType, parse_event
from tests.unit.test_contracts import SAMPLES


@pytest.mark.parametrize("event", list(SAMPLES.values()), ids=lambda e: e.type)
def test_the_fast_path_reads_what_the_general_path_reads(event: Envelope) -> None:
    as_published = event.model_dump_json().encode()
    assert parse_event(as_published) == parse_event(json.loads(as_published)) == event


def test_a_message_with_spaces_or_another_field_order_takes_the_general_path() -> None:
    event = next(iter(SAMPLES.values()))
    reordered = json.dumps(dict(reversed(list(event.model_dump(mode="json").items()))), indent=1)
    assert parse_event(reordered.encode()) == event


def test_an_unknown_version_is_refused_on_either_path() -> None:
    event = next(iter(SAMPLES.values()))
    body = event.model_dump_json().replace('"schema_version":1', '"schema_version":99').encode()
    with pytest.raises(UnknownEventType):
        parse_event(body)
