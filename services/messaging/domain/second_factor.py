"""The tenant's second factor in the chatbot: the same door as the portal's (the gateway's
portal profile, `second_factor`), so the chat is no way around it. After a valid document the
bot shows nothing of the debtor until one of these passes:

- "code": a one-time 6-digit code sent by SMS or e-mail to the contact the carteira brought
  (never to the WhatsApp number writing, which may be anyone's). The conversation keeps only a
  keyed, salted digest of it; it expires and allows a few tries, and a new one may be asked
  for a few times per conversation.
- "birth_date": the date of birth the carteira brought (a company's opening date, for a CNPJ),
  compared by its keyed digest (the contacts keep the digest, never the date). A date is
  guessable, unlike a fresh code: the wrong ones are counted per document and business day
  across conversations and the portal (`DailyTries`), so a new conversation, or the other
  door, gives no fresh tries. The codes sent are counted the same way: a new conversation
  sends no more of them.

Pure: no I/O; the keys come from the key vault through the caller."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from eventsourcing.domain import Aggregate, event

from contracts.envelope import COBRANCA_NAMESPACE

SECOND_FACTORS = ("none", "code", "birth_date")
CODE_TTL = dt.timedelta(minutes=10)
MAX_ATTEMPTS = 5
# Codes one conversation may have sent: each is an SMS or e-mail to the debtor's contact, and
# whoever writes may ask for them.
MAX_CODES = 3
# The vault's tenant keys (`KeyVault.settings_key`) that key the digests: never a debtor's.
BIRTH_DATE_KEY_PURPOSE = "birth_date_digest"
CHAT_CODE_KEY_PURPOSE = "chat_code_digest"


@dataclass(frozen=True)
class SecondFactor:
    """What a tenant asks before values: "none", "code" (by `code_channels`, in order) or
    "birth_date"."""

    method: str = "none"
    code_channels: tuple[str, ...] = ("sms", "email")


NO_SECOND_FACTOR = SecondFactor()


def new_code() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"


def new_salt() -> str:
    return secrets.token_hex(16)


def code_digest(key: bytes, salt: str, code: str) -> str:
    """HMAC-SHA256 of the code, salted: what the conversation keeps instead of the code."""
    return hmac.new(key, f"{salt}|{code}".encode(), hashlib.sha256).hexdigest()


def birth_date_digest(key: bytes, tenant: str, document: str, day: dt.date) -> str:
    """HMAC-SHA256 of a debtor's date of birth, salted with the debtor: the same date of two
    debtors gives two digests, and the digest alone tells nothing without the tenant's key."""
    return code_digest(key, f"{tenant}|{document}", day.isoformat())


def same_digest(a: str, b: str) -> bool:
    return hmac.compare_digest(a, b)


def typed_code(text: str) -> str | None:
    """The 6 digits of a code as typed ("123456", "123 456", "123-456"); None for anything
    else (which uses no try)."""
    digits = re.sub(r"[\s.\-]", "", text.strip())
    return digits if re.fullmatch(r"\d{6}", digits, re.ASCII) else None


class InvalidDate(ValueError):
    """What was typed is no date (pt-BR message); typing it uses no try."""


_DAY_FIRST = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})", re.ASCII)
_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})", re.ASCII)
_DIGITS = re.compile(r"(\d{2})(\d{2})(\d{4})", re.ASCII)


def parse_date(text: str, today: dt.date) -> dt.date:
    """The date typed: dd/mm/aaaa (also with - or .), ddmmaaaa (a phone's keypad) or ISO
    aaaa-mm-dd. Not after `today`, not before 1900, as the carteira's dates."""
    typed = text.strip()
    if m := _DAY_FIRST.fullmatch(typed) or _DIGITS.fullmatch(typed):
        day, month, year = (int(g) for g in m.groups())
    elif m := _ISO.fullmatch(typed):
        year, month, day = (int(g) for g in m.groups())
    else:
        raise InvalidDate("não entendi a data: use dd/mm/aaaa, como em 17/05/1980")
    try:
        parsed = dt.date(year, month, day)
    except ValueError:
        raise InvalidDate("essa data não existe no calendário") from None
    if parsed > today:
        raise InvalidDate("a data informada está no futuro")
    if parsed.year < 1900:
        raise InvalidDate("a data informada é anterior a 1900: confira o ano")
    return parsed


# What a document may use up in a business day, in any conversation or on the portal: wrong
# dates of birth (a date is guessable: neither a new conversation nor the other door gives
# fresh tries), and codes sent, the portal's and the chat's together (each is an SMS or
# e-mail to the debtor, and anyone may open the portal or a web chat with their CPF).
DAILY_LIMITS = {"birth_date": MAX_ATTEMPTS, "code": 5}
# What a try of the portal's is `used` by (a conversation's is its id).
PORTAL_PREFIX = "portal:"


def daily_tries_id(kind: str, tenant: str, document: str, day: dt.date) -> uuid.UUID:
    """The one count of `kind` of a document on a business day."""
    return uuid.uuid5(COBRANCA_NAMESPACE, f"chat-{kind}|{tenant}|{document}|{day}")


class DailyTries(Aggregate):
    """What a document used up on a business day in any conversation: wrong dates of birth
    (`kind` "birth_date": the right date records nothing, the debtor may come back the same
    day) or codes sent ("code"). At the kind's limit the document is locked until the next
    day. Nothing of what was typed or sent is kept."""

    @staticmethod
    def create_id(kind: str, tenant: str, document: str, day: dt.date, **_: Any) -> uuid.UUID:
        return daily_tries_id(kind, tenant, document, day)

    @event("Started")
    def __init__(self, *, kind: str, tenant: str, document: str, day: dt.date) -> None:
        self.kind, self.tenant, self.document, self.day = kind, tenant, document, day
        self.attempts = 0
        # The portal's tries counted here (`by`): a request delivered twice counts once.
        self.portal_tries: set[str] = set()

    @property
    def limit(self) -> int:
        return DAILY_LIMITS[self.kind]

    @property
    def locked(self) -> bool:
        return self.attempts >= self.limit

    @property
    def left(self) -> int:
        return max(0, self.limit - self.attempts)

    @event("Used")
    def used(self, *, by: str, at: dt.datetime) -> None:
        """One more used, `by` a conversation (its id) or the portal (`portal:` and the
        challenge, or the wrong date's try)."""
        self.attempts += 1
        if by.startswith(PORTAL_PREFIX):
            self.portal_tries.add(by)

    def counted(self, by: str) -> bool:
        """Whether the portal's try `by` is counted already."""
        return by in self.portal_tries
