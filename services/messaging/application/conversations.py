"""Use cases of conversations: the chatbot answering a debtor (WhatsApp or the web chat) through
its flow (document, menu, invoices, documents, negotiating right in the chat), the hand-off
to operators (queue, availability, transfer, close) and conversations we start. The chatbot
negotiates through the negotiation service's port; WhatsApp replies go out as messages of the
conversation (sent at once: they answer the debtor, so no sending window applies).

When the tenant's portal asks a second factor (`second_factor` of its portal profile, see
domain.second_factor), so does the chatbot: after a valid document it shows nothing of the
debtor (no name, no debts, no values) and asks for a one-time code sent by SMS or e-mail to the
contact on file, or for the date of birth on file; only when it passes is the conversation
identified (the document, the sealed name) and greeted as without it. Until then the document
typed waits in the conversation's context and the lines typed that carry a code or a date are
kept as `bot.SECRET_OMITTED`.

Once the debtor is identified, the conversation's phone and name and every line said are
sealed with the debtor's key (see domain.conversations); what operators are shown is opened
with the key vault. After the debtor's personal data were erased, a conversation shows
`REMOVED` for them and for every line, its replies are not sent (failed with the reason), an
operator cannot write in it, and the debtor writing again starts a new conversation."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from contracts.brcode import pix_for_balance
from contracts.documents import document_kind, mask_document
from contracts.invoices import boleto_withheld, partly_paid
from contracts.messaging_requests import (
    AvailabilityOut,
    ChatInbound,
    ChatLink,
    ChatReplyOut,
    ChatText,
    ClearDisplayName,
    CloseConversation,
    ConversationEntry,
    ConversationOut,
    GetConversation,
    GetOperator,
    MessagingSettings,
    OperatorMessage,
    SetAvailability,
    StartConversation,
    TransferConversation,
    portal_url,
)
from contracts.negotiation_requests import (
    AgreementList,
    AgreementOut,
    InvoiceOut,
    OffersOut,
    StatementOut,
)
from contracts.personal import SealedPersonalData
from service_runtime.clock import BUSINESS_TZ
from service_runtime.document_links import DocumentLinks, DocumentRef
from service_runtime.personal_data import REMOVED, KeyVault, seal, unseal
from service_runtime.refusal import Refused, field_refusal
from services.messaging.domain import chatbot as bot
from services.messaging.domain.conversations import (
    ChatLine,
    Conversation,
    OperatorDesk,
    chat_line_id,
    operator_desk_id,
)
from services.messaging.domain.operators import InvalidDisplayName, display_name
from services.messaging.domain.phones import sender_address
from services.messaging.domain.records import (
    CHAT_CODE_KEY_PREFIX,
    CONVERSATION_KEY_PREFIX,
    ERASED_REASON,
    Message,
    OptOut,
    opt_out_id,
)
from services.messaging.domain.second_factor import (
    BIRTH_DATE_KEY_PURPOSE,
    CHAT_CODE_KEY_PURPOSE,
    CODE_TTL,
    MAX_ATTEMPTS,
    MAX_CODES,
    DailyTries,
    InvalidDate,
    SecondFactor,
    birth_date_digest,
    code_digest,
    daily_tries_id,
    new_code,
    new_salt,
    parse_date,
    same_digest,
    typed_code,
)

# The template name of the messages that carry a conversation's replies.
CONVERSATION_TEMPLATE = "conversa"
# Stages where the bot waits for the second factor (what is typed there is a secret).
SECOND_FACTOR_STAGES = ("code", "birth_date")


class NegotiationUnavailable(Exception):
    """The negotiation service did not answer in time."""


class NegotiationRefused(Exception):
    """The negotiation service refused (its message is for people)."""


class NegotiationPort(Protocol):
    def statement(self, tenant: str, document: str) -> StatementOut: ...
    def agreements(self, tenant: str, document: str) -> AgreementList: ...
    def offers(self, tenant: str, document: str, debt_ids: list[str]) -> OffersOut: ...
    def close(
        self, tenant: str, document: str, debt_ids: list[str], installments: int, key: str
    ) -> AgreementOut: ...


class CodeSending(Protocol):
    """A one-time code's message on its way (`MessagingApplication.code_message`)."""

    @property
    def message(self) -> Message | None: ...
    @property
    def channel(self) -> str: ...
    @property
    def destination(self) -> str: ...


class ConversationHost(Protocol):
    """What the conversations need of the messaging application."""

    def get_or_none(self, cls: Any, aggregate_id: uuid.UUID) -> Any: ...
    def retrying(self, command: Callable[[], Any]) -> Any: ...
    def save(self, *objs: Any) -> Any: ...
    def settings_of(self, tenant: str) -> MessagingSettings: ...
    def queued(self, messages: list[Message]) -> None: ...
    def documents_with_phone(self, tenant: str, phone: str) -> list[str]: ...
    def contact_of(self, tenant: str, document: str) -> tuple[str, str | None] | None: ...
    def erased(self, tenant: str, document: str) -> bool: ...
    def queue_message(
        self,
        message: Message,
        *,
        to: str,
        subject: str | None,
        body: str,
        send_at: dt.datetime,
        html: str | None = None,
    ) -> None: ...
    @property
    def vault(self) -> KeyVault: ...
    def second_factor_of(self, tenant: str) -> SecondFactor: ...
    def birth_date_digest_of(self, tenant: str, document: str) -> str | None: ...
    def digest_key(self, tenant: str, purpose: str) -> bytes: ...
    def code_message(
        self,
        *,
        tenant: str,
        document: str,
        key: str,
        channels: Sequence[str],
        now: dt.datetime,
        subject: str,
        body: str,
    ) -> CodeSending | None: ...


def seal_for(host: ConversationHost, tenant: str, document: str, fields: dict[str, Any]) -> Any:
    """Fields sealed with the debtor's key, as the aggregates keep them (a dict)."""
    return seal(host.vault.key_for(tenant, document), fields).model_dump()


def operator_out(desk: OperatorDesk, operator: str) -> AvailabilityOut:
    return AvailabilityOut(
        operator=operator,
        available=operator in desk.available,
        display_name=desk.display_name_of(operator),
        conversations=desk.conversations_of(operator),
    )


def debtor_of(host: ConversationHost, conv: Conversation) -> dict[str, Any] | None:
    """The conversation's {"address", "debtor_name"} in clear; None once the debtor's personal
    data were erased (the key is gone; or, for a conversation stored before sealing, the
    debtor was erased since)."""
    if conv.personal is not None:
        return unseal(SealedPersonalData.model_validate(conv.personal), host.vault)
    if conv.document and host.erased(conv.tenant, conv.document):
        return None
    return {"address": conv.address, "debtor_name": conv.debtor_name}


