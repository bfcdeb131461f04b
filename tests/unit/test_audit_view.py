"""The admins' audit trail: every configuration change, per thing changed, with who made it and a
pt-BR summary; built from the services' "...Saved" events, which may arrive twice. A tenant's
settings (negotiation, messaging, the portal profile) are one thing each."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from contracts.envelope import Envelope, derived_event_id
from contracts.gateway import PortalListTerms, PortalLogo, PortalProfileSaved
from contracts.messaging import (
    ChannelAdapterSettings,
    ChatbotOptions,
    MessagingSettingsSaved,
    PortalNotificationSettings,
    SendingWindowSpec,
    TemplateSaved,
)
from contracts.negotiation import (
    BoletoAccount,
    ChargeRates,
    NegotiationSettingsSaved,
    PaymentConditionSaved,
    PaymentConditionTerms,
    PixReceiver,
)
from contracts.personal import PersonalDataErased
from contracts.ruler import (
    DEFAULT_CALL_RESULTS,
    CallResultTypesSaved,
    CampaignDefinition,
    CampaignSaved,
    RulerDefinition,
    RulerDefinitionV4,
    RulerSaved,
    RulerSavedV4,
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


def test_a_rulers_notice_before_listing_and_its_removal_message_are_said() -> None:
    saved = ruler(2, 5)
    v4 = RulerSavedV4(
        **saved.model_dump(exclude={"schema_version", "definition"}),
        definition=RulerDefinitionV4(
            **saved.definition.model_dump(),
            listing_notice_days=15,
            listing_removal_actions=[SendMessage(channel="sms", template="baixa")],
        ),
    )
    summary = summarize(v4)
    assert summary is not None
    assert summary.endswith(
        "negativação só 15 dia(s) após aviso (a da etapa anterior); "
        "baixa da negativação avisada (1 mensagem); categorias cartão"
    )


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


# ---- a tenant's settings: negotiation, messaging, the portal profile ---------------------------


def negotiation_settings(version: int, minutes: int, by: str = ANA) -> NegotiationSettingsSaved:
    rates = ChargeRates(
        penalty_pct=Decimal(2), interest_monthly_pct=Decimal(1), correction_monthly_pct=Decimal(0)
    )
    return NegotiationSettingsSaved(
        **_envelope("negotiation-tenant", version, minutes),
        boleto=BoletoAccount(
            bank_code="237",
            bank_name="Banco Bradesco S.A.",
            agency="1234",
            account="0012345",
            wallet="09",
            beneficiary_name="Recupera Sul",
            beneficiary_document="11.222.333/0001-81",
            instructions="Não receber após 30 dias.",
        ),
        pix=PixReceiver(
            key="pix@recupera-sul.com.br",
            merchant_name="RECUPERA SUL",
            merchant_city="PORTO ALEGRE",
        ),
        break_first_installment_days=5,
        break_later_installment_days=30,
        charges=rates,
        creditor_charges={
            "Banco Horizonte": rates.model_copy(update={"penalty_pct": Decimal("1.5")})
        },
        saved_by=by,
    )


def messaging_settings(version: int, minutes: int, by: str = BRUNO) -> MessagingSettingsSaved:
    return MessagingSettingsSaved(
        **_envelope("messaging-tenant", version, minutes),
        agency_name="Recupera Sul",
        portal_link="https://recupera-sul.com.br/p/{tenant}",
        windows={
            "sms": SendingWindowSpec(weekdays=[0, 1, 2, 3, 4], start="08:00", end="20:00"),
            "email": SendingWindowSpec(weekdays=list(range(7)), start="00:00", end="24:00"),
        },
        channels={
            "email": ChannelAdapterSettings(
                kind="smtp",
                settings={"host": "smtp.exemplo.com.br", "port": 587, "tls": "starttls"},
                withheld=["password", "username"],
                withheld_changed=["password"] if version > 2 else ["password", "username"],
            ),
            "whatsapp": ChannelAdapterSettings(kind="outbox"),
        },
        max_attempts=5,
        chatbot=ChatbotOptions(
            options=["digitable_line", "negotiate", "operator"],
            negotiate_in_chat=False,
            closing_message="Até logo.",
            max_document_attempts=3,
            max_per_operator=5,
        ),
        portal_notification=PortalNotificationSettings(
            enabled=True, template="portal", weekdays=[0, 2, 4]
        ),
        saved_by=by,
    )


def portal_profile(version: int, minutes: int, **part: Any) -> PortalProfileSaved:
    return PortalProfileSaved(**_envelope("tenant-portal", version, minutes), saved_by=ANA, **part)


def settings_changes() -> list[Envelope]:
    return [
        negotiation_settings(2, 10),
        messaging_settings(2, 11),
        portal_profile(
            2,
            12,
            part="profile",
            name="Recupera Sul",
            portal_list=PortalListTerms(
                categories=["cartão"], amount_min_cents=10_000, amount_max_cents=500_000
            ),
        ),
        portal_profile(3, 13, part="second_factor", second_factor="none", code_channels=["sms"]),
        portal_profile(
            4,
            14,
            part="logo",
            logo=PortalLogo(media_type="image/jpeg", size_bytes=51_200, sha256="ab" * 32),
        ),
        messaging_settings(3, 15, by=ANA),
    ]


def test_the_settings_summaries_say_what_an_admin_saved() -> None:
    negotiation, first_messaging, profile, factor, logo, messaging = (
        summarize(e) for e in settings_changes()
    )
    assert negotiation == (
        "Configurações de negociação: boleto no banco 237 (Banco Bradesco S.A.), agência 1234, "
        "conta 0012345, carteira 09, beneficiário Recupera Sul (11.222.333/0001-81); "
        "chave PIX pix@recupera-sul.com.br (RECUPERA SUL, PORTO ALEGRE); quebra do acordo com a "
        "1ª parcela 5 dias em atraso, as demais 30 dias; encargos: multa 2%, juros 1% ao mês, "
        "correção 0% ao mês; encargos próprios de Banco Horizonte (multa 1,5%, juros 1% ao mês, "
        "correção 0% ao mês)"
    )
    assert messaging == (
        "Configurações de mensagens: assessoria «Recupera Sul»; janela de SMS seg-sex "
        "08:00-20:00; janela de e-mail todos os dias 00:00-24:00; WhatsApp no arquivo de saída "
        "(sem envio real); e-mail por SMTP smtp.exemplo.com.br:587 (credenciais alteradas: "
        "senha); até 5 tentativas por mensagem; chatbot com 3 opções no menu, só com o link do "
        "portal; notificação do portal ligada (modelo portal, seg, qua, sex)"
    )
    assert first_messaging is not None
    assert "(credenciais alteradas: senha, usuário)" in first_messaging
    assert profile == (
        "Perfil do portal: nome «Recupera Sul»; lista do portal: categorias cartão, "
        "valor de R$ 100,00 a R$ 5.000,00"
    )
    assert factor == "Perfil do portal: acesso só com o documento (sem código)"
    assert logo == f"Perfil do portal: logotipo JPEG de 50 KB (sha256 {'ab' * 6})"
    open_list = portal_profile(5, 16, part="profile", name="RS", portal_list=PortalListTerms())
    assert summarize(open_list) == (
        "Perfil do portal: nome «RS»; lista do portal: todas as dívidas em aberto"
    )


def test_settings_are_listed_and_filtered_as_the_other_changes(engine: sa.Engine) -> None:
    changes = [*all_changes(), *settings_changes()]
    project(engine, AuditProjection(), changes, list(reversed(changes)))

    rows = audit_trail(engine, AGENCY)
    assert len(rows) == len(changes)  # once each, however often delivered
    assert [(r["entity_kind"], r["entity_id"], r["actor"], r["type"]) for r in rows[:6]] == [
        ("messaging_settings", "messaging", ANA, "MessagingSettingsSaved"),
        ("portal_profile", "portal", ANA, "PortalProfileSaved"),
        ("portal_profile", "portal", ANA, "PortalProfileSaved"),
        ("portal_profile", "portal", ANA, "PortalProfileSaved"),
        ("messaging_settings", "messaging", BRUNO, "MessagingSettingsSaved"),
        ("negotiation_settings", "negotiation", ANA, "NegotiationSettingsSaved"),
    ]
    assert [r["actor"] for r in audit_trail(engine, AGENCY, "messaging_settings")] == [ANA, BRUNO]
    assert len(audit_trail(engine, AGENCY, "portal_profile", "portal")) == 3
    assert len(audit_trail(engine, AGENCY, "negotiation_settings", "negotiation")) == 1
    assert {"negotiation_settings", "messaging_settings", "portal_profile"} <= set(ENTITY_KINDS)
