"""The chatbot asks the tenant's second factor, as the portal does, so the chat is no side door
around it: with "code" a debtor who types a CPF gets a one-time code by SMS on the phone the
carteira brought (never on the WhatsApp writing) and sees name and values only after typing
it; with "birth_date" only after the date of birth the carteira brought, five wrong dates a day
per document, whatever the conversation. With no second factor nothing changes (test_chatbot)."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from contracts.envelope import derived_event_id
from contracts.gateway import PortalListTerms, PortalProfileSaved, PortalProfileSavedV2
from contracts.messaging_requests import BirthDateTry, ChatInbound, SetAvailability
from services.messaging.adapters.channels import read_outbox
from services.messaging.adapters.contacts import debtor_birth_dates
from services.messaging.adapters.second_factors import SecondFactors, SecondFactorsProjection
from services.messaging.domain import chatbot as bot
from services.messaging.domain.second_factor import (
    BIRTH_DATE_KEY_PURPOSE,
    SecondFactor,
    birth_date_digest,
    parse_date,
)
from tests.unit.test_chatbot import NOW, PHONE, Chat
from tests.unit.test_messaging_app import AGENCY, FRIDAY_NIGHT, JOAO

# Late at night: outside the SMS window (08:00-20:00); a code goes at once all the same.
LATE = NOW.replace(hour=23, minute=30)
JOAO_BORN = "1980-05-17"
# After the carteira row the messaging fixture reads first (joao_v1): this one is newer.
NEWER_ROW = FRIDAY_NIGHT + dt.timedelta(days=1)


def profile_saved(
    second_factor: str | None,
    version: int,
    channels: list[str] | None = None,
    part: str = "second_factor",
    tenant: str = AGENCY,
) -> PortalProfileSaved | PortalProfileSavedV2:
    """The gateway's event: version 2 only for the date of birth, as the gateway publishes."""
    model = PortalProfileSavedV2 if second_factor == "birth_date" else PortalProfileSaved
    given: dict[str, Any] = (
        {"second_factor": second_factor, "code_channels": channels or ["sms", "email"]}
        if part == "second_factor"
        else {"name": "Recupera Sul", "portal_list": PortalListTerms()}
    )
    return model(
        event_id=derived_event_id("profile", tenant, version),
        occurred_at=NOW,
        tenant=tenant,
        aggregate_id=f"portal-{tenant}",
        aggregate_version=version,
        correlation_id="p",
        causation_id="p",
        part=part,
        saved_by="admin@recupera",
        **given,
    )


class SecondFactorChat(Chat):
    def __init__(self, tmp_path: Path) -> None:
        super().__init__(tmp_path)
        self.messaging.app.second_factors = SecondFactors(self.messaging.engine)
        self.versions = 0

    def ask(self, second_factor: str, channels: list[str] | None = None) -> None:
        """The tenant's admin saves the portal's second factor; the projection reads it."""
        self.versions += 1
        with self.messaging.engine.begin() as conn:
            SecondFactorsProjection().apply(
                conn, [profile_saved(second_factor, self.versions, channels)]
            )

    def born(self, iso: str | None, *, phone: str | None = PHONE, email: str | None = None) -> None:
        """A newer carteira row of João: his contact, sealed, and the date of birth if any."""
        personal: dict[str, Any] = {"name": "João da Silva", "phone": phone, "email": email}
        if iso is not None:
            personal["birth_date"] = iso
        self.messaging.contacts_applied(
            self.messaging.imported_v2(JOAO, personal, at=NEWER_ROW, debt_id="j-row")
        )

    def web(self, text: str, conversation_id: str | None = None, at: dt.datetime = NOW) -> Any:
        return self.conversations.inbound(
            ChatInbound(tenant=AGENCY, channel="web", conversation_id=conversation_id, text=text),
            at,
        )

    def sms_codes(self, at: dt.datetime) -> list[tuple[str, str]]:
        """(to, code) of every SMS sent so far."""
        self.messaging.app.dispatch_due(at)
        path = self.messaging.app.outbox_dir / AGENCY / "sms.jsonl"
        sent = read_outbox(path) if path.exists() else []
        return [(m["to"], re.findall(r"\b\d{6}\b", m["body"])[0]) for m in sent]


