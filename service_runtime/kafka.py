"""Kafka plumbing shared by the services: the FastStream broker, consumer settings that
suit both a real cluster and the embedded Tansu, and idempotent topic creation."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, OffsetOutOfRangeError, TopicAlreadyExistsError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage

from contracts.topics import TOPICS, TopicSpec
from service_runtime.settings import Settings
from service_runtime.topic_reader import partitions_of as partitions_of
from service_runtime.topic_reader import read_to_end as read_to_end
from service_runtime.topic_reader import server_list as server_list

log = logging.getLogger(__name__)


BOOTSTRAP_FILE = "kafka-bootstrap"


class NoKafkaConfigured(RuntimeError):
    """Neither a cluster configured nor an embedded broker running: nothing to connect to."""


def bootstrap_servers(settings: Settings) -> str:
    """The configured cluster, or the embedded broker `cobranca up` is running right now
    (it writes its address under the data dir), so `cobranca replay` works beside it."""
    if not settings.kafka_bootstrap:
        running = settings.data_path / BOOTSTRAP_FILE
        if running.exists():
            return running.read_text().strip()
        raise NoKafkaConfigured(
            "COBRANCA_KAFKA_BOOTSTRAP is not set: run the platform with `cobranca up`, "
            "which starts the embedded broker, or point it at a Kafka cluster"
        )
    return settings.kafka_bootstrap


class ServiceBroker(KafkaBroker):
    """FastStream's Kafka broker, starting its subscribers together: a consumer's start waits
    until its group gives it partitions (about 3 s on Tansu, more on a busy cluster), and a
    service with a dozen subscribers would otherwise wait for each in turn."""

    async def start(self) -> None:
        await self.connect()
        # Subscribers outside any group get their partitions at once and start first: the
        # business clock's follower is one, so it reads the date while the grouped ones are
        # still joining their groups.
        subscribers = list(self.subscribers)
        for subscriber in subscribers:
            if getattr(subscriber, "group_id", None) is None:
                await subscriber.start()
        await asyncio.gather(
            *(s.start() for s in subscribers if getattr(s, "group_id", None) is not None)
        )
        for publisher in self.publishers:
            await publisher.start()
        self.running = True


async def _no_decode(msg: Any) -> Any:
    # Records are parsed from the raw message; skip FastStream's JSON decoding.
    return None


def follow_without_group(
    broker: KafkaBroker,
    topic: str,
    consumer_kwargs: dict[str, Any],
    apply: Callable[..., None],
    **overrides: Any,
) -> Any:
    """A subscriber outside any consumer group (it gets every partition, commits nothing, and
    every process reads the whole topic), passing the batch's raw values to `apply`. Declare it
    before the broker starts."""
    subscriber = broker.subscriber(
        topic,
        group_id=None,
        batch=True,
        ack_policy=AckPolicy.MANUAL,
        decoder=_no_decode,
        **{**consumer_kwargs, **overrides},
    )

    async def handle(body: Any, msg: KafkaMessage) -> None:
        raw = msg.raw_message
        records = tuple(raw) if isinstance(raw, tuple | list) else (raw,)
        apply(*(record.value for record in records))

    subscriber(handle)
    return subscriber


def make_broker(settings: Settings, client_id: str, **kwargs: Any) -> KafkaBroker:
    logger = logging.getLogger(f"cobranca.{client_id}.kafka")
    # FastStream logs every message at INFO: keep warnings and errors only.
    logger.setLevel(logging.WARNING)
    return ServiceBroker(
        server_list(bootstrap_servers(settings)),
        client_id=client_id,
        request_timeout_ms=15000,
        retry_backoff_ms=200,
        # Tansu rejects idempotent producers; correctness comes from idempotent consumers.
        enable_idempotence=False,
        acks="all",
        # Big batches: a carteira's rows share one key (its import) and so one partition, and
        # aiokafka's 16 KiB default caps such a partition at about a thousand messages a second.
        linger_ms=10,
        max_batch_size=1024 * 1024,
        max_request_size=4 * 1024 * 1024,
        logger=logger,
        **kwargs,
    )


def consumer_settings(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for every subscriber: commit only what was processed, start from the
    beginning when nothing is committed (or the broker forgot it), short group timeouts."""
    return {
        "auto_offset_reset": "earliest",
        "session_timeout_ms": settings.kafka_session_timeout_ms,
        "heartbeat_interval_ms": settings.kafka_heartbeat_interval_ms,
        "max_poll_interval_ms": 300_000,
    }


