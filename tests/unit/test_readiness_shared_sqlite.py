"""A second gateway started with its own SQLite data dir joins the projections' consumer
groups (gateway.<projection>) and takes part of their partitions: each gateway then holds half
of every read model. /health/ready says so (503, naming the projection and what to do), while
a single gateway on SQLite, and replicas sharing one PostgreSQL read database, stay ready."""

from __future__ import annotations

import types
from typing import Any

import sqlalchemy as sa
from aiokafka import TopicPartition
from litestar.testing import TestClient

from services.gateway.entrypoints.http.health import (
    Assignment,
    assignment_of,
    partial_assignment_reasons,
    readiness,
)
from tests.unit.test_gateway_security import FakeRunner, real_app

TOPICS = ("portfolio.debts", "negotiation.agreements")


def runner(name: str, assigned: dict[str, list[int]], partitions: int = 4) -> Any:
    """A projection consumer as the readiness reads it: its topics (each with `partitions`
    partitions in the consumer's metadata) and the partitions the group gave it."""
    return types.SimpleNamespace(
        name=name,
        applied=7,
        lag=0,
        has_assignment=True,
        applier=types.SimpleNamespace(topics=TOPICS),
        consumer=types.SimpleNamespace(
            partitions_for_topic=lambda topic: set(range(partitions)) if topic in TOPICS else None
        ),
        assigned={TopicPartition(t, p) for t, ps in assigned.items() for p in ps},
    )


def test_a_gateway_on_its_own_sqlite_reading_half_the_partitions_is_not_ready() -> None:
    shares = {"timeline": Assignment(assigned=4, total=8), "audit": Assignment(8, 8)}

    (reason,) = partial_assignment_reasons(True, shares)

    assert (reason["field"], reason["rule"]) == ("projections.timeline", "partial_assignment")
    assert "4 de 8 partições" in reason["message"]
    assert "gateway.timeline" in reason["message"] and "PostgreSQL" in reason["message"]
    assert "one gateway only" in reason["message_en"]


def test_none_of_the_partitions_is_as_partial_as_half() -> None:
    # More gateways than partitions: this one reads nothing and holds nothing new.
    (reason,) = partial_assignment_reasons(True, {"call_list": Assignment(0, 8)})
    assert "0 de 8" in reason["message"]


def test_replicas_on_postgresql_and_a_single_gateway_on_sqlite_stay_ready() -> None:
    assert partial_assignment_reasons(False, {"timeline": Assignment(2, 8)}) == []
    assert partial_assignment_reasons(True, {"timeline": Assignment(8, 8)}) == []
    # Not known yet (no assignment, no metadata): the lag rule already says not_assigned.
    assert partial_assignment_reasons(True, {"timeline": None}) == []


def test_readiness_names_the_partial_projection_among_its_reasons() -> None:
    found = readiness(
        True,
        True,
        {"timeline": 0, "audit": 0},
        10,
        local_read_store=True,
        assignments={"timeline": Assignment(4, 8), "audit": Assignment(8, 8)},
    )
    assert not found.ready
    assert [(r["field"], r["rule"]) for r in found.reasons] == [
        ("projections.timeline", "partial_assignment")
    ]
    shared = readiness(
        True,
        True,
        {"timeline": 0},
        10,
        local_read_store=False,
        assignments={"timeline": Assignment(4, 8)},
    )
    assert shared.ready


def test_a_consumers_share_counts_the_partitions_of_its_own_topics() -> None:
    half = runner("timeline", {"portfolio.debts": [0, 1], "negotiation.agreements": [2, 3]})
    assert assignment_of(half) == Assignment(4, 8)
    whole = runner("timeline", {t: [0, 1, 2, 3] for t in TOPICS})
    assert assignment_of(whole) == Assignment(8, 8)
    assert assignment_of(FakeRunner("timeline", 0)) is None  # nothing known: nothing claimed
    unknown_topic = runner("timeline", {}, partitions=0)
    assert assignment_of(unknown_topic) is None


def test_the_ready_endpoint_answers_503_naming_the_projection_then_200_alone() -> None:
    app, engine = real_app(ready_max_lag_events=5)
    assert engine.dialect.name == "sqlite"
    app.state.broker_ready = True
    app.state.projection_runners = [
        runner("portal_view", {t: [0, 1, 2, 3] for t in TOPICS}),
        runner("timeline", {t: [0, 2] for t in TOPICS}),
    ]
    client = TestClient(app)

    shared = client.get("/health/ready")

    assert shared.status_code == 503
    error = shared.json()["error"]
    assert error["code"] == "not_ready"
    (detail,) = error["details"]
    assert (detail["field"], detail["rule"]) == ("projections.timeline", "partial_assignment")
    assert "4 de 8 partições" in error["message"]
    assert detail["message_en"].startswith("The projection timeline reads 4 of 8")

    # The other gateway stopped: the group gives this one every partition again.
    app.state.projection_runners[1] = runner("timeline", {t: [0, 1, 2, 3] for t in TOPICS})
    assert client.get("/health/ready").status_code == 200


def test_the_rule_reads_the_read_engines_dialect() -> None:
    # What the endpoint passes as local_read_store: the gateway's read engine on a file.
    assert sa.create_engine("sqlite:///var/gateway/read.sqlite").dialect.name == "sqlite"
    assert sa.create_engine("postgresql+psycopg://u@h/db").dialect.name == "postgresql"
