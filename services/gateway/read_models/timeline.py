"""Debtor timeline: every event about a debtor (per tenant and document), oldest first, with a
one-line summary in pt-BR."""

from __future__ import annotations

import datetime as dt
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

from contracts.carteiras import REJECTED_TOPIC, DebtRejected
from contracts.envelope import Envelope
from contracts.gateway import PORTAL_TOPIC, PortalContactLeft
from contracts.messaging import (
    CONVERSATIONS_TOPIC,
    MESSAGES_TOPIC,
    OPTOUTS_TOPIC,
    ConversationChanged,
    MessageDelivered,
    MessageFailed,
    MessageSent,
    OptOutRecorded,
)
from contracts.money import format_brl
from contracts.negotiation import (
    AGREEMENTS_TOPIC,
    INVOICES_TOPIC,
    PAYMENTS_TOPIC,
    AgreementBroken,
    AgreementClosed,
    AgreementFulfilled,
    InstallmentPaid,
    InvoiceOverdue,
    PaymentReceived,
)
from contracts.portfolio import DEBTS_TOPIC, DebtImported, DebtReopened, DebtSettled, DebtUpdated
from contracts.ruler import (
    BUREAU_TOPIC,
    CALLS_TOPIC,
    STAGES_TOPIC,
    CallRecorded,
    DebtorNegativated,
    NegativationRemoved,
    StageAction,
    StageAdvanced,
)
from service_runtime.clock import BUSINESS_TZ
from service_runtime.projection import Projection
from service_runtime.sql import insert_ignore
from service_runtime.sqltypes import UtcDateTime

metadata = MetaData()
timeline_entries = Table(
    "timeline_entries",
    metadata,
    Column("event_id", String(36), primary_key=True),
    Column("tenant", String(63), nullable=False),
    Column("document", String(14), nullable=False),
    Column("occurred_at", UtcDateTime(), nullable=False),
    Column("type", String(60), nullable=False),
    Column("service", String(30), nullable=False),
    Column("summary", Text, nullable=False),
    Column("aggregate_id", String(64), nullable=False),
    Column("aggregate_version", Integer, nullable=False),
    Column("correlation_id", String(128), nullable=False),
    Index("ix_timeline_tenant_document", "tenant", "document", "occurred_at"),
)

FIELD_LABELS = {
    "original_amount_cents": "valor",
    "due_date": "vencimento",
    "name": "nome",
    "email": "e-mail",
    "phone": "telefone",
    "city": "cidade",
    "state": "UF",
    "category": "categoria",
    "document": "documento",
    "document_kind": "tipo de documento",
}


def _br_date(iso: str) -> str:
    year, month, day = iso.split("-")
    return f"{day}/{month}/{year}"


def _show(field: str, value: str | int | None) -> str:
    if value is None or value == "":
        return "(vazio)"
    if field == "original_amount_cents" and isinstance(value, int):
        return format_brl(value)
    if field == "due_date" and isinstance(value, str):
        return _br_date(value)
    return str(value)