@pytest.fixture
def chat(tmp_path: Path) -> SecondFactorChat:
    return SecondFactorChat(tmp_path)


def shows_nothing_of_joao(text: str) -> bool:
    return not any(word in text for word in ("João", "Silva", "R$", "débitos em aberto"))


# ---- "code": a one-time code by SMS -----------------------------------------------------------


def test_with_a_code_the_values_come_only_after_the_code_sent_by_sms(
    chat: SecondFactorChat,
) -> None:
    chat.ask("code", ["sms", "email"])
    chat.whatsapp("Oi", at=LATE)
    asked = chat.whatsapp("529.982.247-25", at=LATE)
    said = chat.texts(asked)
    assert "Enviamos um código de 6 dígitos para o celular (11) *****-4321. Digite-o aqui." in (
        said
    )
    assert shows_nothing_of_joao(said) and "Escolha uma opção" not in said
    # An operator looking sees who it claims to be is not verified, and nothing of João.
    pending = chat.conversation(str(asked.conversation_id))
    assert (pending.verified, pending.second_factor) == (False, "code")
    assert (pending.document, pending.debtor_name) == (None, None)

    # The code went at once, late on a Sunday, by SMS to the phone the carteira brought.
    [(to, code)] = chat.sms_codes(LATE)
    assert to == PHONE
    # Typing MENU or anything else shows nothing either.
    assert chat.texts(chat.whatsapp("cadê meus boletos?", at=LATE)) == bot.CODE_HINT

    opened = chat.texts(chat.whatsapp(code, at=LATE))
    assert "Olá, João! Encontramos 2 débitos em aberto" in opened
    assert "4 - Negociar minha dívida" in opened
    shown = chat.conversation(str(asked.conversation_id))
    assert (shown.verified, shown.second_factor, shown.document) == (True, None, JOAO)
    assert shown.debtor_name == "João da Silva"
    # What the debtor typed is not kept, nor the code anywhere in the store but the sealed SMS.
    assert bot.SECRET_OMITTED in [e.text for e in shown.entries]
    assert all(code not in e.text for e in shown.entries)
    for topic, state in chat.messaging.stored():
        assert f"é {code}" not in state, topic
        if topic.endswith("Conversation.Moved"):
            assert code not in json.loads(state)["context"].values(), state
    # The WhatsApp chat never carried the code.
    chat.messaging.app.dispatch_due(LATE)
    whatsapp = read_outbox(chat.messaging.app.outbox_dir / AGENCY / "whatsapp.jsonl")
    assert all(code not in m["body"] for m in whatsapp)


def test_wrong_codes_count_down_and_then_a_new_code_can_be_asked(chat: SecondFactorChat) -> None:
    chat.ask("code")
    chat.whatsapp("Oi")
    chat.whatsapp(JOAO)
    [(_, code)] = chat.sms_codes(NOW)
    wrong = "111111" if code != "111111" else "222222"
    for left in (4, 3, 2, 1):
        assert chat.texts(chat.whatsapp(wrong)) == bot.wrong_code(left)
    assert bot.wrong_code(1) == "Código incorreto. Você ainda tem 1 tentativa."
    exhausted = chat.texts(chat.whatsapp(wrong))
    assert exhausted.startswith(bot.CODE_EXHAUSTED)
    assert exhausted.endswith(
        "1 - Receber um novo código\n2 - Falar com um atendente\n3 - Recomeçar"
    )
    # The right code, too late: no values.
    assert shows_nothing_of_joao(chat.texts(chat.whatsapp(code)))

    again = chat.texts(chat.whatsapp("1"))
    assert again == "Enviamos um código de 6 dígitos para o celular (11) *****-4321. Digite-o aqui."
    [_, (_, new)] = chat.sms_codes(NOW)
    assert "Olá, João!" in chat.texts(chat.whatsapp(new))


