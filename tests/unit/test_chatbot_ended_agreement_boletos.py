"""QA pass 9, D5 and D8 (the chat's part).

D5: after the creditor lowered Cauã's debt, the agreement ended and its open parcelas were
cancelled; asked for the boleto (option 1, linha digitável, or option 2, the PDF), the chat
said only "Você não tem boleto em aberto no momento.": not that the agreement had ended, nor
why, to a debtor who may hold yesterday's boleto. The chat now says which agreement ended, why
(negotiation's `end_reason`, as "Termo do último acordo" says it), and that its boletos no
longer pay.

D8: "O acordo de 05/01/2026 com Banco Horizonte S.A." could be either of two agreements the
debtor closed that day with that creditor: the chat names such agreements by their total and
installments too."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from contracts.money import format_brl
from contracts.negotiation_requests import AgreementOut
from services.messaging.application.conversations import last_ended
from services.messaging.domain import chatbot as bot
from tests.unit.test_chatbot import Chat, closed_with, said
from tests.unit.test_chatbot_agreement_end_reason import _ended
from tests.unit.test_negotiation_app import JOAO, TODAY

NO_BOLETO = "Você não tem boleto em aberto no momento."


def _asks(chat: Chat, option: str) -> list[str]:
    """The debtor identifies and picks `option` ("1" the line, "2" the PDF)."""
    chat.whatsapp("Oi")
    chat.whatsapp(JOAO)
    return said(chat.whatsapp(option))


@pytest.mark.parametrize("option", ["1", "2"])
def test_the_boleto_asked_after_the_creditor_lowered_the_debt_says_the_agreement_ended(
    tmp_path: Path, option: str
) -> None:
    chat = Chat(tmp_path)
    [agreement] = closed_with(chat, ["Banco Horizonte S.A."])
    _ended(chat, agreement.agreement_id, "debt_amount_lowered")

    [answer] = _asks(chat, option)

    assert answer == (
        f"{NO_BOLETO} O acordo de {TODAY:%d/%m/%Y} com Banco Horizonte S.A. foi encerrado "
        "porque o credor reduziu o valor da dívida; as parcelas em aberto foram canceladas e "
        "você pode negociar o novo valor. Os boletos desse acordo não servem mais para "
        "pagamento."
    )


@pytest.mark.parametrize(
    ("how", "why"),
    [
        ("debt_withdrawn", "foi encerrado pelo credor, que retirou a dívida da cobrança"),
        ("not_paid", "foi quebrado por falta de pagamento"),
    ],
)
def test_the_boleto_asked_after_any_end_says_why(tmp_path: Path, how: str, why: str) -> None:
    chat = Chat(tmp_path)
    [agreement] = closed_with(chat, ["Banco Horizonte"])
    _ended(chat, agreement.agreement_id, how)

    [answer] = _asks(chat, "1")

    assert answer.startswith(f"{NO_BOLETO} O acordo de {TODAY:%d/%m/%Y} com Banco Horizonte {why}")
    assert answer.endswith("Os boletos desse acordo não servem mais para pagamento.")
    if how == "debt_withdrawn":
        assert "quebrado" not in answer and "falta de pagamento" not in answer


def test_with_a_boleto_to_pay_the_boleto_is_given_as_before(tmp_path: Path) -> None:
    chat = Chat(tmp_path)
    c1, c2 = chat.debt_ids
    ended = chat.negotiation.close([c1], 3, key="one")
    _ended(chat, ended.agreement_id, "debt_amount_lowered")
    active = chat.negotiation.close([c2], 3, key="two")

    answer = "\n".join(_asks(chat, "1"))

    assert answer.startswith("Parcela 1 de 3 do acordo com Banco Horizonte:")
    assert active.invoices[0].pix_code in answer
    assert "encerrado" not in answer and NO_BOLETO not in answer


def test_an_ended_agreement_renegotiated_since_is_not_said_again(tmp_path: Path) -> None:
    """Of each creditor only the agreements of the last day the debtor closed one with it:
    an agreement ended a while ago and paid off since by a new one is not spoken of."""
    chat = Chat(tmp_path)
    [agreement] = closed_with(chat, ["Banco Horizonte"])
    earlier = TODAY - dt.timedelta(days=30)
    old = agreement.model_copy(
        update={"agreement_id": "old", "closed_on": earlier, "status": "broken"}
    )
    paid = agreement.model_copy(update={"status": "fulfilled", "end_reason": "fulfilled"})
    other = agreement.model_copy(
        update={"agreement_id": "other", "creditor": "Loja Lua", "closed_on": earlier}
    )
    other = other.model_copy(update={"status": "broken", "end_reason": "not_paid"})

    assert last_ended([paid, other, old]) == [other]
    assert last_ended([old]) == [old]


def test_with_no_agreement_at_all_nothing_more_is_said(tmp_path: Path) -> None:
    chat = Chat(tmp_path)
    assert _asks(chat, "1") == [NO_BOLETO]


def _two_of_a_day(chat: Chat) -> tuple[AgreementOut, AgreementOut]:
    """João's two debts with Banco Horizonte, each in its own agreement closed today: one in
    3 parcelas, one à vista."""
    c1, c2 = chat.debt_ids
    return chat.negotiation.close([c1], 3, key="one"), chat.negotiation.close([c2], 1, key="two")


def test_two_ended_agreements_of_one_day_with_one_creditor_are_told_apart(
    tmp_path: Path,
) -> None:
    chat = Chat(tmp_path)
    in_three, at_once = _two_of_a_day(chat)
    _ended(chat, in_three.agreement_id, "debt_amount_lowered")
    _ended(chat, at_once.agreement_id, "debt_withdrawn")

    [answer] = _asks(chat, "2")

    day = f"{TODAY:%d/%m/%Y}"
    assert (
        f"O acordo de {day} com Banco Horizonte ({format_brl(in_three.total_cents)}, 3 parcelas) "
        "foi encerrado porque o credor reduziu o valor da dívida" in answer
    )
    assert (
        f"O acordo de {day} com Banco Horizonte ({format_brl(at_once.total_cents)}, à vista) "
        "foi encerrado pelo credor, que retirou a dívida da cobrança" in answer
    )
    assert answer.endswith("Os boletos desses acordos não servem mais para pagamento.")


def test_the_term_of_one_of_two_agreements_of_a_day_names_its_total(tmp_path: Path) -> None:
    chat = Chat(tmp_path)
    _, at_once = _two_of_a_day(chat)
    _ended(chat, at_once.agreement_id, "debt_withdrawn")
    chat.whatsapp("Oi")
    menu = chat.texts(chat.whatsapp(JOAO))
    option = re.search(r"(\d+) - Termo do último acordo", menu)
    assert option is not None, menu

    [intro] = said(chat.whatsapp(option.group(1)))

    assert intro.startswith(
        f"O acordo de {TODAY:%d/%m/%Y} com Banco Horizonte ({format_brl(at_once.total_cents)}, "
        "à vista) não está mais em vigor: foi encerrado pelo credor"
    )


def test_an_agreement_alone_on_its_day_is_named_by_day_and_creditor() -> None:
    assert bot.agreement_named(dt.date(2026, 1, 5), "Banco Horizonte") == (
        "acordo de 05/01/2026 com Banco Horizonte"
    )
    assert bot.agreement_named(
        dt.date(2026, 1, 5), "Banco Horizonte", 201_120, ["down_payment", "installment"]
    ) == ("acordo de 05/01/2026 com Banco Horizonte (R$ 2.011,20, entrada + 1 parcela)")
