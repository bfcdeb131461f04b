"""Request/reply over Kafka, by hand: FastStream's `broker.request()` does not work with a real
Kafka producer.

The asking service publishes a request with headers `reply-to` (its replies topic) and
`correlation-id`; the answering service calls `send_reply` from its handler, which publishes
the answer to that topic with the same `correlation-id` (and `reply-error: 1` for a refusal).
Every instance of the asking service reads every reply (a consumer group of its own) and keeps
only the ones it is waiting for.

Topics are not created here: the caller creates the request topics and the replies topic
(one partition is enough) before starting the broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any
from uuid import uuid4

from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage

from service_runtime.kafka import Headers, OnAssigned, header
from service_runtime.telemetry import inject_context, send_span, tracing_enabled

log = logging.getLogger(__name__)

# Requests and replies wait on a person: fetch as soon as anything arrives. Tansu answers an
# empty fetch only when its wait ends, even if a message came meanwhile (Apache Kafka answers
# at once): with the default 500 ms a hop took about 220 ms there; with 50 ms, 3 to 15 ms.
# (10 ms was no faster and kept every such consumer fetching 100 times a second at rest.)
FAST_FETCH = {"fetch_max_wait_ms": 50}

REPLY_TO = "reply-to"
CORRELATION_ID = "correlation-id"
REPLY_ERROR = "reply-error"


class RequestTimeout(TimeoutError):
    """No reply arrived in time."""

    def __init__(self, topic: str, correlation_id: str, timeout: float) -> None:
        super().__init__(
            f"no reply to the request {correlation_id} sent to {topic!r} within {timeout:g}s"
        )
        self.topic = topic
        self.correlation_id = correlation_id
        self.timeout = timeout


class RequestRefused(Exception):
    """The service answered with a refusal (`reply-error: 1`); `body` is its answer."""

    def __init__(self, body: bytes) -> None:
        super().__init__(body.decode(errors="replace"))
        self.body = body


class KafkaRequester:
    """Sends requests and awaits their replies. Construct it before the broker starts (a
    subscriber declared on a running broker would have to be started by hand), then
    `await wait_ready()` before the first request."""

    def __init__(
        self, broker: KafkaBroker, replies_topic: str, default_timeout: float, **consumer: Any
    ) -> None:
        self.broker = broker
        self.replies_topic = replies_topic
        self.default_timeout = default_timeout
        self.ready = asyncio.Event()
        self.pending: dict[str, asyncio.Future[tuple[bytes, bool]]] = {}
        # Where reading the replies stands in each partition: a new assignment (a rebalance
        # after a broker was lost) goes on from there. Resolving "latest" again then would
        # skip the replies written meanwhile, and their requests would wait until they time
        # out.
        self.read_from: dict[TopicPartition, int] = {}
        consumer.setdefault("auto_offset_reset", "latest")
        consumer = {**FAST_FETCH, **consumer}
        self.subscriber = broker.subscriber(
            replies_topic,
            # A group of our own: every instance reads every reply, keeps only its own.
            group_id=f"{replies_topic}.{uuid4().hex}",
            # Replies are useless after a restart: nothing to commit.
            ack_policy=AckPolicy.MANUAL,
            listener=OnAssigned(self._assigned),
            decoder=self._no_decode,
            **consumer,
        )
        self.subscriber(self._on_reply)

    @staticmethod
    async def _no_decode(msg: Any) -> Any:
        # The reply is read from the raw record; skip FastStream's decoding.
        return None

    async def _assigned(self, assigned: set[TopicPartition]) -> None:
        if not assigned:
            return
        # Resolve "latest" now: a position resolved lazily at the first fetch would skip a
        # reply written between the assignment and that fetch.
        with contextlib.suppress(KafkaError, AssertionError):
            consumer = self.subscriber.consumer
            for tp in assigned:
                if tp in self.read_from:
                    consumer.seek(tp, self.read_from[tp])
                else:
                    self.read_from[tp] = await consumer.position(tp)
        self.ready.set()

    async def wait_ready(self, timeout: float) -> None:
        """Wait until the replies topic is assigned (a reply sent before would be missed)."""
        await asyncio.wait_for(self.ready.wait(), timeout)

    async def request(
        self,
        topic: str,
        body: bytes,
        *,
        key: bytes | None,
        timeout: float | None = None,
        headers: dict[str, str] | None = None,
        correlation_id: str | None = None,
    ) -> bytes:
        """Publish a request and return the reply's body. Raises RequestTimeout when no reply
        comes in time, RequestRefused when the service answered with a refusal. The same
        `correlation_id` again is the same request again (a retry the service may recognize)."""
        timeout = self.default_timeout if timeout is None else timeout
        correlation_id = correlation_id or uuid4().hex
        future: asyncio.Future[tuple[bytes, bool]] = asyncio.get_running_loop().create_future()
        # Registered before publishing: the reply can arrive before publish returns.
        self.pending[correlation_id] = future
        # A span for the round trip (when tracing): the answering service's handling is its
        # child, through the W3C context in the request's headers.
        with send_span(topic, correlation_id) as span:
            sent = {**(headers or {}), REPLY_TO: self.replies_topic, CORRELATION_ID: correlation_id}
            if span is not None:
                inject_context(sent)
            try:
                await self.broker.publish(body, topic, key=key, headers=sent)
                try:
                    reply, refused = await asyncio.wait_for(future, timeout)
                except TimeoutError:
                    raise RequestTimeout(topic, correlation_id, timeout) from None
            finally:
                self.pending.pop(correlation_id, None)
            if span is not None and refused:
                span.set_attribute("cobranca.refused", True)
        if refused:
            raise RequestRefused(reply)
        return reply

    async def _on_reply(self, body: Any, msg: KafkaMessage) -> None:
        raw = msg.raw_message
        records: tuple[ConsumerRecord[Any, Any], ...] = raw if isinstance(raw, tuple) else (raw,)
        for record in records:
            self.read_from[TopicPartition(record.topic, record.partition)] = record.offset + 1
            headers = record.headers or ()
            correlation_id = header(headers, CORRELATION_ID)
            future = self.pending.get(correlation_id) if correlation_id else None
            # Another instance's reply, or one that came after its request gave up.
            if future is None or future.done():
                continue
            value = record.value
            reply = value if isinstance(value, bytes) else b""
            future.set_result((reply, header(headers, REPLY_ERROR) == "1"))


async def send_reply(
    broker: KafkaBroker, record_headers: Headers, body: bytes, *, error: bool = False
) -> None:
    """Answer a request from its handler, given the request's headers (the raw record's list
    or FastStream's dict). `error=True` makes the requester raise RequestRefused."""
    reply_to = header(record_headers, REPLY_TO)
    correlation_id = header(record_headers, CORRELATION_ID)
    if not reply_to or not correlation_id:
        log.warning("a request without %s/%s: no reply sent", REPLY_TO, CORRELATION_ID)
        return
    headers = {CORRELATION_ID: correlation_id}
    if error:
        headers[REPLY_ERROR] = "1"
    if tracing_enabled():
        inject_context(headers)
    await broker.publish(body, reply_to, headers=headers)
