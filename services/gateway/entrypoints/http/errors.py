"""The API's one error shape:

{"error": {"status": 422, "code": "validation_failed", "message": "...",
           "details": [{"field": "document", "rule": "check_digit", "message": "..."}]}}
"""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from service_runtime.service_client import ServiceRefused, ServiceUnavailable
from services.gateway.entrypoints.http.validation_messages import explain

log = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: list[dict[str, str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []


def field_error(field: str, rule: str, message: str, status: int = 422) -> ApiError:
    return ApiError(
        status, "validation_failed", message, [{"field": field, "rule": rule, "message": message}]
    )


def error_body(
    status: int, code: str, message: str, details: list[dict[str, Any]]
) -> dict[str, Any]:
    return {"error": {"status": status, "code": code, "message": message, "details": details}}


def handle_api_error(_: Request[Any, Any, Any], exc: ApiError) -> Response[Any]:
    return Response(
        error_body(exc.status, exc.code, exc.message, exc.details), status_code=exc.status
    )


CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
}


def handle_http_exception(_: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    details: list[dict[str, Any]] = []
    if isinstance(exc, ValidationException):
        for item in exc.extra if isinstance(exc.extra, list) else []:
            if isinstance(item, dict):
                field, rule, message = explain(
                    str(item.get("key") or item.get("source") or "body"),
                    str(item.get("message", "")),
                )
                details.append({"field": field, "rule": rule, "message": message})
        return Response(
            error_body(
                422 if details else 400,
                "validation_failed",
                "; ".join(f"{d['field']}: {d['message']}" for d in details)
                or "dados inválidos na requisição",
                details,
            ),
            status_code=422 if details else 400,
        )
    status = exc.status_code
    return Response(
        error_body(status, CODES.get(status, "error"), str(exc.detail), details), status_code=status
    )


def handle_service_refused(_: Request[Any, Any, Any], exc: ServiceRefused) -> Response[Any]:
    error = exc.error
    return Response(
        error_body(
            error.status,
            error.code,
            error.message,
            [d.model_dump() for d in error.details],
        ),
        status_code=error.status,
    )


SERVICE_NAMES = {
    "negotiation": "de negociação",
    "ruler": "da régua de cobrança",
    "messaging": "de mensagens",
}


def handle_service_unavailable(_: Request[Any, Any, Any], exc: ServiceUnavailable) -> Response[Any]:
    log.warning("%s service did not answer: %s", exc.service, exc)
    return Response(
        error_body(
            503,
            f"{exc.service}_unavailable",
            f"o serviço {SERVICE_NAMES.get(exc.service, exc.service)} não respondeu a tempo; "
            "tente novamente em instantes",
            [],
        ),
        status_code=503,
        headers={"Retry-After": "5"},
    )


def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return Response(
        error_body(500, "internal_error", "erro interno; tente novamente", []),
        status_code=HTTP_500_INTERNAL_SERVER_ERROR,
    )
