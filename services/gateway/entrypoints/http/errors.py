"""The API's one error shape:

{"error": {"status": 422, "code": "validation_failed", "message": "...",
           "message_en": "The request is not valid",
           "details": [{"field": "document", "rule": "check_digit", "message": "...",
                        "message_en": "Invalid check digit"}],
           "request_id": "..."}}

`message` is pt-BR; `message_en` comes from error_messages by the code (and, for each detail,
by its rule); `request_id` is the request's X-Request-ID. No stack trace ever reaches a client.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import uuid
from collections.abc import Mapping
from typing import Any

import pydantic
from litestar import Request, Response
from litestar.exceptions import HTTPException, TooManyRequestsException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import Scope

from service_runtime.clock import BUSINESS_TZ
from service_runtime.service_client import ServiceRefused, ServiceUnavailable
from services.gateway.entrypoints.http.error_messages import (
    MESSAGES_PT,
    RULES_EN,
    english,
    english_rule,
)
from services.gateway.entrypoints.http.validation_messages import explain

log = logging.getLogger(__name__)

REQUEST_ID_HEADER = "x-request-id"
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def sane_request_id(value: str | None) -> str | None:
    """A caller's request id, when it is a short token we can echo and log safely."""
    if value and _SANE_REQUEST_ID.fullmatch(value):
        return value
    return None


def request_id_of(scope: Scope) -> str:
    """This request's id: the caller's X-Request-ID when sane, else a new one; decided once
    per request (kept in the scope's state) so the body, the header and the logs agree."""
    state: dict[str, Any] = scope.setdefault("state", {})
    found = state.get("request_id")
    if isinstance(found, str):
        return found
    given = None
    for name, value in scope.get("headers", ()):
        if name.lower() == REQUEST_ID_HEADER.encode():
            given = value.decode("latin-1")
            break
    request_id = sane_request_id(given) or uuid.uuid4().hex
    state["request_id"] = request_id
    return request_id


