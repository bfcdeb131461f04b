"""Reading topics from offset zero to their end, for a replay.

`TopicReader` runs the reading in a process of its own (`python -m service_runtime.topic_reader`),
which writes the records to its standard output a batch at a time, framed: aiokafka's fetching
and decoding of records (what a plain read costs, the replay benchmark's (a)) then runs on
another core than the projections that apply them, instead of taking turns with them under one
interpreter lock. Only what a replay uses crosses the pipe: each record's offset and value, and
the event id of a partition's last record in the batch (its stored position).

This module imports aiokafka and the standard library only, so the reading process starts in a
fraction of a second."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import marshal
import struct
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import IO

from aiokafka import AIOKafkaConsumer, TopicPartition

# A frame: its length (4 bytes, big-endian), then a `marshal` of what it holds; length 0 ends.
_LENGTH = struct.Struct(">I")
# What the reader holds written but not yet read before it waits: a few batches ahead.
_READ_AHEAD = 16 * 1024 * 1024


def server_list(bootstrap: str) -> list[str]:
    """`host1:9092,host2:9092` as the list aiokafka needs (given one string, it takes the whole
    string for one host)."""
    return [server.strip() for server in bootstrap.split(",") if server.strip()]


async def partitions_of(consumer: AIOKafkaConsumer, topics: Iterable[str]) -> dict[str, set[int]]:
    """Partitions of each topic, from fresh cluster metadata (empty set: no such topic)."""
    cluster = await consumer._client.fetch_all_metadata()
    return {topic: set(cluster.partitions_for_topic(topic) or ()) for topic in topics}


async def read_to_end(
    consumer: AIOKafkaConsumer,
    tps: Iterable[TopicPartition],
    ends: Mapping[TopicPartition, int],
    *,
    fetched_nothing: bool,
) -> bool:
    """Whether a consumer reading `tps` from the start has read them to their end, so a replay
    can stop: each partition at or past its end offset read at the start (`ends`), and at or
    past the high watermark of the broker's last fetch response for it, unless a fetch has
    just come back empty (`fetched_nothing`: the old way to know it, one idle wait long).

    The embedded broker answers ListOffsets with the first offset of a partition's last record
    batch plus one, not the end of its log (1 after one batch of 10 records, measured), so
    `ends` alone would stop too soon; its fetch responses carry the end of the log, as Kafka's
    do. With them a replay stops as it reads the last record instead of waiting for an empty
    fetch."""
    for tp in tps:
        position = await consumer.position(tp)
        if position < ends[tp]:
            return False
        highwater = consumer.highwater(tp)
        if (highwater is None or position < highwater) and not fetched_nothing:
            return False
    return True


@dataclass(slots=True)
class ReadRecord:
    """A record as a replay applies it: its offset and value, and its headers (the event id,
    on a partition's last record of a batch only: the position a projection stores)."""

    offset: int
    value: bytes | None
    headers: Sequence[tuple[str, bytes]] = ()
    # Not frozen: a frozen dataclass sets each field through object.__setattr__, three times
    # the cost of making one, for every record of a replay.


Batch = dict[TopicPartition, list[ReadRecord]]


def _event_id(headers: Sequence[tuple[str, bytes]]) -> bytes | None:
    """The event-id header's value, as the record carries it (bytes, as a consumer's)."""
    for key, value in headers:
        if key == "event-id":
            return value
    return None


def decode_batch(frame: bytes) -> Batch:
    """The records of one frame, by partition, in order."""
    batch: Batch = {}
    for topic, partition, offsets, values, last_event_id in marshal.loads(frame):
        records = [ReadRecord(o, v) for o, v in zip(offsets, values, strict=True)]
        if last_event_id is not None:
            records[-1].headers = (("event-id", last_event_id),)
        batch[TopicPartition(topic, partition)] = records
    return batch


def _frame(payload: bytes) -> bytes:
    return _LENGTH.pack(len(payload)) + payload


async def read_topics(
    bootstrap: str, topics: Sequence[str], batch_size: int, idle_ms: int, out: IO[bytes]
) -> None:
    """Write to `out` the end offsets of the topics' partitions, then their records from offset
    zero a batch at a time until `read_to_end`, then an empty frame. Written through the event
    loop with a buffer of a few batches, so fetching goes on while the reader of `out` is busy."""
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin, out)
    transport.set_write_buffer_limits(high=_READ_AHEAD)
    writer = asyncio.StreamWriter(transport, protocol, None, loop)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=server_list(bootstrap),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        known = await partitions_of(consumer, topics)
        tps = [TopicPartition(topic, p) for topic in topics for p in sorted(known[topic])]
        ends = await consumer.end_offsets(tps) if tps else {}
        writer.write(
            _frame(marshal.dumps([(tp.topic, tp.partition, end) for tp, end in ends.items()]))
        )
        if tps:
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            while True:
                fetched = await consumer.getmany(timeout_ms=idle_ms, max_records=batch_size)
                parts = [
                    (
                        tp.topic,
                        tp.partition,
                        [r.offset for r in records],
                        [r.value for r in records],
                        _event_id(records[-1].headers or ()),
                    )
                    for tp, records in fetched.items()
                    if records
                ]
                if parts:
                    writer.write(_frame(marshal.dumps(parts)))
                    await writer.drain()
                if await read_to_end(consumer, tps, ends, fetched_nothing=not parts):
                    break
        writer.write(_frame(b""))
        # Everything written before this process ends: a drain with no buffer allowed waits
        # for the buffer to empty.
        transport.set_write_buffer_limits(high=0, low=0)
        await writer.drain()
        writer.close()
    finally:
        await consumer.stop()