def test_new_web_chats_send_no_more_than_five_codes_a_day_to_a_debtor(
    chat: SecondFactorChat,
) -> None:
    # Anyone may open the web chat and type João's CPF: each code is an SMS to his phone.
    chat.ask("code")
    for _ in range(5):
        opened = chat.web("Oi")
        sent = chat.texts(chat.web(JOAO, str(opened.conversation_id)))
        assert sent.startswith("Enviamos um código de 6 dígitos")
    assert len(chat.sms_codes(NOW)) == 5
    opened = chat.web("Oi")
    refused = chat.texts(chat.web(JOAO, str(opened.conversation_id)))
    assert refused.startswith(bot.NO_MORE_CODES_TODAY)
    assert len(chat.sms_codes(NOW)) == 5  # no sixth SMS
    # The next business day the debtor can be sent a code again.
    tomorrow = NOW + dt.timedelta(days=1)
    opened = chat.web("Oi", at=tomorrow)
    again = chat.texts(chat.web(JOAO, str(opened.conversation_id), at=tomorrow))
    assert again.startswith("Enviamos um código de 6 dígitos")


def test_an_expired_code_opens_nothing(chat: SecondFactorChat) -> None:
    chat.ask("code")
    chat.whatsapp("Oi")
    chat.whatsapp(JOAO)
    [(_, code)] = chat.sms_codes(NOW)
    late = chat.texts(chat.whatsapp(code, at=NOW + dt.timedelta(minutes=10)))
    assert late.startswith(bot.CODE_EXPIRED) and shows_nothing_of_joao(late)
    assert "1 - Receber um novo código" in late


def test_without_phone_nor_email_on_file_the_debtor_is_sent_to_an_operator(
    chat: SecondFactorChat,
) -> None:
    chat.born(None, phone=None, email=None)
    chat.ask("code")
    chat.whatsapp("Oi")
    said = chat.texts(chat.whatsapp(JOAO))
    assert (
        "Não há telefone nem e-mail cadastrado para enviar o código; fale com a assessoria." in said
    )
    assert said.endswith("1 - Falar com um atendente\n2 - Recomeçar")
    assert chat.sms_codes(NOW) == []
    chat.conversations.set_availability(
        SetAvailability(tenant=AGENCY, operator="ana@recupera", available=True), NOW
    )
    taken = chat.whatsapp("1")
    assert taken.status == "with_operator"
    # The operator sees the conversation is not verified, and no debtor in it.
    shown = chat.conversation(str(taken.conversation_id))
    assert (shown.verified, shown.second_factor, shown.document) == (False, "code", None)


def test_a_code_goes_by_email_when_the_tenant_prefers_it(chat: SecondFactorChat) -> None:
    chat.born(None, email="joao@example.com")
    chat.ask("code", ["email", "sms"])
    chat.whatsapp("Oi")
    assert "para o e-mail j***@example.com" in chat.texts(chat.whatsapp(JOAO))
    assert chat.sms_codes(NOW) == []


# ---- "birth_date": the date the carteira brought ----------------------------------------------


def test_the_right_date_of_birth_opens_the_values(chat: SecondFactorChat) -> None:
    chat.born(JOAO_BORN)
    chat.ask("birth_date")
    for typed in ("17/05/1980", "17051980", "1980-05-17"):
        first = chat.web("Oi")
        asked = chat.texts(chat.web(JOAO, first.conversation_id))
        assert asked == "Para sua segurança, informe sua data de nascimento (dd/mm/aaaa)."
        # No date at all uses no try.
        assert chat.texts(chat.web("31/02/1980", first.conversation_id)).startswith(
            "Não consegui ler a data: essa data não existe no calendário"
        )
        opened = chat.texts(chat.web(typed, first.conversation_id))
        assert "Olá, João! Encontramos 2 débitos em aberto" in opened, typed
    assert chat.sms_codes(NOW) == []  # nothing sent


