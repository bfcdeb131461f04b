"""A projection whose batch keeps failing is not silent (QA pass 9, D1: the gateway's analytics
projection met an event it could not apply, read the batch again every second for hours with
an ERROR line each time, while `/health/ready` said "ready" and the API answered numbers
frozen at that moment). The consumer remembers the failure until a batch is applied again;
readiness is "degraded" naming the projection and the error, and the log keeps one line a
try, the traceback the first time."""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace
from typing import Any

import pytest
from litestar.testing import TestClient

from service_runtime.projection import PositionedConsumer
from services.gateway.entrypoints.http.health import projection_warnings, readiness
from tests.unit.test_gateway_security import real_app
from tests.unit.test_projection_rereading import DAYS, Broker


class StuckApplier:
    """An applier whose batch fails `times` times, then goes through."""

    name = "analytics"
    topics = (DAYS.topic,)
    epoch = None

    def __init__(self, times: int) -> None:
        self.times = times

    def stored_positions(self) -> dict[tuple[str, int], tuple[int, str | None, str | None]]:
        return {}

    def apply_records(self, records_by_tp: Any) -> None:
        if self.times:
            self.times -= 1
            raise KeyError("<class 'analytics.facts.Deduction'>")


def message() -> Any:
    record = SimpleNamespace(
        topic=DAYS.topic, partition=0, offset=7, timestamp=0, key=None, value=b"{}", headers=[]
    )
    return SimpleNamespace(raw_message=(record,))


@pytest.fixture
def no_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    real_sleep = asyncio.sleep

    async def sleep(seconds: float, *args: Any) -> None:
        await real_sleep(0)

    monkeypatch.setattr(asyncio, "sleep", sleep)


async def test_a_batch_that_keeps_failing_makes_readiness_degraded_until_it_goes_through(
    no_pause: None, caplog: pytest.LogCaptureFixture
) -> None:
    consumer = PositionedConsumer(StuckApplier(3), Broker(), "kafka:9092", "gateway.analytics", {})  # type: ignore[arg-type]
    with caplog.at_level(logging.ERROR, logger="service_runtime.projection"):
        for _ in range(3):
            await consumer.handle(None, message())

    assert consumer.failures == 3 and consumer.applied == 0
    assert consumer.failing == "KeyError"
    [warning] = projection_warnings([consumer])
    assert (warning["field"], warning["rule"]) == ("projections.analytics", "projection_failing")
    assert "a projeção analytics não consegue aplicar um lote" in warning["message"]
    assert "3 tentativa(s) seguidas" in warning["message"]
    assert "veja o erro (KeyError) no log do gateway" in warning["message"]
    # Its text (it may hold a row's data) only in the log, which answers no one.
    assert "Deduction" not in warning["message"] + warning["message_en"]
    found = readiness(True, True, {"analytics": 1}, 1000, projection_warnings([consumer]))
    assert found.ready and found.status == "degraded"
    # In the log: every try, the traceback the first time only.
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 3
    assert [r.exc_info is not None for r in errors] == [True, False, False]
    assert "3 times in a row): KeyError: \"<class 'analytics.facts.Deduction'>\"" in (
        errors[-1].getMessage()
    )

    await consumer.handle(None, message())  # fixed (a new build): the batch goes through

    assert (consumer.failing, consumer.failures, consumer.applied) == (None, 0, 1)
    assert projection_warnings([consumer]) == []


def test_the_health_endpoints_name_the_stuck_projection() -> None:
    app, _ = real_app()
    app.state.broker_ready = True
    timeline = app.state.projection_runners[1]
    timeline.failing, timeline.failures = "KeyError", 42
    client = TestClient(app)

    ready = client.get("/health/ready")
    health = client.get("/health")

    assert ready.status_code == 200
    assert ready.json()["status"] == "degraded"
    assert [w["rule"] for w in ready.json()["warnings"]] == ["projection_failing"]
    assert health.json()["status"] == "degraded"
    assert "a projeção timeline não consegue aplicar" in health.json()["warnings"][0]["message"]
