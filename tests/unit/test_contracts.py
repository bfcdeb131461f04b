"""The committed contracts (JSON Schemas, topic index, AsyncAPI) match the code, and the
envelope rules every consumer relies on hold."""

from __future__ import annotations

import copy
import datetime as dt
import importlib
import json
import pkgutil
import re
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Annotated, Any, get_args, get_origin

import pytest
from pydantic import BaseModel, ValidationError

import contracts
from contracts import (
    carteiras,
    clock,
    gateway,
    generate,
    messaging,
    negotiation,
    personal,
    portfolio,
    registry,
    ruler,
)
from contracts.envelope import Envelope
from contracts.topics import TOPICS

try:  # Not a declared dependency: validate with it when present, else check structurally.
    import jsonschema
except ImportError:  # pragma: no cover - depends on the environment
    jsonschema = None

OCCURRED_AT = dt.datetime(2025, 3, 10, 12, 30, tzinfo=dt.UTC)
ROW = {"document": "123.456.789-09", "name": "Maria Souza", "original_amount": "1.234,56"}
RULER = ruler.RulerDefinition(
    name="Padrão",
    pre_due_days=[5, 3],
    pre_due_actions=[ruler.SendMessage(channel="sms", template="lembrete")],
    stages=[
        ruler.StageSpec(
            stage="notice", day=3, actions=[ruler.SendMessage(channel="email", template="aviso")]
        ),
        ruler.StageSpec(stage="credit_bureau", day=45, actions=[ruler.SendToBureau()]),
    ],
)
TERMS = negotiation.PaymentConditionTerms(
    installments=2,
    creditor="Banco X",
    charges_discount_pct=Decimal("50"),
    min_down_payment_pct=Decimal("33.33"),
    min_installment_cents=5000,
    amount_min_cents=10000,
    amount_max_cents=10000000,
    days_overdue_min=1,
)


def envelope(aggregate_id: str, version: int = 1) -> dict[str, Any]:
    return {
        "event_id": uuid.UUID(int=version),
        "occurred_at": OCCURRED_AT,
        "tenant": "acme",
        "aggregate_id": aggregate_id,
        "aggregate_version": version,
        "correlation_id": "corr-1",
        "causation_id": "cause-1",
    }


