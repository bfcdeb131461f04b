"""A requester that loses and gets back its replies partition (a rebalance after a broker was
lost) reads on from where it stood, so a reply written meanwhile still reaches its request."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from aiokafka import TopicPartition

from service_runtime.request_reply import CORRELATION_ID, KafkaRequester

REPLIES = TopicPartition("clock.replies", 0)


class Consumer:
    """What the requester asks of its replies consumer: where "latest" is, and to seek."""

    def __init__(self, end: int) -> None:
        self.end = end
        self.seeks: list[tuple[TopicPartition, int]] = []

    async def position(self, tp: TopicPartition) -> int:
        return self.end

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks.append((tp, offset))


def requester(consumer: Consumer) -> KafkaRequester:
    subscriber = SimpleNamespace(consumer=consumer)
    broker = SimpleNamespace(subscriber=lambda *a, **k: lambda handler: handler)
    built = KafkaRequester(broker, "clock.replies", default_timeout=5)  # type: ignore[arg-type]
    built.subscriber = subscriber  # type: ignore[assignment]
    return built


def reply(offset: int, correlation_id: str) -> Any:
    record = SimpleNamespace(
        topic=REPLIES.topic,
        partition=REPLIES.partition,
        offset=offset,
        value=b"{}",
        headers=[(CORRELATION_ID, correlation_id.encode())],
    )
    return SimpleNamespace(raw_message=record)


async def test_the_first_assignment_starts_at_the_latest_reply() -> None:
    consumer = Consumer(end=40)
    replies = requester(consumer)

    await replies._assigned({REPLIES})

    assert replies.read_from == {REPLIES: 40}
    assert consumer.seeks == []
    assert replies.ready.is_set()


async def test_after_a_rebalance_it_reads_on_from_the_last_reply_read() -> None:
    consumer = Consumer(end=40)
    replies = requester(consumer)
    await replies._assigned({REPLIES})
    await replies._on_reply(None, reply(40, "someone-else"))
    await replies._on_reply(None, reply(41, "someone-else"))

    consumer.end = 45  # replies written while the partition was away: not skipped
    await replies._assigned({REPLIES})

    assert consumer.seeks == [(REPLIES, 42)]


async def test_a_rebalance_before_any_reply_goes_back_to_where_it_started() -> None:
    consumer = Consumer(end=7)
    replies = requester(consumer)
    await replies._assigned({REPLIES})

    consumer.end = 9
    await replies._assigned({REPLIES})

    assert consumer.seeks == [(REPLIES, 7)]
