"""Conversations with debtors (WhatsApp, the web chat): what was said by whom, where the
chatbot is in its flow, and the hand-off to operators. Also the tenant's operator desk (who is
available, who is waiting) and the WhatsApp line of a phone (its open conversation).

Personal data of an identified debtor are kept sealed with the debtor's key (`SealedPersonalData`
dicts, see service_runtime.personal_data): the conversation's `personal` ({"address",
"debtor_name"}) from the moment its document is known, and each line said from then on
({"text"}). Before that there is no debtor to seal them for, and they are kept in clear: the
phone a debtor writes from (`address`, which also names its `ChatLine`) and the lines of the
conversation until the debtor identifies themselves. Events stored before sealing keep their
`debtor_name` and texts in clear."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from eventsourcing.domain import Aggregate, event

from contracts.envelope import COBRANCA_NAMESPACE

# Provider message ids remembered per conversation, to answer a retried webhook once.
REMEMBERED_PROVIDER_IDS = 50


class Conversation(Aggregate):
    @event("Started")
    def __init__(
        self,
        *,
        tenant: str,
        channel: str,
        address: str | None,
        initiated_by: str,
        operator: str | None,
        document: str | None,
        debtor_name: str | None,
        at: dt.datetime,
        personal: dict[str, str] | None = None,
    ) -> None:
        self.tenant = tenant
        self.channel = channel
        # In clear only while the debtor is not known; else inside `personal`.
        self.address = address
        self.initiated_by = initiated_by
        self.operator = operator
        self.document = document
        self.debtor_name = debtor_name  # in clear only in conversations stored before sealing
        self.personal = personal
        self.started_at = at
        self.updated_at = at
        self.status = "initiated_unanswered" if initiated_by == "agency" else "self_service"
        self.stage = "start"
        self.context: dict[str, Any] = {}
        self.invalid_documents = 0
        self.entries: list[dict[str, Any]] = []
        self.provider_ids: list[str] = []
        # The tenant's second factor ("code", "birth_date") a document typed here waits for:
        # until it passes the conversation is not identified and shows nothing of the debtor.
        # (Set by events of their own, so conversations stored before load as they were.)
        self.second_factor_pending: str | None = None
        self.second_factor_passed = False

    def facts(self, **changed: Any) -> dict[str, Any]:
        """The conversation as it stands (with `changed` applied), carried by the events the
        other services see, so each stands on its own; `verified` as `Conversation.verified`
        will say after the event (unless `changed` gives it)."""
        facts = {
            "tenant": self.tenant,
            "channel": self.channel,
            "personal": self.personal,
            "unidentified_address": self.address if self.document is None else None,
            "document": self.document,
            "status": self.status,
            "operator": self.operator,
            "initiated_by": self.initiated_by,
            "started_at": self.started_at,
            "messages": len(self.entries),
            **changed,
        }
        # Whether whoever writes is the debtor, as it will stand (an explicit one wins).
        verified = verified_of(
            facts["document"], self.second_factor_pending, self.second_factor_passed
        )
        return {"verified": verified, **facts}

    @property
    def closed(self) -> bool:
        return self.status == "closed"

    def seen(self, provider_message_id: str | None) -> bool:
        return provider_message_id is not None and provider_message_id in self.provider_ids

    # ---- what is said ----------------------------------------------------------------------

    def debtor_wrote(
        self,
        *,
        text: str | None,
        personal: dict[str, str] | None,
        at: dt.datetime,
        provider_message_id: str | None,
    ) -> None:
        """The debtor's line: in clear (`text`) before the debtor is known, else sealed
        (`personal`, {"text"})."""
        if self.status == "initiated_unanswered":
            # The debtor answered us: the operator who wrote first takes it.
            status = "with_operator" if self.operator else "self_service"
            self._answered(
                facts=self.facts(status=status, messages=len(self.entries) + 1),
                text=text,
                at=at,
                provider_message_id=provider_message_id,
                personal=personal,
            )
        else:
            self._debtor_wrote(
                text=text, at=at, provider_message_id=provider_message_id, personal=personal
            )

    @event("DebtorWrote")
    def _debtor_wrote(
        self,
        *,
        text: str | None,
        at: dt.datetime,
        provider_message_id: str | None,
        personal: dict[str, str] | None = None,
    ) -> None:
        self._entry("debtor", None, text, [], at, personal)
        self._remember(provider_message_id)

    @event("Answered")
    def _answered(
        self,
        *,
        facts: dict[str, Any],
        text: str | None,
        at: dt.datetime,
        provider_message_id: str | None,
        personal: dict[str, str] | None = None,
    ) -> None:
        self.status = facts["status"]
        self._entry("debtor", None, text, [], at, personal)
        self._remember(provider_message_id)

    @event("Replied")
    def reply(
        self,
        *,
        sender: str,
        operator: str | None,
        text: str | None,
        links: list[dict[str, str]],
        at: dt.datetime,
        personal: dict[str, str] | None = None,
    ) -> None:
        """A line of the bot, an operator or the system: sealed like the debtor's."""
        self._entry(sender, operator, text, links, at, personal)

    def _entry(
        self,
        sender: str,
        operator: str | None,
        text: str | None,
        links: list[dict[str, str]],
        at: dt.datetime,
        personal: dict[str, str] | None,
    ) -> None:
        entry = {
            "at": at,
            "sender": sender,
            "operator": operator,
            "text": text,
            "links": links,
            "personal": personal,
        }
        self.entries = [*self.entries, entry]
        self.updated_at = at

    def _remember(self, provider_message_id: str | None) -> None:
        if provider_message_id:
            self.provider_ids = [*self.provider_ids, provider_message_id][-REMEMBERED_PROVIDER_IDS:]

    # ---- the chatbot's place in its flow -----------------------------------------------------

    @event("Moved")
    def move(self, *, stage: str, context: dict[str, Any], invalid_documents: int) -> None:
        self.stage = stage
        self.context = context
        self.invalid_documents = invalid_documents

    def identify(self, *, document: str, personal: dict[str, str], at: dt.datetime) -> None:
        """The debtor said who they are: `personal` is {"address", "debtor_name"} sealed with
        their key."""
        self._identified(
            facts=self.facts(document=document, personal=personal, unidentified_address=None),
            document=document,
            debtor_name=None,
            at=at,
            personal=personal,
        )

    @event("Identified")
    def _identified(
        self,
        *,
        facts: dict[str, Any],
        document: str,
        debtor_name: str | None,
        at: dt.datetime,
        personal: dict[str, str] | None = None,
    ) -> None:
        self.document = document
        self.debtor_name = debtor_name
        self.personal = personal
        self.updated_at = at

    # ---- the tenant's second factor ----------------------------------------------------------

    @property
    def verified(self) -> bool | None:
        """Whether whoever writes proved to be the document's holder: True once identified
        (after the tenant's second factor, when it asks one; a conversation we start goes to
        the phone on file), False while a second factor is pending or failed, None before any
        document."""
        return verified_of(self.document, self.second_factor_pending, self.second_factor_passed)

    def second_factor_asked(self, *, method: str, at: dt.datetime) -> None:
        self._second_factor_asked(
            facts=self.facts(verified=verified_of(self.document, method, False)),
            method=method,
            at=at,
        )

    # `facts` (the conversation as it stands, for the other services) only in events stored
    # since the second factor's changes are published: older ones load without it.
    @event("SecondFactorAsked")
    def _second_factor_asked(
        self, *, method: str, at: dt.datetime, facts: dict[str, Any] | None = None
    ) -> None:
        self.second_factor_pending = method
        self.second_factor_passed = False
        self.updated_at = at

    def second_factor_passed_at(self, *, method: str, at: dt.datetime) -> None:
        self._second_factor_passed(
            facts=self.facts(verified=verified_of(self.document, None, True)),
            method=method,
            at=at,
        )

    @event("SecondFactorPassed")
    def _second_factor_passed(
        self, *, method: str, at: dt.datetime, facts: dict[str, Any] | None = None
    ) -> None:
        self.second_factor_pending = None
        self.second_factor_passed = True
        self.updated_at = at

    # ---- operators -------------------------------------------------------------------------

    def wait_for_operator(self, *, at: dt.datetime) -> None:
        self._waiting(facts=self.facts(status="waiting_operator", operator=None), at=at)

    @event("WaitingForOperator")
    def _waiting(self, *, facts: dict[str, Any], at: dt.datetime) -> None:
        self.status = "waiting_operator"
        self.operator = None
        self.updated_at = at

    def assign(self, *, operator: str, at: dt.datetime) -> None:
        self._assigned(facts=self.facts(status="with_operator", operator=operator), at=at)

    @event("Assigned")
    def _assigned(self, *, facts: dict[str, Any], at: dt.datetime) -> None:
        self.status = "with_operator"
        self.operator = facts["operator"]
        self.updated_at = at

    def transfer(self, *, to_operator: str, by: str, at: dt.datetime) -> None:
        self._transferred(
            facts=self.facts(status="with_operator", operator=to_operator),
            previous_operator=self.operator,
            by=by,
            at=at,
        )

    @event("Transferred")
    def _transferred(
        self, *, facts: dict[str, Any], previous_operator: str | None, by: str, at: dt.datetime
    ) -> None:
        self.status = "with_operator"
        self.operator = facts["operator"]
        self.updated_at = at

    def close(self, *, by: str, reason: str, at: dt.datetime) -> None:
        if not self.closed:
            self._closed(facts=self.facts(status="closed"), by=by, reason=reason, at=at)

    @event("Closed")
    def _closed(self, *, facts: dict[str, Any], by: str, reason: str, at: dt.datetime) -> None:
        self.status = "closed"
        self.updated_at = at


