"""The embedded brokers really speak Kafka: topics, keyed produce, group consume, kill/restart.

Tansu keeps topics in memory, so a restart forgets them; Apache Kafka keeps its log on
disk, so messages and committed offsets survive a SIGKILL.
"""

from __future__ import annotations

import asyncio
import re
import signal
import socket
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from cobranca.brokers import (
    KAFKA_VERSION,
    LOOPBACK,
    ApacheKafkaBroker,
    BrokerStartError,
    EmbeddedBroker,
    TansuBroker,
    free_port,
    wait_for_kafka,
)
from cobranca.brokers.apache_kafka import repo_pom
from tests.support.topics import create_topics

# Fixtures tansu_broker, kafka_jars and kafka_broker come from tests/fixtures/brokers.py
# through tests/conftest.py.

MESSAGES = 1000
PARTITIONS = 4
# Tansu holds a JoinGroup for half the session timeout, in 1 s steps (10 s default: a 5 s
# join; 2 s: 1 s). Kafka accepts these too: the broker config lowers
# group.min.session.timeout.ms.
CONSUMER_OPTIONS: dict[str, Any] = {
    "auto_offset_reset": "earliest",
    "enable_auto_commit": False,
    "session_timeout_ms": 2000,
    "heartbeat_interval_ms": 400,
}


def _topic() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


async def _list_topics(bootstrap: str) -> set[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


async def _produce(bootstrap: str, topic: str) -> dict[bytes, set[int]]:
    """Send MESSAGES keyed messages; return the partitions each key landed on."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        keys = [f"debtor-{i % 50}".encode() for i in range(MESSAGES)]
        pending = [
            await producer.send(topic, key=key, value=str(i).encode()) for i, key in enumerate(keys)
        ]
        await producer.flush()
        sent = await asyncio.gather(*pending)
    finally:
        await producer.stop()
    partitions: dict[bytes, set[int]] = defaultdict(set)
    for key, meta in zip(keys, sent, strict=True):
        partitions[key].add(meta.partition)
    return partitions


async def _consume(bootstrap: str, topic: str, group: str, timeout: float = 30.0) -> list[Any]:
    """Read until MESSAGES records arrived (or timeout) with a consumer group; commit."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=group, **CONSUMER_OPTIONS
    )
    await consumer.start()
    records: list[Any] = []
    try:
        deadline = time.monotonic() + timeout
        while len(records) < MESSAGES and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for partition_records in batch.values():
                records.extend(partition_records)
        await consumer.commit()
    finally:
        await consumer.stop()
    return records


