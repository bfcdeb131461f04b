"""The admins' audit trail: every configuration change, per thing changed, with who made it and a
pt-BR summary; built from the services' "...Saved" events, which may arrive twice."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from contracts.envelope import Envelope, derived_event_id
from contracts.messaging import TemplateSaved
from contracts.negotiation import PaymentConditionSaved, PaymentConditionTerms
from contracts.personal import PersonalDataErased
from contracts.ruler import (
    DEFAULT_CALL_RESULTS,
    CallResultTypesSaved,
    CampaignDefinition,
    CampaignSaved,
    RulerDefinition,
    RulerSaved,
    SendMessage,
    StageSpec,
)
from services.gateway.entrypoints.http.audit import parse_since
from services.gateway.entrypoints.http.errors import ApiError
from services.gateway.read_models.audit import (
    ENTITY_KINDS,
    AuditProjection,
    audit_trail,
    summarize,
)
from tests.unit.test_projections import AGENCY, JOAO, at, project

ANA = "admin@recupera-sul"
BRUNO = "bruno@recupera-sul"


@pytest.fixture
def engine() -> Iterator[sa.Engine]:
    engine = sa.create_engine("sqlite://")
    yield engine
    engine.dispose()


def _envelope(
    aggregate_id: str, version: int, minutes: int, tenant: str = AGENCY
) -> dict[str, Any]:
    return {
        "event_id": derived_event_id("audit-test", aggregate_id, version),
        "occurred_at": at(minutes),
        "tenant": tenant,
        "aggregate_id": aggregate_id,
        "aggregate_version": version,
        "correlation_id": aggregate_id,
        "causation_id": aggregate_id,
    }


def condition(version: int, minutes: int, by: str = ANA, **terms: Any) -> PaymentConditionSaved:
    return PaymentConditionSaved(
        **_envelope("cond-3x", version, minutes),
        condition_id="cond-3x",
        terms=PaymentConditionTerms(**({"installments": 3} | terms)),
        saved_by=by,
    )


def ruler(version: int, minutes: int) -> RulerSaved:
    return RulerSaved(
        **_envelope("ruler-1", version, minutes),
        ruler_id="ruler-1",
        definition=RulerDefinition(
            name="Cartões",
            categories=["cartão"],
            pre_due_days=[5, 3],
            pre_due_actions=[SendMessage(channel="sms", template="lembrete")],
            stages=[
                StageSpec(stage="notice", day=3),
                StageSpec(stage="credit_bureau", day=45),
            ],
        ),
        saved_by=ANA,
    )


def campaign(version: int, minutes: int) -> CampaignSaved:
    return CampaignSaved(
        **_envelope("camp-1", version, minutes),
        campaign_id="camp-1",
        definition=CampaignDefinition(name="SP 30+", states=["SP"], days_overdue_min=30),
        saved_by=BRUNO,
    )


def call_results(version: int, minutes: int) -> CallResultTypesSaved:
    return CallResultTypesSaved(
        **_envelope("results", version, minutes),
        result_types=list(DEFAULT_CALL_RESULTS),
        saved_by=ANA,
    )


def template(version: int, minutes: int) -> TemplateSaved:
    return TemplateSaved(
        **_envelope("tpl-sms-aviso", version, minutes),
        channel="sms",
        name="aviso",
        body="{{ nome }}, {{ valor }} em aberto",
        variables=["nome", "valor"],
        saved_by=BRUNO,
    )


def all_changes() -> list[Envelope]:
    return [
        condition(1, 1, charges_discount_pct=Decimal(50), min_installment_cents=5000),
        ruler(1, 2),
        campaign(1, 3),
        call_results(1, 4),
        template(1, 5),
        condition(2, 6, by=BRUNO, charges_discount_pct=Decimal("12.5"), active=False),
    ]


def test_every_admin_change_is_listed_newest_first_with_who_made_it(engine: sa.Engine) -> None:
    project(engine, AuditProjection(), all_changes())

    rows = audit_trail(engine, AGENCY)

    assert [(r["entity_kind"], r["entity_id"], r["actor"]) for r in rows] == [
        ("payment_condition", "cond-3x", BRUNO),
        ("template", "sms/aviso", BRUNO),
        ("call_result_types", "call_results", ANA),
        ("campaign", "camp-1", BRUNO),
        ("ruler", "ruler-1", ANA),
        ("payment_condition", "cond-3x", ANA),
    ]
    assert rows[0]["type"] == "PaymentConditionSaved"
    assert rows[0]["occurred_at"] == at(6)


def test_the_summaries_say_in_portuguese_what_changed() -> None:
    first, rul, camp, results, tpl, second = (summarize(e) for e in all_changes())

    assert first == (
        "Condição de pagamento criada: 3x, desconto de 50% nos encargos, "
        "parcela mínima R$ 50,00, todos os credores"
    )
    assert second == (
        "Condição de pagamento alterada: 3x, desconto de 12,5% nos encargos, "
        "todos os credores, inativa"
    )
    assert rul == (
        "Régua «Cartões» criada: etapas aviso (dia 3), negativação (dia 45); "
        "lembretes 5 e 3 dias antes do vencimento; categorias cartão"
    )
    assert (
        camp == "Campanha «SP 30+» criada: UF SP; atraso (dias) a partir de 30; 5 min por ligação"
    )
    assert results is not None and results.startswith("Tipos de resultado de ligação criados (6): ")
    assert "Não atendeu" in results and "Promessa de pagamento" in results
    assert tpl == "Modelo sms «aviso» criado (variáveis: nome, valor)"


def test_one_row_per_event_however_often_it_arrives(engine: sa.Engine) -> None:
    changes = all_changes()
    project(engine, AuditProjection(), changes, changes, list(reversed(changes)))
    assert len(audit_trail(engine, AGENCY)) == len(changes)


def test_filters_by_entity_and_time_and_never_crosses_tenants(engine: sa.Engine) -> None:
    other = TemplateSaved(
        **_envelope("tpl-other", 1, 7, tenant="outra"),
        channel="sms",
        name="aviso",
        body="oi",
        variables=[],
        saved_by="admin@outra",
    )
    project(engine, AuditProjection(), [*all_changes(), other])

    condition_rows = audit_trail(engine, AGENCY, "payment_condition", "cond-3x")
    assert [r["actor"] for r in condition_rows] == [BRUNO, ANA]
    assert [r["entity_kind"] for r in audit_trail(engine, AGENCY, "template")] == ["template"]
    recent = audit_trail(engine, AGENCY, since=at(4))
    assert [r["entity_kind"] for r in recent] == [
        "payment_condition",
        "template",
        "call_result_types",
    ]
    assert [r["actor"] for r in audit_trail(engine, "outra")] == ["admin@outra"]
    assert audit_trail(engine, AGENCY, "ruler", "no-such-ruler") == []


def test_the_from_filter_takes_a_date_or_a_date_time() -> None:
    # A date is midnight in America/Sao_Paulo (UTC-3).
    assert parse_since("2026-11-02") == dt.datetime(2026, 11, 2, 3, 0, tzinfo=dt.UTC)
    assert parse_since("2026-11-02T09:00:00Z") == dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
    assert parse_since("2026-11-02T09:00:00-03:00") == dt.datetime(
        2026, 11, 2, 12, 0, tzinfo=dt.UTC
    )
    assert parse_since(None) is None
    with pytest.raises(ApiError) as bad:
        parse_since("ontem")
    assert bad.value.details[0]["field"] == "from"


def test_an_erasure_of_personal_data_is_an_admin_change_of_the_debtor(engine: sa.Engine) -> None:
    erased = PersonalDataErased(
        **_envelope("erasures-joao", 1, 8),
        document=JOAO,
        key_ids=["a" * 32],
        requested_by=ANA,
        reason="pedido do titular por e-mail",
    )
    again = erased.model_copy(
        update={"event_id": derived_event_id("audit-test", "erasures-joao", 2), "key_ids": []}
    )
    project(engine, AuditProjection(), [*all_changes(), erased], [erased, again])
    rows = audit_trail(engine, AGENCY, "debtor", JOAO)
    assert [(r["entity_kind"], r["entity_id"], r["actor"], r["type"]) for r in rows] == [
        ("debtor", JOAO, ANA, "PersonalDataErased"),
        ("debtor", JOAO, ANA, "PersonalDataErased"),
    ]
    assert {r["summary"] for r in rows} == {
        "Dados pessoais do devedor removidos a pedido do titular (LGPD): 1 chave(s) apagada(s); "
        "motivo: pedido do titular por e-mail",
        "Dados pessoais do devedor removidos a pedido do titular (LGPD): nenhuma chave a apagar; "
        "motivo: pedido do titular por e-mail",
    }
    assert audit_trail(engine, AGENCY)[0]["entity_kind"] == "debtor"
    assert "debtor" in ENTITY_KINDS