def _widen(pipe: IO[bytes]) -> None:
    """A pipe of 1 MB rather than 64 KB (Linux): fewer turns between the two processes."""
    # On another system, or under a lower limit, the default pipe works too.
    with contextlib.suppress(AttributeError, OSError):
        fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, 1024 * 1024)


class TopicReader:
    """The reading process of one replay: `ends` once started, then `next_frame()` until None
    (the topics read to their end). Its errors are raised here with what it printed."""

    def __init__(
        self, bootstrap: str, topics: Sequence[str], batch_size: int, idle_ms: int
    ) -> None:
        self.command = [
            sys.executable,
            "-m",
            "service_runtime.topic_reader",
            bootstrap,
            str(batch_size),
            str(idle_ms),
            *topics,
        ]
        self.ends: dict[TopicPartition, int] = {}
        self._process: subprocess.Popen[bytes] | None = None
        # What it prints (its errors), read only when it fails: a file, never a full pipe.
        self._errors = tempfile.TemporaryFile()  # noqa: SIM115 (closed in __aexit__)

    async def __aenter__(self) -> TopicReader:
        self._process = subprocess.Popen(
            self.command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._errors,
        )
        assert self._process.stdout is not None
        _widen(self._process.stdout)
        first = await asyncio.to_thread(self.next_frame)
        if first is None:
            raise RuntimeError(f"the topic reader ended before it started: {self._failure()}")
        self.ends = {TopicPartition(t, p): end for t, p, end in marshal.loads(first)}
        return self

    def next_frame(self) -> bytes | None:
        """The next batch as the reader framed it (`decode_batch` gives its records), or None
        once the topics are read to their end. It waits for the reader: call it from the
        thread that applies the batches (the wait holds no lock)."""
        assert self._process is not None and self._process.stdout is not None
        head = self._process.stdout.read(_LENGTH.size)
        if len(head) == _LENGTH.size:
            (size,) = _LENGTH.unpack(head)
            if not size:
                return None
            frame = self._process.stdout.read(size)
            if len(frame) == size:
                return frame
        raise RuntimeError(f"the topic reader stopped: {self._failure()}")

    def _failure(self) -> str:
        assert self._process is not None
        code = self._process.wait()
        self._errors.seek(0)
        said = self._errors.read().decode(errors="replace").strip()
        return f"exit code {code}: {said[-2000:] or '(nothing printed)'}"

    async def __aexit__(self, *exc: object) -> None:
        process = self._process
        if process is not None:
            if process.returncode is None and exc[0] is not None:
                process.kill()
            await asyncio.to_thread(process.wait)
            if process.stdout is not None:
                process.stdout.close()
        self._errors.close()


def main(argv: Sequence[str]) -> None:
    bootstrap, batch_size, idle_ms, *topics = argv
    asyncio.run(read_topics(bootstrap, topics, int(batch_size), int(idle_ms), sys.stdout.buffer))


if __name__ == "__main__":
    main(sys.argv[1:])
