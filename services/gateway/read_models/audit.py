"""The admins' audit trail: every configuration change (payment conditions, rulers, call
campaigns, call result types, message templates) and every erasure of a debtor's personal data
(LGPD) with who made it, when, and a pt-BR summary, per thing changed. Built from the services'
"...Saved" events, which carry `saved_by`, and from `PersonalDataErased` (`requested_by`).

Negotiation settings and messaging settings are changed by request/reply and publish no event
yet, so they are not here.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

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
from contracts.messaging import CONFIG_TOPIC as MESSAGING_CONFIG_TOPIC
from contracts.messaging import TemplateSaved
from contracts.money import format_brl
from contracts.negotiation import CONDITIONS_TOPIC, PaymentConditionSaved
from contracts.personal import ERASURES_TOPIC, PersonalDataErased
from contracts.ruler import CONFIG_TOPIC as RULER_CONFIG_TOPIC
from contracts.ruler import (
    CallResultTypesSaved,
    CampaignSaved,
    RulerDefinition,
    RulerSaved,
)
from service_runtime.projection import Projection
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
    "template",
    "debtor",
)

STAGE_NAMES = {
    "notice": "aviso",
    "questioning": "questionamento",
    "schedule_payment": "agendar pagamento",
    "field_collection": "cobrança presencial",
    "credit_bureau": "negativação",
}


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
    if definition.creditors:
        parts.append("credores " + _list(definition.creditors))
    if definition.categories:
        parts.append("categorias " + _list(definition.categories))
    if not definition.active:
        parts.append("inativa")
    return parts


def summarize(event: Envelope) -> str | None:
    if isinstance(event, PaymentConditionSaved):
        return _condition(event)
    if isinstance(event, RulerSaved):
        return f"Régua «{event.definition.name}» {_created(event, True)}: " + "; ".join(
            _ruler(event.definition)
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
    if isinstance(event, RulerSaved):
        return "ruler", event.ruler_id
    if isinstance(event, CampaignSaved):
        return "campaign", event.campaign_id
    if isinstance(event, CallResultTypesSaved):
        return "call_result_types", "call_results"
    if isinstance(event, TemplateSaved):
        return "template", f"{event.channel}/{event.name}"
    if isinstance(event, PersonalDataErased):
        return "debtor", event.document
    return None


def actor_of(event: Envelope) -> str:
    """Who made the change: the admin's subject the event carries."""
    if isinstance(event, PersonalDataErased):
        return event.requested_by[:200]
    return str(getattr(event, "saved_by", "") or "")[:200]


class AuditProjection(Projection):
    name = "audit"
    topics = (CONDITIONS_TOPIC, RULER_CONFIG_TOPIC, MESSAGING_CONFIG_TOPIC, ERASURES_TOPIC)
    metadata = metadata

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
