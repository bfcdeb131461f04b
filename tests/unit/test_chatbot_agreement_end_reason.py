"""QA pass 8, N2 (what was left): the chat's "Termo do último acordo" of an agreement the
creditor ended said only that it "não está mais em vigor", as for a debtor's break: why it
ended was not in negotiation's answer. It is now (`end_reason`), and the chat says it: the
creditor's withdrawal or lowered amount is never called the debtor's break."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from pathlib import Path

import pytest

from services.messaging.domain import chatbot as bot
from services.negotiation.domain.agreement import Agreement
from tests.unit.test_chatbot import Chat, closed_with, said
from tests.unit.test_negotiation_app import TODAY

CLOSED_ON = dt.date(2026, 1, 5)


def _ended(chat: Chat, agreement_id: str, how: str) -> None:
    """Negotiation ends the agreement as its consumers of the creditor's withdrawal or
    lowered amount, or its daily run, would."""
    agreement: Agreement = chat.negotiation.app.repository.get(uuid.UUID(agreement_id))
    [held] = agreement.debt_ids
    if how == "debt_withdrawn":
        assert agreement.end_by_withdrawal([held], TODAY)
    elif how == "debt_amount_lowered":
        principal = agreement.debts[0]["principal_cents"]
        assert agreement.end_by_lowering(
            [
                {
                    "debt_id": held,
                    "contract": "CT-1",
                    "installment": "1",
                    "old_amount_cents": principal,
                    "new_amount_cents": principal // 2,
                    "owed_cents": principal // 2,
                    "import_id": "imp-2",
                    "row_key": "CT-1/1",
                }
            ],
            TODAY,
        )
    else:
        agreement.run_day(agreement.invoices[0]["due_date"] + dt.timedelta(days=5))
        assert agreement.status == "broken"
    chat.negotiation.app.save(agreement)


def _term(chat: Chat) -> str:
    """The debtor identifies and asks for the last agreement's term (its number in the menu)."""
    chat.whatsapp("Oi")
    menu = "\n".join(chat.texts(chat.whatsapp("52998224725")).splitlines())
    option = re.search(r"(\d+) - Termo do último acordo", menu)
    assert option is not None, menu
    [intro] = said(chat.whatsapp(option.group(1)))
    return intro


@pytest.mark.parametrize(
    ("how", "why"),
    [
        (
            "debt_withdrawn",
            "foi encerrado pelo credor, que retirou a dívida da cobrança, e as parcelas em "
            "aberto foram canceladas.",
        ),
        (
            "debt_amount_lowered",
            "foi encerrado porque o credor reduziu o valor da dívida; as parcelas em aberto "
            "foram canceladas e você pode negociar o novo valor.",
        ),
        (
            "not_paid",
            "foi quebrado por falta de pagamento e as parcelas em aberto foram canceladas.",
        ),
    ],
)
def test_the_chat_says_why_the_last_agreement_ended(tmp_path: Path, how: str, why: str) -> None:
    chat = Chat(tmp_path)
    [agreement] = closed_with(chat, ["Banco Horizonte"])
    _ended(chat, agreement.agreement_id, how)

    intro = _term(chat)

    assert "não está mais em vigor: " + why in intro
    assert intro.endswith("O termo fica como registro do que foi acordado:")
    if how != "not_paid":
        assert "quebrado" not in intro and "falta de pagamento" not in intro


def test_term_intro_by_end_reason() -> None:
    ended = "O acordo de 05/01/2026 com Banco Horizonte não está mais em vigor: "
    assert bot.term_intro(CLOSED_ON, "Banco Horizonte", "active", None) == (
        "Termo do acordo de 05/01/2026 com Banco Horizonte:"
    )
    assert bot.term_intro(CLOSED_ON, "Banco Horizonte", "fulfilled", "fulfilled") == (
        "Termo do acordo de 05/01/2026 com Banco Horizonte, já quitado:"
    )
    assert bot.term_intro(CLOSED_ON, "Banco Horizonte", "broken", "debt_withdrawn") == (
        ended + "foi encerrado pelo credor, que retirou a dívida da cobrança, e as parcelas em "
        "aberto foram canceladas. O termo fica como registro do que foi acordado:"
    )
    # Why not known (an answer of a negotiation from before): only that it ended.
    assert bot.term_intro(CLOSED_ON, "Banco Horizonte", "broken") == (
        ended + "foi encerrado e as parcelas em aberto foram canceladas. O termo fica como "
        "registro do que foi acordado:"
    )
