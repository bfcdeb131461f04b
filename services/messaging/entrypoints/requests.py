"""Answering requests on `messaging.requests` (templates, settings, opt-outs, deliveries, and
conversations: the debtors' chat messages and the operators' actions)."""

from __future__ import annotations

from typing import Any, Protocol

from contracts.messaging_requests import (
    REQUESTS_TOPIC,
    BirthDateTry,
    ChatInbound,
    ClearDisplayName,
    CloseConversation,
    DeliveryReport,
    GetConversation,
    GetOperator,
    GetSettings,
    ListTemplates,
    MessagingRequestBody,
    OperatorMessage,
    RecordOptOut,
    SaveSettings,
    SaveTemplate,
    SendAccessCode,
    SetAvailability,
    StartConversation,
    TransferConversation,
)
from service_runtime.clock import BusinessClock
from service_runtime.host import ServiceHost
from service_runtime.refusal import Refused
from service_runtime.request_server import Answer, RequestServer
from services.messaging.application import MessagingApplication
from services.messaging.application.conversations import Conversations


class HasClock(Protocol):
    """What answering needs of the service host: its business clock."""

    @property
    def clock(self) -> BusinessClock: ...


class MessagingRequests:
    def __init__(
        self, host: ServiceHost, app: MessagingApplication, conversations: Conversations
    ) -> None:
        self.host = host
        self.app = app
        self.conversations = conversations
        self.server = RequestServer(
            host, REQUESTS_TOPIC, "messaging.requests", MessagingRequestBody, self.run
        )

    def run(self, request: Any) -> Answer:
        answered = answer(self.app, request, self.host)
        return answered if answered is not None else self.conversation(request)

    def conversation(self, request: Any) -> Answer:
        conversations, now = self.conversations, self.host.clock.now()
        if isinstance(request, ChatInbound):
            return conversations.inbound(request, now)
        if isinstance(request, SetAvailability):
            return conversations.set_availability(request, now)
        if isinstance(request, GetOperator):
            return conversations.operator(request)
        if isinstance(request, ClearDisplayName):
            return conversations.clear_display_name(request)
        if isinstance(request, OperatorMessage):
            return conversations.operator_message(request, now)
        if isinstance(request, TransferConversation):
            return conversations.transfer(request, now)
        if isinstance(request, CloseConversation):
            return conversations.close(request, now)
        if isinstance(request, StartConversation):
            return conversations.start(request, now)
        if isinstance(request, GetConversation):
            return conversations.get(request)
        raise Refused(400, "unknown_request", f"pedido desconhecido: {request.kind}")


def answer(app: MessagingApplication, request: Any, host: HasClock) -> Answer | None:
    """The application's answer to a request (templates, settings, opt-outs, deliveries, the
    portal's second factor) by the host's business clock; None for a conversation's
    (the chat's and the operators'). Raises Refused. What the request server runs, and tests
    run in process."""
    if isinstance(request, SaveTemplate):
        return app.save_template(request)
    if isinstance(request, ListTemplates):
        return app.list_templates(request.tenant)
    if isinstance(request, SaveSettings):
        # The messages waiting for a window that changed are timed again by it.
        return app.save_settings(request, host.clock.now())
    if isinstance(request, GetSettings):
        # Masked: the channels' credentials never leave the service through the API.
        return app.shown_settings(request.tenant)
    if isinstance(request, RecordOptOut):
        return app.record_opt_out(request, host.clock.today())
    if isinstance(request, DeliveryReport):
        return app.delivery(request, host.clock.now())
    if isinstance(request, SendAccessCode):
        return app.send_access_code(request, host.clock.now())
    if isinstance(request, BirthDateTry):
        return app.birth_date_try(request, host.clock.now())
    return None
