"""Call lists of the call campaigns (EliteSoft's campanha de ligação): the debtors a campaign's
filters (or a ruler stage) put on it, grouped by debtor with the total of their debts, in
priority order; debts in agreement or settled leave, a result that removes takes the debtor
off; and all of it holds whatever order the six topics deliver in."""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from contracts.envelope import Envelope, derived_event_id
from contracts.negotiation import (
    AGREEMENTS_TOPIC,
    AgreementBroken,
    AgreementClosed,
    AgreementDebt,
    AgreementFulfilled,
    AgreementInstallment,
    BrokenAgreementDebt,
    PaymentConditionTerms,
)
from contracts.personal import PersonalDataErased
from contracts.portfolio import (
    DEBTS_TOPIC,
    DebtImported,
    DebtImportedV2,
    DebtorContact,
    DebtPaymentDeducted,
    DebtReopened,
    DebtSettled,
    DebtWithdrawn,
)
from contracts.ruler import (
    BUREAU_TOPIC,
    CALLS_TOPIC,
    CONFIG_TOPIC,
    DEFAULT_CALL_RESULTS,
    STAGES_TOPIC,
    CallRecorded,
    CallResultType,
    CallResultTypesSaved,
    CampaignDefinition,
    CampaignSaved,
    DebtorNegativated,
    NegativationHeld,
    ReceivableLeftRuler,
    StageAction,
    StageAdvanced,
)
from service_runtime.personal_data import REMOVED, SqlKeyVault, seal
from services.gateway.read_models.call_list import (
    CallListEntry,
    CallListProjection,
    call_list,
    call_list_csv,
    call_result_types,
    campaign,
)
from tests.unit.test_projections import VAULT, memory_vault

AGENCY = "recupera-sul"
TODAY = dt.date(2026, 11, 25)
AT = dt.datetime(2026, 11, 25, 12, tzinfo=dt.UTC)
HORIZONTE = "Crédito Fácil"
AURORA = "Loja Aurora"

MARIA = "52998224725"
JOAO = "11144477735"
CARLA = "39053344705"
PEDRO = "27108690002"
ANA = "86288366757"

NAMES = {
    MARIA: "Maria Souza",
    JOAO: "João da Silva",
    CARLA: "Carla Dias",
    PEDRO: "Pedro Lima",
    ANA: "Ana Costa",
}

NO_ANSWER, WRONG_NUMBER, PROMISE, AGREEMENT, _, CALLBACK = DEFAULT_CALL_RESULTS


def env(aggregate_id: str, version: int, at: dt.datetime = AT) -> dict[str, Any]:
    return {
        "event_id": derived_event_id("t", aggregate_id, version),
        "occurred_at": at,
        "tenant": AGENCY,
        "aggregate_id": aggregate_id,
        "aggregate_version": version,
        "correlation_id": aggregate_id,
        "causation_id": aggregate_id,
    }


def debt(
    debt_id: str,
    document: str,
    amount_cents: int,
    days_overdue: int,
    creditor: str = HORIZONTE,
    phone: str | None = None,
    city: str = "Porto Alegre",
    state: str = "RS",
    name: str | None = None,
) -> DebtImported:
    return DebtImported(
        **env(debt_id, 1),
        debt_id=debt_id,
        document=document,
        document_kind="cpf",
        debtor=DebtorContact(
            name=name or NAMES[document],
            phone=phone if phone is not None else f"(51) 9{document[:4]}-{document[4:8]}",
            email=f"{document}@example.com",
            city=city,
            state=state,
        ),
        creditor=creditor,
        contract=f"C-{debt_id}",
        installment="1",
        original_amount_cents=amount_cents,
        due_date=TODAY - dt.timedelta(days=days_overdue),
        category="cartão",
        import_id="imp",
        row_key=debt_id,
    )