async def ensure_topics(
    bootstrap: str,
    topics: Iterable[TopicSpec] = TOPICS,
    partitions: int | None = None,
    replication: int = 1,
    timeout: float = 30.0,
    min_insync_replicas: int | None = None,
) -> list[str]:
    """Create the declared topics that do not exist yet. Returns the names created."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        admin = AIOKafkaAdminClient(
            bootstrap_servers=server_list(bootstrap), request_timeout_ms=10000
        )
        try:
            await admin.start()
            existing = set(await admin.list_topics())
            wanted = [t for t in topics if t.name not in existing]
            created: list[str] = []
            for spec in wanted:
                configs = {"retention.ms": str(spec.retention_ms)}
                if min_insync_replicas is not None:
                    configs["min.insync.replicas"] = str(min_insync_replicas)
                try:
                    await admin.create_topics(
                        [
                            NewTopic(
                                spec.name,
                                num_partitions=partitions or spec.partitions,
                                replication_factor=replication,
                                topic_configs=configs,
                            )
                        ]
                    )
                    created.append(spec.name)
                except TopicAlreadyExistsError:
                    pass
            return created
        except KafkaError as exc:
            if asyncio.get_running_loop().time() > deadline:
                raise
            log.info("waiting for Kafka at %s to create topics: %s", bootstrap, exc)
            await asyncio.sleep(0.5)
        finally:
            await admin.close()


@dataclass(frozen=True)
class TopicLayout:
    """How the platform makes its topics (from the settings): partitions, copies and
    min.insync.replicas. Every place that may create a topic uses it, so a topic made again
    after a broker lost it has the same layout as at the start."""

    partitions: int | None = None
    replication: int = 1
    min_insync_replicas: int | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> TopicLayout:
        return cls(
            settings.topic_partitions,
            settings.topic_replication,
            settings.topic_min_insync_replicas,
        )

    def declared_partitions(self) -> TopicLayout:
        """This layout's copies with each topic's own partition count (one partition where
        order matters, as for the clock's commands)."""
        return TopicLayout(None, self.replication, self.min_insync_replicas)

    async def ensure(self, bootstrap: str, topics: Iterable[TopicSpec] = TOPICS) -> list[str]:
        return await ensure_topics(
            bootstrap,
            topics,
            partitions=self.partitions,
            replication=self.replication,
            min_insync_replicas=self.min_insync_replicas,
        )


# The settings' defaults, for relays and projections made without settings (tests, tools).
DEFAULT_TOPIC_LAYOUT = TopicLayout(partitions=4)

Headers = Iterable[tuple[str, bytes]] | Mapping[str, str]


def header(headers: Headers | None, name: str) -> str | None:
    """A header's value from a raw record's (str, bytes) list or FastStream's dict."""
    if headers is None:
        return None
    if isinstance(headers, Mapping):
        value = headers.get(name)
        return None if value is None else str(value)
    for key, raw in headers:
        if key == name:
            return raw.decode() if isinstance(raw, bytes) else str(raw)
    return None


class OnAssigned(ConsumerRebalanceListener):  # type: ignore[misc]
    """Calls back when the group gives this consumer partitions (to seek, or to say ready)."""

    def __init__(self, callback: Callable[[set[TopicPartition]], Awaitable[None]]) -> None:
        self.callback = callback

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        pass

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await self.callback(assigned)


class Absent:
    """The partition certainly does not hold the offset (no such topic or partition, or the
    offset is past its end)."""

    def __repr__(self) -> str:
        return "ABSENT"


class Unknown:
    """No answer in time (a busy broker or machine): decide nothing on it."""

    def __repr__(self) -> str:
        return "UNKNOWN"


ABSENT = Absent()
UNKNOWN = Unknown()
Lookup: TypeAlias = ConsumerRecord[Any, Any] | Absent | Unknown


async def records_at(
    bootstrap: str, wanted: dict[TopicPartition, int], timeout: float = 10.0
) -> dict[TopicPartition, Lookup]:
    """The record at the given offset of each partition, read with one short-lived consumer.
    Reading, not end offsets: Tansu reports those a batch late."""
    found: dict[TopicPartition, Lookup] = dict.fromkeys(wanted, UNKNOWN)
    if not wanted:
        return found
    consumer = AIOKafkaConsumer(
        bootstrap_servers=server_list(bootstrap),
        enable_auto_commit=False,
        auto_offset_reset="none",
        fetch_max_wait_ms=200,
    )
    try:
        await consumer.start()
        known = await partitions_of(consumer, {tp.topic for tp in wanted})
        present = {tp for tp in wanted if tp.partition in known[tp.topic]}
        for tp in set(wanted) - present:
            found[tp] = ABSENT
        if not present:
            return found
        consumer.assign(list(present))
        for tp in present:
            consumer.seek(tp, wanted[tp])
        pending = set(present)
        deadline = asyncio.get_running_loop().time() + timeout
        while pending and asyncio.get_running_loop().time() < deadline:
            try:
                batch = await consumer.getmany(*pending, timeout_ms=500, max_records=1)
            except OffsetOutOfRangeError as exc:
                out = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {}
                for tp in out:
                    found[tp] = ABSENT
                    pending.discard(tp)
                continue
            for tp, records in batch.items():
                for record in records:
                    if record.offset == wanted[tp]:
                        found[tp] = record
                        pending.discard(tp)
                    elif record.offset > wanted[tp]:
                        # Compacted away or skipped: not there.
                        found[tp] = ABSENT
                        pending.discard(tp)
        return found
    except KafkaError as exc:
        log.info("could not read records at %s: %r", wanted, exc)
        return found
    finally:
        await consumer.stop()


EPOCH_TOPIC = "cobranca.epoch"


# Every projection and relay of a process checks the epoch every few seconds, each with its
# own short-lived consumer (a gateway at rest opened 15 connections every 5 s): one answer
# serves all the checks of a process for this long.
EPOCH_SHARED_SECONDS = 2.0
_epochs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, tuple[float, str]]] = (
    weakref.WeakKeyDictionary()
)
_epoch_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


