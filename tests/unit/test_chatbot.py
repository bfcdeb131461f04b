"""The chatbot and the operators' desk as the seeds tell them (Cedrus WhatsApp chatbot, the
Recuperador ChatBot): a debtor writes on WhatsApp, gives the CPF, gets the menu, negotiates
right in the chat and closes an agreement with its boleto and term; asks for an operator,
waits in the queue, is taken, transferred and closed with the tenant's closing message. The
chatbot negotiates with the real negotiation application (in process, instead of over Kafka)."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from pathlib import Path
from typing import Any, TypeVar

import pytest
from pydantic import BaseModel

from contracts.messaging import ConversationChangedV3
from contracts.messaging_requests import (
    ChatbotSettings,
    ChatInbound,
    CloseConversation,
    GetConversation,
    MessagingSettings,
    OperatorMessage,
    SaveSettings,
    SetAvailability,
    StartConversation,
    TransferConversation,
)
from contracts.money import format_brl
from contracts.negotiation_requests import (
    AgreementList,
    AgreementOut,
    CloseAgreement,
    GetAgreement,
    GetOffers,
    GetStatement,
    ListAgreements,
    OffersOut,
    StatementOut,
)
from contracts.portfolio import DebtorContact
from service_runtime.document_links import DocumentLinks, read_link
from service_runtime.personal_data import REMOVED, unseal
from service_runtime.refusal import Refused
from services.messaging.adapters.channels import read_outbox
from services.messaging.adapters.integration_events import integration_events
from services.messaging.application.conversations import Conversations, NegotiationRefused
from services.messaging.domain import chatbot as bot
from services.messaging.domain.conversations import Conversation
from services.messaging.domain.records import ERASED_REASON
from services.negotiation.adapters.agreement_documents import term_document
from services.negotiation.entrypoints.requests import answer
from tests.unit.test_messaging_app import AGENCY, JOAO, Messaging
from tests.unit.test_negotiation_app import MARIA, TODAY, Negotiation, debt_event

PHONE = "+5511987654321"
KEY = "chave-de-teste-dos-links-0123456789"
SP = dt.timezone(dt.timedelta(hours=-3))
NOW = dt.datetime.combine(TODAY, dt.time(10, 0), tzinfo=SP)

M = TypeVar("M", bound=BaseModel)


class InProcessNegotiation:
    """The negotiation port over the real application, answered as its request server
    answers (`answer`), in process."""

    def __init__(self, negotiation: Negotiation) -> None:
        self.app = negotiation.app

    def _ask(self, request: Any, model: type[M]) -> M:
        try:
            answered = answer(self.app, request, TODAY)
        except Refused as exc:
            raise NegotiationRefused(exc.reply().message) from exc
        assert isinstance(answered, model), answered
        return answered

    def statement(self, tenant: str, document: str) -> StatementOut:
        return self._ask(GetStatement(tenant=tenant, document=document), StatementOut)

    def agreements(self, tenant: str, document: str) -> AgreementList:
        return self._ask(ListAgreements(tenant=tenant, document=document), AgreementList)

    def offers(self, tenant: str, document: str, debt_ids: list[str]) -> OffersOut:
        request = GetOffers(tenant=tenant, document=document, debt_ids=debt_ids, channel="chatbot")
        return self._ask(request, OffersOut)

    def close(
        self, tenant: str, document: str, debt_ids: list[str], installments: int, key: str
    ) -> AgreementOut:
        request = CloseAgreement(
            tenant=tenant,
            document=document,
            debt_ids=debt_ids,
            installments=installments,
            channel="chatbot",
            idempotency_key=key,
        )
        return self._ask(request, AgreementOut)


class Chat:
    def __init__(self, tmp_path: Path) -> None:
        self.messaging = Messaging(tmp_path)
        self.negotiation = Negotiation(tmp_path)
        self.debt_ids = self.negotiation.imported(debt_event("c1"), debt_event("c2", amount=50_000))
        self.negotiation.condition(installments=1, principal_discount_pct=10)
        self.negotiation.condition(installments=3)
        self.conversations = Conversations(
            self.messaging.app,
            InProcessNegotiation(self.negotiation),
            DocumentLinks(key=KEY, base_url="http://127.0.0.1:8000"),
        )
        self.provider_ids = 0

    def whatsapp(self, text: str, phone: str = PHONE, at: dt.datetime = NOW) -> Any:
        self.provider_ids += 1
        return self.conversations.inbound(
            ChatInbound(
                tenant=AGENCY,
                channel="whatsapp",
                address=phone,
                text=text,
                provider_message_id=f"wamid.{self.provider_ids}",
            ),
            at,
        )

    def texts(self, reply: Any) -> str:
        return "\n".join(r.text for r in reply.replies)

    def settings(self, **chatbot: Any) -> None:
        self.messaging.app.save_settings(
            SaveSettings(
                tenant=AGENCY,
                settings=MessagingSettings(chatbot=ChatbotSettings(**chatbot)),
                saved_by="admin",
            )
        )

    def identified(self) -> str:
        self.whatsapp("Oi")
        return str(self.whatsapp(JOAO).conversation_id)

    def conversation(self, conversation_id: str) -> Any:
        return self.conversations.get(
            GetConversation(tenant=AGENCY, conversation_id=conversation_id)
        )


@pytest.fixture
def chat(tmp_path: Path) -> Chat:
    return Chat(tmp_path)


def transfer(chat: Chat, conversation_id: str, operator: str, to_operator: str) -> Any:
    """`operator` hands the conversation to `to_operator`, now."""
    return chat.conversations.transfer(
        TransferConversation(
            tenant=AGENCY,
            conversation_id=conversation_id,
            operator=operator,
            to_operator=to_operator,
        ),
        NOW,
    )


def test_from_welcome_to_a_closed_agreement_with_its_boleto_and_term(chat: Chat) -> None:
    hello = chat.whatsapp("Oi, boa tarde")
    assert "digite o seu CPF ou CNPJ" in chat.texts(hello)
    assert hello.status == "self_service"

    wrong = chat.whatsapp("123.456.789-00")
    assert "tentativa 1 de 3" in chat.texts(wrong)

    menu = chat.texts(chat.whatsapp("529.982.247-25"))
    assert "Olá, João! Encontramos 2 débitos em aberto" in menu
    assert "1 - Linha digitável e PIX do boleto em aberto" in menu
    assert "4 - Negociar minha dívida" in menu

    assert "não tem boleto em aberto" in chat.texts(chat.whatsapp("1"))

    offers = chat.texts(chat.whatsapp("4"))
    assert "Débitos com Banco Horizonte" in offers
    assert "1 - À vista" in offers and "(desconto de" in offers
    assert "2 - " in offers and "total R$" in offers

    confirm = chat.texts(chat.whatsapp("2"))
    assert confirm.startswith("Confirma o acordo")

    closed = chat.whatsapp("sim")
    text = chat.texts(closed)
    assert "Acordo fechado!" in text and "em 3 parcelas" in text
    assert "Linha digitável:" in text and "PIX copia e cola:" in text
    kinds = [link.kind for r in closed.replies for link in r.links]
    assert kinds == ["boleto", "term"]

    # The agreement is the negotiation service's, closed by the chatbot channel.
    agreements = chat.negotiation.app.list_agreements(
        ListAgreements(tenant=AGENCY, document=JOAO), TODAY
    ).agreements
    assert [(a.channel, len(a.invoices)) for a in agreements] == [("chatbot", 3)]

    # The term link opens exactly that agreement's term, a PDF.
    term_link = next(link for r in closed.replies for link in r.links if link.kind == "term")
    ref = read_link(KEY, term_link.url.rsplit("/d/", 1)[1])
    assert (ref.tenant, ref.document, ref.agreement_id) == (
        AGENCY,
        JOAO,
        agreements[0].agreement_id,
    )
    agreement = chat.negotiation.app.agreement(
        GetAgreement(tenant=AGENCY, agreement_id=str(ref.agreement_id), document=JOAO)
    )
    assert term_document(agreement, "Recupera Sul").startswith(b"%PDF")

    # Now option 1 gives the first installment's digitable line, and 5 the term.
    line = chat.texts(chat.whatsapp("1"))
    assert "Parcela 1 de 3" in line and "Linha digitável" in line
    term = chat.whatsapp("5")
    assert [link.kind for r in term.replies for link in r.links] == ["term"]

    # Every reply went to the debtor's WhatsApp, right away (they answer the debtor).
    assert chat.messaging.app.dispatch_due(NOW) >= 10
    sent = read_outbox(chat.messaging.app.outbox_dir / AGENCY / "whatsapp.jsonl")
    assert {m["to"] for m in sent} == {PHONE}
    assert any("Acordo fechado!" in m["body"] for m in sent)


def test_three_invalid_documents_end_with_guidance(chat: Chat) -> None:
    chat.whatsapp("Olá")
    assert "tentativa 1 de 3" in chat.texts(chat.whatsapp("123.456.789-00"))
    chat.whatsapp("quero negociar")  # no document: no attempt
    assert "tentativa 2 de 3" in chat.texts(chat.whatsapp("11111111111"))
    last = chat.whatsapp("meu cpf é 529.982.247-00")
    assert "Não consegui validar o documento informado" in chat.texts(last)
    assert "/p/recupera-sul" in chat.texts(last)
    assert last.status == "closed"
    # Writing again starts a new conversation, from the welcome.
    again = chat.whatsapp("Oi de novo")
    assert again.conversation_id != last.conversation_id
    assert "digite o seu CPF" in chat.texts(again)


def test_a_document_with_nothing_open_gets_operator_or_restart(chat: Chat) -> None:
    chat.whatsapp("Oi")
    found = chat.texts(chat.whatsapp("11144477735"))
    assert "Não encontramos débitos em aberto para o documento ***.444.777-**" in found
    assert "1 - Falar com um atendente\n2 - Recomeçar" in found
    assert "Vamos recomeçar" in chat.texts(chat.whatsapp("2"))


def test_options_are_switched_per_tenant(chat: Chat) -> None:
    chat.settings(options=["statement_pdf", "negotiate", "operator"], negotiate_in_chat=False)
    conversation_id = chat.identified()
    menu = chat.conversation(conversation_id).entries[-1].text
    assert menu.endswith(
        "1 - Demonstrativo de débito (PDF)\n2 - Negociar minha dívida\n3 - Falar com um atendente"
    )
    statement = chat.whatsapp("1")
    link = statement.replies[0].links[0]
    assert link.kind == "statement"
    assert read_link(KEY, link.url.rsplit("/d/", 1)[1]).document == JOAO
    assert "acesse o portal de negociação: http://127.0.0.1:8000/p/recupera-sul" in chat.texts(
        chat.whatsapp("2")
    )
    assert "Opção inválida" in chat.texts(chat.whatsapp("7"))


def test_the_portal_link_has_the_same_base_as_the_document_links(tmp_path: Path) -> None:
    chat = Chat(tmp_path)
    # The platform on another port: the signed links say so, and so does the portal's.
    chat.conversations.links = DocumentLinks(key=KEY, base_url="http://127.0.0.1:8171/")
    chat.settings(negotiate_in_chat=False)
    chat.identified()

    text = chat.texts(chat.whatsapp("4"))

    assert "acesse o portal de negociação: http://127.0.0.1:8171/p/recupera-sul" in text
    assert "127.0.0.1:8000" not in text


def test_a_retried_webhook_is_answered_once(chat: Chat) -> None:
    request = ChatInbound(
        tenant=AGENCY, channel="whatsapp", address=PHONE, text="Oi", provider_message_id="w-1"
    )
    first = chat.conversations.inbound(request, NOW)
    again = chat.conversations.inbound(request, NOW)
    assert first.replies and again.duplicate and not again.replies
    assert len(chat.conversation(str(first.conversation_id)).entries) == 2


def test_the_web_chat_runs_the_same_bot_and_refuses_unknown_conversations(chat: Chat) -> None:
    first = chat.conversations.inbound(ChatInbound(tenant=AGENCY, channel="web", text="oi"), NOW)
    assert first.conversation_id and "CPF" in chat.texts(first)
    menu = chat.conversations.inbound(
        ChatInbound(tenant=AGENCY, channel="web", conversation_id=first.conversation_id, text=JOAO),
        NOW,
    )
    assert "Escolha uma opção" in chat.texts(menu)
    with pytest.raises(Refused) as refused:
        chat.conversations.inbound(
            ChatInbound(tenant=AGENCY, channel="web", conversation_id=str(uuid.uuid4()), text="oi"),
            NOW,
        )
    assert refused.value.status == 404
    assert refused.value.reply().details[0].field == "conversation_id"
    # Nothing is sent anywhere for the web chat: the answer carries the replies.
    assert chat.messaging.app.dispatch_due(NOW) == 0


def test_sair_stops_whatsapp_messages_to_that_debtor(chat: Chat) -> None:
    reply = chat.whatsapp("SAIR")
    assert "não vai mais receber mensagens" in chat.texts(reply)
    assert reply.status == "closed"
    assert [e.document for e in chat.messaging.published("OptOutRecorded")] == [JOAO]


def test_hand_off_queue_availability_transfer_and_close(chat: Chat) -> None:
    conversation_id = chat.identified()
    waiting = chat.whatsapp("6")
    assert waiting.status == "waiting_operator"
    assert "fila de atendimento" in chat.texts(waiting)
    # The debtor writes while waiting: kept, and the bot stays quiet.
    assert chat.whatsapp("alguém aí?").replies == []

    desk = chat.conversations.set_availability(
        SetAvailability(tenant=AGENCY, operator="ana@recupera", available=True), NOW
    )
    assert desk.conversations == [conversation_id]
    taken = chat.conversation(conversation_id)
    assert (taken.status, taken.operator) == ("with_operator", "ana@recupera")
    # Ana gave no name to the desk: the debtor reads "um atendente", never her login.
    assert (
        taken.entries[-1].text
        == "Você está falando com um atendente da Assessoria de Cobrança. Já vamos responder."
    )

    chat.conversations.operator_message(
        OperatorMessage(
            tenant=AGENCY,
            conversation_id=conversation_id,
            operator="ana@recupera",
            text="Olá João, como posso ajudar?",
        ),
        NOW,
    )
    # Bruno comes to the desk (busy for now): the desk knows him, he can be handed chats.
    chat.conversations.set_availability(
        SetAvailability(tenant=AGENCY, operator="bruno@recupera", available=False), NOW
    )
    moved = transfer(chat, conversation_id, "ana@recupera", "bruno@recupera")
    assert (moved.status, moved.operator) == ("with_operator", "bruno@recupera")
    with pytest.raises(Refused) as not_hers:
        chat.conversations.operator_message(
            OperatorMessage(
                tenant=AGENCY, conversation_id=conversation_id, operator="ana@recupera", text="?"
            ),
            NOW,
        )
    assert not_hers.value.status == 409

    chat.settings(closing_message="Obrigado, João. Conversa encerrada.")
    closed = chat.conversations.close(
        CloseConversation(
            tenant=AGENCY, conversation_id=conversation_id, operator="bruno@recupera"
        ),
        NOW,
    )
    assert closed.status == "closed"
    assert closed.entries[-1].text == "Obrigado, João. Conversa encerrada."
    assert [e.sender for e in closed.entries].count("operator") == 2

    chat.messaging.app.dispatch_due(NOW)
    bodies = [
        m["body"] for m in read_outbox(chat.messaging.app.outbox_dir / AGENCY / "whatsapp.jsonl")
    ]
    assert "Olá João, como posso ajudar?" in bodies
    assert "Obrigado, João. Conversa encerrada." in bodies

    changes = [
        (e.change, e.status, e.operator)
        for e in chat.messaging.published("ConversationChanged")
        if e.conversation_id == conversation_id
    ]
    assert changes == [
        ("started", "self_service", None),
        ("identified", "self_service", None),
        ("waiting_operator", "waiting_operator", None),
        ("assigned", "with_operator", "ana@recupera"),
        ("transferred", "with_operator", "bruno@recupera"),
        ("closed", "closed", "bruno@recupera"),
    ]


def test_the_debtor_reads_the_name_the_operator_chose_never_the_login(chat: Chat) -> None:
    chat.messaging.app.save_settings(
        SaveSettings(
            tenant=AGENCY,
            settings=MessagingSettings(agency_name="Recupera Sul"),
            saved_by="admin",
        )
    )
    conversation_id = chat.identified()
    chat.whatsapp("6")

    desk = chat.conversations.set_availability(
        SetAvailability(
            tenant=AGENCY, operator="ana@recupera", available=True, display_name="  Ana  "
        ),
        NOW,
    )
    assert (desk.display_name, desk.conversations) == ("Ana", [conversation_id])
    taken = chat.conversation(conversation_id)
    assert taken.operator == "ana@recupera"  # staff still see who has it
    assert (
        taken.entries[-1].text == "Você está falando com Ana, da Recupera Sul. Já vamos responder."
    )

    # Bruno named himself once; coming back busy later keeps the name.
    chat.conversations.set_availability(
        SetAvailability(
            tenant=AGENCY, operator="bruno@recupera", available=True, display_name="Bruno Lima"
        ),
        NOW,
    )
    again = chat.conversations.set_availability(
        SetAvailability(tenant=AGENCY, operator="bruno@recupera", available=False), NOW
    )
    assert (again.display_name, again.available) == ("Bruno Lima", False)
    transfer(chat, conversation_id, "ana@recupera", "bruno@recupera")
    moved = chat.conversation(conversation_id)
    assert moved.entries[-1].text == "Sua conversa foi transferida para Bruno Lima."

    chat.messaging.app.dispatch_due(NOW)
    bodies = [
        m["body"] for m in read_outbox(chat.messaging.app.outbox_dir / AGENCY / "whatsapp.jsonl")
    ]
    assert "Você está falando com Ana, da Recupera Sul. Já vamos responder." in bodies
    assert "Sua conversa foi transferida para Bruno Lima." in bodies
    assert not [b for b in bodies if "@recupera" in b or "Ele " in b]


def test_waiting_conversations_taken_later_and_transfers_to_the_unnamed_say_um_atendente(
    chat: Chat,
) -> None:
    conversation_id = chat.identified()
    chat.whatsapp("6")
    chat.conversations.set_availability(
        SetAvailability(tenant=AGENCY, operator="bruno@recupera", available=False), NOW
    )
    # Ana comes to the desk with her name: the waiting conversation is hers, named.
    chat.conversations.set_availability(
        SetAvailability(tenant=AGENCY, operator="ana@recupera", available=True, display_name="Ana"),
        NOW,
    )
    assert (
        chat.conversation(conversation_id)
        .entries[-1]
        .text.startswith("Você está falando com Ana, da ")
    )
    transfer(chat, conversation_id, "ana@recupera", "bruno@recupera")
    moved = chat.conversation(conversation_id)
    assert moved.entries[-1].text == "Sua conversa foi transferida para um atendente."


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("ana@recupera", "email"),
        ("Ana (ana@recupera.com.br)", "email"),
        ("   ", "blank"),
        ("", "blank"),
        ("A" * 41, "max_length"),
        ("4521", "digits_only"),
        ("(11) 98765-4321", "digits_only"),
    ],
)
def test_a_name_the_debtor_could_not_read_as_a_name_is_refused_and_nothing_changes(
    chat: Chat, name: str, rule: str
) -> None:
    conversation_id = chat.identified()
    chat.whatsapp("6")

    with pytest.raises(Refused) as refused:
        chat.conversations.set_availability(
            SetAvailability(
                tenant=AGENCY, operator="ana@recupera", available=True, display_name=name
            ),
            NOW,
        )

    error = refused.value.reply()
    assert (error.status, error.code) == (422, "validation_failed")
    [detail] = error.details
    assert (detail.field, detail.rule) == ("display_name", rule)
    # Not made available either: the conversation still waits.
    assert chat.conversation(conversation_id).status == "waiting_operator"


def test_a_transfer_to_nobody_the_desk_knows_is_refused_and_the_conversation_stays(
    chat: Chat,
) -> None:
    conversation_id = chat.identified()
    chat.whatsapp("6")
    chat.conversations.set_availability(
        SetAvailability(tenant=AGENCY, operator="ana@recupera", available=True), NOW
    )

    with pytest.raises(Refused) as refused:
        transfer(chat, conversation_id, "ana@recupera", "ninguem@recupera")

    error = refused.value.reply()
    assert (error.status, error.code) == (422, "validation_failed")
    [detail] = error.details
    assert (detail.field, detail.rule) == ("to_operator", "unknown_operator")
    assert "ninguem@recupera não existe nesta assessoria" in detail.message
    # Still Ana's: she goes on answering, no admin needed.
    taken = chat.conversation(conversation_id)
    assert (taken.status, taken.operator) == ("with_operator", "ana@recupera")
    chat.conversations.operator_message(
        OperatorMessage(
            tenant=AGENCY, conversation_id=conversation_id, operator="ana@recupera", text="Oi"
        ),
        NOW,
    )
    # A supervisor may take it (the one asking holds the tenant's token), known or not.
    taken_over = chat.conversations.transfer(
        TransferConversation(
            tenant=AGENCY,
            conversation_id=conversation_id,
            operator="admin@recupera",
            to_operator="admin@recupera",
            supervisor=True,
        ),
        NOW,
    )
    assert taken_over.operator == "admin@recupera"


def test_an_available_operator_takes_the_next_waiting_conversation_when_one_closes(
    chat: Chat,
) -> None:
    chat.settings(max_per_operator=1)
    chat.conversations.set_availability(
        SetAvailability(tenant=AGENCY, operator="ana@recupera", available=True), NOW
    )
    first = chat.identified()
    assert chat.whatsapp("6").status == "with_operator"
    other = "+5521988887777"
    chat.whatsapp("Oi", phone=other)
    chat.whatsapp("11144477735", phone=other)
    second = chat.whatsapp("1", phone=other)  # nothing found: 1 = operator
    assert second.status == "waiting_operator"
    chat.conversations.close(
        CloseConversation(tenant=AGENCY, conversation_id=first, operator="ana@recupera"), NOW
    )
    taken = chat.conversation(str(second.conversation_id))
    assert (taken.status, taken.operator) == ("with_operator", "ana@recupera")


def test_a_conversation_we_start_waits_for_the_debtors_answer(chat: Chat) -> None:
    started = chat.conversations.start(
        StartConversation(
            tenant=AGENCY,
            operator="ana@recupera",
            document=JOAO,
            text="Olá João, aqui é a Ana da Recupera Sul.",
        ),
        NOW,
    )
    assert (started.status, started.address) == ("initiated_unanswered", PHONE)
    with pytest.raises(Refused) as twice:
        chat.conversations.start(
            StartConversation(tenant=AGENCY, operator="ana@recupera", document=JOAO, text="Oi"),
            NOW,
        )
    assert twice.value.status == 409
    answered = chat.whatsapp("Oi Ana")
    assert answered.conversation_id == started.conversation_id
    assert (answered.status, answered.replies) == ("with_operator", [])


# ---- personal data: sealed once the debtor is known, and erased (LGPD) ----------------------


def test_what_an_identified_debtor_says_and_is_told_is_kept_sealed(chat: Chat) -> None:
    conversation_id = chat.identified()
    chat.whatsapp("Meu nome é João da Silva, moro na Rua das Flores")
    shown = chat.conversation(conversation_id)
    assert (shown.address, shown.debtor_name) == (PHONE, "João da Silva")
    assert shown.entries[-2].text == "Meu nome é João da Silva, moro na Rua das Flores"
    assert any("Olá, João!" in e.text for e in shown.entries)

    # Stored: neither the name nor what was said after the debtor identified in clear; the
    # phone only where the debtor was not known yet (the line, the conversation's start, the
    # replies before identification).
    before_identification = (
        "ChatLine.Opened",
        "ChatLine.ConversationStarted",
        "Conversation.Started",
    )
    for topic, state in chat.messaging.stored():
        assert "João" not in state and "Flores" not in state, topic
        if PHONE in state:
            assert topic.endswith(before_identification) or '"document":""' in state, topic

    published = [
        e
        for e in chat.messaging.published("ConversationChanged")
        if e.conversation_id == conversation_id
    ]
    started, identified = published
    assert (started.schema_version, started.unidentified_address, started.personal) == (
        3,
        PHONE,
        None,
    )
    # No second factor asked: whoever writes is nobody yet, then the debtor of the document.
    assert (started.verified, identified.verified) == (None, True)
    assert identified.unidentified_address is None and identified.personal is not None
    assert unseal(identified.personal, chat.messaging.vault) == {
        "address": PHONE,
        "debtor_name": "João da Silva",
    }
    assert "João" not in identified.model_dump_json()
    # The replies' MessageQueued: only those to the identified debtor, sealed.
    queued = chat.messaging.published("MessageQueued")
    assert queued and {q.document for q in queued} == {JOAO}
    assert all(PHONE not in q.model_dump_json() for q in queued)


def test_after_the_erasure_the_operator_sees_it_removed_and_nothing_more_goes(
    chat: Chat,
) -> None:
    conversation_id = chat.identified()
    chat.conversations.set_availability(
        SetAvailability(tenant=AGENCY, operator="ana@recupera", available=True), NOW
    )
    assert chat.whatsapp("6").status == "with_operator"
    assert chat.messaging.app.dispatch_due(NOW) > 0  # what was said so far went out
    chat.conversations.operator_message(
        OperatorMessage(
            tenant=AGENCY,
            conversation_id=conversation_id,
            operator="ana@recupera",
            text="Olá João, seu acordo está pronto.",
        ),
        NOW,
    )

    chat.messaging.erase(JOAO, NOW)

    # The operator sees nothing of the debtor any more.
    shown = chat.conversation(conversation_id)
    assert (shown.address, shown.debtor_name) == (REMOVED, REMOVED)
    assert {e.text for e in shown.entries} == {REMOVED}
    # The operator's reply written before the erasure is not sent: failed, with the reason.
    assert chat.messaging.app.dispatch_due(NOW) == 0
    [failed] = chat.messaging.published("MessageFailed")
    assert (failed.document, failed.rule, failed.reason) == (JOAO, "no_contact", ERASED_REASON)
    # Nor can the operator write again, nor start a conversation with the debtor.
    with pytest.raises(Refused) as refused:
        chat.conversations.operator_message(
            OperatorMessage(
                tenant=AGENCY,
                conversation_id=conversation_id,
                operator="ana@recupera",
                text="Ainda aí?",
            ),
            NOW,
        )
    assert (refused.value.status, refused.value.code) == (409, "personal_data_erased")
    with pytest.raises(Refused) as not_started:
        chat.conversations.start(
            StartConversation(tenant=AGENCY, operator="ana@recupera", document=JOAO, text="Oi"),
            NOW,
        )
    assert not_started.value.code == "personal_data_erased"

    # The debtor writing again is a new conversation, from the welcome; the erased one ended.
    again = chat.whatsapp("Oi")
    assert again.conversation_id != conversation_id
    assert "digite o seu CPF ou CNPJ" in chat.texts(again)
    ended = chat.conversation(conversation_id)
    assert (ended.status, ended.debtor_name) == ("closed", REMOVED)
    desk = chat.conversations.set_availability(
        SetAvailability(tenant=AGENCY, operator="ana@recupera", available=True), NOW
    )
    assert conversation_id not in desk.conversations


def test_a_conversation_we_start_carries_the_debtor_sealed(chat: Chat) -> None:
    started = chat.conversations.start(
        StartConversation(
            tenant=AGENCY, operator="ana@recupera", document=JOAO, text="Olá, João da Silva."
        ),
        NOW,
    )
    assert (started.address, started.debtor_name) == (PHONE, "João da Silva")
    for topic, state in chat.messaging.stored():
        assert "João" not in state, topic
        assert PHONE not in state or topic.endswith("ChatLine.Opened"), topic
    [changed] = chat.messaging.published("ConversationChanged")
    assert changed.unidentified_address is None
    assert changed.verified is True  # we write to the phone on file
    assert unseal(changed.personal, chat.messaging.vault) == {
        "address": PHONE,
        "debtor_name": "João da Silva",
    }


def test_a_conversation_change_stored_before_sealing_goes_out_without_name_or_phone() -> None:
    facts = {
        "tenant": AGENCY,
        "channel": "whatsapp",
        "address": PHONE,
        "document": JOAO,
        "debtor_name": "João da Silva",
        "status": "self_service",
        "operator": None,
        "initiated_by": "debtor",
        "started_at": NOW,
        "messages": 3,
    }

    def stored_as(cls: type[Any], **state: Any) -> Any:
        event = object.__new__(cls)  # as the mapper rebuilds a stored event: its state only
        event.__dict__.update(state)
        return event

    identified = stored_as(
        Conversation.Identified,  # type: ignore[attr-defined]
        originator_id=uuid.uuid4(),
        originator_version=3,
        timestamp=NOW,
        facts=facts,
        document=JOAO,
        debtor_name="João da Silva",
        at=NOW,
    )
    [(_, known)] = integration_events(identified)
    assert isinstance(known, ConversationChangedV3)
    assert (known.schema_version, known.personal, known.unidentified_address) == (3, None, None)
    assert known.verified is None  # stored before the conversation kept it: not known
    assert "João" not in known.model_dump_json() and PHONE not in known.model_dump_json()
    waiting = stored_as(
        Conversation.WaitingForOperator,  # type: ignore[attr-defined]
        originator_id=uuid.uuid4(),
        originator_version=2,
        timestamp=NOW,
        facts={**facts, "document": None, "debtor_name": None},
        at=NOW,
    )
    [(_, unknown)] = integration_events(waiting)
    assert isinstance(unknown, ConversationChangedV3)
    assert unknown.unidentified_address == PHONE  # the debtor not known: the phone in clear
    # A second factor asked before its changes were published carries no facts: not published.
    asked = stored_as(
        Conversation.SecondFactorAsked,  # type: ignore[attr-defined]
        originator_id=uuid.uuid4(),
        originator_version=4,
        timestamp=NOW,
        method="code",
        at=NOW,
    )
    assert list(integration_events(asked)) == []


# ---- the supervisor's list: did whoever writes prove to be the debtor? ------------------------


def conversation_changes(chat: Chat, conversation_id: Any) -> list[tuple[str, str | None, Any]]:
    """(change, document, verified) of each ConversationChanged published for the conversation."""
    return [
        (e.change, e.document, e.verified)
        for e in chat.messaging.published("ConversationChanged")
        if e.conversation_id == str(conversation_id)
    ]


def test_the_list_sees_the_debtor_unverified_until_the_date_of_birth_passes(
    tmp_path: Path,
) -> None:
    # The second factor's harness builds on this module's Chat: imported once both are loaded.
    from tests.unit.test_chatbot_second_factor import JOAO_BORN, SecondFactorChat

    chat = SecondFactorChat(tmp_path)
    chat.born(JOAO_BORN)
    chat.ask("birth_date")
    chat.whatsapp("Oi")
    asked = chat.whatsapp(JOAO)
    assert conversation_changes(chat, asked.conversation_id) == [
        ("started", None, None),
        # Asked for the date: not verified, and nothing of the debtor told (the document
        # typed waits in the conversation).
        ("second_factor_asked", None, False),
    ]
    chat.whatsapp("01/01/1990")  # a wrong date changes nothing the list shows
    assert len(conversation_changes(chat, asked.conversation_id)) == 2

    assert "Olá, João!" in chat.texts(chat.whatsapp("17/05/1980"))
    assert conversation_changes(chat, asked.conversation_id)[2:] == [
        ("verified", None, True),
        ("identified", JOAO, True),
    ]


def test_an_operator_takes_a_debtor_the_code_could_not_reach_as_not_verified(
    tmp_path: Path,
) -> None:
    from tests.unit.test_chatbot_second_factor import SecondFactorChat

    chat = SecondFactorChat(tmp_path)
    chat.born(None, phone=None, email=None)  # no contact on file for the code
    chat.ask("code")
    chat.conversations.set_availability(
        SetAvailability(tenant=AGENCY, operator="ana@recupera", available=True), NOW
    )
    chat.whatsapp("Oi")
    chat.whatsapp(JOAO)
    taken = chat.whatsapp("1")  # Falar com um atendente
    assert taken.status == "with_operator"
    assert conversation_changes(chat, taken.conversation_id) == [
        ("started", None, None),
        ("second_factor_asked", None, False),
        ("waiting_operator", None, False),
        ("assigned", None, False),
    ]


# ---- what QA found chatting as a debtor -----------------------------------------------------

UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def said(reply: Any) -> list[str]:
    return [r.text for r in reply.replies]


def test_greetings_and_questions_are_asked_again_without_spending_attempts(chat: Chat) -> None:
    assert "digite o seu CPF ou CNPJ" in chat.texts(chat.whatsapp("oi"))
    for text in ("oi", "👍", "quero negociar minha dívida", "?", "bom dia, tudo bem?"):
        again = chat.whatsapp(text)
        assert said(again) == [
            "Para começar, me diga seu CPF ou CNPJ. Pode ser com ou sem pontos e traço, como "
            "está no seu contrato ou boleto."
        ]
        assert again.status == "self_service"

    # A CPF in a sentence is found, however punctuated.
    found = chat.texts(chat.whatsapp("meu cpf é 529.982.247-25, obrigado"))
    assert "Olá, João! Encontramos 2 débitos em aberto" in found


def test_the_first_message_may_carry_the_document_in_a_sentence(chat: Chat) -> None:
    first = said(chat.whatsapp("Oi, boa tarde! Meu CPF é 529 982 247 25"))
    assert first[0].startswith("Olá! Você está no atendimento virtual")
    assert first[1].startswith("Olá, João! Encontramos 2 débitos em aberto")


def test_a_mistyped_cpf_still_counts_and_a_short_one_is_told_not_counted(chat: Chat) -> None:
    chat.whatsapp("oi")
    short = chat.texts(chat.whatsapp("529.982.247-2"))
    assert (
        short
        == "Esse número tem 10 dígitos, mas o CPF tem 11 e o CNPJ, 14. Confira e digite de novo."
    )
    wrong = chat.texts(chat.whatsapp("CPF 529.982.247-26"))
    assert wrong == (
        "Não consegui validar esse documento: CPF com dígito verificador inválido. Confira e "
        "digite de novo (tentativa 1 de 3)."
    )


def test_a_company_is_found_by_its_alphanumeric_cnpj_and_greeted_without_a_first_word(
    chat: Chat,
) -> None:
    cnpj = "12ABC34501DE35"
    company = debt_event("pao", document=cnpj).model_copy(
        update={
            "document_kind": "cnpj",
            "debtor": DebtorContact(name="Serviços de Limpeza Pão Dourado ME"),
        }
    )
    chat.negotiation.imported(company)
    chat.whatsapp("Bom dia")
    greeted = chat.texts(chat.whatsapp("o cnpj da empresa é 12.abc.345/01de-35"))
    assert greeted.startswith("Olá! Encontramos 1 débito em aberto, no total atualizado de R$")
    assert "Serviços" not in greeted


def test_a_person_named_in_capitals_is_greeted_by_the_given_name(chat: Chat) -> None:
    ana = debt_event("ana", document=MARIA).model_copy(
        update={"debtor": DebtorContact(name="ANA-CLARA DE SOUZA")}
    )
    chat.negotiation.imported(ana)
    chat.whatsapp("oi")
    assert chat.texts(chat.whatsapp("111.444.777-35")).startswith("Olá, Ana-Clara! Encontramos")


def test_the_welcome_and_the_restart_do_not_ask_for_numbers_only(chat: Chat) -> None:
    assert "só os números" not in chat.texts(chat.whatsapp("oi"))
    chat.whatsapp(JOAO)
    restart = chat.texts(chat.whatsapp("7"))
    assert restart == "Vamos recomeçar. Digite o seu CPF ou CNPJ."


def test_the_greeting_tells_open_debts_apart_from_agreements_in_progress(chat: Chat) -> None:
    [other] = chat.negotiation.imported(debt_event("sol", creditor="Financeira Sol"))
    agreement = chat.negotiation.close(chat.debt_ids, 3)
    statement = chat.negotiation.app.statement(GetStatement(tenant=AGENCY, document=JOAO), TODAY)
    [free] = [d for d in statement.debts if d.debt_id == other]

    chat.whatsapp("Oi")
    greeted = chat.texts(chat.whatsapp(JOAO))

    assert (
        f"Olá, João! Encontramos 1 débito em aberto sem acordo, no total atualizado de "
        f"{format_brl(free.updated_value_cents)}, e 1 acordo em andamento, com "
        f"{format_brl(agreement.total_cents)} a pagar."
    ) in greeted
    # Negociar offers the very debt the greeting counted.
    offers = chat.texts(chat.whatsapp("4"))
    assert offers.startswith(
        f"Débitos com Financeira Sol: valor atualizado de {format_brl(free.updated_value_cents)}."
    )


def closed_with(chat: Chat, creditors: list[str]) -> list[AgreementOut]:
    """An agreement in 3 installments with each creditor, closed today on the portal: their
    first invoices are all due the same day."""
    closed = []
    for n, creditor in enumerate(creditors):
        [debt_id] = chat.negotiation.imported(debt_event(f"d{n}", creditor=creditor))
        closed.append(chat.negotiation.close([debt_id], 3, key=f"portal-{n}"))
    return closed


def test_every_invoice_due_is_given_with_its_creditor_line_and_pix(chat: Chat) -> None:
    agreements = closed_with(chat, ["Banco Horizonte", "Financeira Sol", "Loja Lua"])
    chat.identified()

    reply = said(chat.whatsapp("1"))

    assert reply[0] == "Você tem 3 parcelas para pagar agora:"
    assert len(reply) == 4
    for agreement, text in zip(
        sorted(agreements, key=lambda a: a.creditor), reply[1:], strict=True
    ):
        first = agreement.invoices[0]
        assert text.startswith(
            f"Parcela 1 de 3 do acordo com {agreement.creditor}: "
            f"{format_brl(first.balance_cents)}, vencimento {first.due_date:%d/%m/%Y}."
        )
        assert first.digitable_line in text and first.pix_code in text
    # The PDFs too: one boleto per agreement, each named by its creditor.
    pdfs = chat.whatsapp("2")
    labels = [link.label for r in pdfs.replies for link in r.links]
    assert labels == [
        "Boleto da parcela 1 de 3, Banco Horizonte (PDF)",
        "Boleto da parcela 1 de 3, Financeira Sol (PDF)",
        "Boleto da parcela 1 de 3, Loja Lua (PDF)",
    ]


def test_no_more_than_five_invoices_are_given_and_the_rest_are_counted(chat: Chat) -> None:
    closed_with(chat, [f"Credor {n}" for n in range(1, 8)])
    chat.identified()

    reply = chat.whatsapp("1")

    texts = said(reply)
    assert texts[0] == (
        "Você tem 7 parcelas para pagar agora. Seguem as 5 que vencem primeiro (as outras 2 "
        "estão no portal de negociação):"
    )
    assert [link.kind for link in reply.replies[0].links] == ["portal"]
    assert len(texts) == 6 and all("Linha digitável" in t for t in texts[1:])


def test_a_debt_an_agreement_took_meanwhile_is_said_in_words_not_ids(chat: Chat) -> None:
    chat.identified()
    chat.whatsapp("4")  # the offers
    chat.whatsapp("1")  # à vista
    # Meanwhile the debtor closes an agreement on the portal.
    chat.negotiation.close(chat.debt_ids, 1, key="portal-1")

    refused = chat.texts(chat.whatsapp("sim"))

    assert refused == (
        "Não foi possível fechar o acordo: os débitos com Banco Horizonte (contratos CT-c1 e "
        f"CT-c2) já estão em um acordo fechado em {TODAY:%d/%m/%Y}. Digite MENU para ver as "
        "opções."
    )
    assert not UUID_TEXT.search(refused)


def test_offers_refused_for_a_debt_an_agreement_took_say_so_in_words(chat: Chat) -> None:
    [sol] = chat.negotiation.imported(debt_event("sol", creditor="Financeira Sol"))
    chat.identified()
    assert "Qual débito você quer negociar?" in chat.texts(chat.whatsapp("4"))
    chat.negotiation.close([sol], 1, key="portal-sol")

    refused = chat.texts(chat.whatsapp("2"))  # Financeira Sol

    assert refused == (
        "Não foi possível montar as ofertas: os débitos com Financeira Sol (contrato CT-sol) já "
        f"estão em um acordo fechado em {TODAY:%d/%m/%Y}."
    )


class KeyReused(InProcessNegotiation):
    """The negotiation service refusing the chat's idempotency key."""

    def close(
        self, tenant: str, document: str, debt_ids: list[str], installments: int, key: str
    ) -> AgreementOut:
        raise NegotiationRefused(
            "esta chave de idempotência já fechou outro acordo; use uma chave nova"
        )


