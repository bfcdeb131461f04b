"""Every rule the API answers with has its English, so `message_en` says what `message` says
in pt-BR rather than a generic "Invalid value". Rules are found where the code raises them."""

from __future__ import annotations

import re
from pathlib import Path

from services.gateway.entrypoints.http.error_messages import RULES_EN

ROOT = Path(__file__).resolve().parents[2]
# A rule given to field_error, a service's field_refusal or field_detail, a detail's "rule",
# or the first of a refusal's details as (field, rule, message).
RAISED = re.compile(
    r'(?:field_error|field_refusal|field_detail)\(\s*"[^"]*",\s*"(?P<a>[a-z][a-z_0-9]+)"'
    r'|"rule":\s*"(?P<b>[a-z][a-z_0-9]+)"'
    r'|\[\s*\(\s*(?:"[^"]*"|[a-z_.]+)\s*,\s*"(?P<c>[a-z][a-z_0-9]+)"\s*,'
)
# An error's code: a service's Refused, the gateway's ApiError or error_response, a reply
# made whole (ErrorReply), each with its status first.
CODE_RAISED = re.compile(
    r"\b(?:Refused|ApiError|error_response|ErrorReply)\(\s*(?:request\s*,\s*)?"
    r'(?:status\s*=\s*)?[^,()"]+,\s*(?:code\s*=\s*)?"(?P<code>[a-z][a-z_0-9]+)"'
)
# Reasons kept on a message's own record, never an API error's detail.
NOT_API = {"no_template", "render", "retries_exhausted"}


def raised_rules() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for folder in ("services", "service_runtime", "contracts"):
        for path in (ROOT / folder).rglob("*.py"):
            for match in RAISED.finditer(path.read_text(encoding="utf-8")):
                rule = match["a"] or match["b"] or match["c"]
                found.setdefault(rule, set()).add(str(path.relative_to(ROOT)))
    return found


def raised_codes() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for folder in ("services", "service_runtime", "contracts"):
        for path in (ROOT / folder).rglob("*.py"):
            for match in CODE_RAISED.finditer(path.read_text(encoding="utf-8")):
                found.setdefault(match["code"], set()).add(str(path.relative_to(ROOT)))
    return found


def test_every_code_the_services_refuse_with_has_its_english() -> None:
    # not_business_day had "The request could not be completed" for its English.
    from services.gateway.entrypoints.http.error_messages import MESSAGES_EN
    from services.gateway.entrypoints.http.errors import CODES

    codes = raised_codes()
    assert {"not_business_day", "conversation_closed", "debt_not_found"} <= set(codes)
    assert len(codes) > 20  # the scan finds the API's codes at all
    codes.update({code: {"errors.CODES"} for code in CODES.values()})
    missing = {c: sorted(p) for c, p in codes.items() if c not in MESSAGES_EN}
    assert missing == {}


def test_a_carteira_file_refused_whole_says_why_in_english_too() -> None:
    # Its rules come from NotACarteiraCsv (a variable where the gateway raises it).
    for rule in ("empty", "binary", "no_header", "missing_columns", "no_rows", "malformed"):
        assert rule in RULES_EN, rule


def test_a_boleto_withheld_says_why_in_english_too() -> None:
    # Its rules and codes come from contracts.invoices (a variable where the service raises it).
    from contracts.invoices import WITHHELD_RULES, BoletoWithheld
    from services.gateway.entrypoints.http.error_messages import MESSAGES_EN

    for rule in WITHHELD_RULES:
        assert rule in RULES_EN, rule
        assert BoletoWithheld(rule, "").code in MESSAGES_EN, rule


def test_an_operators_display_name_refused_says_why_in_english_too() -> None:
    # Its rules come from the messaging domain (a variable where the service raises it).
    from services.messaging.domain.operators import DISPLAY_NAME_RULES

    for rule in DISPLAY_NAME_RULES:
        assert rule in RULES_EN, rule


def test_every_rule_the_api_raises_has_its_english() -> None:
    rules = raised_rules()
    assert len(rules) > 30  # the scan finds the API's rules at all
    missing = {r: sorted(p) for r, p in rules.items() if r not in RULES_EN and r not in NOT_API}
    assert missing == {}
