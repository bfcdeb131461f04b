"""Request/reply over Kafka (service_runtime.request_reply) on Tansu and Apache Kafka."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiokafka import ConsumerRebalanceListener, TopicPartition
from faststream.kafka import KafkaBroker, KafkaMessage

from service_runtime.request_reply import (
    KafkaRequester,
    RequestRefused,
    RequestTimeout,
    send_reply,
)
from tests.support.topics import create_topics

# Short group timings: Tansu holds a JoinGroup for half the session timeout, in 1 s steps.
TIMINGS: dict[str, Any] = {"session_timeout_ms": 2000, "heartbeat_interval_ms": 400}


class _Assigned(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self) -> None:
        self.event = asyncio.Event()

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        pass

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        if assigned:
            self.event.set()


@dataclass
class Setup:
    requester: KafkaRequester
    requests: str
    silent: str


@pytest.fixture
async def setup(bootstrap: str) -> AsyncIterator[Setup]:
    suffix = uuid.uuid4().hex[:12]
    requests, replies, silent = (
        f"test.requests.{suffix}",
        f"test.replies.{suffix}",
        f"test.silent.{suffix}",
    )
    await create_topics(bootstrap, {requests: 4, replies: 1, silent: 1})

    broker = KafkaBroker(bootstrap, enable_idempotence=False)
    responder_assigned = _Assigned()

    @broker.subscriber(
        requests,
        group_id="responder",
        auto_offset_reset="earliest",
        listener=responder_assigned,
        **TIMINGS,
    )
    async def respond(body: Any, msg: KafkaMessage) -> None:
        record: Any = msg.raw_message
        value: bytes = record.value
        if value == b"refuse":
            await send_reply(broker, record.headers, b"not allowed", error=True)
        else:
            await send_reply(broker, record.headers, value.upper())

    requester = KafkaRequester(broker, replies, default_timeout=10.0, **TIMINGS)
    async with broker:
        await broker.start()
        await asyncio.wait_for(responder_assigned.event.wait(), 30)
        await requester.wait_ready(30)
        yield Setup(requester, requests, silent)


async def test_reply_arrives(setup: Setup) -> None:
    reply = await setup.requester.request(setup.requests, b"hello", key=b"k")
    assert reply == b"HELLO"
    assert setup.requester.pending == {}


async def test_concurrent_requests_get_their_own_replies(setup: Setup) -> None:
    bodies = [f"message {i}".encode() for i in range(20)]
    replies = await asyncio.gather(
        *(
            setup.requester.request(setup.requests, body, key=str(i).encode())
            for i, body in enumerate(bodies)
        )
    )
    assert replies == [body.upper() for body in bodies]
    assert setup.requester.pending == {}


async def test_refusal_raises(setup: Setup) -> None:
    with pytest.raises(RequestRefused) as refused:
        await setup.requester.request(setup.requests, b"refuse", key=None)
    assert refused.value.body == b"not allowed"
    assert setup.requester.pending == {}


async def test_nobody_answers_times_out(setup: Setup) -> None:
    started = time.monotonic()
    with pytest.raises(RequestTimeout) as timed_out:
        await setup.requester.request(setup.silent, b"anyone?", key=None, timeout=1.5)
    elapsed = time.monotonic() - started
    # Not before the timeout, and well before anything else would have ended it.
    assert 1.4 <= elapsed < 10.0
    assert timed_out.value.topic == setup.silent
    assert isinstance(timed_out.value, TimeoutError)
    assert setup.requester.pending == {}