def saved(campaign_id: str = "camp", version: int = 1, **definition: Any) -> CampaignSaved:
    fields: dict[str, Any] = {"name": "Cobrança Crédito Fácil"} | definition
    return CampaignSaved(
        **env(f"campaign-{campaign_id}", version),
        campaign_id=campaign_id,
        definition=CampaignDefinition(**fields),
        saved_by="ana.admin",
    )


def closed(agreement_id: str, document: str, debt_ids: list[str]) -> AgreementClosed:
    return AgreementClosed(
        **env(agreement_id, 1),
        agreement_id=agreement_id,
        document=document,
        debtor_name=NAMES[document],
        creditor=HORIZONTE,
        debt_ids=debt_ids,
        debts=[
            AgreementDebt(
                debt_id=d,
                contract=f"C-{d}",
                installment="1",
                due_date=dt.date(2026, 9, 26),
                principal_cents=100_000,
                penalty_cents=2_000,
                interest_cents=2_000,
                correction_cents=0,
                updated_value_cents=104_000,
                days_overdue=60,
            )
            for d in debt_ids
        ],
        channel="operator",
        operator="bruno",
        condition_id="c1",
        condition=PaymentConditionTerms(installments=1, charges_discount_pct=Decimal(50)),
        closed_on=TODAY,
        principal_cents=100_000,
        charges_cents=4_000,
        updated_value_cents=104_000,
        principal_discount_cents=0,
        charges_discount_cents=2_000,
        discount_cents=2_000,
        total_cents=102_000,
        installments=[
            AgreementInstallment(
                number=1,
                due_date=TODAY,
                amount_cents=102_000,
                invoice_id=f"{agreement_id}-inv-1",
                nosso_numero="1",
                barcode="1" * 44,
                digitable_line="1" * 47,
                pix_txid="TX1",
                pix_code="000201",
            )
        ],
    )


def broken(agreement_id: str, document: str, debt_id: str, paid_cents: int) -> AgreementBroken:
    return AgreementBroken(
        **env(agreement_id, 3),
        agreement_id=agreement_id,
        document=document,
        creditor=HORIZONTE,
        broken_on=TODAY + dt.timedelta(days=31),
        rule="first_installment",
        installment_number=1,
        days_overdue=31,
        paid_cents=paid_cents,
        debts=[BrokenAgreementDebt(debt_id=debt_id, paid_cents=paid_cents, balance_cents=0)],
    )


def reopened(debt_id: str, document: str, paid_cents: int, balance_cents: int) -> DebtReopened:
    return DebtReopened(
        **env(debt_id, 2),
        debt_id=debt_id,
        document=document,
        creditor=HORIZONTE,
        contract=f"C-{debt_id}",
        installment="1",
        agreement_id="a1",
        reopened_on=TODAY + dt.timedelta(days=31),
        paid_cents=paid_cents,
        balance_cents=balance_cents,
    )


def settled(debt_id: str, document: str) -> DebtSettled:
    return DebtSettled(
        **env(debt_id, 2),
        debt_id=debt_id,
        document=document,
        creditor=HORIZONTE,
        contract=f"C-{debt_id}",
        installment="1",
        agreement_id="a9",
        settled_on=TODAY,
        paid_cents=150_000,
    )


def advanced(
    debt_id: str,
    document: str,
    to_stage: Any,
    on_date: dt.date = TODAY,
    campaign_id: str | None = None,
) -> StageAdvanced:
    actions = (
        [StageAction(kind="call_campaign", key=f"{debt_id}-{to_stage}", campaign=campaign_id)]
        if campaign_id
        else []
    )
    return StageAdvanced(
        **env(f"stage-{debt_id}-{to_stage}", 1),
        receivable_id=debt_id,
        receivable_kind="debt",
        document=document,
        creditor=HORIZONTE,
        amount_cents=100_000,
        due_date=TODAY - dt.timedelta(days=40),
        ruler_id="r1",
        from_stage="current",
        to_stage=to_stage,
        days_overdue=40,
        on_date=on_date,
        actions=actions,
    )


