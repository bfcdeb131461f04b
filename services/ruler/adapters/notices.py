"""What became of the ruler's collection messages, as the messaging service says it on
`messaging.messages`: sent (`MessageSent`, the business date it went out) or not sent
(`MessageFailed`, with its rule and reason). The listing at the credit bureau waits for them
(CDC art. 43 §2: the debtor is told before being listed): a receivable is listed only once a
message of its collection was actually sent, at least the ruler's notice days before, and its
listing is held when none of them could be sent.

Kept per message key (`ruler_notice_outcomes`), the keys of the ruler's overdue stages and of
its listing notices only (`tenant|receivable|stage|index|message:...`): pre-due reminders,
finalizations and removals never count as a notice. A message has one outcome; read again, or
late, nothing changes (a sent message is never made failed again)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from sqlalchemy import (
    Column,
    Connection,
    Date,
    Engine,
    MetaData,
    String,
    Table,
    Text,
    and_,
    or_,
    select,
    update,
)
from sqlalchemy.sql.elements import ColumnElement

from contracts.envelope import Envelope
from contracts.messaging import MessageFailed, MessageSent, MessageSentV2
from contracts.ruler import OVERDUE_STAGES
from service_runtime.clock import BUSINESS_TZ
from services.ruler.domain.stages import NoticeOutcome

metadata = MetaData()
notice_outcomes = Table(
    "ruler_notice_outcomes",
    metadata,
    Column("tenant", String(100), primary_key=True),
    Column("key", String(500), primary_key=True),
    Column("outcome", String(10), nullable=False),  # sent | failed
    # The business date it was sent, or failed (America/Sao_Paulo).
    Column("on", Date, nullable=False),
    Column("rule", String(40), nullable=True),
    Column("reason", Text, nullable=True),
)

# The parts of a key that may be a listing's notice: an overdue stage's message, or the notice
# the ruler asks of a receivable reaching the bureau stage without any.
NOTICE_STAGES = frozenset((*OVERDUE_STAGES, "listing_notice"))


def notice_key(key: str) -> bool:
    """Whether a message key is one of the ruler's overdue stages or listing notices."""
    parts = key.split("|")
    return len(parts) == 5 and parts[2] in NOTICE_STAGES and parts[4].startswith("message:")


def business_date(at: dt.datetime) -> dt.date:
    """The business date of a messaging timestamp (its clock's date in America/Sao_Paulo)."""
    return at.astimezone(BUSINESS_TZ).date()


def outcome_of(event: Envelope) -> tuple[str, NoticeOutcome] | None:
    """The outcome an event of `messaging.messages` says of a notice's key, with its tenant;
    None for any other event or key."""
    if isinstance(event, MessageSent | MessageSentV2) and notice_key(event.key):
        return event.tenant, NoticeOutcome(event.key, "sent", business_date(event.sent_at))
    if isinstance(event, MessageFailed) and notice_key(event.key):
        return event.tenant, NoticeOutcome(
            event.key, "failed", business_date(event.failed_at), event.rule, event.reason
        )
    return None


class NoticeOutcomes:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        metadata.create_all(engine)

    def record(self, conn: Connection, events: Iterable[Envelope]) -> int:
        """Keep the outcomes the events say; returns how many were new (or a failure made
        sent). Idempotent: the first outcome of a key stays, except that sent wins."""
        found: dict[tuple[str, str], NoticeOutcome] = {}
        for event in events:
            said = outcome_of(event)
            if said is None:
                continue
            tenant, outcome = said
            before = found.get((tenant, outcome.key))
            if before is None or (before.outcome == "failed" and outcome.outcome == "sent"):
                found[(tenant, outcome.key)] = outcome
        if not found:
            return 0
        stored = {
            (row.tenant, row.key): row.outcome
            for row in conn.execute(
                select(
                    notice_outcomes.c.tenant, notice_outcomes.c.key, notice_outcomes.c.outcome
                ).where(or_(*(_is(tenant, key) for tenant, key in found)))
            )
        }
        changed = 0
        for (tenant, key), outcome in found.items():
            before_outcome = stored.get((tenant, key))
            values = {
                "outcome": outcome.outcome,
                "on": outcome.on,
                "rule": outcome.rule,
                "reason": outcome.reason,
            }
            if before_outcome is None:
                conn.execute(notice_outcomes.insert().values(tenant=tenant, key=key, **values))
                changed += 1
            elif before_outcome == "failed" and outcome.outcome == "sent":
                conn.execute(update(notice_outcomes).where(_is(tenant, key)).values(**values))
                changed += 1
        return changed

    def of(self, tenant: str, keys: Sequence[str], today: dt.date) -> list[NoticeOutcome]:
        """The outcomes of the keys known on `today`: those dated after it (a catch-up's
        message sent on a later business day than the run's) are not known yet."""
        if not keys:
            return []
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(notice_outcomes).where(
                    notice_outcomes.c.tenant == tenant,
                    notice_outcomes.c.key.in_(list(keys)),
                    notice_outcomes.c.on <= today,
                )
            ).all()
        return [NoticeOutcome(row.key, row.outcome, row.on, row.rule, row.reason) for row in rows]


def _is(tenant: str, key: str) -> ColumnElement[bool]:
    return and_(notice_outcomes.c.tenant == tenant, notice_outcomes.c.key == key)
