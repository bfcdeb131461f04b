"""Answering requests on a topic (the other half of `service_runtime.request_reply`): each
request is parsed with its pydantic model, run as a use case in a worker thread (the event
store is synchronous), and answered on the requester's replies topic. A `Refused` use case
and a body that is not the contract are answered in the API's error shape; anything else
is a 500, logged."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from aiokafka import ConsumerRecord
from faststream import AckPolicy
from faststream.kafka import KafkaMessage
from opentelemetry.trace import Status, StatusCode
from pydantic import BaseModel, ValidationError

from contracts.errors import ErrorDetail, ErrorReply
from service_runtime.refusal import Refused
from service_runtime.request_reply import FAST_FETCH, send_reply
from service_runtime.telemetry import record_request, request_span

log = logging.getLogger(__name__)

# A request older than this was given up by whoever sent it (its wait is shorter).
STALE_AFTER_SECONDS = 120

Answer = BaseModel | bytes


class RequestServer:
    """Declare it before the broker starts. `body_model` has one field, `request`, a union
    of the request models; `run` gets that request and returns the answer."""

    def __init__(
        self,
        host: Any,
        topic: str,
        group_id: str,
        body_model: type[BaseModel],
        run: Callable[[Any], Answer],
    ) -> None:
        self.host = host
        self.topic = topic
        self.group_id = group_id
        self.body_model = body_model
        self.run = run
        self.subscriber = host.broker.subscriber(
            topic,
            group_id=group_id,
            # Acknowledged once answered: a crash in between answers it again (use cases are
            # idempotent).
            ack_policy=AckPolicy.ACK,
            decoder=self._no_decode,
            **{**host.consumer_kwargs, **FAST_FETCH},
        )
        self.subscriber(self.handle)

    @staticmethod
    async def _no_decode(msg: Any) -> Any:
        return None

    async def handle(self, body: Any, msg: KafkaMessage) -> None:
        record: ConsumerRecord[Any, Any] = msg.raw_message
        headers = record.headers or ()
        if record.timestamp and time.time() - record.timestamp / 1000 > STALE_AFTER_SECONDS:
            log.info("skipping a request of %s nobody waits for any more", record.timestamp)
            return
        started = time.perf_counter()
        # The handling continues the requester's trace (the context in the request's headers);
        # the events the use case saves keep this span's context for the relay.
        with request_span(self.topic, self.group_id, record) as span:
            kind, outcome = await self._answer(record, headers)
            if span is not None:
                span.set_attribute("cobranca.request.kind", kind)
                span.set_attribute("cobranca.outcome", outcome)
                if outcome == "failed":
                    span.set_status(Status(StatusCode.ERROR, "internal_error"))
        record_request(self.topic, kind, outcome, time.perf_counter() - started)

    async def _answer(self, record: ConsumerRecord[Any, Any], headers: Any) -> tuple[str, str]:
        """Answer one request; returns its kind and how it went (answered, refused, invalid,
        failed)."""
        try:
            request = self.body_model.model_validate_json(record.value or b"").request  # type: ignore[attr-defined]
        except ValidationError as exc:
            await self._refuse(
                headers,
                ErrorReply(
                    status=422,
                    code="validation_failed",
                    message="pedido inválido",
                    details=[
                        ErrorDetail(
                            field=".".join(str(p) for p in e["loc"]),
                            rule=e["type"],
                            message=e["msg"],
                        )
                        for e in exc.errors()
                    ],
                ),
            )
            return "invalid", "invalid"
        kind = str(getattr(request, "kind", type(request).__name__))
        try:
            answer = await asyncio.to_thread(self.run, request)
        except Refused as exc:
            await self._refuse(headers, exc.reply())
            return kind, "refused"
        except Exception:
            log.exception("request %s failed", kind)
            await self._refuse(
                headers,
                ErrorReply(
                    status=500, code="internal_error", message="erro interno; tente novamente"
                ),
            )
            return kind, "failed"
        # Events were saved: publish them now rather than at the relay's next poll.
        self.host.relay.wake()
        body_bytes = answer if isinstance(answer, bytes) else answer.model_dump_json().encode()
        await send_reply(self.host.broker, headers, body_bytes)
        return kind, "answered"

    async def _refuse(self, headers: Any, error: ErrorReply) -> None:
        await send_reply(self.host.broker, headers, error.model_dump_json().encode(), error=True)