def verified_of(
    document: str | None, second_factor_pending: str | None, second_factor_passed: bool
) -> bool | None:
    """Whether whoever writes in a conversation proved to be the document's holder (see
    `Conversation.verified`)."""
    if second_factor_pending is not None:
        return False
    if document is not None or second_factor_passed:
        return True
    return None


def chat_line_id(tenant: str, channel: str, address: str) -> uuid.UUID:
    return uuid.uuid5(COBRANCA_NAMESPACE, f"chat-line|{tenant}|{channel}|{address}")


class ChatLine(Aggregate):
    """A phone's WhatsApp line: its open conversation, so each new message finds it."""

    @staticmethod
    def create_id(tenant: str, channel: str, address: str, **_: Any) -> uuid.UUID:
        return chat_line_id(tenant, channel, address)

    @event("Opened")
    def __init__(self, *, tenant: str, channel: str, address: str) -> None:
        self.tenant, self.channel, self.address = tenant, channel, address
        self.conversation_id: str | None = None
        self.conversations = 0

    @event("ConversationStarted")
    def started(self, *, conversation_id: str) -> None:
        self.conversation_id = conversation_id
        self.conversations += 1


def operator_desk_id(tenant: str) -> uuid.UUID:
    return uuid.uuid5(COBRANCA_NAMESPACE, f"operator-desk|{tenant}")


