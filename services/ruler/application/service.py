"""Use cases of the ruler service: configuration (rulers, call campaigns, call result types),
the business day's run over the open receivables (daily, or for one tenant when an admin asks),
receivables leaving or coming back, and operators' calls. Every date comes from the caller
(the business clock)."""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, cast

from pydantic import TypeAdapter

from contracts.clock import DayStarted
from contracts.documents import mask_document
from contracts.money import format_brl
from contracts.ruler import (
    DEFAULT_CALL_RESULTS,
    CallResultType,
    CampaignDefinition,
    RulerDefinitionV4,
    Stage,
)
from contracts.ruler_requests import (
    CallOut,
    CallResultTypes,
    CampaignList,
    CampaignOut,
    RecordCall,
    RulerList,
    RulerOut,
    RulerRunOut,
    RunRuler,
    SaveCallResultTypes,
    SaveCampaign,
    SaveRuler,
)
from service_runtime.eventstore import ServiceApplication
from service_runtime.personal_data import REMOVED
from service_runtime.refusal import Refused, field_refusal, not_found_refusal
from services.ruler.adapters.bureau_file import BureauRecord, CreditBureau
from services.ruler.adapters.notices import NoticeOutcomes
from services.ruler.adapters.receivables import (
    LISTING_HELD,
    LISTING_WAITS,
    NOTICE_AGAIN,
    Exit,
    ReceivableRow,
    ReceivablesTable,
    Reentry,
    move_order,
)
from services.ruler.domain.configuration import CampaignConfig, RulerConfig, TenantRuler, config_id
from services.ruler.domain.receivable import (
    Call,
    Receivable,
    call_aggregate_id,
    receivable_aggregate_id,
)
from services.ruler.domain.stages import (
    NoticeOutcome,
    advance,
    days_overdue,
    finalization,
    listing_notice,
    listing_notices,
    listing_removal,
    notice_state,
    reminders_due,
    ruler_for,
)

log = logging.getLogger(__name__)

RESULT_TYPES = TypeAdapter(list[CallResultType])


def facts_of(row: ReceivableRow, today: dt.date) -> dict[str, Any]:
    """What the events (and the messages they ask for) say about the receivable: the seeds'
    template variables among them. Never the debtor's name: the events are stored and
    published for good, and the name is personal data (the messaging service fills `nome`
    from its own contacts, which an erasure scrubs)."""
    return {
        "tenant": row.tenant,
        "receivable_id": row.receivable_id,
        "kind": row.kind,
        "document": row.document,
        "creditor": row.creditor,
        "contract": row.contract,
        "amount_cents": row.amount_cents,
        "due_date": row.due_date,
        "days_overdue": days_overdue(row.due_date, today),
    }


def message_variables(facts: dict[str, Any]) -> dict[str, str]:
    due: dt.date = facts["due_date"]
    return {
        "documento": mask_document(facts["document"]),
        "credor": facts["creditor"],
        "valor": format_brl(facts["amount_cents"]),
        "vencimento": due.strftime("%d/%m/%Y"),
        "dias_atraso": str(facts["days_overdue"]),
        "numero": facts["contract"],
    }


# Why a receivable left, as a finalization message says it ("sua dívida foi {motivo}").
EXIT_REASONS_PT = {
    "settled": "quitada",
    "paid": "paga",
    "renegotiated": "renegociada",
    "cancelled": "cancelada",
}


def finalization_variables(facts: dict[str, Any], reason: str) -> dict[str, str]:
    """A finalization message's variables: the receivable's, and `motivo`, why it left (one
    template may serve every exit: paid, settled, renegotiated, cancelled)."""
    return {**message_variables(facts), "motivo": EXIT_REASONS_PT.get(reason, reason)}


def leaving_together(exits: Sequence[Exit]) -> list[list[Exit]]:
    """The receivables that leave together, in the order they left: those of one batch (one
    event, mostly: an agreement closed over several installments of a contract) of the same
    debtor, creditor, contract and kind, for the same reason on the same day. The
    finalization templates name the contract (`numero`): one message per contract, not one
    per installment (seed 001: a duplicate to the debtor is cobrança indevida)."""
    groups: dict[tuple[Any, ...], list[Exit]] = {}
    for move in exits:
        row = move.row
        key = (
            row.tenant,
            row.document,
            row.creditor,
            row.category,
            row.contract,
            row.kind,
            move.reason,
            move.on,
        )
        groups.setdefault(key, []).append(move)
    return list(groups.values())


