"""A stage of the ruler on the debtor's timeline names what reached it: the debt by its
contract, an agreement's installment as its boleto names it (StageAdvanced v2); a stage
published before (version 1) says only whether it was a debt or an installment."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest

from contracts.ruler import NegativationHeld, StageAction, StageAdvanced, StageAdvancedV2
from services.gateway.read_models.timeline import SERVICE_OF, summarize


def stage(kind: str, contract: str | None) -> StageAdvanced:
    fields: dict[str, Any] = {
        "event_id": uuid.uuid4(),
        "occurred_at": dt.datetime(2026, 11, 25, 13, tzinfo=dt.UTC),
        "tenant": "recupera-sul",
        "aggregate_id": "r1",
        "aggregate_version": 2,
        "correlation_id": "r1",
        "causation_id": "r1",
        "receivable_id": "r1",
        "receivable_kind": kind,
        "document": "52998224725",
        "creditor": "Banco Horizonte",
        "amount_cents": 51_216,
        "due_date": dt.date(2026, 11, 20),
        "ruler_id": "padrao",
        "from_stage": "current",
        "to_stage": "notice",
        "days_overdue": 5,
        "on_date": dt.date(2026, 11, 25),
        "actions": [StageAction(kind="message", key="k", channel="sms", template="aviso")],
    }
    return (
        StageAdvanced(**fields)
        if contract is None
        else StageAdvancedV2(**fields, contract=contract)
    )


@pytest.mark.parametrize(
    ("kind", "contract", "what"),
    [
        ("installment", "acordo 1a2b3c4d entrada", "Acordo 1a2b3c4d entrada (Banco Horizonte"),
        (
            "installment",
            "acordo 1a2b3c4d parcela 1 de 3",
            "Acordo 1a2b3c4d parcela 1 de 3 (Banco Horizonte",
        ),
        ("debt", "CTR-0042", "Dívida (Banco Horizonte, contrato CTR-0042"),
        ("installment", None, "Parcela de acordo (Banco Horizonte"),  # version 1
        ("debt", None, "Dívida (Banco Horizonte"),
    ],
)
def test_a_stage_names_what_reached_it(kind: str, contract: str | None, what: str) -> None:
    summary = summarize(stage(kind, contract))
    assert summary is not None and summary.startswith(what)
    assert summary.endswith(
        ", R$ 512,16) entrou na etapa aviso de cobrança com 5 dia(s) de atraso; ações: mensagem "
        "por SMS (aviso)"
    )


def test_a_bureau_stage_says_the_listing_is_asked_not_done() -> None:
    """The listing waits for the notice's days: it is its own entry (DebtorNegativated)."""
    bureau = stage("debt", "CTR-0042").model_copy(
        update={
            "to_stage": "credit_bureau",
            "actions": [StageAction(kind="credit_bureau", key="k-b")],
        }
    )
    summary = summarize(bureau)
    assert summary is not None
    assert summary.endswith(
        "entrou na etapa negativação com 5 dia(s) de atraso; ações: pedido de negativação "
        "(após o aviso prévio)"
    )


def test_a_listing_held_for_want_of_a_sent_notice_says_why_and_what_to_do() -> None:
    """CDC art. 43 §2: no notice went out (every one came back not sent), so no listing: the
    operator reads it on the debtor's timeline, with messaging's reasons."""
    held = NegativationHeld(
        event_id=uuid.uuid4(),
        occurred_at=dt.datetime(2026, 11, 25, 13, tzinfo=dt.UTC),
        tenant="recupera-sul",
        aggregate_id="r1",
        aggregate_version=4,
        correlation_id="r1",
        causation_id="r1",
        receivable_id="r1",
        receivable_kind="debt",
        document="52998224725",
        creditor="Banco Horizonte",
        contract="CTR-0042",
        amount_cents=51_216,
        due_date=dt.date(2026, 11, 20),
        ruler_id="padrao",
        notice_keys=["k-sms", "k-email", "k-aviso"],
        reasons=["sem telefone na carteira", "sem e-mail na carteira", "sem telefone na carteira"],
        on_date=dt.date(2026, 11, 25),
    )
    assert summarize(held) == (
        "Negativação suspensa (Banco Horizonte, contrato CTR-0042, R$ 512,16): aviso prévio não "
        "enviado (sem telefone na carteira; sem e-mail na carteira); contatar o devedor por "
        "outro meio"
    )
    assert NegativationHeld in SERVICE_OF and SERVICE_OF[NegativationHeld] == "ruler"
