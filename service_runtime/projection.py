"""Projections: Kafka consumers that keep SQL read models, storing the offsets they consumed in
the same transaction as the rows they change.

Applying an event is idempotent (rows carry the aggregate version or the event id), so an event
delivered twice changes nothing the second time. The stored offsets let a projection resume
where it stopped; with each partition's offset the projection keeps the id of the last event it
applied there, and checks that event is still at that offset in the broker. When it is not (the
embedded broker forgot its topics and the relays published everything again, possibly at other
offsets), the projection reads that partition again from the beginning.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import threading
import time
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.errors import IllegalStateError, KafkaError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    delete,
    select,
)
from sqlalchemy.sql.dml import UpdateBase

from contracts.envelope import Envelope
from contracts.registry import EVENT_MODELS, UnknownEventType, head_model, parse_event
from service_runtime.kafka import (
    DEFAULT_TOPIC_LAYOUT,
    OnAssigned,
    TopicLayout,
    broker_epoch,
    header,
    records_at,
)
from service_runtime.sql import DialectInsert, cached, write_many
from service_runtime.telemetry import ConsumerBatch, attached, register_consumer
from service_runtime.topic_reader import TopicReader, decode_batch

log = logging.getLogger(__name__)

offsets_metadata = MetaData()
projection_offsets = Table(
    "projection_offsets",
    offsets_metadata,
    Column("projection", String(100), primary_key=True),
    Column("topic", String(249), primary_key=True),
    Column("partition", Integer, primary_key=True),
    Column("next_offset", Integer, nullable=False),
    Column("last_event_id", String(64), nullable=True),
    Column("epoch", String(64), nullable=True),
)


class Projection(ABC):
    """A read model built from topics. Subclasses declare their tables in `metadata` and apply
    events idempotently."""

    name: str
    topics: tuple[str, ...]
    metadata: MetaData
    # The event types `apply` has any use for (None: every type). The runtime passes over the
    # others without parsing them (their type is read from the head of the body; parsing is
    # most of the cost of an event a projection ignores); their offsets still advance.
    event_types: frozenset[str] | None = None
    # Indexes that only the read model's readers (the HTTP handlers) use, and its events of
    # `reader_index_events` (an erasure, which finds a debtor's rows by document). A rebuild
    # into a new file (`replay_together(..., bulk=True)`) builds them once at its end, from
    # the whole table, rather than one entry per row written: their entries go in in
    # whatever order the rows come, which costs SQLite more than writing the rows did.
    reader_indexes: tuple[Index, ...] = ()
    reader_index_events: frozenset[str] = frozenset({"PersonalDataErased"})

    @abstractmethod
    def apply(self, conn: Connection, events: list[Envelope]) -> None:
        """Apply events in the order they were read from one partition."""

    def prepare(self, events: Sequence[Envelope]) -> None:
        """Called with a whole batch before it is applied, outside its transaction: fetch at
        once what applying the events one by one would ask for one at a time (the keys of
        the debtors whose personal data the batch opens)."""
        return None

    def create_tables(self, engine: Engine) -> None:
        self.metadata.create_all(engine)
        offsets_metadata.create_all(engine)

    def reset(self, conn: Connection) -> None:
        for table in reversed(self.metadata.sorted_tables):
            conn.execute(delete(table))
        conn.execute(delete(projection_offsets).where(projection_offsets.c.projection == self.name))


class Record(Protocol):
    """What a projection reads of a record: a consumer's `ConsumerRecord`, or a replay's
    `ReadRecord` (service_runtime.topic_reader)."""

    @property
    def offset(self) -> int: ...

    @property
    def value(self) -> Any: ...

    @property
    def headers(self) -> Sequence[tuple[str, bytes]]: ...


RecordsByPartition = Mapping[TopicPartition, Sequence[Record]]


def event_types_of(*handled: type[Envelope]) -> frozenset[str]:
    """The types of every known event model that is one of `handled` or derives from one (what
    `isinstance(event, handled)` picks out): a projection's `event_types`."""
    return frozenset(
        event_type for (event_type, _), model in EVENT_MODELS.items() if issubclass(model, handled)
    )


