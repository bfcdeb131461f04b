"""A receivable in the collection ruler: an imported debt or an agreement's installment.

It remembers the stage it reached (stages never go back while it stays unpaid), which
pre-due reminders went out, when its collection's first message was asked (the notice a
listing at the credit bureau waits for), whether a listing waits or is done, and when it
left (its listing removed, and the debtor told so). A debt that comes back to collection (its
agreement broke) starts a new cycle, whose actions have keys of their own and which is
noticed again before being listed."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from eventsourcing.domain import Aggregate, event

from contracts.envelope import COBRANCA_NAMESPACE


def receivable_aggregate_id(tenant: str, receivable_id: str) -> uuid.UUID:
    return uuid.uuid5(COBRANCA_NAMESPACE, f"receivable|{tenant}|{receivable_id}")


class Receivable(Aggregate):
    @staticmethod
    def create_id(tenant: str, receivable_id: str, **_: Any) -> uuid.UUID:
        return receivable_aggregate_id(tenant, receivable_id)

    @event("Tracked")
    def __init__(self, *, tenant: str, receivable_id: str, kind: str, document: str) -> None:
        self.tenant = tenant
        self.receivable_id = receivable_id
        self.kind = kind
        self.document = document
        self.stage = "current"
        self.cycle = 1
        self.reminded: list[int] = []
        self.listed_key: str | None = None
        self.left_reason: str | None = None
        # The cycle's first message of its collection (a stage's, or the listing notice).
        self.notified_on: dt.date | None = None
        # The keys of the cycle's collection messages (its stages' and its listing notice's):
        # the listing waits until one of those that tell of the listing was sent
        # (`stages.listing_notices`, and what messaging says of them).
        self.notice_keys: list[str] = []
        # The day its listing was held because none of them could be sent, if so.
        self.listing_held_on: dt.date | None = None
        # The cycle's round of its listing notice: a hold resumed asks it again (round 2...).
        self.notice_round = 1
        # The credit bureau action's key of a listing that waits for the notice's days.
        self.listing_key: str | None = None
        # What its listing said (amount, due date): its exclusion says the same, whatever it
        # owes when it leaves (the bureau matches an exclusion with the inclusion it removes).
        self.listed_amount_cents: int | None = None
        self.listed_due_date: dt.date | None = None

    @property
    def key_id(self) -> str:
        """The id action keys use: a new cycle's actions are new actions."""
        return self.receivable_id if self.cycle == 1 else f"{self.receivable_id}#{self.cycle}"

    @property
    def open(self) -> bool:
        return self.left_reason is None

    @event("StageAdvanced")
    def advance(
        self,
        *,
        facts: dict[str, Any],
        ruler_id: str,
        from_stage: str,
        to_stage: str,
        days_overdue: int,
        on: dt.date,
        actions: list[dict[str, Any]],
        names_contract: bool,
    ) -> None:
        """`facts`: tenant, document, creditor, contract, amount, due date... so the event
        stands on its own (the messages it asks for are built from it). Never personal data:
        events are kept for good (older events may still hold a `debtor_name`, read by
        nothing). `names_contract`: published as StageAdvanced v2, naming the contract (False
        only for the events stored before it, published as version 1 as they were).

        A stage's message is a notice of the debt in collection; a stage's credit bureau
        action is a listing, done when the notice is old enough (see `Negativated`)."""
        self.stage = to_stage
        messages = [a["key"] for a in actions if a["kind"] == "message"]
        if self.notified_on is None and messages:
            self.notified_on = on
        self.notice_keys = [*self.notice_keys, *messages]
        bureau = next((a["key"] for a in actions if a["kind"] == "credit_bureau"), None)
        if bureau is not None and self.listed_key is None:
            self.listing_key = bureau

    @event("ListingNoticeAsked")
    def ask_listing_notice(
        self,
        *,
        facts: dict[str, Any],
        ruler_id: str,
        on: dt.date,
        listing_from: dt.date,
        actions: list[dict[str, Any]],
    ) -> None:
        """The notice before a listing, for a receivable that reached the credit bureau stage
        without one (`stages.listing_notices`): `actions` are its messages, `listing_from` the
        earliest day it may be listed (as the ruler said then: the listing waits until the
        notice is sent, and then its notice days from the day it was sent)."""
        self.notified_on = on
        self.notice_keys = [*self.notice_keys, *(a["key"] for a in actions)]

    @event("ListingHeld")
    def hold_listing(
        self,
        *,
        facts: dict[str, Any],
        ruler_id: str,
        on: dt.date,
        keys: list[str],
        reasons: list[str],
    ) -> None:
        """Negativação suspensa: none of the cycle's notices (`keys`) could be sent (no
        contact, opted out, refused, retries exhausted...; `reasons` as messaging said them,
        pt-BR), so the debt is not listed (CDC art. 43 §2) and the agency is told. Once per
        cycle."""
        self.listing_held_on = on

    @event("ListingNoticeRenewed")
    def renew_notice(self, *, facts: dict[str, Any], ruler_id: str, on: dt.date) -> None:
        """A held listing resumes: a re-import brought the debtor's contact (phone or e-mail),
        so the notice is asked again, a new round with keys of its own, and the listing waits
        for it as for the first (QA pass 9, D7). The earlier round's notices no longer count."""
        self.listing_held_on = None
        self.notice_keys = []
        self.notice_round = getattr(self, "notice_round", 1) + 1

    @event("Reminded")
    def remind(
        self,
        *,
        facts: dict[str, Any],
        ruler_id: str,
        days_before: int,
        on: dt.date,
        actions: list[dict[str, Any]],
    ) -> None:
        self.reminded = [*self.reminded, days_before]

    @event("Negativated")
    def negativate(
        self, *, facts: dict[str, Any], bureau: str, record_key: str, on: dt.date
    ) -> None:
        self.listed_key = record_key
        self.listing_key = None
        self.listed_amount_cents = int(facts["amount_cents"])
        due = facts["due_date"]
        self.listed_due_date = due if isinstance(due, dt.date) else dt.date.fromisoformat(due)

    def leave(
        self,
        *,
        facts: dict[str, Any],
        reason: str,
        on: dt.date,
        actions: list[dict[str, Any]],
        bureau: str,
        message_facts: dict[str, Any] | None = None,
        removal_actions: list[dict[str, Any]] | None = None,
        removal_facts: dict[str, Any] | None = None,
    ) -> str | None:
        """Leave the ruler; returns the bureau record key to remove, if it was listed.

        `message_facts`: what the finalization messages say when they speak for several
        receivables leaving together (one message for the installments of one contract
        renegotiated at once); None, the receivable's own `facts`. `removal_actions`: the
        messages telling the debtor the listing was removed, asked only if it was listed
        (`ListingRemovalNoticeAsked`, after `Left`); `removal_facts` what they say when they
        speak for several listings removed together (None: its own `facts`)."""
        listed = self.listed_key
        if listed is not None:
            self._negativation_removed(
                facts=facts, bureau=bureau, record_key=listed, reason=reason, on=on
            )
        self._left(
            facts=facts,
            reason=reason,
            on=on,
            last_stage=self.stage,
            actions=actions,
            message_facts=message_facts,
        )
        if listed is not None and removal_actions:
            self._ask_removal_notice(
                facts=facts,
                reason=reason,
                on=on,
                actions=removal_actions,
                message_facts=removal_facts,
            )
        return listed

    @event("ListingRemovalNoticeAsked")
    def _ask_removal_notice(
        self,
        *,
        facts: dict[str, Any],
        reason: str,
        on: dt.date,
        actions: list[dict[str, Any]],
        message_facts: dict[str, Any] | None,
    ) -> None:
        """The messages telling the debtor that the listing at the credit bureau was removed
        on `on`, as the receivable left for `reason` (`message_facts`: a group's, or None)."""

    @event("NegativationRemoved")
    def _negativation_removed(
        self, *, facts: dict[str, Any], bureau: str, record_key: str, reason: str, on: dt.date
    ) -> None:
        self.listed_key = None

    @event("Left")
    def _left(
        self,
        *,
        facts: dict[str, Any],
        reason: str,
        on: dt.date,
        last_stage: str,
        actions: list[dict[str, Any]],
        message_facts: dict[str, Any] | None = None,
    ) -> None:
        self.left_reason = reason
        self.listing_key = None

    @event("Reentered")
    def reenter(self, *, on: dt.date) -> None:
        """Back to collection (its agreement broke): a new cycle from the start."""
        self.left_reason = None
        self.stage = "current"
        self.reminded = []
        self.cycle += 1
        self.notified_on = None
        self.notice_keys = []
        self.listing_held_on = None
        self.notice_round = 1
        self.listing_key = None


