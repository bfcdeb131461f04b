"""The admins' audit trail: every configuration change (payment conditions, rulers, call
campaigns, call result types, message templates, the negotiation settings, the messaging
settings, the portal profile), every run of the ruler an admin asked for, and every erasure of
a debtor's personal data (LGPD) with who made it, when, and a pt-BR summary, per thing changed.
Built from the services' "...Saved" events, which carry `saved_by`, and from
`RulerRunRequested` and `PersonalDataErased` (`requested_by`). Rulers come in both versions of
`RulerSaved` (version 2 may give each exit reason its own finalization).

A tenant's settings are one thing each: `negotiation_settings` (`negotiation`: boleto, PIX,
breaking, charges), `messaging_settings` (`messaging`: windows, channels, chatbot, portal
notification) and `portal_profile` (`portal`: name, portal list, second factor, logo). The
messaging settings arrive without channel credentials (see contracts.messaging): a summary
says which of them a save changed, never what they are.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    select,
)

from contracts.envelope import Envelope
from contracts.gateway import CONFIG_TOPIC as GATEWAY_CONFIG_TOPIC
from contracts.gateway import PortalListTerms, PortalProfileSaved, PortalProfileSavedV2
from contracts.messaging import CONFIG_TOPIC as MESSAGING_CONFIG_TOPIC
from contracts.messaging import ChannelAdapterSettings, MessagingSettingsSaved, TemplateSaved
from contracts.money import format_brl
from contracts.negotiation import (
    CONDITIONS_TOPIC,
    ChargeRates,
    NegotiationSettingsSaved,
    PaymentConditionSaved,
)
from contracts.personal import ERASURES_TOPIC, PersonalDataErased
from contracts.ruler import CONFIG_TOPIC as RULER_CONFIG_TOPIC
from contracts.ruler import (
    OVERDUE_STAGE_LABELS,
    CallResultTypesSaved,
    CampaignSaved,
    RulerDefinition,
    RulerDefinitionV2,
    RulerDefinitionV3,
    RulerDefinitionV4,
    RulerRunRequested,
    RulerSaved,
    RulerSavedV2,
)
from service_runtime.projection import Projection, event_types_of
from service_runtime.sql import insert_ignore
from service_runtime.sqltypes import UtcDateTime

metadata = MetaData()
audit_entries = Table(
    "audit_entries",
    metadata,
    Column("event_id", String(36), primary_key=True),
    Column("tenant", String(63), nullable=False),
    Column("entity_kind", String(40), nullable=False),
    Column("entity_id", String(200), nullable=False),
    Column("occurred_at", UtcDateTime(), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("summary", Text, nullable=False),
    Column("type", String(60), nullable=False),
    Column("aggregate_version", Integer, nullable=False),
    Index("ix_audit_entity", "tenant", "entity_kind", "entity_id", "occurred_at"),
    Index("ix_audit_tenant_time", "tenant", "occurred_at"),
)

ENTITY_KINDS = (
    "payment_condition",
    "ruler",
    "campaign",
    "call_result_types",
    "ruler_run",
    "template",
    "negotiation_settings",
    "messaging_settings",
    "portal_profile",
    "debtor",
)

EXIT_NAMES = {
    "settled": "quitada",
    "paid": "parcela paga",
    "renegotiated": "renegociada",
    "cancelled": "cancelada",
}

STAGE_NAMES: dict[str, str] = dict(OVERDUE_STAGE_LABELS)


def _pct(value: Decimal) -> str:
    text = f"{value.normalize():f}".replace(".", ",")
    return f"{text}%"


def _created(event: Envelope, feminine: bool) -> str:
    if event.aggregate_version <= 1:
        return "criada" if feminine else "criado"
    return "alterada" if feminine else "alterado"


def _list(items: list[str], limit: int = 5) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" e mais {len(items) - limit}" if len(items) > limit else "")


def _range(low: int | None, high: int | None, unit: str, money: bool = False) -> str | None:
    def show(v: int) -> str:
        return format_brl(v) if money else f"{v}"

    if low is not None and high is not None:
        return f"{unit} de {show(low)} a {show(high)}"
    if low is not None:
        return f"{unit} a partir de {show(low)}"
    if high is not None:
        return f"{unit} até {show(high)}"
    return None


def _condition(event: PaymentConditionSaved) -> str:
    terms = event.terms
    parts = ["à vista" if terms.installments == 1 else f"{terms.installments}x"]
    if terms.principal_discount_pct:
        parts.append(f"desconto de {_pct(terms.principal_discount_pct)} no principal")
    if terms.charges_discount_pct:
        parts.append(f"desconto de {_pct(terms.charges_discount_pct)} nos encargos")
    if terms.min_down_payment_pct:
        parts.append(f"entrada mínima de {_pct(terms.min_down_payment_pct)}")
    if terms.min_installment_cents:
        parts.append(f"parcela mínima {format_brl(terms.min_installment_cents)}")
    parts.append(f"credor {terms.creditor}" if terms.creditor else "todos os credores")
    if not terms.active:
        parts.append("inativa")
    name = f" «{terms.description}»" if terms.description else ""
    return f"Condição de pagamento{name} {_created(event, True)}: " + ", ".join(parts)


def _ruler(definition: RulerDefinition) -> list[str]:
    parts = [
        "etapas " + ", ".join(f"{STAGE_NAMES[s.stage]} (dia {s.day})" for s in definition.stages)
    ]
    if definition.pre_due_days:
        days = " e ".join(str(d) for d in definition.pre_due_days)
        parts.append(f"lembretes {days} dias antes do vencimento")
    if isinstance(definition, RulerDefinitionV2) and definition.finalization_by_reason:
        own = [
            f"{EXIT_NAMES.get(reason, reason)} ({_messages(len(actions))})"
            for reason, actions in definition.finalization_by_reason.items()
        ]
        parts.append("finalização própria: " + ", ".join(own))
    if isinstance(definition, RulerDefinitionV3) and any(
        s.stage == "credit_bureau" for s in definition.stages
    ):
        notice = (
            _messages(len(definition.listing_notice_actions))
            if definition.listing_notice_actions
            else "a da etapa anterior"
        )
        parts.append(
            f"negativação só {definition.listing_notice_days} dia(s) após aviso ({notice})"
        )
    if isinstance(definition, RulerDefinitionV4) and definition.listing_removal_actions:
        parts.append(
            "baixa da negativação avisada ("
            + _messages(len(definition.listing_removal_actions))
            + ")"
        )
    if definition.creditors:
        parts.append("credores " + _list(definition.creditors))
    if definition.categories:
        parts.append("categorias " + _list(definition.categories))
    if not definition.active:
        parts.append("inativa")
    return parts


def _messages(count: int) -> str:
    return {0: "sem mensagem", 1: "1 mensagem"}.get(count, f"{count} mensagens")


K = TypeVar("K", bound=str)
CHANNEL_NAMES = {"sms": "SMS", "whatsapp": "WhatsApp", "email": "e-mail", "push": "push"}
CHANNEL_ORDER = ("sms", "whatsapp", "email", "push")
WEEKDAYS = ("seg", "ter", "qua", "qui", "sex", "sáb", "dom")
# Withheld fields of a channel, as an admin calls them (others by their own name).
WITHHELD_NAMES = {"password": "senha", "username": "usuário", "url": "endereço completo"}


def _weekdays(days: list[int]) -> str:
    """[0, 1, 2, 3, 4] -> "seg-sex"; [0, 2, 4] -> "seg, qua, sex"; all -> "todos os dias"."""
    wanted = sorted({d for d in days if 0 <= d <= 6})
    if len(wanted) == 7:
        return "todos os dias"
    runs: list[list[int]] = []
    for day in wanted:
        if runs and day == runs[-1][-1] + 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return ", ".join(
        f"{WEEKDAYS[r[0]]}-{WEEKDAYS[r[-1]]}" if len(r) > 2 else ", ".join(WEEKDAYS[d] for d in r)
        for r in runs
    )


def _rates(rates: ChargeRates) -> str:
    return (
        f"multa {_pct(rates.penalty_pct)}, juros {_pct(rates.interest_monthly_pct)} ao mês, "
        f"correção {_pct(rates.correction_monthly_pct)} ao mês"
    )


def _negotiation_settings(event: NegotiationSettingsSaved) -> str:
    boleto, pix = event.boleto, event.pix
    bank = f"banco {boleto.bank_code}" + (f" ({boleto.bank_name})" if boleto.bank_name else "")
    beneficiary = boleto.beneficiary_name + (
        f" ({boleto.beneficiary_document})" if boleto.beneficiary_document else ""
    )
    parts = [
        f"boleto no {bank}, agência {boleto.agency}, conta {boleto.account}, "
        f"carteira {boleto.wallet}"
        + (f", código do beneficiário {boleto.beneficiary_code}" if boleto.beneficiary_code else "")
        + f", beneficiário {beneficiary}",
        f"chave PIX {pix.key} ({pix.merchant_name}, {pix.merchant_city})",
        f"quebra do acordo com a 1ª parcela {event.break_first_installment_days} dias "
        f"em atraso, as demais {event.break_later_installment_days} dias",
        f"encargos: {_rates(event.charges)}",
    ]
    if event.creditor_charges:
        parts.append(
            "encargos próprios de "
            + _list([f"{name} ({_rates(r)})" for name, r in event.creditor_charges.items()], 3)
        )
    return "Configurações de negociação: " + "; ".join(parts)


def _channel(channel: str, adapter: ChannelAdapterSettings) -> str:
    name = CHANNEL_NAMES.get(channel, channel)
    settings = adapter.settings
    if adapter.kind == "smtp":
        where = str(settings.get("host") or "?")
        if settings.get("port") not in (None, ""):
            where += f":{settings['port']}"
        text = f"{name} por SMTP {where}"
        if settings.get("sender"):
            text += f", remetente {settings['sender']}"
    elif adapter.kind == "http":
        text = f"{name} por HTTP {settings.get('url') or '?'}"
    elif adapter.kind == "outbox":
        text = f"{name} no arquivo de saída (sem envio real)"
    else:
        text = f"{name} por {adapter.kind}"
    if adapter.withheld_changed:
        changed = ", ".join(WITHHELD_NAMES.get(n, n) for n in adapter.withheld_changed)
        text += f" (credenciais alteradas: {changed})"
    elif adapter.withheld:
        text += " (credenciais mantidas)"
    return text


def _ordered(channels: dict[K, Any]) -> list[K]:
    return sorted(channels, key=lambda c: CHANNEL_ORDER.index(c) if c in CHANNEL_ORDER else 9)


def _messaging_settings(event: MessagingSettingsSaved) -> str:
    parts = [f"assessoria «{event.agency_name}»"]
    if event.windows:
        for channel in _ordered(event.windows):
            window = event.windows[channel]
            parts.append(
                f"janela de {CHANNEL_NAMES.get(channel, channel)} "
                f"{_weekdays(window.weekdays)} {window.start}-{window.end}"
            )
    else:
        parts.append("janelas de envio padrão")
    parts.extend(_channel(c, event.channels[c]) for c in _ordered(event.channels))
    parts.append(f"até {event.max_attempts} tentativas por mensagem")
    chatbot = event.chatbot
    parts.append(
        f"chatbot com {len(chatbot.options)} opções no menu, "
        + ("negocia no chat" if chatbot.negotiate_in_chat else "só com o link do portal")
    )
    notification = event.portal_notification
    parts.append(
        f"notificação do portal ligada (modelo {notification.template}, "
        f"{_weekdays(notification.weekdays)})"
        if notification.enabled
        else "notificação do portal desligada"
    )
    return "Configurações de mensagens: " + "; ".join(parts)


def _portal_list(terms: PortalListTerms) -> str:
    parts = [
        part
        for part in (
            "credores " + _list(terms.creditors) if terms.creditors else None,
            "categorias " + _list(terms.categories) if terms.categories else None,
            _range(terms.amount_min_cents, terms.amount_max_cents, "valor", True),
            _range(terms.days_overdue_min, terms.days_overdue_max, "atraso (dias)"),
        )
        if part
    ]
    return ", ".join(parts) if parts else "todas as dívidas em aberto"


def _portal_profile(event: PortalProfileSaved | PortalProfileSavedV2) -> str:
    if event.part == "profile":
        terms = event.portal_list or PortalListTerms()
        text = f"nome «{event.name}»; lista do portal: {_portal_list(terms)}"
    elif event.part == "second_factor":
        channels = " ou ".join(CHANNEL_NAMES.get(c, c) for c in event.code_channels or [])
        if event.second_factor == "code":
            text = f"acesso com código de uso único por {channels}"
        elif event.second_factor == "birth_date":
            text = (
                "acesso com a data de nascimento da carteira (data de abertura, para CNPJ), "
                "até 5 tentativas erradas por documento ao dia"
            )
        else:
            text = "acesso só com o documento (sem código)"
    else:
        logo = event.logo
        if logo is None:
            text = "logotipo alterado"
        else:
            kind = logo.media_type.removeprefix("image/").upper()
            size = max(1, round(logo.size_bytes / 1024))
            text = f"logotipo {kind} de {size} KB (sha256 {logo.sha256[:12]})"
    return "Perfil do portal: " + text


def summarize(event: Envelope) -> str | None:
    if isinstance(event, PaymentConditionSaved):
        return _condition(event)
    if isinstance(event, RulerSaved | RulerSavedV2):
        return f"Régua «{event.definition.name}» {_created(event, True)}: " + "; ".join(
            _ruler(event.definition)
        )
    if isinstance(event, RulerRunRequested):
        return (
            f"Régua processada agora (dia {event.on_date:%d/%m/%Y}): "
            f"{event.receivables} contas a receber em aberto, {event.stages} mudança(s) de "
            f"etapa, {event.reminders} lembrete(s), {event.listings} negativação(ões), "
            f"{event.messages} mensagem(ns)"
        )
    if isinstance(event, CampaignSaved):
        campaign = event.definition
        parts = [
            part
            for part in (
                "credores " + _list(campaign.creditors) if campaign.creditors else None,
                "categorias " + _list(campaign.categories) if campaign.categories else None,
                "UF " + _list(campaign.states) if campaign.states else None,
                "cidades " + _list(campaign.cities) if campaign.cities else None,
                _range(campaign.days_overdue_min, campaign.days_overdue_max, "atraso (dias)"),
                _range(campaign.amount_min_cents, campaign.amount_max_cents, "valor", True),
                "etapas " + _list([STAGE_NAMES[s] for s in campaign.stages])
                if campaign.stages
                else None,
                f"{campaign.minutes_per_call} min por ligação",
                None if campaign.active else "inativa",
            )
            if part
        ]
        return f"Campanha «{campaign.name}» {_created(event, True)}: " + "; ".join(parts)
    if isinstance(event, CallResultTypesSaved):
        labels = [t.label for t in event.result_types]
        return (
            f"Tipos de resultado de ligação {_created(event, False)}s"
            f" ({len(labels)}): {_list(labels, 8)}"
        )
    if isinstance(event, TemplateSaved):
        variables = f" (variáveis: {', '.join(event.variables)})" if event.variables else ""
        return f"Modelo {event.channel} «{event.name}» {_created(event, False)}{variables}"
    if isinstance(event, NegotiationSettingsSaved):
        return _negotiation_settings(event)
    if isinstance(event, MessagingSettingsSaved):
        return _messaging_settings(event)
    if isinstance(event, PortalProfileSaved | PortalProfileSavedV2):
        return _portal_profile(event)
    if isinstance(event, PersonalDataErased):
        keys = len(event.key_ids)
        return (
            "Dados pessoais do devedor removidos a pedido do titular (LGPD): "
            + (f"{keys} chave(s) apagada(s)" if keys else "nenhuma chave a apagar")
            + f"; motivo: {event.reason}"
        )
    return None


def entity_of(event: Envelope) -> tuple[str, str] | None:
    """(entity_kind, entity_id) of the thing an event changed."""
    if isinstance(event, PaymentConditionSaved):
        return "payment_condition", event.condition_id
    if isinstance(event, RulerSaved | RulerSavedV2):
        return "ruler", event.ruler_id
    if isinstance(event, RulerRunRequested):
        return "ruler_run", event.on_date.isoformat()
    if isinstance(event, CampaignSaved):
        return "campaign", event.campaign_id
    if isinstance(event, CallResultTypesSaved):
        return "call_result_types", "call_results"
    if isinstance(event, TemplateSaved):
        return "template", f"{event.channel}/{event.name}"
    if isinstance(event, NegotiationSettingsSaved):
        return "negotiation_settings", "negotiation"
    if isinstance(event, MessagingSettingsSaved):
        return "messaging_settings", "messaging"
    if isinstance(event, PortalProfileSaved | PortalProfileSavedV2):
        return "portal_profile", "portal"
    if isinstance(event, PersonalDataErased):
        return "debtor", event.document
    return None


def actor_of(event: Envelope) -> str:
    """Who made the change: the admin's subject the event carries."""
    if isinstance(event, PersonalDataErased | RulerRunRequested):
        return event.requested_by[:200]
    return str(getattr(event, "saved_by", "") or "")[:200]