class ApiError(Exception):
    headers: dict[str, str] | None

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: list[dict[str, str]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []
        self.headers = dict(headers or {})


class RateLimited(TooManyRequestsException, ApiError):
    """429 with Retry-After. An HTTPException too, so the web portal's pages answer it with
    their own error page (their HTTPException handler); the API answers the error shape."""

    def __init__(self, message: str, details: list[dict[str, str]], retry_after: int) -> None:
        # Not HTTPException.__init__: its cooperative super() chain would reach ApiError's.
        ApiError.__init__(
            self, 429, "rate_limited", message, details, {"Retry-After": str(retry_after)}
        )
        self.detail = message
        self.extra = None
        self.retry_after = retry_after


def not_found(field: str, message: str) -> ApiError:
    """404 naming what was not found (the path's parameter), rule `not_found`."""
    return ApiError(404, "not_found", message, [field_detail(field, "not_found", message)])


def offset_missing(field: str, moment: dt.datetime) -> ApiError:
    """A date-time sent without its UTC offset, refused with the client's own value written with
    the business time zone's offset (QA: an unrelated example date read as a correction)."""
    meant = moment.replace(tzinfo=BUSINESS_TZ).isoformat()
    return field_error(field, "timezone", f"informe o fuso: {meant}")


def field_error(field: str, rule: str, message: str, status: int = 422) -> ApiError:
    return ApiError(status, "validation_failed", message, [field_detail(field, rule, message)])


def error_body(
    status: int,
    code: str,
    message: str,
    details: list[dict[str, Any]],
    request_id: str | None = None,
) -> dict[str, Any]:
    return {
        "error": {
            "status": status,
            "code": code,
            "message": message,
            "message_en": english(code, status),
            "details": [
                {
                    **d,
                    "message_en": d.get("message_en")
                    or english_rule(str(d.get("rule", "")), str(d.get("field", ""))),
                }
                for d in details
            ],
            "request_id": request_id,
        }
    }


def error_response(
    request: Request[Any, Any, Any],
    status: int,
    code: str,
    message: str,
    details: list[dict[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response[Any]:
    return Response(
        error_body(status, code, message, details or [], request_id_of(request.scope)),
        status_code=status,
        headers=dict(headers or {}),
    )


def handle_api_error(request: Request[Any, Any, Any], exc: ApiError) -> Response[Any]:
    return error_response(request, exc.status, exc.code, exc.message, exc.details, exc.headers)


CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def handle_http_exception(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    if isinstance(exc, ApiError):
        return handle_api_error(request, exc)
    details: list[dict[str, Any]] = []
    if isinstance(exc, ValidationException):
        details = validation_details(request, exc)
        return error_response(
            request,
            422 if details else 400,
            "validation_failed",
            "; ".join(f"{d['field']}: {d['message']}" for d in details)
            or "dados inválidos na requisição",
            details,
        )
    status = exc.status_code
    code = CODES.get(status, "internal_error" if status >= 500 else "error")
    detail = str(exc.detail)
    if status == 400 and (message := _unreadable_json(detail)):
        return error_response(
            request, 400, "bad_request", message, [field_detail("body", "json", message)]
        )
    # Litestar's own exceptions carry the English status phrase ("Not Found"): say it in pt-BR.
    message = MESSAGES_PT.get(code, detail) if detail == _phrase(status) else detail
    headers = {k: v for k, v in (exc.headers or {}).items() if k.lower() in _PASSED_HEADERS}
    return error_response(request, status, code, message, details, headers)


def validation_details(
    request: Request[Any, Any, Any], exc: ValidationException
) -> list[dict[str, Any]]:
    """Each refused value of a ValidationException as (field, rule, pt-BR message), the field
    named as the client sends it."""
    if not isinstance(exc.extra, list):
        # A required parameter not sent: Litestar says so only in its English detail.
        if found := _MISSING_PARAMETER.match(str(exc.detail)):
            return [field_detail(found["name"], "required", "campo obrigatório")]
        return []
    aliases = _parameter_aliases(request)
    details: list[dict[str, Any]] = []
    for item in exc.extra:
        if not isinstance(item, dict):
            continue
        key = str(item.get("key") or item.get("source") or "body")
        message = str(item.get("message", ""))
        if key == "data" and item.get("source") == "body":
            # The handler's `data` is the body itself: the client knows it as the body.
            if message == "'data'":  # none sent (Litestar's KeyError of the missing `data`)
                details.append(field_detail("body", "required", _body_required(request)))
                continue
            key = "body"
        field, rule, text = explain(aliases.get(key, key), message)
        details.append(field_detail(field, rule, text))
    return details


def _body_required(request: Request[Any, Any, Any]) -> str:
    """'corpo obrigatório: envie um JSON com document', naming the body's required fields."""
    handler = request.scope.get("route_handler")
    signature = getattr(handler, "parsed_fn_signature", None)
    data = getattr(signature, "parameters", {}).get("data")
    model = getattr(data, "annotation", None)
    fields = getattr(model, "model_fields", None) if isinstance(model, type) else None
    required = [f.alias or name for name, f in (fields or {}).items() if f.is_required()]
    if required:
        return f"corpo obrigatório: envie um JSON com {', '.join(required)}"
    return "corpo obrigatório: envie um JSON"


# Litestar's answer to a required query, header or cookie parameter not sent.
_MISSING_PARAMETER = re.compile(r"^Missing required \w+ parameter '(?P<name>[^']+)'")
# Litestar's answer to a body its JSON decoder refuses (msgspec's messages).
_MALFORMED_JSON = re.compile(r"^JSON is malformed(?:.*\(byte (?P<byte>\d+)\))?")
_TRUNCATED_JSON = "Input data was truncated"


def _unreadable_json(detail: str) -> str | None:
    """The pt-BR message of a body that is no JSON, None when the detail says something else."""
    if detail == _TRUNCATED_JSON:
        return "o corpo não é um JSON válido: termina antes de fechar (incompleto)"
    if found := _MALFORMED_JSON.match(detail):
        if found["byte"] is None:
            return "o corpo não é um JSON válido"
        return f"o corpo não é um JSON válido (byte {found['byte']})"
    return None


def field_detail(field: str, rule: str, message: str) -> dict[str, str]:
    return {"field": field, "rule": rule, "message": message}


def _parameter_aliases(request: Request[Any, Any, Any]) -> dict[str, str]:
    """The names a client sends (`?from=`) of the handler's parameters declared under another
    Python name (`since`): Litestar's validation names the Python one."""
    handler = request.scope.get("route_handler")
    signature = getattr(handler, "parsed_fn_signature", None)
    aliases: dict[str, str] = {}
    for name, parameter in getattr(signature, "parameters", {}).items():
        kwarg = getattr(parameter, "kwarg_definition", None)
        alias = next(
            (a for a in (getattr(kwarg, n, None) for n in ("query", "header", "cookie")) if a),
            None,
        )
        if isinstance(alias, str):
            aliases[name] = alias
    return aliases


# Headers of Litestar's exceptions worth passing on (405's Allow, 429's Retry-After).
_PASSED_HEADERS = ("allow", "retry-after", "www-authenticate")


def _phrase(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def handle_service_refused(request: Request[Any, Any, Any], exc: ServiceRefused) -> Response[Any]:
    error = exc.error
    details = [d.model_dump(exclude_none=True) for d in error.details]
    if error.code == "validation_failed":
        details = [_contract_detail(request, d) for d in details]
    details = [_as_sent(request, d) for d in details]
    return error_response(request, error.status, error.code, error.message, details)


def _as_sent(request: Request[Any, Any, Any], detail: dict[str, Any]) -> dict[str, Any]:
    """A detail of any refusal by the service (debt_not_found, same_debtor...) naming its
    contract's field as the client sent it (the handler's `contract_fields`: the query's
    debt_id, not GetOffers' debt_ids)."""
    names = _contract_fields(request)
    field = str(detail.get("field", ""))
    head, dot, rest = field.partition(".")
    if head not in names:
        return detail
    return {**detail, "field": names[head] + dot + rest}


# Where a service's request server says a refused value was: request.<kind>.<field>.
_REQUEST_LOC = re.compile(r"^request\.[a-z_]+\.")


def _contract_detail(request: Request[Any, Any, Any], detail: dict[str, Any]) -> dict[str, Any]:
    """A detail of a service's own refusal of its request's contract (pydantic's error type
    as the rule, its English as the message: the service and the gateway disagreeing on a
    contract) in the API's words: the rule and pt-BR message explain() gives, the field as
    the client sent it. A service's own rule (check_digit, no_condition...) passes as is."""
    if str(detail.get("rule")) in RULES_EN:
        return detail
    loc = _REQUEST_LOC.sub("", str(detail.get("field", ""))).split(".")
    names = {**_parameter_aliases(request), **_contract_fields(request)}
    loc[0] = names.get(loc[0], loc[0])
    field, rule, message = explain(".".join(loc), str(detail.get("message", "")))
    if rule == "invalid" and message == detail.get("message"):
        return detail  # nothing known to translate
    return field_detail(field, rule, message)


SERVICE_NAMES = {
    "negotiation": "de negociação",
    "ruler": "da régua de cobrança",
    "messaging": "de mensagens",
}


def handle_service_unavailable(
    request: Request[Any, Any, Any], exc: ServiceUnavailable
) -> Response[Any]:
    log.warning("%s service did not answer: %s", exc.service, exc)
    return error_response(
        request,
        503,
        f"{exc.service}_unavailable",
        f"o serviço {SERVICE_NAMES.get(exc.service, exc.service)} não respondeu a tempo; "
        "tente novamente em instantes",
        headers={"Retry-After": "5"},
    )


def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    # The trace goes to the log (with the request id), never to the client.
    request_id = request_id_of(request.scope)
    log.exception(
        "unexpected error on %s %s",
        request.method,
        request.url.path,
        extra={"request_id": request_id},
    )
    return error_response(
        request, HTTP_500_INTERNAL_SERVER_ERROR, "internal_error", "erro interno; tente novamente"
    )


def handle_contract_error(
    request: Request[Any, Any, Any], exc: pydantic.ValidationError
) -> Response[Any]:
    """A value the request carried (a path parameter, say) that the service contract refuses
    when the gateway builds its request: the client's error, said field by field, each named
    as the client sent it (the handler's `contract_fields`, then its parameters' aliases)."""
    names = {**_parameter_aliases(request), **_contract_fields(request)}
    details = []
    for e in exc.errors():
        loc = [str(p) for p in e["loc"]]
        if loc:
            loc[0] = names.get(loc[0], loc[0])
        details.append(field_detail(*explain(".".join(loc) or "request", e["msg"])))
    return error_response(
        request, 422, "validation_failed", "pedido inválido: confira os campos", details
    )


CONTRACT_FIELDS = "contract_fields"


def contract_fields(**names: str) -> dict[str, Any]:
    """A route handler's `opt`: the service contract's field names of values the client sent
    under another name (GetOffers' debt_ids, the query's debt_id), so that a refusal of the
    contract names what the client sent: `opt=contract_fields(debt_ids="debt_id")`."""
    return {CONTRACT_FIELDS: names}


def _contract_fields(request: Request[Any, Any, Any]) -> dict[str, str]:
    handler = request.scope.get("route_handler")
    names = getattr(handler, "opt", {}).get(CONTRACT_FIELDS)
    return dict(names) if isinstance(names, Mapping) else {}
