"""How an operator is named to the debtor: the display name the operator chose (a first name,
as agencies introduce their people: "Ana"), never the login a token carries (often an
e-mail). A name is checked here; without one the debtor reads "um atendente"."""

from __future__ import annotations

import re

MAX_DISPLAY_NAME = 40

# rule -> why, in pt-BR (the API's detail message; its English is in the gateway's RULES_EN).
DISPLAY_NAME_RULES: dict[str, str] = {
    "blank": "informe o nome que o devedor vai ler, por exemplo Ana",
    "max_length": f"o nome tem no máximo {MAX_DISPLAY_NAME} caracteres",
    "email": "use o nome que o devedor vai ler (Ana), não um e-mail ou login",
    "digits_only": "use o nome que o devedor vai ler (Ana), não um número",
}

_SPACES = re.compile(r"\s+")


class InvalidDisplayName(ValueError):
    def __init__(self, rule: str) -> None:
        super().__init__(DISPLAY_NAME_RULES[rule])
        self.rule = rule
        self.message = DISPLAY_NAME_RULES[rule]


def display_name(raw: str) -> str:
    """The name as the debtor will read it (spaces trimmed and collapsed), or
    InvalidDisplayName: blank, longer than 40 characters, an e-mail or login (an "@"), or
    without a letter (a phone, a registration number)."""
    name = _SPACES.sub(" ", raw).strip()
    if not name:
        raise InvalidDisplayName("blank")
    if len(name) > MAX_DISPLAY_NAME:
        raise InvalidDisplayName("max_length")
    if "@" in name:
        raise InvalidDisplayName("email")
    if not any(c.isalpha() for c in name):
        raise InvalidDisplayName("digits_only")
    return name
