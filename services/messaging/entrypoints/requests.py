"""Answering requests on `messaging.requests` (templates, settings, opt-outs, deliveries)."""

from __future__ import annotations

from typing import Any

from contracts.messaging_requests import (
    REQUESTS_TOPIC,
    DeliveryReport,
    GetSettings,
    ListTemplates,
    MessagingRequestBody,
    RecordOptOut,
    SaveSettings,
    SaveTemplate,
)
from service_runtime.host import ServiceHost
from service_runtime.refusal import Refused
from service_runtime.request_server import Answer, RequestServer
from services.messaging.application import MessagingApplication


class MessagingRequests:
    def __init__(self, host: ServiceHost, app: MessagingApplication) -> None:
        self.host = host
        self.app = app
        self.server = RequestServer(
            host, REQUESTS_TOPIC, "messaging.requests", MessagingRequestBody, self.run
        )

    def run(self, request: Any) -> Answer:
        app = self.app
        if isinstance(request, SaveTemplate):
            return app.save_template(request)
        if isinstance(request, ListTemplates):
            return app.list_templates(request.tenant)
        if isinstance(request, SaveSettings):
            return app.save_settings(request)
        if isinstance(request, GetSettings):
            return app.settings_of(request.tenant)
        if isinstance(request, RecordOptOut):
            return app.record_opt_out(request, self.host.clock.today())
        if isinstance(request, DeliveryReport):
            return app.delivery(request, self.host.clock.now())
        raise Refused(400, "unknown_request", f"pedido desconhecido: {request.kind}")
