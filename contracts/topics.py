"""The one declared list of topics: created by the platform at start, idempotently."""

from __future__ import annotations

from dataclasses import dataclass

from contracts import (
    carteiras,
    clock,
    gateway,
    messaging,
    messaging_requests,
    negotiation,
    negotiation_requests,
    personal,
    portfolio,
    ruler,
    ruler_requests,
)
from contracts.envelope import Envelope


@dataclass(frozen=True)
class TopicSpec:
    name: str
    owner: str
    events: tuple[type[Envelope], ...]
    description: str
    partitions: int = 4
    # Event topics are replayed from offset zero by projections and analytics: keep everything.
    retention_ms: int = -1


TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec(
        carteiras.INBOUND_TOPIC,
        owner="portfolio (written by the gateway and client systems)",
        events=(
            carteiras.CarteiraImportRequested,
            carteiras.CarteiraRowSubmitted,
            carteiras.CarteiraRowSubmittedV2,
            carteiras.CarteiraRowSubmittedV3,
        ),
        description="Rows of carteiras to import, keyed by import_id",
    ),
    TopicSpec(
        carteiras.REJECTED_TOPIC,
        owner="portfolio",
        events=(carteiras.DebtRejected,),
        description="Rows that could not be imported, with the reason, keyed by import_id",
    ),
    TopicSpec(
        portfolio.DEBTS_TOPIC,
        owner="portfolio",
        events=(
            portfolio.DebtImported,
            portfolio.DebtUpdated,
            portfolio.DebtImportedV2,
            portfolio.DebtUpdatedV2,
            portfolio.DebtSettled,
            portfolio.DebtReopened,
            portfolio.DebtWithdrawn,
            portfolio.DebtPaymentDeducted,
        ),
        description="Debts of the portfolio, keyed by debt id",
    ),
    TopicSpec(
        portfolio.IMPORTS_TOPIC,
        owner="portfolio",
        events=(
            portfolio.CarteiraImportStarted,
            portfolio.CarteiraImportStartedV2,
            portfolio.CarteiraRowsProcessed,
            portfolio.CarteiraImportCompleted,
        ),
        description="Progress of carteira imports, keyed by import_id",
    ),
    TopicSpec(
        negotiation.AGREEMENTS_TOPIC,
        owner="negotiation",
        events=(
            negotiation.AgreementClosed,
            negotiation.AgreementClosedV2,
            negotiation.AgreementBroken,
            negotiation.AgreementBrokenV2,
            negotiation.AgreementBrokenV3,
            negotiation.AgreementFulfilled,
            negotiation.AgreementPaymentShared,
        ),
        description="Agreements, keyed by agreement id",
    ),
    TopicSpec(
        negotiation.INVOICES_TOPIC,
        owner="negotiation",
        events=(
            negotiation.InstallmentPaid,
            negotiation.InstallmentPaidV2,
            negotiation.InvoiceOverdue,
            negotiation.InvoiceOverdueV2,
        ),
        description="Agreement invoices paid or overdue, keyed by agreement id",
    ),
    TopicSpec(
        negotiation.PAYMENTS_TOPIC,
        owner="negotiation",
        events=(negotiation.PaymentReceived,),
        description="Every payment received, matched or not, keyed by payment id",
    ),
    TopicSpec(
        negotiation.CONDITIONS_TOPIC,
        owner="negotiation",
        events=(negotiation.PaymentConditionSaved, negotiation.NegotiationSettingsSaved),
        description="Payment conditions and the tenant's negotiation settings (boleto, PIX, "
        "breaking, charges) as admins save them, keyed by condition id or the tenant's record",
    ),
    TopicSpec(
        clock.CLOCK_TOPIC,
        owner="clock",
        events=(clock.DayStarted,),
        description="The business clock: one DayStarted per date, in order",
        partitions=1,
    ),
    TopicSpec(
        ruler.CONFIG_TOPIC,
        owner="ruler",
        events=(
            ruler.RulerSaved,
            ruler.RulerSavedV2,
            ruler.RulerSavedV3,
            ruler.RulerSavedV4,
            ruler.CampaignSaved,
            ruler.CallResultTypesSaved,
            ruler.RulerRunRequested,
        ),
        description="Rulers, call campaigns and call result types as admins save them, and "
        "the runs admins ask for",
    ),
    TopicSpec(
        ruler.STAGES_TOPIC,
        owner="ruler",
        events=(ruler.StageAdvanced, ruler.StageAdvancedV2, ruler.ReceivableLeftRuler),
        description="Stages of receivables in the collection ruler, keyed by receivable id",
    ),
    TopicSpec(
        ruler.BUREAU_TOPIC,
        owner="ruler",
        events=(ruler.DebtorNegativated, ruler.NegativationRemoved, ruler.NegativationHeld),
        description="Listings at the credit bureau, their removal, and listings held for want of "
        "a notice sent, keyed by receivable id",
    ),
    TopicSpec(
        ruler.CALLS_TOPIC,
        owner="ruler",
        events=(ruler.CallRecorded,),
        description="Calls operators recorded in campaigns, keyed by call id",
    ),
    TopicSpec(
        ruler.MESSAGES_REQUESTED_TOPIC,
        owner="ruler (read by messaging)",
        events=(ruler.MessageRequested,),
        description="Messages the messaging service is asked to send, keyed by document",
    ),
    TopicSpec(
        messaging.MESSAGES_TOPIC,
        owner="messaging",
        events=(
            messaging.MessageQueued,
            messaging.MessageSent,
            messaging.MessageQueuedV2,
            messaging.MessageSentV2,
            messaging.MessageDelivered,
            messaging.MessageFailed,
            messaging.MessageFailedV2,
        ),
        description="What became of every message asked for, keyed by document",
    ),
    TopicSpec(
        messaging.CONFIG_TOPIC,
        owner="messaging",
        events=(messaging.TemplateSaved, messaging.MessagingSettingsSaved),
        description="Message templates and the tenant's messaging settings (windows, channels "
        "without their credentials) as admins save them",
    ),
    TopicSpec(
        messaging.OPTOUTS_TOPIC,
        owner="messaging",
        events=(messaging.OptOutRecorded,),
        description="Debtors' opt-outs per channel, keyed by document",
    ),
    TopicSpec(
        messaging.CONVERSATIONS_TOPIC,
        owner="messaging",
        events=(
            messaging.ConversationChanged,
            messaging.ConversationChangedV2,
            messaging.ConversationChangedV3,
        ),
        description="Chatbot and operator conversations as they change, keyed by conversation",
    ),
    TopicSpec(
        gateway.PORTAL_TOPIC,
        owner="gateway",
        events=(gateway.PortalContactLeft, gateway.PortalContactLeftV2),
        description="Contacts debtors leave on the portal (phone, e-mail, the creditor they "
        "expected), keyed by document",
    ),
    TopicSpec(
        gateway.CONFIG_TOPIC,
        owner="gateway",
        events=(gateway.PortalProfileSaved, gateway.PortalProfileSavedV2),
        description="The tenant's portal profile (name, portal list, second factor, logo) as "
        "admins save it, keyed by the tenant's profile",
    ),
    TopicSpec(
        personal.ERASURES_TOPIC,
        owner="gateway",
        events=(personal.PersonalDataErased,),
        description="Debtors' personal data erased on request (their keys destroyed), keyed "
        "by document",
    ),
)

