"""A port to another service (negotiation, ruler, messaging): requests over Kafka,
answers as the contracts' models. A refusal comes back as the service's error (the API's
shape); no answer in time is `ServiceUnavailable`."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from contracts.errors import ErrorReply
from service_runtime.request_reply import KafkaRequester, RequestRefused, RequestTimeout

M = TypeVar("M", bound=BaseModel)


class ServiceRefused(Exception):
    def __init__(self, error: ErrorReply) -> None:
        super().__init__(error.message)
        self.error = error


class ServiceUnavailable(Exception):
    def __init__(self, service: str, detail: str) -> None:
        super().__init__(detail)
        self.service = service


class ContractBroken(RuntimeError):
    """A service's answer does not parse as its contract says."""


class ServiceClient:
    def __init__(
        self, service: str, requester: KafkaRequester, topic: str, body_model: type[BaseModel]
    ) -> None:
        self.service = service
        self.requester = requester
        self.topic = topic
        self.body_model = body_model

    async def raw(self, request: Any, key: str) -> bytes:
        body = self.body_model(request=request).model_dump_json().encode()
        try:
            return await self.requester.request(self.topic, body, key=key.encode())
        except RequestTimeout as exc:
            raise ServiceUnavailable(self.service, str(exc)) from exc
        except RequestRefused as exc:
            try:
                error = ErrorReply.model_validate_json(exc.body)
            except ValueError:
                error = ErrorReply(status=502, code="bad_gateway", message=str(exc))
            raise ServiceRefused(error) from exc

    async def ask(self, request: Any, key: str, answer: type[M]) -> M:
        body = await self.raw(request, key)
        try:
            return answer.model_validate_json(body)
        except ValidationError as exc:
            # The service broke its contract: our fault, not the caller's.
            raise ContractBroken(f"{self.service} answered {answer.__name__} badly") from exc
