"""The portal's second factor: a code that expires, allows five tries and opens once, kept
only as a keyed digest; the debtor's name masked until then."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from service_runtime.personal_data import REMOVED
from services.gateway.domain.portal_challenge import (
    CODE_TTL,
    MAX_ATTEMPTS,
    PortalChallenge,
    issue,
    mask_name,
    new_code,
)

KEY = "chave-de-teste"
NOW = dt.datetime(2026, 11, 25, 13, 0, tzinfo=dt.UTC)


def challenge(code: str = "482913") -> PortalChallenge:
    return issue(
        key=KEY,
        tenant="acme",
        document="52998224725",
        code=code,
        channel="sms",
        destination="(11) *****-4321",
        now=NOW,
    )


def test_the_right_code_opens_once() -> None:
    c = challenge()
    assert c.check(key=KEY, code=" 482913 ", now=NOW) == "verified"
    assert c.check(key=KEY, code="482913", now=NOW) == "used"


def test_five_wrong_tries_use_it_up() -> None:
    c = challenge()
    outcomes = [c.check(key=KEY, code="000000", now=NOW) for _ in range(MAX_ATTEMPTS)]
    assert outcomes == ["mismatch"] * (MAX_ATTEMPTS - 1) + ["exhausted"]
    assert c.check(key=KEY, code="482913", now=NOW) == "exhausted"


def test_a_code_expires_after_ten_minutes() -> None:
    c = challenge()
    assert c.check(key=KEY, code="482913", now=NOW + CODE_TTL) == "expired"


def test_the_store_never_holds_the_code() -> None:
    c = challenge()
    assert "482913" not in repr(vars(c))
    assert challenge().digest != c.digest  # salted


def test_names_are_masked_word_by_word() -> None:
    assert mask_name("João da Silva") == "J*** d*** S***"
    assert mask_name("  Isabela   Nunes ") == "I*** N***"
    assert mask_name(None) is None and mask_name("") is None
    # An erased name (LGPD) shows as removed: no letter of it is left to mask.
    assert mask_name(REMOVED) == REMOVED


@given(st.text(min_size=1).filter(str.split))
def test_a_masked_name_shows_only_initials(name: str) -> None:
    masked = mask_name(name)
    assert masked is not None
    assert [w[0] for w in masked.split()] == [w[0] for w in name.split()]
    assert all(w[1:] == "***" for w in masked.split())


def test_codes_are_six_digits() -> None:
    assert all(len(c) == 6 and c.isdigit() for c in (new_code() for _ in range(200)))
