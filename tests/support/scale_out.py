"""Helpers of the scale-out test: several instances of one service as separate processes,
which partitions each was given (from its log), and a topic read from offset zero.

`python -m tests.support.scale_out <service>` is `cobranca serve <service>` with one change:
the consumer group coordinator of aiokafka logs at INFO ("Setting newly assigned partitions
... for group ..."), so a test can tell which instance holds which partitions and when a
survivor took over those of an instance that died. (`configure_logging` keeps aiokafka at
ERROR.)"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

ASSIGNED = re.compile(r"Setting newly assigned partitions (.*) for group (\S+)")
PARTITION = re.compile(r"TopicPartition\(topic='([^']+)', partition=(\d+)\)")


@dataclass(frozen=True)
class Assignment:
    at: float  # epoch seconds, from the log line's time
    group: str
    partitions: frozenset[tuple[str, int]]


def assignments(log_path: Path, group: str | None = None) -> list[Assignment]:
    """Every assignment the group (any group: None) gave the instance writing `log_path`,
    oldest first (JSON log lines: the services log JSON when not on a terminal)."""
    if not log_path.exists():
        return []
    found = []
    for line in log_path.read_text(errors="replace").splitlines():
        if "newly assigned" not in line or not line.startswith("{"):
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        match = ASSIGNED.search(record.get("message", ""))
        if not match or group not in (None, match.group(2)):
            continue
        # logging's default asctime: local time, "YYYY-MM-DD HH:MM:SS,mmm".
        at = dt.datetime.strptime(record["time"], "%Y-%m-%d %H:%M:%S,%f").timestamp()
        parts = frozenset((t, int(p)) for t, p in PARTITION.findall(match.group(1)))
        found.append(Assignment(at, match.group(2), parts))
    return found


def held(log_path: Path, group: str, before: float | None = None) -> frozenset[tuple[str, int]]:
    """The partitions of `group` the instance held last (before `before`, when given)."""
    latest = [a for a in assignments(log_path, group) if before is None or a.at <= before]
    return latest[-1].partitions if latest else frozenset()


async def _read_topic(
    bootstrap: str, topic: str, idle_ms: int = 1500
) -> list[ConsumerRecord[Any, Any]]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not tps:
            return []
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        records: list[ConsumerRecord[Any, Any]] = []
        while True:
            batch = await consumer.getmany(timeout_ms=idle_ms, max_records=5000)
            got = [r for rs in batch.values() for r in rs]
            records.extend(got)
            if not got:
                positions = [await consumer.position(tp) for tp in tps]
                if all(pos >= ends[tp] for pos, tp in zip(positions, tps, strict=True)):
                    return records
    finally:
        await consumer.stop()


def read_topic(bootstrap: str, topic: str) -> list[ConsumerRecord[Any, Any]]:
    """Every record of `topic`, from offset zero of each partition, with a plain consumer
    (assigned partitions: no consumer group, nothing committed)."""
    return asyncio.run(_read_topic(bootstrap, topic))


def serve(service: str) -> None:
    """`cobranca serve <service>`, with the group coordinator's assignments logged."""
    from cobranca.services import SERVICES, service_main
    from service_runtime.logs import configure_logging
    from service_runtime.settings import Settings

    if service not in SERVICES:
        raise SystemExit(f"unknown service {service!r}")
    configure_logging(service, Settings().log_level)
    logging.getLogger("aiokafka.consumer.group_coordinator").setLevel(logging.INFO)
    main: Callable[[], None] = service_main(service)
    main()


if __name__ == "__main__":
    serve(sys.argv[1])
