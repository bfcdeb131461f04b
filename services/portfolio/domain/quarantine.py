"""Inbound messages that could not be read at all (not JSON, not the contract). They are kept,
never dropped, so an operator can see and fix them."""

from __future__ import annotations

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