def store_position(
    conn: Connection,
    name: str,
    tp: TopicPartition,
    last: Record,
    epoch: str | None,
) -> None:
    """Remember the next offset to read in a partition, and which event was the last."""
    store_positions(conn, name, [(tp, last)], epoch)


def _positions_upsert(insert: DialectInsert) -> UpdateBase:
    ins = insert(projection_offsets)
    return ins.on_conflict_do_update(
        index_elements=["projection", "topic", "partition"],
        set_={c: ins.excluded[c] for c in ("next_offset", "last_event_id", "epoch")},
    )


def store_positions(
    conn: Connection,
    name: str,
    lasts: Iterable[tuple[TopicPartition, Record]],
    epoch: str | None,
) -> None:
    """`store_position` of many partitions (each once) in one statement (built once per
    dialect: building it anew for every batch and partition cost more than its rows)."""
    rows = [
        {
            "projection": name,
            "topic": tp.topic,
            "partition": tp.partition,
            "next_offset": last.offset + 1,
            "last_event_id": record_event_id(last),
            "epoch": epoch,
        }
        for tp, last in lasts
    ]
    if rows:
        write_many(conn, cached(conn, "projection_positions", _positions_upsert), rows)


def stored_positions(
    engine: Engine, name: str
) -> dict[tuple[str, int], tuple[int, str | None, str | None]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                projection_offsets.c.topic,
                projection_offsets.c.partition,
                projection_offsets.c.next_offset,
                projection_offsets.c.last_event_id,
                projection_offsets.c.epoch,
            ).where(projection_offsets.c.projection == name)
        )
        return {(r.topic, r.partition): (r.next_offset, r.last_event_id, r.epoch) for r in rows}


class Applier(Protocol):
    """What a positioned consumer needs: apply records, and where it stopped."""

    name: str
    topics: tuple[str, ...]
    epoch: str | None

    def stored_positions(self) -> dict[tuple[str, int], tuple[int, str | None, str | None]]: ...

    def apply_records(self, records_by_tp: RecordsByPartition) -> None: ...


def record_event_id(record: Record) -> str | None:
    return header(record.headers or (), "event-id")


class CollectorPause:
    """Python's cyclic garbage collector held off while batches are applied. A batch's events
    and rows all live until it is written and make no reference cycles, yet with the older
    generations frozen (`ServiceHost.running`, `replay`) they set off full passes again and
    again that walk them all and free nothing. The collector is process-wide and projections
    apply their batches in threads of their own: it is off while any batch is being applied
    (unless it was off already), and runs as usual again once none is (freeing a batch's
    cycles, if any, then). Should batches follow one another without a gap for longer than
    `longest` seconds, the batch that ends collects the young generations."""

    def __init__(self, longest: float = 30.0) -> None:
        self.longest = longest
        self._lock = threading.Lock()
        self._active = 0
        self._owned = False  # this pause turned the collector off (and turns it on again)
        self._since = 0.0

    def __enter__(self) -> None:
        with self._lock:
            if self._active == 0 and gc.isenabled():
                gc.disable()
                self._owned = True
                self._since = time.monotonic()
            self._active += 1

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._active -= 1
            if not self._owned:
                return
            if self._active == 0:
                self._owned = False
                gc.enable()
            elif time.monotonic() - self._since > self.longest:
                self._since = time.monotonic()
                gc.collect(1)


collector_paused = CollectorPause()