def left(debt_id: str, document: str, reason: Any, on_date: dt.date) -> ReceivableLeftRuler:
    return ReceivableLeftRuler(
        **env(f"left-{debt_id}-{on_date}", 1),
        receivable_id=debt_id,
        receivable_kind="debt",
        document=document,
        creditor=HORIZONTE,
        reason=reason,
        last_stage="questioning",
        on_date=on_date,
        actions=[],
    )


def call(
    call_id: str,
    document: str,
    result: CallResultType,
    minute: int,
    campaign_id: str = "camp",
    reschedule_at: dt.datetime | None = None,
) -> CallRecorded:
    at = AT + dt.timedelta(minutes=minute)
    return CallRecorded(
        **env(call_id, 1, at),
        call_id=call_id,
        campaign_id=campaign_id,
        document=document,
        operator="bruno",
        result=result,
        note=f"nota {call_id}",
        reschedule_at=reschedule_at,
        recorded_at=at,
    )


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[sa.Engine]:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'read.sqlite'}")
    CallListProjection(VAULT).create_tables(engine)
    yield engine
    engine.dispose()


def apply(engine: sa.Engine, *events: Envelope) -> None:
    with engine.begin() as conn:
        CallListProjection(VAULT).apply(conn, list(events))


def listed(engine: sa.Engine, campaign_id: str = "camp") -> list[str]:
    entries, total = call_list(engine, AGENCY, campaign_id, TODAY, page_size=1000)
    assert total == len(entries)
    return [e.document for e in entries]


def by_document(engine: sa.Engine, campaign_id: str = "camp") -> dict[str, CallListEntry]:
    entries, _ = call_list(engine, AGENCY, campaign_id, TODAY, page_size=1000)
    return {e.document: e for e in entries}


def test_a_campaign_by_creditor_and_days_overdue_lists_debtors_by_priority_with_totals(
    engine: sa.Engine,
) -> None:
    apply(
        engine,
        # Maria: two matching debts (60 and 40 days), one too old (120 days) left out.
        debt("m1", MARIA, 150_000, 60),
        debt("m2", MARIA, 80_000, 40, phone="(51) 3333-0000"),
        debt("m3", MARIA, 999_000, 120),
        # João and Carla owe the same; Carla's debt is more recent, so she comes first.
        debt("j1", JOAO, 200_000, 30, city="São Paulo", state="SP"),
        debt("c1", CARLA, 200_000, 20),
        # Ana is not late enough; Pedro owes another creditor.
        debt("a1", ANA, 500_000, 10),
        debt("p1", PEDRO, 900_000, 45, creditor=AURORA),
        saved(creditors=["  credito   FACIL "], days_overdue_min=15, days_overdue_max=90),
    )
    entries, total = call_list(engine, AGENCY, "camp", TODAY)
    assert total == 3
    assert [(e.document, e.total_cents, e.debts) for e in entries] == [
        (MARIA, 230_000, 2),
        (CARLA, 200_000, 1),
        (JOAO, 200_000, 1),
    ]
    maria = entries[0]
    assert maria.debtor_name == "Maria Souza"
    assert sorted(maria.phones) == ["(51) 3333-0000", "(51) 95299-8224"]
    assert maria.creditors == [HORIZONTE]
    assert maria.max_days_overdue == 60
    assert maria.oldest_due_date == TODAY - dt.timedelta(days=60)
    assert maria.newest_due_date == TODAY - dt.timedelta(days=40)
    assert maria.stage == "current"
    assert maria.last_call is None
    assert (entries[2].city, entries[2].state) == ("São Paulo", "SP")
    assert campaign(engine, AGENCY, "camp") is not None
    assert campaign(engine, AGENCY, "other") is None


def test_the_amount_range_applies_to_the_debtors_total_and_cities_ignore_accents(
    engine: sa.Engine,
) -> None:
    apply(
        engine,
        debt("m1", MARIA, 60_000, 30, city="São Paulo", state="SP"),
        debt("m2", MARIA, 60_000, 30, city="São Paulo", state="SP"),
        debt("j1", JOAO, 100_000, 30, city="Sao Paulo", state="sp"),
        debt("c1", CARLA, 500_000, 30, city="Campinas", state="SP"),
        saved(cities=["SAO PAULO"], states=["sp"], amount_min_cents=110_000),
    )
    assert listed(engine) == [MARIA]