@dataclass
class Turn:
    """What one step changes: saved together at its end."""

    conversation: Conversation
    now: dt.datetime
    settings: MessagingSettings
    host: ConversationHost
    replies: list[ChatText] = field(default_factory=list)
    others: list[Any] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)

    def sealed(self, fields: dict[str, Any]) -> Any:
        """`fields` sealed with the debtor's key; None while the debtor is not known."""
        conv = self.conversation
        if conv.document is None:
            return None
        return seal_for(self.host, conv.tenant, conv.document, fields)

    def say(
        self, text: str, *links: ChatLink, sender: str = "bot", operator: str | None = None
    ) -> None:
        conv = self.conversation
        personal = self.sealed({"text": text})
        conv.reply(
            sender=sender,
            operator=operator,
            text=None if personal else text,
            links=[link.model_dump() for link in links],
            at=self.now,
            personal=personal,
        )
        self.replies.append(ChatText(text=text, links=list(links)))
        if conv.channel != "whatsapp":
            return
        debtor = debtor_of(self.host, conv)
        address = debtor["address"] if debtor else None
        if debtor is not None and not address:
            return
        message = Message(
            tenant=conv.tenant,
            key=f"{CONVERSATION_KEY_PREFIX}{conv.id}|{len(conv.entries)}",
            document=conv.document or "",
            channel="whatsapp",
            template=CONVERSATION_TEMPLATE,
            variables={},
        )
        if address:
            body = "\n".join([text, *(f"{link.label}: {link.url}" for link in links)])
            self.host.queue_message(message, to=address, subject=None, body=body, send_at=self.now)
        else:
            # The debtor's data were erased: not sent, and said why.
            message.fail(reason=ERASED_REASON, rule="no_contact", at=self.now)
        self.messages.append(message)


def e164_address(raw: str | None) -> str:
    address = sender_address(raw)
    if address is None:
        raise field_refusal(
            "from", "phone", "telefone do remetente inválido: use o formato +5511987654321"
        )
    return address


def conversation_out(host: ConversationHost, conv: Conversation) -> ConversationOut:
    """The conversation as an operator sees it: personal data opened with the key vault, and
    `REMOVED` for them and every line once the debtor's data were erased."""
    debtor = debtor_of(host, conv)

    def text_of(entry: dict[str, Any]) -> str:
        if debtor is None:
            return REMOVED
        if entry.get("personal"):
            opened = unseal(SealedPersonalData.model_validate(entry["personal"]), host.vault)
            return str(opened["text"]) if opened else REMOVED
        return str(entry["text"])

    return ConversationOut(
        conversation_id=str(conv.id),
        tenant=conv.tenant,
        channel=conv.channel,
        address=debtor["address"] if debtor else REMOVED,
        document=conv.document,
        debtor_name=debtor["debtor_name"] if debtor else REMOVED,
        status=conv.status,
        operator=conv.operator,
        started_at=conv.started_at,
        updated_at=conv.updated_at,
        initiated_by=conv.initiated_by,
        verified=conv.verified,
        second_factor=conv.second_factor_pending,
        entries=[
            ConversationEntry(
                at=e["at"],
                sender=e["sender"],
                operator=e["operator"],
                text=text_of(e),
                links=[ChatLink(**link) for link in e["links"]],
            )
            for e in conv.entries
        ],
    )