def test_a_refused_idempotency_key_never_reaches_the_debtor(chat: Chat) -> None:
    chat.conversations.negotiation = KeyReused(chat.negotiation)
    chat.identified()
    chat.whatsapp("4")
    chat.whatsapp("1")

    refused = chat.texts(chat.whatsapp("sim"))

    assert "idempotência" not in refused and "chave" not in refused
    assert refused == (
        "Não foi possível fechar o acordo: os débitos ou as condições mudaram desde que as "
        "opções foram mostradas. Digite MENU para ver as opções."
    )


def test_an_uneven_first_installment_is_no_entrada_and_an_entrada_is_named(
    tmp_path: Path,
) -> None:
    chat = Chat(tmp_path)
    [odd] = chat.negotiation.imported(debt_event("odd", document=MARIA, amount=100_000))
    chat.negotiation.condition(installments=4, min_down_payment_pct=30)
    offers = chat.negotiation.app.offers(
        GetOffers(tenant=AGENCY, document=MARIA, debt_ids=[odd], channel="chatbot"), TODAY
    )
    [three] = [o for o in offers.offers if o.installments == 3]
    amounts = [s.amount_cents for s in three.schedule]
    assert amounts[0] > amounts[1] == amounts[2]  # the split's centavos on the first
    chat.whatsapp("oi")
    chat.whatsapp(MARIA)

    menu_text = chat.texts(chat.whatsapp("4"))

    assert (
        f"2 - 3 parcelas: a 1ª de {format_brl(amounts[0])} e as outras 2 de "
        f"{format_brl(amounts[1])}, total {format_brl(three.total_cents)}"
    ) in menu_text
    assert "3 - entrada de" in menu_text
    assert menu_text.count("entrada") == 1