# One realistic instance per event version; a new event fails `test_every_event_has_a_sample`.
SAMPLES: dict[type[Envelope], Envelope] = {
    type(sample): sample
    for sample in (
        carteiras.CarteiraImportRequested(
            **envelope("imp-1"), import_id="imp-1", source="client", rows_total=2
        ),
        carteiras.CarteiraRowSubmitted(
            **envelope("imp-1", 2),
            import_id="imp-1",
            source="client",
            row_key="row-42",
            client_row_id="row-42",
            rows_total=2,
            fields=carteiras.RowFields(**ROW),
        ),
        carteiras.CarteiraRowSubmittedV2(
            **envelope("imp-2", 2),
            import_id="imp-2",
            source="client",
            row_key="row-42",
            client_row_id="row-42",
            rows_total=1,
            fields=carteiras.RowFieldsV2(**ROW, status="cancelado"),
        ),
        carteiras.CarteiraRowSubmittedV3(
            **envelope("imp-3", 2),
            import_id="imp-3",
            source="client",
            row_key="row-44",
            client_row_id="row-44",
            rows_total=1,
            fields=carteiras.RowFieldsV3(**ROW, birth_date="17/05/1980"),
        ),
        carteiras.DebtRejected(
            **envelope("imp-1", 3),
            import_id="imp-1",
            row_key="row-43",
            client_row_id="row-43",
            reason="CPF inválido",
            errors=[carteiras.RowError(field="document", rule="cpf", message="CPF inválido")],
            fields=carteiras.RowFields(document="111.111.111-11"),
        ),
        portfolio.DebtImported(
            **envelope("debt-1"),
            debt_id="debt-1",
            document="12345678909",
            document_kind="cpf",
            debtor=portfolio.DebtorContact(name="Maria Souza", state="SP"),
            creditor="Banco X",
            contract="C-1",
            installment="1",
            original_amount_cents=123456,
            due_date=dt.date(2025, 1, 31),
            import_id="imp-1",
            row_key="row-42",
        ),
        portfolio.DebtUpdated(
            **envelope("debt-1", 2),
            debt_id="debt-1",
            document="12345678909",
            document_kind="cpf",
            creditor="Banco X",
            contract="C-1",
            installment="1",
            changes=[portfolio.FieldChange(field="original_amount_cents", old=123456, new=120000)],
            original_amount_cents=120000,
            due_date=dt.date(2025, 1, 31),
            debtor=portfolio.DebtorContact(name="Maria Souza"),
            import_id="imp-2",
            row_key="row-42",
        ),
        portfolio.CarteiraImportStarted(
            **envelope("imp-1"), import_id="imp-1", source="upload", filename="carteira.csv"
        ),
        portfolio.CarteiraImportStartedV2(
            **envelope("imp-1"),
            import_id="imp-1",
            source="upload",
            filename="carteira.csv",
            received_at=dt.datetime(2026, 11, 25, 12, 58, tzinfo=dt.UTC),
        ),
        portfolio.CarteiraRowsProcessed(
            **envelope("imp-1", 2),
            import_id="imp-1",
            rows_total=2,
            rows_read=2,
            created=1,
            updated=0,
            unchanged=0,
            rejected=1,
        ),
        portfolio.CarteiraImportCompleted(
            **envelope("imp-1", 3),
            import_id="imp-1",
            rows_total=2,
            created=1,
            updated=0,
            unchanged=0,
            rejected=1,
        ),
        negotiation.PaymentConditionSaved(
            **envelope("cond-1"),
            condition_id="cond-1",
            terms=TERMS,
            saved_by="admin@acme",
        ),
        negotiation.AgreementClosed(
            **envelope("agr-1"),
            agreement_id="agr-1",
            document="12345678909",
            debtor_name="Maria Souza",
            creditor="Banco X",
            debt_ids=["debt-1"],
            debts=[
                negotiation.AgreementDebt(
                    debt_id="debt-1",
                    contract="C-1",
                    installment="1",
                    due_date=dt.date(2025, 1, 31),
                    principal_cents=120000,
                    penalty_cents=2400,
                    interest_cents=1520,
                    correction_cents=0,
                    updated_value_cents=123920,
                    days_overdue=38,
                )
            ],
            channel="portal",
            condition_id="cond-1",
            condition=TERMS,
            closed_on=dt.date(2025, 3, 10),
            principal_cents=120000,
            charges_cents=3920,
            updated_value_cents=123920,
            principal_discount_cents=0,
            charges_discount_cents=1960,
            discount_cents=1960,
            total_cents=121960,
            installments=[
                negotiation.AgreementInstallment(
                    number=1,
                    kind="down_payment",
                    due_date=dt.date(2025, 3, 10),
                    amount_cents=40660,
                    invoice_id="inv-1",
                    nosso_numero="1",
                    barcode="2379" + "1" * 40,
                    digitable_line="2379" + "1" * 43,
                    pix_txid="TX1",
                    pix_code="000201...6304ABCD",
                ),
                negotiation.AgreementInstallment(
                    number=2,
                    due_date=dt.date(2025, 4, 10),
                    amount_cents=81300,
                    invoice_id="inv-2",
                    nosso_numero="2",
                    barcode="2379" + "2" * 40,
                    digitable_line="2379" + "2" * 43,
                    pix_txid="TX2",
                    pix_code="000201...6304DCBA",
                ),
            ],
        ),
        negotiation.InstallmentPaid(
            **envelope("agr-1", 2),
            agreement_id="agr-1",
            invoice_id="inv-1",
            document="12345678909",
            creditor="Banco X",
            installment_number=1,
            due_date=dt.date(2025, 3, 10),
            amount_cents=40660,
            paid_cents=40660,
            paid_on=dt.date(2025, 3, 11),
            days_late=1,
            payment_ids=["pay-1"],
        ),
        negotiation.InvoiceOverdue(
            **envelope("agr-1", 3),
            invoice_id="inv-2",
            agreement_id="agr-1",
            document="12345678909",
            creditor="Banco X",
            installment_number=2,
            due_date=dt.date(2025, 4, 10),
            amount_cents=81300,
            balance_cents=81300,
            days_overdue=3,
            as_of=dt.date(2025, 4, 13),
        ),
        negotiation.AgreementBroken(
            **envelope("agr-1", 4),
            agreement_id="agr-1",
            document="12345678909",
            creditor="Banco X",
            broken_on=dt.date(2025, 5, 12),
            rule="later_installment",
            installment_number=2,
            days_overdue=32,
            paid_cents=40660,
            debts=[
                negotiation.BrokenAgreementDebt(
                    debt_id="debt-1", paid_cents=40660, balance_cents=79340
                )
            ],
        ),
        negotiation.AgreementPaymentShared(
            **envelope("agr-1", 5),
            agreement_id="agr-1",
            document="12345678909",
            creditor="Banco X",
            payment_id="pay-2",
            invoice_id="inv-2",
            installment_number=2,
            paid_on=dt.date(2025, 5, 12),
            amount_cents=40660,
            deducted_cents=40660,
            credit_cents=0,
            debts=[
                negotiation.SharedPaymentDebt(
                    debt_id="debt-1", deducted_cents=40660, credit_cents=0
                )
            ],
        ),
        negotiation.AgreementFulfilled(
            **envelope("agr-2", 5),
            agreement_id="agr-2",
            document="12345678909",
            creditor="Banco X",
            debt_ids=["debt-2"],
            fulfilled_on=dt.date(2025, 5, 12),
            paid_cents=50000,
        ),
        negotiation.PaymentReceived(
            **envelope("pay-1"),
            payment_id="pay-1",
            source="cnab240",
            reference="cnab240:237:1:2025-03-11:40660",
            invoice_id="inv-1",
            nosso_numero="1",
            agreement_id="agr-1",
            document="12345678909",
            installment_number=1,
            amount_cents=40660,
            paid_on=dt.date(2025, 3, 11),
            outcome="paid",
            applied_cents=40660,
            balance_cents=0,
            credit_cents=0,
        ),
        portfolio.DebtSettled(
            **envelope("debt-2", 2),
            debt_id="debt-2",
            document="12345678909",
            creditor="Banco X",
            contract="C-2",
            installment="1",
            agreement_id="agr-2",
            settled_on=dt.date(2025, 5, 12),
            paid_cents=50000,
        ),
        portfolio.DebtReopened(
            **envelope("debt-1", 3),
            debt_id="debt-1",
            document="12345678909",
            creditor="Banco X",
            contract="C-1",
            installment="1",
            agreement_id="agr-1",
            reopened_on=dt.date(2025, 5, 12),
            paid_cents=40660,
            balance_cents=79340,
        ),
        portfolio.DebtPaymentDeducted(
            **envelope("debt-1", 4),
            debt_id="debt-1",
            document="12345678909",
            creditor="Banco X",
            contract="C-1",
            installment="1",
            agreement_id="agr-1",
            payment_id="pay-2",
            paid_on=dt.date(2025, 5, 12),
            deducted_cents=40660,
            paid_cents=81320,
            balance_cents=38680,
        ),
        portfolio.DebtWithdrawn(
            **envelope("debt-3", 2),
            debt_id="debt-3",
            document="12345678909",
            creditor="Banco X",
            contract="C-3",
            installment="1",
            reason="cancelled",
            withdrawn_on=dt.date(2025, 5, 12),
            import_id="imp-2",
            row_key="row-42",
        ),
        clock.DayStarted(
            **{**envelope("calendar"), "tenant": clock.PLATFORM_TENANT},
            date=dt.date(2025, 3, 10),
            business_day=True,
            mode="manual",
        ),
        ruler.StageAdvanced(
            **envelope("debt-1"),
            receivable_id="debt-1",
            receivable_kind="debt",
            document="12345678909",
            creditor="Banco X",
            amount_cents=123456,
            due_date=dt.date(2025, 1, 31),
            ruler_id="default",
            from_stage="pre_due",
            to_stage="notice",
            days_overdue=5,
            on_date=dt.date(2025, 2, 5),
            actions=[
                ruler.StageAction(kind="message", key="k-1", channel="email", template="notice")
            ],
        ),
        ruler.ReceivableLeftRuler(
            **envelope("debt-1", 2),
            receivable_id="debt-1",
            receivable_kind="debt",
            document="12345678909",
            creditor="Banco X",
            reason="renegotiated",
            last_stage="notice",
            on_date=dt.date(2025, 2, 10),
            actions=[],
        ),
        ruler.RulerSaved(
            **envelope("ruler-1"),
            ruler_id="default",
            definition=RULER,
            saved_by="admin@acme",
        ),
        ruler.RulerSavedV2(
            **envelope("ruler-1", 2),
            ruler_id="default",
            definition=ruler.RulerDefinitionV2(
                **RULER.model_dump(),
                finalization_by_reason={
                    "settled": [ruler.SendMessage(channel="sms", template="pagamento_confirmado")],
                    "renegotiated": [],
                },
            ),
            saved_by="admin@acme",
        ),
        ruler.RulerSavedV3(
            **envelope("ruler-1", 3),
            ruler_id="default",
            definition=ruler.RulerDefinitionV3(
                **RULER.model_dump(),
                listing_notice_days=15,
                listing_notice_actions=[
                    ruler.SendMessage(channel="sms", template="aviso_negativacao")
                ],
            ),
            saved_by="admin@acme",
        ),
        ruler.RulerSavedV4(
            **envelope("ruler-1", 4),
            ruler_id="default",
            definition=ruler.RulerDefinitionV4(
                **RULER.model_dump(),
                listing_removal_actions=[
                    ruler.SendMessage(channel="sms", template="baixa_negativacao")
                ],
            ),
            saved_by="admin@acme",
        ),
        ruler.RulerRunRequested(
            **envelope("tenant-ruler-1", 3),
            on_date=dt.date(2025, 3, 10),
            requested_by="admin@acme",
            receivables=3000,
            stages=2925,
            reminders=12,
            listings=1875,
            messages=1062,
        ),
        ruler.CampaignSaved(
            **envelope("camp-1"),
            campaign_id="camp-1",
            definition=ruler.CampaignDefinition(
                name="Varejo 30+", amount_min_cents=10000, amount_max_cents=500000
            ),
            saved_by="admin@acme",
        ),
        ruler.CallResultTypesSaved(
            **envelope("acme"),
            result_types=list(ruler.DEFAULT_CALL_RESULTS),
            saved_by="admin@acme",
        ),
        ruler.MessageRequested(
            **envelope("debt-1", 3),
            key="acme|debt-1|notice|0|message:email:aviso",
            document="12345678909",
            receivable_id="debt-1",
            channel="email",
            template="aviso",
            purpose="stage",
            stage="notice",
            variables={"valor": "R$ 1.234,56"},
        ),
        ruler.DebtorNegativated(
            **envelope("debt-1", 4),
            receivable_id="debt-1",
            document="12345678909",
            creditor="Banco X",
            amount_cents=123456,
            due_date=dt.date(2025, 1, 31),
            bureau="arquivo-remessa",
            record_key="acme|debt-1",
            on_date=dt.date(2025, 3, 17),
        ),
        ruler.NegativationRemoved(
            **envelope("debt-1", 5),
            receivable_id="debt-1",
            document="12345678909",
            creditor="Banco X",
            bureau="arquivo-remessa",
            record_key="acme|debt-1",
            reason="renegotiated",
            on_date=dt.date(2025, 3, 20),
        ),
        ruler.NegativationHeld(
            **envelope("debt-1", 4),
            receivable_id="debt-1",
            receivable_kind="debt",
            document="12345678909",
            creditor="Banco X",
            contract="C-778",
            amount_cents=80000,
            due_date=dt.date(2025, 1, 10),
            ruler_id="padrao",
            notice_keys=["acme|debt-1|listing_notice|0|message:sms:aviso_negativacao"],
            reasons=["devedor sem telefone"],
            on_date=dt.date(2025, 3, 17),
        ),
        messaging.MessageQueued(
            **envelope("msg-1"),
            message_id="msg-1",
            key="acme|debt-1|notice|0|message:sms:aviso",
            document="12345678909",
            channel="sms",
            template="aviso",
            to="+5511987654321",
            send_at=OCCURRED_AT,
        ),
        messaging.MessageSent(
            **envelope("msg-1", 2),
            message_id="msg-1",
            key="acme|debt-1|notice|0|message:sms:aviso",
            document="12345678909",
            channel="sms",
            template="aviso",
            to="+5511987654321",
            sent_at=OCCURRED_AT,
            provider="sms",
            provider_id="prov-1",
            attempts=1,
            text="Olá Maria, sua fatura venceu.",
        ),
        messaging.MessageDelivered(
            **envelope("msg-1", 3),
            message_id="msg-1",
            key="acme|debt-1|notice|0|message:sms:aviso",
            document="12345678909",
            channel="sms",
            template="aviso",
            delivered_at=OCCURRED_AT,
        ),
        messaging.MessageFailed(
            **envelope("msg-2", 2),
            message_id="msg-2",
            key="acme|debt-2|notice|0|message:email:aviso",
            document="12345678909",
            channel="email",
            template="aviso",
            reason="devedor sem e-mail",
            rule="no_contact",
            attempts=0,
            failed_at=OCCURRED_AT,
        ),
        messaging.MessageFailedV2(
            **envelope("msg-3", 2),
            message_id="msg-3",
            key="acme|debt-3|notice|0|message:sms:aviso",
            document="12345678909",
            channel="sms",
            template="aviso",
            reason="não enviada: a cobrança terminou antes do envio (a dívida foi quitada); a "
            "mensagem diria que ainda há valor em aberto",
            rule="collection_ended",
            attempts=0,
            failed_at=OCCURRED_AT,
        ),
        messaging.TemplateSaved(
            **envelope("tpl-1"),
            channel="sms",
            name="aviso",
            body="Olá {{ nome }}, sua fatura de {{ valor }} venceu.",
            variables=["nome", "valor"],
            saved_by="admin@acme",
        ),
        messaging.OptOutRecorded(
            **envelope("opt-1"),
            document="12345678909",
            channel="whatsapp",
            source="SAIR",
            on_date=dt.date(2025, 3, 10),
        ),
        messaging.ConversationChanged(
            **envelope("conv-1"),
            conversation_id="conv-1",
            change="assigned",
            channel="whatsapp",
            address="+5511987654321",
            document="12345678909",
            debtor_name="Maria da Silva",
            status="with_operator",
            operator="ana@acme",
            initiated_by="debtor",
            started_at=OCCURRED_AT,
            changed_at=OCCURRED_AT,
            messages=7,
        ),
        ruler.CallRecorded(
            **envelope("call-1"),
            call_id="call-1",
            campaign_id="camp-1",
            document="12345678909",
            operator="ana@acme",
            result=ruler.DEFAULT_CALL_RESULTS[2],
            note="Promete pagar sexta",
            reschedule_at=OCCURRED_AT,
            recorded_at=OCCURRED_AT,
        ),
        gateway.PortalContactLeft(
            **envelope("contact-1"),
            document="12345678909",
            name="Maria Souza",
            phone="+5511987654321",
            email="maria@example.com.br",
            expected_creditor="Loja Exemplo",
            message="Tenho um carnê atrasado que não aparece aqui.",
            left_at=OCCURRED_AT,
        ),
    )
}

