"""QA pass 9, D4 (the chat): Bruno's debt lowered to R$ 300,00, below the R$ 720,00 he had
paid, was settled and R$ 420,00 became his credit; the chat's "Termo do último acordo" still
said "você pode negociar o novo valor" and nothing of the credit. It now says the debt was
settled by what he paid ("a dívida ficou quitada com o que você já pagou": negotiation's
answer `owed_cents` 0) and names his credit."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

from contracts.money import format_brl
from contracts.negotiation_requests import PaymentReport
from services.messaging.domain import chatbot as bot
from services.negotiation.domain.agreement import Agreement
from tests.unit.test_chatbot import Chat, closed_with, said
from tests.unit.test_chatbot_agreement_end_reason import _term
from tests.unit.test_negotiation_app import AGENCY, JOAO, TODAY

CLOSED_ON = dt.date(2026, 1, 5)
ENDED = "O acordo de 05/01/2026 com Banco Horizonte não está mais em vigor: "


def test_term_intro_of_a_lowering_that_left_nothing_to_pay() -> None:
    assert bot.term_intro(
        CLOSED_ON,
        "Banco Horizonte",
        "broken",
        "debt_amount_lowered",
        owed_cents=0,
        credit_cents=42_000,
    ) == (
        ENDED + "foi encerrado porque o credor reduziu o valor da dívida, que ficou quitada com "
        "o que você já pagou. Você tem R$ 420,00 de crédito: o que pagou além do que as dívidas "
        "deste acordo devem. O termo fica como registro do que foi acordado:"
    )
    # Something still owed, or not known: negotiable, as before; no credit, no sentence.
    for owed in (66_480, None):
        assert bot.term_intro(
            CLOSED_ON, "Banco Horizonte", "broken", "debt_amount_lowered", owed_cents=owed
        ) == (
            ENDED + "foi encerrado porque o credor reduziu o valor da dívida; as parcelas em "
            "aberto foram canceladas e você pode negociar o novo valor. O termo fica como "
            "registro do que foi acordado:"
        )


def _bruno_paid_then_lowered_to_less(tmp_path: Path) -> tuple[Chat, int]:
    """Bruno pays his agreement's first installment; the creditor then lowers his debt to
    R$ 100,00, less than he paid: the agreement ends and the debt is settled. Returns the chat
    and what he paid."""
    chat = Chat(tmp_path)
    [closed] = closed_with(chat, ["Banco Horizonte"])
    first = closed.invoices[0]
    chat.negotiation.app.record_payment(
        AGENCY,
        PaymentReport(invoice_id=first.invoice_id, amount_cents=first.amount_cents, paid_on=TODAY),
        "api",
        today=TODAY,
    )
    agreement: Agreement = chat.negotiation.app.repository.get(uuid.UUID(closed.agreement_id))
    [held] = agreement.debt_ids
    assert agreement.end_by_lowering(
        [
            {
                "debt_id": held,
                "contract": "CT-1",
                "installment": "1",
                "old_amount_cents": agreement.debts[0]["principal_cents"],
                "new_amount_cents": 10_000,
                "owed_cents": 10_000,
                "import_id": "imp-2",
                "row_key": "CT-1/1",
            }
        ],
        TODAY,
    )
    chat.negotiation.app.save(agreement)
    return chat, first.amount_cents


def test_bruno_asks_for_the_term_after_the_lowering_settled_his_debt(tmp_path: Path) -> None:
    chat, paid = _bruno_paid_then_lowered_to_less(tmp_path)

    intro = _term(chat)

    assert "que ficou quitada com o que você já pagou." in intro
    assert "negociar o novo valor" not in intro
    assert f"Você tem {format_brl(paid - 10_000)} de crédito" in intro


def test_bruno_asks_for_the_boleto_after_the_lowering_settled_his_debt(tmp_path: Path) -> None:
    """Options 1 and 2 say it as the term does: settled by what he paid, nothing to
    negotiate (they offered a new negotiation of a debt with nothing left to pay)."""
    chat, _ = _bruno_paid_then_lowered_to_less(tmp_path)

    chat.whatsapp("Oi")
    chat.whatsapp(JOAO)
    [answer] = said(chat.whatsapp("1"))

    assert "que ficou quitada com o que você já pagou" in answer
    assert "negociar o novo valor" not in answer
    assert answer.endswith("Os boletos desse acordo não servem mais para pagamento.")