def test_a_partly_paid_invoice_is_given_with_the_pix_of_its_balance(chat: Chat) -> None:
    """QA: R$ 10,00 paid of an installment, option 1 said the balance but gave the whole
    amount's line and a PIX asking for the whole amount; option 2 gave the whole amount's
    boleto (then with a warning). As on the portal: the PIX asks for the balance (txid kept),
    neither the line nor the boleto is given, what was paid and what is left are said. The
    other invoices stay as they were."""
    from contracts.brcode import crc16, parse_emv, pix_for_balance
    from contracts.negotiation_requests import PaymentReport

    paid, unpaid = closed_with(chat, ["Banco Horizonte", "Financeira Sol"])
    first = paid.invoices[0]
    chat.negotiation.app.record_payment(
        AGENCY,
        PaymentReport(invoice_id=first.invoice_id, amount_cents=1_000, paid_on=TODAY),
        "api",
        today=TODAY,
    )
    balance = first.amount_cents - 1_000
    chat.identified()

    _, partial, whole = said(chat.whatsapp("1"))

    assert partial.startswith(
        f"Parcela 1 de 3 do acordo com Banco Horizonte: {format_brl(balance)}, "
        f"vencimento {first.due_date:%d/%m/%Y}.\n"
        f"Você já pagou R$ 10,00 desta parcela. O boleto foi emitido com o valor integral "
        f"({format_brl(first.amount_cents)}) e não serve para pagar só o saldo: pague os "
        f"{format_brl(balance)} que faltam com o PIX."
    )
    assert "Linha digitável" not in partial and first.digitable_line not in partial
    code = partial.rsplit("PIX copia e cola:\n", 1)[1]
    assert code == pix_for_balance(first.pix_code, balance) != first.pix_code
    fields, issued = parse_emv(code), parse_emv(first.pix_code)
    assert fields["54"] == f"{balance // 100}.{balance % 100:02d}"
    assert code[-4:] == crc16(code[:-4])
    assert fields["62"] == issued["62"]  # the txid: the payment is matched to the invoice
    # The invoice nothing was paid of: its line and issued code, as before.
    assert unpaid.invoices[0].digitable_line in whole
    assert whole.endswith(f"PIX copia e cola:\n{unpaid.invoices[0].pix_code}")

    # Option 2 (the boletos): the partly paid one's boleto is not sent (it carries the whole
    # amount); what was paid, what is left and the PIX of the balance instead, as option 1.
    boletos = chat.whatsapp("2")
    header, balance_text = said(boletos)
    assert header == "Você tem 2 parcelas para pagar agora:"
    assert [link.label for link in boletos.replies[0].links] == [
        "Boleto da parcela 1 de 3, Financeira Sol (PDF)"
    ]
    assert [link.kind for r in boletos.replies[1:] for link in r.links] == []
    assert balance_text == partial
    assert balance_text.endswith(f"PIX copia e cola:\n{code}")