class Conversations:
    def __init__(
        self, host: ConversationHost, negotiation: NegotiationPort, links: DocumentLinks
    ) -> None:
        self.host = host
        self.negotiation = negotiation
        self.links = links

    # ---- finding and saving -------------------------------------------------------------------

    def _conversation(self, tenant: str, conversation_id: str) -> Conversation:
        try:
            conv_uuid = uuid.UUID(conversation_id)
        except ValueError:
            conv_uuid = None
        conv = self.host.get_or_none(Conversation, conv_uuid) if conv_uuid else None
        if not isinstance(conv, Conversation) or conv.tenant != tenant:
            raise Refused(
                404,
                "not_found",
                f"conversa {conversation_id} não encontrada",
                [("conversation_id", "not_found", f"conversa {conversation_id} não encontrada")],
            )
        return conv

    def _desk(self, tenant: str) -> OperatorDesk:
        desk = self.host.get_or_none(OperatorDesk, operator_desk_id(tenant))
        return desk if isinstance(desk, OperatorDesk) else OperatorDesk(tenant=tenant)

    def _save(self, turn: Turn) -> None:
        self.host.save(turn.conversation, *turn.others, *turn.messages)
        if turn.messages:
            self.host.queued(turn.messages)

    # ---- a debtor writes --------------------------------------------------------------------

    def inbound(self, request: ChatInbound, now: dt.datetime) -> ChatReplyOut:
        return self.host.retrying(lambda: self._inbound(request, now))  # type: ignore[no-any-return]

    def _inbound(self, request: ChatInbound, now: dt.datetime) -> ChatReplyOut:
        settings = self.host.settings_of(request.tenant)
        others: list[Any] = []
        messages: list[Message] = []
        conv: Conversation | None = None
        line: ChatLine | None = None
        if request.channel == "whatsapp":
            address = e164_address(request.address)
            line = self.host.get_or_none(
                ChatLine, chat_line_id(request.tenant, "whatsapp", address)
            ) or ChatLine(tenant=request.tenant, channel="whatsapp", address=address)
            if line.conversation_id:
                conv = self._conversation(request.tenant, line.conversation_id)
        elif request.conversation_id:
            conv = self._conversation(request.tenant, request.conversation_id)
        if conv is not None and conv.seen(request.provider_message_id):
            return ChatReplyOut(
                conversation_id=str(conv.id), status=conv.status, replies=[], duplicate=True
            )
        if conv is not None and not conv.closed and debtor_of(self.host, conv) is None:
            # The debtor's data were erased: that conversation ends; writing again is new.
            ended = Turn(conv, now, settings, self.host)
            self._release(ended)
            conv.close(by="system", reason="personal_data_erased", at=now)
            others.extend([conv, *ended.others])
            messages.extend(ended.messages)
        if line is not None and (conv is None or conv.closed):
            conv = Conversation(
                tenant=request.tenant,
                channel="whatsapp",
                address=line.address,
                initiated_by="debtor",
                operator=None,
                document=None,
                debtor_name=None,
                at=now,
                personal=None,
            )
            line.started(conversation_id=str(conv.id))
            others.append(line)
        if conv is None or conv.closed:
            # The web chat: a new conversation (also after one was closed).
            conv = Conversation(
                tenant=request.tenant,
                channel=request.channel,
                address=None,
                initiated_by="debtor",
                operator=None,
                document=None,
                debtor_name=None,
                at=now,
                personal=None,
            )
        if conv.seen(request.provider_message_id):
            return ChatReplyOut(
                conversation_id=str(conv.id), status=conv.status, replies=[], duplicate=True
            )
        turn = Turn(conv, now, settings, self.host, others=others, messages=messages)
        kept = request.text
        if conv.stage in SECOND_FACTOR_STAGES and any(c.isdigit() for c in kept):
            # A code or a date of birth: a secret, never kept (not even sealed).
            kept = bot.SECRET_OMITTED
        personal = turn.sealed({"text": kept})
        conv.debtor_wrote(
            text=None if personal else kept,
            personal=personal,
            at=now,
            provider_message_id=request.provider_message_id,
        )
        if bot.is_opt_out(request.text):
            self._opt_out(turn)
        elif conv.status == "self_service":
            self._bot(turn, request.text)
        self._save(turn)
        return ChatReplyOut(
            conversation_id=str(conv.id),
            status=conv.status,
            replies=turn.replies,
        )

    def _opt_out(self, turn: Turn) -> None:
        conv = turn.conversation
        if conv.channel == "whatsapp":
            documents = (
                [conv.document]
                if conv.document
                else self.host.documents_with_phone(conv.tenant, conv.address or "")
            )
            for document in documents:
                if (
                    self.host.get_or_none(OptOut, opt_out_id(conv.tenant, document, "whatsapp"))
                    is None
                ):
                    turn.others.append(
                        OptOut(
                            tenant=conv.tenant,
                            document=document,
                            channel="whatsapp",
                            source="SAIR (WhatsApp)",
                            on=turn.now.date(),
                        )
                    )
            turn.say(bot.OPTED_OUT)
        else:
            turn.say(turn.settings.chatbot.closing_message)
        self._release(turn)
        conv.close(by="debtor", reason="opt_out", at=turn.now)

    # ---- the chatbot --------------------------------------------------------------------------

    def _portal_link(self, turn: Turn) -> str:
        # The same base as the signed document links (the chatbot's boleto and term).
        return portal_url(turn.settings.portal_link, self.links.base_url, turn.conversation.tenant)

    def _menu_options(self, turn: Turn) -> list[str]:
        enabled: list[str] = list(turn.settings.chatbot.options)
        stage = turn.conversation.stage
        if stage == "not_found":
            return [o for o in enabled if o in ("operator", "restart")]
        if stage == "not_verified":
            # Nothing of the debtor before the second factor: a new code, or a person.
            resend = ["new_code"] if turn.conversation.context.get("resend") else []
            return resend + [o for o in enabled if o in ("operator", "restart")]
        return enabled

    def _show_menu(self, turn: Turn) -> None:
        options = self._menu_options(turn)
        if options:
            turn.say(bot.menu(options))

    def _move(self, turn: Turn, stage: str, context: dict[str, Any] | None = None) -> None:
        conv = turn.conversation
        conv.move(stage=stage, context=context or {}, invalid_documents=conv.invalid_documents)

    def _bot(self, turn: Turn, text: str) -> None:
        conv = turn.conversation
        try:
            if conv.stage == "start":
                turn.say(bot.welcome(turn.settings.agency_name))
                typed = bot.document_typed(text)
                if typed is None:
                    self._move(turn, "document")  # a greeting: the welcome asks for it
                else:
                    self._identify(turn, typed)
            elif conv.stage == "document":
                self._identify(turn, bot.document_typed(text))
            elif conv.stage in SECOND_FACTOR_STAGES:
                if bot.is_menu(text):
                    self._not_verified(turn, resend=conv.stage == "code")
                elif conv.stage == "code":
                    self._check_code(turn, text)
                else:
                    self._check_date(turn, text)
            elif bot.is_menu(text) and conv.stage == "not_verified":
                self._show_menu(turn)
            elif bot.is_menu(text) and conv.stage not in ("start", "document"):
                self._move(turn, "menu" if conv.document else "not_found")
                self._show_menu(turn)
            elif conv.stage in ("menu", "not_found", "not_verified"):
                options = self._menu_options(turn)
                picked = bot.choice(text, len(options))
                if picked is None:
                    turn.say(bot.invalid_option(len(options)))
                else:
                    self._option(turn, options[picked - 1])
            elif conv.stage == "choose_creditor":
                self._choose_creditor(turn, text)
            elif conv.stage == "choose_offer":
                self._choose_offer(turn, text)
            elif conv.stage == "confirm":
                self._confirm(turn, text)
        except NegotiationUnavailable:
            turn.say(bot.UNAVAILABLE)

    def _identify(self, turn: Turn, typed: bot.DocumentTyped | None) -> None:
        """Only what looks like a CPF or CNPJ is an attempt (`bot.document_typed`): anything
        else is asked again, no attempt spent."""
        conv = turn.conversation
        allowed = turn.settings.chatbot.max_document_attempts
        if typed is None:
            self._move(turn, "document")
            turn.say(bot.ASK_DOCUMENT)
            return
        if isinstance(typed, bot.DocumentTooShort):
            self._move(turn, "document")
            turn.say(bot.document_too_short(typed.digits))
            return
        if isinstance(typed, bot.DocumentMistyped):
            attempts = conv.invalid_documents + 1
            if attempts >= allowed:
                conv.move(stage="document", context={}, invalid_documents=attempts)
                turn.say(bot.document_guidance(self._portal_link(turn)))
                conv.close(by="chatbot", reason="invalid_document", at=turn.now)
                return
            conv.move(stage="document", context={}, invalid_documents=attempts)
            turn.say(bot.invalid_document(typed.reason, attempts, allowed))
            return
        document = typed.document
        factor = self.host.second_factor_of(conv.tenant)
        if factor.method == "code":
            conv.second_factor_asked(method="code", at=turn.now)
            self._send_code(turn, {"document": document, "channels": list(factor.code_channels)})
        elif factor.method == "birth_date":
            conv.second_factor_asked(method="birth_date", at=turn.now)
            self._ask_date(turn, document)
        else:
            self._open(turn, document)

    def _open(self, turn: Turn, document: str) -> None:
        """The debtor is who they said (no second factor, or it passed): the greeting with the
        name and values, and the menu."""
        conv = turn.conversation
        statement = self.negotiation.statement(conv.tenant, document)
        agreements = self.negotiation.agreements(conv.tenant, document).agreements
        if conv.second_factor_pending is not None:
            conv.second_factor_passed_at(method=conv.second_factor_pending, at=turn.now)
        if not statement.debts and not agreements:
            conv.move(stage="not_found", context={"document": document}, invalid_documents=0)
            turn.say(bot.not_found(mask_document(document)))
            self._show_menu(turn)
            return
        name = statement.debtor_name or (agreements[0].debtor_name if agreements else None)
        personal = seal_for(
            self.host, conv.tenant, document, {"address": conv.address, "debtor_name": name}
        )
        conv.identify(document=document, personal=personal, at=turn.now)
        conv.move(stage="menu", context={}, invalid_documents=0)
        company = document_kind(document) == "cnpj"
        ended = [
            (agreement_named(a, agreements), a.end_reason, a.owed_cents)
            for a in recently_ended(agreements, statement.as_of)
        ]
        turn.say(bot.greeting(name, company, situation(statement, agreements), ended))
        self._show_menu(turn)

    def _option(self, turn: Turn, option: str) -> None:
        conv = turn.conversation
        if option == "restart":
            conv.move(stage="document", context={}, invalid_documents=0)
            turn.say(bot.RESTART)
            return
        if option == "operator":
            self._hand_off(turn)
            return
        if option == "new_code":
            self._send_code(turn, conv.context)
            return
        document = conv.document
        assert document is not None  # the menu's other options come after identifying
        if option in ("digitable_line", "boleto_pdf"):
            self._invoices(turn, option, document)
        elif option == "statement_pdf":
            turn.say(bot.STATEMENT, self._link(turn, "statement", "Demonstrativo de débito"))
        elif option == "term_pdf":
            agreements = self.negotiation.agreements(conv.tenant, document).agreements
            if not agreements:
                turn.say(bot.NO_AGREEMENT)
            else:
                last = agreements[0]
                turn.say(
                    bot.term_intro(
                        last.closed_on,
                        last.creditor,
                        last.status,
                        last.end_reason,
                        named=agreement_named(last, agreements),
                        owed_cents=last.owed_cents,
                        credit_cents=last.credit_cents,
                    ),
                    self._link(turn, "term", "Termo de acordo", agreement_id=last.agreement_id),
                )
        elif option == "negotiate":
            self._negotiate(turn)

    # ---- the tenant's second factor -------------------------------------------------------

    def _not_verified(self, turn: Turn, *, resend: bool) -> None:
        """The second factor did not pass (or cannot be asked): the document waits in the
        context, its secrets dropped; the menu offers a new code (`resend`, while codes are
        left) or a person. With neither, the conversation ends."""
        conv = turn.conversation
        kept: dict[str, Any] = {
            k: conv.context[k] for k in ("document", "channels", "codes") if k in conv.context
        }
        resend = resend and kept.get("codes", 0) < MAX_CODES
        self._move(turn, "not_verified", {**kept, "resend": resend})
        if not self._menu_options(turn):
            conv.close(by="chatbot", reason="not_verified", at=turn.now)
            return
        self._show_menu(turn)

    def _send_code(self, turn: Turn, context: dict[str, Any]) -> None:
        """A new code to the contact on file (never to the chat: its number may be anyone's),
        by the tenant's channels in order; the conversation keeps its keyed, salted digest."""
        conv = turn.conversation
        document: str = context["document"]
        codes: int = context.get("codes", 0)
        if codes >= MAX_CODES:
            turn.say(bot.NO_MORE_CODES)
            self._not_verified(turn, resend=False)
            return
        sent_today = self._tries(turn, document, "code")
        if sent_today is not None and sent_today.locked:
            turn.say(bot.NO_MORE_CODES_TODAY)
            self._not_verified(turn, resend=False)
            return
        agency = turn.settings.agency_name
        code = new_code()
        found = self.host.code_message(
            tenant=conv.tenant,
            document=document,
            # One message per code: the conversation, its count of codes and its line.
            key=f"{CHAT_CODE_KEY_PREFIX}{conv.id}:{codes + 1}:{len(conv.entries)}",
            channels=context["channels"],
            now=turn.now,
            subject=bot.code_subject(agency),
            body=bot.code_message(agency, code),
        )
        if found is None or found.message is None:
            # No contact (said the same whether or not the document is known).
            self._move(turn, "code", {**context, "codes": codes})
            turn.say(bot.NO_CONTACT_FOR_CODE)
            self._not_verified(turn, resend=False)
            return
        turn.messages.append(found.message)
        self._use(turn, document, "code", sent_today)
        salt = new_salt()
        key = self.host.digest_key(conv.tenant, CHAT_CODE_KEY_PURPOSE)
        self._move(
            turn,
            "code",
            {
                "document": document,
                "channels": list(context["channels"]),
                "codes": codes + 1,
                "salt": salt,
                "digest": code_digest(key, salt, code),
                "expires_at": (turn.now + CODE_TTL).isoformat(),
                "attempts": 0,
            },
        )
        turn.say(bot.code_sent(found.channel, found.destination))

    def _check_code(self, turn: Turn, text: str) -> None:
        conv = turn.conversation
        context = conv.context
        if turn.now >= dt.datetime.fromisoformat(context["expires_at"]):
            turn.say(bot.CODE_EXPIRED)
            self._not_verified(turn, resend=True)
            return
        typed = typed_code(text)
        if typed is None:
            turn.say(bot.CODE_HINT)  # no try used: it is no code
            return
        key = self.host.digest_key(conv.tenant, CHAT_CODE_KEY_PURPOSE)
        if same_digest(code_digest(key, context["salt"], typed), context["digest"]):
            self._open(turn, context["document"])
            return
        attempts = context["attempts"] + 1
        if attempts >= MAX_ATTEMPTS:
            turn.say(bot.CODE_EXHAUSTED)
            self._not_verified(turn, resend=True)
            return
        self._move(turn, "code", {**context, "attempts": attempts})
        turn.say(bot.wrong_code(MAX_ATTEMPTS - attempts))

    def _business_day(self, turn: Turn) -> dt.date:
        return turn.now.astimezone(BUSINESS_TZ).date()

    def _tries(self, turn: Turn, document: str, kind: str = "birth_date") -> DailyTries | None:
        day = self._business_day(turn)
        found = self.host.get_or_none(
            DailyTries, daily_tries_id(kind, turn.conversation.tenant, document, day)
        )
        return found if isinstance(found, DailyTries) else None

    def _use(self, turn: Turn, document: str, kind: str, tries: DailyTries | None) -> DailyTries:
        """One more of `kind` used today by the document, saved with the conversation."""
        if tries is None:
            tries = DailyTries(
                kind=kind,
                tenant=turn.conversation.tenant,
                document=document,
                day=self._business_day(turn),
            )
        tries.used(by=str(turn.conversation.id), at=turn.now)
        turn.others.append(tries)
        return tries

    def _date_checkable(self, turn: Turn, document: str) -> tuple[str, DailyTries | None] | None:
        """The digest of the debtor's date on file and today's wrong dates; None (the debtor
        told why, and offered a person) when there is no date (none in the carteira, or erased
        since) or the document is locked for today."""
        known = self.host.birth_date_digest_of(turn.conversation.tenant, document)
        tries = self._tries(turn, document)
        if known is None:
            turn.say(bot.no_date(document_kind(document) == "cnpj"))
        elif tries is not None and tries.locked:
            turn.say(bot.DATE_LOCKED)
        else:
            return known, tries
        self._not_verified(turn, resend=False)
        return None

    def _ask_date(self, turn: Turn, document: str) -> None:
        self._move(turn, "birth_date", {"document": document})
        if self._date_checkable(turn, document) is not None:
            turn.say(bot.ask_date(document_kind(document) == "cnpj"))

    def _check_date(self, turn: Turn, text: str) -> None:
        conv = turn.conversation
        document: str = conv.context["document"]
        try:
            typed = parse_date(text, self._business_day(turn))
        except InvalidDate as exc:
            turn.say(bot.invalid_date(str(exc)))  # no try used: it is no date
            return
        checkable = self._date_checkable(turn, document)
        if checkable is None:
            return
        known, tries = checkable
        key = self.host.digest_key(conv.tenant, BIRTH_DATE_KEY_PURPOSE)
        if same_digest(birth_date_digest(key, conv.tenant, document, typed), known):
            self._open(turn, document)
            return
        tries = self._use(turn, document, "birth_date", tries)
        if tries.locked:
            turn.say(bot.DATE_LOCKED)
            self._not_verified(turn, resend=False)
            return
        turn.say(bot.wrong_date(tries.left))

    # ---- negotiating in the chat ----------------------------------------------------------

    def _negotiate(self, turn: Turn) -> None:
        conv = turn.conversation
        assert conv.document is not None
        if not turn.settings.chatbot.negotiate_in_chat:
            turn.say(bot.portal_only(self._portal_link(turn)))
            return
        statement = self.negotiation.statement(conv.tenant, conv.document)
        by_creditor: dict[str, list[tuple[str, int]]] = {}
        for debt in statement.debts:
            if debt.agreement_id is None:
                by_creditor.setdefault(debt.creditor, []).append(
                    (debt.debt_id, debt.updated_value_cents)
                )
        if not by_creditor:
            turn.say(bot.NOTHING_TO_NEGOTIATE)
            return
        creditors: list[tuple[str, list[str], int]] = [
            (name, [d for d, _ in debts], sum(v for _, v in debts))
            for name, debts in sorted(by_creditor.items())
        ]
        if len(creditors) == 1:
            self._show_offers(turn, creditors[0][1])
            return
        self._move(turn, "choose_creditor", {"creditors": [list(c) for c in creditors]})
        turn.say(bot.creditors_menu([(name, len(ids), total) for name, ids, total in creditors]))

    def _choose_creditor(self, turn: Turn, text: str) -> None:
        creditors = turn.conversation.context["creditors"]
        if bot.plain(text) == "0":
            self._move(turn, "menu")
            self._show_menu(turn)
            return
        picked = bot.choice(text, len(creditors))
        if picked is None:
            turn.say(bot.invalid_option(len(creditors)))
            return
        self._show_offers(turn, creditors[picked - 1][1])

    def _show_offers(self, turn: Turn, debt_ids: list[str]) -> None:
        conv = turn.conversation
        assert conv.document is not None
        try:
            found = self.negotiation.offers(conv.tenant, conv.document, debt_ids)
        except NegotiationRefused as exc:
            self._move(turn, "menu")
            reason = self._refusal(turn, exc, debt_ids)
            turn.say(f"Não foi possível montar as ofertas: {reason}.")
            return
        if not found.offers:
            self._move(turn, "menu")
            turn.say(bot.NO_OFFERS)
            return
        offers = [
            {
                "installments": o.installments,
                "total_cents": o.total_cents,
                "discount_cents": o.discount_cents,
                "amounts": [s.amount_cents for s in o.schedule],
                "kinds": [s.kind for s in o.schedule],
                "first_due": o.schedule[0].due_date.isoformat(),
            }
            for o in found.offers
        ]
        # The agreement's idempotency key: this offer shown in this conversation. Confirming
        # twice (a double message, a retried webhook) closes one agreement.
        key = hashlib.sha256(
            f"{conv.id}|{len(conv.entries)}|{','.join(sorted(debt_ids))}".encode()
        ).hexdigest()[:32]
        self._move(
            turn,
            "choose_offer",
            {"debt_ids": debt_ids, "offers": offers, "creditor": found.creditor, "key": key},
        )
        turn.say(
            bot.offers_menu(
                found.creditor, found.updated_value_cents, [offer_line(o) for o in offers]
            ),
            ChatLink(kind="portal", label="Portal de negociação", url=self._portal_link(turn)),
        )

    def _choose_offer(self, turn: Turn, text: str) -> None:
        context = turn.conversation.context
        if bot.plain(text) == "0":
            self._move(turn, "menu")
            self._show_menu(turn)
            return
        picked = bot.choice(text, len(context["offers"]))
        if picked is None:
            turn.say(bot.invalid_option(len(context["offers"])))
            return
        self._move(turn, "confirm", {**context, "picked": picked - 1})
        turn.say(bot.confirm_offer(offer_line(context["offers"][picked - 1])))

    def _confirm(self, turn: Turn, text: str) -> None:
        conv = turn.conversation
        context = conv.context
        answer = bot.plain(text)
        if answer in bot.NO_WORDS:
            self._move(turn, "choose_offer", {k: v for k, v in context.items() if k != "picked"})
            offers = [offer_line(o) for o in context["offers"]]
            turn.say(bot.offers_menu(context["creditor"], 0, offers).split("\n", 1)[1])
            return
        if answer not in bot.YES_WORDS:
            turn.say("Digite 1 para confirmar o acordo ou 2 para voltar às opções.")
            return
        assert conv.document is not None
        offer = context["offers"][context["picked"]]
        try:
            agreement = self.negotiation.close(
                conv.tenant,
                conv.document,
                context["debt_ids"],
                offer["installments"],
                f"chat:{context['key']}:{offer['installments']}",
            )
        except NegotiationRefused as exc:
            self._move(turn, "menu")
            reason = self._refusal(turn, exc, context["debt_ids"])
            turn.say(f"Não foi possível fechar o acordo: {reason}. Digite MENU para ver as opções.")
            return
        self._move(turn, "menu")
        first = next((i for i in agreement.invoices if i.status in ("open", "overdue")), None)
        links = [self._link(turn, "term", "Termo de acordo", agreement_id=agreement.agreement_id)]
        # A replayed agreement may come after payments: its boleto only while it pays.
        if (
            first is not None
            and boleto_withheld(first.status, first.amount_cents, first.paid_cents) is None
        ):
            links.insert(0, self._boleto_link(turn, agreement, first))
        turn.say(
            bot.agreement_closed(
                agreement.total_cents,
                [i.kind for i in agreement.invoices],
                open_invoice(agreement, first) if first else None,
            ),
            *links,
        )
        self._show_menu(turn)

    def _refusal(self, turn: Turn, refused: NegotiationRefused, debt_ids: list[str]) -> str:
        """Why the negotiation service refused, in the debtor's words: debts an agreement took
        meanwhile by their creditor, contracts and the agreement's date; never an id or a key."""
        conv = turn.conversation
        assert conv.document is not None
        held = [
            debt
            for debt in self.negotiation.statement(conv.tenant, conv.document).debts
            if debt.debt_id in debt_ids and debt.agreement_id is not None
        ]
        if not held:
            return bot.refusal_reason(str(refused))
        agreements = self.negotiation.agreements(conv.tenant, conv.document).agreements
        closed_on = next(
            (a.closed_on for a in agreements if a.agreement_id == held[0].agreement_id), None
        )
        contracts = list(dict.fromkeys(debt.contract for debt in held))
        return bot.in_agreement(held[0].creditor, contracts, closed_on)

    # ---- documents ----------------------------------------------------------------------------

    def _invoices(self, turn: Turn, option: str, document: str) -> None:
        """Every invoice to pay now (`invoices_to_pay`), at most `bot.MAX_INVOICES_SHOWN`,
        each named by its creditor: its line and PIX code, or its boleto's PDF."""
        conv = turn.conversation
        agreements = self.negotiation.agreements(conv.tenant, document).agreements
        due = invoices_to_pay(agreements)
        if not due:
            ended = [
                (agreement_named(a, agreements), a.end_reason, a.owed_cents)
                for a in last_ended(agreements)
            ]
            turn.say(bot.no_open_invoice(ended))
            return
        shown, more = due[: bot.MAX_INVOICES_SHOWN], len(due) - bot.MAX_INVOICES_SHOWN
        portal = (
            [ChatLink(kind="portal", label="Portal de negociação", url=self._portal_link(turn))]
            if more > 0
            else []
        )
        if option == "digitable_line":
            if len(due) > 1:
                turn.say(bot.invoices_to_pay(len(shown), max(more, 0)), *portal)
            for agreement, invoice in shown:
                turn.say(bot.digitable_line(open_invoice(agreement, invoice)))
            return
        # A boleto only while it pays its invoice (the negotiation service's rule, which also
        # refuses its PDF): a paid one is never offered; a partly paid one's boleto carries the
        # whole amount, so what was paid, what is left and the PIX of the balance instead, in
        # option 1's words.
        links: list[ChatLink] = []
        balances: list[bot.OpenInvoice] = []
        for agreement, invoice in shown:
            if boleto_withheld(invoice.status, invoice.amount_cents, invoice.paid_cents) is None:
                links.append(self._boleto_link(turn, agreement, invoice))
            elif partly_paid(invoice.status, invoice.amount_cents, invoice.paid_cents):
                balances.append(open_invoice(agreement, invoice))
        if len(due) > 1:
            turn.say(bot.invoices_to_pay(len(shown), max(more, 0)), *links, *portal)
        elif links:
            [(agreement, invoice)] = shown
            turn.say(bot.boleto_due(open_invoice(agreement, invoice)), *links)
        for given in balances:
            turn.say(bot.digitable_line(given))

    def _link(
        self,
        turn: Turn,
        kind: Any,
        label: str,
        agreement_id: str | None = None,
        invoice_id: str | None = None,
    ) -> ChatLink:
        conv = turn.conversation
        assert conv.document is not None
        ref = DocumentRef(
            tenant=conv.tenant,
            document=conv.document,
            kind=kind,
            agreement_id=agreement_id,
            invoice_id=invoice_id,
        )
        return ChatLink(kind=kind, label=label, url=self.links.url(ref))

    def _boleto_link(self, turn: Turn, agreement: AgreementOut, invoice: InvoiceOut) -> ChatLink:
        return self._link(
            turn,
            "boleto",
            bot.boleto_label(open_invoice(agreement, invoice)),
            agreement_id=agreement.agreement_id,
            invoice_id=invoice.invoice_id,
        )

    # ---- operators ----------------------------------------------------------------------------

    def _hand_off(self, turn: Turn) -> None:
        conv = turn.conversation
        desk = self._desk(conv.tenant)
        conv.wait_for_operator(at=turn.now)
        self._move(turn, "operator")
        desk.enqueue(conversation_id=str(conv.id))
        turn.others.append(desk)
        operator = desk.pick(turn.settings.chatbot.max_per_operator)
        if operator is None:
            turn.say(bot.WAIT_FOR_OPERATOR)
            return
        desk.assign(conversation_id=str(conv.id), operator=operator)
        conv.assign(operator=operator, at=turn.now)
        turn.say(
            bot.with_operator(desk.display_name_of(operator), turn.settings.agency_name),
            sender="system",
        )

    def _release(self, turn: Turn) -> OperatorDesk | None:
        """Frees the conversation's place at the desk; the freed operator takes the next
        waiting conversation. Returns the desk when it changed."""
        conv = turn.conversation
        desk = next((o for o in turn.others if isinstance(o, OperatorDesk)), None)
        desk = desk or self._desk(conv.tenant)
        key = str(conv.id)
        held = any(key in convs for convs in desk.assigned.values()) or key in desk.waiting
        if not held:
            return None
        desk.release(conversation_id=key)
        if desk not in turn.others:
            turn.others.append(desk)
        others, messages = self._assign_waiting(desk, turn.now, turn.settings)
        turn.others.extend(others)
        turn.messages.extend(messages)
        return desk

    def _assign_waiting(
        self, desk: OperatorDesk, now: dt.datetime, settings: MessagingSettings
    ) -> tuple[list[Conversation], list[Message]]:
        """Waiting conversations, oldest first, to the available operators with room."""
        assigned: list[Conversation] = []
        messages: list[Message] = []
        for waiting_id in list(desk.waiting):
            operator = desk.pick(settings.chatbot.max_per_operator)
            if operator is None:
                break
            waiting = self._conversation(desk.tenant, waiting_id)
            desk.assign(conversation_id=waiting_id, operator=operator)
            if waiting.closed:
                desk.release(conversation_id=waiting_id)
                continue
            waiting.assign(operator=operator, at=now)
            side = Turn(waiting, now, settings, self.host)
            side.say(
                bot.with_operator(desk.display_name_of(operator), settings.agency_name),
                sender="system",
            )
            assigned.append(waiting)
            messages.extend(side.messages)
        return assigned, messages

    def set_availability(self, request: SetAvailability, now: dt.datetime) -> AvailabilityOut:
        name = None
        if request.display_name is not None:
            try:
                name = display_name(request.display_name)
            except InvalidDisplayName as exc:
                raise field_refusal("display_name", exc.rule, exc.message) from exc

        def command() -> AvailabilityOut:
            settings = self.host.settings_of(request.tenant)
            desk = self._desk(request.tenant)
            # Named before any conversation comes: the debtor reads the name, not the login.
            if name is not None and desk.display_name_of(request.operator) != name:
                desk.set_display_name(operator=request.operator, display_name=name)
            # The first time also when it changes nothing: the desk now knows the operator.
            if (request.operator in desk.available) != request.available or not desk.knows(
                request.operator
            ):
                desk.set_available(operator=request.operator, available=request.available, at=now)
            assigned, messages = (
                self._assign_waiting(desk, now, settings) if request.available else ([], [])
            )
            self.host.save(desk, *assigned, *messages)
            if messages:
                self.host.queued(messages)
            return operator_out(desk, request.operator)

        return self.host.retrying(command)  # type: ignore[no-any-return]

    def operator(self, request: GetOperator) -> AvailabilityOut:
        return operator_out(self._desk(request.tenant), request.operator)

    def clear_display_name(self, request: ClearDisplayName) -> AvailabilityOut:
        def command() -> AvailabilityOut:
            desk = self._desk(request.tenant)
            if desk.display_name_of(request.operator) is not None:
                desk.clear_display_name(operator=request.operator)
                self.host.save(desk)
            return operator_out(desk, request.operator)

        return self.host.retrying(command)  # type: ignore[no-any-return]

    def _operator_turn(
        self, tenant: str, conversation_id: str, operator: str, supervisor: bool, now: dt.datetime
    ) -> Turn:
        conv = self._conversation(tenant, conversation_id)
        if conv.closed:
            raise Refused(409, "conversation_closed", f"a conversa {conversation_id} foi encerrada")
        if not supervisor and conv.operator != operator:
            holder = f"está com {conv.operator}" if conv.operator else "não tem atendente"
            raise Refused(
                409,
                "not_your_conversation",
                f"a conversa {conversation_id} {holder}",
                [("conversation_id", "operator", f"a conversa {holder}")],
            )
        return Turn(conv, now, self.host.settings_of(tenant), self.host)

    def operator_message(self, request: OperatorMessage, now: dt.datetime) -> ConversationOut:
        def command() -> ConversationOut:
            turn = self._operator_turn(
                request.tenant, request.conversation_id, request.operator, request.supervisor, now
            )
            if debtor_of(self.host, turn.conversation) is None:
                raise Refused(
                    409,
                    "personal_data_erased",
                    f"a conversa {request.conversation_id}: {ERASED_REASON}",
                    [("conversation_id", "personal_data_erased", ERASED_REASON)],
                )
            turn.say(request.text, sender="operator", operator=request.operator)
            self._save(turn)
            return conversation_out(self.host, turn.conversation)

        return self.host.retrying(command)  # type: ignore[no-any-return]

    def transfer(self, request: TransferConversation, now: dt.datetime) -> ConversationOut:
        def command() -> ConversationOut:
            turn = self._operator_turn(
                request.tenant, request.conversation_id, request.operator, request.supervisor, now
            )
            conv = turn.conversation
            if conv.status != "with_operator" and conv.status != "waiting_operator":
                raise Refused(
                    409,
                    "not_with_operator",
                    "só se transfere uma conversa que está com um atendente ou na fila",
                )
            if request.to_operator == conv.operator:
                raise field_refusal(
                    "to_operator", "same_operator", "a conversa já está com esse atendente"
                )
            desk = self._desk(request.tenant)
            # Whoever asks holds a token of the tenant: taking the conversation is theirs to
            # do. Anyone else must be an operator the desk knows, or the conversation would
            # go to nobody and only an admin could take it back.
            if request.to_operator != request.operator and not desk.knows(request.to_operator):
                raise field_refusal(
                    "to_operator",
                    "unknown_operator",
                    f"atendente {request.to_operator} não existe nesta assessoria: transfira "
                    "para quem já entrou no atendimento (marcou disponibilidade)",
                )
            desk.assign(conversation_id=str(conv.id), operator=request.to_operator)
            turn.others.append(desk)
            conv.transfer(to_operator=request.to_operator, by=request.operator, at=now)
            turn.say(bot.transferred(desk.display_name_of(request.to_operator)), sender="system")
            self._save(turn)
            return conversation_out(self.host, conv)

        return self.host.retrying(command)  # type: ignore[no-any-return]

    def close(self, request: CloseConversation, now: dt.datetime) -> ConversationOut:
        def command() -> ConversationOut:
            turn = self._operator_turn(
                request.tenant, request.conversation_id, request.operator, request.supervisor, now
            )
            turn.say(
                turn.settings.chatbot.closing_message, sender="operator", operator=request.operator
            )
            self._release(turn)
            turn.conversation.close(by=request.operator, reason="operator", at=now)
            self._save(turn)
            return conversation_out(self.host, turn.conversation)

        return self.host.retrying(command)  # type: ignore[no-any-return]

    def start(self, request: StartConversation, now: dt.datetime) -> ConversationOut:
        def command() -> ConversationOut:
            contact = self.host.contact_of(request.tenant, request.document)
            if contact is None and self.host.erased(request.tenant, request.document):
                raise Refused(
                    409,
                    "personal_data_erased",
                    ERASED_REASON,
                    [("document", "personal_data_erased", ERASED_REASON)],
                )
            if contact is None or not contact[1]:
                raise field_refusal(
                    "document", "no_phone", "devedor sem telefone cadastrado para WhatsApp"
                )
            if self.host.get_or_none(
                OptOut, opt_out_id(request.tenant, request.document, "whatsapp")
            ):
                raise Refused(
                    409,
                    "opted_out",
                    "o devedor pediu para não receber mensagens por WhatsApp",
                    [("document", "opted_out", "devedor descadastrado do WhatsApp")],
                )
            address = e164_address(contact[1])
            line = self.host.get_or_none(
                ChatLine, chat_line_id(request.tenant, "whatsapp", address)
            ) or ChatLine(tenant=request.tenant, channel="whatsapp", address=address)
            if line.conversation_id:
                current = self._conversation(request.tenant, line.conversation_id)
                if not current.closed:
                    raise Refused(
                        409,
                        "conversation_open",
                        f"já há uma conversa aberta com esse telefone: {current.id}",
                        [("document", "conversation_open", str(current.id))],
                    )
            # The debtor is known from the start: the phone and the name go sealed.
            conv = Conversation(
                tenant=request.tenant,
                channel="whatsapp",
                address=None,
                initiated_by="agency",
                operator=request.operator,
                document=request.document,
                debtor_name=None,
                at=now,
                personal=seal_for(
                    self.host,
                    request.tenant,
                    request.document,
                    {"address": address, "debtor_name": contact[0]},
                ),
            )
            line.started(conversation_id=str(conv.id))
            desk = self._desk(request.tenant)
            desk.assign(conversation_id=str(conv.id), operator=request.operator)
            turn = Turn(
                conv, now, self.host.settings_of(request.tenant), self.host, others=[line, desk]
            )
            turn.say(request.text, sender="operator", operator=request.operator)
            self._save(turn)
            return conversation_out(self.host, conv)

        return self.host.retrying(command)  # type: ignore[no-any-return]

    def get(self, request: GetConversation) -> ConversationOut:
        return conversation_out(
            self.host, self._conversation(request.tenant, request.conversation_id)
        )


