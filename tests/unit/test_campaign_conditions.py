"""A call campaign names the payment conditions operators may offer (EliteSoft seed: the
campaign's "condições de pagamento"). The negotiation service owns the conditions: the
gateway asks it for the tenant's, and a campaign naming one it does not know is a 422 in the
API's one error shape, naming `condition_ids` and the rule, and nothing is saved."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from litestar import Litestar
from litestar.datastructures import State
from litestar.exceptions import HTTPException
from litestar.middleware import DefineMiddleware
from litestar.testing import TestClient

from contracts.negotiation import PaymentConditionTerms
from contracts.negotiation_requests import ConditionList, ConditionOut, ListConditions
from contracts.ruler_requests import CampaignOut, SaveCampaign
from services.gateway.adapters.tokens import Role, issue_token
from services.gateway.entrypoints.http.auth import BearerTokenMiddleware
from services.gateway.entrypoints.http.errors import (
    ApiError,
    handle_api_error,
    handle_http_exception,
)
from services.gateway.entrypoints.http.ruler import RulerAdminController

KEY = "k" * 48
AGENCY = "recupera-sul"
CONDITIONS = {
    "a-vista": PaymentConditionTerms(installments=1),
    "3x": PaymentConditionTerms(installments=3),
}


class Negotiation:
    """The negotiation service's answers: the tenant's payment conditions."""

    def __init__(self) -> None:
        self.asked: list[Any] = []

    async def ask(self, request: Any, key: str, answer: type[Any]) -> Any:
        assert isinstance(request, ListConditions) and answer is ConditionList
        self.asked.append(request)
        conditions = CONDITIONS if request.tenant == AGENCY else {}
        return ConditionList(
            conditions=[
                ConditionOut(condition_id=c, version=1, terms=t) for c, t in conditions.items()
            ]
        )


class RulerService:
    """The ruler service's side: what it was asked to save."""

    def __init__(self) -> None:
        self.saved: list[SaveCampaign] = []

    async def ask(self, request: Any, key: str, answer: type[Any]) -> Any:
        assert isinstance(request, SaveCampaign)
        self.saved.append(request)
        return CampaignOut(
            campaign_id=request.campaign_id, version=1, definition=request.definition
        )


@pytest.fixture
def negotiation() -> Negotiation:
    return Negotiation()


@pytest.fixture
def ruler() -> RulerService:
    return RulerService()


@pytest.fixture
def client(negotiation: Negotiation, ruler: RulerService) -> Iterator[TestClient[Litestar]]:
    app = Litestar(
        route_handlers=[RulerAdminController],
        middleware=[DefineMiddleware(BearerTokenMiddleware)],
        exception_handlers={ApiError: handle_api_error, HTTPException: handle_http_exception},
        state=State({"signing_key": KEY, "negotiation": negotiation, "ruler": ruler}),
    )
    with TestClient(app) as test_client:
        yield test_client


def headers(role: Role = "admin", tenant: str = AGENCY) -> dict[str, str]:
    token = issue_token(KEY, tenant=tenant, role=role, subject="ana", ttl=dt.timedelta(hours=1))
    return {"Authorization": f"Bearer {token}"}


CAMPAIGN = {"name": "Cobrança por telefone (30+ dias)", "days_overdue_min": 30}


def test_a_campaign_with_known_conditions_is_saved(
    client: TestClient[Litestar], negotiation: Negotiation, ruler: RulerService
) -> None:
    response = client.post(
        "/api/v1/admin/campaigns",
        json={**CAMPAIGN, "condition_ids": ["3x", "a-vista"]},
        headers=headers(),
    )
    assert response.status_code == 201, response.text
    assert response.json()["definition"]["condition_ids"] == ["3x", "a-vista"]
    assert [r.tenant for r in negotiation.asked] == [AGENCY]
    [saved] = ruler.saved
    assert saved.definition.condition_ids == ["3x", "a-vista"]


def test_an_unknown_condition_is_a_422_naming_the_field_and_nothing_is_saved(
    client: TestClient[Litestar], ruler: RulerService
) -> None:
    for method, url in (
        (client.post, "/api/v1/admin/campaigns"),
        (client.put, "/api/v1/admin/campaigns/c1"),
    ):
        response = method(
            url, json={**CAMPAIGN, "condition_ids": ["a-vista", "12x"]}, headers=headers()
        )
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert error["code"] == "validation_failed"
        [detail] = error["details"]
        assert (detail["field"], detail["rule"]) == ("condition_ids", "unknown_condition")
        assert "12x" in detail["message"] and "a-vista, 3x" in detail["message"]
        assert detail["message_en"] == "Unknown payment condition"
    assert ruler.saved == []


def test_conditions_are_the_tenants_own(client: TestClient[Litestar], ruler: RulerService) -> None:
    # Another agency has no condition "3x": it cannot name the first agency's.
    response = client.post(
        "/api/v1/admin/campaigns",
        json={**CAMPAIGN, "condition_ids": ["3x"]},
        headers=headers(tenant="cobra-norte"),
    )
    assert response.status_code == 422
    assert "não tem nenhuma" in response.json()["error"]["details"][0]["message"]
    assert ruler.saved == []


def test_a_campaign_naming_no_condition_asks_the_negotiation_nothing(
    client: TestClient[Litestar], negotiation: Negotiation, ruler: RulerService
) -> None:
    response = client.put("/api/v1/admin/campaigns/c1", json=CAMPAIGN, headers=headers())
    assert response.status_code == 200, response.text
    assert negotiation.asked == []
    assert [s.campaign_id for s in ruler.saved] == ["c1"]


def test_only_an_admin_changes_campaigns(
    client: TestClient[Litestar], negotiation: Negotiation
) -> None:
    response = client.post(
        "/api/v1/admin/campaigns",
        json={**CAMPAIGN, "condition_ids": ["nenhuma"]},
        headers=headers(role="operator"),
    )
    assert response.status_code == 403
    assert negotiation.asked == []
