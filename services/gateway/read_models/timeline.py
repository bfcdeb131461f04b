"""Debtor timeline: every event about a debtor (per tenant and document), oldest first, with a
one-line summary in pt-BR.

A summary may tell personal data (a phone a message went to, a changed e-mail, what the debtor
wrote on the portal): opened with the key vault from version 2 of the events. Each entry keeps,
next to its summary, the same summary with that data removed (`summary_removed`), which
replaces it when the debtor's data is erased; the erasure itself is an entry of the timeline
(see read_models.personal)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
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
    bindparam,
    delete,
    select,
    update,
)

from contracts.carteiras import REJECTED_TOPIC, DebtRejected
from contracts.envelope import Envelope
from contracts.gateway import PORTAL_TOPIC, PortalContactLeft, PortalContactLeftV2
from contracts.invoices import installment_heading, installments_count, plan_kinds
from contracts.messaging import (
    CONVERSATIONS_TOPIC,
    MESSAGES_TOPIC,
    OPTOUTS_TOPIC,
    ConversationChanged,
    ConversationChangedV2,
    ConversationChangedV3,
    MessageDelivered,
    MessageFailed,
    MessageSent,
    MessageSentV2,
    OptOutRecorded,
)
from contracts.money import format_brl
from contracts.negotiation import (
    AGREEMENTS_TOPIC,
    INVOICES_TOPIC,
    PAYMENTS_TOPIC,
    AgreementBroken,
    AgreementBrokenV2,
    AgreementBrokenV3,
    AgreementClosed,
    AgreementClosedV2,
    AgreementFulfilled,
    InstallmentPaid,
    InstallmentPaidV2,
    InvoiceOverdue,
    InvoiceOverdueV2,
    PaymentReceived,
)
from contracts.personal import ERASURES_TOPIC, PersonalDataErased, SealedPersonalData
from contracts.portfolio import (
    DEBTS_TOPIC,
    PERSONAL_FIELDS,
    DebtImported,
    DebtImportedV2,
    DebtPaymentDeducted,
    DebtReopened,
    DebtSettled,
    DebtUpdated,
    DebtUpdatedV2,
    DebtWithdrawn,
)
from contracts.ruler import (
    BUREAU_TOPIC,
    CALLS_TOPIC,
    STAGES_TOPIC,
    CallRecorded,
    DebtorNegativated,
    NegativationHeld,
    NegativationRemoved,
    StageAction,
    StageAdvanced,
    StageAdvancedV2,
)
from service_runtime.clock import BUSINESS_TZ
from service_runtime.personal_data import REMOVED, KeyVault, unseal
from service_runtime.projection import event_types_of
from service_runtime.sql import in_ids, insert_ignore
from service_runtime.sqltypes import UtcDateTime
from services.gateway.read_models.personal import (
    PersonalDataProjection,
    erased_rows,
    erasures_table,
    key_of,
)

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
    # The summary without the personal data it tells (NULL: it tells none); it replaces
    # `summary` when the debtor's data is erased.
    Column("summary_removed", Text),
    # The key the event's personal data is sealed with (NULL: in clear, or none).
    Column("key_id", String(32)),
    Column("aggregate_id", String(64), nullable=False),
    Column("aggregate_version", Integer, nullable=False),
    Column("correlation_id", String(128), nullable=False),
)
# The debtor's timeline, oldest first (the readers; and an erasure finds the rows by it).
ix_timeline_tenant_document = Index(
    "ix_timeline_tenant_document",
    timeline_entries.c.tenant,
    timeline_entries.c.document,
    timeline_entries.c.occurred_at,
)
timeline_erasures = erasures_table("timeline_erasures", metadata)
# Each agreement's installments' kinds in order ("down_payment,installment,..."): an
# installment is named as the debtor's boleto names it ("Entrada", "Parcela 1 de 3").
timeline_agreement_plans = Table(
    "timeline_agreement_plans",
    metadata,
    Column("agreement_id", String(64), primary_key=True),
    Column("kinds", Text, nullable=False),
)
# An invoice's event read before its agreement's closing (another topic: a replay reads them
# in any order): kept here, its entry named again when the closing comes.
timeline_unnamed_installments = Table(
    "timeline_unnamed_installments",
    metadata,
    Column("event_id", String(36), primary_key=True),
    Column("agreement_id", String(64), nullable=False, index=True),
    Column("installment_number", Integer, nullable=False),
    # The entry's line after the installment's name ("Parcela 2"): " paga: R$ ...".
    Column("rest", Text, nullable=False),
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
    "birth_date": "data de nascimento",
}
# The portal's second factor: the timeline says it changed, never what it is.
UNSHOWN_FIELDS = {"birth_date"}


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


class Personal:
    """How a summary tells the personal data it mentions: in clear (as a version 1 event
    carries it, or opened with the vault) or removed (`redact`, or the key was erased). It
    notes whether the summary mentioned any (`mentioned`, the same either way) and whether
    sealed data would not open (`removed`)."""

    def __init__(self, vault: KeyVault | None = None, *, redact: bool = False) -> None:
        self.vault = vault
        self.redact = redact
        self.mentioned = False
        self.removed = False
        self._opened: dict[str, dict[str, object] | None] = {}

    def clear(self, value: str | None) -> str | None:
        """A value the event carries in clear."""
        if value is None or value == "":
            return value
        self.mentioned = True
        return REMOVED if self.redact else value

    def sealed(self, sealed: SealedPersonalData, field: str) -> str | None:
        """A field of the event's sealed data (REMOVED when it does not open)."""
        self.mentioned = True
        if self.redact:
            return REMOVED
        if sealed.key_id not in self._opened:
            self._opened[sealed.key_id] = (
                unseal(sealed, self.vault) if self.vault is not None else None
            )
        opened = self._opened[sealed.key_id]
        if opened is None:
            self.removed = True
            return REMOVED
        value = opened.get(field)
        return None if value is None else str(value)


