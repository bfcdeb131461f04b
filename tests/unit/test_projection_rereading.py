"""A projection whose stored position is not in the broker's log (the broker lost it and the
relays published everything again) goes back to the start of that partition once, and is not
sent back again at every check while it reads it again (a long batch, the ruler's daily run,
used to start over every 5 s)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka import ConsumerRecord, TopicPartition

from service_runtime import projection
from service_runtime.projection import PositionedConsumer

DAYS = TopicPartition("clock.days", 0)
EPOCH = "epoch-after-the-restart"


class Consumer:
    def __init__(self) -> None:
        self.sent_back: list[TopicPartition] = []
        self.sought: list[tuple[TopicPartition, int]] = []

    async def seek_to_beginning(self, *tps: TopicPartition) -> None:
        self.sent_back.extend(tps)

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.sought.append((tp, offset))


class Subscriber:
    def __init__(self) -> None:
        self.consumer = Consumer()

    def __call__(self, handler: Any) -> Any:
        return handler


class Broker:
    def subscriber(self, *topics: str, **kwargs: Any) -> Subscriber:
        return Subscriber()


def record_with_event(event_id: str, offset: int) -> ConsumerRecord[Any, Any]:
    return ConsumerRecord(
        DAYS.topic, DAYS.partition, offset, 0, 0, None, b"{}", None, 0, 2,
        [("event-id", event_id.encode())],
    )  # fmt: skip


@pytest.fixture
def stored() -> dict[tuple[str, int], tuple[int, str | None, str | None]]:
    return {(DAYS.topic, DAYS.partition): (5, "day-before-the-restart", EPOCH)}


@pytest.fixture
def daily(
    monkeypatch: pytest.MonkeyPatch,
    stored: dict[tuple[str, int], tuple[int, str | None, str | None]],
) -> PositionedConsumer:
    async def epoch(bootstrap: str, *args: Any, **kwargs: Any) -> str:
        return EPOCH

    async def records_at(bootstrap: str, wanted: dict[TopicPartition, int], **kw: Any) -> Any:
        # The broker's log now holds another event where the projection stopped.
        return {
            tp: record_with_event("republished-in-another-order", o) for tp, o in wanted.items()
        }

    monkeypatch.setattr(projection, "broker_epoch", epoch)
    monkeypatch.setattr(projection, "records_at", records_at)
    applier = SimpleNamespace(
        name="ruler.daily", topics=(DAYS.topic,), epoch=None, stored_positions=lambda: stored
    )
    return PositionedConsumer(applier, Broker(), "kafka:9092", "ruler.daily", {})  # type: ignore[arg-type]


async def test_a_stale_position_sends_the_partition_back_to_the_start_once(
    daily: PositionedConsumer,
    stored: dict[tuple[str, int], tuple[int, str | None, str | None]],
) -> None:
    for _ in range(4):  # the checks every few seconds while the batch is being applied
        await daily.verify({DAYS}, stored)

    assert daily.consumer.sent_back == [DAYS]


async def test_a_position_stored_again_and_still_stale_is_sent_back_again(
    daily: PositionedConsumer,
    stored: dict[tuple[str, int], tuple[int, str | None, str | None]],
) -> None:
    await daily.verify({DAYS}, stored)
    stored[(DAYS.topic, DAYS.partition)] = (2, "an-event-read-since", EPOCH)

    await daily.verify({DAYS}, stored)

    assert daily.consumer.sent_back == [DAYS, DAYS]


async def test_given_the_partition_again_it_checks_from_the_stored_position(
    daily: PositionedConsumer,
    stored: dict[tuple[str, int], tuple[int, str | None, str | None]],
) -> None:
    await daily.verify({DAYS}, stored)

    await daily.seek_assigned({DAYS})  # a rebalance: back to the stored (stale) position

    assert daily.consumer.sought == [(DAYS, 5)]
    assert daily.consumer.sent_back == [DAYS, DAYS]
