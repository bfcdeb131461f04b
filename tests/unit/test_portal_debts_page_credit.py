"""QA pass 9, D4 (what c887577 left): the debtor's credit, what they paid beyond what the debts
of an ended agreement owe, was named on the agreement's page (negotiation's `credit_cents`)
but not on the debts page, where the debtor reads their agreements: Bruno's R$ 420,00 after
the creditor lowered his debt to R$ 300,00 below the R$ 720,00 he had paid.

Now the debts page says "Você tem R$ X de crédito: o que pagou além do que as dívidas deste
acordo devem" under each ended agreement that left some, from the portal view, the source of
its list: the credit its end left (`AgreementBroken` v2/v3 `credit_cents`) plus each
payment's (`PaymentReceived` `credit_cents`, a cancelled boleto paid after the end), as
negotiation sums them; the same whatever the order the topics come in, or read twice."""

from __future__ import annotations

import itertools
from typing import Any

from litestar import Litestar
from litestar.testing import TestClient

from services.gateway.read_models.portal_view import PortalViewProjection, agreements_of
from tests.unit.test_portal_agreement_end_reason import _card, _ours, ended
from tests.unit.test_portal_agreements import closed
from tests.unit.test_portal_pages import (  # noqa: F401 (fixtures)
    ISABELA,
    TENANT,
    client,
    gateway,
    negotiation,
    sign_in,
)
from tests.unit.test_portal_view_payments import received
from tests.unit.test_projections import VAULT


def credit(cents: str) -> str:
    return (
        f'Você tem <span class="dinheiro">R$ {cents}</span> de crédito: o que pagou além do '
        "que as dívidas deste acordo devem."
    )


def lowered_below_what_was_paid(agreement_id: str, credit_cents: int) -> Any:
    """The creditor lowered the debt below what the agreement had been paid."""
    return _ours(
        ended(agreement_id, "debt_amount_lowered").model_copy(update={"credit_cents": credit_cents})
    )


def paid_after_the_end(agreement_id: str, number: int, cents: int, credit_cents: int) -> Any:
    """The cancelled boleto `number` paid after the end: what no debt took is credit."""
    payment = received(agreement_id, number, cents, balance=51_000, outcome="excess")
    return _ours(
        payment.model_copy(
            update={"applied_cents": 0, "credit_cents": credit_cents, "reason": "acordo quebrado"}
        )
    )


def apply(app: TestClient[Litestar], *events: Any) -> None:
    with app.app.state.read_engine.begin() as conn:
        PortalViewProjection(VAULT).apply(conn, list(events))


def test_bruno_the_debts_page_names_his_credit_under_the_ended_agreement(
    client: TestClient[Litestar],  # noqa: F811 (the fixture imported above)
) -> None:
    apply(
        client,
        _ours(closed("qb", ["d-bank"])),
        lowered_below_what_was_paid("qb", 42_000),
        # Another agreement, ended by the debtor's break, left no credit.
        _ours(closed("qn", ["d-bank"])),
        _ours(ended("qn", "later_installment")),
    )
    sign_in(client, ISABELA)
    page = client.get(f"/p/{TENANT}/dividas").text
    assert credit("420,00") in _card(page, "qb")
    assert "de crédito" not in _card(page, "qn")

    # He pays the cancelled parcela 2 after the end: R$ 262,23 no debt could take.
    apply(client, paid_after_the_end("qb", 2, 26_223, 26_223))
    assert credit("682,23") in _card(client.get(f"/p/{TENANT}/dividas").text, "qb")


def test_a_withdrawal_names_the_credit_and_an_active_agreement_none(
    client: TestClient[Litestar],  # noqa: F811 (the fixture imported above)
) -> None:
    apply(
        client,
        _ours(closed("qw", ["d-bank"])),
        _ours(ended("qw", "debt_withdrawn")),  # the withdrawn debt's share: R$ 510,00
        # An active agreement paid twice over: credit too, but the agreement still runs and
        # its page does not name it either.
        _ours(closed("qa", ["d-bank"])),
        paid_after_the_end("qa", 1, 51_000, 51_000),
    )
    sign_in(client, ISABELA)
    page = client.get(f"/p/{TENANT}/dividas").text
    assert credit("510,00") in _card(page, "qw")
    assert "de crédito" not in _card(page, "qa")


def test_the_credit_is_the_same_in_any_order_and_read_twice(
    client: TestClient[Litestar],  # noqa: F811 (the fixture imported above)
) -> None:
    events = [
        _ours(closed("qb", ["d-bank"])),
        lowered_below_what_was_paid("qb", 42_000),
        paid_after_the_end("qb", 2, 26_223, 26_223),
        paid_after_the_end("qb", 1, 1_000, 1_000),
    ]
    engine = client.app.state.read_engine
    for order in itertools.permutations(events):
        if order.index(events[0]) > order.index(events[1]):
            continue  # one topic, one key: the end always comes after the closing
        with engine.begin() as conn:
            PortalViewProjection(VAULT).reset(conn)
        for event in order:
            apply(client, event)
            apply(client, event)
        [shown] = agreements_of(engine, TENANT, ISABELA)
        assert (shown["status"], shown["credit_cents"]) == ("broken", 69_223), order
