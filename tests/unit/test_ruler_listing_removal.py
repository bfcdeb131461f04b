"""The debtor is told when their credit bureau listing is removed (seed 002, "Aba Finalizar
Cobrança", "Remover negativações de análise de crédito": the routine removes the listing and
sends "mensagem ... ao cliente que teve a baixa da negativação"). A listed receivable that
leaves the ruler (paid, settled, renegotiated, withdrawn) has its listing removed at the
bureau, and the ruler asks its `listing_removal_actions` once, beside the finalization's
message: one per contract when its listed installments leave together, none for a receivable
never listed, none when the ruler names no removal message (as a ruler saved before). An
agreement's listed installment cancelled by the agreement's break is taken down and told too,
with no finalization (its debts come back to collection)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from cobranca.demo_messaging import DEMO_TEMPLATES
from cobranca.demo_ruler import demo_ruler
from contracts.negotiation import AgreementBroken, AgreementClosed, BrokenAgreementDebt
from contracts.portfolio import DebtImported, DebtWithdrawn
from contracts.ruler import RulerDefinitionV3, RulerDefinitionV4, SendMessage
from contracts.ruler_requests import SaveRuler
from services.messaging.domain.templates import MAX_LENGTH, VARIABLES, check_template, render
from services.ruler.domain.stages import listing_removal
from tests.unit.test_ruler_app import (
    AGENCY,
    DUE,
    JOAO,
    RULER,
    Ruler,
    agreement_fields,
    debt,
    env,
)
from tests.unit.test_ruler_finalization_together import MARCELO, agreement_over, installment
from tests.unit.test_ruler_listing_notice import settled

BAIXA = SendMessage(channel="sms", template="baixa_negativacao")
WITH_REMOVAL = RULER.model_copy(update={"listing_removal_actions": [BAIXA]})
# D1 reaches the bureau stage on Monday 16/11/2026 (day 45 is Sunday 15/11, a holiday too),
# is sent the notice of the listing that day and listed 10 days after, Thursday 26/11.
LISTED_BY = DUE + dt.timedelta(days=56)
PAID_ON = DUE + dt.timedelta(days=58)  # Saturday 28/11/2026


@pytest.fixture
def ruler(tmp_path: Path) -> Ruler:
    found = Ruler(tmp_path)
    found.app.save_ruler(
        SaveRuler(tenant=AGENCY, ruler_id="padrao", definition=WITH_REMOVAL, saved_by="admin")
    )
    return found


def removal_messages(ruler: Ruler) -> list[Any]:
    return [m for m in ruler.published("MessageRequested") if "|listing_removal|" in m.key]


def finalizations(ruler: Ruler) -> list[str]:
    return [m.template for m in ruler.published("MessageRequested") if m.purpose == "finalization"]


def test_a_listed_debt_paid_is_taken_down_and_the_debtor_told_once(ruler: Ruler) -> None:
    ruler.receive(debt("d1"))
    ruler.run(DUE, LISTED_BY)
    [listed] = ruler.published("DebtorNegativated")
    ruler.receive(settled("d1", PAID_ON), today=PAID_ON)

    [removed] = ruler.published("NegativationRemoved")
    assert (removed.record_key, removed.reason) == (listed.record_key, "settled")
    assert ruler.bureau.listed_keys() == set()  # the bureau's exclusion record
    [message] = removal_messages(ruler)
    assert message.key == "recupera-sul|d1|listing_removal|0|message:sms:baixa_negativacao"
    assert (message.document, message.receivable_id) == (JOAO, "d1")
    assert (message.purpose, message.stage) == ("finalization", "finalized")
    assert message.variables["data_baixa"] == "28/11/2026"
    assert message.variables["numero"] == "C-d1"
    assert message.variables["credor"] == "Banco Horizonte"
    assert message.variables["motivo"] == "quitada"
    # Beside the finalization's own message, after it.
    assert finalizations(ruler) == ["quitacao", "baixa_negativacao"]

    # Delivered again (a replay, a restart), and the days run again: nothing more.
    ruler.receive(settled("d1", PAID_ON), settled("d1", PAID_ON), today=PAID_ON)
    ruler.run(DUE, PAID_ON + dt.timedelta(days=20))
    assert len(removal_messages(ruler)) == 1
    assert len(ruler.published("NegativationRemoved")) == 1


def test_a_debt_withdrawn_by_the_creditor_while_listed_is_told_too(ruler: Ruler) -> None:
    ruler.receive(debt("d1"))
    ruler.run(DUE, LISTED_BY)
    withdrawn = DebtWithdrawn(
        **env("d1", 2),
        debt_id="d1",
        document=JOAO,
        creditor="Banco Horizonte",
        contract="C-d1",
        installment="1",
        withdrawn_on=PAID_ON,
        reason="returned",
        import_id="imp-2",
        row_key="d1",
    )
    ruler.receive(withdrawn, today=PAID_ON)
    [message] = removal_messages(ruler)
    assert message.variables["motivo"] == "cancelada"


def test_a_debt_paid_before_it_was_listed_gets_no_removal_message(ruler: Ruler) -> None:
    ruler.receive(debt("d1"))
    ruler.run(DUE, DUE + dt.timedelta(days=20))  # questionamento: never listed
    ruler.receive(settled("d1", DUE + dt.timedelta(days=21)))
    assert ruler.published("NegativationRemoved") == []
    assert removal_messages(ruler) == []
    assert finalizations(ruler) == ["quitacao"]


def marcelos(*installments: DebtImported, closed_on: dt.date) -> AgreementClosed:
    agreement = agreement_over(*installments)
    return agreement.model_copy(update={"closed_on": closed_on})


def test_two_listed_installments_renegotiated_together_get_one_message(ruler: Ruler) -> None:
    first, second = installment("d1", 1, 123_456), installment("d2", 2, 50_000)
    ruler.receive(first, second)
    closed_on = DUE + dt.timedelta(days=90)
    ruler.run(DUE, closed_on - dt.timedelta(days=1))
    assert sorted(e.receivable_id for e in ruler.published("DebtorNegativated")) == ["d1", "d2"]
    ruler.receive(marcelos(first, second, closed_on=closed_on), today=closed_on)

    assert len(ruler.published("NegativationRemoved")) == 2
    assert ruler.bureau.listed_keys() == set()
    [message] = removal_messages(ruler)
    assert message.document == MARCELO
    assert message.key == "recupera-sul|d1|listing_removal|0|message:sms:baixa_negativacao"
    # It speaks for both listings: the contract, their amounts summed, the day taken down.
    assert message.variables["numero"] == "BHS-01569090"
    assert message.variables["valor"] == "R$ 1.734,56"
    assert message.variables["data_baixa"] == "30/12/2026"
    assert message.variables["motivo"] == "renegociada"
    # The agreement read again asks for nothing more.
    ruler.receive(marcelos(first, second, closed_on=closed_on), today=closed_on)
    assert len(removal_messages(ruler)) == 1


def test_only_the_listed_installments_are_said_taken_down(ruler: Ruler) -> None:
    # The first installment is listed; the second, a month younger, is not yet.
    first, second = installment("d1", 1, 123_456), installment("d2", 2, 50_000)
    ruler.receive(first, second)
    ruler.run(DUE, LISTED_BY)
    assert [e.receivable_id for e in ruler.published("DebtorNegativated")] == ["d1"]
    ruler.receive(marcelos(second, first, closed_on=PAID_ON), today=PAID_ON)
    [message] = removal_messages(ruler)
    assert message.receivable_id == "d1"
    assert message.variables["valor"] == "R$ 1.234,56"
    [finalization] = [m for m in ruler.published("MessageRequested") if "|finalized|" in m.key]
    assert finalization.variables["valor"] == "R$ 1.734,56"


def test_a_ruler_without_removal_messages_takes_the_listing_down_silently(
    tmp_path: Path,
) -> None:
    ruler = Ruler(tmp_path)  # the ruler of test_ruler_app: no listing_removal_actions
    assert RULER.listing_removal_actions == []
    ruler.receive(debt("d1"))
    ruler.run(DUE, LISTED_BY)
    ruler.receive(settled("d1", PAID_ON), today=PAID_ON)
    assert len(ruler.published("NegativationRemoved")) == 1
    assert removal_messages(ruler) == []
    assert finalizations(ruler) == ["quitacao"]


def test_a_ruler_saved_before_version_4_reads_without_a_removal_message() -> None:
    saved_v3 = RulerDefinitionV3(**RULER.model_dump(exclude={"listing_removal_actions"}))
    read = RulerDefinitionV4.model_validate_json(saved_v3.model_dump_json())
    assert read.listing_removal_actions == []
    assert listing_removal(read, AGENCY, "d1", "debt", "settled") == []


def test_a_broken_agreements_listed_installment_is_taken_down_and_the_debtor_told(
    ruler: Ruler,
) -> None:
    # João's agreement over d1 (14/10) in one boleto due 21/10, never paid: the ruler charges
    # it as any receivable and lists it (a tenant that breaks agreements late, or never).
    ruler.receive(debt("d1"))
    closed_on = DUE + dt.timedelta(days=13)
    agreement = AgreementClosed(**agreement_fields(closed_on), debtor_name="João da Silva")
    ruler.receive(agreement, today=closed_on)
    broken_on = dt.date(2026, 12, 23)  # a Wednesday
    ruler.run(closed_on, broken_on - dt.timedelta(days=1))
    [listed] = ruler.published("DebtorNegativated")
    assert listed.receivable_id == "inv-1"
    assert ruler.bureau.listed_keys() == {listed.record_key}
    broken = AgreementBroken(
        **env("a1", 2),
        agreement_id="a1",
        document=JOAO,
        creditor="Banco Horizonte",
        broken_on=broken_on,
        rule="first_installment",
        installment_number=1,
        days_overdue=63,
        paid_cents=0,
        debts=[BrokenAgreementDebt(debt_id="d1", paid_cents=0, balance_cents=100_000)],
    )

    # The boleto is cancelled with the agreement: its listing is for something that no longer
    # exists, and comes down that day (the debt comes back to collection, and is listed again
    # only after a notice of its own).
    ruler.receive(broken, today=broken_on)

    [removed] = ruler.published("NegativationRemoved")
    assert (removed.receivable_id, removed.reason) == ("inv-1", "cancelled")
    assert ruler.bureau.listed_keys() == set()
    # The debtor is told the listing was taken down (seed 002), as for any listing removed...
    [message] = removal_messages(ruler)
    assert message.key == "recupera-sul|inv-1|listing_removal|0|message:sms:baixa_negativacao"
    assert (message.document, message.receivable_id) == (JOAO, "inv-1")
    assert message.variables["numero"] == "acordo a1 parcela única"
    assert message.variables["valor"] == "R$ 1.024,33"
    assert message.variables["data_baixa"] == "23/12/2026"
    # ...but not that the debt ended: it did not (no finalization of its own).
    assert finalizations(ruler) == ["baixa_negativacao"]

    # The break read again (a replay, a restart), and the days after: nothing more.
    ruler.receive(broken, broken, today=broken_on)
    ruler.run(broken_on, broken_on + dt.timedelta(days=5))
    assert len(removal_messages(ruler)) == 1
    assert len(ruler.published("NegativationRemoved")) == 1


def test_a_broken_agreements_installment_never_listed_gets_no_removal_message(
    ruler: Ruler,
) -> None:
    ruler.receive(debt("d1"))
    closed_on = DUE + dt.timedelta(days=13)
    agreement = AgreementClosed(**agreement_fields(closed_on), debtor_name="João da Silva")
    ruler.receive(agreement, today=closed_on)
    broken_on = closed_on + dt.timedelta(days=15)  # its boleto 8 days late: not listed
    ruler.run(closed_on, broken_on)
    broken = AgreementBroken(
        **env("a1", 2),
        agreement_id="a1",
        document=JOAO,
        creditor="Banco Horizonte",
        broken_on=broken_on,
        rule="first_installment",
        installment_number=1,
        days_overdue=8,
        paid_cents=0,
        debts=[BrokenAgreementDebt(debt_id="d1", paid_cents=0, balance_cents=100_000)],
    )
    ruler.receive(broken, today=broken_on)
    assert ruler.published("NegativationRemoved") == []
    assert removal_messages(ruler) == []
    assert finalizations(ruler) == []


def test_a_broken_agreements_installment_taken_down_is_told_as_any_listing() -> None:
    [cancelled] = listing_removal(WITH_REMOVAL, AGENCY, "inv-1", "installment", "cancelled")
    assert cancelled.key == "recupera-sul|inv-1|listing_removal|0|message:sms:baixa_negativacao"
    [paid] = listing_removal(WITH_REMOVAL, AGENCY, "inv-1", "installment", "paid")
    assert paid.key == cancelled.key


def test_the_demo_ruler_tells_of_a_removal_with_its_own_sms() -> None:
    definition = RulerDefinitionV4.model_validate(demo_ruler("campanha-1"))
    [baixa] = definition.listing_removal_actions
    template = DEMO_TEMPLATES[(baixa.channel, baixa.template)]
    assert check_template(template["body"], max_length=MAX_LENGTH["sms"]) <= set(VARIABLES)
    variables = {
        "nome": "Marcelo Paulo da Costa",
        "credor": "Banco Horizonte",
        "numero": "BHS-01569090",
        "data_baixa": "30/12/2026",
        "assessoria": "Assessoria Demonstração",
    }
    assert render(template["body"], variables) == (
        "Marcelo Paulo da Costa, a negativação do seu CPF/CNPJ referente a Banco Horizonte, "
        "contrato BHS-01569090, foi retirada em 30/12/2026. Assessoria Demonstração"
    )
