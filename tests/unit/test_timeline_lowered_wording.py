"""QA pass 9, D8: the timeline of an agreement the creditor ended by lowering debts said
"as dívidas voltam à cobrança, a reduzida pelo novo valor" whatever the number of debts
lowered: two lowered in one file still read "a reduzida", and a lowered debt left with nothing
to pay (settled) was still said to come back "pelo novo valor". The line now counts the
lowered debts that come back: "a reduzida" (one of several), "as reduzidas" (some of
several), "pelos novos valores" (every debt that comes back was lowered)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from contracts.money import format_brl
from services.gateway.read_models.timeline import Personal, describe
from tests.unit.test_negotiation_app import Negotiation
from tests.unit.test_negotiation_debt_lowered import Creditor, broken


@pytest.fixture
def neg(tmp_path: Path) -> Iterator[Negotiation]:
    n = Negotiation(tmp_path)
    n.portal_discounts()
    yield n


def _first_paid(neg: Negotiation, debt_ids: list[str]) -> None:
    agreement = neg.close(debt_ids, 3)
    first = agreement.invoices[0]
    neg.pay(invoice_id=first.invoice_id, amount_cents=first.amount_cents, paid_on=first.due_date)


def test_two_debts_lowered_in_one_file_come_back_by_their_new_values(neg: Negotiation) -> None:
    creditor = Creditor(neg)
    a, b = creditor.debt("CT-a", 100_000), creditor.debt("CT-b", 50_000)
    _first_paid(neg, [a, b])

    creditor.negotiation_reads_updates(
        creditor.sends_amount(a, 90_000), creditor.sends_amount(b, 40_000)
    )

    [ended] = broken(neg)
    text = describe(ended, Personal(redact=True))
    assert text.startswith("Acordo encerrado: o credor reduziu o valor de 2 dívidas (")
    assert text.endswith(
        f"; {format_brl(ended.paid_cents)} pagos são abatidos das dívidas, que voltam à "
        "cobrança pelos novos valores"
    )
    assert ", a reduzida" not in text


def test_two_of_three_debts_lowered_are_named_in_the_plural(neg: Negotiation) -> None:
    creditor = Creditor(neg)
    a, b = creditor.debt("CT-a", 100_000), creditor.debt("CT-b", 50_000)
    c = creditor.debt("CT-c", 80_000)
    _first_paid(neg, [a, b, c])

    creditor.negotiation_reads_updates(
        creditor.sends_amount(a, 90_000), creditor.sends_amount(b, 40_000)
    )

    [ended] = broken(neg)
    assert describe(ended, Personal(redact=True)).endswith(
        "que voltam à cobrança, as reduzidas pelos novos valores"
    )


def test_a_lowered_debt_left_settled_is_not_said_to_come_back(neg: Negotiation) -> None:
    creditor = Creditor(neg)
    a, b = creditor.debt("CT-a", 100_000), creditor.debt("CT-b", 50_000)
    _first_paid(neg, [a, b])

    creditor.negotiation_reads_updates(creditor.sends_amount(b, 1_000))

    [ended] = broken(neg)
    text = describe(ended, Personal(redact=True))
    assert ended.credit_cents > 0  # b's share of what was paid is more than its new amount
    assert "; a dívida volta à cobrança" in text or "da dívida, que volta à cobrança;" in text
    assert "pelo novo valor" not in text and ", a reduzida" not in text
    assert "; nada resta a pagar da dívida reduzida, que fica quitada; " in text


def test_one_debt_of_two_lowered_is_still_a_reduzida(neg: Negotiation) -> None:
    creditor = Creditor(neg)
    a, b = creditor.debt("CT-a", 100_000), creditor.debt("CT-b", 50_000)
    _first_paid(neg, [a, b])

    creditor.negotiation_reads_updates(creditor.sends_amount(b, 30_000))

    [ended] = broken(neg)
    assert describe(ended, Personal(redact=True)).endswith(
        "que voltam à cobrança, a reduzida pelo novo valor"
    )
