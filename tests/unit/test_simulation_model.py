"""The simulator's behaviour model and world: the same seed, the same world and choices; the
choices lean the way the documented parameters say; the chatbot's texts are read as the bot
writes them."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from cobranca.simulation import chat_script
from cobranca.simulation.model import (
    BehaviourModel,
    OfferSeen,
    accept_chance,
    call_result,
    choose_offer,
    lookup_chance,
    payer_profile,
    payment_dates,
    waves_within,
)
from cobranca.simulation.world import build_world
from contracts.documents import is_valid_document
from services.messaging.domain.chatbot import (
    OfferLine,
    creditors_menu,
    menu,
    offer_text,
    offers_menu,
)

MODEL = BehaviourModel()
MONDAY = dt.date(2026, 1, 5)


def test_the_same_seed_builds_the_same_world_and_another_seed_another() -> None:
    first = build_world(50, 90, 7, MONDAY, MODEL)
    assert first == build_world(50, 90, 7, MONDAY, MODEL)
    assert first != build_world(50, 90, 8, MONDAY, MODEL)


def test_the_world_is_placed_in_waves_each_creditor_one_file_per_wave() -> None:
    world = build_world(90, 75, 1, MONDAY, MODEL)  # days 0, 30 and 60: three waves
    assert world.waves == 3
    assert [world.wave_day(w) for w in range(3)] == [0, 30, 60]
    assert {d.wave for d in world.debtors} == {0, 1, 2}
    for wave in range(3):
        files = world.carteiras(wave)
        assert set(files) == {c for d in world.debtors if d.wave == wave for c in d.creditors}
        rows = sum(len(text.splitlines()) - 1 for text in files.values())
        assert rows == sum(len(d.rows) for d in world.debtors if d.wave == wave)
        # Every debt is overdue on its wave's placement day.
        placed = MONDAY + dt.timedelta(days=world.wave_day(wave))
        assert all(d.oldest_due() < placed for d in world.debtors if d.wave == wave)
    assert all(is_valid_document(d.document) for d in world.debtors)


def test_a_short_simulation_places_only_the_waves_it_reaches() -> None:
    assert waves_within(MODEL, 1) == 1
    assert waves_within(MODEL, 30) == 1
    assert waves_within(MODEL, 31) == 2
    assert waves_within(MODEL, 365) == 3


def test_debtors_come_less_as_the_months_pass_and_the_debt_ages() -> None:
    assert lookup_chance(MODEL, 0, 30) > lookup_chance(MODEL, 45, 30) > lookup_chance(MODEL, 90, 30)
    assert lookup_chance(MODEL, 45, 0) == pytest.approx(lookup_chance(MODEL, 0, 0) / 2)  # half-life
    assert lookup_chance(MODEL, 0, 30) > lookup_chance(MODEL, 0, 200) > lookup_chance(MODEL, 0, 800)


def test_a_bigger_discount_a_fresher_and_a_smaller_debt_are_accepted_more_often() -> None:
    plain = OfferSeen(1, 100_000, 0)
    half_off = OfferSeen(1, 50_000, 50_000)
    assert accept_chance(MODEL, half_off, 100) > accept_chance(MODEL, plain, 100)
    assert accept_chance(MODEL, plain, 30) > accept_chance(MODEL, plain, 700)
    assert accept_chance(MODEL, OfferSeen(1, 10_000, 0), 100) > accept_chance(
        MODEL, OfferSeen(1, 1_000_000, 0), 100
    )


offers_strategy = st.lists(
    st.builds(
        OfferSeen,
        installments=st.integers(1, 24),
        total_cents=st.integers(1, 10_000_000),
        discount_cents=st.integers(0, 1_000_000),
    ),
    min_size=1,
    max_size=6,
)


@given(offers_strategy, st.integers(0, 2**32), st.integers(0, 2_000))
def test_a_choice_is_one_of_the_offers_and_the_same_for_the_same_seed(
    offers: list[OfferSeen], seed: int, overdue: int
) -> None:
    chosen = choose_offer(MODEL, seed, ("debtor", 3), offers, overdue)
    assert chosen is None or 0 <= chosen < len(offers)
    assert chosen == choose_offer(MODEL, seed, ("debtor", 3), offers, overdue)
    # A debtor who said yes to an operator always takes one.
    assert choose_offer(MODEL, seed, ("debtor", 3), offers, overdue, accepted=True) is not None


def test_without_offers_there_is_no_agreement() -> None:
    assert choose_offer(MODEL, 1, "x", [], 10, accepted=True) is None


@given(st.integers(0, 2**32), st.integers(1, 12), st.sampled_from(
    ["punctual", "late", "drops_out", "never"]
))  # fmt: skip
def test_installments_are_paid_as_the_profile_says_and_never_before_the_agreement(
    seed: int, installments: int, profile: str
) -> None:
    closed = dt.date(2026, 3, 10)
    dues = [closed + dt.timedelta(days=30 * n) for n in range(installments)]
    paid = payment_dates(MODEL, seed, "a", profile, dues, closed)  # type: ignore[arg-type]
    assert len(paid) == installments
    assert all(day is None or day >= closed for day in paid)
    if profile == "never":
        assert paid == [None] * installments
    elif profile == "punctual":
        assert all(day is not None and day <= due for day, due in zip(paid, dues, strict=True))
    elif profile == "late":
        assert all(
            day is not None and 1 <= (day - due).days <= MODEL.late_days_max
            for day, due in zip(paid, dues, strict=True)
        )
    else:  # drops out: pays the first ones, then stops for good
        paying = [day is not None for day in paid]
        assert paying == sorted(paying, reverse=True)
        assert not all(paying)


def test_profiles_and_call_results_follow_their_shares() -> None:
    profiles = [payer_profile(MODEL, 42, n, 0.0) for n in range(4000)]
    assert profiles.count("punctual") / 4000 == pytest.approx(0.55, abs=0.03)
    assert profiles.count("never") / 4000 == pytest.approx(0.15, abs=0.03)
    generous = [payer_profile(MODEL, 42, n, 0.5) for n in range(4000)]
    assert generous.count("punctual") > profiles.count("punctual")
    results = [call_result(MODEL, 42, "52998224725", day) for day in range(4000)]
    assert results.count("no_answer") / 4000 == pytest.approx(0.45, abs=0.03)
    assert results.count("agreement") / 4000 == pytest.approx(0.15, abs=0.03)


def test_shares_that_do_not_add_up_are_refused_naming_the_parameter() -> None:
    with pytest.raises(ValidationError, match="payer_profiles"):
        BehaviourModel(payer_profiles=(0.5, 0.5, 0.5, 0.0))


# ---- reading the chatbot -----------------------------------------------------------------------


def test_the_negotiate_option_is_found_in_the_bots_menu() -> None:
    text = "Olá, Maria! Encontramos 2 débitos em aberto.\n" + menu(
        ["digitable_line", "negotiate", "operator"]
    )
    assert chat_script.option_number(text, chat_script.NEGOTIATE_LABEL) == 2
    assert chat_script.option_number(menu(["operator"]), chat_script.NEGOTIATE_LABEL) is None


def test_the_creditors_menu_is_read_with_what_is_owed_to_each() -> None:
    text = creditors_menu([("Banco Horizonte S.A.", 2, 123_456), ("Conecta Fibra", 1, 9_990)])
    assert chat_script.creditors_in(text) == {
        "Banco Horizonte S.A.": 123_456,
        "Conecta Fibra": 9_990,
    }
    assert chat_script.creditor_number(text, "Conecta Fibra") == 2
    assert chat_script.creditors_in("Escolha uma opção") == {}


@given(
    st.integers(1, 24),
    st.integers(1, 5_000_000),
    st.integers(0, 500_000),
    st.integers(1, 200_000),
    st.integers(1, 200_000),
)
def test_every_offer_the_bot_writes_is_read_back(
    installments: int, total: int, discount: int, first: int, rest: int
) -> None:
    amounts = (first, *([rest] * (installments - 1)))
    line = OfferLine(installments, total, discount, amounts, dt.date(2026, 2, 1))
    menu_text = offers_menu("Banco Horizonte S.A.", total + discount, [line, line])
    read = chat_script.offers_in(menu_text)
    assert read == {
        1: OfferSeen(installments, total, discount),
        2: OfferSeen(installments, total, discount),
    }
    assert chat_script.offer_seen(offer_text(line)) == OfferSeen(installments, total, discount)


def test_offers_with_varying_installments_are_read_too() -> None:
    line = OfferLine(3, 30_000, 0, (10_000, 12_000, 8_000), dt.date(2026, 2, 1))
    assert chat_script.offer_seen(offer_text(line)) == OfferSeen(3, 30_000, 0)
    assert chat_script.offers_in("Opção inválida.") is None