def group_facts(group: Sequence[Exit]) -> dict[str, Any]:
    """What one finalization message says for receivables leaving together: the first's
    facts with the amounts summed (centavos), the earliest due date and its days overdue,
    and the ids of all of them."""
    first = group[0]
    due = min(move.row.due_date for move in group)
    return {
        **facts_of(first.row, first.on),
        "amount_cents": sum(move.row.amount_cents for move in group),
        "due_date": due,
        "days_overdue": days_overdue(due, first.on),
        "receivable_ids": [move.row.receivable_id for move in group],
    }


def erased_name(row: ReceivableRow) -> bool:
    """Whether the receivable's debtor name is gone (erased, or never known)."""
    return row.debtor_name in (REMOVED, "")


# What a run counts: open receivables gone over, stages advanced, pre-due reminders, bureau
# listings, and the messages those asked for.
RUN_COUNTS = ("receivables", "stages", "reminders", "listings", "messages")


def no_counts() -> dict[str, int]:
    return dict.fromkeys(RUN_COUNTS, 0)


def notice_variables(facts: dict[str, Any], listing_from: dt.date, days: int) -> dict[str, str]:
    """A listing notice's variables: the receivable's, `data_negativacao`, the earliest day it
    may be listed if not paid or negotiated (dd/mm/yyyy), and `prazo_negativacao`, the ruler's
    notice days: the listing counts them from the day the notice is sent, so the messaging
    service renders `data_negativacao` again when it goes out later than the day asked."""
    return {
        **message_variables(facts),
        "data_negativacao": listing_from.strftime("%d/%m/%Y"),
        "prazo_negativacao": str(days),
    }


def removal_variables(facts: dict[str, Any], reason: str, on: dt.date) -> dict[str, str]:
    """The variables of a message about a listing's removal: a finalization's (the
    receivable's, `motivo`), and `data_baixa`, the day the listing was removed (dd/mm/yyyy)."""
    return {**finalization_variables(facts, reason), "data_baixa": on.strftime("%d/%m/%Y")}


def day_to_run(last_day: DayStarted | None) -> dt.date:
    """The date an admin's "run the ruler now" runs: the business clock's last day as the
    ruler saw it (its last DayStarted). Refused (409) before any day, and on a day that is
    not a business day: the daily run only runs on business days, and a run by hand must not
    act where the daily one would not."""
    if last_day is None:
        raise Refused(
            409,
            "no_business_date",
            "a régua ainda não recebeu o dia do relógio de negócio; tente de novo em instantes",
        )
    if not last_day.business_day:
        raise Refused(
            409,
            "not_business_day",
            f"hoje ({last_day.date.strftime('%d/%m/%Y')}) não é dia útil: a régua só roda em "
            "dias úteis; ela roda no próximo",
        )
    return last_day.date