def test_the_list_is_read_page_by_page(engine: sa.Engine) -> None:
    apply(
        engine,
        *(debt(f"d{i}", doc, 100_000 * (i + 1), 30) for i, doc in enumerate(NAMES)),
        saved(),
    )
    pages = [call_list(engine, AGENCY, "camp", TODAY, page=p, page_size=2) for p in (1, 2, 3, 4)]
    assert [total for _, total in pages] == [5, 5, 5, 5]
    assert [[e.document for e in entries] for entries, _ in pages] == [
        [ANA, PEDRO],
        [CARLA, JOAO],
        [MARIA],
        [],
    ]
    with pytest.raises(ValueError):
        call_list(engine, AGENCY, "camp", TODAY, page=0)


def test_a_debt_in_agreement_or_settled_leaves_and_a_broken_agreement_puts_it_back(
    engine: sa.Engine,
) -> None:
    apply(
        engine,
        debt("m1", MARIA, 100_000, 60),
        debt("j1", JOAO, 100_000, 60),
        debt("c1", CARLA, 100_000, 60),
        saved(),
    )
    apply(engine, closed("a1", MARIA, ["m1"]), closed("a2", JOAO, ["j1"]))
    apply(engine, settled("c1", CARLA))
    assert listed(engine) == []

    apply(engine, broken("a1", MARIA, "m1", 30_000), reopened("m1", MARIA, 30_000, 70_000))
    assert [(e.document, e.total_cents) for e in by_document(engine).values()] == [(MARIA, 70_000)]
    # Her broken agreement's boleto, paid late, is taken off what she owes.
    late = DebtPaymentDeducted(
        **env("m1", 3),
        debt_id="m1",
        document=MARIA,
        creditor=HORIZONTE,
        contract="C-m1",
        installment="1",
        agreement_id="a1",
        payment_id="p-late",
        paid_on=TODAY + dt.timedelta(days=32),
        deducted_cents=10_000,
        paid_cents=40_000,
        balance_cents=60_000,
    )
    apply(engine, late)
    assert [(e.document, e.total_cents) for e in by_document(engine).values()] == [(MARIA, 60_000)]
    apply(
        engine,
        AgreementFulfilled(
            **env("a2", 5),
            agreement_id="a2",
            document=JOAO,
            creditor=HORIZONTE,
            debt_ids=["j1"],
            fulfilled_on=TODAY,
            paid_cents=102_000,
        ),
    )
    apply(engine, debt("j1", JOAO, 100_000, 60))  # the carteira arrives again
    assert listed(engine) == [MARIA]


def test_a_removing_result_takes_the_debtor_off_and_a_later_call_brings_them_back(
    engine: sa.Engine,
) -> None:
    apply(engine, debt("m1", MARIA, 100_000, 60), debt("j1", JOAO, 50_000, 60), saved())
    callback = AT + dt.timedelta(days=1)
    apply(
        engine,
        call("k1", MARIA, NO_ANSWER, 1),
        call("k2", JOAO, CALLBACK, 2, reschedule_at=callback),
    )
    entries = by_document(engine)
    assert list(entries) == [MARIA, JOAO]
    maria, joao = entries[MARIA].last_call, entries[JOAO].last_call
    assert maria is not None
    assert maria["result_label"] == "Não atendeu"
    # A callback for tomorrow is still on the list, shown with it.
    assert joao is not None
    assert joao["reschedule_at"] == callback

    apply(engine, call("k3", MARIA, WRONG_NUMBER, 10))
    assert listed(engine) == [JOAO]
    # A call of another campaign does not count here.
    apply(engine, call("k4", MARIA, PROMISE, 20, campaign_id="other"))
    assert listed(engine) == [JOAO]
    apply(engine, call("k5", MARIA, PROMISE, 30))
    assert listed(engine) == [MARIA, JOAO]
    last = by_document(engine)[MARIA].last_call
    assert last is not None
    assert (last["result_code"], last["operator"], last["note"]) == ("promise", "bruno", "nota k5")
    # The last call decides, whatever order the calls arrived in.
    apply(engine, call("k0", MARIA, AGREEMENT, 0))
    assert listed(engine) == [MARIA, JOAO]


