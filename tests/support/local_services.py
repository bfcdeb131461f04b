"""Another service's real application, in process, behind the client the gateway uses
(`service_runtime.service_client.ServiceClient`): only the broker is left out. The request
goes as it would over Kafka: serialized through the service's body model and parsed again
(a request that is not the contract fails as it would), run in a worker thread, and
answered as `RequestServer` answers: a model as its JSON, parsed by the client with the
model asked for; a `Refused` as its `ErrorReply`, raised by the client as `ServiceRefused`."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any, cast

from pydantic import BaseModel, ValidationError

from contracts.errors import ErrorDetail, ErrorReply
from contracts.messaging_requests import REQUESTS_TOPIC as MESSAGING_REQUESTS
from contracts.messaging_requests import MessagingRequestBody
from contracts.negotiation_requests import REQUESTS_TOPIC, NegotiationRequestBody
from service_runtime.clock import BusinessClock
from service_runtime.refusal import Refused
from service_runtime.request_reply import KafkaRequester, RequestRefused
from service_runtime.service_client import ServiceClient
from services.messaging.application import MessagingApplication
from services.messaging.entrypoints.requests import answer as messaging_answer
from services.negotiation.application import NegotiationApplication
from services.negotiation.entrypoints.requests import answer

log = logging.getLogger(__name__)

Run = Callable[[Any], BaseModel | bytes]


class LocalRequester:
    """`KafkaRequester.request` with the answering service's `RequestServer` in place of the
    broker: the same bytes in, the same bytes (or `RequestRefused`) out."""

    def __init__(self, body_model: type[BaseModel], run: Run) -> None:
        self.body_model = body_model
        self.run = run

    async def request(
        self,
        topic: str,
        body: bytes,
        *,
        key: bytes | None,
        timeout: float | None = None,
        headers: dict[str, str] | None = None,
    ) -> bytes:
        try:
            request = self.body_model.model_validate_json(body).request  # type: ignore[attr-defined]
        except ValidationError as exc:
            raise RequestRefused(_json(_invalid(exc))) from exc
        try:
            answered = await asyncio.to_thread(self.run, request)
        except Refused as exc:
            raise RequestRefused(_json(exc.reply())) from exc
        except Exception as exc:
            kind = getattr(request, "kind", type(request).__name__)
            log.exception("request %s failed", kind)
            error = ErrorReply(
                status=500, code="internal_error", message="erro interno; tente novamente"
            )
            raise RequestRefused(_json(error)) from exc
        return answered if isinstance(answered, bytes) else answered.model_dump_json().encode()


def _invalid(exc: ValidationError) -> ErrorReply:
    return ErrorReply(
        status=422,
        code="validation_failed",
        message="pedido inválido",
        details=[
            ErrorDetail(field=".".join(str(p) for p in e["loc"]), rule=e["type"], message=e["msg"])
            for e in exc.errors()
        ],
    )


def _json(error: ErrorReply) -> bytes:
    return error.model_dump_json().encode()


class LocalServiceClient(ServiceClient):
    """`ServiceClient` (its `ask` and `raw`, unchanged) over a `LocalRequester`: `run` is what
    the service's request server runs, given the parsed request."""

    def __init__(self, service: str, topic: str, body_model: type[BaseModel], run: Run) -> None:
        requester = LocalRequester(body_model, run)
        super().__init__(service, cast(KafkaRequester, requester), topic, body_model)


def local_negotiation(app: NegotiationApplication, today: dt.date) -> LocalServiceClient:
    """The negotiation service on `today`, answering as its request server does."""
    return LocalServiceClient(
        "negotiation",
        REQUESTS_TOPIC,
        NegotiationRequestBody,
        lambda request: answer(app, request, today),
    )


def local_messaging(app: MessagingApplication, clock: BusinessClock) -> LocalServiceClient:
    """The messaging service's application requests (the portal's second factor, settings,
    templates...) on `clock`'s business day, answered as its request server does; the
    conversations' requests are refused as unknown here."""

    def run(request: Any) -> BaseModel | bytes:
        answered = messaging_answer(app, request, SimpleNamespace(clock=clock))
        if answered is None:
            raise Refused(400, "unknown_request", f"pedido desconhecido: {request.kind}")
        return answered

    return LocalServiceClient("messaging", MESSAGING_REQUESTS, MessagingRequestBody, run)
