"""What of a channel's settings may leave the messaging service: only fields known not to be
secret, by an allow-list per adapter kind (smtp: host, port, tls, sender, timeout; http: the
url's origin, timeout). Everything else is withheld: the password and username of an SMTP
server, a provider's token, any field named like a credential, any field this module does not
know, and of a url whatever follows its origin (a token may hide in its path or query). A
withheld field is named, never shown; comparing two saves tells which of them changed.

The same rule masks the settings the admin API answers (`masked`): a withheld field reads as
`MASK` (a url as its origin and "/" + `MASK`), and a save that sends it back so keeps what was
stored (`keep_masked`), so neither the published events nor the API ever carry a credential.

Pure rules, no I/O."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from contracts.messaging_requests import SECRET_MASK

PUBLIC_FIELDS: dict[str, frozenset[str]] = {
    "smtp": frozenset({"host", "port", "tls", "sender", "timeout"}),
    "http": frozenset({"url", "timeout"}),
    "outbox": frozenset(),
}
# Never published, whatever the allow-list says (a belt to the braces above).
SECRET_NAME = re.compile(
    r"pass|pwd|token|secret|key|auth|cred|user|login|sid|sign|cert|cookie|session", re.I
)
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_HOST = re.compile(r"^[A-Za-z0-9.-]{1,253}$|^\[[0-9A-Fa-f:.]{2,45}\]$")
MAX_TEXT = 254
# What the admin API answers in place of a withheld value: fixed, so it tells nothing of it.
MASK = SECRET_MASK

Value = str | int | float | bool | None


@dataclass(frozen=True)
class ChannelDisclosure:
    kind: str
    public: dict[str, Value]
    # Withheld values, by field name: compared, never published.
    withheld: dict[str, Any]


def _origin(url: str) -> str | None:
    try:
        parts = urlsplit(url.strip())
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not host or not _HOST.match(host):
        return None
    return f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")


def _public_value(field: str, value: Any) -> tuple[Value, bool] | None:
    """(what may be published, whether that is the whole value), or None: withhold it."""
    if isinstance(value, bool) or value is None:
        return value, True
    if isinstance(value, int | float):
        return value, True
    if not isinstance(value, str) or len(value) > 2000:
        return None
    if field == "url":
        origin = _origin(value)
        return None if origin is None else (origin, origin == value.strip().rstrip("/"))
    if field == "host" and not _HOST.match(value.strip()):
        return None
    if len(value) > MAX_TEXT:
        return None
    return value, True


def safe_name(name: str) -> str:
    """A field's name as it may be shown (a name that is no plain identifier is not)."""
    return name if _NAME.match(name) else "(campo sem nome simples)"


def _kind(config: Mapping[str, Any]) -> str:
    raw_kind = config.get("kind") or ("outbox" if not config else "")
    return raw_kind if isinstance(raw_kind, str) and _NAME.match(raw_kind) else "desconhecido"


def _shown(kind: str, field: str, value: Any) -> tuple[Value, bool] | None:
    """What of one field of a `kind` channel may be shown (and whether that is all of it), or
    None: withheld whole. The one rule both the published events and the API's answer follow."""
    if field in PUBLIC_FIELDS.get(kind, frozenset()) and not SECRET_NAME.search(field):
        return _public_value(field, value)
    return None


def disclose(config: Mapping[str, Any]) -> ChannelDisclosure:
    """A channel's settings split into what may be published and what is withheld."""
    kind = _kind(config)
    public: dict[str, Value] = {}
    withheld: dict[str, Any] = {}
    for field, value in config.items():
        if field == "kind":
            continue
        shown = _shown(kind, field, value)
        if shown is None:
            withheld[safe_name(field)] = value
            continue
        public[field] = shown[0]
        if not shown[1]:
            withheld[field] = value
    return ChannelDisclosure(kind=kind, public=public, withheld=withheld)


def withheld_changes(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> list[str]:
    """Names of the withheld fields `after` set, changed or removed against `before` (a
    channel configured for the first time: every withheld field it has)."""
    old = disclose(before).withheld if before is not None else {}
    new = disclose(after).withheld
    return sorted(name for name in {*old, *new} if old.get(name) != new.get(name))


class MaskedValue(ValueError):
    """A withheld field sent carrying `MASK` where it stands for no stored value."""

    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.field = field


def _masked_value(kind: str, field: str, value: Any) -> Any:
    shown = _shown(kind, field, value)
    if shown is not None and shown[1]:
        return value
    if value is None or value == "":
        return value  # not set: nothing to hide, and the admin sees it is not
    if shown is not None:
        return f"{shown[0]}/{MASK}"  # a url: its origin is public, the rest is not
    return MASK


def masked(config: Mapping[str, Any]) -> dict[str, Any]:
    """A channel's settings as the admin API answers them: every withheld field that is set
    reads `MASK` (a url whose origin alone is public: that origin and "/" + `MASK`), so
    neither a character of it nor its length shows; the public fields read as saved."""
    kind = _kind(config)
    return {
        field: value if field == "kind" else _masked_value(kind, field, value)
        for field, value in config.items()
    }


def keep_masked(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> dict[str, Any]:
    """A channel's settings as an admin saves them (`after`), each field sent back carrying
    `MASK` exactly as `masked(before)` answered it set back to the stored value (`before`), so
    a credential is kept without being typed again. Any other withheld field carrying `MASK`
    raises MaskedValue: there is nothing stored it stands for (a new channel or field, or the
    stored settings did not open), and a credential really holding that text cannot be told
    from the mask, so it is refused rather than saved as a credential."""
    answered = masked(before) if before is not None else {}
    kind = _kind(after)
    kept = dict(after)
    for field, value in after.items():
        if field == "kind" or not isinstance(value, str) or MASK not in value:
            continue
        if before is not None and field in before and answered[field] == value:
            kept[field] = before[field]
            continue
        shown = _shown(kind, field, value)
        if shown is None or not shown[1]:
            raise MaskedValue(field)
    return kept