def situation(statement: StatementOut, agreements: Sequence[AgreementOut]) -> bot.Situation:
    """The greeting's numbers: the debts without an agreement, as Negociar offers them, and
    the active agreements with what is left of their invoices."""
    free = [debt for debt in statement.debts if debt.agreement_id is None]
    active = [a for a in agreements if a.status == "active"]
    return bot.Situation(
        open_debts=len(free),
        open_cents=sum(debt.updated_value_cents for debt in free),
        agreements=len(active),
        left_cents=sum(
            invoice.balance_cents
            for a in active
            for invoice in a.invoices
            if invoice.status in ("open", "overdue")
        ),
    )


def invoices_to_pay(agreements: Sequence[AgreementOut]) -> list[tuple[AgreementOut, InvoiceOut]]:
    """What to pay now, the soonest due first: of each active agreement its overdue invoices
    and the next one not yet due (three agreements due the same day: their three invoices)."""
    due: list[tuple[AgreementOut, InvoiceOut]] = []
    for agreement in agreements:
        if agreement.status != "active":
            continue
        due += [(agreement, i) for i in agreement.invoices if i.status == "overdue"]
        upcoming = [i for i in agreement.invoices if i.status == "open"]
        if upcoming:
            due.append((agreement, min(upcoming, key=lambda i: (i.due_date, i.number))))
    return sorted(due, key=lambda d: (d[1].due_date, d[0].creditor, d[1].number))