def test_an_entrada_is_named_entrada_and_the_installments_after_it_are_counted_without_it(
    tmp_path: Path,
) -> None:
    """QA: an agreement of an entrada and 3 installments was 'Parcela 1 de 4' (the entrada)
    and 'Parcela 2 de 4' in the chat, 'Entrada' and 'Parcela 1 de 3' on the portal and in
    the term. One rule now (contracts.invoices)."""
    chat = Chat(tmp_path)
    chat.negotiation.imported(debt_event("odd", document=MARIA, amount=100_000))
    chat.negotiation.condition(installments=4, min_down_payment_pct=30)
    chat.whatsapp("oi")
    chat.whatsapp(MARIA)
    assert "3 - entrada de" in chat.texts(chat.whatsapp("4"))
    chat.whatsapp("3")

    closed = chat.whatsapp("sim")

    (agreement,) = chat.negotiation.app.list_agreements(
        ListAgreements(tenant=AGENCY, document=MARIA), TODAY
    ).agreements
    entrada, first = agreement.invoices[:2]
    assert (entrada.kind, len(agreement.invoices)) == ("down_payment", 4)
    text = chat.texts(closed)
    total = format_brl(agreement.total_cents)
    assert f"Acordo fechado! Total de {total}: entrada + 3 parcelas." in text
    assert f"\n\nEntrada do acordo com Banco Horizonte: {format_brl(entrada.amount_cents)}" in text
    assert "de 4" not in text
    labels = [link.label for r in closed.replies for link in r.links]
    assert labels == ["Boleto da entrada, Banco Horizonte (PDF)", "Termo de acordo"]

    assert said(chat.whatsapp("1"))[0].startswith("Entrada do acordo com Banco Horizonte: ")
    boleto = chat.whatsapp("2")
    assert said(boleto) == [f"Boleto da entrada, vencimento {entrada.due_date:%d/%m/%Y}:"]
    assert [link.label for r in boleto.replies for link in r.links] == [
        "Boleto da entrada, Banco Horizonte (PDF)"
    ]

    chat.negotiation.pay(
        invoice_id=entrada.invoice_id, amount_cents=entrada.amount_cents, paid_on=TODAY
    )
    (line,) = said(chat.whatsapp("1"))
    assert line.startswith(
        f"Parcela 1 de 3 do acordo com Banco Horizonte: {format_brl(first.amount_cents)}"
    )
    boleto = chat.whatsapp("2")
    assert said(boleto) == [f"Boleto da parcela 1 de 3, vencimento {first.due_date:%d/%m/%Y}:"]
    assert [link.label for r in boleto.replies for link in r.links] == [
        "Boleto da parcela 1 de 3, Banco Horizonte (PDF)"
    ]


