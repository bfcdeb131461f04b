"""An operator is named to debtors as the operator chose ("Ana"), never by the token's login
(often an e-mail), over the gateway as a client meets it: the availability call takes the
name, a name the debtor could not read as one is refused in the one error shape (field, rule,
pt-BR and English), and the web chat's conversation, public, shows no operator's login. The
messaging service is the real chatbot application, answered in process."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pydantic
import pytest
from litestar import Litestar
from litestar.datastructures import State
from litestar.exceptions import HTTPException
from litestar.middleware import DefineMiddleware
from litestar.testing import TestClient

from contracts.messaging_requests import (
    ChatInbound,
    ClearDisplayName,
    GetConversation,
    GetOperator,
    SetAvailability,
    TransferConversation,
)
from service_runtime.refusal import Refused
from service_runtime.service_client import ServiceRefused
from service_runtime.settings import Settings
from services.gateway.adapters.tokens import issue_token
from services.gateway.application.portal import KnownPortals
from services.gateway.entrypoints.http.app import pydantic_plugins
from services.gateway.entrypoints.http.auth import BearerTokenMiddleware
from services.gateway.entrypoints.http.conversations import (
    ChatController,
    ConversationsController,
    OperatorsController,
)
from services.gateway.entrypoints.http.errors import (
    ApiError,
    handle_api_error,
    handle_contract_error,
    handle_http_exception,
    handle_service_refused,
)
from tests.unit.test_chatbot import NOW, Chat
from tests.unit.test_messaging_app import AGENCY

KEY = "chave-de-teste-do-gateway-0123456789"


class InProcessMessaging:
    """The messaging service's answers, from the real chatbot application."""

    def __init__(self, chat: Chat) -> None:
        self.chat = chat

    async def ask(self, request: Any, key: str, answer: type[Any]) -> Any:
        conversations = self.chat.conversations
        try:
            if isinstance(request, SetAvailability):
                return conversations.set_availability(request, NOW)
            if isinstance(request, GetOperator):
                return conversations.operator(request)
            if isinstance(request, ClearDisplayName):
                return conversations.clear_display_name(request)
            if isinstance(request, ChatInbound):
                return conversations.inbound(request, NOW)
            if isinstance(request, GetConversation):
                return conversations.get(request)
            if isinstance(request, TransferConversation):
                return conversations.transfer(request, NOW)
        except Refused as exc:
            raise ServiceRefused(exc.reply()) from exc
        raise AssertionError(request)


@pytest.fixture
def chat(tmp_path: Path) -> Chat:
    return Chat(tmp_path)


@pytest.fixture
def client(chat: Chat, tmp_path: Path) -> Iterator[TestClient[Litestar]]:
    # The web chat is open to tenants with a portal: this one has (known, not looked up).
    portals = KnownPortals()
    portals.remember(AGENCY, True)
    app = Litestar(
        route_handlers=[ChatController, ConversationsController, OperatorsController],
        middleware=[DefineMiddleware(BearerTokenMiddleware)],
        plugins=pydantic_plugins(),
        exception_handlers={
            ApiError: handle_api_error,
            ServiceRefused: handle_service_refused,
            HTTPException: handle_http_exception,
            pydantic.ValidationError: handle_contract_error,
        },
        state=State(
            {
                "signing_key": KEY,
                "messaging": InProcessMessaging(chat),
                "known_portals": portals,
                "settings": Settings(data_dir=tmp_path),
                # The portal's use cases are built for the guard; only known_portals is read.
                **dict.fromkeys(("gateway_app", "read_engine", "clock", "negotiation", "vault")),
                "gateway_relay": SimpleNamespace(wake=None),
            }
        ),
    )
    with TestClient(app) as test_client:
        yield test_client


def operator(login: str) -> dict[str, str]:
    token = issue_token(
        KEY, tenant=AGENCY, role="operator", subject=login, ttl=dt.timedelta(hours=1)
    )
    return {"Authorization": f"Bearer {token}"}


ANA = operator("ana@recupera.com.br")


