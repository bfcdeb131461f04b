"""Waiting for the platform to settle: every consumer group has read every topic to its end and
nothing new was published for a moment. The simulator acts on a settled platform each day, so
what a debtor sees (offers, call lists) does not depend on how fast the services were."""

from __future__ import annotations

import asyncio
import time
from typing import Self

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from service_runtime.kafka import partitions_of, server_list

# Groups that never commit (request/reply listeners, followers) have nothing to catch up on.
_IGNORED_TOPIC_PREFIXES = ("__", "_schemas")
# A fetch of records the broker holds is answered at once; this is for a leader that does not.
_FETCH_TIMEOUT = 1.0


class PlatformIdle:
    """A connection to the cluster for repeated idleness checks."""

    def __init__(self, admin: AIOKafkaAdminClient, consumer: AIOKafkaConsumer) -> None:
        self.admin = admin
        self.consumer = consumer
        # Each partition's last answer to ListOffsets, with the end of its log learned then.
        self._learned: dict[TopicPartition, tuple[int, int]] = {}

    @classmethod
    async def connect(cls, bootstrap: str) -> Self:
        """Made in a running event loop, as aiokafka's clients must be."""
        idle = cls(
            AIOKafkaAdminClient(bootstrap_servers=server_list(bootstrap)),
            AIOKafkaConsumer(bootstrap_servers=server_list(bootstrap), enable_auto_commit=False),
        )
        await idle.start()
        return idle

    async def start(self) -> None:
        await self.admin.start()
        await self.consumer.start()

    async def stop(self) -> None:
        await self.consumer.stop()
        await self.admin.close()

    async def _ends(self) -> dict[TopicPartition, int]:
        topics = [
            t for t in await self.admin.list_topics() if not t.startswith(_IGNORED_TOPIC_PREFIXES)
        ]
        known = await partitions_of(self.consumer, topics)
        partitions = [TopicPartition(t, p) for t, ps in known.items() for p in ps]
        if not partitions:
            return {}
        return await self._log_ends(dict(await self.consumer.end_offsets(partitions)))

    async def _log_ends(self, ends: dict[TopicPartition, int]) -> dict[TopicPartition, int]:
        """`ends` (ListOffsets' answers) raised to the end of each partition's log. The embedded
        broker answers ListOffsets with the first offset of a partition's last record batch plus
        one (1 after one batch of 10 records), so a group partway into that batch would look
        caught up; its fetch responses carry the end of the log, as Kafka's do (`read_to_end`)."""
        # An unchanged answer is an unchanged log (a record appended makes a new batch, which
        # moves it): the end learned with it still holds, and a quiet platform costs no fetch.
        # End 0: an empty partition, nothing to fetch (any record makes it 1 or more).
        learned = {
            tp: known for tp, known in self._learned.items() if tp in ends and known[0] == ends[tp]
        }
        unknown = [tp for tp, end in ends.items() if end > 0 and tp not in learned]
        if unknown:
            learned.update(await self._fetch_ends(unknown, ends))
        self._learned = learned
        return {tp: learned[tp][1] if tp in learned else end for tp, end in ends.items()}

    async def _fetch_ends(
        self, tps: list[TopicPartition], ends: dict[TopicPartition, int]
    ) -> dict[TopicPartition, tuple[int, int]]:
        """Each partition's answer to ListOffsets and the high watermark of a fetch from just
        before it: the start of its last batch on the embedded broker, its last record on Kafka
        (little to read). A partition whose leader did not answer in time is left out."""
        self.consumer.assign(tps)
        try:
            for tp in tps:
                self.consumer.seek(tp, ends[tp] - 1)
            # Each leader answers at once: there is a record to return.
            waiting, deadline = set(tps), time.monotonic() + _FETCH_TIMEOUT
            found: dict[TopicPartition, tuple[int, int]] = {}
            while waiting and (left := deadline - time.monotonic()) > 0:
                await self.consumer.getmany(*waiting, timeout_ms=max(1, int(left * 1000)))
                for tp in list(waiting):
                    highwater = self.consumer.highwater(tp)
                    if highwater is not None:
                        found[tp] = (ends[tp], max(ends[tp], highwater))
                        waiting.discard(tp)
            return found
        finally:
            # No fetching in the background between checks (the next one assigns afresh).
            self.consumer.unsubscribe()

    async def _groups(self) -> set[str]:
        """The consumer groups, asked of each broker the cluster lists now: a broker just
        lost (still in a stale list, or not answering) is skipped, not waited for."""
        cluster = await self.admin.describe_cluster()
        groups: set[str] = set()
        for broker in cluster["brokers"]:
            try:
                listed = await self.admin.list_consumer_groups([broker["node_id"]])
            except KafkaError:
                continue
            groups.update(group for group, *_ in listed)
        return groups

    async def behind(self) -> int:
        """Messages the consumer groups have still to read (0: all caught up)."""
        ends = await self._ends()
        missing = 0
        for group in await self._groups():
            # The partitions named: Tansu cannot answer "all of the group's partitions".
            committed = await self.admin.list_consumer_group_offsets(group, partitions=list(ends))
            for tp, offset in committed.items():
                if tp in ends and offset.offset >= 0:
                    missing += max(0, ends[tp] - offset.offset)
        return missing

    async def wait(self, quiet: float = 1.5, timeout: float = 600.0) -> float:
        """Until nothing is behind and no topic grew for `quiet` seconds; returns the seconds
        waited. Raises TimeoutError after `timeout`."""
        started = time.monotonic()
        last: dict[TopicPartition, int] | None = None
        still_since = time.monotonic()
        while True:
            try:
                ends = await self._ends()
                if ends != last:
                    last, still_since = ends, time.monotonic()
                elif time.monotonic() - still_since >= quiet and await self.behind() == 0:
                    return time.monotonic() - started
            except KafkaError:
                # A broker lost (a cluster losing one of its nodes): not settled, ask again.
                last = None
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"the platform did not settle in {timeout:.0f}s")
            await asyncio.sleep(0.25)