def call_aggregate_id(tenant: str, call_id: str) -> uuid.UUID:
    return uuid.uuid5(COBRANCA_NAMESPACE, f"call|{tenant}|{call_id}")


class Call(Aggregate):
    """A call an operator made in a campaign, with its result."""

    @staticmethod
    def create_id(tenant: str, call_id: str, **_: Any) -> uuid.UUID:
        return call_aggregate_id(tenant, call_id)

    @event("Recorded")
    def __init__(
        self,
        *,
        tenant: str,
        call_id: str,
        campaign_id: str,
        document: str,
        operator: str,
        result: dict[str, Any],
        note: str,
        reschedule_at: dt.datetime | None,
        recorded_at: dt.datetime,
    ) -> None:
        self.tenant = tenant
        self.call_id = call_id
        self.campaign_id = campaign_id
        self.document = document
        self.operator = operator
        self.result = result
        self.note = note
        self.reschedule_at = reschedule_at
        self.recorded_at = recorded_at


# ---- Left events stored before receivables leaving together got one message ---------------------
# Version 2 of Left carries `message_facts` (the facts its messages say, for a group). Read back,
# version 1 has none (None): its messages say its own facts, as they did.


def _left_upcast_v1_v2(state: dict[str, Any]) -> None:
    state.setdefault("message_facts", None)


_left_event: Any = Receivable.Left  # type: ignore[attr-defined]
_left_event.class_version = 2
_left_event.upcast_v1_v2 = staticmethod(_left_upcast_v1_v2)


# ---- StageAdvanced events stored before the integration event named the contract ------------
# Version 2 carries `names_contract` (True): published as StageAdvanced v2. Read back, version 1
# is published as version 1, as it was.


def _advanced_upcast_v1_v2(state: dict[str, Any]) -> None:
    state.setdefault("names_contract", False)


_advanced_event: Any = Receivable.StageAdvanced  # type: ignore[attr-defined]
_advanced_event.class_version = 2
_advanced_event.upcast_v1_v2 = staticmethod(_advanced_upcast_v1_v2)
