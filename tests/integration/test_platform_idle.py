"""The simulator's idleness check on a real broker: a group that has read only part of a
partition's last record batch is behind. The embedded broker answers ListOffsets with the start
of a partition's last batch (plus one), so the check learns each partition's end from a fetch
response's high watermark, as a replay does."""

from __future__ import annotations

import asyncio
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from cobranca.simulation.idle import PlatformIdle
from tests.support.topics import create_topics

RECORDS = 10


class OneGroup(PlatformIdle):
    """The check counting one group only: the broker is shared by the session's tests, whose
    groups may have been left behind on their own topics."""

    group = ""

    async def _groups(self) -> set[str]:
        return {self.group}


async def new_topic(bootstrap: str) -> TopicPartition:
    """A new topic of one partition (and a new empty topic beside it, for the check to skip)."""
    topic = f"idle.{uuid.uuid4().hex[:8]}"
    await create_topics(bootstrap, {topic: 1, f"{topic}.empty": 2})
    return TopicPartition(topic, 0)


async def publish_one_batch(bootstrap: str, tp: TopicPartition) -> int:
    """RECORDS records in one batch; returns the offset after the last."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=200)
    await producer.start()
    try:
        # Each send only queues its record (the futures are awaited after the flush), and the
        # linger holds them together: one batch.
        sent = [await producer.send(tp.topic, b"x", partition=tp.partition) for _ in range(RECORDS)]
        await producer.flush()
        offsets: list[int] = [(await delivered).offset for delivered in sent]
    finally:
        await producer.stop()
    assert offsets == list(range(offsets[0], offsets[0] + RECORDS))
    return offsets[-1] + 1


async def commit(bootstrap: str, group: str, tp: TopicPartition, offset: int) -> None:
    """The group's offset, as a member that has read up to `offset` commits it."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign([tp])
        await consumer.commit({tp: offset})
    finally:
        await consumer.stop()


async def behind_after_commits(bootstrap: str) -> list[int]:
    """What the check says with the group at the first record, then at the end; then after
    another batch, with the group at the first batch's end, then at the second's."""
    tp = await new_topic(bootstrap)
    end = await publish_one_batch(bootstrap, tp)
    idle = await OneGroup.connect(bootstrap)
    idle.group = f"{tp.topic}.group"
    try:
        said = []
        for offset in (1, end):
            await commit(bootstrap, idle.group, tp, offset)
            said.append(await idle.behind())
        end = await publish_one_batch(bootstrap, tp)
        said.append(await idle.behind())
        await commit(bootstrap, idle.group, tp, end)
        said.append(await idle.behind())
        return said
    finally:
        await idle.stop()


async def waits(bootstrap: str) -> tuple[bool, float]:
    """Whether waiting for a group at the first record times out, and how long waiting takes
    once it is at the end."""
    tp = await new_topic(bootstrap)
    end = await publish_one_batch(bootstrap, tp)
    idle = await OneGroup.connect(bootstrap)
    idle.group = f"{tp.topic}.group"
    try:
        await commit(bootstrap, idle.group, tp, 1)
        try:
            await idle.wait(quiet=0.5, timeout=2.0)
            timed_out = False
        except TimeoutError:
            timed_out = True
        await commit(bootstrap, idle.group, tp, end)
        return timed_out, await idle.wait(quiet=0.5, timeout=10.0)
    finally:
        await idle.stop()


def test_a_group_partway_into_the_last_batch_is_behind(bootstrap: str) -> None:
    assert asyncio.run(behind_after_commits(bootstrap)) == [RECORDS - 1, 0, RECORDS, 0]


def test_waiting_ends_when_the_group_has_read_to_the_end_and_not_before(bootstrap: str) -> None:
    timed_out, waited = asyncio.run(waits(bootstrap))
    assert timed_out
    assert 0.5 <= waited < 10.0
