"""Bad input is answered naming the field and the rule, in pt-BR for the person reading."""

from __future__ import annotations

import pytest

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