def summarize(
    event: Envelope, vault: KeyVault | None = None, *, redact: bool = False
) -> str | None:
    """The entry's pt-BR line; personal data sealed in the event is opened with `vault`
    (without one it reads REMOVED), and with `redact` every personal datum reads REMOVED."""
    return describe(event, Personal(vault, redact=redact))


def describe(event: Envelope, personal: Personal, kinds: Sequence[str] | None = None) -> str | None:
    """The entry's pt-BR line. `kinds`: for an event about an agreement's installment, the
    kinds of that agreement's installments (None: not known yet, the installment is named by
    its number)."""
    if isinstance(event, DebtImported | DebtImportedV2):
        return (
            f"Dívida importada: {event.creditor}, contrato {event.contract}"
            + (f" parcela {event.installment}" if event.installment else "")
            + f", {format_brl(event.original_amount_cents)}"
            + f", vencimento {_dmy(event.due_date)}"
        )
    if isinstance(event, DebtUpdated | DebtUpdatedV2):
        parts = [_change(event, c.field, c.old, c.new, personal) for c in event.changes]
        parcela = f" parcela {event.installment}" if event.installment else ""
        return (
            f"Dívida atualizada ({event.creditor}, contrato {event.contract}{parcela}): "
            + "; ".join(parts)
        )
    if isinstance(event, DebtSettled):
        return (
            f"Dívida quitada: {event.creditor}, {_contract(event)} "
            f"({format_brl(event.paid_cents)} pagos)"
        )
    if isinstance(event, DebtWithdrawn):
        how = "cancelada" if event.reason == "cancelled" else "devolvida"
        return f"Dívida {how} pelo credor, sai da cobrança: {event.creditor}, {_contract(event)}"
    if isinstance(event, DebtReopened):
        return (
            f"Dívida volta à cobrança: {event.creditor}, {_contract(event)}, "
            f"saldo {format_brl(event.balance_cents)}"
        )
    if isinstance(event, DebtPaymentDeducted):
        # Paid off: the portfolio settles it right after (DebtSettled, by the broken
        # agreement), whose line cannot tell a fulfilled agreement from this; this one says why.
        why = (
            " (quitada: os pagamentos ao boleto do acordo quebrado cobriram o saldo)"
            if event.balance_cents == 0
            else ""
        )
        return (
            f"{format_brl(event.deducted_cents)} pagos em {_dmy(event.paid_on)} ao acordo "
            f"quebrado abatidos da dívida: {event.creditor}, {_contract(event)}, "
            f"saldo {format_brl(event.balance_cents)}{why}"
        )
    if isinstance(event, AgreementClosed | AgreementClosedV2):
        # "à vista", "em 3 parcelas", "em entrada + 2 parcelas" (contracts.invoices)
        counted = installments_count([str(i.kind) for i in event.installments])
        plan = (
            "à vista" if len(event.installments) == 1 else f"em {counted[0].lower()}{counted[1:]}"
        )
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
            f"{_installment(event.installment_number, kinds)} paga: "
            f"{format_brl(event.paid_cents)} em {_dmy(event.paid_on)}{late}"
        )
    if isinstance(event, InvoiceOverdue):
        return (
            f"{_installment(event.installment_number, kinds)} em atraso há "
            f"{event.days_overdue} dia(s): {format_brl(event.balance_cents)} vencidos em "
            f"{_dmy(event.due_date)}"
        )
    if isinstance(event, AgreementBrokenV3) and event.rule == "debt_amount_lowered":
        return _ended_by_lowering(event)
    if isinstance(event, AgreementBrokenV2) and event.rule == "debt_withdrawn":
        return _ended_by_withdrawal(event)
    if isinstance(event, AgreementBroken):
        which = _installment(event.installment_number, kinds)
        paid = (
            f"{format_brl(event.paid_cents)} pagos são abatidos das dívidas"
            if event.paid_cents
            else "nada foi pago, as dívidas voltam à cobrança"
        )
        return (
            f"Acordo quebrado: {which[0].lower()}{which[1:]} com {event.days_overdue} "
            f"dias de atraso; {paid}"
        )
    if isinstance(event, AgreementFulfilled):
        return f"Acordo cumprido: {format_brl(event.paid_cents)} pagos, dívidas quitadas"
    if isinstance(event, PaymentReceived):
        outcome = PAYMENT_OUTCOMES.get(event.outcome, event.outcome)
        if event.outcome == "excess" and event.applied_cents == 0 and event.balance_cents > 0:
            # Nothing of it went to an installment still owed: its agreement had ended (broken
            # or paid off). The debtor paid no more than was asked (QA: "pago a mais").
            outcome = "recebido depois do fim do acordo"
        return f"Pagamento recebido de {format_brl(event.amount_cents)}: {outcome}" + (
            f" ({_in_reais(event.reason)})" if event.reason else ""
        )
    if isinstance(event, MessageSent | MessageSentV2):
        to = (
            personal.clear(event.to)
            if isinstance(event, MessageSent)
            else personal.sealed(event.personal, "to")
        )
        return (
            f"Mensagem enviada por {CHANNEL_NAMES.get(event.channel, event.channel)} "
            f"({event.template})" + (f" para {to}" if to else "")
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
    if isinstance(event, ConversationChanged | ConversationChangedV2 | ConversationChangedV3):
        return _conversation(event, personal)
    if isinstance(event, StageAdvanced):
        return (
            f"{_staged(event)} entrou na etapa "
            f"{STAGE_NAMES.get(event.to_stage, event.to_stage)} com {event.days_overdue} "
            "dia(s) de atraso"
            + (f"; ações: {', '.join(_action(a) for a in event.actions)}" if event.actions else "")
        )
    if isinstance(event, DebtorNegativated):
        return (
            f"Negativado no {event.bureau}: {event.creditor}, {format_brl(event.amount_cents)} "
            f"vencido em {_dmy(event.due_date)}"
        )
    if isinstance(event, NegativationHeld):
        reasons = "; ".join(dict.fromkeys(event.reasons)) or "sem motivo informado"
        return (
            f"Negativação suspensa ({event.creditor}, contrato {event.contract}, "
            f"{format_brl(event.amount_cents)}): aviso prévio não enviado ({reasons}); "
            "contatar o devedor por outro meio"
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
    if isinstance(event, PortalContactLeft | PortalContactLeftV2):
        return _portal_contact(event, personal)
    if isinstance(event, DebtRejected):
        where = f"linha {event.row_number}" if event.row_number else f"registro {event.row_key}"
        return f"Carteira {event.import_id[:8]}: {where} recusada: {event.reason}"
    if isinstance(event, PersonalDataErased):
        at = event.occurred_at.astimezone(BUSINESS_TZ)
        return f"{ERASED_SUMMARY} por {event.requested_by} em {at:%d/%m/%Y} às {at:%H:%M}"
    return None


ERASED_SUMMARY = "Dados pessoais removidos a pedido do titular (LGPD)"


def _contract(event: DebtSettled | DebtWithdrawn | DebtReopened | DebtPaymentDeducted) -> str:
    """'contrato C-1 parcela 2', or 'contrato C-1' for a debt without parcelas: the contract's
    parcelas told apart, as the import's and the update's lines do (QA pass 8)."""
    return f"contrato {event.contract}" + (
        f" parcela {event.installment}" if event.installment else ""
    )


def _staged(event: StageAdvanced) -> str:
    """The receivable that reached a stage: 'Dívida (Banco X, contrato C-1, R$ 10,00)', 'Acordo
    1a2b3c4d parcela 1 de 3 (Banco X, R$ 10,00)' (version 1 named neither)."""
    amount = format_brl(event.amount_cents)
    debt = event.receivable_kind == "debt"
    if not isinstance(event, StageAdvancedV2):
        return f"{'Dívida' if debt else 'Parcela de acordo'} ({event.creditor}, {amount})"
    if debt:
        return f"Dívida ({event.creditor}, contrato {event.contract}, {amount})"
    return f"{event.contract[:1].upper()}{event.contract[1:]} ({event.creditor}, {amount})"


def _ended_by_withdrawal(event: AgreementBrokenV2) -> str:
    """The agreement ended because the creditor withdrew its debts: the withdrawn ones do not
    come back to collection (QA: the break's text promised they did)."""
    withdrawn = len(event.withdrawn_debt_ids)
    others = len(event.debts) - withdrawn
    what = "a dívida" if withdrawn == 1 else f"{withdrawn} dívidas"
    text = (
        f"Acordo encerrado: o credor retirou {what} do acordo; as parcelas em aberto foram "
        "canceladas"
    )
    deducted = event.paid_cents - event.credit_cents
    if others and deducted:
        which = "a outra dívida, que volta" if others == 1 else "as outras dívidas, que voltam"
        text += f"; {format_brl(deducted)} pagos são abatidos d{which} à cobrança"
    elif others:
        text += (
            "; a outra dívida volta à cobrança"
            if others == 1
            else ("; as outras dívidas voltam à cobrança")
        )
    if event.credit_cents:
        text += f"; {format_brl(event.credit_cents)} ficam como crédito do devedor"
    return text


def _ended_by_lowering(event: AgreementBrokenV3) -> str:
    """The agreement ended because the creditor lowered a debt's amount below what it
    charged (QA N2): which debt, from what to what, and where what was paid went."""
    lowered = [
        f"contrato {d.contract}"
        + (f" parcela {d.installment}" if d.installment else "")
        + f", de {format_brl(d.old_amount_cents)} para {format_brl(d.new_amount_cents)}"
        for d in event.lowered_debts
    ]
    what = "da dívida" if len(lowered) == 1 else f"de {len(lowered)} dívidas"
    text = (
        f"Acordo encerrado: o credor reduziu o valor {what} ({'; '.join(lowered)}); as "
        "parcelas em aberto foram canceladas"
    )
    balances = {d.debt_id: d.balance_cents for d in event.debts}
    settled = [d for d in event.lowered_debts if balances.get(d.debt_id) == 0]
    back = len(event.debts) - len(settled)
    deducted = event.paid_cents - event.credit_cents
    if back and deducted:
        which = "da dívida, que volta" if back == 1 else "das dívidas, que voltam"
        text += f"; {format_brl(deducted)} pagos são abatidos {which} à cobrança"
    elif back:
        text += "; a dívida volta à cobrança" if back == 1 else "; as dívidas voltam à cobrança"
    # The lowered debts that come back do so by their new values: all of those that come
    # back, or one or some of them (QA pass 9: "a reduzida" for two lowered, or for one left
    # settled).
    lowered_back = len(event.lowered_debts) - len(settled)
    if lowered_back and lowered_back == back:
        text += " pelo novo valor" if back == 1 else " pelos novos valores"
    elif lowered_back:
        text += (
            ", a reduzida pelo novo valor"
            if lowered_back == 1
            else ", as reduzidas pelos novos valores"
        )
    if settled:
        text += (
            "; nada resta a pagar da dívida reduzida, que fica quitada"
            if len(settled) == 1
            else f"; nada resta a pagar de {len(settled)} dívidas reduzidas, que ficam quitadas"
        )
    if event.credit_cents:
        text += f"; {format_brl(event.credit_cents)} ficam como crédito do devedor"
    return text


def _installment(number: int, kinds: Sequence[str] | None) -> str:
    """'Entrada', 'Parcela 1 de 3', 'Parcela única' as the boletos say (contracts.invoices);
    'Parcela N' (its number in the agreement) while the agreement's plan is not known."""
    if kinds is None or not 1 <= number <= len(kinds):
        return f"Parcela {number}"
    return installment_heading(kinds[number - 1], number, kinds)


def _change(
    event: DebtUpdated | DebtUpdatedV2,
    field: str,
    old: str | int | None,
    new: str | int | None,
    personal: Personal,
) -> str:
    label = FIELD_LABELS.get(field, field)
    if field in UNSHOWN_FIELDS:
        return f"{label} alterada"
    if field not in PERSONAL_FIELDS:
        return f"{label} de {_show(field, old)} para {_show(field, new)}"
    if isinstance(event, DebtUpdated):
        return (
            f"{label} de {_show(field, personal.clear(_text(old)))} "
            f"para {_show(field, personal.clear(_text(new)))}"
        )
    # Version 2 names the personal field that changed; its new value is in the sealed data.
    return f"{label} passa a ser {_show(field, personal.sealed(event.personal, field))}"


def _text(value: str | int | None) -> str | None:
    return None if value is None else str(value)


def _portal_contact(event: PortalContactLeft | PortalContactLeftV2, personal: Personal) -> str:
    if isinstance(event, PortalContactLeft):
        phone, email = personal.clear(event.phone), personal.clear(event.email)
    elif event.personal is not None:
        phone = personal.sealed(event.personal, "phone")
        email = personal.sealed(event.personal, "email")
    else:
        phone = email = None
    left = [
        f"{label} {value}"
        for label, value in (
            ("telefone", phone),
            ("e-mail", email),
            ("credor esperado:", event.expected_creditor),
        )
        if value
    ]
    # What the debtor wrote may tell anything about them: removed with the rest.
    message = personal.clear(event.message)
    said = f'; mensagem: "{message}"' if message else ""
    return "Devedor deixou contato no portal: " + ", ".join(left) + said


CHANNELS = {"portal": "portal", "chatbot": "chatbot", "operator": "atendente"}
PAYMENT_OUTCOMES = {
    "paid": "parcela quitada",
    "partial": "pagamento parcial",
    "excess": "pago a mais",
    "already_paid": "parcela já estava paga",
    "unmatched": "sem parcela correspondente",
}


# A partial payment's reason said what was left in centavos in payments received before
# November 2026 ("faltam 32082 centavos"): people read it in reais.
_CENTAVOS_LEFT = re.compile(r"faltam (\d+) centavos")


def _in_reais(reason: str) -> str:
    return _CENTAVOS_LEFT.sub(lambda found: f"faltam {format_brl(int(found[1]))}", reason)


def _dmy(day: dt.date) -> str:
    # What strftime("%d/%m/%Y") writes, at a third of its cost.
    return f"{day.day:02d}/{day.month:02d}/{day.year}"


CHANNEL_NAMES = {
    "email": "e-mail",
    "sms": "SMS",
    "whatsapp": "WhatsApp",
    "push": "push",
    "web": "chat do portal",
}
INITIATED_BY = {"debtor": "pelo devedor", "agency": "pela assessoria"}


def _conversation(
    event: ConversationChanged | ConversationChangedV2 | ConversationChangedV3,
    personal: Personal,
) -> str | None:
    """What an operator wants to see of a conversation; the chatbot's answers are left out
    (they would flood the timeline), and so are the tenant's second factor asked and passed
    (version 3): the document they are asked for waits in the conversation, not in the event
    (which names the debtor identified before, if any, as every change does), and the debtor
    who passes it is told on their own timeline by the `identified` that follows."""
    channel = CHANNEL_NAMES.get(event.channel, event.channel)
    if event.change not in ("started", "identified"):
        address = None
    elif isinstance(event, ConversationChanged):
        address = personal.clear(event.address)
    elif event.personal is not None:
        address = personal.sealed(event.personal, "address")
    else:
        address = personal.clear(event.unidentified_address)
    operator = event.operator or "um atendente"
    if event.change == "started":
        return (
            f"Conversa iniciada {INITIATED_BY.get(event.initiated_by, event.initiated_by)} "
            f"por {channel}"
            + (f" com {address}" if address else "")
            + (f"; atendente {event.operator}" if event.operator else "")
        )
    if event.change == "identified":
        # A debtor who wrote first is only on the timeline from here: say where from.
        return f"Devedor identificado na conversa por {channel}" + (
            f" ({address})" if address else ""
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
        channel = str(action.channel)
        return f"mensagem por {CHANNEL_NAMES.get(channel, channel)} ({action.template})"
    if action.kind == "call_campaign":
        return "lista de ligação"
    # Asked, not done: the listing waits for the notice's days and is an entry of its own.
    return "pedido de negativação (após o aviso prévio)"


SERVICE_OF: dict[type[Envelope], str] = {
    MessageSent: "messaging",
    MessageSentV2: "messaging",
    ConversationChangedV2: "messaging",
    ConversationChangedV3: "messaging",
    DebtImportedV2: "portfolio",
    DebtUpdatedV2: "portfolio",
    AgreementClosedV2: "negotiation",
    PortalContactLeftV2: "gateway",
    PersonalDataErased: "gateway",
    MessageDelivered: "messaging",
    MessageFailed: "messaging",
    OptOutRecorded: "messaging",
    ConversationChanged: "messaging",
    StageAdvanced: "ruler",
    DebtorNegativated: "ruler",
    NegativationHeld: "ruler",
    NegativationRemoved: "ruler",
    CallRecorded: "ruler",
    DebtImported: "portfolio",
    DebtUpdated: "portfolio",
    DebtRejected: "portfolio",
    DebtSettled: "portfolio",
    DebtReopened: "portfolio",
    DebtPaymentDeducted: "portfolio",
    DebtWithdrawn: "portfolio",
    AgreementClosed: "negotiation",
    InstallmentPaid: "negotiation",
    InvoiceOverdue: "negotiation",
    AgreementBroken: "negotiation",
    AgreementFulfilled: "negotiation",
    PaymentReceived: "negotiation",
    PortalContactLeft: "gateway",
}


# By the event's type, whatever its version (a later version may derive from an earlier one).
SERVICE_BY_TYPE = {
    model.model_fields["type"].default: service for model, service in SERVICE_OF.items()
}


class TimelineProjection(PersonalDataProjection):
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
        ERASURES_TOPIC,
    )
    metadata = metadata
    erasures = timeline_erasures
    # The events `describe` tells (each has its service): the runtime passes over the others.
    event_types = event_types_of(*SERVICE_OF)
    reader_indexes = (ix_timeline_tenant_document,)

    def __init__(self, vault: KeyVault) -> None:
        super().__init__(vault)
        # Agreements' plans read or seen lately (facts: an agreement's installments never
        # change), so that an invoice applied before its closing in the same batch (another
        # partition) is named at once, and fewer plans are read back.
        self.known_plans: dict[str, list[str]] = {}

    def prepare(self, events: Sequence[Envelope]) -> None:
        super().prepare(events)
        self._remember(_closings(events))

    def _remember(self, plans: dict[str, list[str]]) -> None:
        if len(self.known_plans) + len(plans) > _KNOWN_PLANS_MAX:
            self.known_plans.clear()
        self.known_plans.update(plans)

    def apply(self, conn: Connection, events: list[Envelope]) -> None:
        # Erasures first: then an entry in clear read in the same batch is removed as it comes.
        for erasure in self.apply_erasures(conn, events):
            conn.execute(
                update(timeline_entries)
                .where(
                    erased_rows(timeline_entries, erasure),
                    timeline_entries.c.summary_removed.is_not(None),
                )
                .values(summary=timeline_entries.c.summary_removed)
            )
        plans, closed = self._plans(conn, events)
        unnamed: list[dict[str, Any]] = []
        rows: list[dict[str, Any]] = []
        for event in events:
            # As `field_or_none("document")`: a model's __dict__ holds its fields only.
            document = event.__dict__.get("document")
            if not document:
                continue
            kinds = None
            if isinstance(event, _PLACED):
                kinds = plan_kinds(event.installments, event.with_down_payment)
            elif isinstance(event, _OF_INSTALLMENT):
                kinds = plans.get(event.agreement_id)
            shown = Personal(self.vault)
            summary = describe(event, shown, kinds)
            if summary is None:
                continue
            if kinds is None and isinstance(event, _NAMED_FIRST):
                unnamed.append(
                    {
                        "event_id": str(event.event_id),
                        "agreement_id": event.agreement_id,
                        "installment_number": event.installment_number,
                        "rest": summary[len(_installment(event.installment_number, None)) :],
                    }
                )
            if shown.mentioned:
                hidden = Personal(redact=True)
                without = describe(event, hidden)
            else:
                # Nothing personal told: described with it removed, the line is the same.
                hidden, without = shown, summary
            rows.append(
                {
                    "event_id": str(event.event_id),
                    "tenant": event.tenant,
                    "document": document,
                    "occurred_at": event.occurred_at,
                    "type": event.type,
                    "service": SERVICE_BY_TYPE.get(event.type, "unknown"),
                    # Sealed data that no longer opens: nothing personal is told at all.
                    "summary": without if shown.removed else summary,
                    "summary_removed": without if hidden.mentioned else None,
                    "key_id": key_of(event),
                    "aggregate_id": event.aggregate_id,
                    "aggregate_version": event.aggregate_version,
                    "correlation_id": event.correlation_id,
                }
            )
        # Data in clear of a debtor whose data was erased since: removed as it comes.
        erased = self.erased_debtors(
            conn,
            {
                (r["tenant"], r["document"])
                for r in rows
                if r["key_id"] is None and r["summary_removed"] is not None
            },
        )
        for row in rows:
            if row["key_id"] is None and (row["tenant"], row["document"]) in erased:
                row["summary"] = row["summary_removed"] or row["summary"]
        insert_ignore(conn, timeline_entries, rows)
        insert_ignore(conn, timeline_unnamed_installments, unnamed)
        _name_installments(conn, closed)

    def _plans(
        self, conn: Connection, events: list[Envelope]
    ) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
        """The installments' kinds of the agreements the events are about (known, stored or
        closed among them), and those of the agreements closed among them (stored here)."""
        closed = _closings(events)
        insert_ignore(
            conn,
            timeline_agreement_plans,
            [{"agreement_id": a, "kinds": ",".join(kinds)} for a, kinds in closed.items()],
        )
        self._remember(closed)
        known = self.known_plans
        # Versions 2 of the invoices' events say their place themselves.
        about = {
            e.agreement_id
            for e in events
            if isinstance(e, _OF_INSTALLMENT) and not isinstance(e, _PLACED)
        }
        plans = {a: known[a] for a in about if a in known}
        wanted = sorted(about - plans.keys())
        found: dict[str, list[str]] = {}
        if wanted:
            for agreement_id, kinds in conn.execute(_PLANS, {"ids": wanted}):
                found[agreement_id] = kinds.split(",")
        self._remember(found)
        return plans | found, closed


# Events about one installment of an agreement (they tell personal data of none); those on
# the invoices' topic may be read before their agreement's closing, and begin with its name.
_OF_INSTALLMENT = (InstallmentPaid, InvoiceOverdue, AgreementBroken)
_NAMED_FIRST = (InstallmentPaid, InvoiceOverdue)
_PLACED = (InstallmentPaidV2, InvoiceOverdueV2)  # they say their place in the plan
_KNOWN_PLANS_MAX = 100_000


def _closings(events: Sequence[Envelope]) -> dict[str, list[str]]:
    return {
        e.agreement_id: [str(i.kind) for i in e.installments]
        for e in events
        if isinstance(e, AgreementClosed | AgreementClosedV2)
    }


def _name_installments(conn: Connection, closed: dict[str, list[str]]) -> None:
    """The entries of installments read before their agreement's closing, named now."""
    if not closed:
        return
    waiting = conn.execute(_UNNAMED, {"ids": list(closed)}).all()
    if not waiting:
        return
    named = [
        {
            "b_event_id": row.event_id,
            "b_summary": _installment(row.installment_number, closed[row.agreement_id]) + row.rest,
        }
        for row in waiting
    ]
    conn.execute(_NAME_ENTRY, named)
    conn.execute(_DELETE_UNNAMED, {"ids": [r.event_id for r in waiting]})


_PLANS = select(timeline_agreement_plans.c.agreement_id, timeline_agreement_plans.c.kinds).where(
    in_ids(timeline_agreement_plans.c.agreement_id)
)
_UNNAMED = select(timeline_unnamed_installments).where(
    in_ids(timeline_unnamed_installments.c.agreement_id)
)
_NAME_ENTRY = (
    update(timeline_entries)
    .where(timeline_entries.c.event_id == bindparam("b_event_id"))
    .values(summary=bindparam("b_summary"))
)
_DELETE_UNNAMED = delete(timeline_unnamed_installments).where(
    in_ids(timeline_unnamed_installments.c.event_id)
)


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
