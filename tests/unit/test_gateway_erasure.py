"""Erasing a debtor's personal data on request (LGPD), by crypto-shredding: the admin endpoint
(roles, the one error shape, the OpenAPI schema), the use case (the keys erased in the vault,
the erasure recorded and published as `PersonalDataErased`, a repeated request safe), and the
read models once the published erasure reaches them."""

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

from contracts.personal import ERASURES_TOPIC, PersonalDataErased
from service_runtime.personal_data import REMOVED, SqlKeyVault, seal, unseal
from services.gateway.adapters.integration_events import integration_events
from services.gateway.adapters.tokens import Role, issue_token
from services.gateway.application.privacy import NoPersonalData, PrivacyService
from services.gateway.application.uploads import GatewayApplication
from services.gateway.entrypoints.http.auth import BearerTokenMiddleware
from services.gateway.entrypoints.http.errors import (
    ApiError,
    handle_api_error,
    handle_http_exception,
)
from services.gateway.entrypoints.http.privacy import PrivacyController
from services.gateway.read_models.call_list import CallListProjection
from services.gateway.read_models.conversations import ConversationsProjection
from services.gateway.read_models.portal_view import PortalViewProjection, open_debts
from services.gateway.read_models.timeline import TimelineProjection, debtor_timeline
from tests.unit.test_projections import (
    AGENCY,
    JOAO,
    JOAO_CONTACT,
    MARIA,
    imported,
    imported_v2,
    memory_vault,
)

KEY = "k" * 48
ADMIN = "ana.admin@recupera-sul"
URL = f"/api/v1/admin/debtors/{JOAO}/erasure"
NOW = dt.datetime(2026, 11, 25, 15, 30, tzinfo=dt.UTC)


class Relay:
    def __init__(self) -> None:
        self.woken = 0

    def wake(self) -> None:
        self.woken += 1


@pytest.fixture
def vault() -> SqlKeyVault:
    return memory_vault()


@pytest.fixture
def gateway() -> GatewayApplication:
    return GatewayApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})