# Version 2 of the events that carried personal data: the same facts, the personal fields
# sealed (see contracts.personal). The ciphertext here is a stand-in; sealing is tested in
# tests/unit/test_personal_data.py.
SEALED = personal.SealedPersonalData(
    key_id="0f" * 16, ciphertext="bm9uY2Utbm9uY2UtY2lwaGVydGV4dC10YWc="
)


def _version_2(
    v1: type[Envelope], v2: type[Envelope], drop: tuple[str, ...], **extra: Any
) -> Envelope:
    data = SAMPLES[v1].model_dump()
    for name in drop:
        data.pop(name, None)
    return v2.model_validate({**data, "schema_version": 2, **extra})


for _v1, _v2, _drop, _extra in (
    (portfolio.DebtImported, portfolio.DebtImportedV2, ("debtor",), {"personal": SEALED}),
    (
        portfolio.DebtUpdated,
        portfolio.DebtUpdatedV2,
        ("debtor",),
        {
            "personal": SEALED,
            "changes": [
                portfolio.FieldChange(field="original_amount_cents", old=123456, new=120000),
                portfolio.FieldChange(field="email", old=None, new=None),
            ],
        },
    ),
    (
        negotiation.AgreementClosed,
        negotiation.AgreementClosedV2,
        ("debtor_name",),
        {"personal": SEALED},
    ),
    (messaging.MessageQueued, messaging.MessageQueuedV2, ("to",), {"personal": SEALED}),
    (messaging.MessageSent, messaging.MessageSentV2, ("to", "text"), {"personal": SEALED}),
    (
        messaging.ConversationChanged,
        messaging.ConversationChangedV2,
        ("address", "debtor_name"),
        {"personal": SEALED},
    ),
    (
        gateway.PortalContactLeft,
        gateway.PortalContactLeftV2,
        ("name", "phone", "email"),
        {"personal": SEALED},
    ),
):
    SAMPLES[_v2] = _version_2(_v1, _v2, _drop, **_extra)