class BatchApplier:
    """Applies records of one partition and stores the next offset in one transaction."""

    def __init__(self, projection: Projection, engine: Engine) -> None:
        self.projection = projection
        self.name = projection.name
        self.topics = projection.topics
        self.engine = engine
        projection.create_tables(engine)
        self.skipped = 0
        # The models of the events the projection has no use for: passed over unparsed.
        wanted = projection.event_types
        self.unused: frozenset[type[Envelope]] = frozenset(
            model
            for (event_type, _), model in EVENT_MODELS.items()
            if wanted is not None and event_type not in wanted
        )
        # The broker log the offsets refer to (see service_runtime.kafka.broker_epoch).
        self.epoch: str | None = None

    def stored_positions(self) -> dict[tuple[str, int], tuple[int, str | None, str | None]]:
        return stored_positions(self.engine, self.name)

    def apply_records(self, records_by_tp: RecordsByPartition) -> None:
        with collector_paused:
            self._apply_records(records_by_tp)

    def _apply_records(self, records_by_tp: RecordsByPartition) -> None:
        parsed = parse_records(records_by_tp, self.unused, self.name, self._skip)
        self.projection.prepare([event for events in parsed.values() for event in events])
        with self.engine.begin() as conn:
            self.apply_parsed(conn, parsed, records_by_tp)

    def _skip(self) -> None:
        self.skipped += 1

    def apply_parsed(
        self,
        conn: Connection,
        parsed: dict[TopicPartition, list[Envelope]],
        records_by_tp: RecordsByPartition,
    ) -> None:
        """Apply a batch already parsed (and `prepare`d) and store its positions, in the
        caller's transaction."""
        for events in parsed.values():
            if events:
                self.projection.apply(conn, events)
        store_positions(
            conn,
            self.name,
            ((tp, records[-1]) for tp, records in records_by_tp.items() if records),
            self.epoch,
        )


def parse_records(
    records_by_tp: RecordsByPartition,
    unused: frozenset[type[Envelope]],
    reader: str,
    on_skip: Callable[[], None],
) -> dict[TopicPartition, list[Envelope]]:
    """The events of each partition's records, in order, but for those whose model is in
    `unused` (passed over unparsed) and those this build cannot read (logged, counted with
    `on_skip`, and passed over: a newer schema must not stop a projection)."""
    parsed: dict[TopicPartition, list[Envelope]] = {}
    for tp, records in records_by_tp.items():
        events = parsed[tp] = []
        for record in records:
            try:
                # What parse_event does, once the head told the model (or that it is unused).
                model = head_model(record.value)
                if model is None:
                    events.append(parse_event(record.value))
                elif model not in unused:
                    events.append(model.model_validate_json(record.value))
            except (UnknownEventType, ValueError) as exc:
                on_skip()
                log.warning(
                    "%s: skipping %s[%d]@%d: %s",
                    reader,
                    tp.topic,
                    tp.partition,
                    record.offset,
                    exc,
                )
    return parsed


# A batch that keeps failing logs its traceback the first time and every this many tries
# after (one ERROR line each other time).
FAILING_TRACEBACK_EVERY = 60

# How often a projection reads back the last record of positions that did not move.
FULL_VERIFY_SECONDS = 60.0


