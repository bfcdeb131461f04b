from __future__ import annotations

from collections.abc import Iterator

import pytest

from cobranca.brokers import kafka_unavailable_reason
from tests.support.platform import (
    RunningPlatform,
    fresh_postgres_database,
    postgres_unavailable_reason,
    running_platform,
)


def backends() -> list[str]:
    """Every broker and every store at least once, in as few platform start-ups as this
    machine allows: the embedded defaults, and Apache Kafka with PostgreSQL together; where
    one of those is missing, the other with the default."""
    kafka = kafka_unavailable_reason() is None
    postgres = postgres_unavailable_reason() is None
    if kafka and postgres:
        return ["tansu-sqlite", "kafka-postgres"]
    if kafka:
        return ["tansu-sqlite", "kafka-sqlite"]
    # Without PostgreSQL (or Java) the second run skips, saying why.
    return ["tansu-sqlite", "tansu-postgres"]


BACKENDS = backends()


@pytest.fixture(scope="module", params=BACKENDS)
def platform(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningPlatform]:
    """The whole platform, as `cobranca up` runs it, on each broker and store."""
    broker_kind, store = request.param.split("-")
    root = tmp_path_factory.mktemp(request.param)
    if store == "postgres":
        reason = postgres_unavailable_reason()
        if reason:
            pytest.skip(reason)
        with fresh_postgres_database() as url, running_platform(root, broker_kind, url) as running:
            yield running
    else:
        with running_platform(root, broker_kind) as running:
            yield running
