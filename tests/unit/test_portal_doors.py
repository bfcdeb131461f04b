"""The debtor's public doors as a client meets them (Litestar's test client over the gateway's
real controllers, its event store in memory, read model in SQLite and the real negotiation
application): a tenant without a portal has no lookup, no token and no web chat (404 naming
the tenant, as its page /p/{tenant}); bad input to the portal's API is answered in the one
error shape, naming the field as the client sends it, in pt-BR."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pydantic
import pytest
import sqlalchemy as sa
from litestar import Litestar
from litestar.datastructures import State
from litestar.exceptions import HTTPException
from litestar.middleware import DefineMiddleware
from litestar.testing import TestClient

from contracts.envelope import Envelope
from contracts.messaging_requests import ChatInbound, ChatReplyOut
from service_runtime.clock import BusinessClock
from service_runtime.service_client import ServiceRefused, ServiceUnavailable
from service_runtime.settings import Settings
from services.gateway.adapters.tokens import issue_token
from services.gateway.application.portal import PORTAL_TENANT, KnownPortals
from services.gateway.application.uploads import GatewayApplication
from services.gateway.entrypoints.http.app import pydantic_plugins
from services.gateway.entrypoints.http.auth import BearerTokenMiddleware
from services.gateway.entrypoints.http.controllers import PortalController
from services.gateway.entrypoints.http.conversations import (
    ChatController,
    DocumentLinkController,
)
from services.gateway.entrypoints.http.errors import (
    ApiError,
    handle_api_error,
    handle_contract_error,
    handle_http_exception,
    handle_service_refused,
    handle_service_unavailable,
)
from services.gateway.entrypoints.http.negotiation import AgreementsController, PaymentsController
from services.gateway.entrypoints.http.portal_admin import PortalAdminController
from services.gateway.entrypoints.web import template_config
from services.gateway.entrypoints.web.pages import PAGE_TENANT
from services.gateway.read_models import portal_queries
from services.gateway.read_models.portal_view import PortalViewProjection
from tests.support.local_services import local_negotiation
from tests.unit.test_negotiation_app import Negotiation
from tests.unit.test_portal_pages import (  # noqa: F401 (the fixture, used by name)
    DEBTS,
    ISABELA,
    KEY,
    TENANT,
    TODAY,
    Relay,
    agreements_of,
    negotiation,
)
from tests.unit.test_projections import VAULT


class Messaging:
    """The messaging service's web chat, recording what the gateway asks of it."""

    def __init__(self) -> None:
        self.asked: list[Any] = []

    async def ask(self, request: Any, key: str, answer: type[Any]) -> Any:
        self.asked.append(request)
        assert isinstance(request, ChatInbound)
        return ChatReplyOut(conversation_id="c-1", status="self_service", replies=[])


@pytest.fixture
def messaging() -> Messaging:
    return Messaging()


@pytest.fixture
def client(
    tmp_path: Path,
    negotiation: Negotiation,  # noqa: F811 (the fixture imported above)
    messaging: Messaging,
) -> Iterator[TestClient[Litestar]]:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'read.sqlite'}")
    projection = PortalViewProjection(VAULT)
    projection.create_tables(engine)
    with engine.begin() as conn:
        projection.apply(conn, cast(list[Envelope], DEBTS))
    app = Litestar(
        route_handlers=[
            PortalController,
            AgreementsController,
            PaymentsController,
            ChatController,
            DocumentLinkController,  # test_document_link_pages.py
            PortalAdminController,
        ],
        middleware=[DefineMiddleware(BearerTokenMiddleware)],
        plugins=pydantic_plugins(),
        exception_handlers={
            ApiError: handle_api_error,
            ServiceRefused: handle_service_refused,
            ServiceUnavailable: handle_service_unavailable,
            HTTPException: handle_http_exception,
            pydantic.ValidationError: handle_contract_error,
        },
        template_config=template_config(),
        state=State(
            {
                "settings": Settings(data_dir=tmp_path),
                "clock": BusinessClock(TODAY),
                "signing_key": KEY,
                "gateway_app": GatewayApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}),
                "gateway_relay": Relay(),
                "vault": VAULT,
                "read_engine": engine,
                "negotiation": local_negotiation(negotiation.app, TODAY),
                "messaging": messaging,
            }
        ),
    )
    with TestClient(app) as test_client:
        yield test_client
    engine.dispose()


def error_of(answer: Any) -> tuple[int, str, list[tuple[str, str, str]]]:
    """(status, message, [(field, rule, message)]) of an answer in the API's error shape."""
    error = answer.json()["error"]
    assert error["status"] == answer.status_code
    return (
        answer.status_code,
        error["message"],
        [(d["field"], d["rule"], d["message"]) for d in error["details"]],
    )


