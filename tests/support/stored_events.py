"""Stored events as an earlier class version of their aggregate's event wrote them, to test
that what was stored before a change still loads and publishes as it did."""

from __future__ import annotations

import json
from typing import Any

from eventsourcing.persistence import StoredEvent


def as_stored_in(stored: Any, version: int, without: tuple[str, ...]) -> StoredEvent:
    """`stored` as `version` stored it: without the fields a later version added. A stored
    event that has none of them (another kind of event) is returned as it is."""
    state = json.loads(stored.state)
    if any(field in state for field in without):
        assert state.pop("class_version") == version + 1
        for field in without:
            state.pop(field, None)
        state["class_version"] = version
    return StoredEvent(
        originator_id=stored.originator_id,
        originator_version=stored.originator_version,
        topic=stored.topic,
        state=json.dumps(state).encode(),
    )
