"""The gateway's analytics projection keeps the same facts the replay collects, whatever the
order and repetition of events; the API computes the figures from them with the same
functions, for the analyst and admin roles, always the token's tenant."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.datastructures import State
from litestar.exceptions import HTTPException
from litestar.middleware import DefineMiddleware
from litestar.testing import TestClient
from sqlalchemy import Engine

from analytics import reports
from service_runtime.clock import BusinessClock
from service_runtime.database import sqlite_engine
from services.gateway.adapters.tokens import Role, issue_token
from services.gateway.entrypoints.http.analytics import AnalyticsController
from services.gateway.entrypoints.http.auth import BearerTokenMiddleware
from services.gateway.entrypoints.http.errors import (
    ApiError,
    handle_api_error,
    handle_http_exception,
)
from services.gateway.read_models.analytics import AnalyticsProjection, load_facts
from tests.unit.test_analytics_indicators import ACME, AS_OF, OTHER, collect, history

KEY = "k" * 48


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = sqlite_engine(str(tmp_path / "read.sqlite"))
    AnalyticsProjection().create_tables(engine)
    return engine


def project(engine: Engine, seed: int) -> None:
    """Apply the history in random batches, some events twice, as partitions deliver them."""
    events = history()
    events += random.Random(seed).sample(events, len(events) // 3)
    random.Random(seed).shuffle(events)
    projection = AnalyticsProjection()
    for start in range(0, len(events), 7):
        with engine.begin() as conn:
            projection.apply(conn, events[start : start + 7])


def test_the_projection_keeps_the_facts_the_replay_collects(engine: Engine) -> None:
    project(engine, seed=1)
    project(engine, seed=2)
    everything = collect(history())
    assert load_facts(engine, ACME) == everything.for_tenant(ACME)
    assert load_facts(engine, OTHER) == everything.for_tenant(OTHER)
    assert load_facts(engine, None) == everything


@pytest.fixture
def api(engine: Engine) -> Iterator[TestClient[Litestar]]:
    project(engine, seed=3)
    app = Litestar(
        route_handlers=[AnalyticsController],
        middleware=[DefineMiddleware(BearerTokenMiddleware)],
        exception_handlers={ApiError: handle_api_error, HTTPException: handle_http_exception},
        state=State({"signing_key": KEY, "read_engine": engine, "clock": BusinessClock(AS_OF)}),
    )
    with TestClient(app) as client:
        yield client


def headers(role: Role, tenant: str = ACME) -> dict[str, str]:
    token = issue_token(KEY, tenant=tenant, role=role, subject=role, ttl=dt.timedelta(hours=1))
    return {"Authorization": f"Bearer {token}"}


def test_the_api_answers_the_same_figures_for_the_tokens_tenant(
    api: TestClient[Litestar],
) -> None:
    facts = collect(history())
    got = api.get(
        "/api/v1/analytics/fpd",
        params={"by": ["creditor", "channel"], "grace_days": 5},
        headers=headers("analyst"),
    )
    assert got.status_code == 200, got.text
    # as_of: the business clock's date.
    expected = reports.fpd_report(facts, k=5, as_of=AS_OF, by=["creditor", "channel"], tenant=ACME)
    assert got.json() == expected.model_dump(mode="json")
    recovery = api.get(
        "/api/v1/analytics/recovery",
        params={"by": "carteira", "as_of": "2026-02-28", "curve_days": [0, 30]},
        headers=headers("admin"),
    )
    assert recovery.status_code == 200, recovery.text
    assert recovery.json() == reports.recovery_report(
        facts, as_of=dt.date(2026, 2, 28), by=["carteira"], tenant=ACME, curve_days=[0, 30]
    ).model_dump(mode="json")
    agreed = api.get("/api/v1/analytics/agreements", headers=headers("analyst", OTHER))
    assert agreed.json()["rows"] == [
        {
            "cuts": {},
            "debtors": 1,
            "debtors_with_agreement": 1,
            "agreement_rate": 1.0,
            "agreements": 1,
            "broken": 0,
            "break_rate": 0.0,
        }
    ]


def test_only_analysts_and_admins_and_only_known_cuts(api: TestClient[Litestar]) -> None:
    assert api.get("/api/v1/analytics/fpd").status_code == 401
    assert api.get("/api/v1/analytics/fpd", headers=headers("operator")).status_code == 403
    bad = api.get("/api/v1/analytics/fpd", params={"by": "color"}, headers=headers("analyst"))
    assert bad.status_code == 422
    detail = bad.json()["error"]["details"][0]
    assert (detail["field"], detail["rule"]) == ("by", "unknown_cut")
    assert "corte desconhecido: color" in detail["message"]
    negative = api.get(
        "/api/v1/analytics/fpd", params={"grace_days": -1}, headers=headers("analyst")
    )
    assert negative.status_code in (400, 422)


def test_every_bad_parameter_is_named_at_once(api: TestClient[Litestar]) -> None:
    """QA: `?by=foo&grace_days=-1` named only grace_days; by came on the next try."""

    def refused(indicator: str, params: dict[str, Any]) -> list[tuple[str, str]]:
        got = api.get(f"/api/v1/analytics/{indicator}", params=params, headers=headers("analyst"))
        assert got.status_code == 422, got.text
        error = got.json()["error"]
        assert error["code"] == "validation_failed"
        assert all(d["message_en"] for d in error["details"])
        return [(d["field"], d["rule"]) for d in error["details"]]

    # Litestar's refusal (a value out of range, of the wrong type) and the indicator's own.
    both = refused("fpd", {"by": "foo", "grace_days": -1})
    assert sorted(both) == [("by", "unknown_cut"), ("grace_days", "minimum")]
    assert sorted(
        refused("fpd", {"by": ["foo", "bar"], "grace_days": "x", "as_of": "2030-01-01"})
    ) == [("as_of", "not_in_future"), ("by", "unknown_cut"), ("grace_days", "integer")]
    # The indicator's own refusals together.
    assert refused("recovery", {"by": "color", "as_of": "2030-01-01", "curve_days": [0, -5]}) == [
        ("by", "unknown_cut"),
        ("as_of", "not_in_future"),
        ("curve_days", "range"),
    ]
    # A value Litestar could not read is not judged again.
    assert refused("agreements", {"by": "color", "as_of": "31/12/2026"}) == [
        ("as_of", "date"),
        ("by", "unknown_cut"),
    ]
    got = api.get(
        "/api/v1/analytics/fpd", params={"by": ["foo", "bar"]}, headers=headers("analyst")
    )
    assert got.json()["error"]["details"][0]["message"].startswith(
        "corte desconhecido: foo, bar; use um de: "
    )


def test_a_day_that_has_not_come_is_refused_naming_as_of(api: TestClient[Litestar]) -> None:
    # Today, by the business clock, is 31/03/2026.
    for indicator, params in [
        ("fpd", {"grace_days": 5, "as_of": "2027-12-31"}),
        ("recovery", {"as_of": "2030-01-01"}),
        ("agreements", {"as_of": "2026-04-01"}),
    ]:
        refused = api.get(
            f"/api/v1/analytics/{indicator}", params=params, headers=headers("analyst")
        )
        assert refused.status_code == 422, refused.text
        (detail,) = refused.json()["error"]["details"]
        assert (detail["field"], detail["rule"]) == ("as_of", "not_in_future")
        assert "hoje, pelo relógio de negócio, é 31/03/2026" in detail["message"]
    today = api.get(
        "/api/v1/analytics/fpd", params={"as_of": "2026-03-31"}, headers=headers("analyst")
    )
    assert today.status_code == 200, today.text


def test_every_curve_day_asked_for_is_answered(api: TestClient[Litestar]) -> None:
    # On 10/01 the debts placed on 05/01 are 5 days old: day 30 has its row, nothing counted.
    got = api.get(
        "/api/v1/analytics/recovery",
        params={"as_of": "2026-01-10", "curve_days": [0, 30]},
        headers=headers("analyst"),
    )
    assert got.status_code == 200, got.text
    assert [(c["days"], c["debts"], c["rate"]) for c in got.json()["curve"]] == [
        (0, 6, 0.0),
        (30, 0, None),
    ]
