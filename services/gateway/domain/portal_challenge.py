"""The portal's second factor: before a debtor sees values, a one-time code sent to the phone
or e-mail the carteira brought (the tenant chooses it). One `PortalChallenge` per code sent:
it expires, allows a few tries, and opens once. Until then the debtor's name shows masked."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from typing import Literal

from eventsourcing.domain import Aggregate, event

from service_runtime.personal_data import REMOVED

CODE_TTL = dt.timedelta(minutes=10)
MAX_ATTEMPTS = 5

Outcome = Literal["verified", "mismatch", "expired", "exhausted", "used"]


def new_code() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"


def code_digest(key: str, salt: str, code: str) -> str:
    """Only a keyed, salted digest of the code is kept (the store never holds the code)."""
    return hmac.new(key.encode(), f"{salt}|{code}".encode(), hashlib.sha256).hexdigest()


def mask_name(name: str | None) -> str | None:
    """'João da Silva' -> 'J*** d*** S***': enough to recognise oneself, not to learn a name.
    An erased name stays REMOVED (no letter of it is left to show)."""
    if not name:
        return None
    if name == REMOVED:
        return REMOVED
    return " ".join(f"{word[0]}***" for word in name.split())


class PortalChallenge(Aggregate):
    @event("Issued")
    def __init__(
        self,
        *,
        tenant: str,
        document: str,
        salt: str,
        digest: str,
        channel: str,
        destination: str,
        expires_at: dt.datetime,
    ) -> None:
        self.tenant, self.document = tenant, document
        self.salt, self.digest = salt, digest
        self.channel, self.destination = channel, destination
        self.expires_at = expires_at
        self.attempts = 0
        self.verified = False

    @property
    def attempts_left(self) -> int:
        return max(0, MAX_ATTEMPTS - self.attempts)

    def check(self, *, key: str, code: str, now: dt.datetime) -> Outcome:
        """The code typed, judged; a wrong one uses up a try (recorded)."""
        if self.verified:
            return "used"
        if now >= self.expires_at:
            return "expired"
        if self.attempts >= MAX_ATTEMPTS:
            return "exhausted"
        if hmac.compare_digest(code_digest(key, self.salt, code.strip()), self.digest):
            self._verified(at=now)
            return "verified"
        self._missed(at=now)
        return "mismatch" if self.attempts < MAX_ATTEMPTS else "exhausted"

    @event("Verified")
    def _verified(self, *, at: dt.datetime) -> None:
        self.verified = True

    @event("Missed")
    def _missed(self, *, at: dt.datetime) -> None:
        self.attempts += 1


def issue(
    *,
    key: str,
    tenant: str,
    document: str,
    code: str,
    channel: str,
    destination: str,
    now: dt.datetime,
) -> PortalChallenge:
    """A challenge for the code just sent."""
    salt = secrets.token_hex(16)
    return PortalChallenge(
        tenant=tenant,
        document=document,
        salt=salt,
        digest=code_digest(key, salt, code),
        channel=channel,
        destination=destination,
        expires_at=now + CODE_TTL,
    )
