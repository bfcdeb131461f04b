"""An operator records a call of a campaign (EliteSoft: "registrar ligação"): the debtor must
be one of the tenant's, the next call is not set before the business day, and a campaign's
states are UFs. Bad input is a 422 in the API's one error shape naming the field and the rule,
and nothing reaches the ruler service."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from litestar import Litestar
from litestar.datastructures import State
from litestar.exceptions import HTTPException
from litestar.middleware import DefineMiddleware
from litestar.testing import TestClient

from contracts.ruler import DEFAULT_CALL_RESULTS
from contracts.ruler_requests import CallOut, CampaignOut, RecordCall, SaveCampaign
from service_runtime.clock import BusinessClock
from services.gateway.adapters.tokens import Role, issue_token
from services.gateway.entrypoints.http.auth import BearerTokenMiddleware
from services.gateway.entrypoints.http.errors import (
    ApiError,
    handle_api_error,
    handle_http_exception,
)
from services.gateway.entrypoints.http.ruler import CampaignsController, RulerAdminController
from services.gateway.read_models.call_list import CallListProjection
from tests.unit.test_call_list import AGENCY, MARIA, TODAY, apply, debt
from tests.unit.test_projections import VAULT

KEY = "k" * 48


class RulerService:
    """The ruler service's side: what it was asked."""

    def __init__(self) -> None:
        self.asked: list[Any] = []

    async def ask(self, request: Any, key: str, answer: type[Any]) -> Any:
        self.asked.append(request)
        if isinstance(request, SaveCampaign):
            return CampaignOut(
                campaign_id=request.campaign_id, version=1, definition=request.definition
            )
        assert isinstance(request, RecordCall)
        return CallOut(
            call_id=request.call_id,
            campaign_id=request.campaign_id,
            document=request.document,
            operator=request.operator,
            result=DEFAULT_CALL_RESULTS[0],
            note=request.note,
            reschedule_at=request.reschedule_at,
            recorded_at=dt.datetime(2026, 11, 25, 15, tzinfo=dt.UTC),
        )


@pytest.fixture
def ruler() -> RulerService:
    return RulerService()


@pytest.fixture
def client(tmp_path: Path, ruler: RulerService) -> Iterator[TestClient[Litestar]]:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'read.sqlite'}")
    CallListProjection(VAULT).create_tables(engine)
    # Maria owes the agency; the business clock is on TODAY.
    apply(engine, debt("d1", MARIA, 150_000, 40))
    app = Litestar(
        route_handlers=[CampaignsController, RulerAdminController],
        middleware=[DefineMiddleware(BearerTokenMiddleware)],
        exception_handlers={ApiError: handle_api_error, HTTPException: handle_http_exception},
        state=State(
            {
                "signing_key": KEY,
                "ruler": ruler,
                "read_engine": engine,
                "clock": BusinessClock(TODAY),
            }
        ),
    )
    with TestClient(app) as test_client:
        yield test_client
    engine.dispose()


def headers(role: Role = "operator") -> dict[str, str]:
    token = issue_token(KEY, tenant=AGENCY, role=role, subject="ana", ttl=dt.timedelta(hours=1))
    return {"Authorization": f"Bearer {token}"}


def record(client: TestClient[Litestar], **call: Any) -> Any:
    body = {"document": "529.982.247-25", "result": "callback"} | call
    return client.post("/api/v1/campaigns/camp/calls", json=body, headers=headers())


def refused(response: Any) -> tuple[str, str, str]:
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_failed"
    [detail] = error["details"]
    return detail["field"], detail["rule"], detail["message"]


def test_a_call_to_a_debtor_for_later_today_or_after_is_recorded(
    client: TestClient[Litestar], ruler: RulerService
) -> None:
    later = record(client, reschedule_at="2026-11-25T18:00:00-03:00")
    assert later.status_code == 201, later.text
    tomorrow = record(client, reschedule_at="2026-11-26T09:00:00-03:00")
    assert tomorrow.status_code == 201, tomorrow.text
    assert [(r.document, r.reschedule_at) for r in ruler.asked] == [
        (MARIA, dt.datetime(2026, 11, 25, 21, tzinfo=dt.UTC)),
        (MARIA, dt.datetime(2026, 11, 26, 12, tzinfo=dt.UTC)),
    ]


def test_a_document_the_agency_has_no_debt_of_is_refused(
    client: TestClient[Litestar], ruler: RulerService
) -> None:
    # A valid CPF, of nobody the agency collects from.
    field, rule, message = refused(record(client, document="390.533.447-05"))
    assert (field, rule) == ("document", "no_debt")
    assert message == "nenhuma dívida do documento 390.533.447-05 nesta assessoria"
    assert ruler.asked == []


def test_a_next_call_before_the_business_day_is_refused(
    client: TestClient[Litestar], ruler: RulerService
) -> None:
    # The business day is 25/11 (the wall clock's plays no part): the 24th is past.
    field, rule, message = refused(record(client, reschedule_at="2026-11-24T18:00:00-03:00"))
    assert (field, rule) == ("reschedule_at", "not_in_past")
    assert message == "a nova ligação não pode ser antes de hoje (25/11/2026)"
    assert ruler.asked == []


@pytest.mark.parametrize(
    ("reschedule_at", "rule", "says"),
    [
        ("amanhã às 10h", "datetime", "data e hora ISO 8601"),
        ("2026-12-01T14:00:00", "timezone", "informe o fuso"),
    ],
)
def test_a_next_call_that_is_no_date_time_with_its_offset_says_so(
    client: TestClient[Litestar], ruler: RulerService, reschedule_at: str, rule: str, says: str
) -> None:
    field, found_rule, message = refused(record(client, reschedule_at=reschedule_at))
    assert (field, found_rule) == ("reschedule_at", rule)
    assert says in message
    assert "AAAA-MM-DD" not in message and "occurred_at" not in message
    assert ruler.asked == []


def test_a_next_call_without_its_offset_is_answered_with_the_operators_own_time_and_offset(
    client: TestClient[Litestar], ruler: RulerService
) -> None:
    """QA: "2026-01-06T10:00:00" was answered "informe o fuso: 2026-12-01T14:00:00-03:00", an
    unrelated date the operator could copy by mistake; the hint is the operator's time."""
    field, rule, message = refused(record(client, reschedule_at="2026-12-02T10:00:00"))
    assert (field, rule) == ("reschedule_at", "timezone")
    assert message == "informe o fuso: 2026-12-02T10:00:00-03:00"
    # The hint, sent back, is taken as the time meant.
    again = record(client, reschedule_at="2026-12-02T10:00:00-03:00")
    assert again.status_code == 201, again.text
    # The conversations' `from` says it the same way.
    from services.gateway.entrypoints.http.errors import offset_missing

    refusal = offset_missing("from", dt.datetime(2026, 1, 6, 10, 0))
    assert refusal.details[0]["message"] == "informe o fuso: 2026-01-06T10:00:00-03:00"


def test_a_campaign_naming_a_state_that_is_no_uf_is_refused(
    client: TestClient[Litestar], ruler: RulerService
) -> None:
    campaign = {"name": "Sul", "states": ["rs", "SC", "XX"]}
    response = client.post("/api/v1/admin/campaigns", json=campaign, headers=headers("admin"))
    field, rule, message = refused(response)
    assert (field, rule) == ("states", "unknown_state")
    assert "'XX'" in message and "'rs'" not in message
    assert ruler.asked == []

    campaign["states"] = ["rs", "SC"]
    saved = client.post("/api/v1/admin/campaigns", json=campaign, headers=headers("admin"))
    assert saved.status_code == 201, saved.text
