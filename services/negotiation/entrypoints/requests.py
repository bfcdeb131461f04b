"""Answering requests on `negotiation.requests` (from the gateway and other services): each
is parsed, run as a use case in a worker thread, and answered on the requester's replies
topic. A refusal is answered in the API's error shape."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from aiokafka import ConsumerRecord
from faststream import AckPolicy
from faststream.kafka import KafkaMessage
from pydantic import BaseModel, ValidationError

from contracts.negotiation_requests import (
    REQUESTS_TOPIC,
    CloseAgreement,
    ErrorDetail,
    ErrorReply,
    GetAgreement,
    GetDocument,
    GetOffers,
    GetSettings,
    ImportCnab240,
    ListConditions,
    NegotiationRequestBody,
    RecordPayment,
    SaveCondition,
    SaveSettings,
)
from service_runtime.host import ServiceHost
from service_runtime.request_reply import FAST_FETCH, send_reply
from services.negotiation.adapters.agreement_documents import invoice_document, term_document
from services.negotiation.application import NegotiationApplication
from services.negotiation.application.errors import Refused

log = logging.getLogger(__name__)

# A request older than this was given up by whoever sent it (its wait is shorter).
STALE_AFTER_SECONDS = 120


class RequestHandler:
    def __init__(self, host: ServiceHost, app: NegotiationApplication) -> None:
        self.host = host
        self.app = app
        self.subscriber = host.broker.subscriber(
            REQUESTS_TOPIC,
            group_id="negotiation.requests",
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
        try:
            request = NegotiationRequestBody.model_validate_json(record.value or b"").request
        except ValidationError as exc:
            error = ErrorReply(
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
            )
            await send_reply(
                self.host.broker, headers, error.model_dump_json().encode(), error=True
            )
            return
        try:
            answer = await asyncio.to_thread(self.run, request)
        except Refused as exc:
            await self._refuse(headers, exc.reply())
            return
        except Exception:
            log.exception("request %s failed", request.kind)
            error = ErrorReply(
                status=500, code="internal_error", message="erro interno; tente novamente"
            )
            await send_reply(
                self.host.broker, headers, error.model_dump_json().encode(), error=True
            )
            return
        # Events were saved: publish them now rather than at the relay's next poll.
        self.host.relay.wake()
        await send_reply(self.host.broker, headers, answer)

    async def _refuse(self, headers: Any, error: ErrorReply) -> None:
        await send_reply(self.host.broker, headers, error.model_dump_json().encode(), error=True)

    def run(self, request: Any) -> bytes:
        app, today = self.app, self.host.clock.today()
        result: BaseModel | bytes
        if isinstance(request, SaveCondition):
            result = app.save_condition(request)
        elif isinstance(request, ListConditions):
            result = app.list_conditions(request.tenant)
        elif isinstance(request, SaveSettings):
            result = app.save_settings(request)
        elif isinstance(request, GetSettings):
            result = app.settings_of(request.tenant)
        elif isinstance(request, GetOffers):
            result = app.offers(request, today)
        elif isinstance(request, CloseAgreement):
            result = app.close_agreement(request, today)
        elif isinstance(request, GetAgreement):
            result = app.get_agreement(request, today)
        elif isinstance(request, RecordPayment):
            result = app.record_payment(request.tenant, request.payment, source="api")
        elif isinstance(request, ImportCnab240):
            result = app.import_cnab240(request)
        elif isinstance(request, GetDocument):
            result = self.document(request)
        else:
            raise Refused(400, "unknown_request", f"pedido desconhecido: {request.kind}")
        return result if isinstance(result, bytes) else result.model_dump_json().encode()

    def document(self, request: GetDocument) -> bytes:
        agreement = self.app.agreement(
            GetAgreement(
                tenant=request.tenant,
                agreement_id=request.agreement_id,
                document=request.document,
            )
        )
        if request.invoice_id is None:
            return term_document(
                agreement, self.app.settings_of(request.tenant).boleto.beneficiary_name
            )
        invoice = agreement.invoice(request.invoice_id)
        if invoice is None:
            raise Refused(404, "not_found", f"fatura {request.invoice_id} não encontrada")
        return invoice_document(agreement, invoice, self.app.settings_of(request.tenant))