def test_option_2_never_offers_a_paid_invoices_boleto(chat: Chat) -> None:
    """A paid installment's boleto is never offered: the next one's is; a single invoice left,
    partly paid, gets the PIX of its balance and no boleto; all paid, there is none to give."""
    [agreement] = closed_with(chat, ["Banco Horizonte"])
    first, second, third = agreement.invoices
    chat.negotiation.pay(
        invoice_id=first.invoice_id, amount_cents=first.amount_cents, paid_on=TODAY
    )
    chat.identified()

    boleto = chat.whatsapp("2")
    assert said(boleto) == [f"Boleto da parcela 2 de 3, vencimento {second.due_date:%d/%m/%Y}:"]
    [link] = [link for r in boleto.replies for link in r.links]
    assert read_link(KEY, link.url.rsplit("/d/", 1)[1]).invoice_id == second.invoice_id

    chat.negotiation.pay(invoice_id=second.invoice_id, amount_cents=1_000, paid_on=TODAY)
    partly = chat.whatsapp("2")
    [text] = said(partly)
    left = second.amount_cents - 1_000
    assert text.startswith(f"Parcela 2 de 3 do acordo com Banco Horizonte: {format_brl(left)}")
    assert "Você já pagou R$ 10,00 desta parcela" in text and "PIX copia e cola:" in text
    assert [link for r in partly.replies for link in r.links] == []

    chat.negotiation.pay(invoice_id=second.invoice_id, amount_cents=left, paid_on=TODAY)
    chat.negotiation.pay(
        invoice_id=third.invoice_id, amount_cents=third.amount_cents, paid_on=TODAY
    )
    nothing = chat.whatsapp("2")
    assert said(nothing)[0] == "Você não tem boleto em aberto no momento."
    assert [link for r in nothing.replies for link in r.links] == []


def test_the_term_of_an_agreement_no_longer_in_force_says_so() -> None:
    """QA: the chat's "Termo do último acordo" gave the term of an agreement the creditor had
    ended as if it held. It still gives it (a record of what was agreed), saying so."""
    closed_on = dt.date(2026, 1, 5)
    assert bot.term_intro(closed_on, "Banco Horizonte", "active") == (
        "Termo do acordo de 05/01/2026 com Banco Horizonte:"
    )
    assert bot.term_intro(closed_on, "Banco Horizonte", "fulfilled") == (
        "Termo do acordo de 05/01/2026 com Banco Horizonte, já quitado:"
    )
    assert bot.term_intro(closed_on, "Banco Horizonte", "broken") == (
        "O acordo de 05/01/2026 com Banco Horizonte não está mais em vigor: foi encerrado e as "
        "parcelas em aberto foram canceladas. O termo fica como registro do que foi acordado:"
    )
