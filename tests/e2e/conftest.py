from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.platform import (
    RunningPlatform,
    fresh_postgres_database,
    postgres_unavailable_reason,
    running_platform,
)

BACKENDS = ["tansu-sqlite", "kafka-sqlite", "tansu-postgres"]


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