def test_a_stage_filter_follows_the_ruler(engine: sa.Engine) -> None:
    apply(
        engine,
        debt("m1", MARIA, 100_000, 40),
        debt("j1", JOAO, 100_000, 40),
        debt("c1", CARLA, 100_000, 40),
        saved(stages=["questioning", "schedule_payment"]),
    )
    assert listed(engine) == []
    day = TODAY - dt.timedelta(days=5)
    apply(
        engine,
        # Maria's stage moves on; an older advance arriving late does not move it back.
        advanced("m1", MARIA, "questioning", day + dt.timedelta(days=3)),
        advanced("m1", MARIA, "notice", day),
        advanced("j1", JOAO, "credit_bureau", day),
        advanced("c1", CARLA, "notice", day),
    )
    entries = by_document(engine)
    assert list(entries) == [MARIA]
    assert entries[MARIA].stage == "questioning"
    # Renegotiated, and the agreement broke later: the ruler starts over.
    apply(engine, left("m1", MARIA, "renegotiated", day + dt.timedelta(days=4)))
    assert listed(engine) == []
    apply(engine, advanced("c1", CARLA, "schedule_payment", day + dt.timedelta(days=1)))
    assert listed(engine) == [CARLA]


def test_a_campaign_not_by_filters_lists_only_debtors_a_ruler_stage_put_on_it(
    engine: sa.Engine,
) -> None:
    apply(
        engine,
        debt("m1", MARIA, 100_000, 40),
        debt("j1", JOAO, 100_000, 40),
        debt("p1", PEDRO, 100_000, 40, creditor=AURORA),
        saved(by_filters=False, creditors=[HORIZONTE]),
        advanced("m1", MARIA, "notice", campaign_id="camp"),
        advanced("j1", JOAO, "notice", campaign_id="another"),
        # Put on the campaign, but it does not match its filters.
        advanced("p1", PEDRO, "notice", campaign_id="camp"),
    )
    assert listed(engine) == [MARIA]


def test_an_inactive_campaign_lists_nobody(engine: sa.Engine) -> None:
    apply(engine, debt("m1", MARIA, 100_000, 40), saved())
    assert listed(engine) == [MARIA]
    apply(engine, saved(version=2, active=False))
    apply(engine, saved(version=1))  # an older version arriving late changes nothing
    assert call_list(engine, AGENCY, "camp", TODAY) == ([], 0)
    found = campaign(engine, AGENCY, "camp")
    assert found is not None
    assert (found[0].active, found[1]) == (False, 2)
    assert call_list(engine, AGENCY, "nope", TODAY) == ([], 0)


def test_result_types_are_the_defaults_until_the_agency_saves_its_own(engine: sa.Engine) -> None:
    assert call_result_types(engine, AGENCY) == list(DEFAULT_CALL_RESULTS)
    own = [
        CallResultType(code="sem_contato", label="Sem contato"),
        CallResultType(code="quitou", label="Já quitou", removes_from_list=True),
    ]
    apply(
        engine,
        CallResultTypesSaved(**env("results", 1), result_types=own, saved_by="ana.admin"),
    )
    assert call_result_types(engine, AGENCY) == own
    assert call_result_types(engine, "outra") == list(DEFAULT_CALL_RESULTS)


