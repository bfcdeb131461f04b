"""Limits on the debtor's public doors (the lookup and closing an agreement): per client
address and per (tenant, document) in sliding windows, and a cut-off for an address that looks
up many different documents (enumeration).

State is in this process: several gateway replicas each limit on their own, so with R
replicas behind a load balancer a client may get up to R times a limit (less with sticky
sessions). Size the limits for that, or keep one replica on the public door. Memory: each
tracked key keeps at most `limit` timestamps (an address under enumeration watch, at most
`max_documents + 1` documents); `max_keys` caps the keys of each table, dropping the
stalest first.

Pure Python, no web framework: the clock is injected (seconds, monotonic), so tests move time
by hand.
"""

from __future__ import annotations

import logging
import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from contracts.documents import mask_document, normalize_document

log = logging.getLogger(__name__)

Clock = Callable[[], float]
LimitScope = Literal["address", "document", "enumeration"]

# A document longer than any CPF/CNPJ is cut to this for the keys (garbage stays bounded).
MAX_DOCUMENT_KEY = 32


@dataclass(frozen=True)
class Limited:
    """A request refused: which limit, and in how many whole seconds to try again."""

    scope: LimitScope
    retry_after: int


@dataclass(frozen=True)
class Limits:
    window_seconds: float = 60.0
    lookup_per_address: int = 10
    lookup_per_document: int = 5
    close_per_address: int = 5
    close_per_document: int = 5
    enumeration_max_documents: int = 20
    enumeration_window_seconds: float = 600.0
    enumeration_block_seconds: float = 900.0
    max_keys: int = 100_000


def _whole_seconds(seconds: float) -> int:
    return max(1, math.ceil(seconds))


class SlidingWindow:
    """At most `limit` hits per key in any `window` seconds (a sliding log of hit times).
    `limit` 0 means no limit."""

    def __init__(self, limit: int, window: float, max_keys: int = 100_000) -> None:
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, key: str, now: float) -> deque[float] | None:
        hits = self._hits.get(key)
        if hits is None:
            return None
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if not hits:
            del self._hits[key]
            return None
        return hits

    def retry_after(self, key: str, now: float) -> float | None:
        """Seconds until `key` may hit again, or None when it may now."""
        if self.limit <= 0:
            return None
        hits = self._recent(key, now)
        if hits is None or len(hits) < self.limit:
            return None
        return hits[0] + self.window - now

    def hit(self, key: str, now: float) -> None:
        if self.limit <= 0:
            return
        hits = self._recent(key, now)
        if hits is None:
            hits = self._hits[key] = deque(maxlen=self.limit)
        hits.append(now)
        self._hits.move_to_end(key)
        # Keys are in the order of their last hit: forget those whose last hit left the
        # window, and the stalest beyond max_keys.
        while self._hits:
            first = next(iter(self._hits.values()))
            if first[-1] > now - self.window and len(self._hits) <= self.max_keys:
                break
            self._hits.popitem(last=False)

    def __len__(self) -> int:
        return len(self._hits)


