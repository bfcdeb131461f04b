"""A stored event the outbox relay cannot publish (QA's defect: an upload made with a token of
tenant "" is stored, and its integration event breaks the envelope's tenant rule) does not stop
the relay: it stays in the event store, is recorded once in `outbox_unpublished`, logged once
as an ERROR and skipped; the events after it go out; a republish from the start skips it
again without a second record; readiness says so. A relay loop that dies of anything else is
logged with its traceback and started again."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import Engine, create_engine, select

from contracts.envelope import Envelope, derived_event_id
from service_runtime import outbox
from service_runtime.outbox import OutboxRelay, RelayHealth, relay_unpublished
from services.gateway.entrypoints.http.health import relay_warnings
from tests.unit.test_gateway_security import real_app
from tests.unit.test_telemetry import TOPIC, FakeProducer, Thing, Things

# The name a debt was stored with when its upload came from a token of tenant "".
NO_TENANT = "upload sem assessoria"


def events_with_their_tenant(domain_event: Any) -> list[tuple[str, Envelope]]:
    """A mapper like the gateway's: the envelope's tenant is the one the event was stored with
    (here: "" for the upload QA made with a token of tenant "")."""
    aggregate_id = str(domain_event.originator_id)
    tenant = "" if domain_event.name == NO_TENANT else "acme"
    return [
        (
            TOPIC,
            Envelope(
                event_id=derived_event_id("things", aggregate_id, domain_event.originator_version),
                type=type(domain_event).__name__,
                schema_version=1,
                occurred_at=domain_event.timestamp,
                tenant=tenant,
                aggregate_id=aggregate_id,
                aggregate_version=domain_event.originator_version,
                correlation_id=aggregate_id,
                causation_id=aggregate_id,
            ),
        )
    ]


class Broker:
    """The broker as the relay sees it: an epoch (a new one after a restart that forgot its
    topics), its topics, and what was published."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.epoch = "epoch-1"
        self.producer = FakeProducer()

        async def broker_epoch(_bootstrap: str, *_: Any, **__: Any) -> str:
            return self.epoch

        async def missing_topics(_bootstrap: str, _topics: Any, *_: Any) -> set[str]:
            return set()

        monkeypatch.setattr(outbox, "broker_epoch", broker_epoch)
        monkeypatch.setattr(outbox, "missing_topics", missing_topics)


class NoTopics:
    async def ensure(self, *_: Any) -> None:
        return None


def relay(app: Things, broker: Broker, engine: Engine, mapper: Any = None) -> OutboxRelay:
    return OutboxRelay(
        name="things",
        application=app,
        mapper=mapper or events_with_their_tenant,
        broker=broker.producer,  # type: ignore[arg-type]
        bootstrap="127.0.0.1:1",
        engine=engine,
        poll_interval=0.01,
        topics=NoTopics(),  # type: ignore[arg-type]
    )


async def until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)


def aggregates_published(broker: Broker) -> list[str]:
    return [m["key"].decode() for m in broker.producer.sent]


def recorded(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(relay_unpublished)))


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return create_engine(f"sqlite:///{tmp_path / 'gateway.sqlite'}")