def summarize(event: Envelope) -> str | None:
    if isinstance(event, DebtImported):
        return (
            f"Dívida importada: {event.creditor}, contrato {event.contract}"
            + (f" parcela {event.installment}" if event.installment else "")
            + f", {format_brl(event.original_amount_cents)}"
            + f", vencimento {event.due_date.strftime('%d/%m/%Y')}"
        )
    if isinstance(event, DebtUpdated):
        parts = [
            f"{FIELD_LABELS.get(c.field, c.field)} de {_show(c.field, c.old)} "
            f"para {_show(c.field, c.new)}"
            for c in event.changes
        ]
        return f"Dívida atualizada ({event.creditor}, contrato {event.contract}): " + "; ".join(
            parts
        )
    if isinstance(event, DebtSettled):
        return (
            f"Dívida quitada: {event.creditor}, contrato {event.contract} "
            f"({format_brl(event.paid_cents)} pagos)"
        )
    if isinstance(event, DebtReopened):
        return (
            f"Dívida volta à cobrança: {event.creditor}, contrato {event.contract}, "
            f"saldo {format_brl(event.balance_cents)}"
        )
    if isinstance(event, AgreementClosed):
        count = len(event.installments)
        plan = "à vista" if count == 1 else f"em {count} parcelas"
        via = CHANNELS.get(event.channel, event.channel) + (
            f" ({event.operator})" if event.operator else ""
        )
        return (
            f"Acordo fechado pelo {via}: {event.creditor}, {format_brl(event.total_cents)} "
            f"{plan} (desconto de {format_brl(event.discount_cents)}), "
            f"1º vencimento {_dmy(event.installments[0].due_date)}"
        )
    if isinstance(event, InstallmentPaid):
        late = f", {event.days_late} dia(s) após o vencimento" if event.days_late else ""
        return (
            f"Parcela {event.installment_number} paga: {format_brl(event.paid_cents)} em "
            f"{_dmy(event.paid_on)}{late}"
        )
    if isinstance(event, InvoiceOverdue):
        return (
            f"Parcela {event.installment_number} em atraso há {event.days_overdue} dia(s): "
            f"{format_brl(event.balance_cents)} vencidos em {_dmy(event.due_date)}"
        )
    if isinstance(event, AgreementBroken):
        return (
            f"Acordo quebrado: parcela {event.installment_number} com {event.days_overdue} "
            f"dias de atraso; {format_brl(event.paid_cents)} pagos são abatidos das dívidas"
        )
    if isinstance(event, AgreementFulfilled):
        return f"Acordo cumprido: {format_brl(event.paid_cents)} pagos, dívidas quitadas"
    if isinstance(event, PaymentReceived):
        outcome = PAYMENT_OUTCOMES.get(event.outcome, event.outcome)
        return f"Pagamento recebido de {format_brl(event.amount_cents)}: {outcome}" + (
            f" ({event.reason})" if event.reason else ""
        )
    if isinstance(event, MessageSent):
        return (
            f"Mensagem enviada por {CHANNEL_NAMES.get(event.channel, event.channel)} "
            f"({event.template}) para {event.to}"
        )
    if isinstance(event, MessageDelivered):
        return f"Mensagem entregue por {CHANNEL_NAMES.get(event.channel, event.channel)}"
    if isinstance(event, MessageFailed):
        return (
            f"Mensagem por {CHANNEL_NAMES.get(event.channel, event.channel)} não enviada "
            f"({event.template}): {event.reason}"
        )
    if isinstance(event, OptOutRecorded):
        return (
            f"Devedor pediu para não receber mensagens por "
            f"{CHANNEL_NAMES.get(event.channel, event.channel)} ({event.source})"
        )
    if isinstance(event, ConversationChanged):
        return _conversation(event)
    if isinstance(event, StageAdvanced):
        what = "Dívida" if event.receivable_kind == "debt" else "Parcela de acordo"
        return (
            f"{what} ({event.creditor}, {format_brl(event.amount_cents)}) entrou na etapa "
            f"{STAGE_NAMES.get(event.to_stage, event.to_stage)} com {event.days_overdue} "
            "dia(s) de atraso"
            + (f"; ações: {', '.join(_action(a) for a in event.actions)}" if event.actions else "")
        )
    if isinstance(event, DebtorNegativated):
        return (
            f"Negativado no {event.bureau}: {event.creditor}, {format_brl(event.amount_cents)} "
            f"vencido em {_dmy(event.due_date)}"
        )
    if isinstance(event, NegativationRemoved):
        why = LEAVE_REASONS.get(event.reason, event.reason)
        return f"Negativação retirada ({event.creditor}): {why}"
    if isinstance(event, CallRecorded):
        note = f": {event.note}" if event.note else ""
        again = (
            f"; retornar em {event.reschedule_at.astimezone(BUSINESS_TZ):%d/%m/%Y %H:%M}"
            if event.reschedule_at
            else ""
        )
        return f"Ligação de {event.operator}: {event.result.label}{note}{again}"
    if isinstance(event, PortalContactLeft):
        return _portal_contact(event)
    if isinstance(event, DebtRejected):
        where = f"linha {event.row_number}" if event.row_number else f"registro {event.row_key}"
        return f"Carteira {event.import_id[:8]}: {where} recusada: {event.reason}"
    return None


def _portal_contact(event: PortalContactLeft) -> str:
    left = [
        f"{label} {value}"
        for label, value in (
            ("telefone", event.phone),
            ("e-mail", event.email),
            ("credor esperado:", event.expected_creditor),
        )
        if value
    ]
    said = f'; mensagem: "{event.message}"' if event.message else ""
    return "Devedor deixou contato no portal: " + ", ".join(left) + said


CHANNELS = {"portal": "portal", "chatbot": "chatbot", "operator": "atendente"}
PAYMENT_OUTCOMES = {
    "paid": "parcela quitada",
    "partial": "pagamento parcial",
    "excess": "pago a mais",
    "already_paid": "parcela já estava paga",
    "unmatched": "sem parcela correspondente",
}


def _dmy(day: dt.date) -> str:
    return day.strftime("%d/%m/%Y")