NO_PORTAL = (404, "portal não encontrado", [("tenant", "no_portal", "portal não encontrado")])


def portal_token(client: TestClient[Litestar]) -> dict[str, str]:
    found = client.post(f"/api/v1/portal/{TENANT}/lookup", json={"document": ISABELA})
    assert found.status_code == 200, found.text
    return {"Authorization": f"Bearer {found.json()['portal_token']}"}


# ---- 1. a tenant without a portal has no door ------------------------------------------------


@pytest.mark.parametrize("tenant", ["naoexiste", "a%20b", "-x", "x" * 64])
def test_a_lookup_in_a_tenant_without_a_portal_is_not_found_and_gives_no_token(
    client: TestClient[Litestar], tenant: str
) -> None:
    answer = client.post(f"/api/v1/portal/{tenant}/lookup", json={"document": ISABELA})

    assert error_of(answer) == NO_PORTAL
    assert answer.json()["error"]["code"] == "not_found"
    assert "portal_token" not in answer.text
    # Before reading the body: the tenant is what is wrong, whatever was sent.
    assert error_of(client.post(f"/api/v1/portal/{tenant}/lookup")) == NO_PORTAL
    # The agency's own portal still answers.
    assert client.post(f"/api/v1/portal/{TENANT}/lookup", json={"document": ISABELA}).is_success


def test_the_web_chat_of_a_tenant_without_a_portal_starts_no_conversation(
    client: TestClient[Litestar], messaging: Messaging
) -> None:
    for tenant in ("nope", "a%20b"):
        answer = client.post(f"/api/v1/chat/{tenant}/messages", json={"text": "oi"})
        assert error_of(answer) == NO_PORTAL
        polled = client.get(f"/api/v1/chat/{tenant}/conversations/c-1")
        assert error_of(polled) == NO_PORTAL
    assert messaging.asked == []

    hello = client.post(f"/api/v1/chat/{TENANT}/messages", json={"text": "oi"})
    assert hello.status_code == 200 and hello.json()["conversation_id"] == "c-1"
    assert [(m.tenant, m.text) for m in messaging.asked] == [(TENANT, "oi")]


