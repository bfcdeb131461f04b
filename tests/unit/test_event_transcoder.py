"""The services store events with `FastJSONTranscoder` (msgspec): whatever an event's state
holds, it writes exactly the bytes eventsourcing's own JSONTranscoder writes, and reads any
stored bytes back as the library does. Events stored before it (or by it) read the same."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from typing import Any

from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    TranscodingNotRegisteredError,
    UUIDAsHex,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from service_runtime.eventstore import DateAsISO, FastJSONTranscoder


def transcoder(cls: type[JSONTranscoder]) -> JSONTranscoder:
    t = cls()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO(), DateAsISO()):
        t.register(transcoding)
    return t


LIBRARY, FAST = transcoder(JSONTranscoder), transcoder(FastJSONTranscoder)

# Text with what JSON escapes and what it does not (accents, emoji, line separators, BOM).
text = st.text(
    alphabet=st.sampled_from(list("aé\"\\\n\t\x00\x1f\x7f\u2028\u2029/😀<&'\b\f\rç\ufeff"))
)
leaves = st.one_of(
    text,
    st.integers(min_value=-(2**70), max_value=2**70),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False),
    st.datetimes(timezones=st.just(dt.UTC)),
    st.dates(),
    st.uuids(),
    st.decimals(allow_nan=False, allow_infinity=False, places=2),
    st.tuples(st.integers(), text),
)
states = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(text, st.integers(), st.none()), inner, max_size=4),
    ),
    max_leaves=20,
)


@settings(max_examples=400)
@given(states)
def test_the_same_bytes_as_the_library_and_the_same_values_back(value: Any) -> None:
    state = {"state": value}
    try:
        expected = LIBRARY.encode(state)
    except (TypeError, ValueError, TranscodingNotRegisteredError) as exc:
        try:
            FAST.encode(state)
        except type(exc):
            return
        raise AssertionError(
            f"the library refused {state!r} ({exc}); the fast one did not"
        ) from None
    assert FAST.encode(state) == expected
    assert repr(FAST.decode(expected)) == repr(LIBRARY.decode(expected))


def test_what_the_stdlib_alone_reads_is_read_the_same() -> None:
    # NaN and infinities are no JSON msgspec reads; stored by the library, they still read.
    for state in ({"a": float("nan")}, {"a": float("inf")}, {"big": 2**80}):
        stored = LIBRARY.encode(state)
        assert FAST.encode(state) == stored
        assert repr(FAST.decode(stored)) == repr(LIBRARY.decode(stored))


def test_an_event_of_the_platform_reads_back_as_stored() -> None:
    state = {
        "originator_id": uuid.UUID(int=7),
        "timestamp": dt.datetime(2026, 11, 26, 9, 0, tzinfo=dt.UTC),
        "due_date": dt.date(2026, 10, 1),
        "original_amount_cents": 123456,
        "rate": decimal.Decimal("0.01"),
        "personal": {"key_id": "0" * 32, "ciphertext": "abc"},
        "changes": [{"field": "phone", "old": None, "new": None}],
    }
    stored = FAST.encode(state)
    assert stored == LIBRARY.encode(state)
    assert FAST.decode(stored) == state
