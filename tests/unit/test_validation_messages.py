"""Bad input is answered naming the field and the rule, in pt-BR for the person reading."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import pydantic
import pytest
from litestar import Litestar, get, post
from litestar.exceptions import HTTPException
from litestar.params import Parameter
from litestar.testing import TestClient

from contracts.errors import ErrorDetail, ErrorReply
from service_runtime.service_client import ServiceRefused
from services.gateway.entrypoints.http.errors import (
    contract_fields,
    handle_contract_error,
    handle_http_exception,
    handle_service_refused,
)
from services.gateway.entrypoints.http.validation_messages import explain


@pytest.mark.parametrize(
    ("message", "rule", "text"),
    [
        ("Field required", "required", "campo obrigatório"),
        ("Input should be greater than 0", "exclusive_minimum", "deve ser maior que 0"),
        ("Input should be less than or equal to 100", "maximum", "deve ser no máximo 100"),
        ("Input should be a valid integer", "integer", "deve ser um número inteiro"),
        ("Decimal input should have no more than 2 decimal places", "decimal_places", "2 casas"),
        ("Extra inputs are not permitted", "unknown_field", "campo desconhecido"),
        ("Input should be 'monthly' or 'every_n_days'", "choice", "'monthly' ou 'every_n_days'"),
        ("something new from pydantic", "invalid", "something new from pydantic"),
    ],
)
def test_pydantic_messages_become_rules_and_portuguese(message: str, rule: str, text: str) -> None:
    field, got_rule, got_text = explain("principal_discount_pct", message)
    assert (field, got_rule) == ("principal_discount_pct", rule)
    assert text in got_text


def test_a_models_own_check_names_its_field() -> None:
    assert explain(
        "body", "Value error, every_n_days: obrigatório quando periodicity é every_n_days"
    ) == (
        "every_n_days",
        "invalid",
        "obrigatório quando periodicity é every_n_days",
    )


@pytest.mark.parametrize(
    ("message", "rule", "text"),
    [
        ("Expected `int` >= 1", "minimum", "deve ser maior ou igual a 1"),
        ("Expected `int` <= 1000", "maximum", "deve ser no máximo 1000"),
        ("Expected `int`, got `str`", "integer", "deve ser um número inteiro"),
        ("Invalid enum value 'zzz'", "choice", "valor não permitido: 'zzz'"),
        ("Invalid RFC3339 encoded date", "date", "deve ser uma data AAAA-MM-DD"),
        ("Invalid RFC3339 encoded datetime", "datetime", "data e hora ISO 8601 com fuso"),
        ("Input should be a valid datetime", "datetime", "data e hora ISO 8601 com fuso"),
        ("Expected `str` of length <= 40 - at `$[0]`", "max_length", "no máximo 40 caracteres"),
        ("Decimal input should have no more than 3 digits in total", "max_digits", "3 dígitos"),
        ("Expected `array` of length <= 200", "max_items", "no máximo 200 itens"),
        ("Expected `array` of length >= 1", "min_items", "no mínimo 1 item(ns)"),
    ],
)
def test_query_parameter_messages_in_portuguese(message: str, rule: str, text: str) -> None:
    field, got_rule, got_text = explain("page", message)
    assert (field, got_rule) == ("page", rule)
    assert text in got_text
    assert "Expected" not in got_text and "Invalid" not in got_text


# --- through the gateway's handler, as a client sees it -------------------------------------


def _client() -> TestClient[Litestar]:
    @get("/conversations")
    async def conversations(
        page: Annotated[int, Parameter(ge=1)] = 1,
        since: Annotated[dt.datetime | None, Parameter(query="from")] = None,
        as_of: dt.date | None = None,
    ) -> str:
        return "ok"

    @post("/conditions")
    async def conditions(data: dict[str, int]) -> str:
        return "ok"

    @post("/people")
    async def people(data: Person) -> str:
        return "ok"

    @get("/report", opt=contract_fields(documents="document"))
    async def report(
        documents: Annotated[list[str], Parameter(query="document")],
        since: Annotated[dt.date, Parameter(query="from")],
    ) -> str:
        Report(documents=documents)  # the service's contract, with its own name of the value
        return "ok"

    @get("/offers", opt=contract_fields(debt_ids="debt_id"))
    async def offers(debt_id: list[str]) -> str:
        # The service refuses the request's contract, as its request server says it.
        raise ServiceRefused(
            ErrorReply(
                status=422,
                code="validation_failed",
                message="pedido inválido",
                details=[
                    ErrorDetail(
                        field="request.offers.debt_ids",
                        rule="too_long",
                        message="List should have at most 200 items after validation, not 201",
                    ),
                    ErrorDetail(field="document", rule="check_digit", message="CPF inválido"),
                ],
            )
        )

    app = Litestar(
        [conversations, conditions, people, report, offers],
        exception_handlers={
            HTTPException: handle_http_exception,
            pydantic.ValidationError: handle_contract_error,
            ServiceRefused: handle_service_refused,
        },
    )
    return TestClient(app)


class Person(pydantic.BaseModel):
    name: str
    document_number: str = pydantic.Field(alias="document")
    nickname: str | None = None


class Report(pydantic.BaseModel):
    documents: list[str] = pydantic.Field(max_length=2)


def test_a_parameter_is_named_as_the_client_sends_it_and_explained_in_portuguese() -> None:
    with _client() as client:
        since = client.get("/conversations?from=ontem").json()["error"]
        page = client.get("/conversations?page=0").json()["error"]
        as_of = client.get("/conversations?as_of=31/12/2026").json()["error"]

    assert since["details"][0]["field"] == "from"
    assert since["details"][0]["rule"] == "datetime"
    assert page["details"][0] == {
        "field": "page",
        "rule": "minimum",
        "message": "deve ser maior ou igual a 1",
        "message_en": "The value is too small",
    }
    assert as_of["message"] == "as_of: deve ser uma data AAAA-MM-DD"


def test_a_body_that_is_not_json_is_refused_in_portuguese_naming_the_byte() -> None:
    with _client() as client:
        answer = client.post(
            "/conditions", content=b"{bad", headers={"content-type": "application/json"}
        )

    error = answer.json()["error"]
    assert answer.status_code == 400
    assert error["message"] == "o corpo não é um JSON válido (byte 1)"
    assert error["details"][0]["field"] == "body"
    assert error["details"][0]["rule"] == "json"


def test_a_required_parameter_not_sent_is_named_as_the_client_sends_it() -> None:
    with _client() as client:
        answer = client.get("/report?document=1")

    error = answer.json()["error"]
    assert answer.status_code == 422
    assert error["message"] == "from: campo obrigatório"
    assert error["details"] == [
        {
            "field": "from",
            "rule": "required",
            "message": "campo obrigatório",
            "message_en": "This field is required",
        }
    ]


def test_a_body_not_sent_is_required_naming_the_fields_it_must_have() -> None:
    with _client() as client:
        answer = client.post("/people", content=b"", headers={"content-type": "application/json"})

    error = answer.json()["error"]
    assert answer.status_code == 422
    assert [(d["field"], d["rule"], d["message"]) for d in error["details"]] == [
        ("body", "required", "corpo obrigatório: envie um JSON com name, document")
    ]
    assert "'data'" not in answer.text


def test_a_truncated_body_is_refused_in_portuguese() -> None:
    with _client() as client:
        answer = client.post(
            "/people", content=b'{"name": "Jo', headers={"content-type": "application/json"}
        )

    error = answer.json()["error"]
    assert answer.status_code == 400
    assert error["message"] == "o corpo não é um JSON válido: termina antes de fechar (incompleto)"
    assert (error["details"][0]["field"], error["details"][0]["rule"]) == ("body", "json")
    assert "truncated" not in answer.text


def test_a_refusal_of_the_service_contract_names_the_parameter_the_client_sent() -> None:
    with _client() as client:
        answer = client.get("/report?document=1&document=2&document=3&from=2026-11-25")

    error = answer.json()["error"]
    assert answer.status_code == 422
    assert [(d["field"], d["rule"], d["message"]) for d in error["details"]] == [
        ("document", "max_items", "no máximo 2 itens")
    ]


def test_a_services_refusal_of_its_contract_is_said_in_portuguese_naming_what_was_sent() -> None:
    with _client() as client:
        answer = client.get("/offers?debt_id=d-1")

    error = answer.json()["error"]
    assert answer.status_code == 422
    assert [(d["field"], d["rule"], d["message"]) for d in error["details"]] == [
        ("debt_id", "max_items", "no máximo 200 itens"),
        ("document", "check_digit", "CPF inválido"),  # the service's own rule, as it said it
    ]
    assert "List should" not in answer.text