class EnumerationWatch:
    """Cuts off an address that looks up more than `max_documents` distinct documents in
    `window` seconds, for `block` seconds, and says so once in the log."""

    def __init__(
        self, max_documents: int, window: float, block: float, max_keys: int = 100_000
    ) -> None:
        self.max_documents = max_documents
        self.window = window
        self.block = block
        self.max_keys = max_keys
        # address -> {document key: last seen}, oldest first
        self._seen: OrderedDict[str, OrderedDict[str, float]] = OrderedDict()
        self._blocked: dict[str, float] = {}

    def blocked_for(self, address: str, now: float) -> float | None:
        until = self._blocked.get(address)
        if until is None:
            return None
        if until <= now:
            del self._blocked[address]
            return None
        return until - now

    def _documents(self, address: str, now: float) -> OrderedDict[str, float]:
        seen = self._seen.get(address)
        if seen is None:
            seen = self._seen[address] = OrderedDict()
        while seen and next(iter(seen.values())) <= now - self.window:
            seen.popitem(last=False)
        self._seen.move_to_end(address)
        # Addresses are in the order of their last lookup: forget those quiet for a window.
        while len(self._seen) > 1:
            first_address, first_seen = next(iter(self._seen.items()))
            latest = max(first_seen.values(), default=float("-inf"))
            if latest > now - self.window and len(self._seen) <= self.max_keys:
                break
            del self._seen[first_address]
        return seen

    def would_exceed(self, address: str, document: str, now: float) -> bool:
        if self.max_documents <= 0:
            return False
        seen = self._documents(address, now)
        return document not in seen and len(seen) >= self.max_documents

    def record(self, address: str, document: str, now: float) -> None:
        if self.max_documents <= 0:
            return
        seen = self._documents(address, now)
        seen[document] = now
        seen.move_to_end(document)

    def cut_off(self, address: str, document: str, now: float) -> float:
        """Block the address; log it once, with the counts and the documents masked."""
        seen = self._documents(address, now)
        documents = [*seen, document]
        self._blocked[address] = now + self.block
        if len(self._blocked) > self.max_keys:
            for stale in [a for a, until in self._blocked.items() if until <= now]:
                del self._blocked[stale]
        seen.clear()
        log.warning(
            "possible enumeration: %s looked up %d distinct documents in %.0f s "
            "(limit %d); blocked for %.0f s; documents: %s",
            address,
            len(documents),
            self.window,
            self.max_documents,
            self.block,
            ", ".join(_masked(d) for d in documents[:10])
            + (", ..." if len(documents) > 10 else ""),
        )
        return self.block


def _masked(key: str) -> str:
    document = key.partition("|")[2]
    try:
        return mask_document(document)
    except ValueError:
        return f"(inválido, {len(document)} caracteres)"


def document_key(tenant: str, document: str) -> str:
    return f"{tenant}|{normalize_document(document)[:MAX_DOCUMENT_KEY]}"


class RateLimiter:
    """The gateway's limits. `check_*` records the attempt when it is allowed and returns
    None, or returns what refused it (a refused attempt is not counted)."""

    def __init__(self, limits: Limits, clock: Clock = time.monotonic) -> None:
        self.limits = limits
        self.clock = clock
        keys = limits.max_keys
        window = limits.window_seconds
        self.lookup_by_address = SlidingWindow(limits.lookup_per_address, window, keys)
        self.lookup_by_document = SlidingWindow(limits.lookup_per_document, window, keys)
        self.close_by_address = SlidingWindow(limits.close_per_address, window, keys)
        self.close_by_document = SlidingWindow(limits.close_per_document, window, keys)
        self.enumeration = EnumerationWatch(
            limits.enumeration_max_documents,
            limits.enumeration_window_seconds,
            limits.enumeration_block_seconds,
            keys,
        )

    def check_lookup(self, address: str, tenant: str, document: str | None) -> Limited | None:
        now = self.clock()
        blocked = self.enumeration.blocked_for(address, now)
        if blocked is not None:
            return Limited("enumeration", _whole_seconds(blocked))
        wait = self.lookup_by_address.retry_after(address, now)
        if wait is not None:
            return Limited("address", _whole_seconds(wait))
        key = document_key(tenant, document) if document else None
        if key is not None:
            wait = self.lookup_by_document.retry_after(key, now)
            if wait is not None:
                return Limited("document", _whole_seconds(wait))
            if self.enumeration.would_exceed(address, key, now):
                return Limited(
                    "enumeration", _whole_seconds(self.enumeration.cut_off(address, key, now))
                )
        self.lookup_by_address.hit(address, now)
        if key is not None:
            self.lookup_by_document.hit(key, now)
            self.enumeration.record(address, key, now)
        return None

    def check_close(self, address: str, tenant: str, document: str | None) -> Limited | None:
        now = self.clock()
        wait = self.close_by_address.retry_after(address, now)
        if wait is not None:
            return Limited("address", _whole_seconds(wait))
        key = document_key(tenant, document) if document else None
        if key is not None:
            wait = self.close_by_document.retry_after(key, now)
            if wait is not None:
                return Limited("document", _whole_seconds(wait))
        self.close_by_address.hit(address, now)
        if key is not None:
            self.close_by_document.hit(key, now)
        return None