class RulerApplication(ServiceApplication):
    name = "ruler"
    snapshotting_intervals = {TenantRuler: 50}  # noqa: RUF012

    def __init__(self, env: dict[str, str] | None = None) -> None:
        super().__init__(env=env)
        self.receivables: ReceivablesTable | None = None
        self.bureau: CreditBureau | None = None
        # What became of the notices (messaging.messages): a listing waits for one sent.
        self.notices: NoticeOutcomes | None = None
        # Receivables a run could not list for want of a notice, by tenant (and ruler): told
        # once per run, not once per receivable (a carteira without phones is thousands).
        self._held: Counter[str] = Counter()
        self._unnoticeable: Counter[tuple[str, str]] = Counter()

    # ---- helpers -------------------------------------------------------------------------

    def _tenant(self, tenant: str) -> TenantRuler:
        return self.get_or_none(TenantRuler, config_id(tenant, "tenant", tenant)) or TenantRuler(
            tenant=tenant
        )

    # ---- configuration -------------------------------------------------------------------

    def save_ruler(self, request: SaveRuler) -> RulerOut:
        definition_json = request.definition.model_dump_json()

        def command() -> RulerOut:
            found = self.get_or_none(
                RulerConfig, config_id(request.tenant, "ruler", request.ruler_id)
            )
            if found is None and request.existing_only:
                raise not_found_refusal("ruler_id", f"régua {request.ruler_id} não encontrada")
            if found is None:
                found = RulerConfig(
                    tenant=request.tenant,
                    ruler_id=request.ruler_id,
                    definition_json=definition_json,
                    saved_by=request.saved_by,
                )
                tenant = self._tenant(request.tenant)
                tenant.add_ruler(ruler_id=request.ruler_id)
                self.save(found, tenant)
            elif RulerDefinitionV4.model_validate_json(found.definition_json) != request.definition:
                # Compared as definitions: a ruler saved before version 4 lacks some of
                # versions 2 to 4's fields in its JSON, and saving it unchanged changes nothing.
                found.change(definition_json=definition_json, saved_by=request.saved_by)
                self.save(found)
            return RulerOut(
                ruler_id=request.ruler_id, version=found.version, definition=request.definition
            )

        return self.retrying(command)

    def rulers(self, tenant: str) -> list[RulerOut]:
        record = self.get_or_none(TenantRuler, config_id(tenant, "tenant", tenant))
        out = []
        for ruler_id in record.ruler_ids if record else []:
            config = self.get_or_none(RulerConfig, config_id(tenant, "ruler", ruler_id))
            if config is not None:
                out.append(
                    RulerOut(
                        ruler_id=ruler_id,
                        version=config.version,
                        # Saved before version 4 too: the later fields' defaults.
                        definition=RulerDefinitionV4.model_validate_json(config.definition_json),
                    )
                )
        return out

    def list_rulers(self, tenant: str) -> RulerList:
        return RulerList(rulers=self.rulers(tenant))

    def save_campaign(self, request: SaveCampaign) -> CampaignOut:
        definition_json = request.definition.model_dump_json()

        def command() -> CampaignOut:
            found = self.get_or_none(
                CampaignConfig, config_id(request.tenant, "campaign", request.campaign_id)
            )
            if found is None and request.existing_only:
                raise not_found_refusal(
                    "campaign_id", f"campanha {request.campaign_id} não encontrada"
                )
            if found is None:
                found = CampaignConfig(
                    tenant=request.tenant,
                    campaign_id=request.campaign_id,
                    definition_json=definition_json,
                    saved_by=request.saved_by,
                )
                tenant = self._tenant(request.tenant)
                tenant.add_campaign(campaign_id=request.campaign_id)
                self.save(found, tenant)
            elif found.definition_json != definition_json:
                found.change(definition_json=definition_json, saved_by=request.saved_by)
                self.save(found)
            return CampaignOut(
                campaign_id=request.campaign_id,
                version=found.version,
                definition=request.definition,
            )

        return self.retrying(command)

    def list_campaigns(self, tenant: str) -> CampaignList:
        record = self.get_or_none(TenantRuler, config_id(tenant, "tenant", tenant))
        out = []
        for campaign_id in record.campaign_ids if record else []:
            config = self.get_or_none(CampaignConfig, config_id(tenant, "campaign", campaign_id))
            if config is not None:
                out.append(
                    CampaignOut(
                        campaign_id=campaign_id,
                        version=config.version,
                        definition=CampaignDefinition.model_validate_json(config.definition_json),
                    )
                )
        return CampaignList(campaigns=out)

    def call_result_types(self, tenant: str) -> CallResultTypes:
        record = self.get_or_none(TenantRuler, config_id(tenant, "tenant", tenant))
        if record is None or record.call_results_json is None:
            return CallResultTypes(result_types=list(DEFAULT_CALL_RESULTS))
        return CallResultTypes(result_types=RESULT_TYPES.validate_json(record.call_results_json))

    def save_call_result_types(self, request: SaveCallResultTypes) -> CallResultTypes:
        codes = [t.code for t in request.result_types]
        if len(set(codes)) != len(codes):
            raise field_refusal("result_types", "unique_code", "códigos de resultado repetidos")

        def command() -> CallResultTypes:
            tenant = self._tenant(request.tenant)
            tenant.save_call_results(
                result_types_json=RESULT_TYPES.dump_json(request.result_types).decode(),
                saved_by=request.saved_by,
            )
            self.save(tenant)
            return CallResultTypes(result_types=request.result_types)

        return self.retrying(command)

    # ---- calls ---------------------------------------------------------------------------

    def record_call(self, request: RecordCall, now: dt.datetime) -> CallOut:
        campaign = self.get_or_none(
            CampaignConfig, config_id(request.tenant, "campaign", request.campaign_id)
        )
        if campaign is None:
            raise not_found_refusal("campaign_id", f"campanha {request.campaign_id} não encontrada")
        types = {t.code: t for t in self.call_result_types(request.tenant).result_types}
        result = types.get(request.result)
        if result is None:
            raise field_refusal(
                "result",
                "unknown_result",
                f"resultado {request.result!r} não cadastrado; use um de: {', '.join(types)}",
            )
        existing = self.get_or_none(Call, call_aggregate_id(request.tenant, request.call_id))
        call = existing or Call(
            tenant=request.tenant,
            call_id=request.call_id,
            campaign_id=request.campaign_id,
            document=request.document,
            operator=request.operator,
            result=result.model_dump(),
            note=request.note,
            reschedule_at=request.reschedule_at,
            recorded_at=now,
        )
        if existing is None:
            self.save(call)
        return CallOut(
            call_id=call.call_id,
            campaign_id=call.campaign_id,
            document=call.document,
            operator=call.operator,
            result=CallResultType(**call.result),
            note=call.note,
            reschedule_at=call.reschedule_at,
            recorded_at=call.recorded_at,
        )

    # ---- the daily run -------------------------------------------------------------------

    def _rulers_by_tenant(
        self, tenants: set[str]
    ) -> dict[str, list[tuple[str, RulerDefinitionV4]]]:
        return {
            tenant: [(r.ruler_id, r.definition) for r in self.rulers(tenant)] for tenant in tenants
        }

    def release_moves(self, day: dt.date) -> int:
        """The ruler's runs reached `day` (the daily run reads every day of the clock, business
        day or not): the receivables that left on it or before while the runs were behind are
        finalized, and those that came back restarted (`handle_moves`), in the order they were
        read. Returns how many changed. Idempotent (a crash before the held moves are
        forgotten finalizes nothing twice)."""
        assert self.receivables is not None
        changed = 0
        for seqs, exits, reentries in self.receivables.held_until(day):
            changed += self.handle_moves(exits, reentries, day)
            self.receivables.forget_held(seqs)
        return changed

    def run_day(self, today: dt.date, tenant: str | None = None) -> dict[str, int]:
        """Move every receivable in collection on `today` (of `tenant`, or of every tenant)
        to its stage of `today`, send the reminders due, list at the bureau. Returns the
        counts (RUN_COUNTS). Run again on the same day, it does nothing more: every action's
        key is deterministic, and a stage reached or a reminder sent is recorded.

        Only what was true on `today`: the receivables that left or came back up to `today`
        while the runs were behind are finalized or restarted first (`release_moves`; the
        daily run's, for every tenant: a run by hand for one tenant leaves them to it, in its
        order); one that comes back later, or entered later, is not gone over; one that
        leaves later (its exit held) is, as it was on `today`."""
        assert self.receivables is not None
        if tenant is None:
            self.release_moves(today)
        counts = no_counts()
        self._held.clear()
        self._unnoticeable.clear()
        rulers: dict[str, list[tuple[str, RulerDefinitionV4]]] = {}
        for page in self.receivables.open_rows(tenant=tenant, on=today):
            counts["receivables"] += len(page)
            missing = {r.tenant for r in page} - set(rulers)
            rulers.update(self._rulers_by_tenant(missing))
            for row in page:
                chosen = ruler_for(rulers[row.tenant], row.creditor, row.category)
                if chosen is None:
                    continue
                moved = self.retrying(functools.partial(self._run, row, chosen, today))
                for key, value in moved.items():
                    counts[key] += value
        for held_tenant, held in sorted(self._held.items()):
            log.warning(
                "%s: %d listing(s) at the bureau held on %s: their notice could not be sent (no "
                "contact, opted out, refused...): each is a NegativationHeld on the debtor's "
                "timeline; a re-import with a phone or e-mail asks the notice again",
                held_tenant,
                held,
                today,
            )
        for (held_tenant, ruler_id), held in sorted(self._unnoticeable.items()):
            log.warning(
                "%s: %d receivable(s) not listed at the bureau on %s: ruler %s has no message to "
                "notice the debtor first (listing_notice_actions, or a stage's message)",
                held_tenant,
                held,
                today,
                ruler_id,
            )
        return counts

    def run_now(self, request: RunRuler, last_day: DayStarted | None) -> RulerRunOut:
        """An admin's "run the ruler now" (processar régua agora) for one tenant: today's
        run, as the daily one, for the receivables that came after it (a carteira imported
        later in the day). Recorded with who asked and what it did (`RulerRunRequested`)."""
        today = day_to_run(last_day)
        counts = self.run_day(today, tenant=request.tenant)
        log.info(
            "ruler run by hand for %s on %s, asked by %s: %s",
            request.tenant,
            today,
            request.requested_by,
            counts,
        )

        def record() -> None:
            tenant = self._tenant(request.tenant)
            tenant.run_requested(on=today, requested_by=request.requested_by, counts=counts)
            self.save(tenant)

        self.retrying(record)
        return RulerRunOut(date=today, **counts)

    def _run(
        self, row: ReceivableRow, chosen: tuple[str, RulerDefinitionV4], today: dt.date
    ) -> dict[str, int]:
        assert self.receivables is not None
        ruler_id, ruler = chosen
        counts = no_counts()
        cached = row.stage
        waits = cached in (LISTING_WAITS, NOTICE_AGAIN)
        stage = cast(Stage, "credit_bureau" if waits or cached == LISTING_HELD else cached)
        # Cheap checks against the cached stage first: most receivables do not move today.
        maybe = advance(ruler, ruler_id, row.tenant, row.receivable_id, stage, row.due_date, today)
        reminders = (
            reminders_due(ruler, row.tenant, row.receivable_id, row.due_date, today, (), stage)
            if row.due_date > today and ruler.pre_due_days
            else []
        )
        if maybe is None and not reminders and not waits:
            return counts
        receivable = self.get_or_none(
            Receivable, receivable_aggregate_id(row.tenant, row.receivable_id)
        ) or Receivable(
            tenant=row.tenant, receivable_id=row.receivable_id, kind=row.kind, document=row.document
        )
        if not receivable.open:
            return counts
        facts = facts_of(row, today)
        listing: BureauRecord | None = None
        transition = advance(
            ruler,
            ruler_id,
            row.tenant,
            receivable.key_id,
            cast(Stage, receivable.stage),
            row.due_date,
            today,
        )
        if transition is not None:
            receivable.advance(
                facts=facts,
                ruler_id=ruler_id,
                from_stage=transition.from_stage,
                to_stage=transition.to_stage,
                days_overdue=transition.days_overdue,
                on=today,
                actions=[a.model_dump() for a in transition.actions],
                names_contract=True,
            )
            counts["stages"] += 1
            counts["messages"] += sum(a.kind == "message" for a in transition.actions)
        noticed = False
        waiting = False
        held = False
        renewed = False
        if receivable.listing_key is not None and receivable.listed_key is None and self.bureau:
            if erased_name(row):
                # A listing names the debtor: without the name (erased at the debtor's
                # request) it is invalid, so the debtor is neither noticed nor listed.
                if transition is not None or waits:
                    log.warning(
                        "receivable %s of %s: not listed at the bureau (%s): the debtor's "
                        "personal data was erased and a listing needs the name",
                        row.receivable_id,
                        row.tenant,
                        self.bureau.name,
                    )
            else:
                if cached == NOTICE_AGAIN and receivable.listing_held_on is not None:
                    # A re-import brought the debtor's contact: a new round of the notice.
                    receivable.renew_notice(facts=facts, ruler_id=ruler_id, on=today)
                    renewed = True
                if not listing_notices(ruler, receivable.notice_keys):
                    asked = self._ask_listing_notice(row, receivable, chosen, facts, today)
                    counts["messages"] += asked
                    noticed = asked > 0
                notice = notice_state(
                    ruler,
                    listing_notices(ruler, receivable.notice_keys),
                    self._outcomes(row, receivable, today),
                )
                if notice.listing_from is not None and today >= notice.listing_from:
                    listing = self._bureau_record(row, receivable.listing_key, today)
                    receivable.negativate(
                        facts=facts,
                        bureau=self.bureau.name,
                        record_key=listing.record_key,
                        on=today,
                    )
                    counts["listings"] += 1
                elif notice.failed:
                    if receivable.listing_held_on is None:
                        receivable.hold_listing(
                            facts=facts,
                            ruler_id=ruler_id,
                            on=today,
                            keys=[o.key for o in notice.failed],
                            reasons=[o.reason or o.rule or "" for o in notice.failed],
                        )
                        held = True
                        self._held[row.tenant] += 1
                        log.debug(
                            "receivable %s of %s: not listed at the bureau: its notice could "
                            "not be sent (%s)",
                            row.receivable_id,
                            row.tenant,
                            "; ".join(o.reason or o.rule or "" for o in notice.failed),
                        )
                else:
                    waiting = True
        if row.due_date > today:
            for days_before, actions in reminders_due(
                ruler,
                row.tenant,
                receivable.key_id,
                row.due_date,
                today,
                receivable.reminded,
                cast(Stage, receivable.stage),
            ):
                receivable.remind(
                    facts=facts,
                    ruler_id=ruler_id,
                    days_before=days_before,
                    on=today,
                    actions=[a.model_dump() for a in actions],
                )
                counts["reminders"] += 1
                counts["messages"] += sum(a.kind == "message" for a in actions)
        cache = (
            LISTING_WAITS
            if waiting
            else LISTING_HELD
            if receivable.listing_held_on is not None and receivable.listed_key is None
            else receivable.stage
        )
        if not (
            counts["stages"]
            or counts["reminders"]
            or counts["listings"]
            or noticed
            or held
            or renewed
        ):
            if cache != cached:
                self.receivables.set_stage(row.receivable_id, cache)
            return counts
        self.save(receivable)
        # After the event is stored: a crash in between lists it on the next run (the file
        # adapter writes a record key once).
        if listing is not None and self.bureau is not None:
            self.bureau.include(listing)
        self.receivables.set_stage(row.receivable_id, cache)
        return counts

    def _ask_listing_notice(
        self,
        row: ReceivableRow,
        receivable: Receivable,
        chosen: tuple[str, RulerDefinitionV4],
        facts: dict[str, Any],
        today: dt.date,
    ) -> int:
        """The notice before the listing of a receivable that reached the credit bureau stage
        without one (`listing_notices`: its stages' messages say nothing of the listing); the
        number of messages asked, 0 when its ruler
        has none to send (then it waits, and is never listed unnoticed)."""
        ruler_id, ruler = chosen
        actions = listing_notice(ruler, row.tenant, receivable.key_id, receivable.notice_round)
        if not actions:
            self._unnoticeable[(row.tenant, ruler_id)] += 1
            log.debug(
                "receivable %s of %s: not listed at the bureau: its ruler %s has no message to "
                "notice the debtor first (listing_notice_actions, or a stage's message)",
                row.receivable_id,
                row.tenant,
                ruler_id,
            )
            return 0
        receivable.ask_listing_notice(
            facts=facts,
            ruler_id=ruler_id,
            on=today,
            listing_from=today + dt.timedelta(days=ruler.listing_notice_days),
            actions=[a.model_dump() for a in actions],
        )
        return len(actions)

    def _outcomes(
        self, row: ReceivableRow, receivable: Receivable, today: dt.date
    ) -> list[NoticeOutcome]:
        """What messaging said, up to `today`, of the receivable's notices (none known without
        the outcomes' table: then nothing is listed)."""
        if self.notices is None:
            return []
        return self.notices.of(row.tenant, receivable.notice_keys, today)

    @staticmethod
    def _bureau_record(row: ReceivableRow, key: str, today: dt.date) -> BureauRecord:
        return BureauRecord(
            record_key=key,
            tenant=row.tenant,
            document=row.document,
            # An exclusion is found by its key: once erased, the name is left blank.
            debtor_name="" if erased_name(row) else row.debtor_name,
            creditor=row.creditor,
            contract=row.contract,
            amount_cents=row.amount_cents,
            due_date=row.due_date,
            occurred_on=today,
        )

    # ---- leaving and coming back ---------------------------------------------------------

    def handle_moves(
        self, exits: Sequence[Exit], reentries: Sequence[Reentry], today: dt.date
    ) -> int:
        """Finalize receivables that left (confirmation messages, removal from the bureau) and
        restart those that came back. Idempotent. Receivables of one debtor's contract that
        leave together for one reason (an agreement over three of its installments) get one
        finalization message (`leaving_together`)."""
        changed = 0
        leaving: list[Exit] = []
        # In the order they happened (QA: a debt reopened then settled in one batch was
        # finalized first, while not yet back, then reopened: no "quitada" message, and the
        # receivable open in the ruler): the exits between two re-entries leave together.
        moves: list[Exit | Reentry] = [*exits, *reentries]
        for move in sorted(moves, key=move_order):
            if isinstance(move, Exit):
                leaving.append(move)
                continue
            changed += self._leave_groups(leaving)
            leaving = []
            changed += self.retrying(functools.partial(self._reenter, move))
        return changed + self._leave_groups(leaving)

    def _leave_groups(self, exits: Sequence[Exit]) -> int:
        return sum(
            self.retrying(functools.partial(self._leave, group))
            for group in leaving_together(exits)
        )

    def _leave(self, group: Sequence[Exit]) -> int:
        """One group of `leaving_together`: each receivable in the ruler leaves (its listing
        removed), all of them saved in one transaction, and the group's finalization messages
        are asked once, by the first of them (by key id) with the keys it has alone: a group of
        one asks what a receivable always asked, and a group read again (the batch delivered
        again after a crash) finds them all gone, or none. Those that were listed at the credit
        bureau get the ruler's `listing_removal_actions` once, likewise: asked by the first of
        them, saying all of them."""
        first = group[0]
        leaving: list[tuple[Exit, Receivable]] = []
        for move in group:
            receivable = self.get_or_none(
                Receivable, receivable_aggregate_id(move.row.tenant, move.row.receivable_id)
            )
            # Never in the ruler (not yet overdue, no reminder): nothing to finalize.
            if receivable is not None and receivable.open:
                leaving.append((move, receivable))
        if not leaving:
            return 0
        rulers = [(r.ruler_id, r.definition) for r in self.rulers(first.row.tenant)]
        chosen = ruler_for(rulers, first.row.creditor, first.row.category)
        lead = min(leaving, key=lambda found: found[1].key_id)[1]
        # The exit's own messages, or the general ones; none for a broken agreement's
        # installments (see `finalization`).
        actions = (
            finalization(chosen[1], first.row.tenant, lead.key_id, first.row.kind, first.reason)
            if chosen is not None
            else []
        )
        together = group_facts(group) if len(group) > 1 else None
        # The debtor is told once that the listings were removed: by the first of those listed
        # (by key id), saying them all when several of the contract were (seed 002).
        listed_moves = [(m, r) for m, r in leaving if r.listed_key is not None]
        removal_lead = min((r for _, r in listed_moves), key=lambda r: r.key_id, default=None)
        removal_actions = (
            listing_removal(
                chosen[1], first.row.tenant, removal_lead.key_id, first.row.kind, first.reason
            )
            if chosen is not None and removal_lead is not None
            else []
        )
        removal_together = (
            group_facts([m for m, _ in listed_moves]) if len(listed_moves) > 1 else None
        )
        bureau_name = self.bureau.name if self.bureau else "arquivo-remessa"
        removals: list[BureauRecord] = []
        for move, receivable in leaving:
            removal = receivable is removal_lead
            # The exclusion says what the inclusion listed (a debt paid off owes R$ 0,00 when
            # it leaves; the bureau matches an exclusion with the inclusion it removes).
            listed_as = replace(
                move.row,
                amount_cents=receivable.listed_amount_cents
                if receivable.listed_amount_cents is not None
                else move.row.amount_cents,
                due_date=receivable.listed_due_date or move.row.due_date,
            )
            listed = receivable.leave(
                facts=facts_of(move.row, move.on),
                reason=move.reason,
                on=move.on,
                actions=[a.model_dump() for a in actions] if receivable is lead else [],
                bureau=bureau_name,
                message_facts=together if receivable is lead else None,
                removal_actions=[a.model_dump() for a in removal_actions] if removal else None,
                removal_facts=removal_together if removal else None,
            )
            if listed is not None:
                removals.append(self._bureau_record(listed_as, listed, first.on))
        self.save(*(receivable for _, receivable in leaving))
        if self.bureau is not None:
            for record in removals:
                self.bureau.exclude(record, first.reason)
        return len(leaving)

    def _reenter(self, back: Reentry) -> int:
        row = back.row
        receivable = self.get_or_none(
            Receivable, receivable_aggregate_id(row.tenant, row.receivable_id)
        )
        if receivable is None or receivable.open:
            return 0
        receivable.reenter(on=back.on)
        self.save(receivable)
        return 1
