"""Transactional outbox: publish a service's integration events from its event store's
notification log, in notification order, at least once, and remember how far it got.

The event store is the source of truth. The relay keeps, in the service's own database, the
last notification id it published and how many messages it put in each partition. A broker
that lacks what was published (the embedded Tansu keeps topics in memory and forgets them on
restart) is noticed by comparing those counts with the partitions' end offsets, and then
everything is published again from the start: consumers are idempotent, so nothing is applied
twice and nothing is lost.

A stored event the relay cannot turn into messages (its mapper or its serialization raises)
must neither stop the stream nor vanish: it stays in the event store, is recorded once in
`outbox_unpublished` (logged as an ERROR when first seen) and skipped, and the events after it
go out. Readiness reports the count (see `OutboxRelay.health`). A relay loop that dies of
anything else is logged with its traceback and started again, with a growing pause.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, MessageSizeTooLargeError
from aiokafka.partitioner import DefaultPartitioner
from eventsourcing.application import Application
from eventsourcing.persistence import Notification
from faststream.kafka import KafkaBroker
from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    func,
    select,
)
from sqlalchemy.exc import DBAPIError

from contracts.envelope import Envelope, derived_event_id
from service_runtime.kafka import DEFAULT_TOPIC_LAYOUT, TopicLayout, broker_epoch, missing_topics
from service_runtime.relay_lease import RelayLease
from service_runtime.sql import insert_for, upsert
from service_runtime.telemetry import RelayBatch, count_published, stored_carrier

log = logging.getLogger(__name__)

# How often a relay asks again for topics it already found, when it published nowhere new.
FULL_CHECK_SECONDS = 60.0

# Maps one stored domain event to the integration events it publishes, with their topics.
EventMapper = Callable[[Any], Iterable[tuple[str, Envelope]]]

# Failures that pass (a broker, a database or the network away for a while): the batch is
# tried again. Anything else raised while mapping one event is that event's own problem.
TRANSIENT_ERRORS = (KafkaError, OSError, TimeoutError, DBAPIError)
# The pause before a relay loop that died unexpectedly starts again: doubling up to the cap.
RESTART_FIRST_DELAY = 0.5
RESTART_MAX_DELAY = 30.0

metadata = MetaData()
relay_position = Table(
    "outbox_relay_position",
    metadata,
    Column("relay", String(100), primary_key=True),
    Column("position", Integer, nullable=False),
    Column("epoch", String(64), nullable=True),
)
relay_counts = Table(
    "outbox_relay_counts",
    metadata,
    Column("relay", String(100), primary_key=True),
    Column("topic", String(249), primary_key=True),
    Column("partition", Integer, primary_key=True),
    Column("published", Integer, nullable=False),
)
# Stored events the relay could not turn into messages: kept in the event store, skipped here.
relay_unpublished = Table(
    "outbox_unpublished",
    metadata,
    Column("relay", String(100), primary_key=True),
    Column("notification_id", Integer, primary_key=True),
    Column("originator_id", String(64), nullable=False),
    Column("originator_version", Integer, nullable=False),
    Column("topic", String(500), nullable=False),
    Column("error", Text, nullable=False),
    Column("first_seen", DateTime(timezone=True), nullable=False),
)


@dataclass(frozen=True)
class Unpublishable:
    """A stored event the mapper or the serialization refused, and why."""

    notification: Notification
    error: BaseException

    def row(self, relay: str, now: dt.datetime) -> dict[str, Any]:
        return {
            "relay": relay,
            "notification_id": self.notification.id,
            "originator_id": str(self.notification.originator_id),
            "originator_version": self.notification.originator_version,
            "topic": self.notification.topic[:500],
            "error": f"{type(self.error).__name__}: {self.error}",
            "first_seen": now,
        }


@dataclass(frozen=True)
class RelayHealth:
    """What readiness says of a relay: events it skipped, and whether its loop is failing."""

    unpublished: int
    restarts: int
    failing: str | None


def headers_for(event: Envelope) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "event-type": event.type,
        "schema-version": str(event.schema_version),
        "event-id": str(event.event_id),
        "tenant": event.tenant,
    }


# One message to publish: topic, key, value, headers (as the relay names them), correlation id.
Outgoing = tuple[str, bytes, bytes, dict[str, str], str]


def kafka_producer(broker: Any) -> AIOKafkaProducer | None:
    """The aiokafka producer under a connected FastStream Kafka broker; None for anything else
    (a test's stand-in, a broker not started, another FastStream layout): then the relay
    publishes through `broker.publish`."""
    state = getattr(getattr(broker, "config", None), "producer", None)
    producer = getattr(getattr(state, "_producer", None), "producer", None)
    return producer if isinstance(producer, AIOKafkaProducer) else None


async def publish_in_batches(
    producer: AIOKafkaProducer, messages: list[Outgoing]
) -> Counter[tuple[str, int]]:
    """Publish `messages` as FastStream's `broker.publish(..., no_confirm=True)` does one by
    one (the same records: key, value, the producer's partitioner, FastStream's headers
    `content-type` and `correlation_id` first), but a record batch per partition at a time:
    FastStream's per-message path cost about 55 µs a message, a batch about 15. Messages keep
    their order within each partition. Returns how many went to each (topic, partition) once
    the broker has acknowledged them all."""
    # The producer's own choice for a keyed record (aiokafka's default partitioner, murmur2 of
    # the key over the topic's partitions in order), so a key lands where it always did.
    partitions = {
        topic: sorted(await producer.partitions_for(topic))
        for topic in dict.fromkeys(m[0] for m in messages)
    }
    choose = DefaultPartitioner()
    batches: dict[tuple[str, int], list[tuple[Any, list[int]]]] = {}
    for topic, key, value, headers, correlation_id in messages:
        partition = choose(key, partitions[topic], partitions[topic])
        record_headers = [
            (name, (text or "").encode())
            for name, text in {
                "content-type": "",
                "correlation_id": correlation_id,
                **headers,
            }.items()
        ]
        builders = batches.setdefault((topic, partition), [])
        if builders:
            builder, count = builders[-1]
            appended = builder.append(key=key, value=value, timestamp=None, headers=record_headers)
            if appended is not None:
                count[0] += 1
                continue
        builder = producer.create_batch()
        if builder.append(key=key, value=value, timestamp=None, headers=record_headers) is None:
            raise MessageSizeTooLargeError(f"a message of {len(value)} bytes to {topic}")
        builders.append((builder, [1]))
    sent = []
    for (topic, partition), builders in batches.items():
        for builder, count in builders:
            future = await producer.send_batch(builder, topic, partition=partition)
            sent.append((topic, partition, count[0], future))
    added: Counter[tuple[str, int]] = Counter()
    await asyncio.gather(*(future for *_, future in sent))
    for topic, partition, count_, _ in sent:
        added[(topic, partition)] += count_
    return added


class OutboxRelay:
    def __init__(
        self,
        *,
        name: str,
        application: Application[Any],
        mapper: EventMapper,
        broker: KafkaBroker,
        bootstrap: str,
        engine: Engine,
        batch_size: int = 2000,
        poll_interval: float = 0.2,
        check_interval: float = 5.0,
        topics: TopicLayout = DEFAULT_TOPIC_LAYOUT,
        lease_seconds: float = 10.0,
    ) -> None:
        self.name = name
        self.topics = topics
        self.app = application
        self.mapper = mapper
        self.broker = broker
        self.bootstrap = bootstrap
        self.engine = engine
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.check_interval = check_interval
        # The topics last found on the broker (the partitions published to, in that epoch).
        self._topics_confirmed: tuple[frozenset[tuple[str, int]], str] | None = None
        self._topics_checked_until = 0.0
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._wakeup = asyncio.Event()
        self.published_total = 0
        # Times the loop died unexpectedly and was started again; why it last died, until it
        # publishes (or finds nothing to publish) again.
        self.restarts = 0
        self.failing: str | None = None
        metadata.create_all(engine)
        # Replicas of a service share its database: one of them publishes.
        self.lease = RelayLease(engine, name, lease_seconds)
        self.holding = False

    # -- state -------------------------------------------------------------------------------
    def _load(self) -> tuple[int, Counter[tuple[str, int]], str | None]:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(relay_position.c.position, relay_position.c.epoch).where(
                    relay_position.c.relay == self.name
                )
            ).first()
            counts: Counter[tuple[str, int]] = Counter()
            for topic, partition, published in conn.execute(
                select(
                    relay_counts.c.topic, relay_counts.c.partition, relay_counts.c.published
                ).where(relay_counts.c.relay == self.name)
            ):
                counts[(topic, partition)] = published
        return (row[0] if row else 0), counts, (row[1] if row else None)

    def _save(
        self,
        position: int,
        counts: Counter[tuple[str, int]],
        reset: bool = False,
        epoch: str | None = None,
        skipped: list[Unpublishable] | None = None,
    ) -> list[Unpublishable]:
        """Saves the position and counts, and records the skipped events with them (in one
        transaction, so a skipped event is never passed without its record), then logs those
        recorded now: one seen before (a republish) keeps its first record and is not logged
        again. Logged here, in the saving thread, so a relay stopped meanwhile still logs
        what it recorded. Returns the skipped events recorded now."""
        recorded: list[Unpublishable] = []
        with self.engine.begin() as conn:
            if skipped:
                now = dt.datetime.now(dt.UTC)
                insert = insert_for(conn)(relay_unpublished)
                for item in skipped:
                    result = conn.execute(
                        insert.values(**item.row(self.name, now)).on_conflict_do_nothing(
                            index_elements=["relay", "notification_id"]
                        )
                    )
                    if result.rowcount:
                        recorded.append(item)
            if reset:
                conn.execute(delete(relay_counts).where(relay_counts.c.relay == self.name))
            upsert(
                conn,
                relay_position,
                {"relay": self.name, "position": position, "epoch": epoch},
                ["relay"],
            )
            for (topic, partition), published in counts.items():
                upsert(
                    conn,
                    relay_counts,
                    {
                        "relay": self.name,
                        "topic": topic,
                        "partition": partition,
                        "published": published,
                    },
                    ["relay", "topic", "partition"],
                )
        if skipped:
            self._report(recorded, skipped)
        return recorded

    def unpublished(self) -> int:
        """How many stored events this relay skipped because it could not publish them."""
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    select(func.count())
                    .select_from(relay_unpublished)
                    .where(relay_unpublished.c.relay == self.name)
                ).scalar_one()
            )

    def health(self) -> RelayHealth:
        """Read from the shared database: any replica reports what the publishing one skipped."""
        return RelayHealth(self.unpublished(), self.restarts, self.failing)

    # -- publishing --------------------------------------------------------------------------
    def _read(self, position: int) -> list[Notification]:
        return list(
            self.app.recorder.select_notifications(
                start=position, limit=self.batch_size, inclusive_of_start=False
            )
        )

    def _messages(self, notification: Notification, spans: RelayBatch) -> list[Outgoing]:
        """The messages of one stored event (all of them or, when one fails, none)."""
        # Each message carries the trace context its event was stored in (kept in the stored
        # event by service_runtime.telemetry.TracingMapper), not the relay's.
        domain_event, carrier = stored_carrier(self.app.mapper, notification)
        # Everything that can fail first, so a failing event leaves no span behind.
        made = [
            (topic, event, event.partition_key(), event.model_dump_json().encode())
            for topic, event in self.mapper(domain_event)
        ]
        return [
            (
                topic,
                key,
                value,
                {**headers_for(event), **spans.headers(carrier, topic)},
                event.correlation_id,
            )
            for topic, event, key, value in made
        ]

    async def _publish(
        self, notifications: list[Notification], skipped: list[Unpublishable] | None = None
    ) -> Counter[tuple[str, int]]:
        """Publishes the batch's messages; a stored event that cannot be made into messages is
        appended to `skipped` instead (when given; else its error is raised)."""
        spans = RelayBatch(self.name)
        added: Counter[tuple[str, int]] = Counter()
        try:
            messages: list[Outgoing] = []
            for notification in notifications:
                try:
                    messages.extend(self._messages(notification, spans))
                except TRANSIENT_ERRORS:
                    raise
                except Exception as exc:
                    if skipped is None:
                        raise
                    skipped.append(Unpublishable(notification, exc))
            producer = kafka_producer(self.broker)
            if producer is not None:
                added = await publish_in_batches(producer, messages)
            else:
                futures = [
                    await self.broker.publish(
                        value,
                        topic=topic,
                        key=key,
                        headers=headers,
                        correlation_id=correlation_id,
                        no_confirm=True,
                    )
                    for topic, key, value, headers, correlation_id in messages
                ]
                for metadata_ in await asyncio.gather(*futures):
                    added[(metadata_.topic, metadata_.partition)] += 1
        except Exception as exc:
            spans.end(exc)
            raise
        spans.end()
        count_published(added)
        return added

    def _topics_to_check(self, counts: Counter[tuple[str, int]], epoch: str) -> bool:
        """Whether to ask the broker for the topics again: the relay published to a partition
        not confirmed yet, or the last confirmation is older than FULL_CHECK_SECONDS (a
        topic deleted by hand on a cluster that kept its epoch)."""
        now = time.monotonic()
        if now >= self._topics_checked_until or self._topics_confirmed != (
            frozenset(counts),
            epoch,
        ):
            self._topics_checked_until = now + FULL_CHECK_SECONDS
            return True
        return False

    async def broker_lost_events(self, counts: Counter[tuple[str, int]]) -> bool:
        """True when a topic this relay published to is missing from the broker, twice in a
        row (metadata read during a broker's restart can be incomplete). A broker that
        restarted empty is caught first by its epoch (see `_check`)."""
        for _ in range(2):
            missing = await missing_topics(self.bootstrap, {topic for topic, _ in counts})
            if not missing:
                return False
            await asyncio.sleep(1.0)
        log.warning("relay %s: the broker lacks the topics %s", self.name, ", ".join(missing))
        return True

    async def _check(
        self, position: int, counts: Counter[tuple[str, int]], epoch: str | None
    ) -> tuple[int, Counter[tuple[str, int]], str | None]:
        """Compare the broker with what was published; on a loss, start again from zero."""
        current = await broker_epoch(self.bootstrap)
        if current is None:
            return position, counts, epoch  # no answer: decide nothing
        lost = False
        if epoch is not None and current != epoch:
            log.warning(
                "relay %s: the broker's log is not the one published to (epoch %s, now %s)",
                self.name,
                epoch,
                current,
            )
            lost = True
        elif counts and self._topics_to_check(counts, current):
            if await self.broker_lost_events(counts):
                lost = True
            else:
                self._topics_confirmed = (frozenset(counts), current)
        if lost:
            # Declared topics first, or the first client to touch one creates it with the
            # broker's defaults (one partition on Tansu) and keys land elsewhere.
            await self.topics.ensure(self.bootstrap)
            log.warning("relay %s: republishing everything from the start", self.name)
            position, counts = 0, Counter()
            await asyncio.to_thread(self._save, position, counts, True, current)
        elif epoch != current:
            await asyncio.to_thread(self._save, position, counts, False, current)
        return position, counts, current

    def _report(self, recorded: list[Unpublishable], skipped: list[Unpublishable]) -> None:
        for item in recorded:
            n = item.notification
            log.error(
                "relay %s: stored event %s (%s, aggregate %s version %s) cannot be published; "
                "it stays in the event store, is recorded in outbox_unpublished and skipped",
                self.name,
                n.id,
                n.topic,
                n.originator_id,
                n.originator_version,
                exc_info=item.error,
            )
        if len(skipped) > len(recorded):
            # Seen before (a republish from the start): recorded and logged then.
            log.info(
                "relay %s: skipped again %d stored event(s) already in outbox_unpublished",
                self.name,
                len(skipped) - len(recorded),
            )

    async def run(self) -> None:
        """Publishes until stopped. An unexpected error from the loop is logged with its
        traceback and the loop starts again after a pause (see `_run_once`): never a task
        that dies in silence and leaves every later event unpublished."""
        delay = RESTART_FIRST_DELAY
        while not self._stopping.is_set():
            try:
                await self._run_once()
                return
            except Exception as exc:
                if self.failing is None:
                    delay = RESTART_FIRST_DELAY  # it had recovered since its last failure
                self.restarts += 1
                self.failing = f"{type(exc).__name__}: {exc}"
                log.exception(
                    "relay %s: stopped by an unexpected error; starting again in %.1fs",
                    self.name,
                    delay,
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), delay)
                delay = min(RESTART_MAX_DELAY, delay * 2)

    async def _run_once(self) -> None:
        position, counts, epoch = await asyncio.to_thread(self._load)
        loop = asyncio.get_running_loop()
        next_check = 0.0
        failures = 0
        while not self._stopping.is_set():
            try:
                if not await asyncio.to_thread(self.lease.hold):
                    self.holding = False
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stopping.wait(), self.lease.seconds / 3)
                    continue
                if not self.holding:
                    # Taken over (or first held): another replica may have published meanwhile.
                    self.holding = True
                    position, counts, epoch = await asyncio.to_thread(self._load)
                    next_check = 0.0
                if loop.time() >= next_check or failures:
                    position, counts, epoch = await self._check(position, counts, epoch)
                    next_check = loop.time() + self.check_interval
                notifications = await asyncio.to_thread(self._read, position)
                if not notifications:
                    failures = 0
                    self.failing = None
                    self._wakeup.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wakeup.wait(), self.poll_interval)
                    continue
                skipped: list[Unpublishable] = []
                added = await self._publish(notifications, skipped)
                counts.update(added)
                position = notifications[-1].id
                await asyncio.to_thread(self._save, position, counts, False, epoch, skipped)
                self.published_total += sum(added.values())
                failures = 0
                self.failing = None
            except TRANSIENT_ERRORS as exc:
                failures += 1
                delay = min(5.0, 0.2 * 2 ** min(failures, 5))
                log.warning(
                    "relay %s: publish failed (%r), retrying in %.1fs", self.name, exc, delay
                )
                await asyncio.sleep(delay)

    def wake(self) -> None:
        """Called after a save, so new events go out without waiting for the next poll."""
        self._wakeup.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name=f"outbox-relay-{self.name}")

    async def stop(self) -> None:
        self._stopping.set()
        self._wakeup.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        with contextlib.suppress(DBAPIError):
            await asyncio.to_thread(self.lease.release)


def envelope_fields(
    service: str,
    event: Any,
    *,
    tenant: str,
    correlation_id: str | None = None,
    causation_id: str | None = None,
    index: int | None = None,
) -> dict[str, Any]:
    """The envelope of an integration event mapped from a stored domain event. The event id
    is derived from (service, aggregate, version[, index]), so publishing it again keeps it;
    `index` tells apart several integration events from one stored event."""
    aggregate_id = str(event.originator_id)
    parts: list[object] = [service, aggregate_id, event.originator_version]
    if index is not None:
        parts.append(index)
    return {
        "event_id": derived_event_id(*parts),
        "occurred_at": event.timestamp,
        "tenant": tenant,
        "aggregate_id": aggregate_id,
        "aggregate_version": event.originator_version,
        "correlation_id": correlation_id or aggregate_id,
        "causation_id": causation_id or aggregate_id,
    }