async def broker_epoch(
    bootstrap: str, timeout: float = 10.0, max_age: float = EPOCH_SHARED_SECONDS
) -> str | None:
    """The identity of the broker's log: the first message of a one-partition marker topic,
    written by whoever finds it missing. A broker that forgot its topics (Tansu restarted)
    gets a new epoch; a real cluster keeps one forever. None when the broker did not answer
    in time. An answer read less than `max_age` seconds ago in this process is reused."""
    loop = asyncio.get_running_loop()
    lock = _epoch_locks.setdefault(loop, {}).setdefault(bootstrap, asyncio.Lock())
    async with lock:
        known = _epochs.setdefault(loop, {})
        cached = known.get(bootstrap)
        if cached is not None and loop.time() - cached[0] < max_age:
            return cached[1]
        epoch = await _read_broker_epoch(bootstrap, timeout)
        if epoch is not None:
            known[bootstrap] = (loop.time(), epoch)
        return epoch


async def _read_broker_epoch(bootstrap: str, timeout: float) -> str | None:
    import uuid

    from aiokafka import AIOKafkaProducer

    tp = TopicPartition(EPOCH_TOPIC, 0)
    for _ in range(2):
        found = (await records_at(bootstrap, {tp: 0}, timeout=timeout))[tp]
        if isinstance(found, ConsumerRecord):
            value = found.value
            return value.decode() if isinstance(value, bytes) else str(value)
        if found is UNKNOWN:
            # An empty existing topic also reads as unknown: write the marker then read again.
            pass
        admin = AIOKafkaAdminClient(
            bootstrap_servers=server_list(bootstrap), request_timeout_ms=10000
        )
        try:
            await admin.start()
            if EPOCH_TOPIC not in set(await admin.list_topics()):
                # As many copies as the cluster allows, up to three: the marker must outlive
                # the loss of one broker, or every relay would think the log was lost.
                cluster = await admin.describe_cluster()
                copies = max(1, min(3, len(cluster.get("brokers", []))))
                with contextlib.suppress(TopicAlreadyExistsError):
                    await admin.create_topics(
                        [
                            NewTopic(
                                EPOCH_TOPIC,
                                num_partitions=1,
                                replication_factor=copies,
                                topic_configs={"retention.ms": "-1"},
                            )
                        ]
                    )
        except KafkaError:
            return None
        finally:
            await admin.close()
        producer = AIOKafkaProducer(
            bootstrap_servers=server_list(bootstrap), enable_idempotence=False
        )
        try:
            await producer.start()
            # Only the first marker counts: later ones (a race) are never read.
            ends = await _end_offset(bootstrap, tp)
            if ends == 0:
                await producer.send_and_wait(EPOCH_TOPIC, uuid.uuid4().hex.encode(), partition=0)
        except KafkaError:
            return None
        finally:
            await producer.stop()
    return None


async def _end_offset(bootstrap: str, tp: TopicPartition) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=server_list(bootstrap), enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([tp])
        return int((await consumer.end_offsets([tp]))[tp])
    finally:
        await consumer.stop()


UNKNOWN_TOPIC_OR_PARTITION = 3


async def missing_topics(bootstrap: str, topics: Iterable[str]) -> list[str]:
    """Topics the broker says do not exist (asked by name; an error asking says nothing)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=server_list(bootstrap), request_timeout_ms=10000)
    try:
        await admin.start()
        described = await admin.describe_topics(sorted(topics))
    except KafkaError:
        return []
    finally:
        await admin.close()
    return sorted(
        t["topic"] for t in described if t.get("error_code") == UNKNOWN_TOPIC_OR_PARTITION
    )
