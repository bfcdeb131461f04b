"""Every process forgets the keys an erasure destroyed as soon as it is published: a
subscriber on `privacy.erasures` outside any consumer group (every process reads every
erasure), from the newest message on (a process starting has nothing cached yet)."""

from __future__ import annotations

import logging
from typing import Any

from aiokafka import ConsumerRecord
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage

from contracts.personal import ERASURES_TOPIC, PersonalDataErased
from contracts.registry import UnknownEventType, parse_event
from service_runtime.personal_data import KeyVault

log = logging.getLogger(__name__)


class ErasureFollower:
    """Declare it before the broker starts (see ClockFollower)."""

    def __init__(self, vault: KeyVault, broker: KafkaBroker, consumer_kwargs: dict[str, Any]):
        self.vault = vault
        self.forgotten = 0
        kwargs = dict(consumer_kwargs)
        kwargs["auto_offset_reset"] = "latest"
        self.subscriber = broker.subscriber(
            ERASURES_TOPIC,
            group_id=None,
            batch=True,
            ack_policy=AckPolicy.MANUAL,
            decoder=self._no_decode,
            **kwargs,
        )
        self.subscriber(self.handle)

    @staticmethod
    async def _no_decode(msg: Any) -> Any:
        return None

    async def handle(self, body: Any, msg: KafkaMessage) -> None:
        raw = msg.raw_message
        records: tuple[ConsumerRecord[Any, Any], ...] = (
            tuple(raw) if isinstance(raw, tuple | list) else (raw,)
        )
        self.apply(*(record.value for record in records))

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
