"""Every process forgets the keys an erasure destroyed as soon as it is published: a
subscriber on `privacy.erasures` outside any consumer group (every process reads every
erasure), from the newest message on (a process starting has nothing cached yet)."""

from __future__ import annotations

import logging
from typing import Any

from faststream.kafka import KafkaBroker

from contracts.personal import ERASURES_TOPIC, PersonalDataErased
from contracts.registry import UnknownEventType, parse_event
from service_runtime.kafka import follow_without_group
from service_runtime.personal_data import KeyVault

log = logging.getLogger(__name__)


class ErasureFollower:
    """Declare it before the broker starts (see ClockFollower)."""

    def __init__(self, vault: KeyVault, broker: KafkaBroker, consumer_kwargs: dict[str, Any]):
        self.vault = vault
        self.forgotten = 0
        # From the newest message: a process starting has nothing cached yet.
        self.subscriber = follow_without_group(
            broker, ERASURES_TOPIC, consumer_kwargs, self.apply, auto_offset_reset="latest"
        )

    def apply(self, *values: bytes | str | None) -> None:
        for value in values:
            try:
                event = parse_event(value)
            except (UnknownEventType, ValueError) as exc:
                log.warning("erasure follower: skipping a message of %s: %s", ERASURES_TOPIC, exc)
                continue
            if isinstance(event, PersonalDataErased):
                self.vault.forget(event.key_ids)
                self.forgotten += len(event.key_ids)