def test_the_operator_gives_the_name_debtors_read_with_the_availability_call(
    client: TestClient[Litestar],
) -> None:
    answer = client.put(
        "/api/v1/operators/me/availability",
        json={"available": True, "display_name": "Ana"},
        headers=ANA,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "operator": "ana@recupera.com.br",
        "available": True,
        "display_name": "Ana",
        "conversations": [],
    }
    # Omitted: the name stays.
    again = client.put("/api/v1/operators/me/availability", json={"available": False}, headers=ANA)
    assert (again.json()["available"], again.json()["display_name"]) == (False, "Ana")


@pytest.mark.parametrize(
    ("name", "rule", "message_en"),
    [
        (
            "ana@recupera.com.br",
            "email",
            "A name the debtor reads (e.g. Ana), not an e-mail or login",
        ),
        ("12345", "digits_only", "A name the debtor reads (e.g. Ana), not a number"),
        (" ", "blank", "Must not be blank"),
        ("Ana Maria de Souza Albuquerque Figueiredo", "max_length", "Too long"),
    ],
)
def test_a_name_that_is_no_name_is_refused_naming_the_field_and_the_rule(
    client: TestClient[Litestar], name: str, rule: str, message_en: str
) -> None:
    answer = client.put(
        "/api/v1/operators/me/availability",
        json={"available": True, "display_name": name},
        headers=ANA,
    )

    assert answer.status_code == 422, answer.text
    [detail] = answer.json()["error"]["details"]
    assert (detail["field"], detail["rule"], detail["message_en"]) == (
        "display_name",
        rule,
        message_en,
    )
    assert "Ana" in detail["message"] or "nome" in detail["message"]


def test_the_web_chat_shows_the_debtor_the_operators_name_and_never_the_login(
    client: TestClient[Litestar],
) -> None:
    started = client.post(f"/api/v1/chat/{AGENCY}/messages", json={"text": "oi"}).json()
    conversation_id = started["conversation_id"]
    for text in ("529.982.247-25", "6"):
        client.post(
            f"/api/v1/chat/{AGENCY}/messages",
            json={"conversation_id": conversation_id, "text": text},
        )
    client.put(
        "/api/v1/operators/me/availability",
        json={"available": True, "display_name": "Ana"},
        headers=ANA,
    )

    polled = client.get(f"/api/v1/chat/{AGENCY}/conversations/{conversation_id}")

    assert polled.status_code == 200, polled.text
    assert "ana@recupera" not in polled.text
    # Whoever holds the conversation's id reads what the chat said, never the debtor's
    # document, name or address (any CPF can be typed in the chat).
    shown = polled.json()
    assert (shown["document"], shown["debtor_name"], shown["address"]) == (None, None, None)
    assert "52998224725" not in polled.text
    assert polled.json()["entries"][-1]["text"].startswith("Você está falando com Ana, da ")
    # Staff still see whose it is.
    staff = client.get(f"/api/v1/conversations/{conversation_id}", headers=ANA).json()
    assert staff["operator"] == "ana@recupera.com.br"


def test_the_operator_reads_the_name_given_and_can_forget_it(
    client: TestClient[Litestar],
) -> None:
    me = client.get("/api/v1/operators/me", headers=ANA)
    assert me.status_code == 200, me.text
    assert me.json() == {
        "operator": "ana@recupera.com.br",
        "available": False,
        "display_name": None,
        "conversations": [],
    }
    client.put(
        "/api/v1/operators/me/availability",
        json={"available": True, "display_name": "Ana"},
        headers=ANA,
    )
    assert client.get("/api/v1/operators/me", headers=ANA).json()["display_name"] == "Ana"

    forgotten = client.delete("/api/v1/operators/me/display-name", headers=ANA)

    assert forgotten.status_code == 200, forgotten.text
    assert (forgotten.json()["display_name"], forgotten.json()["available"]) == (None, True)
    assert client.get("/api/v1/operators/me", headers=ANA).json()["display_name"] is None
    # Again: nothing to forget, the same answer.
    assert client.delete("/api/v1/operators/me/display-name", headers=ANA).json() == (
        forgotten.json()
    )
    # Another operator's name stays.
    bruno = operator("bruno@recupera.com.br")
    client.put(
        "/api/v1/operators/me/availability",
        json={"available": True, "display_name": "Bruno"},
        headers=bruno,
    )
    client.delete("/api/v1/operators/me/display-name", headers=ANA)
    assert client.get("/api/v1/operators/me", headers=bruno).json()["display_name"] == "Bruno"