def test_five_wrong_dates_in_two_conversations_lock_the_document_for_the_day(
    chat: SecondFactorChat,
) -> None:
    chat.born(JOAO_BORN)
    chat.ask("birth_date")
    first = chat.web("Oi").conversation_id
    chat.web(JOAO, first)
    for left in (4, 3, 2):
        said = chat.texts(chat.web("01/01/1990", first))
        assert (
            said
            == f"A data não confere com o nosso cadastro. Você ainda tem {left} tentativas hoje."
        )
    # A new conversation gives no fresh tries.
    second = chat.whatsapp("Oi").conversation_id
    chat.whatsapp(JOAO)
    assert "1 tentativa hoje" in chat.texts(chat.whatsapp("02/02/1990"))
    locked = chat.texts(chat.whatsapp("03/03/1990"))
    assert locked.startswith(bot.DATE_LOCKED)
    assert locked.endswith("1 - Falar com um atendente\n2 - Recomeçar")
    assert second != first
    # Locked for the rest of the day, even for the right date, in yet another conversation.
    third = chat.web("Oi").conversation_id
    assert chat.texts(chat.web(JOAO, third)).startswith(bot.DATE_LOCKED)
    assert shows_nothing_of_joao(chat.texts(chat.web("17/05/1980", third)))
    # The next business day the right date opens.
    tomorrow = NOW + dt.timedelta(days=1)
    fourth = chat.web("Oi", at=tomorrow).conversation_id
    chat.web(JOAO, fourth, at=tomorrow)
    assert "Olá, João!" in chat.texts(chat.web("17/05/1980", fourth, at=tomorrow))


def test_wrong_dates_typed_on_the_portal_count_in_the_chat_and_back(
    chat: SecondFactorChat,
) -> None:
    # Whoever has João's CPF gets five wrong dates a day in all, not five on each door.
    chat.born(JOAO_BORN)
    chat.ask("birth_date")
    app = chat.messaging.app

    def portal(try_id: str | None = None) -> tuple[int, bool]:
        out = app.birth_date_try(BirthDateTry(tenant=AGENCY, document=JOAO, try_id=try_id), NOW)
        return out.left, out.locked

    assert portal() == (5, False)  # asking uses nothing
    assert portal("ch-1:2") == (4, False)
    assert portal("ch-1:2") == (4, False)  # the same request delivered again counts once
    assert portal("ch-1:3") == (3, False)
    chat.whatsapp("Oi")
    chat.whatsapp(JOAO)
    assert "2 tentativas hoje" in chat.texts(chat.whatsapp("01/01/1990"))
    assert "1 tentativa hoje" in chat.texts(chat.whatsapp("02/02/1990"))
    assert chat.texts(chat.whatsapp("03/03/1990")).startswith(bot.DATE_LOCKED)
    # Locked on the portal too, and a wrong date typed there now uses nothing.
    assert portal() == (0, True)
    assert portal("ch-1:4") == (0, True)
    # Another tenant's count of the same CPF is its own.
    other = app.birth_date_try(BirthDateTry(tenant="outra", document=JOAO), NOW)
    assert (other.left, other.locked) == (5, False)
    # The next business day both doors start afresh.
    tomorrow = app.birth_date_try(
        BirthDateTry(tenant=AGENCY, document=JOAO), NOW + dt.timedelta(days=1)
    )
    assert (tomorrow.left, tomorrow.locked) == (5, False)


def test_no_date_of_birth_on_file_offers_an_operator(chat: SecondFactorChat) -> None:
    chat.ask("birth_date")  # João's carteira row brought no date
    chat.whatsapp("Oi")
    said = chat.texts(chat.whatsapp(JOAO))
    assert said.startswith(
        "Não há data de nascimento cadastrada para este documento; fale com a assessoria."
    )
    assert said.endswith("1 - Falar com um atendente\n2 - Recomeçar")
    assert shows_nothing_of_joao(said)