class PositionedConsumer:
    """A FastStream batch subscriber that keeps its own positions (in the service's database,
    with what it applied) instead of committing offsets to Kafka: it seeks to them when it is
    given partitions, and reads a partition again from the start when the broker's log is not
    the one those positions refer to."""

    def __init__(
        self,
        applier: Applier,
        broker: KafkaBroker,
        bootstrap: str,
        group_id: str,
        consumer_kwargs: dict[str, Any],
        max_records: int = 1000,
        verify_interval: float = 5.0,
        topics: TopicLayout = DEFAULT_TOPIC_LAYOUT,
    ) -> None:
        self.applier = applier
        self.topics = topics
        self.name = applier.name
        self.bootstrap = bootstrap
        self.verify_interval = verify_interval
        self.assigned: set[TopicPartition] = set()
        self.applied = 0
        # For readiness: the next offset to apply in each assigned partition, and whether the
        # group gave this consumer its partitions yet (possibly none: more replicas than them).
        self.positions: dict[TopicPartition, int] = {}
        self.has_assignment = False
        self.after_batch: Callable[[], None] | None = None
        self.group_id = group_id
        # For the projection lag: when the last event applied in each partition was produced
        # (the record's timestamp, epoch milliseconds).
        self.applied_at_ms: dict[TopicPartition, int] = {}
        self._consumer_epoch: str | None = None
        # Positions whose last record was read back from the broker, and when every position
        # was last read back: an unchanged position in an unchanged epoch is read back only
        # every FULL_VERIFY_SECONDS, not at every verification.
        self._confirmed: dict[TopicPartition, tuple[int, str | None, str | None]] = {}
        self._full_verify_at = 0.0
        # The stale positions this consumer already went back to the start from: until it
        # stores a new one, it is reading again, and the next verification must not send it
        # back again (a long batch, the ruler's daily run, was started over every 5 s).
        self._rereading: dict[TopicPartition, tuple[int, str | None, str | None]] = {}
        self._task: asyncio.Task[None] | None = None
        # A batch that keeps failing (an event the projection cannot apply: it is read again
        # every second, and nothing after it is applied): the error's type (its text, which
        # may hold a row's data, only in the log) and how many times in a row, for readiness
        # (`/health/ready` warns while it lasts); None once a batch is applied again.
        self.failing: str | None = None
        self.failures = 0
        self.subscriber = broker.subscriber(
            *applier.topics,
            group_id=group_id,
            batch=True,
            max_records=max_records,
            # Positions live in our database; nothing is committed to Kafka.
            ack_policy=AckPolicy.MANUAL,
            listener=OnAssigned(self.seek_assigned),
            decoder=self._no_decode,
            **consumer_kwargs,
        )
        self.subscriber(self.handle)
        # Its lag is reported by the telemetry's gauges (when metrics are on).
        register_consumer(self)

    @staticmethod
    async def _no_decode(msg: Any) -> Any:
        # Records are parsed from the raw message below; skip FastStream's JSON decoding.
        return None

    @property
    def consumer(self) -> Any:
        return self.subscriber.consumer

    async def seek_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        positions = await asyncio.to_thread(self.applier.stored_positions)
        self.assigned = set(assigned)
        self.positions = {
            tp: stored[0] if (stored := positions.get((tp.topic, tp.partition))) else 0
            for tp in self.assigned
        }
        self.has_assignment = True
        self._rereading.clear()  # positions are taken from the store again below
        from_the_start: list[TopicPartition] = []
        for tp in self.assigned:
            stored = positions.get((tp.topic, tp.partition))
            if stored is None:
                from_the_start.append(tp)
            else:
                self.consumer.seek(tp, stored[0])
        if from_the_start:
            # All at once: each call waits for the fetch in flight to be discarded (up to the
            # fetch wait, 500 ms), and the timeline's 56 partitions one by one took 29 s.
            await self.consumer.seek_to_beginning(*from_the_start)
        # Not from inside the rebalance callback: a consumer cannot stop itself there.
        await self.verify(assigned, positions, may_restart=False)

    async def verify(
        self,
        tps: Iterable[TopicPartition],
        positions: dict[tuple[str, int], tuple[int, str | None, str | None]] | None = None,
        may_restart: bool = True,
    ) -> None:
        """Read again from the beginning any partition whose stored offset no longer points
        into the same broker log: another epoch, or the last applied event is not there."""
        if positions is None:
            positions = await asyncio.to_thread(self.applier.stored_positions)
        epoch = await broker_epoch(self.bootstrap)
        if epoch is not None:
            self.applier.epoch = epoch
            if self._consumer_epoch is None:
                self._consumer_epoch = epoch
            elif epoch != self._consumer_epoch and may_restart:
                # The broker restarted empty: a consumer that lived through it can keep stale
                # metadata and fetch nothing, so start a fresh one (it seeks on assignment).
                log.warning("%s: the broker's log changed; restarting the consumer", self.name)
                self._consumer_epoch = epoch
                # Declared topics first, or the first client to touch one creates it with the
                # broker's defaults (one partition on Tansu).
                await self.topics.ensure(self.bootstrap)
                await self.subscriber.stop()
                await self.subscriber.start()
                return
        restart: set[TopicPartition] = set()
        wanted: dict[TopicPartition, int] = {}
        now = asyncio.get_running_loop().time()
        full = not may_restart or epoch is None or now >= self._full_verify_at
        if full:
            self._full_verify_at = now + FULL_VERIFY_SECONDS
        for tp in tps:
            stored = positions.get((tp.topic, tp.partition))
            if stored is None or stored[0] == 0:
                continue
            if epoch is not None and stored[2] is not None and stored[2] != epoch:
                restart.add(tp)
            elif full or self._confirmed.get(tp) != (stored[0], stored[1], epoch):
                wanted[tp] = stored[0] - 1
        found = await records_at(self.bootstrap, wanted)
        for tp, record in found.items():
            stored = positions[(tp.topic, tp.partition)]
            if not isinstance(record, ConsumerRecord):
                continue  # no answer proves nothing
            # Only a record seen with another event id is proof.
            if record_event_id(record) != stored[1]:
                restart.add(tp)
                self._confirmed.pop(tp, None)
            else:
                self._confirmed[tp] = (stored[0], stored[1], epoch)
        for tp in restart:
            stored = positions[(tp.topic, tp.partition)]
            if may_restart and self._rereading.get(tp) == stored:
                continue  # already reading it again from the start
            log.warning(
                "%s: %s[%d] is not the log this projection read: reading it again from the start",
                self.name,
                tp.topic,
                tp.partition,
            )
            with contextlib.suppress(AssertionError, KafkaError, ValueError, IllegalStateError):
                # Not assigned to us any more: whoever has it verifies it on assignment.
                await self.consumer.seek_to_beginning(tp)
                self.positions[tp] = 0
                self._rereading[tp] = stored

    async def handle(self, body: Any, msg: KafkaMessage) -> None:
        raw = msg.raw_message
        records: Sequence[ConsumerRecord[Any, Any]] = (
            raw if isinstance(raw, tuple | list) else (raw,)
        )
        by_tp: dict[TopicPartition, list[ConsumerRecord[Any, Any]]] = defaultdict(list)
        for record in records:
            by_tp[TopicPartition(record.topic, record.partition)].append(record)
        # Spans in the traces the records carry (see telemetry.ConsumerBatch), current while
        # the batch is applied: what the applier saves keeps their context.
        batch = ConsumerBatch(self.group_id, records)
        try:
            with attached(batch.context):
                await asyncio.to_thread(self.applier.apply_records, by_tp)
        except Exception as exc:
            batch.finish(exc)
            # Nothing of the batch was kept: read it again after a pause.
            self.failures += 1
            self.failing = type(exc).__name__
            if self.failures == 1 or self.failures % FAILING_TRACEBACK_EVERY == 0:
                log.exception(
                    "%s: could not apply a batch (%d time(s) in a row); reading it again",
                    self.name,
                    self.failures,
                )
            else:
                log.error(
                    "%s: could not apply a batch (%d times in a row): %s: %s; reading it again",
                    self.name,
                    self.failures,
                    self.failing,
                    exc,
                )
            for tp, tp_records in by_tp.items():
                with contextlib.suppress(AssertionError, KafkaError, ValueError, IllegalStateError):
                    self.consumer.seek(tp, tp_records[0].offset)
            await asyncio.sleep(1.0)
            return
        batch.finish()
        if self.failing is not None:
            log.warning(
                "%s: a batch applied again after %d failure(s) (%s)",
                self.name,
                self.failures,
                self.failing,
            )
            self.failing, self.failures = None, 0
        self.applied += len(records)
        for tp, tp_records in by_tp.items():
            self.positions[tp] = tp_records[-1].offset + 1
            if tp_records[-1].timestamp is not None and tp_records[-1].timestamp > 0:
                self.applied_at_ms[tp] = tp_records[-1].timestamp
        if self.after_batch is not None:
            self.after_batch()

    @property
    def lag(self) -> int | None:
        """Events in the assigned partitions not applied yet, by the highwater marks the
        consumer last fetched; None before the first assignment or while a partition's
        highwater is not known yet (nothing fetched from it so far)."""
        if not self.has_assignment:
            return None
        total = 0
        for tp in set(self.assigned):
            try:
                highwater = self.consumer.highwater(tp)
            except (AssertionError, AttributeError, IllegalStateError):
                return None  # between assignments, or the consumer is not running
            if highwater is None:
                return None
            total += max(0, highwater - self.positions.get(tp, 0))
        return total

    def lag_by_partition(self) -> dict[TopicPartition, int]:
        """Events not applied yet in each assigned partition whose highwater mark is known
        (the consumer's last fetch); empty before the first assignment."""
        if not self.has_assignment:
            return {}
        lags: dict[TopicPartition, int] = {}
        for tp in set(self.assigned):
            try:
                highwater = self.consumer.highwater(tp)
            except (AssertionError, AttributeError, IllegalStateError):
                return {}
            if highwater is not None:
                lags[tp] = max(0, highwater - self.positions.get(tp, 0))
        return lags

    def seconds_behind(self, now: float | None = None) -> float | None:
        """How far the consumer is behind the newest event: 0 when every assigned partition
        is caught up, else the age of the oldest "last applied" event among the partitions
        still behind (what it shows is at least that old). None when unknown: no assignment
        yet, or nothing applied yet in a partition that is behind."""
        lags = self.lag_by_partition()
        if not lags:
            return None
        behind = [tp for tp, lag in lags.items() if lag > 0]
        if not behind:
            return 0.0
        stamps = [self.applied_at_ms.get(tp) for tp in behind]
        if any(stamp is None for stamp in stamps):
            return None
        now = time.time() if now is None else now
        return max(0.0, max(now - stamp / 1000 for stamp in stamps if stamp is not None))

    async def _verify_loop(self) -> None:
        while True:
            await asyncio.sleep(self.verify_interval)
            try:
                await self.verify(set(self.assigned))
            except Exception:
                log.exception("%s: verification failed", self.name)

    def start_verifier(self) -> None:
        self._task = asyncio.create_task(self._verify_loop())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()