@pytest.fixture
def read_engine(tmp_path: Path, vault: SqlKeyVault) -> Iterator[sa.Engine]:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'read.sqlite'}")
    for projection in (
        PortalViewProjection(vault),
        TimelineProjection(vault),
        CallListProjection(vault),
        ConversationsProjection(vault),
    ):
        projection.create_tables(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def relay() -> Relay:
    return Relay()


@pytest.fixture
def client(
    gateway: GatewayApplication, vault: SqlKeyVault, read_engine: sa.Engine, relay: Relay
) -> Iterator[TestClient[Litestar]]:
    app = Litestar(
        route_handlers=[PrivacyController],
        middleware=[DefineMiddleware(BearerTokenMiddleware)],
        exception_handlers={ApiError: handle_api_error, HTTPException: handle_http_exception},
        state=State(
            {
                "signing_key": KEY,
                "gateway_app": gateway,
                "gateway_relay": relay,
                "read_engine": read_engine,
                "vault": vault,
            }
        ),
    )
    with TestClient(app) as test_client:
        yield test_client


def headers(role: Role = "admin", tenant: str = AGENCY) -> dict[str, str]:
    token = issue_token(KEY, tenant=tenant, role=role, subject=ADMIN, ttl=dt.timedelta(hours=1))
    return {"Authorization": f"Bearer {token}"}


def published(gateway: GatewayApplication) -> list[PersonalDataErased]:
    found: list[PersonalDataErased] = []
    for notification in gateway.recorder.select_notifications(start=1, limit=100):
        for topic, message in integration_events(gateway.mapper.to_domain_event(notification)):
            assert topic == ERASURES_TOPIC and isinstance(message, PersonalDataErased)
            found.append(message)
    return found


def error_of(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    assert error["status"] == response.status_code
    assert error["code"] and error["message"] and error["message_en"]
    return error


# ---- the use case -----------------------------------------------------------------------------


async def test_the_keys_are_erased_then_the_erasure_is_recorded_and_published(
    gateway: GatewayApplication, vault: SqlKeyVault, read_engine: sa.Engine, relay: Relay
) -> None:
    sealed = seal(vault.key_for(AGENCY, JOAO), JOAO_CONTACT)
    service = PrivacyService(
        app=gateway, vault=vault, read_engine=read_engine, on_saved=relay.wake, now=lambda: NOW
    )

    receipt = await service.erase(
        AGENCY, JOAO, requested_by=ADMIN, reason="pedido do titular por e-mail"
    )

    assert (receipt.document, receipt.key_ids, receipt.erased_at, receipt.requested_by) == (
        JOAO,
        [sealed.key_id],
        NOW,
        ADMIN,
    )
    assert unseal(sealed, vault) is None  # nothing sealed with it opens any more
    assert unseal(sealed, SqlKeyVault(vault.engine)) is None  # in any process
    (message,) = published(gateway)
    assert (message.tenant, message.document, message.key_ids) == (AGENCY, JOAO, [sealed.key_id])
    assert (message.requested_by, message.reason) == (ADMIN, "pedido do titular por e-mail")
    assert message.partition_key() == JOAO.encode()
    assert relay.woken == 1

    # Asked again: the same keys, recorded again (who asked, when), published again.
    again = await service.erase(AGENCY, JOAO, requested_by="bia@recupera-sul", reason="de novo")
    assert again.key_ids == [sealed.key_id]
    first, second = published(gateway)
    assert first.event_id == message.event_id and second.event_id != first.event_id
    assert second.aggregate_version == first.aggregate_version + 1
    # The same stored event publishes with the same event id (the relay may send it twice).
    assert [m.event_id for m in published(gateway)] == [first.event_id, second.event_id]


async def test_nothing_to_erase_is_not_found_and_changes_nothing(
    gateway: GatewayApplication, vault: SqlKeyVault, read_engine: sa.Engine
) -> None:
    service = PrivacyService(app=gateway, vault=vault, read_engine=read_engine)
    with pytest.raises(NoPersonalData):
        await service.erase(AGENCY, MARIA, requested_by=ADMIN, reason="pedido")
    # Another tenant's debtor is not this tenant's.
    vault.key_for("outra", MARIA)
    with pytest.raises(NoPersonalData):
        await service.erase(AGENCY, MARIA, requested_by=ADMIN, reason="pedido")
    assert published(gateway) == []


async def test_a_debtor_whose_data_only_came_in_clear_is_erased_without_keys(
    gateway: GatewayApplication, vault: SqlKeyVault, read_engine: sa.Engine
) -> None:
    with read_engine.begin() as conn:
        PortalViewProjection(vault).apply(conn, [imported()])  # version 1: no key
    service = PrivacyService(app=gateway, vault=vault, read_engine=read_engine)
    receipt = await service.erase(AGENCY, JOAO, requested_by=ADMIN, reason="pedido")
    assert receipt.key_ids == []
    (message,) = published(gateway)
    assert message.key_ids == []


# ---- the endpoint -----------------------------------------------------------------------------


def test_an_admin_erases_a_debtor_and_the_read_models_show_it_removed(
    client: TestClient[Litestar],
    gateway: GatewayApplication,
    vault: SqlKeyVault,
    read_engine: sa.Engine,
) -> None:
    debt = imported_v2(vault)
    projections = [PortalViewProjection(vault), TimelineProjection(vault)]
    for projection in projections:
        with read_engine.begin() as conn:
            projection.apply(conn, [debt])
    assert open_debts(read_engine, AGENCY, JOAO)[0]["debtor_name"] == "João da Silva"

    answer = client.post(
        "/api/v1/admin/debtors/529.982.247-25/erasure",
        json={"reason": "  Pedido do titular por e-mail em 25/11/2026  "},
        headers=headers(),
    )

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) == {"document", "key_ids", "erased_at", "requested_by"}
    assert (body["document"], body["key_ids"], body["requested_by"]) == (
        JOAO,
        [debt.personal.key_id],
        ADMIN,
    )
    erased_at = dt.datetime.fromisoformat(body["erased_at"])
    assert erased_at.utcoffset() == dt.timedelta(0)
    assert abs(dt.datetime.now(dt.UTC) - erased_at) < dt.timedelta(minutes=1)
    (message,) = published(gateway)
    assert message.reason == "Pedido do titular por e-mail em 25/11/2026"

    # The published erasure reaches the gateway's read models.
    for projection in projections:
        with read_engine.begin() as conn:
            projection.apply(conn, [message])
    assert open_debts(read_engine, AGENCY, JOAO)[0]["debtor_name"] == REMOVED
    last = debtor_timeline(read_engine, AGENCY, JOAO)[-1]
    assert last["summary"].startswith(
        f"Dados pessoais removidos a pedido do titular (LGPD) por {ADMIN} em "
    )

    # Again: safe, the same keys.
    repeated = client.post(URL, json={"reason": "de novo"}, headers=headers())
    assert repeated.status_code == 200
    assert repeated.json()["key_ids"] == [debt.personal.key_id]


def test_only_an_admin_may_erase(client: TestClient[Litestar], vault: SqlKeyVault) -> None:
    sealed = seal(vault.key_for(AGENCY, JOAO), JOAO_CONTACT)
    roles: tuple[Role, ...] = ("operator", "analyst", "integration")
    for role in roles:
        refused = client.post(URL, json={"reason": "pedido"}, headers=headers(role))
        assert refused.status_code == 403
        assert error_of(refused)["code"] == "forbidden"
    anonymous = client.post(URL, json={"reason": "pedido"})
    assert anonymous.status_code == 401
    assert error_of(anonymous)["code"] == "unauthorized"
    assert unseal(sealed, vault) == JOAO_CONTACT  # nothing was erased


@pytest.mark.parametrize(
    ("document", "rule"),
    [("529.982.247-26", "check_digit"), ("123", "length"), ("111.111.111-11", "repeated_digits")],
)
def test_a_bad_document_is_refused_naming_the_field_and_changes_nothing(
    client: TestClient[Litestar],
    gateway: GatewayApplication,
    vault: SqlKeyVault,
    document: str,
    rule: str,
) -> None:
    sealed = seal(vault.key_for(AGENCY, JOAO), JOAO_CONTACT)
    refused = client.post(
        f"/api/v1/admin/debtors/{document}/erasure", json={"reason": "pedido"}, headers=headers()
    )
    assert refused.status_code == 422
    error = error_of(refused)
    assert error["code"] == "validation_failed"
    ((detail),) = error["details"]
    assert (detail["field"], detail["rule"]) == ("document", rule)
    assert detail["message"] and detail["message_en"]
    assert unseal(sealed, vault) == JOAO_CONTACT
    assert published(gateway) == []


@pytest.mark.parametrize(
    ("body", "rule"),
    [({}, "required"), ({"reason": "   "}, "min_length"), ({"reason": "x" * 501}, "max_length")],
)
def test_the_reason_is_required_and_at_most_500_characters(
    client: TestClient[Litestar], vault: SqlKeyVault, body: dict[str, Any], rule: str
) -> None:
    sealed = seal(vault.key_for(AGENCY, JOAO), JOAO_CONTACT)
    refused = client.post(URL, json=body, headers=headers())
    assert refused.status_code == 422
    error = error_of(refused)
    assert [(d["field"], d["rule"]) for d in error["details"]] == [("reason", rule)]
    assert unseal(sealed, vault) == JOAO_CONTACT


def test_an_unknown_document_is_not_found(
    client: TestClient[Litestar], gateway: GatewayApplication
) -> None:
    missing = client.post(URL, json={"reason": "pedido"}, headers=headers())
    assert missing.status_code == 404
    error = error_of(missing)
    assert error["code"] == "not_found" and JOAO in error["message"]
    assert [(d["field"], d["rule"]) for d in error["details"]] == [("document", "not_found")]
    assert published(gateway) == []


def test_the_endpoint_is_in_the_openapi_schema_with_its_models_and_errors(
    client: TestClient[Litestar],
) -> None:
    schema = client.get("/schema/openapi.json").json()
    operation = schema["paths"]["/api/v1/admin/debtors/{document}/erasure"]["post"]
    assert operation["summary"].startswith("Erase a debtor's personal data")
    request = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    components = schema["components"]["schemas"]
    assert components[request.rsplit("/", 1)[1]]["properties"]["reason"]["maxLength"] == 500
    ok = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert set(components[ok.rsplit("/", 1)[1]]["properties"]) == {
        "document",
        "key_ids",
        "erased_at",
        "requested_by",
    }
    for status in ("401", "403", "404", "422"):
        ref = operation["responses"][status]["content"]["application/json"]["schema"]["$ref"]
        error = components[ref.rsplit("/", 1)[1]]
        assert set(error["properties"]) == {"error"}