async def test_an_event_that_breaks_the_envelope_is_recorded_once_and_the_later_ones_go_out(
    monkeypatch: pytest.MonkeyPatch, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="service_runtime.outbox")

    def errors_logged() -> list[logging.LogRecord]:
        return [r for r in caplog.records if r.levelno == logging.ERROR]

    def skipped_again() -> bool:
        return any("skipped again" in r.getMessage() for r in caplog.records)

    app = Things()
    broker = Broker(monkeypatch)
    before, bad, after = Thing("primeira"), Thing(NO_TENANT), Thing("depois")
    app.save(before, bad, after)
    later = Thing("de outra assessoria, bem depois")
    app.save(later)

    first = relay(app, broker, engine)
    first.start()
    await until(lambda: str(later.id) in aggregates_published(broker) and bool(errors_logged()))
    await first.stop()

    # The events after the bad one went out; the bad one did not (and was not half sent).
    assert aggregates_published(broker) == [str(before.id), str(after.id), str(later.id)]
    (row,) = recorded(engine)
    assert (row.relay, row.notification_id, row.originator_id) == ("things", 2, str(bad.id))
    assert row.topic.endswith("Thing.Created") and row.originator_version == 1
    assert "ValidationError" in row.error and "tenant" in row.error
    # It stays in the event store, the source of truth.
    assert app.repository.get(bad.id).name == NO_TENANT
    errors = errors_logged()
    assert len(errors) == 1 and str(bad.id) in errors[0].getMessage()
    assert errors[0].exc_info is not None  # with the ValidationError's traceback
    assert first.health() == RelayHealth(unpublished=1, restarts=0, failing=None)

    # The broker comes back empty (Tansu restarted): a new relay publishes all from the start.
    broker.epoch = "epoch-2"
    broker.producer.sent.clear()
    second = relay(app, broker, engine)
    second.start()
    await until(lambda: str(later.id) in aggregates_published(broker) and skipped_again())
    await second.stop()

    assert aggregates_published(broker) == [str(before.id), str(after.id), str(later.id)]
    (again,) = recorded(engine)
    assert again.first_seen == row.first_seen
    assert len(errors_logged()) == 1
    assert second.health().unpublished == 1


async def test_readiness_is_degraded_with_the_count_while_an_event_is_unpublished(
    monkeypatch: pytest.MonkeyPatch, engine: Engine
) -> None:
    app = Things()
    broker = Broker(monkeypatch)
    app.save(Thing(NO_TENANT), Thing("depois"))
    gateway_relay = relay(app, broker, engine)
    gateway_relay.start()
    await until(lambda: gateway_relay.health().unpublished == 1)
    await gateway_relay.stop()

    gateway, _ = real_app(ready_max_lag_events=5)
    gateway.state.gateway_relay = gateway_relay
    gateway.state.broker_ready = True
    client = TestClient(gateway)

    ready = client.get("/health/ready")
    assert ready.status_code == 200  # still serving: one event must not stop every tenant
    body = ready.json()
    assert body["status"] == "degraded"
    assert body["relay"] == {"unpublished_events": 1, "restarts": 0}
    (warning,) = body["warnings"]
    assert (warning["field"], warning["rule"]) == ("relay.unpublished", "unpublished_events")
    assert warning["message"].startswith("1 evento(s) gravado(s) não puderam ser publicados")
    assert warning["message_en"]
    health = client.get("/health").json()
    assert (health["status"], health["unpublished_events"]) == ("degraded", 1)


async def test_a_relay_loop_that_dies_unexpectedly_is_logged_and_started_again(
    monkeypatch: pytest.MonkeyPatch, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(outbox, "RESTART_FIRST_DELAY", 0.01)
    caplog.set_level(logging.ERROR, logger="service_runtime.outbox")
    app = Things()
    broker = Broker(monkeypatch)
    thing = Thing("primeira")
    app.save(thing)
    looping = relay(app, broker, engine)
    read = looping._read
    calls = SimpleNamespace(n=0)

    def read_failing_once(position: int) -> Any:
        calls.n += 1
        if calls.n == 1:
            raise RuntimeError("a bug in the relay's loop")
        return read(position)

    monkeypatch.setattr(looping, "_read", read_failing_once)
    looping.start()
    await until(lambda: len(broker.producer.sent) == 1)
    await until(lambda: looping.failing is None)
    await looping.stop()

    assert aggregates_published(broker) == [str(thing.id)]
    (crash,) = caplog.records
    assert "starting again" in crash.getMessage() and crash.exc_info is not None
    assert (looping.restarts, looping.failing) == (1, None)


def test_a_restarting_relay_is_a_warning_naming_the_error() -> None:
    (warning,) = relay_warnings(RelayHealth(0, 2, "RuntimeError: boom"))
    assert (warning["field"], warning["rule"]) == ("relay", "relay_restarting")
    assert "2 reinício(s)" in warning["message"] and "boom" in warning["message"]
    assert relay_warnings(RelayHealth(0, 2, None)) == []
