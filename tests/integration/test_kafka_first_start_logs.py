"""The first start of a new Apache Kafka: the consumers of a few groups join while Kafka
elects their coordinator and creates `__consumer_offsets`, and aiokafka's "Group Coordinator
Request failed: ... GroupCoordinatorNotAvailableError" comes at INFO with the services'
logging, not ERROR (the first `cobranca up --broker kafka` printed some 25 ERROR lines). Its
own broker in a temporary dir: the session's broker has its coordinators elected long ago.
Skips without java 17+ and mvn."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer

from cobranca.brokers import ApacheKafkaBroker
from service_runtime.logs import TransientKafkaErrors, install_transient_kafka_filter
from tests.support.topics import create_topics

pytestmark = pytest.mark.kafka

LOGGERS = ("aiokafka.consumer.group_coordinator", "aiokafka.cluster")


@pytest.fixture
def new_kafka(kafka_jars: Path, tmp_path: Path) -> Iterator[ApacheKafkaBroker]:
    with ApacheKafkaBroker(data_dir=tmp_path / "kafka", jars_dir=kafka_jars) as broker:
        yield broker


@pytest.fixture
def services_filter() -> Iterator[None]:
    """The filter configure_logging installs, put back as it was afterwards."""
    before = {name: logging.getLogger(name).filters[:] for name in LOGGERS}
    install_transient_kafka_filter(logging.INFO)
    yield
    for name, filters in before.items():
        logging.getLogger(name).filters[:] = filters


async def test_the_first_start_of_a_new_kafka_logs_no_error_from_aiokafka(
    new_kafka: ApacheKafkaBroker, services_filter: None, caplog: pytest.LogCaptureFixture
) -> None:
    bootstrap = str(new_kafka.bootstrap)
    topic = f"test.first_start.{uuid.uuid4().hex[:8]}"
    await create_topics(bootstrap, {topic: 4})
    caplog.set_level(logging.INFO)

    consumers = [
        AIOKafkaConsumer(
            topic,
            bootstrap_servers=bootstrap,
            group_id=f"first_start.{i}",
            auto_offset_reset="earliest",
        )
        for i in range(3)
    ]
    for consumer in consumers:
        await consumer.start()
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while not all(len(c.assignment()) == 4 for c in consumers):
            assert loop.time() < deadline, "the groups did not get their partitions"
            await asyncio.sleep(0.2)
    finally:
        for consumer in consumers:
            await consumer.stop()

    from_aiokafka = [r for r in caplog.records if r.name.startswith("aiokafka")]
    errors = [r.getMessage() for r in from_aiokafka if r.levelno >= logging.ERROR]
    assert errors == []
    # The election happened and was told, at INFO.
    election = [r for r in from_aiokafka if "usual while Kafka starts" in r.getMessage()]
    assert election, [r.getMessage() for r in from_aiokafka]
    assert {r.levelname for r in election} == {"INFO"}
    assert any(isinstance(f, TransientKafkaErrors) for f in logging.getLogger(LOGGERS[0]).filters)
