"""Streams of the ruler service (régua de cobrança and call campaigns): `ruler.config`,
`ruler.stages`, `ruler.bureau`, `ruler.calls`, and the messages it asks the messaging
service to send, on `messaging.requested`."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, ClassVar, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator, model_validator

from contracts.envelope import Cents, Envelope, UtcDatetime

CONFIG_TOPIC = "ruler.config"
STAGES_TOPIC = "ruler.stages"
BUREAU_TOPIC = "ruler.bureau"
CALLS_TOPIC = "ruler.calls"
MESSAGES_REQUESTED_TOPIC = "messaging.requested"

OverdueStage = Literal[
    "notice", "questioning", "schedule_payment", "field_collection", "credit_bureau"
]
# The overdue stages in the only order they may come (the seed's tabs, left to right).
OVERDUE_STAGES: tuple[OverdueStage, ...] = (
    "notice",
    "questioning",
    "schedule_payment",
    "field_collection",
    "credit_bureau",
)
# How people read them (pt-BR), in the ruler's screens, refusals and call lists.
OVERDUE_STAGE_LABELS: dict[str, str] = {
    "notice": "aviso",
    "questioning": "questionamento",
    "schedule_payment": "agendar pagamento",
    "field_collection": "cobrança presencial",
    "credit_bureau": "negativação",
}
Stage = Literal[
    "current",
    "pre_due",
    "notice",
    "questioning",
    "schedule_payment",
    "field_collection",
    "credit_bureau",
    "finalized",
]
ReceivableKind = Literal["debt", "installment"]
# Why a receivable leaves its ruler: a debt paid off (settled), an agreement's installment
# paid (paid), renegotiated into an agreement, or cancelled (a debt the creditor withdrew; an
# installment of a broken agreement).
ExitReason = Literal["settled", "paid", "renegotiated", "cancelled"]
EXIT_REASONS: tuple[ExitReason, ...] = get_args(ExitReason)
MessageChannel = Literal["email", "sms", "whatsapp", "push"]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# ---- configuration -----------------------------------------------------------------------


class SendMessage(_Model):
    kind: Literal["message"] = "message"
    channel: MessageChannel
    template: str = Field(min_length=1, max_length=100, description="Template name")


class AddToCampaign(_Model):
    kind: Literal["call_campaign"] = "call_campaign"
    campaign_id: str = Field(min_length=1)


class SendToBureau(_Model):
    kind: Literal["credit_bureau"] = "credit_bureau"


ActionSpec = Annotated[SendMessage | AddToCampaign | SendToBureau, Field(discriminator="kind")]


class StageSpec(_Model):
    stage: OverdueStage
    day: StrictInt = Field(description="Days overdue at which the stage starts (1 or more)")
    actions: list[ActionSpec] = Field(default_factory=list)


class RulerDefinition(_Model):
    """A collection ruler (régua): reminders before due, stages after it, and what happens
    when a receivable leaves."""

    name: str = Field(min_length=1, max_length=100)
    creditors: list[str] = Field(default_factory=list, description="Empty: every creditor")
    categories: list[str] = Field(default_factory=list, description="Empty: every category")
    pre_due_days: list[StrictInt] = Field(
        default_factory=list, description="Days before due to remind ([5, 3]: at 5 and at 3)"
    )
    pre_due_actions: list[SendMessage] = Field(default_factory=list)
    stages: list[StageSpec] = Field(min_length=1)
    finalization_actions: list[SendMessage] = Field(
        default_factory=list,
        description="Sent when a receivable leaves (paid, settled, renegotiated); a listing at "
        "the credit bureau is always removed",
    )
    active: bool = True

    @model_validator(mode="after")
    def _ordered(self) -> RulerDefinition:
        for day in self.pre_due_days:
            if day < 1:
                raise ValueError("pre_due_days: cada dia antes do vencimento deve ser 1 ou mais")
        if len(set(self.pre_due_days)) != len(self.pre_due_days):
            raise ValueError("pre_due_days: dias repetidos")
        if self.stages[0].day < 1:
            raise ValueError(
                "stages: o primeiro dia deve ser 1 ou mais; com 0 nenhum cliente seria "
                "contabilizado, pois a etapa considera só quem já passou do vencimento"
            )
        order = [OVERDUE_STAGES.index(s.stage) for s in self.stages]
        if order != sorted(set(order)):
            raise ValueError(
                "stages: as etapas vêm na ordem aviso, questionamento, agendar pagamento, "
                "cobrança presencial, negativação, cada uma no máximo uma vez"
            )
        for before, after in zip(self.stages, self.stages[1:], strict=False):
            if after.day <= before.day:
                raise ValueError(
                    f"stages: o dia de {OVERDUE_STAGE_LABELS[after.stage]} ({after.day}) deve "
                    f"ser maior que o de {OVERDUE_STAGE_LABELS[before.stage]} ({before.day})"
                )
        return self


# How an admin reads each exit reason (in the messages of refusals).
EXIT_REASON_LABELS: dict[ExitReason, str] = {
    "settled": "settled (dívida quitada)",
    "paid": "paid (parcela de acordo paga)",
    "renegotiated": "renegotiated (renegociada em acordo)",
    "cancelled": "cancelled (cancelada ou devolvida pelo credor)",
}


class RulerDefinitionV2(RulerDefinition):
    """A collection ruler (version 2): version 1's fields, and a finalization of its own per
    exit reason (the seed's Finalizar Cobrança has one message for a payment, one for a
    cancellation, one for a renegotiation). A reason's own list, when present, replaces
    `finalization_actions` for that exit; an empty list there means no message for it."""

    finalization_actions: list[SendMessage] = Field(
        default_factory=list,
        description="Sent when a receivable leaves for a reason without its own list in "
        "finalization_by_reason; a listing at the credit bureau is always removed",
    )
    finalization_by_reason: dict[ExitReason, list[SendMessage]] = Field(
        default_factory=dict,
        description="Per exit reason (settled, paid, renegotiated, cancelled), the messages "
        "sent instead of finalization_actions; an empty list sends none for that reason",
    )

    @field_validator("finalization_by_reason", mode="before")
    @classmethod
    def _known_reasons(cls, value: Any) -> Any:
        # Said before pydantic's own check of the keys, which would answer in English.
        if isinstance(value, dict):
            unknown = [str(k) for k in value if k not in EXIT_REASONS]
            if unknown:
                listed = ", ".join(repr(k) for k in unknown)
                choices = ", ".join(EXIT_REASON_LABELS[r] for r in EXIT_REASONS[:-1])
                raise ValueError(
                    f"finalization_by_reason: motivo de saída desconhecido: {listed}; use "
                    f"{choices} ou {EXIT_REASON_LABELS[EXIT_REASONS[-1]]}"
                )
        return value


# Days between the notice of a debt in collection and its listing at the credit bureau, when a
# ruler does not say (CDC art. 43 §2: the debtor is told in writing before being listed).
DEFAULT_LISTING_NOTICE_DAYS = 10


class RulerDefinitionV3(RulerDefinitionV2):
    """A collection ruler (version 3): version 2's fields, and the notice before a listing at
    the credit bureau. A receivable is listed only once a message of its collection (a stage's,
    or the listing notice) was asked at least `listing_notice_days` calendar days before, in
    its current cycle; one that reaches the credit bureau stage without any (imported very
    overdue, back from a broken agreement) is first sent the notice, and listed on the first
    business day at or after notice + `listing_notice_days`."""

    listing_notice_days: StrictInt = Field(
        default=DEFAULT_LISTING_NOTICE_DAYS,
        ge=0,
        description="Calendar days between the first message of a receivable's collection and "
        "its listing at the credit bureau (0: listed the day the notice is asked)",
    )
    listing_notice_actions: list[SendMessage] = Field(
        default_factory=list,
        description="The notice sent to a receivable reaching the credit bureau stage without a "
        "message of its collection; empty: the messages of the latest stage before the credit "
        "bureau stage that has any",
    )


class RulerDefinitionV4(RulerDefinitionV3):
    """A collection ruler (version 4): version 3's fields, and the message telling the debtor
    that a listing at the credit bureau was removed (seed 002, "Remover negativações": the
    debtor whose negativação was taken down is told). When a listed receivable leaves the
    ruler (paid, settled, renegotiated, cancelled), its listing is removed and these messages
    are asked, beside the finalization's; the receivables of one contract leaving together get
    them once."""

    listing_removal_actions: list[SendMessage] = Field(
        default_factory=list,
        description="Sent when a receivable listed at the credit bureau leaves the ruler and "
        "its listing is removed (variable data_baixa); empty: no message about the removal",
    )


class CampaignDefinition(_Model):
    """A call campaign (EliteSoft's campanha de ligação): who is on its list, and what
    operators may offer."""

    name: str = Field(min_length=1, max_length=100)
    creditors: list[str] = Field(default_factory=list)
    categories: list[str] = Field(default_factory=list)
    cities: list[str] = Field(default_factory=list)
    states: list[str] = Field(default_factory=list)
    amount_min_cents: Cents | None = Field(default=None, ge=0)
    amount_max_cents: Cents | None = Field(default=None, ge=0)
    days_overdue_min: StrictInt | None = Field(default=None, ge=0)
    days_overdue_max: StrictInt | None = Field(default=None, ge=0)
    stages: list[OverdueStage] = Field(default_factory=list, description="Empty: any stage")
    condition_ids: list[str] = Field(
        default_factory=list, description="Payment conditions operators may offer"
    )
    minutes_per_call: StrictInt = Field(default=5, ge=1, le=240)
    by_filters: bool = Field(
        default=True,
        description="List every debtor the filters match; false: only debtors a ruler stage "
        "put on the campaign (who must still match the filters)",
    )
    active: bool = True

    @model_validator(mode="after")
    def _ranges(self) -> CampaignDefinition:
        for low, high in (
            ("amount_min_cents", "amount_max_cents"),
            ("days_overdue_min", "days_overdue_max"),
        ):
            lo, hi = getattr(self, low), getattr(self, high)
            if lo is not None and hi is not None and lo > hi:
                raise ValueError(f"{low}: não pode ser maior que {high}")
        return self


class CallResultType(_Model):
    """A result an operator records (EliteSoft's tipos de resultado)."""

    code: str = Field(pattern=r"^[a-z0-9_]{1,40}$")
    label: str = Field(min_length=1, max_length=100)
    allows_receipt: bool = False
    removes_from_list: bool = False


DEFAULT_CALL_RESULTS: tuple[CallResultType, ...] = (
    CallResultType(code="no_answer", label="Não atendeu"),
    CallResultType(code="wrong_number", label="Número errado", removes_from_list=True),
    CallResultType(code="promise", label="Promessa de pagamento", allows_receipt=True),
    CallResultType(
        code="agreement", label="Acordo fechado", allows_receipt=True, removes_from_list=True
    ),
    CallResultType(code="refused", label="Recusou negociar"),
    CallResultType(code="callback", label="Pediu retorno"),
)


class RulerSaved(Envelope):
    type: Literal["RulerSaved"] = "RulerSaved"
    schema_version: Literal[1] = 1
    ruler_id: str
    definition: RulerDefinition
    saved_by: str


class RulerSavedV2(Envelope):
    """A ruler as an admin saved it (version 2: the definition may carry a finalization per
    exit reason, `finalization_by_reason`). The ruler service publishes only this version;
    version 1 stays readable."""

    type: Literal["RulerSaved"] = "RulerSaved"
    schema_version: Literal[2] = 2
    ruler_id: str
    definition: RulerDefinitionV2
    saved_by: str


class RulerSavedV3(RulerSavedV2):
    """A ruler as an admin saved it (version 3: the definition says the notice before a
    listing at the credit bureau, `listing_notice_days` and `listing_notice_actions`). The
    ruler service publishes only this version; versions 1 and 2 stay readable (a ruler saved
    before reads with the defaults: 10 days, the latest earlier stage's messages)."""

    schema_version: Literal[3] = 3  # type: ignore[assignment]
    definition: RulerDefinitionV3


class RulerSavedV4(RulerSavedV3):
    """A ruler as an admin saved it (version 4: the definition names the messages about a
    listing's removal, `listing_removal_actions`). The ruler service publishes only this
    version; versions 1 to 3 stay readable (a ruler saved before reads with no removal
    message)."""

    schema_version: Literal[4] = 4  # type: ignore[assignment]
    definition: RulerDefinitionV4


class CampaignSaved(Envelope):
    type: Literal["CampaignSaved"] = "CampaignSaved"
    schema_version: Literal[1] = 1
    campaign_id: str
    definition: CampaignDefinition
    saved_by: str


class RulerRunRequested(Envelope):
    """An admin ran the tenant's rulers for the business day by hand (processar régua agora),
    with what the run did. The daily run publishes nothing like it; a run asked twice on one
    day is two of these, and the second finds nothing left to do."""

    type: Literal["RulerRunRequested"] = "RulerRunRequested"
    schema_version: Literal[1] = 1
    on_date: dt.date = Field(description="The business day run (the ruler's last DayStarted)")
    requested_by: str
    receivables: StrictInt = Field(ge=0, description="Open receivables of the tenant gone over")
    stages: StrictInt = Field(ge=0, description="Receivables moved to a later stage")
    reminders: StrictInt = Field(ge=0, description="Pre-due reminders")
    listings: StrictInt = Field(ge=0, description="Listings at the credit bureau")
    messages: StrictInt = Field(ge=0, description="Messages asked of the messaging service")


class CallResultTypesSaved(Envelope):
    type: Literal["CallResultTypesSaved"] = "CallResultTypesSaved"
    schema_version: Literal[1] = 1
    result_types: list[CallResultType] = Field(min_length=1)
    saved_by: str


# ---- the daily run -----------------------------------------------------------------------


class StageAction(_Model):
    kind: Literal["message", "call_campaign", "credit_bureau"]
    key: str = Field(description="Deterministic (tenant, receivable, stage, action) key")
    channel: str | None = None
    template: str | None = None
    campaign: str | None = None


class StageAdvanced(Envelope):
    """A receivable moved to a later stage of its ruler on a business day."""

    type: Literal["StageAdvanced"] = "StageAdvanced"
    schema_version: Literal[1] = 1
    receivable_id: str
    receivable_kind: ReceivableKind
    document: str
    creditor: str
    amount_cents: Cents = Field(ge=0)
    due_date: dt.date
    ruler_id: str
    from_stage: Stage
    to_stage: Stage
    days_overdue: StrictInt
    on_date: dt.date
    actions: list[StageAction]


class StageAdvancedV2(StageAdvanced):
    """A receivable moved to a later stage (version 2: naming its contract)."""

    schema_version: Literal[2] = 2  # type: ignore[assignment]
    contract: str = Field(
        min_length=1,
        description="The debt's contract as the creditor names it; for an agreement's "
        "installment, as its boleto does: 'acordo 1a2b3c4d parcela 1 de 3', '... entrada', "
        "'... parcela única'",
    )


class ReceivableLeftRuler(Envelope):
    """A receivable left its ruler: paid, settled, or renegotiated."""

    type: Literal["ReceivableLeftRuler"] = "ReceivableLeftRuler"
    schema_version: Literal[1] = 1
    receivable_id: str
    receivable_kind: ReceivableKind
    document: str
    creditor: str
    reason: ExitReason
    last_stage: Stage
    on_date: dt.date
    actions: list[StageAction]


class MessageRequested(Envelope):
    """The ruler (or another service) asks the messaging service to send a message. The key
    is deterministic: the same key is sent at most once."""

    partition_key_field: ClassVar[str] = "document"
    type: Literal["MessageRequested"] = "MessageRequested"
    schema_version: Literal[1] = 1
    key: str
    document: str
    receivable_id: str | None = None
    channel: MessageChannel
    template: str
    purpose: Literal["pre_due", "stage", "finalization"]
    stage: Stage | None = None
    variables: dict[str, str] = Field(default_factory=dict)


class DebtorNegativated(Envelope):
    """A receivable was sent to the credit bureau (negativação)."""

    type: Literal["DebtorNegativated"] = "DebtorNegativated"
    schema_version: Literal[1] = 1
    receivable_id: str
    document: str
    creditor: str
    amount_cents: Cents = Field(ge=0)
    due_date: dt.date
    bureau: str
    record_key: str
    on_date: dt.date


class NegativationRemoved(Envelope):
    """A listing at the credit bureau was removed (the receivable left the ruler)."""

    type: Literal["NegativationRemoved"] = "NegativationRemoved"
    schema_version: Literal[1] = 1
    receivable_id: str
    document: str
    creditor: str
    bureau: str
    record_key: str
    reason: str
    on_date: dt.date


class NegativationHeld(Envelope):
    """Negativação suspensa: aviso prévio não enviado. A receivable in the credit bureau stage
    is not listed because none of its notices could be sent (CDC art. 43 §2: the debtor is
    told in writing before being listed): every collection message the ruler asked of it in
    this cycle (its stages' and its listing notice, `notice_keys`) came back not sent from
    the messaging service (`MessageFailed`: no contact, opted out, refused, retries
    exhausted...; `reasons` as it said them, pt-BR). The listing stays held, once per cycle,
    until the receivable leaves or comes back to collection (a new cycle is noticed anew):
    the agency is to reach the debtor another way."""

    type: Literal["NegativationHeld"] = "NegativationHeld"
    schema_version: Literal[1] = 1
    receivable_id: str
    receivable_kind: str
    document: str
    creditor: str
    contract: str
    amount_cents: Cents = Field(ge=0)
    due_date: dt.date
    ruler_id: str
    notice_keys: list[str] = Field(description="The notices' message keys, none of them sent")
    reasons: list[str] = Field(description="Why each was not sent (pt-BR), in the keys' order")
    on_date: dt.date = Field(description="The business day the run held the listing")


class CallRecorded(Envelope):
    """An operator recorded a call of a campaign."""

    type: Literal["CallRecorded"] = "CallRecorded"
    schema_version: Literal[1] = 1
    call_id: str
    campaign_id: str
    document: str
    operator: str
    result: CallResultType
    note: str = ""
    reschedule_at: UtcDatetime | None = None
    recorded_at: UtcDatetime
