"""The collection ruler (régua de cobrança) as pure functions: which stage a receivable is in
on a date, when it advances, which pre-due reminders are due, which messages it gets when it
leaves (per exit reason), and which ruler applies to it.

Dates are always parameters (the daily run passes its business date), so the same inputs give
the same answer on any machine and at any hour. Every action carries a deterministic key: a
run repeated after a crash, or a message replayed, yields the same keys, and the caller that
records the keys it has acted on never acts twice.
"""

from __future__ import annotations

import datetime as dt
import functools
import unicodedata
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

import holidays

from contracts.ruler import (
    EXIT_REASONS,
    OVERDUE_STAGES,
    ActionSpec,
    AddToCampaign,
    RulerDefinition,
    RulerDefinitionV2,
    RulerDefinitionV3,
    RulerDefinitionV4,
    SendMessage,
    Stage,
    StageAction,
)

__all__ = [
    "STAGE_ORDER",
    "NoticeOutcome",
    "NoticeState",
    "Transition",
    "action_key",
    "advance",
    "days_overdue",
    "finalization",
    "listing_notice",
    "listing_notices",
    "listing_removal",
    "notice_state",
    "reminder_day",
    "reminder_days",
    "reminders_due",
    "ruler_for",
    "stage_on",
]

# "current" and "pre_due" come before every overdue stage; "finalized" after all of them, so
# nothing advances a receivable that has left its ruler.
_ALL_STAGES: tuple[Stage, ...] = ("current", "pre_due", *OVERDUE_STAGES, "finalized")
STAGE_ORDER: dict[Stage, int] = {stage: rank for rank, stage in enumerate(_ALL_STAGES)}
_OVERDUE: frozenset[Stage] = frozenset(OVERDUE_STAGES)


def days_overdue(due_date: dt.date, today: dt.date) -> int:
    """Whole days past the due date; 0 on the due date and before it."""
    return max(0, (today - due_date).days)


def stage_on(ruler: RulerDefinition, due_date: dt.date, today: dt.date) -> Stage:
    """The stage the ruler puts a receivable in on `today`, from its due date alone."""
    overdue = days_overdue(due_date, today)
    reached: Stage | None = None
    # Stages are validated as ordered by strictly increasing day: the last reached one wins.
    for spec in ruler.stages:
        if spec.day <= overdue:
            reached = spec.stage
    if reached is not None:
        return reached
    days_left = (due_date - today).days
    if days_left > 0 and days_left <= max(ruler.pre_due_days, default=0):
        return "pre_due"
    return "current"


@dataclass(frozen=True)
class Transition:
    from_stage: Stage
    to_stage: Stage
    days_overdue: int
    actions: list[StageAction]


def _key_part(value: str) -> str:
    # Tenant and receivable ids are free text: escaping "|" keeps one key per (tenant,
    # receivable) pair; ordinary ids come out unchanged, so keys stay readable.
    return value.replace("%", "%25").replace("|", "%7C")


def _kind_suffix(action: ActionSpec) -> str:
    if isinstance(action, SendMessage):
        return f"message:{action.channel}:{action.template}"
    if isinstance(action, AddToCampaign):
        return f"call_campaign:{action.campaign_id}"
    return "credit_bureau"


def action_key(
    tenant: str, receivable_id: str, stage: Stage, index: int, action: ActionSpec
) -> str:
    """A readable deterministic key, `tenant|receivable|stage|index|kind[:details]`.

    The index tells apart two identical actions of one stage; the details make a key change
    when the ruler's action at that index is edited, so the new action is not mistaken for
    the one already done.
    """
    return f"{_key_part(tenant)}|{_key_part(receivable_id)}|{stage}|{index}|{_kind_suffix(action)}"


def _stage_action(key: str, action: ActionSpec) -> StageAction:
    if isinstance(action, SendMessage):
        return StageAction(
            kind="message", key=key, channel=action.channel, template=action.template
        )
    if isinstance(action, AddToCampaign):
        return StageAction(kind="call_campaign", key=key, campaign=action.campaign_id)
    return StageAction(kind="credit_bureau", key=key)