CHANNEL_NAMES = {
    "email": "e-mail",
    "sms": "SMS",
    "whatsapp": "WhatsApp",
    "push": "push",
    "web": "chat do portal",
}
INITIATED_BY = {"debtor": "pelo devedor", "agency": "pela assessoria"}


def _conversation(event: ConversationChanged) -> str | None:
    """What an operator wants to see of a conversation; the chatbot's answers are left out
    (they would flood the timeline)."""
    channel = CHANNEL_NAMES.get(event.channel, event.channel)
    operator = event.operator or "um atendente"
    if event.change == "started":
        return (
            f"Conversa iniciada {INITIATED_BY.get(event.initiated_by, event.initiated_by)} "
            f"por {channel}"
            + (f" com {event.address}" if event.address else "")
            + (f"; atendente {event.operator}" if event.operator else "")
        )
    if event.change == "identified":
        # A debtor who wrote first is only on the timeline from here: say where from.
        return f"Devedor identificado na conversa por {channel}" + (
            f" ({event.address})" if event.address else ""
        )
    if event.change == "waiting_operator":
        return "Devedor pediu um atendente"
    if event.change == "assigned":
        return f"Conversa atribuída a {operator}"
    if event.change == "transferred":
        return (
            "Conversa transferida"
            + (f" de {event.previous_operator}" if event.previous_operator else "")
            + f" para {operator}"
        )
    if event.change == "closed":
        return "Conversa encerrada " + (
            f"por {event.operator}" if event.operator else "pelo chatbot"
        )
    return None


STAGE_NAMES = {
    "notice": "aviso de cobrança",
    "questioning": "questionamento de pendência",
    "schedule_payment": "agendar pagamento",
    "field_collection": "cobrança presencial",
    "credit_bureau": "negativação",
}
LEAVE_REASONS = {
    "settled": "dívida quitada",
    "paid": "parcela paga",
    "renegotiated": "dívida renegociada em acordo",
    "cancelled": "cancelada",
}


def _action(action: StageAction) -> str:
    if action.kind == "message":
        return f"{action.channel} '{action.template}'"
    if action.kind == "call_campaign":
        return "lista de ligação"
    return "negativação"


SERVICE_OF: dict[type[Envelope], str] = {
    MessageSent: "messaging",
    MessageDelivered: "messaging",
    MessageFailed: "messaging",
    OptOutRecorded: "messaging",
    ConversationChanged: "messaging",
    StageAdvanced: "ruler",
    DebtorNegativated: "ruler",
    NegativationRemoved: "ruler",
    CallRecorded: "ruler",
    DebtImported: "portfolio",
    DebtUpdated: "portfolio",
    DebtRejected: "portfolio",
    DebtSettled: "portfolio",
    DebtReopened: "portfolio",
    AgreementClosed: "negotiation",
    InstallmentPaid: "negotiation",
    InvoiceOverdue: "negotiation",
    AgreementBroken: "negotiation",
    AgreementFulfilled: "negotiation",
    PaymentReceived: "negotiation",
    PortalContactLeft: "gateway",
}


class TimelineProjection(Projection):
    name = "timeline"
    topics = (
        DEBTS_TOPIC,
        REJECTED_TOPIC,
        AGREEMENTS_TOPIC,
        INVOICES_TOPIC,
        PAYMENTS_TOPIC,
        STAGES_TOPIC,
        BUREAU_TOPIC,
        CALLS_TOPIC,
        MESSAGES_TOPIC,
        OPTOUTS_TOPIC,
        CONVERSATIONS_TOPIC,
        PORTAL_TOPIC,
    )
    metadata = metadata

    def apply(self, conn: Connection, events: list[Envelope]) -> None:
        rows: list[dict[str, Any]] = []
        for event in events:
            document = getattr(event, "document", None)
            summary = summarize(event)
            if not document or summary is None:
                continue
            rows.append(
                {
                    "event_id": str(event.event_id),
                    "tenant": event.tenant,
                    "document": document,
                    "occurred_at": event.occurred_at,
                    "type": event.type,
                    "service": SERVICE_OF.get(type(event), "unknown"),
                    "summary": summary,
                    "aggregate_id": event.aggregate_id,
                    "aggregate_version": event.aggregate_version,
                    "correlation_id": event.correlation_id,
                }
            )
        insert_ignore(conn, timeline_entries, rows)


def debtor_timeline(engine: Engine, tenant: str, document: str) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(timeline_entries)
            .where(timeline_entries.c.tenant == tenant, timeline_entries.c.document == document)
            .order_by(
                timeline_entries.c.occurred_at,
                timeline_entries.c.aggregate_id,
                timeline_entries.c.aggregate_version,
                timeline_entries.c.event_id,
            )
        )
        return [dict(r._mapping) for r in rows]