# Version 3 of ConversationChanged: version 2 and whether whoever writes proved to be the debtor.
SAMPLES[messaging.ConversationChangedV3] = messaging.ConversationChangedV3.model_validate(
    {**SAMPLES[messaging.ConversationChangedV2].model_dump(), "schema_version": 3, "verified": True}
)

# Versions 2 of an invoice's events: with its place in the plan (an entrada and two).
_PLACE = {"installment_kind": "installment", "installments": 3, "with_down_payment": True}
SAMPLES[negotiation.InstallmentPaidV2] = negotiation.InstallmentPaidV2(
    **SAMPLES[negotiation.InstallmentPaid].model_dump(exclude={"schema_version"}), **_PLACE
)
SAMPLES[negotiation.InvoiceOverdueV2] = negotiation.InvoiceOverdueV2(
    **SAMPLES[negotiation.InvoiceOverdue].model_dump(exclude={"schema_version"}), **_PLACE
)

# Version 2 of AgreementBroken: the creditor withdrew one of its two debts before installment 2
# was due; what was paid shared by principal, the withdrawn debt's share the debtor's credit.
SAMPLES[negotiation.AgreementBrokenV2] = negotiation.AgreementBrokenV2(
    **SAMPLES[negotiation.AgreementBroken].model_dump(
        exclude={"schema_version", "rule", "days_overdue", "debts"}
    ),
    rule="debt_withdrawn",
    days_overdue=0,
    debts=[
        negotiation.BrokenAgreementDebt(debt_id="debt-1", paid_cents=27107, balance_cents=52893),
        negotiation.BrokenAgreementDebt(debt_id="debt-2", paid_cents=13553, balance_cents=26447),
    ],
    withdrawn_debt_ids=["debt-2"],
    credit_cents=13553,
)

