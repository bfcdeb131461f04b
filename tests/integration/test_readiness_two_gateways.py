"""Two gateways' projection consumers in one consumer group on a real broker: the second one
takes part of the partitions, and the rule /health/ready applies to a gateway whose read
store is a local SQLite file says both are not ready; once the second stops, the first reads
every partition again and is ready."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from types import SimpleNamespace
from typing import Any

import pytest
from faststream.kafka import KafkaBroker

from service_runtime.projection import PositionedConsumer
from services.gateway.entrypoints.http.health import (
    Assignment,
    assignment_of,
    partial_assignment_reasons,
)
from tests.support.topics import create_topics

# Short group timings: Tansu holds a JoinGroup for half the session timeout, in 1 s steps.
TIMINGS: dict[str, Any] = {"session_timeout_ms": 2000, "heartbeat_interval_ms": 400}


def gateway(bootstrap: str, topic: str, group: str) -> tuple[KafkaBroker, PositionedConsumer]:
    """One gateway's projection consumer (its applier stores nothing: the topic stays empty)."""
    broker = KafkaBroker(bootstrap, enable_idempotence=False)
    applier = SimpleNamespace(name="timeline", topics=(topic,), epoch=None, stored_positions=dict)
    consumer = PositionedConsumer(
        applier,  # type: ignore[arg-type]
        broker,
        bootstrap,
        group,
        {"auto_offset_reset": "earliest", **TIMINGS},
    )
    return broker, consumer


async def until(check: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("the group did not settle in time")
        await asyncio.sleep(0.2)


@pytest.fixture
async def topic(bootstrap: str) -> AsyncIterator[str]:
    name = f"test.readiness.{uuid.uuid4().hex[:12]}"
    await create_topics(bootstrap, {name: 4})
    yield name


async def test_a_second_gateway_in_the_group_makes_both_unready_on_sqlite(
    bootstrap: str, topic: str
) -> None:
    group = f"gateway.timeline.{uuid.uuid4().hex[:8]}"
    first_broker, first = gateway(bootstrap, topic, group)
    second_broker, second = gateway(bootstrap, topic, group)

    async with first_broker:
        await first_broker.start()
        await until(lambda: assignment_of(first) == Assignment(4, 4))
        # Alone: every partition, ready on SQLite.
        assert partial_assignment_reasons(True, {"timeline": assignment_of(first)}) == []

        async with second_broker:
            await second_broker.start()

            def split() -> bool:
                shares = [assignment_of(first), assignment_of(second)]
                return (
                    all(s is not None and 0 < s.assigned < 4 for s in shares)
                    and sum(s.assigned for s in shares if s is not None) == 4
                )

            await until(split)
            for consumer in (first, second):
                (reason,) = partial_assignment_reasons(True, {"timeline": assignment_of(consumer)})
                assert reason["rule"] == "partial_assignment"
                assert reason["field"] == "projections.timeline"
                # Replicas sharing one PostgreSQL read database: any share is fine.
                assert (
                    partial_assignment_reasons(False, {"timeline": assignment_of(consumer)}) == []
                )

        # The second gateway stopped: the first is given every partition again.
        await until(lambda: assignment_of(first) == Assignment(4, 4))
        assert partial_assignment_reasons(True, {"timeline": assignment_of(first)}) == []