def last_ended(agreements: Sequence[AgreementOut]) -> list[AgreementOut]:
    """The agreements that ended (broken by the debtor or ended by the creditor) among each
    creditor's last: those closed on the last day the debtor closed one with that creditor
    (`agreements` newest first, as negotiation lists them). An agreement superseded by a
    newer one with its creditor is not said again."""
    last_day: dict[str, dt.date] = {}
    for agreement in agreements:
        last_day.setdefault(agreement.creditor, agreement.closed_on)
    return [a for a in agreements if a.status == "broken" and a.closed_on == last_day[a.creditor]]


def recently_ended(agreements: Sequence[AgreementOut], today: dt.date) -> list[AgreementOut]:
    """The agreements the greeting says ended: `last_ended`, but those whose last invoice fell
    due over `bot.RECENT_END_DAYS` before `today` (the business day of negotiation's
    statement): negotiation's answer has no day of the end, and an agreement ends by then."""
    since = today - dt.timedelta(days=bot.RECENT_END_DAYS)
    return [
        a
        for a in last_ended(agreements)
        if not a.invoices or max(i.due_date for i in a.invoices) >= since
    ]


def agreement_named(agreement: AgreementOut, agreements: Sequence[AgreementOut]) -> str:
    """The agreement as the chat names it: by its day and creditor, and by its total and
    installments too when another of `agreements` has the same day and creditor."""
    twin = any(
        other.agreement_id != agreement.agreement_id
        and (other.closed_on, other.creditor) == (agreement.closed_on, agreement.creditor)
        for other in agreements
    )
    if not twin:
        return bot.agreement_named(agreement.closed_on, agreement.creditor)
    return bot.agreement_named(
        agreement.closed_on,
        agreement.creditor,
        agreement.total_cents,
        [i.kind for i in sorted(agreement.invoices, key=lambda i: i.number)],
    )


