"""Inbound messages that could not be read at all (not JSON, not the contract). They are kept,
never dropped, so an operator can see and fix them, and mark them resolved once dealt with
(`QuarantinedMessage.resolve`: who, when and why, as an event of their own)."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from typing import Any

from eventsourcing.domain import Aggregate, event

from contracts.envelope import COBRANCA_NAMESPACE


def payload_digest(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


def quarantine_id(topic: str, digest: str) -> uuid.UUID:
    return uuid.uuid5(COBRANCA_NAMESPACE, f"quarantine|{topic}|{digest}")


class QuarantinedMessage(Aggregate):
    @staticmethod
    def create_id(topic: str, digest: str, **_: Any) -> uuid.UUID:
        return quarantine_id(topic, digest)

    @event("Quarantined")
    def __init__(
        self,
        *,
        topic: str,
        partition: int,
        offset: int,
        key: str | None,
        digest: str,
        payload: str,
        reason: str,
        tenant: str | None,
        import_id: str | None,
    ) -> None:
        self.topic = topic
        self.reason = reason
        self.tenant = tenant
        self.import_id = import_id
        # Set by `resolve`: who dealt with the message, when (the business clock's time) and
        # what they did about it. A kept message stays kept: resolving it only says so.
        self.resolved_at: dt.datetime | None = None
        self.resolved_by: str | None = None
        self.resolution_note: str | None = None

    @property
    def resolved(self) -> bool:
        return self.resolved_at is not None

    def resolve(self, *, note: str, resolved_by: str, resolved_at: dt.datetime) -> bool:
        """An operator dealt with the message (asked the sender to send it again, or decided
        to leave it): an audit fact, recorded once. False when it was already resolved (the
        first resolution stands; nothing is recorded). The note is required: it is the why."""
        note = note.strip()
        if not note:
            raise ValueError("a resolution needs a note saying what was done")
        if not resolved_by.strip():
            raise ValueError("a resolution needs who resolved it")
        if self.resolved:
            return False
        self._resolved(note=note, resolved_by=resolved_by.strip(), resolved_at=resolved_at)
        return True

    @event("Resolved")
    def _resolved(self, *, note: str, resolved_by: str, resolved_at: dt.datetime) -> None:
        self.resolved_at = resolved_at
        self.resolved_by = resolved_by
        self.resolution_note = note
