"""The portal's second factor: before a debtor sees values, something only the debtor should
know. The tenant chooses it:

- a one-time code sent to the phone or e-mail the carteira brought: one `PortalChallenge` per
  code sent; it expires, allows a few tries, and opens once;
- the date of birth the carteira brought (a company's opening date, for a CNPJ): a guessable
  secret, unlike a fresh code, so one `PortalChallenge` per document and business day, with a
  deterministic id: looking the document up again gives no fresh tries. A few wrong dates lock
  the document until the next business day; the right one opens the view and leaves the
  challenge as it was (the debtor may come back the same day). The date itself is never in
  the store: only its keyed digest is kept, in the portal view, which an erasure clears.

Until then the debtor's name shows masked."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
import uuid
from collections.abc import Collection
from typing import Any, Literal

from eventsourcing.domain import Aggregate, event

from contracts.envelope import COBRANCA_NAMESPACE
from service_runtime.clock import BUSINESS_TZ
from service_runtime.personal_data import REMOVED

CODE_TTL = dt.timedelta(minutes=10)
MAX_ATTEMPTS = 5
# What a challenge asks for (`method`), and where a date challenge says the answer is.
CODE = "code"
BIRTH_DATE = "birth_date"

Outcome = Literal["verified", "mismatch", "expired", "exhausted", "used"]


def new_code() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"


def code_digest(key: str, salt: str, code: str) -> str:
    """Only a keyed, salted digest of the code is kept (the store never holds the code)."""
    return hmac.new(key.encode(), f"{salt}|{code}".encode(), hashlib.sha256).hexdigest()


def birth_date_digest(key: str, tenant: str, document: str, birth_date: dt.date) -> str:
    """The digest the portal view keeps of a debtor's date of birth (never the date): the
    code's construction, keyed with the gateway's signing key and salted with the debtor, so
    the same date of two debtors gives two digests."""
    return code_digest(key, f"{tenant}|{document}", birth_date.isoformat())


def mask_name(name: str | None) -> str | None:
    """'João da Silva' -> 'J*** d*** S***': enough to recognise oneself, not to learn a name.
    An erased name stays REMOVED (no letter of it is left to show)."""
    if not name:
        return None
    if name == REMOVED:
        return REMOVED
    return " ".join(f"{word[0]}***" for word in name.split())


class InvalidBirthDate(ValueError):
    """A date as the debtor typed it that cannot be anyone's date of birth: `rule` (required,
    format, not_in_future, too_old) and the pt-BR `message`. Typing it uses no try."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message


_DAY_FIRST = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})", re.ASCII)
_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})", re.ASCII)
_DIGITS = re.compile(r"(\d{2})(\d{2})(\d{4})", re.ASCII)


def parse_birth_date(text: str, today: dt.date, label: str = "data de nascimento") -> dt.date:
    """The date a debtor typed: dd/mm/aaaa (also with - or .), ddmmaaaa (a phone's keypad
    without the mask) or ISO aaaa-mm-dd (the JSON API). Not after `today`, not before 1900, as
    the carteira's dates. `label` names it in the messages ("data de abertura", a CNPJ's)."""
    typed = text.strip()
    if not typed:
        raise InvalidBirthDate("required", f"informe a {label} (dd/mm/aaaa)")
    if m := _DAY_FIRST.fullmatch(typed) or _DIGITS.fullmatch(typed):
        day, month, year = (int(g) for g in m.groups())
    elif m := _ISO.fullmatch(typed):
        year, month, day = (int(g) for g in m.groups())
    else:
        raise InvalidBirthDate("format", "data inválida: use dd/mm/aaaa, como em 17/05/1980")
    try:
        parsed = dt.date(year, month, day)
    except ValueError:
        raise InvalidBirthDate("format", "esta data não existe no calendário") from None
    if parsed > today:
        raise InvalidBirthDate("not_in_future", "a data informada está no futuro")
    if parsed.year < 1900:
        raise InvalidBirthDate("too_old", "a data informada é anterior a 1900: confira o ano")
    return parsed


def birth_date_challenge_id(tenant: str, document: str, day: dt.date) -> uuid.UUID:
    """The one date challenge of a document on a business day."""
    return uuid.uuid5(COBRANCA_NAMESPACE, f"portal-birth-date|{tenant}|{document}|{day}")


def end_of_business_day(day: dt.date) -> dt.datetime:
    """When a date challenge's tries come back: the next day's start, in the business time
    zone (as UTC)."""
    midnight = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=BUSINESS_TZ)
    return midnight.astimezone(dt.UTC)


class PortalChallenge(Aggregate):
    @staticmethod
    def create_id(
        *, tenant: str, document: str, method: str, day: dt.date | None, **_: Any
    ) -> uuid.UUID:
        # A code's challenge is new each time; a date's is the document's for the day.
        if method == BIRTH_DATE and day is not None:
            return birth_date_challenge_id(tenant, document, day)
        return uuid.uuid4()

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
        method: str,
        day: dt.date | None,
    ) -> None:
        self.tenant, self.document = tenant, document
        self.salt, self.digest = salt, digest
        self.channel, self.destination = channel, destination
        self.expires_at = expires_at
        # "code": `digest` is the code's; "birth_date": the business `day` it is for, and no
        # digest (the date's lives in the portal view, where an erasure reaches it).
        self.method = method
        self.day = day
        self.attempts = 0
        self.verified = False

    @property
    def attempts_left(self) -> int:
        return max(0, MAX_ATTEMPTS - self.attempts)

    @property
    def locked(self) -> bool:
        return self.attempts >= MAX_ATTEMPTS

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

    def check_birth_date(
        self,
        *,
        key: str,
        birth_date: dt.date,
        known: Collection[str],
        today: dt.date,
        now: dt.datetime,
    ) -> Outcome:
        """The date typed, against the digests of the dates the carteiras brought (`known`,
        from the portal view). A wrong one uses up a try (recorded); the right one records
        nothing, so the debtor may open the view again today ("used" never comes)."""
        if self.day != today:
            return "expired"
        if self.locked:
            return "exhausted"
        typed = birth_date_digest(key, self.tenant, self.document, birth_date)
        # Every digest compared, in constant time each: no early exit tells which matched.
        matched = False
        for digest in known:
            matched |= hmac.compare_digest(typed, digest)
        if matched:
            return "verified"
        self._missed(at=now)
        return "mismatch" if self.attempts < MAX_ATTEMPTS else "exhausted"

    @event("Verified")
    def _verified(self, *, at: dt.datetime) -> None:
        self.verified = True

    @event("Missed")
    def _missed(self, *, at: dt.datetime) -> None:
        self.attempts += 1


def _issued_before_dates(state: dict[str, Any]) -> None:
    """Challenges issued before the date of birth was offered were all codes."""
    state.setdefault("method", CODE)
    state.setdefault("day", None)


_issued: Any = PortalChallenge.Issued  # type: ignore[attr-defined]
_issued.class_version = 2
_issued.upcast_v1_v2 = staticmethod(_issued_before_dates)


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
        method=CODE,
        day=None,
    )


def issue_birth_date(*, tenant: str, document: str, today: dt.date) -> PortalChallenge:
    """The document's date challenge for the business day `today` (its id is
    `birth_date_challenge_id`): nothing of the date in it, only the day."""
    return PortalChallenge(
        tenant=tenant,
        document=document,
        salt="",
        digest="",
        channel=BIRTH_DATE,
        destination="",
        expires_at=end_of_business_day(today),
        method=BIRTH_DATE,
        day=today,
    )
