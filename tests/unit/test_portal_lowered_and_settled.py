"""QA pass 9, D4: when the creditor's lowering left nothing to pay (Bruno's debt lowered to
R$ 300,00 below the R$ 720,00 he had paid: settled, R$ 420,00 his credit), the portal still
said "você pode negociar o novo valor" right under "Não há mais dívidas para negociar", and
the debtor's credit was shown nowhere to him; Cauã's payments to his cancelled parcelas, which
paid off his debt, showed only as "Cancelada".

Now an ended agreement whose debts owe nothing says "o credor reduziu o valor da dívida, que
ficou quitada com o que você já pagou" (negotiation answers `owed_cents`, the debts page reads
its debts' status), its page names the debtor's credit, and a cancelled parcela says what was
paid to it: "Cancelada (pago R$ X antes do cancelamento)", or the payment received after."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from litestar import Litestar
from litestar.testing import TestClient

from contracts.negotiation_requests import GetAgreement
from services.gateway.entrypoints.web.formatting import (
    agreement_credit,
    agreement_end,
    invoice_situation,
)
from services.gateway.read_models.portal_view import PortalViewProjection
from services.negotiation.domain.agreement import Agreement
from tests.unit.test_portal_agreement_end_reason import LOWERED, _card, _ours, ended
from tests.unit.test_portal_agreements import closed
from tests.unit.test_portal_pages import (  # noqa: F401 (fixtures)
    ISABELA,
    TENANT,
    TODAY,
    _closed,
    _pay,
    client,
    gateway,
    negotiation,
    sign_in,
)
from tests.unit.test_projections import VAULT
from tests.unit.test_read_model_batches import settled

SETTLED = "Encerrado: o credor reduziu o valor da dívida, que ficou quitada com o que você já pagou"


def test_the_words_of_a_lowering_that_left_nothing_to_pay() -> None:
    def row(owed: int | None, credit: int = 0) -> dict[str, Any]:
        return {
            "status": "broken",
            "end_reason": "debt_amount_lowered",
            "owed_cents": owed,
            "credit_cents": credit,
        }

    assert agreement_end(row(0)) == SETTLED
    assert agreement_end(row(66_480)) == LOWERED
    assert agreement_end(row(None)) == LOWERED  # not known: as before
    assert agreement_credit(row(0)) is None
    assert agreement_credit(row(0, 42_000)) == (
        'Você tem <span class="dinheiro">R$ 420,00</span> de crédito: o que pagou além do que '
        "as dívidas deste acordo devem"
    )
    assert agreement_credit({"status": "active", "credit_cents": 500}) is None

    def invoice(paid: int, after: int | None = None) -> dict[str, Any]:
        shown = {"status": "cancelled", "amount_cents": 33_333, "paid_cents": paid}
        return shown if after is None else {**shown, "received_after_end_cents": after}

    assert invoice_situation(invoice(0)) == "Cancelada"
    assert invoice_situation(invoice(10_000)) == (
        "Cancelada (pago R$ 100,00 antes do cancelamento)"
    )
    assert invoice_situation(invoice(0, 26_225)) == (
        "Cancelada (pagamento de R$ 262,25 recebido depois)"
    )
    assert invoice_situation(invoice(10_000, 5_000)) == (
        "Cancelada (pago R$ 100,00 antes do cancelamento; pagamento de R$ 50,00 recebido depois)"
    )


def _lowered_below_what_was_paid(neg: Any, agreement_id: str) -> Agreement:
    agreement: Agreement = neg.app.repository.get(uuid.UUID(agreement_id))
    [held] = agreement.debt_ids
    principal = agreement.debts[0]["principal_cents"]
    assert agreement.end_by_lowering(
        [
            {
                "debt_id": held,
                "contract": "C-d-old",
                "installment": "1",
                "old_amount_cents": principal,
                "new_amount_cents": 10_000,
                "owed_cents": 10_000,
                "import_id": "imp-2",
                "row_key": "C-d-old/1",
            }
        ],
        TODAY,
    )
    neg.app.save(agreement)
    return agreement


def test_bruno_the_agreement_page_says_the_debt_was_settled_and_names_his_credit(
    client: TestClient[Litestar],  # noqa: F811 (the fixture imported above)
    negotiation: Any,  # noqa: F811
) -> None:
    sign_in(client, ISABELA)
    page = _closed(client, "d-old", "3")
    agreement_id = page.rsplit("/", 1)[-1]
    first = negotiation.app.get_agreement(
        GetAgreement(tenant=TENANT, agreement_id=agreement_id), TODAY
    ).invoices[0]
    _pay(negotiation, first.invoice_id, first.amount_cents)
    _lowered_below_what_was_paid(negotiation, agreement_id)
    credit = first.amount_cents - 10_000

    shown = negotiation.app.get_agreement(
        GetAgreement(tenant=TENANT, agreement_id=agreement_id), TODAY
    )
    assert (shown.owed_cents, shown.credit_cents) == (0, credit)
    text = client.get(page).text
    assert f'<p class="motivo-fim" id="motivo-fim">{SETTLED}.</p>' in text
    assert "negociar o novo valor" not in text
    assert 'id="credito">Você tem <span class="dinheiro">' in text

    # He pays the cancelled parcela 2's boleto anyway: received, and his credit (the debt owes
    # nothing), said on the page.
    second = shown.invoices[1]
    _pay(negotiation, second.invoice_id, second.amount_cents)
    after = negotiation.app.get_agreement(
        GetAgreement(tenant=TENANT, agreement_id=agreement_id), TODAY
    )
    assert after.invoices[1].received_after_end_cents == second.amount_cents
    assert after.credit_cents == credit + second.amount_cents
    text = client.get(page).text
    assert "Cancelada (pagamento de R$" in text and "recebido depois)" in text
    from contracts.money import format_brl

    assert f'Você tem <span class="dinheiro">{format_brl(after.credit_cents)}</span>' in text


def test_a_lowering_that_leaves_debt_to_pay_still_says_negotiate(
    client: TestClient[Litestar],  # noqa: F811 (the fixture imported above)
    negotiation: Any,  # noqa: F811
) -> None:
    sign_in(client, ISABELA)
    page = _closed(client, "d-old", "3")
    agreement_id = page.rsplit("/", 1)[-1]
    agreement: Agreement = negotiation.app.repository.get(uuid.UUID(agreement_id))
    [held] = agreement.debt_ids
    principal = agreement.debts[0]["principal_cents"]
    assert agreement.end_by_lowering(
        [
            {
                "debt_id": held,
                "contract": "C-d-old",
                "installment": "1",
                "old_amount_cents": principal,
                "new_amount_cents": principal // 2,
                "owed_cents": principal // 2,
                "import_id": "imp-2",
                "row_key": "C-d-old/1",
            }
        ],
        TODAY,
    )
    negotiation.app.save(agreement)

    shown = negotiation.app.get_agreement(
        GetAgreement(tenant=TENANT, agreement_id=agreement_id), TODAY
    )
    assert shown.owed_cents == principal // 2
    text = client.get(page).text
    assert f"{LOWERED}." in text
    assert 'id="credito"' not in text


def test_the_debts_page_says_the_lowered_debt_was_settled(
    client: TestClient[Litestar],  # noqa: F811 (the fixture imported above)
) -> None:
    events = [
        _ours(closed("ql", ["d-bank"])),
        _ours(ended("ql", "debt_amount_lowered")),
    ]
    with client.app.state.read_engine.begin() as conn:
        PortalViewProjection(VAULT).apply(conn, events)
    sign_in(client, ISABELA)
    assert LOWERED in _card(client.get(f"/p/{TENANT}/dividas").text, "ql")

    paid_off = settled("d-bank", "ql", 9).model_copy(
        update={"tenant": TENANT, "document": ISABELA, "settled_on": TODAY + dt.timedelta(1)}
    )
    with client.app.state.read_engine.begin() as conn:
        PortalViewProjection(VAULT).apply(conn, [paid_off])
    card = _card(client.get(f"/p/{TENANT}/dividas").text, "ql")
    assert SETTLED in card
    assert "negociar o novo valor" not in card