# Records a replay applies in one transaction: 5,000 (as the analytics replay and the
# benchmark's plain read fetch them) rather than 2,000 cost each projection 3-8% less CPU
# per event (the queries and the commit of a batch shared by more events).
REPLAY_BATCH = 5000


async def replay(
    projection: Projection,
    engine: Engine,
    bootstrap: str,
    progress: Callable[[int, int], None] | None = None,
    batch_size: int = REPLAY_BATCH,
    idle_ms: int = 2000,
    bulk: bool = False,
) -> int:
    """Rebuild one projection from offset zero (`replay_together` of it alone)."""
    report = None if progress is None else (lambda _name, done, total: progress(done, total))
    counts = await replay_together(
        [projection], engine, bootstrap, report, batch_size, idle_ms, bulk=bulk
    )
    return counts[projection.name]


async def replay_together(
    projections: Sequence[Projection],
    engine: Engine,
    bootstrap: str,
    progress: Callable[[str, int, int], None] | None = None,
    batch_size: int = REPLAY_BATCH,
    idle_ms: int = 2000,
    bulk: bool = False,
) -> dict[str, int]:
    """Rebuild projections from offset zero until their topics have nothing more to give, in
    one pass: a record is read and parsed once however many of them use it, and a batch is
    applied to all of them in one transaction. Returns the records each projection read.
    It stops as it reads the last record the topics hold (`read_to_end`). `bulk`: the
    database is a new file nobody reads until the rebuild ends (`bulk_loaded_sqlite`), so
    the projections' `reader_indexes` are built at the end, not kept up row by row."""
    for projection in projections:
        projection.create_tables(engine)
    with engine.begin() as conn:
        for projection in projections:
            projection.reset(conn)
            if bulk:
                for index in projection.reader_indexes:
                    index.drop(conn, checkfirst=True)
    # What exists now (the modules, the models, the engine) lives as long as the rebuild:
    # the collector's full passes need not walk it again and again.
    gc.freeze()
    appliers = [BatchApplier(projection, engine) for projection in projections]
    epoch = await broker_epoch(bootstrap)
    for applier in appliers:
        applier.epoch = epoch
    topics = tuple(dict.fromkeys(t for projection in projections for t in projection.topics))
    together = TogetherApplier(appliers, engine, deferred_indexes=bulk)
    done = {applier.name: 0 for applier in appliers}
    try:
        # The topics are read in a process of its own, on the other core, while this one
        # applies what it read (see service_runtime.topic_reader).
        async with TopicReader(bootstrap, topics, batch_size, idle_ms) as reader:
            totals = {
                applier.name: sum(
                    end for tp, end in reader.ends.items() if tp.topic in applier.topics
                )
                for applier in appliers
            }
            if progress and reader.ends:
                for name, total in totals.items():
                    progress(name, 0, total)
            # The worker thread waits for the next batch itself, then applies it.
            while (read := await asyncio.to_thread(together.apply_next, reader)) is not None:
                for applier in appliers:
                    count = sum(n for topic, n in read.items() if topic in applier.topics)
                    if count:
                        done[applier.name] += count
                        if progress:
                            progress(
                                applier.name,
                                done[applier.name],
                                max(totals[applier.name], done[applier.name]),
                            )
        await asyncio.to_thread(together.build_deferred_indexes)
        return done
    finally:
        gc.unfreeze()