def advance(
    ruler: RulerDefinition,
    ruler_id: str,
    tenant: str,
    receivable_id: str,
    current: Stage,
    due_date: dt.date,
    today: dt.date,
) -> Transition | None:
    """The move to a later overdue stage on `today`, or None when the receivable stays put.

    Stages never go backwards while the receivable is open: a ruler edited to later days, or
    a due date moved forward, leaves it where it is. Only the target stage's actions are
    returned: a receivable that skips stages (it arrived very overdue, or the runs stopped
    for a while) must not get a burst of stale notices.

    `ruler_id` is deliberately not part of the keys: a receivable moved to another ruler
    must not receive an identical action of a stage it already went through.
    """
    del ruler_id  # accepted so callers pass the full context; see above
    target = stage_on(ruler, due_date, today)
    if target not in _OVERDUE or STAGE_ORDER[target] <= STAGE_ORDER[current]:
        return None
    spec = next(s for s in ruler.stages if s.stage == target)
    actions = [
        _stage_action(action_key(tenant, receivable_id, target, index, action), action)
        for index, action in enumerate(spec.actions)
    ]
    return Transition(
        from_stage=current,
        to_stage=target,
        days_overdue=days_overdue(due_date, today),
        actions=actions,
    )


def listing_notice(
    ruler: RulerDefinitionV3, tenant: str, receivable_id: str, notice_round: int = 1
) -> list[StageAction]:
    """The notice asked of a receivable that reached the credit bureau stage without one
    (`listing_notices`; CDC art. 43 §2: the debtor is told before being listed): the
    ruler's `listing_notice_actions`, else the messages of the latest stage before the credit
    bureau stage that has any; `[]` when the ruler has none at all (then it is never listed).

    Keys: `tenant|receivable|listing_notice|index|message:channel:template`; the receivable
    id is the cycle's (a debt back from a broken agreement is noticed again). A notice asked
    again in the cycle (`notice_round` 2 or more: its hold resumed once a re-import brought
    the debtor's contact) has the round after the index, `index#round`."""
    messages: list[SendMessage] = list(ruler.listing_notice_actions)
    if not messages:
        for spec in reversed(ruler.stages):
            if spec.stage == "credit_bureau":
                continue
            messages = [a for a in spec.actions if isinstance(a, SendMessage)]
            if messages:
                break
    prefix = f"{_key_part(tenant)}|{_key_part(receivable_id)}|listing_notice"
    again = f"#{notice_round}" if notice_round > 1 else ""
    return [
        _stage_action(f"{prefix}|{i}{again}|{_kind_suffix(message)}", message)
        for i, message in enumerate(messages)
    ]


def listing_notices(ruler: RulerDefinitionV3, keys: Collection[str]) -> list[str]:
    """The keys among a cycle's messages (`keys`) that tell the debtor of the listing, the only
    ones a listing may wait for (CDC art. 43 §2: the debtor is told of the listing itself, not
    only that the debt is in collection; QA pass 9, D3: a debt listed after only a "vamos
    agendar o pagamento?" e-mail): the listing notices the ruler asked (`listing_notice`,
    whose messages carry `data_negativacao`), and, for a ruler that names no
    `listing_notice_actions`, its credit bureau stage's own messages (the stage of the listing;
    asking them again as the notice would send the debtor the same text twice). An earlier
    stage's message never counts: a debt that walked the stages is sent the notice when it
    reaches the bureau stage."""
    counted = []
    for key in keys:
        part = key.split("|")
        if len(part) != 5:
            continue
        if part[2] == "listing_notice" or (
            part[2] == "credit_bureau" and not ruler.listing_notice_actions
        ):
            counted.append(key)
    return counted


@dataclass(frozen=True)
class NoticeOutcome:
    """What became of one of a receivable's notices, as the messaging service said it: `sent`
    on the business date `on`, or `failed` (with messaging's rule and reason, pt-BR)."""

    key: str
    outcome: Literal["sent", "failed"]
    on: dt.date
    rule: str | None = None
    reason: str | None = None


# A message not sent because its receivable left collection: its exit is on its way, no hold.
_LEFT_RULE = "collection_ended"


@dataclass(frozen=True)
class NoticeState:
    """Where a waiting listing stands on a day: `listing_from`, the first day it may be listed
    (the earliest notice sent plus the ruler's notice days), None while none was sent;
    `failed`, the outcomes when every notice asked could not be sent (then it is held)."""

    listing_from: dt.date | None
    failed: tuple[NoticeOutcome, ...] = ()