# Version 3 of AgreementBroken: the creditor's re-import lowered debt-2 from R$ 400,00 to
# R$ 300,00 before installment 2 was due; what was paid shared by principal, debt-2 back in
# collection from its new amount.
SAMPLES[negotiation.AgreementBrokenV3] = negotiation.AgreementBrokenV3(
    **SAMPLES[negotiation.AgreementBroken].model_dump(
        exclude={"schema_version", "rule", "days_overdue", "debts"}
    ),
    rule="debt_amount_lowered",
    days_overdue=0,
    debts=[
        negotiation.BrokenAgreementDebt(debt_id="debt-1", paid_cents=27107, balance_cents=52893),
        negotiation.BrokenAgreementDebt(debt_id="debt-2", paid_cents=13553, balance_cents=16447),
    ],
    credit_cents=0,
    lowered_debts=[
        negotiation.LoweredDebt(
            debt_id="debt-2",
            contract="C-778",
            installment="3",
            old_amount_cents=40000,
            new_amount_cents=30000,
            owed_cents=30000,
            import_id="crm-2025-04-02",
            row_key="CRM-000981",
        )
    ],
)

# Version 2 of StageAdvanced: naming the receivable's contract (here an agreement's installment).
SAMPLES[ruler.StageAdvancedV2] = ruler.StageAdvancedV2(
    **SAMPLES[ruler.StageAdvanced].model_dump(exclude={"schema_version"}),
    contract="acordo 1a2b3c4d parcela 1 de 3",
)

SAMPLES[personal.PersonalDataErased] = personal.PersonalDataErased(
    **envelope("erasure-1"),
    document="12345678909",
    key_ids=["0f" * 16],
    requested_by="admin@acme",
    reason="Pedido do titular (LGPD, art. 18, VI)",
)

