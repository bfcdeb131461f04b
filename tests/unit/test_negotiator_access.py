"""Who may negotiate for a tenant: a token of another agency is refused naming the tenant, so
the English text says the same as the Portuguese one."""

from __future__ import annotations

import pytest

from services.gateway.adapters.tokens import Principal
from services.gateway.entrypoints.http.errors import ApiError, error_body
from services.gateway.entrypoints.http.negotiation import negotiator


def test_a_token_of_another_agency_is_refused_naming_the_tenant() -> None:
    operator = Principal(subject="ana@sul", tenant="recupera-sul", role="operator")

    with pytest.raises(ApiError) as refused:
        negotiator(operator, "recupera-norte")

    body = error_body(
        refused.value.status, refused.value.code, refused.value.message, refused.value.details
    )["error"]
    assert body["status"] == 403
    assert body["message"] == "este token é de outra assessoria"
    assert body["details"][0]["field"] == "tenant"
    assert body["details"][0]["message_en"] == "Must be the token's tenant"


def test_the_token_of_the_same_agency_negotiates_as_its_operator() -> None:
    operator = Principal(subject="ana@sul", tenant="recupera-sul", role="operator")

    assert negotiator(operator, "recupera-sul").operator == "ana@sul"
