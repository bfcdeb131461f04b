"""The BR Code rules shared by the services (contracts.brcode), on codes the negotiation
service issues: `pix_for_balance` rewrites the amount alone and the CRC still verifies."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.brcode import (
    MAX_AMOUNT_CENTS,
    crc16,
    emv_field,
    emv_fields,
    format_amount,
    parse_emv,
    pix_for_balance,
)
from services.negotiation.domain.pix import pix_code
from tests.unit.test_pix import crc_is_valid

KEYS = st.one_of(
    st.just("123e4567-e12b-12d1-a456-426655440000"),
    st.just("52998224725"),
    st.just("+5511987654321"),
    st.text(alphabet=string.ascii_letters + string.digits + "@.-_+", min_size=1, max_size=77),
)
WORDS = st.text(alphabet=string.ascii_letters + " ãçéÁ", min_size=1, max_size=40).filter(
    lambda text: any(char.isalpha() for char in text)
)
TXIDS = st.text(alphabet=string.ascii_letters + string.digits, min_size=1, max_size=25)


@st.composite
def issued_and_balance(draw: st.DrawFn) -> tuple[str, int, int]:
    amount = draw(st.integers(min_value=1, max_value=MAX_AMOUNT_CENTS))
    code = pix_code(
        key=draw(KEYS),
        merchant_name=draw(WORDS),
        merchant_city=draw(WORDS),
        amount_cents=amount,
        txid=draw(TXIDS),
    )
    return code, amount, draw(st.integers(min_value=1, max_value=amount))


@given(issued_and_balance())
def test_the_balance_code_verifies_asks_for_the_balance_and_keeps_every_other_field(
    case: tuple[str, int, int],
) -> None:
    code, _, balance = case
    rewritten = pix_for_balance(code, balance)
    assert crc_is_valid(rewritten) and rewritten[-4:] == crc16(rewritten[:-4])
    fields, issued = parse_emv(rewritten), parse_emv(code)
    assert fields["54"] == format_amount(balance)
    assert [k for k, _ in emv_fields(rewritten)] == [k for k, _ in emv_fields(code)]
    assert {k: v for k, v in fields.items() if k not in ("54", "63")} == {
        k: v for k, v in issued.items() if k not in ("54", "63")
    }


@given(issued_and_balance())
def test_the_whole_amount_gives_the_issued_code_back(case: tuple[str, int, int]) -> None:
    code, amount, _ = case
    assert pix_for_balance(code, amount) == code


@given(issued_and_balance())
def test_fields_rebuild_the_code_they_were_read_from(case: tuple[str, int, int]) -> None:
    code, _, _ = case
    assert "".join(emv_field(k, v) for k, v in emv_fields(code)) == code


@pytest.mark.parametrize("balance", [0, -1, MAX_AMOUNT_CENTS + 1])
def test_no_amount_to_ask_leaves_the_code_as_issued(balance: int) -> None:
    code = pix_code(
        key="52998224725", merchant_name="Loja", merchant_city="Recife", amount_cents=500, txid="A"
    )
    assert pix_for_balance(code, balance) == code


@pytest.mark.parametrize(
    "code",
    [
        "",
        "not a code",
        "000201",  # no amount field
        "00020126",  # truncated
    ],
)
def test_a_code_without_an_amount_or_unreadable_is_shown_as_issued(code: str) -> None:
    assert pix_for_balance(code, 100) == code


def test_a_value_longer_than_its_length_allows_is_refused() -> None:
    with pytest.raises(ValueError):
        emv_field("26", "x" * 100)
