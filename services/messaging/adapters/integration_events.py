"""From the messaging service's stored domain events to the integration events it publishes.
It stores none yet, so it publishes none."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from contracts.envelope import Envelope


def integration_events(event: Any) -> Iterator[tuple[str, Envelope]]:
    yield from ()
