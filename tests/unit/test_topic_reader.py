"""The replay's reading process (service_runtime.topic_reader): what crosses its pipe comes out
as the records a projection applies, and a reader that cannot read says why."""

from __future__ import annotations

import asyncio
import marshal

import pytest
from aiokafka import TopicPartition

from service_runtime.projection import record_event_id
from service_runtime.topic_reader import TopicReader, decode_batch


def test_a_frame_gives_each_partitions_records_in_order_the_last_with_its_event_id() -> None:
    frame = marshal.dumps(
        [
            ("portfolio.debts", 0, [7, 8, 10], [b"a", b"b", b"c"], b"e-10"),
            ("portfolio.debts", 2, [0], [b"z"], None),
        ]
    )
    batch = decode_batch(frame)
    first = batch[TopicPartition("portfolio.debts", 0)]
    assert [(r.offset, r.value) for r in first] == [(7, b"a"), (8, b"b"), (10, b"c")]
    assert [record_event_id(r) for r in first] == [None, None, "e-10"]
    assert [record_event_id(r) for r in batch[TopicPartition("portfolio.debts", 2)]] == [None]


def test_a_reader_that_cannot_reach_the_broker_says_so_with_what_it_printed() -> None:
    async def start() -> None:
        async with TopicReader("127.0.0.1:1", ["portfolio.debts"], 10, 100):
            pass

    with pytest.raises(RuntimeError, match=r"topic reader.*exit code [1-9].*127\.0\.0\.1:1"):
        asyncio.run(start())
