"""Topics a test makes for itself on a real broker."""

from __future__ import annotations

import json
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic


async def create_topics(bootstrap: str, partitions: dict[str, int]) -> None:
    """Each topic with its number of partitions, one replica."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, n, 1) for name, n in partitions.items()])
    finally:
        await admin.close()


async def read_all(bootstrap: str, topic: str) -> list[dict[str, Any]]:
    """Every message of `topic` so far, as JSON, read from the start until a fetch comes back
    empty."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    try:
        out: list[dict[str, Any]] = []
        while batch := await consumer.getmany(timeout_ms=1500):
            out += [json.loads(r.value) for records in batch.values() for r in records]
        return out
    finally:
        await consumer.stop()
