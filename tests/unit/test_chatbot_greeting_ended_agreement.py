"""QA pass 9, leftover of D5 (the chat's greeting): after the creditor lowered Cauã's debt,
his agreement ended and its open parcelas were cancelled; the chat's greeting said only
"Encontramos 1 débito em aberto, no total atualizado de R$ 760,43", not a word of the
agreement that had ended, nor why, to a debtor who may hold its boletos. The greeting now
says it in one sentence, as options 1 and 2 and "Termo do último acordo" say why it ended
(negotiation's `end_reason`; a lowering that left nothing to pay, `owed_cents` 0, settled the
debt): of each creditor only the agreements of the last day one was closed with it
(`last_ended`), and not one whose plan fell due long ago (`recently_ended`)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from contracts.negotiation_requests import AgreementOut
from services.messaging.application.conversations import recently_ended
from services.messaging.domain import chatbot as bot
from tests.unit.test_chatbot import Chat, closed_with, said
from tests.unit.test_chatbot_agreement_end_reason import _ended
from tests.unit.test_chatbot_lowered_and_settled import _bruno_paid_then_lowered_to_less
from tests.unit.test_negotiation_app import JOAO, TODAY

DAY = f"{TODAY:%d/%m/%Y}"


def _greeting(chat: Chat) -> str:
    """The debtor says hello and their CPF: the greeting (the menu comes after it)."""
    chat.whatsapp("Oi")
    greeting, *_ = said(chat.whatsapp(JOAO))
    return greeting


def test_the_greeting_after_the_creditor_lowered_the_debt_says_the_agreement_ended(
    tmp_path: Path,
) -> None:
    chat = Chat(tmp_path)
    [agreement] = closed_with(chat, ["Banco Horizonte S.A."])
    _ended(chat, agreement.agreement_id, "debt_amount_lowered")

    greeting = _greeting(chat)

    assert greeting.startswith("Olá, João! Encontramos ")
    assert greeting.endswith(
        f"O acordo de {DAY} com Banco Horizonte S.A. foi encerrado porque o credor reduziu o "
        "valor da dívida; as parcelas em aberto foram canceladas e você pode negociar o novo "
        "valor."
    )


@pytest.mark.parametrize(
    ("how", "why"),
    [
        ("debt_withdrawn", "foi encerrado pelo credor, que retirou a dívida da cobrança"),
        ("not_paid", "foi quebrado por falta de pagamento"),
    ],
)
def test_the_greeting_after_any_end_says_why(tmp_path: Path, how: str, why: str) -> None:
    chat = Chat(tmp_path)
    [agreement] = closed_with(chat, ["Banco Horizonte"])
    _ended(chat, agreement.agreement_id, how)

    greeting = _greeting(chat)

    assert f"O acordo de {DAY} com Banco Horizonte {why}" in greeting
    assert greeting.count("O acordo de") == 1
    if how == "debt_withdrawn":
        assert "quebrado" not in greeting and "falta de pagamento" not in greeting


def test_the_greeting_after_a_lowering_that_settled_the_debt_says_quitada(
    tmp_path: Path,
) -> None:
    """Bruno's debt lowered below what he paid: nothing to pay, nothing to negotiate."""
    chat, _ = _bruno_paid_then_lowered_to_less(tmp_path)

    greeting = _greeting(chat)

    # His other debts (no agreement) are counted as before.
    assert greeting.startswith("Olá, João! Encontramos 3 débitos em aberto, no total ")
    assert greeting.endswith(
        f". O acordo de {DAY} com Banco Horizonte foi encerrado porque o credor reduziu o valor "
        "da dívida, que ficou quitada com o que você já pagou."
    )
    assert "negociar o novo valor" not in greeting


def test_an_agreement_in_force_or_none_at_all_is_greeted_as_before(tmp_path: Path) -> None:
    chat = Chat(tmp_path)
    closed_with(chat, ["Banco Horizonte"])
    greeting = _greeting(chat)
    assert "encerrado" not in greeting and "quebrado" not in greeting
    assert "1 acordo em andamento" in greeting


def test_only_the_latest_and_recent_ends_are_said(tmp_path: Path) -> None:
    """An agreement renegotiated since is not said again (`last_ended`), nor one whose plan
    fell due over `RECENT_END_DAYS` ago: it ended before that."""
    chat = Chat(tmp_path)
    [agreement] = closed_with(chat, ["Banco Horizonte"])
    broken = agreement.model_copy(update={"status": "broken", "end_reason": "not_paid"})
    last_due = max(i.due_date for i in agreement.invoices)
    superseded = broken.model_copy(
        update={"agreement_id": "old", "closed_on": TODAY - dt.timedelta(days=30)}
    )
    newer = agreement.model_copy(update={"agreement_id": "new"})

    def on(day: dt.date, *agreements: AgreementOut) -> list[str]:
        return [a.agreement_id for a in recently_ended(list(agreements), day)]

    assert on(TODAY, broken) == [agreement.agreement_id]
    limit = last_due + dt.timedelta(days=bot.RECENT_END_DAYS)
    assert on(limit, broken) == [agreement.agreement_id]
    assert on(limit + dt.timedelta(days=1), broken) == []
    assert on(TODAY, newer, superseded) == []


def test_the_greetings_sentence() -> None:
    situation = bot.Situation(open_debts=1, open_cents=76_043, agreements=0, left_cents=0)
    ended = [("acordo de 05/01/2026 com Banco Horizonte", "not_paid", 0)]
    assert bot.greeting("Cauã Dias", False, situation, ended) == (
        "Olá, Cauã! Encontramos 1 débito em aberto, no total atualizado de R$ 760,43. O acordo "
        "de 05/01/2026 com Banco Horizonte foi quebrado por falta de pagamento e as parcelas em "
        "aberto foram canceladas; nada mais resta a pagar dele."
    )
    assert bot.greeting("Cauã Dias", False, situation) == (
        "Olá, Cauã! Encontramos 1 débito em aberto, no total atualizado de R$ 760,43."
    )