def bureau(debt_id: str, document: str, held: bool, on_date: dt.date = TODAY) -> Envelope:
    """The ruler held the debt's listing for want of a notice, or listed it."""
    common: dict[str, Any] = {
        "receivable_id": debt_id,
        "document": document,
        "creditor": HORIZONTE,
        "amount_cents": 100_000,
        "due_date": TODAY - dt.timedelta(days=40),
        "on_date": on_date,
    }
    if held:
        return NegativationHeld(
            **env(f"held-{debt_id}-{on_date}", 1),
            **common,
            receivable_kind="debt",
            contract=f"C-{debt_id}",
            ruler_id="r1",
            notice_keys=[f"{debt_id}|listing_notice"],
            reasons=["devedor sem telefone"],
        )
    return DebtorNegativated(
        **env(f"listed-{debt_id}-{on_date}", 1),
        **common,
        bureau="arquivo-remessa",
        record_key=debt_id,
    )


def scenario() -> list[Envelope]:
    return [
        debt("m1", MARIA, 100_000, 40),
        debt("m2", MARIA, 50_000, 20),
        debt("j1", JOAO, 300_000, 40),
        debt("c1", CARLA, 70_000, 40),
        debt("p1", PEDRO, 60_000, 40),
        debt("a1", ANA, 40_000, 40),
        saved(stages=["notice", "questioning", "credit_bureau"]),
        advanced("m1", MARIA, "notice"),
        advanced("m2", MARIA, "questioning"),
        advanced("j1", JOAO, "notice"),
        advanced("c1", CARLA, "notice"),
        closed("a1", MARIA, ["m2"]),
        broken("a1", MARIA, "m2", 20_000),
        reopened("m2", MARIA, 20_000, 30_000),
        closed("a2", JOAO, ["j1"]),
        call("k1", CARLA, WRONG_NUMBER, 1),
        call("k2", CARLA, NO_ANSWER, 2),
        call("k3", MARIA, AGREEMENT, 3),
        call("k4", MARIA, CALLBACK, 4),
        # Pedro's listing held for want of a notice; Ana's held, then listed once noticed.
        advanced("p1", PEDRO, "credit_bureau", TODAY - dt.timedelta(days=12)),
        bureau("p1", PEDRO, held=True, on_date=TODAY - dt.timedelta(days=12)),
        advanced("a1", ANA, "credit_bureau", TODAY - dt.timedelta(days=12)),
        bureau("a1", ANA, held=True, on_date=TODAY - dt.timedelta(days=12)),
        bureau("a1", ANA, held=False, on_date=TODAY),
    ]


TOPIC_OF: dict[type[Envelope], str] = {
    DebtImported: DEBTS_TOPIC,
    DebtReopened: DEBTS_TOPIC,
    DebtPaymentDeducted: DEBTS_TOPIC,
    AgreementClosed: AGREEMENTS_TOPIC,
    AgreementBroken: AGREEMENTS_TOPIC,
    CampaignSaved: CONFIG_TOPIC,
    StageAdvanced: STAGES_TOPIC,
    CallRecorded: CALLS_TOPIC,
    NegativationHeld: BUREAU_TOPIC,
    DebtorNegativated: BUREAU_TOPIC,
}


def snapshot(engine: sa.Engine) -> list[CallListEntry]:
    entries, total = call_list(engine, AGENCY, "camp", TODAY)
    assert total == len(entries)
    return entries


