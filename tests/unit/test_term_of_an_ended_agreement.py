"""QA pass 9, D5 and D8 (the term of agreement).

D5: the term PDF of Cauã's agreement, ended when the creditor lowered his debt, still read as
an agreement in force ("O DEVEDOR reconhece e confessa, de forma irrevogável ...") with no
word that it had ended. The term of an agreement no longer in force now carries, above its
terms and in every page's footer, "ACORDO ENCERRADO em DD/MM/AAAA: <why>" (negotiation's
end_reason); a paid-off one "ACORDO QUITADO em DD/MM/AAAA".

D8: the term of a renegotiation after an end listed the R$ 664,80 left of a R$ 2.000,00 debt
as "Valor original": the column is "Principal em aberto" (what the debt owed of its principal
on the agreement day)."""

from __future__ import annotations

import io
import uuid
from pathlib import Path

import pytest
from pypdf import PdfReader

from contracts.negotiation_requests import GetDocument
from services.negotiation.entrypoints.requests import answer
from tests.unit.test_chatbot import Chat, closed_with
from tests.unit.test_chatbot_agreement_end_reason import _ended
from tests.unit.test_negotiation_app import AGENCY, TODAY


def _term_text(chat: Chat, agreement_id: str) -> list[str]:
    """Each page's text of the agreement's term, as the portal and the chat's link get it."""
    pdf = answer(chat.negotiation.app, GetDocument(tenant=AGENCY, agreement_id=agreement_id), TODAY)
    assert isinstance(pdf, bytes)
    return [" ".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(pdf)).pages]


@pytest.mark.parametrize(
    ("how", "why"),
    [
        (
            "debt_amount_lowered",
            "o credor reduziu o valor da dívida e as parcelas em aberto foram canceladas",
        ),
        ("debt_withdrawn", "o credor retirou a dívida da cobrança e as parcelas em aberto"),
        ("not_paid", "quebrado por falta de pagamento; as parcelas em aberto foram canceladas"),
    ],
)
def test_the_term_of_an_ended_agreement_is_marked_with_the_day_and_why(
    tmp_path: Path, how: str, why: str
) -> None:
    chat = Chat(tmp_path)
    [agreement] = closed_with(chat, ["Banco Horizonte"])
    _ended(chat, agreement.agreement_id, how)
    ended = chat.negotiation.app.repository.get(uuid.UUID(agreement.agreement_id))

    pages = _term_text(chat, agreement.agreement_id)

    text = " ".join(pages)
    assert f"ACORDO ENCERRADO em {ended.ended_on:%d/%m/%Y}: {why}" in text
    assert "Este acordo não está mais em vigor" in text
    assert text.index("ACORDO ENCERRADO") < text.index("confessa")  # above the terms
    for page in pages:
        assert f"(ACORDO ENCERRADO em {ended.ended_on:%d/%m/%Y})" in page


def test_the_term_of_an_agreement_in_force_has_no_mark(tmp_path: Path) -> None:
    chat = Chat(tmp_path)
    [agreement] = closed_with(chat, ["Banco Horizonte"])

    text = " ".join(_term_text(chat, agreement.agreement_id))

    assert "ENCERRADO" not in text and "QUITADO" not in text
    assert "confessa" in text


def test_the_debts_principal_is_what_was_owed_not_called_original(tmp_path: Path) -> None:
    chat = Chat(tmp_path)
    [agreement] = closed_with(chat, ["Banco Horizonte"])

    text = " ".join(_term_text(chat, agreement.agreement_id))

    assert "Principal em aberto" in text
    assert "Valor original" not in text


def test_the_term_of_a_paid_off_agreement_says_so(tmp_path: Path) -> None:
    chat = Chat(tmp_path)
    [agreement] = closed_with(chat, ["Banco Horizonte"])
    for invoice in agreement.invoices:
        chat.negotiation.pay(
            invoice_id=invoice.invoice_id, amount_cents=invoice.amount_cents, paid_on=TODAY
        )

    text = " ".join(_term_text(chat, agreement.agreement_id))

    assert f"ACORDO QUITADO em {TODAY:%d/%m/%Y}: todas as parcelas foram pagas." in text
    assert "ENCERRADO" not in text
