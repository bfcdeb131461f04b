"""The gateway's port to the negotiation service: requests over Kafka, answers as the
contracts' models. A refusal comes back as the negotiation service's error (the API's shape);
no answer in time is `NegotiationUnavailable`."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel

from contracts.negotiation_requests import (
    REQUESTS_TOPIC,
    ErrorReply,
    NegotiationRequest,
    NegotiationRequestBody,
)
from service_runtime.request_reply import KafkaRequester, RequestRefused, RequestTimeout

M = TypeVar("M", bound=BaseModel)


class NegotiationRefused(Exception):
    def __init__(self, error: ErrorReply) -> None:
        super().__init__(error.message)
        self.error = error


class NegotiationUnavailable(Exception):
    pass


class NegotiationClient:
    def __init__(self, requester: KafkaRequester) -> None:
        self.requester = requester

    async def raw(self, request: NegotiationRequest, key: str) -> bytes:
        body = NegotiationRequestBody(request=request).model_dump_json().encode()
        try:
            return await self.requester.request(REQUESTS_TOPIC, body, key=key.encode())
        except RequestTimeout as exc:
            raise NegotiationUnavailable(str(exc)) from exc
        except RequestRefused as exc:
            try:
                error = ErrorReply.model_validate_json(exc.body)
            except ValueError:
                error = ErrorReply(status=502, code="bad_gateway", message=str(exc))
            raise NegotiationRefused(error) from exc

    async def ask(self, request: NegotiationRequest, key: str, answer: type[M]) -> M:
        return answer.model_validate_json(await self.raw(request, key))
