"""A use case's refusal: the HTTP status, a code, a pt-BR message and the fields at fault,
answered in the API's one error shape (`contracts.errors.ErrorReply`)."""

from __future__ import annotations

from contracts.errors import ErrorDetail, ErrorReply


class Refused(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: list[tuple[str, str, str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []

    def reply(self) -> ErrorReply:
        return ErrorReply(
            status=self.status,
            code=self.code,
            message=self.message,
            details=[ErrorDetail(field=f, rule=r, message=m) for f, r, m in self.details],
        )


def field_refusal(field: str, rule: str, message: str, status: int = 422) -> Refused:
    """Bad input: which field, which rule, why."""
    return Refused(status, "validation_failed", message, [(field, rule, message)])


def not_found_refusal(field: str, message: str) -> Refused:
    """Nothing with this identifier (404): which field named it."""
    return Refused(404, "not_found", message, [(field, "not_found", message)])
