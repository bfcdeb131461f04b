"""Pydantic's validation messages (English, as Litestar hands them over) as the API's rule
names and pt-BR messages: a person reads the message, a program reads the rule."""

from __future__ import annotations

import re

# (pattern, rule, pt-BR message with the pattern's groups)
_RULES: tuple[tuple[re.Pattern[str], str, str], ...] = tuple(
    (re.compile(pattern), rule, message)
    for pattern, rule, message in (
        (r"^Field required", "required", "campo obrigatório"),
        (r"^Extra inputs are not permitted", "unknown_field", "campo desconhecido"),
        (
            r"^Input should be greater than or equal to (\S+)",
            "minimum",
            "deve ser maior ou igual a {0}",
        ),
        (r"^Input should be greater than (\S+)", "exclusive_minimum", "deve ser maior que {0}"),
        (r"^Input should be less than or equal to (\S+)", "maximum", "deve ser no máximo {0}"),
        (r"^Input should be less than (\S+)", "exclusive_maximum", "deve ser menor que {0}"),
        (r"^Input should be a valid integer", "integer", "deve ser um número inteiro"),
        (
            r"^Input should be a valid datetime",
            "datetime",
            "deve ser data e hora ISO 8601 com fuso, ex.: 2026-11-25T09:00:00-03:00",
        ),
        (r"^Input should be a valid date", "date", "deve ser uma data AAAA-MM-DD"),
        (r"^Input should be a valid (number|decimal)", "number", "deve ser um número"),
        (r"^Input should be a valid boolean", "boolean", "deve ser true ou false"),
        (r"^Input should be a valid (string|list|dictionary)", "type", "tipo inválido"),
        (
            r"^Decimal input should have no more than (\d+) decimal places?",
            "decimal_places",
            "no máximo {0} casas decimais",
        ),
        (
            r"^String should have at most (\d+) characters?",
            "max_length",
            "no máximo {0} caracteres",
        ),
        (
            r"^String should have at least (\d+) characters?",
            "min_length",
            "no mínimo {0} caractere(s)",
        ),
        (r"^List should have at least (\d+) items?", "min_items", "no mínimo {0} item(ns)"),
        (r"^List should have at most (\d+) items?", "max_items", "no máximo {0} itens"),
        (r"^String should match pattern '(.*)'", "pattern", "formato inválido"),
        (
            r"^Decimal input should have no more than (\d+) digits? in total",
            "max_digits",
            "no máximo {0} dígitos",
        ),
        # msgspec's, as Litestar hands over query, path and header parameters.
        (r"^Expected `\w+` >= (\S+)", "minimum", "deve ser maior ou igual a {0}"),
        (r"^Expected `\w+` > (\S+)", "exclusive_minimum", "deve ser maior que {0}"),
        (r"^Expected `\w+` <= (\S+)", "maximum", "deve ser no máximo {0}"),
        (r"^Expected `\w+` < (\S+)", "exclusive_maximum", "deve ser menor que {0}"),
        (r"^Expected `str` of length <= (\d+)", "max_length", "no máximo {0} caracteres"),
        (r"^Expected `str` of length >= (\d+)", "min_length", "no mínimo {0} caractere(s)"),
        (r"^Expected `str` matching regex", "pattern", "formato inválido"),
        (r"^Expected `array` of length <= (\d+)", "max_items", "no máximo {0} itens"),
        (r"^Expected `array` of length >= (\d+)", "min_items", "no mínimo {0} item(ns)"),
        (r"^Expected `int`", "integer", "deve ser um número inteiro"),
        (r"^Expected `(float|decimal|number)`", "number", "deve ser um número"),
        (r"^Expected `bool`", "boolean", "deve ser true ou false"),
        (r"^Invalid enum value '(.*)'", "choice", "valor não permitido: '{0}'"),
        (r"^Invalid RFC3339 encoded date$", "date", "deve ser uma data AAAA-MM-DD"),
        (
            r"^Invalid RFC3339 encoded datetime",
            "datetime",
            "deve ser data e hora ISO 8601 com fuso, ex.: 2026-11-25T09:00:00-03:00",
        ),
        (r"^Invalid UUID", "uuid", "deve ser um UUID"),
        (r"^Input should be (.+)$", "choice", "valor deve ser {0}"),
    )
)

_VALUE_ERROR = re.compile(r"^Value error, (?:(?P<field>[a-z_]+): )?(?P<message>.*)$", re.S)


# msgspec ends some messages with where in the value it failed: the field says it already.
_MSGSPEC_PATH = re.compile(r" - at `\$[^`]*`$")


def explain(field: str, message: str) -> tuple[str, str, str]:
    """(field, rule, pt-BR message) of one validation message. A model's own check raises
    "field: message" (already pt-BR), which names the field the model could not."""
    message = _MSGSPEC_PATH.sub("", message)
    if found := _VALUE_ERROR.match(message):
        return found["field"] or field, "invalid", found["message"]
    for pattern, rule, text in _RULES:
        if matched := pattern.match(message):
            said = text.format(*(g.replace(" or ", " ou ") for g in matched.groups()))
            if rule == "integer" and field.endswith("_cents"):
                said += " (valores em centavos)"
            return field, rule, said
    return field, "invalid", message
