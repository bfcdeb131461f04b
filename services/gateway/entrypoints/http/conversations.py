"""HTTP controllers of conversations: the WhatsApp provider's inbound webhook and the web chat
(both drive the messaging service's chatbot), the operators' desk (availability, messages,
transfer, close, conversations we start) and the supervisor's list, and the debtors' document
links the chatbot sends."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from anyio import to_thread
from litestar import Controller, Request, Response, delete, get, post, put
from litestar.datastructures import State
from litestar.params import Parameter
from litestar.response import Template
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED
from litestar.types import ExceptionHandlersMap
from pydantic import BaseModel, ConfigDict, Field

from contracts.documents import InvalidDocument, validate_document
from contracts.messaging_requests import (
    MAX_CHAT_TEXT,
    AvailabilityOut,
    ChatInbound,
    ChatReplyOut,
    ClearDisplayName,
    CloseConversation,
    ConversationOut,
    ConversationStatus,
    GetConversation,
    GetOperator,
    OperatorMessage,
    SetAvailability,
    StartConversation,
    TransferConversation,
)
from contracts.negotiation_requests import GetDocument, GetStatement
from service_runtime.document_links import InvalidLink, read_link
from service_runtime.service_client import ServiceClient, ServiceRefused, ServiceUnavailable
from services.gateway.application.portal import NO_BOLETO_PAGES, boleto_withheld_rule
from services.gateway.entrypoints.http.auth import principal_of, requires
from services.gateway.entrypoints.http.errors import (
    ApiError,
    field_detail,
    field_error,
    handle_api_error,
    handle_service_refused,
    handle_service_unavailable,
    not_found,
    offset_missing,
)
from services.gateway.entrypoints.http.portal_deps import has_portal
from services.gateway.read_models import conversations as conversations_view


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class WhatsAppInbound(_In):
    """The provider's inbound message (one per call), as our HTTP provider adapter documents
    it: who wrote, what, the provider's message id (a retried call is answered once), and
    whether it came from a group."""

    sender: str = Field(alias="from", min_length=8, max_length=40, description="+5511987654321")
    text: str = Field(min_length=1, max_length=MAX_CHAT_TEXT)
    message_id: str | None = Field(default=None, max_length=200)
    name: str | None = Field(default=None, max_length=200)
    group: bool = Field(default=False, description="Group chats are ignored")
    chat_id: str | None = Field(default=None, max_length=200)


class WebChatIn(_In):
    conversation_id: str | None = Field(default=None, max_length=64)
    text: str = Field(min_length=1, max_length=MAX_CHAT_TEXT)


class AvailabilityIn(_In):
    available: bool
    display_name: str | None = Field(
        default=None,
        max_length=200,
        description="The name debtors read when you take or are given a conversation: a first "
        'name such as "Ana" (1-40 characters, not an e-mail, not only digits). Given once, '
        "kept; omitted or null keeps the one before (DELETE /api/v1/operators/me/display-name "
        'forgets it; GET /api/v1/operators/me shows it). Without one, debtors read "um '
        'atendente", never your login',
        examples=["Ana"],
    )


class OperatorMessageIn(_In):
    text: str = Field(min_length=1, max_length=MAX_CHAT_TEXT)


class TransferIn(_In):
    to_operator: str = Field(min_length=1, max_length=200)


class StartConversationIn(_In):
    document: str = Field(min_length=1, max_length=20)
    text: str = Field(min_length=1, max_length=MAX_CHAT_TEXT)


class ConversationSummary(BaseModel):
    conversation_id: str
    channel: str
    address: str | None
    document: str | None
    debtor_name: str | None
    status: str
    operator: str | None
    initiated_by: str
    started_at: dt.datetime
    updated_at: dt.datetime
    messages: int
    verified: bool | None = Field(
        description="Whether whoever writes proved to be the document's holder: true once "
        "identified (after the tenant's second factor, when it asks one); false while that "
        "second factor is pending or failed; null before any document, or not known"
    )


class ConversationList(BaseModel):
    conversations: list[ConversationSummary]


def _messaging(state: State) -> ServiceClient:
    client: ServiceClient = state.messaging
    return client


def _is_group(data: WhatsAppInbound) -> bool:
    return data.group or any(
        (value or "").endswith("@g.us") for value in (data.sender, data.chat_id)
    )


class ChatController(Controller):
    tags = ["chat"]  # noqa: RUF012 (Litestar declares it a list)

    @post(
        "/api/v1/webhooks/whatsapp",
        status_code=HTTP_200_OK,
        guards=[requires("integration")],
        summary="A debtor's WhatsApp message, from the provider: the chatbot answers on WhatsApp",
        description='Body: {"from": "+5511987654321", "text": "...", "message_id": '
        '"...", "name": "...", "group": false}. Group chats are ignored (the debtor '
        "can't be identified). The replies are also in the answer.",
    )
    async def whatsapp(
        self, request: Request[Any, Any, Any], state: State, data: WhatsAppInbound
    ) -> ChatReplyOut:
        principal = principal_of(request)
        if _is_group(data):
            return ChatReplyOut(conversation_id=None, status=None, replies=[])
        return await _messaging(state).ask(
            ChatInbound(
                tenant=principal.tenant,
                channel="whatsapp",
                address=data.sender,
                text=data.text,
                provider_message_id=data.message_id,
                sender_name=data.name,
            ),
            f"{principal.tenant}|{data.sender}",
            ChatReplyOut,
        )

    @post(
        "/api/v1/chat/{tenant:str}/messages",
        status_code=HTTP_200_OK,
        # A tenant without a portal has no chat either: 404, and no conversation is started.
        guards=[has_portal],
        summary="The web chat: a debtor's message (no conversation_id starts one)",
    )
    async def web_message(self, state: State, tenant: str, data: WebChatIn) -> ChatReplyOut:
        return await _messaging(state).ask(
            ChatInbound(
                tenant=tenant,
                channel="web",
                conversation_id=data.conversation_id,
                text=data.text,
            ),
            f"{tenant}|{data.conversation_id or 'new'}",
            ChatReplyOut,
        )

    @get(
        "/api/v1/chat/{tenant:str}/conversations/{conversation_id:str}",
        guards=[has_portal],
        summary="The web chat's conversation so far (operators' answers arrive here; "
        "`operator` is null: no operator's login is shown to the debtor; `document`, "
        "`debtor_name` and `address` are null: the debtor's data only as the chat said them)",
    )
    async def web_conversation(
        self,
        state: State,
        tenant: str,
        conversation_id: str,
        after: Annotated[int, Parameter(ge=0, description="Entries already shown")] = 0,
    ) -> ConversationOut:
        found = await _messaging(state).ask(
            GetConversation(tenant=tenant, conversation_id=conversation_id),
            f"{tenant}|{conversation_id}",
            ConversationOut,
        )
        if found.channel != "web":
            raise not_found("conversation_id", f"conversa {conversation_id} não encontrada")
        # The debtor reads the operator by the name in the text, never by the login (staff
        # see it on /api/v1/conversations). Whoever holds the id may not be the debtor (any
        # document can be typed in the chat): nothing of the debtor but what the chat said.
        entries = [e.model_copy(update={"operator": None}) for e in found.entries[after:]]
        hidden = {"document": None, "debtor_name": None, "address": None, "operator": None}
        return found.model_copy(update={**hidden, "entries": entries})


STAFF = requires("admin", "operator")


class ConversationsController(Controller):
    path = "/api/v1/conversations"
    tags = ["conversations"]  # noqa: RUF012 (Litestar declares it a list)

    @get("/", guards=[requires("admin", "operator", "analyst")], summary="Conversations")
    async def list(
        self,
        request: Request[Any, Any, Any],
        state: State,
        status: ConversationStatus | None = None,
        operator: str | None = None,
        since: Annotated[
            dt.datetime | None,
            Parameter(query="from", description="Changed at or after (ISO 8601 with offset)"),
        ] = None,
        limit: Annotated[int, Parameter(ge=1, le=1000)] = 200,
    ) -> ConversationList:
        principal = principal_of(request)
        if since is not None and since.tzinfo is None:
            raise offset_missing("from", since)
        rows = await to_thread.run_sync(
            lambda: conversations_view.list_conversations(
                state.read_engine,
                principal.tenant,
                status=status,
                operator=operator,
                since=since,
                limit=limit,
            )
        )
        return ConversationList(conversations=[ConversationSummary(**r) for r in rows])

    @get("/{conversation_id:str}", guards=[requires("admin", "operator", "analyst")])
    async def conversation(
        self, request: Request[Any, Any, Any], state: State, conversation_id: str
    ) -> ConversationOut:
        principal = principal_of(request)
        return await _messaging(state).ask(
            GetConversation(tenant=principal.tenant, conversation_id=conversation_id),
            f"{principal.tenant}|{conversation_id}",
            ConversationOut,
        )

    @post(
        "/",
        status_code=HTTP_201_CREATED,
        guards=[STAFF],
        summary="Start a WhatsApp conversation with a debtor (unanswered until they reply)",
    )
    async def start(
        self, request: Request[Any, Any, Any], state: State, data: StartConversationIn
    ) -> ConversationOut:
        principal = principal_of(request)
        try:
            document = validate_document(data.document)
        except InvalidDocument as exc:
            raise field_error("document", exc.rule, exc.reason) from exc
        return await _messaging(state).ask(
            StartConversation(
                tenant=principal.tenant,
                operator=principal.subject,
                document=document,
                text=data.text,
            ),
            f"{principal.tenant}|{document}",
            ConversationOut,
        )

    @post("/{conversation_id:str}/messages", status_code=HTTP_200_OK, guards=[STAFF])
    async def message(
        self,
        request: Request[Any, Any, Any],
        state: State,
        conversation_id: str,
        data: OperatorMessageIn,
    ) -> ConversationOut:
        principal = principal_of(request)
        return await _messaging(state).ask(
            OperatorMessage(
                tenant=principal.tenant,
                conversation_id=conversation_id,
                operator=principal.subject,
                text=data.text,
                supervisor=principal.role == "admin",
            ),
            f"{principal.tenant}|{conversation_id}",
            ConversationOut,
        )

    @post("/{conversation_id:str}/transfer", status_code=HTTP_200_OK, guards=[STAFF])
    async def transfer(
        self, request: Request[Any, Any, Any], state: State, conversation_id: str, data: TransferIn
    ) -> ConversationOut:
        principal = principal_of(request)
        return await _messaging(state).ask(
            TransferConversation(
                tenant=principal.tenant,
                conversation_id=conversation_id,
                operator=principal.subject,
                to_operator=data.to_operator,
                supervisor=principal.role == "admin",
            ),
            f"{principal.tenant}|{conversation_id}",
            ConversationOut,
        )

    @post(
        "/{conversation_id:str}/close",
        status_code=HTTP_200_OK,
        guards=[STAFF],
        summary="Close, sending the tenant's closing message",
    )
    async def close(
        self, request: Request[Any, Any, Any], state: State, conversation_id: str
    ) -> ConversationOut:
        principal = principal_of(request)
        return await _messaging(state).ask(
            CloseConversation(
                tenant=principal.tenant,
                conversation_id=conversation_id,
                operator=principal.subject,
                supervisor=principal.role == "admin",
            ),
            f"{principal.tenant}|{conversation_id}",
            ConversationOut,
        )


class OperatorsController(Controller):
    path = "/api/v1/operators"
    tags = ["conversations"]  # noqa: RUF012 (Litestar declares it a list)

    @put(
        "/me/availability",
        guards=[STAFF],
        summary="Mark yourself available (waiting conversations come to you) or not, and "
        "the name debtors read",
    )
    async def availability(
        self, request: Request[Any, Any, Any], state: State, data: AvailabilityIn
    ) -> AvailabilityOut:
        principal = principal_of(request)
        return await _messaging(state).ask(
            SetAvailability(
                tenant=principal.tenant,
                operator=principal.subject,
                available=data.available,
                display_name=data.display_name,
            ),
            principal.tenant,
            AvailabilityOut,
        )

    @get(
        "/me",
        guards=[STAFF],
        summary="Yourself at the desk: available or not, the name debtors read, your conversations",
    )
    async def me(self, request: Request[Any, Any, Any], state: State) -> AvailabilityOut:
        principal = principal_of(request)
        return await _messaging(state).ask(
            GetOperator(tenant=principal.tenant, operator=principal.subject),
            principal.tenant,
            AvailabilityOut,
        )

    @delete(
        "/me/display-name",
        guards=[STAFF],
        status_code=HTTP_200_OK,
        summary='Forget the name debtors read: they read "um atendente" again',
    )
    async def clear_display_name(
        self, request: Request[Any, Any, Any], state: State
    ) -> AvailabilityOut:
        principal = principal_of(request)
        return await _messaging(state).ask(
            ClearDisplayName(tenant=principal.tenant, operator=principal.subject),
            principal.tenant,
            AvailabilityOut,
        )


def _wants_html(request: Request[Any, Any, Any]) -> bool:
    """A browser (a debtor's phone opening the link): it prefers text/html to JSON."""
    best = request.accept.best_match(["application/json", "text/html"], default="application/json")
    return best == "text/html"


# (title, message) of the page a browser gets when a link does not open its document.
_LINK_PAGES: dict[str, tuple[str, str]] = {
    "link_expired": (
        "Link expirado",
        "Este link expirou. Peça um novo pelo atendimento da assessoria (WhatsApp ou chat).",
    ),
    "link_invalid": (
        "Link inválido",
        "Este link não é válido. Confira se ele foi copiado inteiro ou peça um novo pelo "
        "atendimento da assessoria (WhatsApp ou chat).",
    ),
    "not_found": (
        "Documento não encontrado",
        "Não encontramos este documento. Peça um novo link pelo atendimento da assessoria.",
    ),
    "unavailable": (
        "Documento indisponível no momento",
        "Não conseguimos buscar este documento agora. Tente de novo em instantes.",
    ),
    "refused": (
        "Não foi possível abrir o documento",
        "Não conseguimos abrir este documento. Peça um novo link pelo atendimento da assessoria.",
    ),
}


def _link_page(
    kind: str,
    status: int,
    headers: dict[str, str] | None = None,
    words: tuple[str, str] | None = None,
) -> Template:
    title, message = words or _LINK_PAGES[kind]
    return Template(
        template_name="erro.html",
        context={
            "tenant": None,
            "portal_name": "Portal de negociação",
            "logo_url": None,
            "signed_in": False,
            "title": title,
            "message": message,
            "chooser_link": True,
        },
        status_code=status,
        media_type="text/html",
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


def _document_refused(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """A document link that does not open its document: a page in pt-BR for a browser, the
    API's error shape for any other client."""
    if isinstance(exc, ServiceUnavailable):
        if _wants_html(request):
            return _link_page("unavailable", 503, {"Retry-After": "5"})
        return handle_service_unavailable(request, exc)
    if isinstance(exc, ServiceRefused):
        if _wants_html(request):
            status = exc.error.status
            # A boleto sent before its installment was paid (or broken, or partly paid): the
            # negotiation service withholds it; say why, as the portal's page does.
            rule = boleto_withheld_rule(exc)
            if rule is not None:
                return _link_page("refused", status, words=NO_BOLETO_PAGES[rule])
            return _link_page("not_found" if status == 404 else "refused", status)
        return handle_service_refused(request, exc)
    assert isinstance(exc, ApiError)
    if _wants_html(request):
        rule = exc.details[0]["rule"] if exc.details else ""
        return _link_page(rule if rule in _LINK_PAGES else "refused", exc.status)
    return handle_api_error(request, exc)


DOCUMENT_LINK_ERRORS: ExceptionHandlersMap = {
    ApiError: _document_refused,
    ServiceRefused: _document_refused,
    ServiceUnavailable: _document_refused,
}


class DocumentLinkController(Controller):
    tags = ["portal"]  # noqa: RUF012 (Litestar declares it a list)
    # A debtor opens these links on a phone: a browser gets a page, not JSON.
    exception_handlers = DOCUMENT_LINK_ERRORS

    @get(
        "/d/{token:str}",
        summary="A document the chatbot or an e-mail links to (boleto, term, statement)",
        media_type="application/pdf",
    )
    async def document(self, state: State, token: str) -> Response[bytes]:
        try:
            ref = read_link(state.signing_key, token)
        except InvalidLink as exc:
            rule = "link_expired" if "expirado" in str(exc) else "link_invalid"
            raise ApiError(
                404, "not_found", str(exc), [field_detail("token", rule, str(exc))]
            ) from exc
        negotiation: ServiceClient = state.negotiation
        key = f"{ref.tenant}|{ref.document}"
        if ref.kind == "statement":
            pdf = await negotiation.raw(
                GetStatement(tenant=ref.tenant, document=ref.document, pdf=True), key
            )
            name = "demonstrativo-de-debito.pdf"
        else:
            assert ref.agreement_id is not None
            pdf = await negotiation.raw(
                GetDocument(
                    tenant=ref.tenant,
                    agreement_id=ref.agreement_id,
                    invoice_id=ref.invoice_id if ref.kind == "boleto" else None,
                    document=ref.document,
                ),
                key,
            )
            name = (
                f"boleto-{(ref.invoice_id or '')[:8]}.pdf"
                if ref.kind == "boleto"
                else f"termo-de-acordo-{ref.agreement_id[:8]}.pdf"
            )
        return Response(
            pdf,
            media_type="application/pdf",
            headers={"Content-Disposition": f'inline; filename="{name}"'},
        )