class AuditProjection(Projection):
    name = "audit"
    topics = (
        CONDITIONS_TOPIC,
        RULER_CONFIG_TOPIC,
        MESSAGING_CONFIG_TOPIC,
        GATEWAY_CONFIG_TOPIC,
        ERASURES_TOPIC,
    )
    metadata = metadata
    # The events `entity_of` and `summarize` know: the runtime passes over the others unparsed.
    event_types = event_types_of(
        PaymentConditionSaved,
        RulerSaved,
        RulerSavedV2,
        RulerRunRequested,
        CampaignSaved,
        CallResultTypesSaved,
        TemplateSaved,
        NegotiationSettingsSaved,
        MessagingSettingsSaved,
        PortalProfileSaved,
        PortalProfileSavedV2,
        PersonalDataErased,
    )

    def apply(self, conn: Connection, events: list[Envelope]) -> None:
        rows: list[dict[str, Any]] = []
        for event in events:
            entity = entity_of(event)
            summary = summarize(event)
            if entity is None or summary is None:
                continue
            rows.append(
                {
                    "event_id": str(event.event_id),
                    "tenant": event.tenant,
                    "entity_kind": entity[0],
                    "entity_id": entity[1][:200],
                    "occurred_at": event.occurred_at,
                    "actor": actor_of(event),
                    "summary": summary,
                    "type": event.type,
                    "aggregate_version": event.aggregate_version,
                }
            )
        insert_ignore(conn, audit_entries, rows)


def audit_trail(
    engine: Engine,
    tenant: str,
    entity_kind: str | None = None,
    entity_id: str | None = None,
    since: dt.datetime | None = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    """A tenant's configuration changes, newest first."""
    query = select(audit_entries).where(audit_entries.c.tenant == tenant)
    if entity_kind:
        query = query.where(audit_entries.c.entity_kind == entity_kind)
    if entity_id:
        query = query.where(audit_entries.c.entity_id == entity_id)
    if since is not None:
        query = query.where(audit_entries.c.occurred_at >= since)
    query = query.order_by(
        audit_entries.c.occurred_at.desc(),
        audit_entries.c.aggregate_version.desc(),
        audit_entries.c.event_id.desc(),
    ).limit(limit)
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]
