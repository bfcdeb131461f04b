"""A payment on the debtor's timeline: people read its amounts in reais, the reason of a
partial payment too, also as the negotiation service worded it before (in centavos)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from contracts.negotiation import PaymentReceived
from services.gateway.read_models.timeline import summarize


def partial(reason: str) -> PaymentReceived:
    return PaymentReceived(
        event_id=uuid.uuid4(),
        occurred_at=dt.datetime(2026, 11, 25, 13, tzinfo=dt.UTC),
        tenant="recupera-sul",
        aggregate_id="p1",
        aggregate_version=1,
        correlation_id="p1",
        causation_id="p1",
        payment_id="p1",
        source="api",
        reference="pix-1",
        invoice_id="i1",
        document="52998224725",
        installment_number=2,
        amount_cents=1_918,
        paid_on=dt.date(2026, 11, 25),
        outcome="partial",
        applied_cents=1_918,
        balance_cents=32_082,
        credit_cents=0,
        reason=reason,
    )


@pytest.mark.parametrize(
    "reason",
    [
        "pagamento parcial: faltam R$ 320,82 nesta parcela",  # as the service says it now
        "pagamento parcial: faltam 32082 centavos nesta parcela",  # as it said it before
    ],
)
def test_a_partial_payment_says_what_is_left_in_reais(reason: str) -> None:
    assert summarize(partial(reason)) == (
        "Pagamento recebido de R$ 19,18: pagamento parcial "
        "(pagamento parcial: faltam R$ 320,82 nesta parcela)"
    )


def test_a_payment_after_the_agreement_ended_is_not_called_an_overpayment() -> None:
    """QA pass 8: a payment to a broken agreement's boleto read "pago a mais" on the timeline;
    the debtor paid what the boleto asked. A real overpayment still reads so."""
    after_break = partial("").model_copy(
        update={
            "amount_cents": 150_000,
            "outcome": "excess",
            "applied_cents": 0,
            "balance_cents": 150_000,
            "credit_cents": 0,
            "reason": "acordo quebrado: o valor foi abatido das dívidas que voltaram à cobrança",
        }
    )
    assert summarize(after_break) == (
        "Pagamento recebido de R$ 1.500,00: recebido depois do fim do acordo (acordo quebrado: "
        "o valor foi abatido das dívidas que voltaram à cobrança)"
    )
    overpaid = partial("").model_copy(
        update={
            "amount_cents": 40_000,
            "outcome": "excess",
            "applied_cents": 32_082,
            "balance_cents": 0,
            "credit_cents": 7_918,
            "reason": "pago a mais: o excedente fica como crédito",
        }
    )
    assert summarize(overpaid) == (
        "Pagamento recebido de R$ 400,00: pago a mais (pago a mais: o excedente fica como crédito)"
    )