def test_a_company_is_asked_its_opening_date() -> None:
    assert bot.ask_date(True) == (
        "Para sua segurança, informe a data de abertura da empresa (dd/mm/aaaa)."
    )


def test_the_dates_a_debtor_may_type() -> None:
    today = dt.date(2026, 11, 29)
    for typed in ("17/05/1980", "17-05-1980", "17.05.1980", "17051980", "1980-05-17"):
        assert parse_date(typed, today) == dt.date(1980, 5, 17), typed
    for typed in ("17/05/80", "ontem", "30/11/2026", "01/01/1899", "1980-13-01"):
        with pytest.raises(ValueError):
            parse_date(typed, today)


def test_the_digest_of_the_date_is_kept_never_the_date_and_an_erasure_clears_it(
    chat: SecondFactorChat,
) -> None:
    chat.born(JOAO_BORN)
    key = chat.messaging.vault.settings_key(AGENCY, BIRTH_DATE_KEY_PURPOSE).secret
    book = chat.messaging.app.contacts
    assert book is not None
    expected = birth_date_digest(key, AGENCY, JOAO, dt.date(1980, 5, 17))
    assert book.birth_date_digest(AGENCY, JOAO) == expected
    # Salted with the debtor: the same date of another debtor is another digest.
    assert birth_date_digest(key, AGENCY, "11144477735", dt.date(1980, 5, 17)) != expected
    with chat.messaging.engine.connect() as conn:
        rows = conn.execute(sa.select(debtor_birth_dates)).all()
    assert len(rows) == 1 and "1980" not in repr(rows)

    chat.messaging.erase(JOAO, NOW)
    assert book.birth_date_digest(AGENCY, JOAO) is None
    chat.ask("birth_date")
    chat.whatsapp("Oi")
    assert chat.texts(chat.whatsapp(JOAO)).startswith("Não há data de nascimento cadastrada")


# ---- the profile, from gateway.config ---------------------------------------------------------


def test_the_second_factor_comes_from_the_portal_profile_and_the_newest_wins(
    tmp_path: Path,
) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'messaging.sqlite'}")
    projection = SecondFactorsProjection()
    projection.create_tables(engine)
    factors = SecondFactors(engine)
    assert factors.of(AGENCY) == SecondFactor("none", ("sms", "email"))

    def read(*events: Any) -> SecondFactor:
        with engine.begin() as conn:
            projection.apply(conn, list(events))
        return factors.of(AGENCY)

    # Version 1 (none | code) and version 2 (birth_date); the profile's other parts skipped.
    assert read(profile_saved("code", 2, ["email", "sms"])) == SecondFactor(
        "code", ("email", "sms")
    )
    assert read(profile_saved(None, 3, part="profile")).method == "code"
    assert read(profile_saved("birth_date", 4)).method == "birth_date"
    # Read again, or an older version late: nothing changes.
    assert read(profile_saved("code", 2), profile_saved("none", 1)).method == "birth_date"
    # In one batch, the newest wins whatever the order.
    assert read(profile_saved("none", 6), profile_saved("code", 5, ["sms"])).method == "none"
    assert read(profile_saved("code", 7, ["sms"])) == SecondFactor("code", ("sms",))
    # Another tenant is its own.
    with engine.begin() as conn:
        projection.apply(conn, [profile_saved("birth_date", 1, tenant="cobra-norte")])
    assert factors.of("cobra-norte").method == "birth_date"
    assert factors.of(AGENCY).method == "code"
    engine.dispose()


def test_with_no_second_factor_saved_the_bot_greets_at_once(chat: SecondFactorChat) -> None:
    chat.ask("none")
    chat.whatsapp("Oi")
    assert "Olá, João!" in chat.texts(chat.whatsapp(JOAO))
    assert chat.sms_codes(NOW) == []
