"""One finalization message per contract, not per installment (Cedrus seed 001: a duplicate
to the debtor is cobrança indevida). A debtor who renegotiates three installments of one
contract on the portal, or two with an operator, leaves the ruler with all of them at once;
the template names the contract ("sua dívida com {credor} ({numero}) foi renegociada"), so
the debtor gets it once, saying the amounts of all of them, and a redelivered agreement asks
for nothing more."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import StoredEvent

from contracts.negotiation import AgreementClosed, AgreementDebt
from contracts.portfolio import DebtImported
from services.ruler.adapters.integration_events import integration_events
from services.ruler.domain.receivable import Receivable
from tests.unit.test_ruler_app import DUE, Ruler, agreement_fields, debt

MARCELO = "31160751587"
CONTRACT = "BHS-01569090"
CLOSED_ON = DUE + dt.timedelta(days=13)  # the installments are in the notice stage by then


@pytest.fixture
def ruler(tmp_path: Path) -> Ruler:
    return Ruler(tmp_path)


def installment(debt_id: str, number: int, amount: int, contract: str = CONTRACT) -> DebtImported:
    """An installment of Marcelo's contract, due a month after the one before it."""
    return debt(debt_id, due=DUE + dt.timedelta(days=30 * (number - 1)), amount=amount).model_copy(
        update={"document": MARCELO, "contract": contract, "installment": str(number)}
    )


def agreement_over(*debts: DebtImported, agreement_id: str = "a1") -> AgreementClosed:
    fields = agreement_fields(CLOSED_ON)
    [template] = fields["debts"]
    fields.update(
        agreement_id=agreement_id,
        document=MARCELO,
        debt_ids=[d.debt_id for d in debts],
        debts=[
            AgreementDebt(
                **{
                    **template.model_dump(),
                    "debt_id": d.debt_id,
                    "contract": d.contract,
                    "installment": d.installment,
                    "due_date": d.due_date,
                    "principal_cents": d.original_amount_cents,
                }
            )
            for d in debts
        ],
    )
    return AgreementClosed(**fields, debtor_name="Marcelo Paulo da Costa")


def finalizations(ruler: Ruler) -> list[Any]:
    return [m for m in ruler.published("MessageRequested") if m.purpose == "finalization"]


def test_an_agreement_over_three_installments_of_a_contract_sends_one_message(
    ruler: Ruler,
) -> None:
    first, second, third = (
        installment("d1", 1, 123_456),
        installment("d2", 2, 50_000),
        installment("d3", 3, 25_000),
    )
    ruler.receive(first, second, third)
    ruler.run(DUE, CLOSED_ON + dt.timedelta(days=60))  # every one of them in the ruler
    ruler.receive(agreement_over(first, second, third), today=CLOSED_ON)

    [message] = finalizations(ruler)
    assert (message.channel, message.template) == ("email", "quitacao")
    assert message.variables["numero"] == CONTRACT
    assert message.variables["motivo"] == "renegociada"
    # What it says speaks for the three: their amounts summed, the oldest due date.
    assert message.variables["valor"] == "R$ 1.984,56"
    assert message.variables["vencimento"] == "01/10/2026"
    assert message.variables["dias_atraso"] == "13"
    # Its key is the first installment's, as it would have been alone.
    assert message.key == "recupera-sul|d1|finalized|0|message:email:quitacao"
    # Each installment still leaves the ruler (and the timeline says so).
    left = ruler.published("ReceivableLeftRuler")
    assert sorted(e.receivable_id for e in left) == ["d1", "d2", "d3"]
    assert [len(e.actions) for e in sorted(left, key=lambda e: e.receivable_id)] == [1, 0, 0]


def test_an_operators_agreement_over_two_installments_sends_one_message(ruler: Ruler) -> None:
    first, second = installment("d7", 1, 10_000), installment("d8", 2, 10_000)
    ruler.receive(first, second)
    ruler.run(DUE, CLOSED_ON + dt.timedelta(days=40))
    agreement = agreement_over(second, first).model_copy(update={"channel": "operator"})
    ruler.receive(agreement, today=CLOSED_ON)
    [message] = finalizations(ruler)
    assert message.receivable_id == "d7" and message.variables["valor"] == "R$ 200,00"


def test_the_agreement_delivered_again_asks_for_nothing_more(ruler: Ruler) -> None:
    first, second, third = (installment(f"d{n}", n, 10_000) for n in (1, 2, 3))
    ruler.receive(first, second, third)
    ruler.run(DUE, CLOSED_ON + dt.timedelta(days=60))
    agreement = agreement_over(first, second, third)
    ruler.receive(agreement, today=CLOSED_ON)
    ruler.receive(agreement, agreement, today=CLOSED_ON)  # read again (a replay, a crash)
    assert len(finalizations(ruler)) == 1
    assert len(ruler.published("ReceivableLeftRuler")) == 3


def test_two_contracts_in_one_agreement_get_a_message_each(ruler: Ruler) -> None:
    debts = (
        installment("d1", 1, 10_000),
        installment("d2", 2, 10_000),
        installment("e1", 1, 30_000, contract="BHS-07777777"),
    )
    ruler.receive(*debts)
    ruler.run(DUE, CLOSED_ON + dt.timedelta(days=60))
    ruler.receive(agreement_over(*debts), today=CLOSED_ON)
    said = sorted((m.variables["numero"], m.variables["valor"]) for m in finalizations(ruler))
    assert said == [("BHS-01569090", "R$ 200,00"), ("BHS-07777777", "R$ 300,00")]


def test_a_single_receivable_leaving_says_what_it_always_said(ruler: Ruler) -> None:
    only = installment("d1", 1, 123_456)
    ruler.receive(only)
    ruler.run(DUE, CLOSED_ON)
    ruler.receive(agreement_over(only), today=CLOSED_ON)
    [message] = finalizations(ruler)
    assert message.variables["valor"] == "R$ 1.234,56"
    assert message.key == "recupera-sul|d1|finalized|0|message:email:quitacao"


def test_a_left_event_stored_before_groups_reads_and_publishes_as_it_did(ruler: Ruler) -> None:
    only = installment("d1", 1, 123_456)
    ruler.receive(only)
    ruler.run(DUE, CLOSED_ON)
    ruler.receive(agreement_over(only), today=CLOSED_ON)
    mapper = ruler.app.mapper
    [stored] = [
        n
        for n in ruler.app.recorder.select_notifications(1, 100_000)
        if n.topic.endswith("Receivable.Left")
    ]
    # As version 1 stored it: no message_facts, no class_version.
    state = mapper.transcoder.decode(stored.state)
    assert state.pop("class_version") == 2 and state.pop("message_facts") is None
    old = StoredEvent(
        originator_id=stored.originator_id,
        originator_version=stored.originator_version,
        topic=stored.topic,
        state=mapper.transcoder.encode(state),
    )
    event = mapper.to_domain_event(old)
    assert isinstance(event, Receivable.Left)  # type: ignore[attr-defined]
    assert event.message_facts is None
    [(_, requested)] = [
        (t, e) for t, e in integration_events(event) if e.type == "MessageRequested"
    ]
    assert json.loads(requested.model_dump_json())["variables"]["valor"] == "R$ 1.234,56"