class TogetherApplier:
    """Applies a batch of records to several projections of one database: each record parsed
    once (unless none of them uses its type), each projection given its own topics' events of
    the types it uses, all of it and their positions in one transaction."""

    def __init__(
        self, appliers: Sequence[BatchApplier], engine: Engine, deferred_indexes: bool = False
    ) -> None:
        self.appliers = appliers
        self.engine = engine
        self.unused = frozenset.intersection(*(applier.unused for applier in appliers))
        self.skipped = 0
        # The projections whose reader indexes a bulk load has not built yet.
        self.deferred = {
            applier.name: applier.projection
            for applier in appliers
            if deferred_indexes and applier.projection.reader_indexes
        }

    def build_deferred_indexes(self, names: Iterable[str] | None = None) -> None:
        """Build the reader indexes deferred so far (of `names`, or all of them)."""
        wanted = [n for n in (self.deferred if names is None else names) if n in self.deferred]
        if not wanted:
            return
        with self.engine.begin() as conn:
            for name in wanted:
                for index in self.deferred.pop(name).reader_indexes:
                    index.create(conn, checkfirst=True)

    def _skip(self) -> None:
        self.skipped += 1

    def apply_next(self, reader: TopicReader) -> dict[str, int] | None:
        """Apply the reader's next batch; returns the records read by topic, or None once
        the topics are read to their end."""
        frame = reader.next_frame()
        if frame is None:
            return None
        batch = decode_batch(frame)
        if batch:
            self.apply_records(batch)
        read: dict[str, int] = defaultdict(int)
        for tp, records in batch.items():
            read[tp.topic] += len(records)
        return read

    def apply_records(self, records_by_tp: RecordsByPartition) -> None:
        with collector_paused:
            parsed = parse_records(records_by_tp, self.unused, "replay", self._skip)
            shares = []
            for applier in self.appliers:
                records = {tp: r for tp, r in records_by_tp.items() if tp.topic in applier.topics}
                if not records:
                    continue
                unused = applier.unused
                # Parsed leaving out what this projection does not use already (one
                # projection, or several using the same types): no second pass.
                events = (
                    {tp: parsed[tp] for tp in records}
                    if unused == self.unused
                    else {
                        tp: [event for event in parsed[tp] if type(event) not in unused]
                        for tp in records
                    }
                )
                if applier.name in self.deferred:
                    needing = applier.projection.reader_index_events
                    if any(e.type in needing for ev in events.values() for e in ev):
                        self.build_deferred_indexes([applier.name])
                applier.projection.prepare([event for ev in events.values() for event in ev])
                shares.append((applier, events, records))
            with self.engine.begin() as conn:
                for applier, events, records in shares:
                    applier.apply_parsed(conn, events, records)