SAMPLES[negotiation.NegotiationSettingsSaved] = negotiation.NegotiationSettingsSaved(
    **envelope("negotiation-tenant-acme", 2),
    boleto=negotiation.BoletoAccount(
        bank_code="237",
        bank_name="Banco Bradesco S.A.",
        agency="1234",
        account="0012345",
        wallet="09",
        beneficiary_name="Acme Cobranças",
        beneficiary_document="11.222.333/0001-81",
        instructions="Não receber após 30 dias do vencimento.",
    ),
    pix=negotiation.PixReceiver(
        key="pix@acme.com.br", merchant_name="ACME COBRANCAS", merchant_city="SAO PAULO"
    ),
    break_first_installment_days=5,
    break_later_installment_days=30,
    charges=negotiation.ChargeRates(
        penalty_pct=Decimal(2), interest_monthly_pct=Decimal(1), correction_monthly_pct=Decimal(0)
    ),
    creditor_charges={
        "Banco X": negotiation.ChargeRates(
            penalty_pct=Decimal(2),
            interest_monthly_pct=Decimal("0.5"),
            correction_monthly_pct=Decimal(0),
        )
    },
    saved_by="admin@acme",
)
SAMPLES[messaging.MessagingSettingsSaved] = messaging.MessagingSettingsSaved(
    **envelope("messaging-tenant-acme", 3),
    agency_name="Acme Cobranças",
    portal_link="https://acme.com.br/p/acme",
    windows={
        "sms": messaging.SendingWindowSpec(weekdays=[0, 1, 2, 3, 4], start="08:00", end="20:00")
    },
    channels={
        "email": messaging.ChannelAdapterSettings(
            kind="smtp",
            settings={"host": "smtp.acme.com.br", "port": 587, "sender": "cobranca@acme.com.br"},
            withheld=["password", "username"],
            withheld_changed=["password"],
        ),
        "sms": messaging.ChannelAdapterSettings(
            kind="http", settings={"url": "https://sms.provedor.com.br"}, withheld=["token"]
        ),
    },
    max_attempts=5,
    chatbot=messaging.ChatbotOptions(
        options=["digitable_line", "negotiate", "operator"],
        negotiate_in_chat=True,
        closing_message="Atendimento encerrado.",
        max_document_attempts=3,
        max_per_operator=5,
    ),
    portal_notification=messaging.PortalNotificationSettings(
        enabled=True, template="portal", weekdays=[0]
    ),
    saved_by="admin@acme",
)
SAMPLES[gateway.PortalProfileSavedV2] = gateway.PortalProfileSavedV2(
    **envelope("tenant-portal-acme", 3),
    part="second_factor",
    second_factor="birth_date",
    code_channels=["sms", "email"],
    saved_by="admin@acme",
)
SAMPLES[gateway.PortalProfileSaved] = gateway.PortalProfileSaved(
    **envelope("tenant-portal-acme", 2),
    part="profile",
    name="Acme Cobranças",
    portal_list=gateway.PortalListTerms(
        creditors=["Banco X"], amount_min_cents=10000, amount_max_cents=500000
    ),
    saved_by="admin@acme",
)


EVENT_KEYS = sorted(registry.EVENT_MODELS)
EVENT_IDS = [f"{t}.v{v}" for t, v in EVENT_KEYS]


def sample_json(event_key: tuple[str, int]) -> dict[str, Any]:
    sample = SAMPLES[registry.EVENT_MODELS[event_key]]
    data: dict[str, Any] = json.loads(sample.model_dump_json())
    return data