def reset(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        CallListProjection(VAULT).reset(conn)


def test_events_applied_twice_or_in_another_order_give_the_same_list(engine: sa.Engine) -> None:
    events = scenario()
    apply(engine, *events)
    expected = snapshot(engine)
    assert [(e.document, e.total_cents, e.stage, e.listing_held) for e in expected] == [
        (MARIA, 130_000, "questioning", False),
        (CARLA, 70_000, "notice", False),
        (PEDRO, 60_000, "credit_bureau", True),
        (ANA, 40_000, "credit_bureau", False),
    ]
    apply(engine, *events)
    assert snapshot(engine) == expected

    # Every order of the six topics (each read in its own order, one batch per topic).
    topics: dict[str, list[Envelope]] = {}
    for event in events:
        topics.setdefault(TOPIC_OF[type(event)], []).append(event)
    # (Erasures, the seventh topic, have a test of their own below.)
    assert len(topics) == len(CallListProjection.topics) - 1
    for order in itertools.permutations(topics):
        reset(engine)
        for topic in order:
            apply(engine, *topics[topic])
        assert snapshot(engine) == expected, order

    # One event per batch, newest first, each twice.
    reset(engine)
    for event in reversed(events):
        apply(engine, event)
        apply(engine, event)
    assert snapshot(engine) == expected


def test_the_export_is_a_spreadsheet_in_brazilian_portuguese(engine: sa.Engine) -> None:
    apply(
        engine,
        debt("m1", MARIA, 123_456, 40, phone="(51) 99999-0000"),
        debt("m2", MARIA, 100_000, 30, phone="(51) 3333-0000"),
        debt("j1", JOAO, 5_000, 10, city="São Paulo", state="SP"),
        saved(),
        advanced("m1", MARIA, "questioning"),
        call("k1", MARIA, CALLBACK, 0, reschedule_at=dt.datetime(2026, 11, 26, 13, tzinfo=dt.UTC)),
    )
    entries, _ = call_list(engine, AGENCY, "camp", TODAY)
    data = call_list_csv(entries)
    assert data.startswith(b"\xef\xbb\xbf")
    text = data[3:].decode("utf-8")
    assert text.endswith("\r\n")
    assert text.splitlines()[0] == (
        "documento;nome;telefones;email;cidade;uf;credores;dividas;total;dias_em_atraso;"
        "etapa;ultimo_resultado;ultima_ligacao;retorno"
    )
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert rows[1] == [
        MARIA,
        "Maria Souza",
        "(51) 3333-0000 / (51) 99999-0000",
        f"{MARIA}@example.com",
        "Porto Alegre",
        "RS",
        HORIZONTE,
        "2",
        "2.234,56",
        "40",
        "questionamento",
        "Pediu retorno",
        "25/11/2026 09:00",
        "26/11/2026 10:00",
    ]
    assert rows[2][:2] == [JOAO, "João da Silva"]
    assert rows[2][8:] == ["50,00", "10", "sem etapa da régua", "", "", ""]


def test_a_few_thousand_debts_are_filtered_and_ranked(engine: sa.Engine) -> None:
    events: list[Envelope] = []
    for i in range(3000):
        events.append(debt(f"d{i}", f"{i:011d}", 10_000 + i, 5 + i % 100, name=f"Devedor {i}"))
    events.append(saved(days_overdue_min=10, amount_min_cents=10_500))
    apply(engine, *events)
    # Speed is a benchmark's business, not a test's: this checks the answer only.
    entries, total = call_list(engine, AGENCY, "camp", TODAY)
    assert total == 2500 - 2500 // 100 * 5
    assert entries[0].total_cents == 12_999


# ---- personal data: version 2 (sealed) and erasure (LGPD) --------------------------------------


def sealed_debt(
    vault: SqlKeyVault, debt_id: str, document: str, version: int = 1
) -> DebtImportedV2:
    """`debt(...)` as the portfolio publishes it now: the contact sealed with the debtor's key."""
    clear = debt(debt_id, document, 100_000, 40)
    contact = clear.debtor.model_dump()
    return DebtImportedV2(
        **(env(debt_id, version) | {"event_id": derived_event_id("test", debt_id, version)}),
        **clear.model_dump(
            include={
                "debt_id",
                "document",
                "document_kind",
                "creditor",
                "contract",
                "installment",
                "original_amount_cents",
                "due_date",
                "category",
                "import_id",
                "row_key",
            }
        ),
        personal=seal(vault.key_for(AGENCY, document), contact),
    )


def erasure(
    vault: SqlKeyVault, document: str, key_ids: list[str] | None = None
) -> PersonalDataErased:
    keys = vault.erase(AGENCY, document, by="ana.admin", at=AT) if key_ids is None else key_ids
    return PersonalDataErased(
        **env(f"erasures-{document}", 1),
        document=document,
        key_ids=keys,
        requested_by="ana.admin",
        reason="pedido do titular",
    )


def every_text(engine: sa.Engine) -> str:
    """Every value of every table of the call list, as text."""
    with engine.connect() as conn:
        return "\n".join(
            str(value)
            for table in CallListProjection.metadata.sorted_tables
            for row in conn.execute(sa.select(table))
            for value in row
        )


def test_sealed_contacts_open_with_the_vault_and_erasure_removes_them_in_any_order(
    tmp_path: Path,
) -> None:
    vault = memory_vault()
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'sealed.sqlite'}")
    projection = CallListProjection(vault)
    projection.create_tables(engine)
    debts = [sealed_debt(vault, "m1", MARIA), debt("j1", JOAO, 300_000, 40)]
    topics: list[list[Envelope]] = [debts, [saved()]]
    for batch in topics:
        with engine.begin() as conn:
            projection.apply(conn, batch)
    maria = by_document(engine)[MARIA]
    assert (maria.debtor_name, maria.email, maria.city) == (
        "Maria Souza",
        f"{MARIA}@example.com",
        "Porto Alegre",
    )
    assert maria.phones == [f"(51) 9{MARIA[:4]}-{MARIA[4:8]}"]

    erased = erasure(vault, MARIA)
    assert erased.key_ids
    forgotten = erasure(vault, JOAO, key_ids=[])  # João's contact only ever came in clear
    for event in (erased, erased, forgotten):  # twice: idempotent
        with engine.begin() as conn:
            projection.apply(conn, [event])

    def check() -> None:
        listed_ = by_document(engine)
        for document in (MARIA, JOAO):
            entry = listed_[document]
            assert (entry.debtor_name, entry.phones, entry.email, entry.city, entry.state) == (
                REMOVED,
                [],
                None,
                None,
                None,
            )
        text = every_text(engine)
        for gone in ("Maria Souza", "João da Silva", "@example.com", "Porto Alegre", "(51) 9"):
            assert gone not in text
        assert REMOVED.encode() in call_list_csv(list(listed_.values()))
        # The debts are still there, to collect.
        assert sorted(listed_) == sorted([MARIA, JOAO])

    check()
    # A replay, the erasures read before or after the debts: nothing comes back.
    orders: list[list[list[Envelope]]] = [
        [[erased, forgotten], debts, [saved()]],
        [debts, [saved()], [forgotten, erased]],
    ]
    for order in orders:
        with engine.begin() as conn:
            projection.reset(conn)
        for batch in order:
            with engine.begin() as conn:
                CallListProjection(vault).apply(conn, batch)
        check()

    # Data the creditor sends again later (a new key) is new data: shown.
    again = sealed_debt(vault, "m1", MARIA, version=2)
    assert again.personal.key_id not in erased.key_ids
    apply_ = CallListProjection(vault)
    with engine.begin() as conn:
        apply_.apply(conn, [again])
    assert by_document(engine)[MARIA].debtor_name == "Maria Souza"
    engine.dispose()


def withdrawn(debt_id: str, document: str, version: int = 2) -> DebtWithdrawn:
    return DebtWithdrawn(
        **env(debt_id, version),
        debt_id=debt_id,
        document=document,
        creditor=HORIZONTE,
        contract=f"C-{debt_id}",
        installment="1",
        reason="cancelled",
        withdrawn_on=TODAY,
        import_id="imp-2",
        row_key="7",
    )


def test_a_debt_the_creditor_withdrew_leaves_the_call_list_for_good(engine: sa.Engine) -> None:
    apply(engine, debt("m1", MARIA, 100_000, 60), debt("j1", JOAO, 100_000, 60), saved())
    assert sorted(listed(engine)) == sorted([MARIA, JOAO])
    apply(engine, withdrawn("m1", MARIA))
    assert listed(engine) == [JOAO]
    # The carteira sent again (a correction) does not bring it back; nor does a redelivery.
    apply(engine, debt("m1", MARIA, 120_000, 60), withdrawn("m1", MARIA))
    assert listed(engine) == [JOAO]