def test_a_saved_profile_opens_the_portal_of_a_tenant_without_debts(
    client: TestClient[Litestar],
) -> None:
    assert error_of(client.post("/api/v1/portal/nova/verify", json={})) == NO_PORTAL
    token = issue_token(KEY, tenant="nova", role="admin", ttl=dt.timedelta(hours=1))
    saved = client.put(
        "/api/v1/admin/portal",
        json={"name": "Nova Assessoria"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert saved.status_code == 200, saved.text

    # At once, though "no portal" was just remembered for it.
    answer = client.post("/api/v1/portal/nova/lookup", json={"document": ISABELA})
    assert answer.status_code == 200
    assert answer.json()["debts"] == []


def test_whether_a_tenant_has_a_portal_is_asked_once_in_a_while(
    client: TestClient[Litestar], monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []
    has_debts = portal_queries.tenant_has_debts

    def counting(engine: sa.Engine, tenant: str) -> bool:
        asked.append(tenant)
        return has_debts(engine, tenant)

    monkeypatch.setattr(portal_queries, "tenant_has_debts", counting)
    for _ in range(5):
        client.post(f"/api/v1/portal/{TENANT}/lookup", json={"document": ISABELA})
        client.post("/api/v1/chat/nope/messages", json={"text": "oi"})
    client.post("/api/v1/chat/a%20b/messages", json={"text": "oi"})

    assert sorted(asked) == ["acme", "nope"]  # an impossible name is not even asked


def test_the_memory_of_portals_forgets_an_absence_sooner_and_stays_bounded() -> None:
    now = [0.0]
    known = KnownPortals(found_seconds=300, absent_seconds=5, max_tenants=2, clock=lambda: now[0])
    known.remember("acme", True)
    known.remember("nope", False)
    assert (known.get("acme"), known.get("nope"), known.get("other")) == (True, False, None)

    now[0] = 5.0
    assert (known.get("acme"), known.get("nope")) == (True, None)
    known.remember("b", False)
    known.remember("c", False)  # full: the oldest goes
    assert (known.get("acme"), known.get("b"), known.get("c")) == (None, False, False)


def test_the_api_and_the_pages_agree_on_what_a_tenant_may_be() -> None:
    assert PORTAL_TENANT.pattern == PAGE_TENANT.pattern


# ---- 2. the portal API's bad input, in the one error shape --------------------------------------


def test_a_lookup_without_a_body_says_the_body_and_its_field_are_required(
    client: TestClient[Litestar],
) -> None:
    path = f"/api/v1/portal/{TENANT}/lookup"
    empty = client.post(path, content=b"", headers={"content-type": "application/json"})
    assert error_of(empty) == (
        422,
        "body: corpo obrigatório: envie um JSON com document",
        [("body", "required", "corpo obrigatório: envie um JSON com document")],
    )
    assert error_of(client.post(path)) == error_of(empty)

    truncated = client.post(
        path, content=b'{"document": "578', headers={"content-type": "application/json"}
    )
    status, message, details = error_of(truncated)
    assert (status, details[0][:2]) == (400, ("body", "json"))
    assert message == "o corpo não é um JSON válido: termina antes de fechar (incompleto)"

    not_an_object = client.post(path, json=[ISABELA])
    assert error_of(not_an_object)[2] == [("body", "type", "tipo inválido")]


def test_offers_name_the_debt_id_parameter_whatever_is_wrong_with_it(
    client: TestClient[Litestar],
) -> None:
    path = f"/api/v1/portal/{TENANT}/offers"
    debtor = portal_token(client)

    missing = client.get(path, headers=debtor)
    assert error_of(missing) == (
        422,
        "debt_id: campo obrigatório",
        [("debt_id", "required", "campo obrigatório")],
    )
    too_many = client.get(path, params={"debt_id": [f"d{i}" for i in range(201)]}, headers=debtor)
    assert error_of(too_many) == (
        422,
        "debt_id: no máximo 200 itens",
        [("debt_id", "max_items", "no máximo 200 itens")],
    )
    assert too_many.json()["error"]["details"][0]["message_en"] == "Too many items"
    empty = client.get(f"{path}?debt_id=", headers=debtor)
    assert error_of(empty)[:2] == (422, "debt_id: no mínimo 1 caractere(s)")
    assert error_of(empty)[2][0][:2] == ("debt_id", "min_length")

    assert client.get(path, params={"debt_id": "d-old"}, headers=debtor).status_code == 200


@pytest.mark.parametrize("installments", ["3", True, 3.0, "1_0"])
def test_installments_are_a_json_integer_and_nothing_is_closed_otherwise(
    client: TestClient[Litestar],
    negotiation: Negotiation,  # noqa: F811 (the fixture imported above)
    installments: Any,
) -> None:
    answer = client.post(
        f"/api/v1/portal/{TENANT}/agreements",
        json={"debt_ids": ["d-old"], "installments": installments},
        headers=portal_token(client) | {"Idempotency-Key": "k-1"},
    )

    assert error_of(answer) == (
        422,
        "installments: deve ser um número inteiro",
        [("installments", "integer", "deve ser um número inteiro")],
    )
    # In English too without a word of money (a count of installments is no money).
    assert answer.json()["error"]["details"][0]["message_en"] == "Must be an integer"
    assert agreements_of(negotiation, ISABELA) == []


def test_an_empty_debt_id_in_an_agreement_is_named(client: TestClient[Litestar]) -> None:
    answer = client.post(
        f"/api/v1/portal/{TENANT}/agreements",
        json={"debt_ids": [""], "installments": 1},
        headers=portal_token(client) | {"Idempotency-Key": "k-1"},
    )
    assert error_of(answer)[2] == [("debt_ids.0", "min_length", "no mínimo 1 caractere(s)")]


@pytest.mark.parametrize("amount", ["1000", True, 1000.0])
def test_money_is_integer_centavos_in_a_json_integer(
    client: TestClient[Litestar], amount: Any
) -> None:
    token = issue_token(KEY, tenant=TENANT, role="integration", ttl=dt.timedelta(hours=1))
    answer = client.post(
        "/api/v1/payments",
        json={"invoice_id": "i-1", "amount_cents": amount, "paid_on": "2026-11-25"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert error_of(answer)[2] == [
        ("amount_cents", "integer", "deve ser um número inteiro (valores em centavos)")
    ]
    assert answer.json()["error"]["details"][0]["message_en"] == (
        "Must be an integer (money: in integer centavos)"
    )


def test_offers_of_unknown_debts_name_the_debt_id_parameter_and_a_few_ids(
    client: TestClient[Litestar],
) -> None:
    path = f"/api/v1/portal/{TENANT}/offers"
    debtor = portal_token(client)

    one = client.get(path, params={"debt_id": "abc"}, headers=debtor)
    assert error_of(one) == (
        404,
        "dívida não encontrada: abc",
        [("debt_id", "not_found", "dívida não encontrada: abc")],
    )

    unknown = [f"x-{i}" for i in range(200)]
    many = client.get(path, params={"debt_id": unknown}, headers=debtor)
    status, message, details = error_of(many)
    assert status == 404
    assert message == "200 dívidas não encontradas: x-0, x-1, x-2 e mais 197"
    assert details == [("debt_id", "not_found", message)]
    assert "x-3" not in many.text
