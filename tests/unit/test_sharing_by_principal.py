"""What was paid on an agreement is shared among its debts by principal, to the centavo: at
the break (`allocate_paid`) and when its boleto is paid after it (`share_payment`)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from services.negotiation.domain.agreement import allocate_paid, by_principal, share_payment

principals = st.lists(st.integers(min_value=0, max_value=10_000_000), min_size=1, max_size=8)


@given(principals, st.integers(min_value=0, max_value=50_000_000))
def test_shares_add_up_exactly_and_follow_the_principals(owed: list[int], amount: int) -> None:
    shares = by_principal(owed, amount)
    total = sum(owed)
    if total == 0:
        assert shares == [0] * len(owed)
        return
    assert sum(shares) == amount
    for share, principal in zip(shares, owed, strict=True):
        assert abs(share * total - amount * principal) < total  # within one centavo


def test_two_debts_of_2_to_1_share_a_payment_as_the_qa_saw_it() -> None:
    debts = [
        {"debt_id": "brk", "principal_cents": 80_000},
        {"debt_id": "brk2", "principal_cents": 40_000},
    ]
    assert [d["paid_cents"] for d in allocate_paid(debts, 40_720)] == [27_147, 13_573]
    shared = share_payment(debts, {"brk": 80_000, "brk2": 10_000}, held=(), amount_cents=40_720)
    # BRK2 owes only R$ 100,00: the rest of its share stays the debtor's credit.
    assert [(d["deducted_cents"], d["credit_cents"]) for d in shared] == [
        (27_147, 0),
        (10_000, 3_573),
    ]
    held = share_payment(debts, {"brk": 80_000, "brk2": 40_000}, held={"brk"}, amount_cents=100)
    assert [(d["deducted_cents"], d["credit_cents"]) for d in held] == [(0, 67), (33, 0)]