def committed_schema(event_key: tuple[str, int]) -> dict[str, Any]:
    path = generate.SCHEMAS_DIR / generate.schema_filename(*event_key)
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def money_paths(data: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    """Paths of every `*_cents` value, nested lists and objects included."""
    items = data.items() if isinstance(data, dict) else enumerate(data)
    for key, value in items:
        if isinstance(value, dict | list):
            yield from money_paths(value, (*path, key))
        elif isinstance(key, str) and key.endswith("_cents"):
            yield (*path, key)


def data_at(data: Any, path: tuple[str | int, ...]) -> Any:
    for key in path:
        data = data[key]
    return data


def replaced(data: dict[str, Any], path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    result = copy.deepcopy(data)
    target: Any = result
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return result


# (a) what is committed is what the code generates


def test_committed_contracts_match_the_code() -> None:
    drift = generate.drifted()
    names = ", ".join(str(path.relative_to(generate.ROOT)) for path in drift)
    assert not drift, f"contracts drifted from the code ({names}): run `make contracts`"


def test_generation_is_deterministic() -> None:
    assert generate.render() == generate.render()


def test_asyncapi_lists_every_topic_and_its_events() -> None:
    document = json.loads(generate.ASYNCAPI_PATH.read_text(encoding="utf-8"))
    assert document["info"]["title"] == "cobranca integration events"
    assert document["info"]["version"] == generate.package_version()
    schemas = document["components"]["schemas"]
    for topic in TOPICS:
        assert document["channels"][topic.name]["address"] == topic.name
        message = document["components"]["messages"][f"{topic.name}:Message"]
        payload = schemas[message["payload"]["$ref"].rsplit("/", 1)[-1]]
        refs = payload.get("anyOf", [{"$ref": f"#/components/schemas/{payload.get('title')}"}])
        titles = {ref["$ref"].rsplit("/", 1)[-1] for ref in refs}
        assert titles == {model.__name__ for model in topic.events}, topic.name


# (b) every declared event has its schema


def test_every_event_in_topics_has_a_schema_file_and_an_index_entry() -> None:
    index = json.loads(generate.INDEX_PATH.read_text(encoding="utf-8"))["topics"]
    assert set(index) == {topic.name for topic in TOPICS}
    for topic in TOPICS:
        listed = {(e["type"], e["schema_version"]) for e in index[topic.name]["events"]}
        for model in topic.events:
            key = (model.model_fields["type"].default, model.model_fields["schema_version"].default)
            assert key in listed, f"{key} missing from index.json for {topic.name}"
            assert (generate.SCHEMAS_DIR / generate.schema_filename(*key)).is_file(), key
            assert index[topic.name]["partition_key_field"] == model.partition_key_field


# (c) samples round-trip through JSON and satisfy their schema


def test_every_event_has_a_sample() -> None:
    missing = [m.__name__ for m in registry.EVENT_MODELS.values() if m not in SAMPLES]
    assert not missing, f"add a sample to SAMPLES for {missing}"


@pytest.mark.parametrize("event_key", EVENT_KEYS, ids=EVENT_IDS)
def test_sample_round_trips_and_matches_its_schema(event_key: tuple[str, int]) -> None:
    data = sample_json(event_key)
    assert registry.parse_event(json.dumps(data)) == SAMPLES[registry.EVENT_MODELS[event_key]]
    schema = committed_schema(event_key)
    if jsonschema is not None:
        jsonschema.Draft202012Validator(
            schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
        ).validate(data)
    else:
        # Without jsonschema: the top level must name only known fields and all required ones.
        assert set(schema["required"]) <= set(data), set(schema["required"]) - set(data)
        assert set(data) <= set(schema["properties"]), set(data) - set(schema["properties"])
        assert schema["properties"]["type"]["const"] == data["type"]
        assert schema["properties"]["schema_version"]["const"] == data["schema_version"]


# (d) envelope rules


@pytest.mark.parametrize("event_key", EVENT_KEYS, ids=EVENT_IDS)
def test_occurred_at_must_be_timezone_aware(event_key: tuple[str, int]) -> None:
    data = sample_json(event_key)
    with pytest.raises(ValidationError, match="timezone-aware"):
        registry.parse_event({**data, "occurred_at": "2025-03-10T12:30:00"})
    shifted = registry.parse_event({**data, "occurred_at": "2025-03-10T09:30:00-03:00"})
    assert shifted.occurred_at == OCCURRED_AT
    assert shifted.occurred_at.utcoffset() == dt.timedelta(0)


def test_money_is_integer_centavos() -> None:
    checked = 0
    for event_key in EVENT_KEYS:
        data = sample_json(event_key)
        schema = committed_schema(event_key)
        for path in money_paths(data):
            checked += 1
            with pytest.raises(ValidationError):
                registry.parse_event(replaced(data, path, data_at(data, path) + 0.5))
            if len(path) == 1:
                assert schema["properties"][path[0]]["type"] == "integer", path
    # DebtImported, DebtUpdated, AgreementClosed (3 + installments) and InvoiceOverdue.
    assert checked >= 8


@pytest.mark.parametrize("event_key", EVENT_KEYS, ids=EVENT_IDS)
def test_unknown_fields_are_rejected(event_key: tuple[str, int]) -> None:
    data = sample_json(event_key)
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        registry.parse_event({**data, "unexpected": 1})
    assert committed_schema(event_key)["additionalProperties"] is False


def test_unknown_fields_are_rejected_in_nested_objects() -> None:
    data = sample_json(("CarteiraRowSubmitted", 1))
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        registry.parse_event({**data, "fields": {**data["fields"], "cpf": "1"}})


@pytest.mark.parametrize("event_key", EVENT_KEYS, ids=EVENT_IDS)
def test_registry_finds_each_type_and_version(event_key: tuple[str, int]) -> None:
    model = registry.model_for(*event_key)
    parsed = registry.parse_event(json.dumps(sample_json(event_key)).encode())
    assert type(parsed) is model
    assert (parsed.type, parsed.schema_version) == event_key


@pytest.mark.parametrize(
    "raw",
    [
        {"type": "DebtImported", "schema_version": 999},
        {"type": "NoSuchEvent", "schema_version": 1},
        {"schema_version": 1},
    ],
    ids=["unknown-version", "unknown-type", "no-type"],
)
def test_registry_rejects_unknown_events(raw: dict[str, Any]) -> None:
    with pytest.raises(registry.UnknownEventType):
        registry.parse_event(raw)


def test_conversation_changed_v3_tells_verified_and_v2_still_reads() -> None:
    v2 = sample_json(("ConversationChanged", 2))
    v3 = sample_json(("ConversationChanged", 3))
    assert {k: v for k, v in v3.items() if k not in ("schema_version", "verified")} == {
        k: v for k, v in v2.items() if k != "schema_version"
    }
    # true, false (a second factor pending or failed) and null (no document yet) round-trip.
    for verified, change in ((True, "verified"), (False, "second_factor_asked"), (None, "started")):
        sent = messaging.ConversationChangedV3.model_validate(
            {**v3, "verified": verified, "change": change}
        )
        parsed = registry.parse_event(sent.model_dump_json().encode())
        assert type(parsed) is messaging.ConversationChangedV3
        assert parsed == sent and (parsed.verified, parsed.change) == (verified, change)
    # Version 3 always says it (null when not known).
    with pytest.raises(ValidationError, match="verified"):
        registry.parse_event({k: v for k, v in v3.items() if k != "verified"})
    # Version 2 reads as published: no `verified`, and the kinds it always had.
    old = registry.parse_event(json.dumps(v2).encode())
    assert type(old) is messaging.ConversationChangedV2 and "verified" not in v2
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        registry.parse_event({**v2, "verified": True})
    with pytest.raises(ValidationError, match="change"):
        registry.parse_event({**v2, "change": "second_factor_asked"})


# docs/contracts.md stays true to the code


DOC_PATH = generate.ROOT / "docs" / "contracts.md"


def test_doc_examples_are_valid_events() -> None:
    blocks = re.findall(r"```json\n(.*?)```", DOC_PATH.read_text(encoding="utf-8"), re.DOTALL)
    types = [registry.parse_event(block).type for block in blocks]
    assert types == [
        "CarteiraImportRequested",
        "CarteiraRowSubmitted",
        "DebtRejected",
        "CarteiraRowSubmitted",
        "DebtWithdrawn",
    ]


def test_doc_topics_table_matches_topics() -> None:
    doc = DOC_PATH.read_text(encoding="utf-8")
    for topic in TOPICS:
        key = generate.topic_key_field(topic)
        events = ", ".join(
            f"`{m.model_fields['type'].default}` v{m.model_fields['schema_version'].default}"
            for m in topic.events
        )
        row = f"| `{topic.name}` | `{key}` | {events} | {topic.owner} |"
        assert row in doc, f"docs/contracts.md topics table is out of date for {topic.name}"


# (d) a count is a JSON integer: never true, "3" or 3.0 (a boolean taken for 1 installment)


def _integer_paths(value: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Where an integer (not a boolean) sits in a dumped sample, at any depth."""
    if isinstance(value, bool):
        return
    if isinstance(value, int):
        yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _integer_paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _integer_paths(item, (*path, index))


def _with(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    copied = json.loads(json.dumps(document))
    target = copied
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return copied


@pytest.mark.parametrize("event_key", EVENT_KEYS, ids=EVENT_IDS)
def test_every_integer_of_an_event_refuses_a_boolean_a_string_and_a_float(
    event_key: tuple[str, int],
) -> None:
    model = registry.EVENT_MODELS[event_key]
    dumped = json.loads(SAMPLES[model].model_dump_json())
    # A channel's settings are the adapter's own values of any JSON type (a port, a TLS flag).
    paths = [
        p
        for p in _integer_paths(dumped)
        if p != ("schema_version",) and p[:1] + p[2:3] != ("channels", "settings")
    ]
    for path in paths:
        for wrong in (True, float(_at(dumped, path))):
            with pytest.raises(ValidationError) as raised:
                model.model_validate_json(json.dumps(_with(dumped, path, wrong)))
            assert raised.value.errors()[0]["loc"][: len(path)] == path, (path, wrong)
        # A string is refused, or kept as a string where the field also takes text (the old
        # and new values of a change): never read as a number.
        text = str(_at(dumped, path))
        try:
            read = json.loads(
                model.model_validate_json(json.dumps(_with(dumped, path, text))).model_dump_json()
            )
        except ValidationError as error:
            assert error.errors()[0]["loc"][: len(path)] == path, path
        else:
            assert _at(read, path) == text, path


def _at(document: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        document = document[step]
    return document


def _lax_ints(annotation: Any, strict: bool = False) -> bool:
    """Whether a type takes an integer without Strict (true and 3.0 would be read as one)."""
    if annotation is int:
        return not strict
    if get_origin(annotation) is Annotated:
        base, *extra = get_args(annotation)
        strict = strict or any(getattr(e, "strict", False) for e in extra)
        return _lax_ints(base, strict)
    return any(_lax_ints(arg, strict) for arg in get_args(annotation))


def test_no_model_of_the_contracts_reads_an_integer_laxly() -> None:
    lax = [
        f"{model.__module__}.{model.__name__}.{name}"
        for module in pkgutil.iter_modules(contracts.__path__)
        for model in vars(importlib.import_module(f"contracts.{module.name}")).values()
        if isinstance(model, type) and issubclass(model, BaseModel) and model is not BaseModel
        for name, field in model.model_fields.items()
        if name != "schema_version"
        and not any(getattr(m, "strict", False) for m in field.metadata)
        and _lax_ints(field.annotation)
    ]
    # A channel's settings hold the adapter's values of any JSON type, each kept as it came
    # (pydantic's smart union: true stays a boolean, 3.5 a float).
    assert lax == ["contracts.messaging.ChannelAdapterSettings.settings"]
