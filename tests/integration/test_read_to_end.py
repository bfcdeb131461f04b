"""A replay stops as it reads the last record its topics hold, on a real broker: the end of
each partition comes from the fetch responses' high watermark, not from ListOffsets (which the
embedded broker answers with the start of a partition's last record batch) and not from an
empty fetch (one idle wait long)."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from service_runtime.kafka import partitions_of, read_to_end
from service_runtime.topic_reader import TopicReader, decode_batch
from tests.support.topics import create_topics

PARTITIONS = 3  # the last one stays empty
BATCHES = 4
PER_BATCH = 25
# A replay that waited for an empty fetch would wait this long once; this one never does.
IDLE_MS = 20_000


async def publish_in_batches(bootstrap: str, topic: str, event_ids: bool = False) -> None:
    await create_topics(bootstrap, {topic: PARTITIONS})
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=50)
    await producer.start()
    try:
        for batch in range(BATCHES):
            for n in range(PER_BATCH):
                for partition in range(PARTITIONS - 1):
                    value = f"{batch}-{n}".encode()
                    headers = [("event-id", f"e-{partition}-{batch}-{n}".encode())]
                    await producer.send(
                        topic, value, partition=partition, headers=headers if event_ids else None
                    )
            await producer.flush()
    finally:
        await producer.stop()


async def replay(bootstrap: str, topic: str) -> tuple[int, int, dict[TopicPartition, int]]:
    """Reads the topic from the start as the replays do; returns the records read, the
    fetches that came back empty, and what ListOffsets said the ends were."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        known = await partitions_of(consumer, [topic])
        tps = [TopicPartition(topic, p) for p in sorted(known[topic])]
        ends = await consumer.end_offsets(tps)
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        read = empty = 0
        while True:
            batch = await consumer.getmany(timeout_ms=IDLE_MS, max_records=30)
            got = sum(len(records) for records in batch.values())
            read += got
            empty += not got
            if await read_to_end(consumer, tps, ends, fetched_nothing=not got):
                return read, empty, ends
    finally:
        await consumer.stop()


def test_a_replay_stops_with_the_last_record_and_never_before(bootstrap: str) -> None:
    topic = f"read-to-end.{uuid.uuid4().hex[:8]}"
    asyncio.run(publish_in_batches(bootstrap, topic))
    read, empty, ends = asyncio.run(replay(bootstrap, topic))
    assert read == BATCHES * PER_BATCH * (PARTITIONS - 1)
    assert empty == 0
    # What ListOffsets said is never more than what there was (on the embedded broker, less).
    assert all(end <= BATCHES * PER_BATCH for end in ends.values())


async def read_by_the_reader_process(bootstrap: str, topic: str) -> tuple[list[Any], int]:
    """What `TopicReader` (the replay's reading process) gives: every record, and its ends."""
    records: list[Any] = []
    async with TopicReader(bootstrap, [topic], batch_size=30, idle_ms=IDLE_MS) as reader:
        ends = sum(reader.ends.values())
        while (frame := reader.next_frame()) is not None:
            for tp, batch in decode_batch(frame).items():
                records.extend((tp.partition, record) for record in batch)
    return records, ends


def test_the_replays_reading_process_gives_every_record_in_order_and_stops_at_the_end(
    bootstrap: str,
) -> None:
    """A replay reads its topics in a process of its own (service_runtime.topic_reader): each
    partition's records come in order, each once, with the event id of a batch's last record
    (the position a projection stores), and it ends with the last record, not an idle wait."""
    topic = f"read-to-end.{uuid.uuid4().hex[:8]}"
    asyncio.run(publish_in_batches(bootstrap, topic, event_ids=True))
    started = time.monotonic()
    records, ends = asyncio.run(read_by_the_reader_process(bootstrap, topic))
    assert time.monotonic() - started < IDLE_MS / 1000
    assert ends <= BATCHES * PER_BATCH * (PARTITIONS - 1)
    for partition in range(PARTITIONS - 1):
        mine = [record for p, record in records if p == partition]
        assert [r.offset for r in mine] == list(range(BATCHES * PER_BATCH))
        assert [r.value for r in mine] == [
            f"{batch}-{n}".encode() for batch in range(BATCHES) for n in range(PER_BATCH)
        ]
        carrying = [r for r in mine if r.headers]
        assert carrying and carrying[-1] is mine[-1]
        assert all(
            r.headers == (("event-id", f"e-{partition}-{r.value.decode()}".encode()),)
            for r in carrying
        )
