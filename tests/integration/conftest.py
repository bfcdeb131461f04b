"""Shared by the tests that talk to a real broker."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["tansu", pytest.param("kafka", marks=pytest.mark.kafka)])
def bootstrap(request: pytest.FixtureRequest) -> str:
    """Each test on the embedded Tansu, and on Apache Kafka (the kafka_broker fixture skips
    itself without java/mvn)."""
    return str(request.getfixturevalue(f"{request.param}_broker").bootstrap)