TOPICS_BY_NAME = {t.name: t for t in TOPICS}

# Requests and replies between services: not events (nothing replays them), kept a day.
REQUEST_TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec(
        negotiation_requests.REQUESTS_TOPIC,
        owner="negotiation",
        events=(),
        description="Requests to the negotiation service, keyed by tenant and debtor",
        retention_ms=24 * 3600 * 1000,
    ),
    TopicSpec(
        ruler_requests.REQUESTS_TOPIC,
        owner="ruler",
        events=(),
        description="Requests to the ruler service (configuration, calls), keyed by tenant",
        retention_ms=24 * 3600 * 1000,
    ),
    TopicSpec(
        messaging_requests.REQUESTS_TOPIC,
        owner="messaging",
        events=(),
        description="Requests to the messaging service (templates, settings, opt-outs)",
        retention_ms=24 * 3600 * 1000,
    ),
    TopicSpec(
        negotiation_requests.GATEWAY_REPLIES_TOPIC,
        owner="gateway",
        events=(),
        description="Replies to the gateway's requests",
        partitions=1,
        retention_ms=3600 * 1000,
    ),
    TopicSpec(
        messaging_requests.MESSAGING_REPLIES_TOPIC,
        owner="messaging",
        events=(),
        description="Replies to the messaging service's requests (the chatbot negotiating)",
        partitions=1,
        retention_ms=3600 * 1000,
    ),
)