class OperatorDesk(Aggregate):
    """The tenant's operators on the chat: who is available, who has which conversations,
    and the conversations waiting for one (oldest first). `operators` are the tenant's
    operators the desk knows: everyone who ever marked themselves available or not (tokens
    are signed, not listed anywhere: coming to the desk is how an operator becomes known).
    `display_names`: the name each operator gave to be read by debtors ("Ana"), if any; the
    login is never said to a debtor."""

    @staticmethod
    def create_id(tenant: str, **_: Any) -> uuid.UUID:
        return operator_desk_id(tenant)

    @event("Opened")
    def __init__(self, *, tenant: str) -> None:
        self.tenant = tenant
        self.available: list[str] = []
        self.assigned: dict[str, list[str]] = {}
        self.waiting: list[str] = []
        self.operators: list[str] = []
        # Desks opened before display names existed replay this too: none named.
        self.display_names: dict[str, str] = {}

    def knows(self, operator: str) -> bool:
        return operator in self.operators

    def display_name_of(self, operator: str) -> str | None:
        return self.display_names.get(operator)

    def conversations_of(self, operator: str) -> list[str]:
        return list(self.assigned.get(operator, []))

    def pick(self, max_per_operator: int) -> str | None:
        """The available operator with the fewest conversations (by name on a tie), if any
        has room for one more."""
        free = [op for op in self.available if len(self.assigned.get(op, [])) < max_per_operator]
        if not free:
            return None
        return min(free, key=lambda op: (len(self.assigned.get(op, [])), op))

    @event("AvailabilityChanged")
    def set_available(self, *, operator: str, available: bool, at: dt.datetime) -> None:
        others = [op for op in self.available if op != operator]
        self.available = [*others, operator] if available else others
        if operator not in self.operators:
            self.operators = [*self.operators, operator]

    @event("DisplayNameSet")
    def set_display_name(self, *, operator: str, display_name: str) -> None:
        self.display_names = {**self.display_names, operator: display_name}
        if operator not in self.operators:
            self.operators = [*self.operators, operator]

    @event("DisplayNameCleared")
    def clear_display_name(self, *, operator: str) -> None:
        self.display_names = {k: v for k, v in self.display_names.items() if k != operator}

    @event("ConversationWaiting")
    def enqueue(self, *, conversation_id: str) -> None:
        self._release(conversation_id)
        if conversation_id not in self.waiting:
            self.waiting = [*self.waiting, conversation_id]

    @event("ConversationAssigned")
    def assign(self, *, conversation_id: str, operator: str) -> None:
        self._release(conversation_id)
        self.waiting = [c for c in self.waiting if c != conversation_id]
        self.assigned = {
            **self.assigned,
            operator: [*self.assigned.get(operator, []), conversation_id],
        }

    @event("ConversationReleased")
    def release(self, *, conversation_id: str) -> None:
        self._release(conversation_id)
        self.waiting = [c for c in self.waiting if c != conversation_id]

    def _release(self, conversation_id: str) -> None:
        self.assigned = {
            op: [c for c in convs if c != conversation_id]
            for op, convs in self.assigned.items()
            if [c for c in convs if c != conversation_id]
        }
