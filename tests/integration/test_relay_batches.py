"""The outbox relay publishes a record batch per partition (aiokafka's producer under the
FastStream broker) instead of FastStream's message-by-message `publish`: on a real broker, the
same messages end in the same partitions, in the same order, with the same keys, values and
headers (the trace context among them) as they did one by one."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from service_runtime.kafka import make_broker
from service_runtime.outbox import Outgoing, kafka_producer, publish_in_batches
from service_runtime.settings import Settings
from tests.support.topics import create_topics

PARTITIONS = 4
MESSAGES = 600


def messages(topic: str) -> list[Outgoing]:
    """Events of an import (one key, many messages) among others (a key each), some with a
    trace context, some large enough to fill a record batch on their own."""
    rng = random.Random(7)
    out: list[Outgoing] = []
    for n in range(MESSAGES):
        other = str(uuid.UUID(int=rng.getrandbits(128))).encode()
        key = b"import-1" if rng.random() < 0.5 else other
        value = rng.randbytes(rng.choice([40, 900, 20_000])).hex().encode()
        headers = {"content-type": "application/json", "event-type": "X", "event-id": str(n)}
        if n % 3 == 0:
            headers["traceparent"] = f"00-{n:032x}-{n:016x}-01"
        out.append((topic, key, value, headers, f"corr-{n}"))
    return out


async def read_back(bootstrap: str, topic: str) -> dict[int, list[tuple[Any, ...]]]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        by_partition: dict[int, list[tuple[Any, ...]]] = {}
        read = 0
        while read < MESSAGES:
            got = await consumer.getmany(timeout_ms=5000)
            if not got:
                break
            for tp, records in got.items():
                for r in records:
                    by_partition.setdefault(tp.partition, []).append(
                        (r.key, r.value, list(r.headers))
                    )
                    read += 1
        return by_partition
    finally:
        await consumer.stop()


async def publish_both_ways(bootstrap: str) -> tuple[Any, ...]:
    one_by_one, batched = (f"relay.{way}.{uuid.uuid4().hex[:8]}" for way in ("one", "batch"))
    await create_topics(bootstrap, {one_by_one: PARTITIONS, batched: PARTITIONS})
    broker = make_broker(Settings(kafka_bootstrap=bootstrap), client_id="relay-test")
    await broker.start()
    try:
        producer = kafka_producer(broker)
        assert producer is not None, "the FastStream broker's aiokafka producer is reachable"
        futures = [
            await broker.publish(
                value, topic=topic, key=key, headers=headers, correlation_id=corr, no_confirm=True
            )
            for topic, key, value, headers, corr in messages(one_by_one)
        ]
        counted_one = Counter((m.partition) for m in await asyncio.gather(*futures))
        counted_batch = Counter(
            partition
            for (_, partition), n in (await publish_in_batches(producer, messages(batched))).items()
            for _ in range(n)
        )
    finally:
        await broker.stop()
    return (
        counted_one,
        counted_batch,
        await read_back(bootstrap, one_by_one),
        await read_back(bootstrap, batched),
    )


def test_a_relays_batches_are_the_records_it_published_one_by_one(bootstrap: str) -> None:
    counted_one, counted_batch, one_by_one, batched = asyncio.run(publish_both_ways(bootstrap))
    assert counted_batch == counted_one and sum(counted_one.values()) == MESSAGES
    assert len(one_by_one) > 1  # the keys spread over several partitions
    assert batched == one_by_one
    headers = dict(batched[min(batched)][0][2])
    assert headers["correlation_id"].startswith(b"corr-")