def notice_state(
    ruler: RulerDefinitionV3, keys: Collection[str], outcomes: Sequence[NoticeOutcome]
) -> NoticeState:
    """A listing's notice on a day, from what messaging said of its keys up to that day: listed
    from the earliest business date one of them was sent plus `listing_notice_days` (calendar
    days; the run is on business days only, so a date on a weekend or holiday lists on the
    next one), never from the day it was asked (an SMS held by its window, or sent late after
    downtime, counts from when it went out: CDC art. 43 §2). Held (`failed`) when every key
    asked has failed; waiting while any has no outcome yet (or failed because it left)."""
    known = {o.key: o for o in outcomes if o.key in keys}
    sent = [o.on for o in known.values() if o.outcome == "sent"]
    if sent:
        return NoticeState(min(sent) + dt.timedelta(days=ruler.listing_notice_days))
    failed = [o for o in known.values() if o.outcome == "failed" and o.rule != _LEFT_RULE]
    if keys and len(failed) == len(set(keys)):
        return NoticeState(None, tuple(sorted(failed, key=lambda o: o.key)))
    return NoticeState(None)


@functools.lru_cache(maxsize=64)
def _national_holidays(year: int) -> frozenset[dt.date]:
    # The package's default (public) category: national holidays, not pontos facultativos.
    return frozenset(holidays.country_holidays("BR", years=year).keys())


def _business_day(date: dt.date) -> bool:
    """Monday to Friday, except Brazilian national holidays (as the clock's calendar)."""
    return date.weekday() < 5 and date not in _national_holidays(date.year)


def reminder_day(due_date: dt.date, days_before: int) -> dt.date:
    """The day the reminder `days_before` the due date goes: that day, or, when it falls on
    a weekend or a national holiday (no run then), the business day before it (QA: the
    5-day reminder of an installment due Thursday 09/04/2026 fell on Saturday 04/04 and was
    never sent; it goes on Thursday 02/04, Friday 03/04 being Good Friday)."""
    day = due_date - dt.timedelta(days=days_before)
    while not _business_day(day):
        day -= dt.timedelta(days=1)
    return day


def reminder_days(due_date: dt.date, pre_due_days: Collection[int]) -> dict[int, dt.date]:
    """The first day each reminder is due (`reminder_day`), but for one that would move back
    onto a farther reminder's day: it keeps its own day, and the next run sends it, while that
    run is before the due date (due Wednesday 21/10, reminders 5 and 3 days before: Friday 16/10
    and Sunday 18/10, sent on Monday 19/10; both go, as configured). Else both are one message
    on that day (due Monday, reminders 2 and 1 days before: both on Friday)."""
    days: dict[int, dt.date] = {}
    runs: set[dt.date] = set()  # the days a farther reminder is sent on
    for before in sorted(set(pre_due_days), reverse=True):
        day = reminder_day(due_date, before)
        run = day
        if day in runs:
            own = due_date - dt.timedelta(days=before)
            run = own
            while not _business_day(run):
                run += dt.timedelta(days=1)
            if run < due_date and run not in runs:
                day = own
            else:
                run = day
        days[before] = day
        runs.add(run)
    return days


def reminders_due(
    ruler: RulerDefinition,
    tenant: str,
    receivable_id: str,
    due_date: dt.date,
    today: dt.date,
    already_sent: Collection[int],
    stage: Stage = "current",
) -> list[tuple[int, list[StageAction]]]:
    """The pre-due reminder to send today, as `[(days_before, actions)]`, or `[]`.

    A reminder's day falling on a weekend or a holiday is moved to the business day before,
    unless another reminder goes that day (`reminder_days`). The run may still miss it (an
    outage), so a reminder is due from its day until the due date. Only the most recent one
    (the smallest day already reached) is ever sent: the earlier ones are stale, and stay so
    even after the recent one has been sent; so two reminders due the same day are one
    message, the more recent one. The
    actions list is empty when the ruler has reminder days but no reminder messages; the day
    is still returned so the caller can record it.

    Never for a due date already past: not on `today` (the day the run is for), and not for
    a receivable the ruler has already put in an overdue stage (`stage`), whatever day a
    run says it is for (a day read again after a later one ran).
    """
    days_left = (due_date - today).days
    if days_left <= 0 or STAGE_ORDER[stage] > STAGE_ORDER["pre_due"]:
        return []
    days = reminder_days(due_date, ruler.pre_due_days)
    reached = [d for d, day in days.items() if day <= today]
    if not reached:
        return []
    latest = min(reached)
    if latest in already_sent:
        return []
    prefix = f"{_key_part(tenant)}|{_key_part(receivable_id)}|pre_due|{latest}"
    actions = [
        _stage_action(f"{prefix}|{i}|{_kind_suffix(message)}", message)
        for i, message in enumerate(ruler.pre_due_actions)
    ]
    return [(latest, actions)]


