"""From the ruler service's stored domain events to the integration events it publishes:
configuration, stages, the bureau, calls, and the messages it asks the messaging service to
send (one `MessageRequested` per message action, with its deterministic key; a listing's
notice is one too, and the message about a listing's removal)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import TypeAdapter

from contracts.envelope import Envelope
from contracts.ruler import (
    BUREAU_TOPIC,
    CALLS_TOPIC,
    CONFIG_TOPIC,
    MESSAGES_REQUESTED_TOPIC,
    STAGES_TOPIC,
    CallRecorded,
    CallResultType,
    CallResultTypesSaved,
    CampaignDefinition,
    CampaignSaved,
    DebtorNegativated,
    MessageRequested,
    NegativationHeld,
    NegativationRemoved,
    ReceivableLeftRuler,
    RulerDefinitionV4,
    RulerRunRequested,
    RulerSavedV4,
    StageAction,
    StageAdvanced,
    StageAdvancedV2,
)
from service_runtime.outbox import envelope_fields
from services.ruler.application.service import (
    finalization_variables,
    message_variables,
    notice_variables,
    removal_variables,
)
from services.ruler.domain.configuration import CampaignConfig, RulerConfig, TenantRuler
from services.ruler.domain.receivable import Call, Receivable

RulerSavedEvents: tuple[type[Any], ...] = (RulerConfig.Saved, RulerConfig.Changed)  # type: ignore[attr-defined]
CampaignSavedEvents: tuple[type[Any], ...] = (CampaignConfig.Saved, CampaignConfig.Changed)  # type: ignore[attr-defined]
ResultTypesEvent: type[Any] = TenantRuler.CallResultTypesSaved  # type: ignore[attr-defined]
RunRequestedEvent: type[Any] = TenantRuler.RunRequested  # type: ignore[attr-defined]
AdvancedEvent: type[Any] = Receivable.StageAdvanced  # type: ignore[attr-defined]
RemindedEvent: type[Any] = Receivable.Reminded  # type: ignore[attr-defined]
NoticeEvent: type[Any] = Receivable.ListingNoticeAsked  # type: ignore[attr-defined]
NegativatedEvent: type[Any] = Receivable.Negativated  # type: ignore[attr-defined]
HeldEvent: type[Any] = Receivable.ListingHeld  # type: ignore[attr-defined]
RemovedEvent: type[Any] = Receivable.NegativationRemoved  # type: ignore[attr-defined]
LeftEvent: type[Any] = Receivable.Left  # type: ignore[attr-defined]
RemovalNoticeEvent: type[Any] = Receivable.ListingRemovalNoticeAsked  # type: ignore[attr-defined]
CallEvent: type[Any] = Call.Recorded  # type: ignore[attr-defined]
RESULT_TYPES = TypeAdapter(list[CallResultType])


def _envelope(event: Any, tenant: str, index: int = 0) -> dict[str, Any]:
    return envelope_fields("ruler", event, tenant=tenant, index=index)


def _messages(
    event: Any,
    facts: dict[str, Any],
    purpose: str,
    stage: str | None,
    variables: dict[str, str] | None = None,
) -> Iterator[tuple[str, Envelope]]:
    for index, action in enumerate(event.actions, start=1):
        if action["kind"] != "message":
            continue
        yield (
            MESSAGES_REQUESTED_TOPIC,
            MessageRequested(
                **_envelope(event, facts["tenant"], index),
                key=action["key"],
                document=facts["document"],
                receivable_id=facts.get("receivable_id"),
                channel=action["channel"],
                template=action["template"],
                purpose=purpose,
                stage=stage,
                variables=variables if variables is not None else message_variables(facts),
            ),
        )


def integration_events(event: Any) -> Iterator[tuple[str, Envelope]]:
    if isinstance(event, RulerSavedEvents):
        # Version 4 only, for rulers saved before it too (their JSON reads as a version 4
        # definition with the defaults: no per-reason finalization, a listing 10 days after
        # the notice, the latest earlier stage's messages as the notice, no message about a
        # listing's removal).
        yield (
            CONFIG_TOPIC,
            RulerSavedV4(
                **_envelope(event, event.tenant),
                ruler_id=event.ruler_id,
                definition=RulerDefinitionV4.model_validate_json(event.definition_json),
                saved_by=event.saved_by,
            ),
        )
    elif isinstance(event, CampaignSavedEvents):
        yield (
            CONFIG_TOPIC,
            CampaignSaved(
                **_envelope(event, event.tenant),
                campaign_id=event.campaign_id,
                definition=CampaignDefinition.model_validate_json(event.definition_json),
                saved_by=event.saved_by,
            ),
        )
    elif isinstance(event, ResultTypesEvent):
        yield (
            CONFIG_TOPIC,
            CallResultTypesSaved(
                **_envelope(event, event.tenant),
                result_types=RESULT_TYPES.validate_json(event.result_types_json),
                saved_by=event.saved_by,
            ),
        )
    elif isinstance(event, RunRequestedEvent):
        yield (
            CONFIG_TOPIC,
            RulerRunRequested(
                **_envelope(event, event.tenant),
                on_date=event.on,
                requested_by=event.requested_by,
                receivables=event.counts.get("receivables", 0),
                stages=event.counts.get("stages", 0),
                reminders=event.counts.get("reminders", 0),
                listings=event.counts.get("listings", 0),
                messages=event.counts.get("messages", 0),
            ),
        )
    elif isinstance(event, AdvancedEvent):
        facts = event.facts
        stage = {
            **_envelope(event, facts["tenant"]),
            "receivable_id": facts["receivable_id"],
            "receivable_kind": facts["kind"],
            "document": facts["document"],
            "creditor": facts["creditor"],
            "amount_cents": facts["amount_cents"],
            "due_date": facts["due_date"],
            "ruler_id": event.ruler_id,
            "from_stage": event.from_stage,
            "to_stage": event.to_stage,
            "days_overdue": event.days_overdue,
            "on_date": event.on,
            "actions": [StageAction(**a) for a in event.actions],
        }
        yield (
            STAGES_TOPIC,
            StageAdvancedV2(**stage, contract=facts["contract"])
            if event.names_contract
            else StageAdvanced(**stage),
        )
        yield from _messages(event, facts, "stage", event.to_stage)
    elif isinstance(event, RemindedEvent):
        yield from _messages(event, event.facts, "pre_due", "pre_due")
    elif isinstance(event, NoticeEvent):
        # The notice before a listing: stage messages of the credit bureau stage (a message
        # still waiting when the receivable leaves is not sent, as any stage message).
        yield from _messages(
            event,
            event.facts,
            "stage",
            "credit_bureau",
            notice_variables(event.facts, event.listing_from, (event.listing_from - event.on).days),
        )
    elif isinstance(event, NegativatedEvent):
        facts = event.facts
        yield (
            BUREAU_TOPIC,
            DebtorNegativated(
                **_envelope(event, facts["tenant"]),
                receivable_id=facts["receivable_id"],
                document=facts["document"],
                creditor=facts["creditor"],
                amount_cents=facts["amount_cents"],
                due_date=facts["due_date"],
                bureau=event.bureau,
                record_key=event.record_key,
                on_date=event.on,
            ),
        )
    elif isinstance(event, HeldEvent):
        facts = event.facts
        yield (
            BUREAU_TOPIC,
            NegativationHeld(
                **_envelope(event, facts["tenant"]),
                receivable_id=facts["receivable_id"],
                receivable_kind=facts["kind"],
                document=facts["document"],
                creditor=facts["creditor"],
                contract=facts["contract"],
                amount_cents=facts["amount_cents"],
                due_date=facts["due_date"],
                ruler_id=event.ruler_id,
                notice_keys=event.keys,
                reasons=event.reasons,
                on_date=event.on,
            ),
        )
    elif isinstance(event, RemovedEvent):
        facts = event.facts
        yield (
            BUREAU_TOPIC,
            NegativationRemoved(
                **_envelope(event, facts["tenant"]),
                receivable_id=facts["receivable_id"],
                document=facts["document"],
                creditor=facts["creditor"],
                bureau=event.bureau,
                record_key=event.record_key,
                reason=event.reason,
                on_date=event.on,
            ),
        )
    elif isinstance(event, LeftEvent):
        facts = event.facts
        yield (
            STAGES_TOPIC,
            ReceivableLeftRuler(
                **_envelope(event, facts["tenant"]),
                receivable_id=facts["receivable_id"],
                receivable_kind=facts["kind"],
                document=facts["document"],
                creditor=facts["creditor"],
                reason=event.reason,
                last_stage=event.last_stage,
                on_date=event.on,
                actions=[StageAction(**a) for a in event.actions],
            ),
        )
        yield from _messages(
            event,
            facts,
            "finalization",
            "finalized",
            # A group's message (receivables of one contract leaving together) says the
            # group's facts: their amounts summed, the earliest due date.
            finalization_variables(getattr(event, "message_facts", None) or facts, event.reason),
        )
    elif isinstance(event, RemovalNoticeEvent):
        # The debtor told that the listing was removed: finalization messages of the exit (a
        # group's speak for every listing of the contract removed together).
        facts = event.facts
        yield from _messages(
            event,
            facts,
            "finalization",
            "finalized",
            removal_variables(event.message_facts or facts, event.reason, event.on),
        )
    elif isinstance(event, CallEvent):
        yield (
            CALLS_TOPIC,
            CallRecorded(
                **_envelope(event, event.tenant),
                call_id=event.call_id,
                campaign_id=event.campaign_id,
                document=event.document,
                operator=event.operator,
                result=CallResultType(**event.result),
                note=event.note,
                reschedule_at=event.reschedule_at,
                recorded_at=event.recorded_at,
            ),
        )