async def _committed(bootstrap: str, topic: str, group: str) -> int:
    """Sum of the group's committed offsets over the topic's partitions."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, **CONSUMER_OPTIONS)
    await consumer.start()
    try:
        total = 0
        for partition in range(PARTITIONS):
            offset = await consumer.committed(TopicPartition(topic, partition))
            total += offset or 0
        return total
    finally:
        await consumer.stop()


async def _roundtrip(bootstrap: str, topic: str, group: str) -> None:
    await create_topics(bootstrap, {topic: PARTITIONS})
    key_partitions = await _produce(bootstrap, topic)
    records = await _consume(bootstrap, topic, group)

    assert sorted(int(r.value) for r in records) == list(range(MESSAGES))
    assert {r.partition for r in records} == set(range(PARTITIONS))
    # Keyed messages: one key, one partition, on both sides.
    assert all(len(parts) == 1 for parts in key_partitions.values())
    for record in records:
        assert {record.partition} == key_partitions[record.key]


def _check_broker_shape(broker: EmbeddedBroker) -> None:
    assert isinstance(broker, EmbeddedBroker)
    assert broker.bootstrap == f"{LOOPBACK}:{broker.port}"
    assert broker.is_running
    assert broker.log_path.parent == broker.data_dir


# -- Tansu ---------------------------------------------------------------------------------


def test_tansu_roundtrip(tansu_broker: TansuBroker) -> None:
    _check_broker_shape(tansu_broker)
    asyncio.run(_roundtrip(tansu_broker.bootstrap, _topic(), "g-tansu"))


def test_tansu_kill_restart_forgets_topics(tmp_path: Path) -> None:
    broker = TansuBroker(data_dir=tmp_path / "tansu")
    try:
        broker.start(timeout=20)
        bootstrap, pid = broker.bootstrap, broker.pid
        topic = _topic()
        asyncio.run(_roundtrip(bootstrap, topic, "g1"))

        broker.kill()
        assert not broker.is_running
        assert broker.returncode == -signal.SIGKILL

        broker.start(timeout=20)
        assert broker.bootstrap == bootstrap
        assert broker.pid != pid
        # In-memory storage: the topic went with the killed process.
        assert topic not in asyncio.run(_list_topics(bootstrap))
    finally:
        broker.stop()
    assert not broker.is_running
    assert "killed" in broker.log_path.read_text()


def test_tansu_context_manager_stop_and_wait(tmp_path: Path) -> None:
    with TansuBroker(data_dir=tmp_path) as broker:
        assert broker.is_running
        asyncio.run(wait_for_kafka(broker.bootstrap, timeout=5))
    assert not broker.is_running
    assert broker.wait() == broker.returncode
    # The broker's own output went to the log file.
    assert "tansu broker" in broker.log_path.read_text()


@pytest.mark.asyncio
async def test_start_and_stop_from_inside_an_event_loop(tmp_path: Path) -> None:
    # `cobranca up` or an async test may call the sync API with a loop running.
    broker = TansuBroker(data_dir=tmp_path)
    broker.start(timeout=20)
    try:
        await create_topics(broker.bootstrap, {"from-async": PARTITIONS})
        assert "from-async" in await _list_topics(broker.bootstrap)
    finally:
        broker.stop()


def test_start_fails_fast_with_log_when_port_is_taken(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind((LOOPBACK, 0))
        squatter.listen()
        broker = TansuBroker(squatter.getsockname()[1], data_dir=tmp_path)
        started = time.monotonic()
        with pytest.raises(BrokerStartError) as failure:
            broker.start(timeout=20)
    # Fails on the broker's exit, not at the 20 s timeout.
    assert time.monotonic() - started < 15
    assert not broker.is_running
    assert str(broker.log_path) in str(failure.value)


def test_wait_for_kafka_times_out_on_a_closed_port() -> None:
    with pytest.raises(TimeoutError):
        asyncio.run(wait_for_kafka(f"{LOOPBACK}:{free_port()}", timeout=0.5))


# -- Apache Kafka --------------------------------------------------------------------------


def test_pom_names_the_kafka_version() -> None:
    pom = repo_pom().read_text()
    match = re.search(r"<kafka.version>([^<]+)</kafka.version>", pom)
    assert match is not None and match.group(1) == KAFKA_VERSION


@pytest.mark.kafka
def test_kafka_roundtrip(kafka_broker: ApacheKafkaBroker) -> None:
    _check_broker_shape(kafka_broker)
    asyncio.run(_roundtrip(kafka_broker.bootstrap, _topic(), "g-kafka"))


@pytest.mark.kafka
def test_kafka_kill_restart_keeps_data(kafka_jars: Path, tmp_path: Path) -> None:
    broker = ApacheKafkaBroker(data_dir=tmp_path / "kafka", jars_dir=kafka_jars)
    try:
        broker.start()
        bootstrap = broker.bootstrap
        topic = _topic()
        asyncio.run(_roundtrip(bootstrap, topic, "g1"))

        broker.kill()
        assert broker.returncode == -signal.SIGKILL
        broker.start()
        assert broker.bootstrap == bootstrap

        async def after_restart() -> None:
            assert topic in await _list_topics(bootstrap)
            # Same messages, read again by a new group...
            records = await _consume(bootstrap, topic, "g2")
            assert sorted(int(r.value) for r in records) == list(range(MESSAGES))
            # ...and the first group's commits survived too.
            assert await _committed(bootstrap, topic, "g1") == MESSAGES

        asyncio.run(after_restart())
    finally:
        broker.stop()
    assert not broker.is_running
    # The next `cobranca up` on this data dir comes back on the same addresses.
    again = ApacheKafkaBroker(data_dir=tmp_path / "kafka", jars_dir=kafka_jars)
    assert (again.port, again.controller_port) == (broker.port, broker.controller_port)