def finalization(
    ruler: RulerDefinitionV2, tenant: str, receivable_id: str, kind: str, reason: str
) -> list[StageAction]:
    """The messages of a receivable leaving its ruler for `reason`, with their keys.

    The reason's own list in `finalization_by_reason` when the ruler has one (empty: no
    message for that exit), else `finalization_actions`. An installment cancelled is one of
    a broken agreement: its debts come back to the ruler, and the debtor gets no "your debt
    has ended" message, whatever the ruler says.

    Keys: `finalization_actions` keeps the keys it always had,
    `tenant|receivable|finalized|index|message:channel:template` (keys already sent must
    stay the same, or a replay would send them again); a reason's own list says its reason,
    `tenant|receivable|finalized|reason|index|...`, so its keys never meet the general
    list's (an index is a number, a reason a word) nor another reason's.
    """
    if kind == "installment" and reason == "cancelled":
        return []
    exit_reason = next((r for r in EXIT_REASONS if r == reason), None)
    own = ruler.finalization_by_reason.get(exit_reason) if exit_reason else None
    if own is None:
        return [
            _stage_action(f"{tenant}|{receivable_id}|finalized|{i}|{_kind_suffix(a)}", a)
            for i, a in enumerate(ruler.finalization_actions)
        ]
    prefix = f"{_key_part(tenant)}|{_key_part(receivable_id)}|finalized|{reason}"
    return [_stage_action(f"{prefix}|{i}|{_kind_suffix(a)}", a) for i, a in enumerate(own)]


def listing_removal(
    ruler: RulerDefinitionV4, tenant: str, receivable_id: str, kind: str, reason: str
) -> list[StageAction]:
    """The messages telling the debtor that a receivable's listing at the credit bureau was
    removed as it left the ruler for `reason` (seed 002, "Remover negativações"): the ruler's
    `listing_removal_actions` (empty: none). A broken agreement's installment too: its boleto
    was cancelled and its listing is taken down, though its debts come back to collection
    (they get no finalization, and are listed again only after a notice of their own).

    Keys: `tenant|receivable|listing_removal|index|message:channel:template`; the receivable
    id is the cycle's (a listing is removed at most once per cycle: it leaves then)."""
    prefix = f"{_key_part(tenant)}|{_key_part(receivable_id)}|listing_removal"
    return [
        _stage_action(f"{prefix}|{i}|{_kind_suffix(message)}", message)
        for i, message in enumerate(ruler.listing_removal_actions)
    ]


def _fold(text: str) -> str:
    # Operators type "Crédito", "credito " or "CRÉDITO" for the same creditor or category.
    bare = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return " ".join(bare.casefold().split())


R = TypeVar("R", bound=RulerDefinition)


def ruler_for(
    rulers: Sequence[tuple[str, R]], creditor: str, category: str | None
) -> tuple[str, R] | None:
    """The active ruler for a creditor and category, or None when no ruler covers them.

    An empty creditor or category list covers every value (and a missing category); a listed
    one must contain the value. The most specific ruler wins (creditor and category listed,
    then creditor, then category, then neither), and the lowest id breaks ties so the choice
    does not depend on the order rulers were loaded in.
    """
    wanted_creditor = _fold(creditor)
    wanted_category = _fold(category) if category is not None else None
    best: tuple[int, str] | None = None
    chosen: tuple[str, R] | None = None
    for ruler_id, ruler in rulers:
        if not ruler.active:
            continue
        creditors = {_fold(c) for c in ruler.creditors}
        categories = {_fold(c) for c in ruler.categories}
        if creditors and wanted_creditor not in creditors:
            continue
        if categories and (wanted_category is None or wanted_category not in categories):
            continue
        specificity = 2 * bool(creditors) + bool(categories)
        rank = (-specificity, ruler_id)
        if best is None or rank < best:
            best, chosen = rank, (ruler_id, ruler)
    return chosen