def offer_line(offer: dict[str, Any]) -> bot.OfferLine:
    return bot.OfferLine(
        installments=offer["installments"],
        total_cents=offer["total_cents"],
        discount_cents=offer["discount_cents"],
        amounts=tuple(offer["amounts"]),
        first_due=dt.date.fromisoformat(offer["first_due"]),
        kinds=tuple(offer.get("kinds", ())),
    )


def open_invoice(agreement: AgreementOut, invoice: InvoiceOut) -> bot.OpenInvoice:
    """The invoice as the chat gives it: what is left to pay, and after a partial payment the
    PIX code asking for that balance (the same code, txid kept, field 54 rewritten)."""
    shown = bot.OpenInvoice(
        creditor=agreement.creditor,
        number=invoice.number,
        installments=len(agreement.invoices),
        amount_cents=invoice.balance_cents,
        due_date=invoice.due_date,
        digitable_line=invoice.digitable_line,
        pix_code=invoice.pix_code,
        overdue=invoice.status == "overdue",
        paid_cents=invoice.paid_cents,
        issued_cents=invoice.amount_cents,
        kinds=tuple(i.kind for i in agreement.invoices),
    )
    if not shown.partly_paid:
        return shown
    return replace(shown, pix_code=pix_for_balance(invoice.pix_code, invoice.balance_cents))
