"""Regras puras da negociação: valor atualizado, ofertas, entrada, parcelas e vencimentos.

Todos os valores em centavos, calculados à mão nos comentários.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from contracts.negotiation import PaymentConditionTerms
from contracts.negotiation_requests import CreditorCharges
from services.negotiation.domain.business_days import (
    add_months,
    is_business_day,
    next_business_day,
)
from services.negotiation.domain.charges import updated_value
from services.negotiation.domain.money import half_up, pct_of
from services.negotiation.domain.offers import (
    MIXED_CREDITORS_MESSAGE,
    ConditionChoice,
    DebtForOffer,
    applicable_conditions,
    offers_for,
    quote,
    suggested_value,
)
from services.negotiation.domain.schedule import down_payment, due_dates, split_installments

D = dt.date
ON = D(2026, 11, 25)  # quarta-feira
# Padrão do tenant: multa 2%, juros 1% a.m., sem correção.
CHARGES = CreditorCharges(
    penalty_pct=Decimal(2), interest_monthly_pct=Decimal(1), correction_monthly_pct=Decimal(0)
)


def debt(
    debt_id: str, principal: int, due: dt.date, creditor: str = "Banco Exemplo"
) -> DebtForOffer:
    return DebtForOffer(
        debt_id=debt_id,
        creditor=creditor,
        contract="CT-1",
        installment=debt_id,
        principal_cents=principal,
        due_date=due,
    )


def condition(condition_id: str, **terms: Any) -> ConditionChoice:
    return ConditionChoice(condition_id, 1, PaymentConditionTerms(**terms))


# ---- dinheiro ------------------------------------------------------------------------------


def test_half_up_rounds_halves_away_from_zero() -> None:
    assert half_up(Decimal("28.805")) == 29
    assert half_up(Decimal("0.5")) == 1
    assert half_up(Decimal("2.5")) == 3  # não é o arredondamento bancário (que daria 2)
    assert half_up(Decimal("2.4999")) == 2
    assert half_up(Decimal("-2.5")) == -3


def test_pct_of() -> None:
    assert pct_of(100000, Decimal(2)) == 2000
    assert pct_of(150055, Decimal(10)) == 15006  # 15005,5 -> 15006
    assert pct_of(12345, Decimal("12.5")) == 1543  # 1543,125 -> 1543
    assert pct_of(0, Decimal(50)) == 0


# ---- valor atualizado ----------------------------------------------------------------------


def test_updated_value_sixty_days_late() -> None:
    # R$ 1.000,00 vencida em 26/09/2026; em 25/11/2026 são 4 + 31 + 25 = 60 dias.
    value = updated_value(100000, D(2026, 9, 26), ON, CHARGES)
    assert value.days_overdue == 60
    assert value.penalty_cents == 2000  # 2% de 100000
    assert value.interest_cents == 2000  # 100000 × 1% × 60/30
    assert value.correction_cents == 0
    assert value.charges_cents == 4000
    assert value.total_cents == 104000


def test_updated_value_with_correction() -> None:
    charges = CHARGES.model_copy(update={"correction_monthly_pct": Decimal("0.5")})
    value = updated_value(100000, D(2026, 9, 26), ON, charges)
    assert value.correction_cents == 1000  # 100000 × 0,5% × 60/30
    assert value.total_cents == 105000


def test_updated_value_half_up_matters() -> None:
    # 12345 × 1% × 7/30 = 28,805 -> 29; multa 12345 × 2% = 246,9 -> 247.
    value = updated_value(12345, D(2026, 11, 18), ON, CHARGES)
    assert value.days_overdue == 7
    assert value.interest_cents == 29
    assert value.penalty_cents == 247
    assert value.total_cents == 12345 + 247 + 29


def test_updated_value_on_or_before_due_date_has_no_charges() -> None:
    for due in (ON, D(2026, 12, 10)):
        value = updated_value(100000, due, ON, CHARGES)
        assert value.days_overdue == 0
        assert value.charges_cents == 0
        assert value.total_cents == 100000


def test_updated_value_with_the_tenant_defaults() -> None:
    # Os padrões do CreditorCharges (2%, 1% a.m., 0%) dão o mesmo que CHARGES.
    assert updated_value(100000, D(2026, 9, 26), ON, CreditorCharges()).total_cents == 104000


# ---- exemplo completo de oferta ------------------------------------------------------------

# Dívida A: R$ 1.000,00 vencida em 26/09/2026 -> 60 dias: multa 2000, juros 2000.
# Dívida B: R$ 500,55 vencida em 26/10/2026 -> 30 dias: multa 1001,1 -> 1001,
#   juros 50055 × 1% × 30/30 = 500,55 -> 501.
# P = 150055; encargos C = 2000 + 2000 + 1001 + 501 = 5502; atualizado = 155557.
# Condição 3x: 10% no principal = 15005,5 -> 15006; 50% nos encargos = 2751.
# Total = (150055 - 15006) + (5502 - 2751) = 135049 + 2751 = 137800; desconto = 17757.
# 137800 / 3 = 45933 resto 1 -> 45934, 45933, 45933.
# Vencimentos: 25/11/2026 (qua), 25/12/2026 é Natal (sex) -> 28/12/2026 (seg), 25/01/2027 (seg).
DEBTS = [debt("A", 100000, D(2026, 9, 26)), debt("B", 50055, D(2026, 10, 26))]
THREE_X = condition(
    "c3",
    installments=3,
    principal_discount_pct=Decimal(10),
    charges_discount_pct=Decimal(50),
)


def test_worked_offer_example() -> None:
    q = quote(DEBTS, THREE_X, ON, CHARGES)
    assert q is not None
    assert q.condition_id == "c3"
    assert q.condition_version == 1
    assert q.installments == 3
    assert q.principal_cents == 150055
    assert q.charges_cents == 5502
    assert q.updated_value_cents == 155557
    assert q.principal_discount_cents == 15006
    assert q.charges_discount_cents == 2751
    assert q.discount_cents == 17757
    assert q.total_cents == 137800
    assert q.down_payment_cents is None
    assert [(p.number, p.kind, p.due_date, p.amount_cents) for p in q.schedule] == [
        (1, "installment", D(2026, 11, 25), 45934),
        (2, "installment", D(2026, 12, 28), 45933),
        (3, "installment", D(2027, 1, 25), 45933),
    ]
    assert [(d.debt_id, v.total_cents) for d, v in q.debts] == [("A", 104000), ("B", 51557)]


def test_offer_with_down_payment_and_first_due_later() -> None:
    # Mesmo total 137800 em 4x com entrada mínima de 30%: 41340; sobra 96460 / 3 = 32153 r1.
    # Primeiro vencimento em 10 dias: 05/12/2026 é sábado -> 07/12/2026; depois 05/01/2027
    # (ter), 05/02/2027 (sex), 05/03/2027 (sex).
    choice = condition(
        "c4",
        installments=4,
        principal_discount_pct=Decimal(10),
        charges_discount_pct=Decimal(50),
        min_down_payment_pct=Decimal(30),
        days_to_first_due=10,
    )
    q = quote(DEBTS, choice, ON, CHARGES)
    assert q is not None
    assert q.down_payment_cents == 41340
    assert [(p.number, p.kind, p.due_date, p.amount_cents) for p in q.schedule] == [
        (1, "down_payment", D(2026, 12, 7), 41340),
        (2, "installment", D(2027, 1, 5), 32154),
        (3, "installment", D(2027, 2, 5), 32153),
        (4, "installment", D(2027, 3, 5), 32153),
    ]


def test_min_installment_drops_the_offer() -> None:
    # 137800 em 12x com os mesmos descontos: 11483 por parcela (+4 na primeira) < 15000.
    twelve = condition(
        "c12",
        installments=12,
        principal_discount_pct=Decimal(10),
        charges_discount_pct=Decimal(50),
        min_installment_cents=15000,
    )
    assert quote(DEBTS, twelve, ON, CHARGES) is None
    # Com mínimo de 11483 a oferta existe: 137800 = 11 × 11483 + 11487.
    enough = condition(
        "c12",
        installments=12,
        principal_discount_pct=Decimal(10),
        charges_discount_pct=Decimal(50),
        min_installment_cents=11483,
    )
    ok = quote(DEBTS, enough, ON, CHARGES)
    assert ok is not None
    assert ok.schedule[0].amount_cents == 11487
    assert {p.amount_cents for p in ok.schedule[1:]} == {11483}
    offers = offers_for(DEBTS, [THREE_X, twelve], ON, "portal", CHARGES)
    assert [o.installments for o in offers] == [3]


def test_min_installment_ignores_the_down_payment() -> None:
    # 100000 em 2x com entrada de 90%: 90000 + 10000; o mínimo de 20000 barra a 2ª parcela.
    one_debt = [debt("X", 100000, ON)]
    terms: dict[str, Any] = {"installments": 2, "min_down_payment_pct": Decimal(90)}
    assert (
        quote(one_debt, condition("c", **terms, min_installment_cents=20000), ON, CHARGES) is None
    )
    q = quote(one_debt, condition("c", **terms, min_installment_cents=10000), ON, CHARGES)
    assert q is not None
    assert [p.amount_cents for p in q.schedule] == [90000, 10000]


def test_total_smaller_than_installments_gives_no_offer() -> None:
    # 100% de desconto: total 0, nada a parcelar.
    free = condition(
        "free", installments=1, principal_discount_pct=Decimal(100), charges_discount_pct=100
    )
    assert quote(DEBTS, free, ON, CHARGES) is None
    # 2 centavos não cabem em 3 parcelas.
    assert quote([debt("X", 2, ON)], condition("c3", installments=3), ON, CHARGES) is None


def test_suggested_value_is_the_fewest_installments_total() -> None:
    one_x = condition("c1", installments=1, principal_discount_pct=Decimal(20))
    offers = offers_for(DEBTS, [THREE_X, one_x], ON, "portal", CHARGES)
    assert [o.installments for o in offers] == [1, 3]
    # À vista: 150055 - 30011 (20% de 150055 = 30011) + 5502 = 125546.
    assert suggested_value(offers) == 125546
    assert suggested_value([]) is None


# ---- condições aplicáveis ------------------------------------------------------------------


def test_creditor_specific_condition_wins_over_the_general_one() -> None:
    general = condition("a-geral", installments=3)
    own = condition("z-proprio", installments=3, creditor="  BANCO ACENTUAÇÃO ")
    other = condition("b-outro", installments=3, creditor="Outro Banco")
    chosen = applicable_conditions([general, own, other], "Banco Acentuacao", "portal", 1000, 10)
    assert [c.condition_id for c in chosen] == ["z-proprio"]


def test_among_equals_the_lowest_id_wins_and_result_is_sorted_by_n() -> None:
    conditions = [
        condition("c-6b", installments=6),
        condition("c-1", installments=1),
        condition("c-6a", installments=6),
        condition("c-3", installments=3),
    ]
    chosen = applicable_conditions(conditions, "Banco", "portal", 1000, 10)
    assert [c.condition_id for c in chosen] == ["c-1", "c-3", "c-6a"]


def test_inactive_and_other_channel_conditions_do_not_apply() -> None:
    conditions = [
        condition("op", installments=2, channels=["operator"]),
        condition("off", installments=3, active=False),
        condition("portal", installments=4, channels=["portal", "chatbot"]),
    ]
    assert [c.condition_id for c in applicable_conditions(conditions, "B", "portal", 1, 0)] == [
        "portal"
    ]
    assert [c.condition_id for c in applicable_conditions(conditions, "B", "operator", 1, 0)] == [
        "op"
    ]


@pytest.mark.parametrize(
    ("principal", "days", "applies"),
    [
        (10000, 30, True),  # limites inclusivos
        (50000, 90, True),
        (9999, 30, False),
        (50001, 30, False),
        (20000, 29, False),
        (20000, 91, False),
    ],
)
def test_amount_and_days_overdue_ranges(principal: int, days: int, applies: bool) -> None:
    ranged = condition(
        "r",
        installments=2,
        amount_min_cents=10000,
        amount_max_cents=50000,
        days_overdue_min=30,
        days_overdue_max=90,
    )
    assert bool(applicable_conditions([ranged], "B", "portal", principal, days)) is applies


def test_open_ranges() -> None:
    only_min = condition("m", installments=2, amount_min_cents=100, days_overdue_max=5)
    assert applicable_conditions([only_min], "B", "chatbot", 10**12, 0) == [only_min]


def test_offers_use_the_sum_of_principals_and_the_oldest_debt() -> None:
    # A: 60 dias, B: 30 dias; soma 150055. Só se aplica se contar 60 dias e a soma.
    old_and_big = condition(
        "c", installments=2, days_overdue_min=60, amount_min_cents=150055, amount_max_cents=150055
    )
    offers = offers_for(DEBTS, [old_and_big], ON, "portal", CHARGES)
    assert [o.condition_id for o in offers] == ["c"]
    assert offers_for(DEBTS[1:], [old_and_big], ON, "portal", CHARGES) == []


def test_debts_of_different_creditors_are_refused() -> None:
    mixed = [debt("A", 1000, ON, "Banco Um"), debt("B", 1000, ON, "Banco Dois")]
    with pytest.raises(ValueError, match=MIXED_CREDITORS_MESSAGE):
        offers_for(mixed, [THREE_X], ON, "portal", CHARGES)
    # O mesmo credor escrito de outro jeito é o mesmo credor.
    same = [debt("A", 1000, ON, "Crédito Fácil"), debt("B", 1000, ON, " CREDITO  FACIL")]
    assert len(offers_for(same, [THREE_X], ON, "portal", CHARGES)) == 1


# ---- parcelas e entrada --------------------------------------------------------------------


def test_split_installments_remainder_goes_first() -> None:
    assert split_installments(100000, 3) == [33334, 33333, 33333]
    assert split_installments(100, 1) == [100]
    assert split_installments(3, 3) == [1, 1, 1]


def test_split_with_down_payment() -> None:
    assert split_installments(100000, 4, 30000) == [30000, 23334, 23333, 23333]
    assert split_installments(100000, 3, 99998) == [99998, 1, 1]


@pytest.mark.parametrize(
    ("total", "n", "entrada"),
    [(100, 0, None), (2, 3, None), (100, 3, 0), (100, 3, 99), (100, 1, 50)],
)
def test_split_refuses_impossible_splits(total: int, n: int, entrada: int | None) -> None:
    with pytest.raises(ValueError):
        split_installments(total, n, entrada)


def test_down_payment() -> None:
    # 30% de 100000 em 4x: 30000 (maior que a parcela regular de 25000).
    assert down_payment(100000, 4, Decimal(30)) == 30000
    # 10% seria 10000, menor que uma parcela regular: a entrada é 25000.
    assert down_payment(100000, 4, Decimal(10)) == 25000
    # 10% de 100001 em 4x: parcela igual daria 25000 + 1 de resto = 25001.
    assert down_payment(100001, 4, Decimal(10)) == 25001
    # 100% em 3x: limitada para deixar 1 centavo em cada uma das outras 2.
    assert down_payment(1000, 3, Decimal(100)) == 998
    assert down_payment(100000, 4, Decimal(0)) is None
    assert down_payment(100000, 1, Decimal(30)) is None


# ---- dias úteis e vencimentos --------------------------------------------------------------


def test_national_holidays_are_not_business_days() -> None:
    assert not is_business_day(D(2026, 12, 25))  # Natal, sexta
    assert next_business_day(D(2026, 12, 25)) == D(2026, 12, 28)
    assert next_business_day(D(2027, 1, 1)) == D(2027, 1, 4)  # Confraternização, sexta
    assert next_business_day(D(2027, 4, 21)) == D(2027, 4, 22)  # Tiradentes, quarta
    assert next_business_day(D(2026, 4, 3)) == D(2026, 4, 6)  # Sexta-feira Santa
    assert next_business_day(D(2026, 11, 20)) == D(2026, 11, 23)  # Consciência Negra
    assert next_business_day(D(2026, 11, 25)) == D(2026, 11, 25)
    assert next_business_day(D(2026, 11, 28)) == D(2026, 11, 30)  # sábado


def test_optional_observances_are_business_days() -> None:
    # O pacote `holidays` põe Carnaval, Corpus Christi e a véspera de Natal na categoria
    # "optional" (ponto facultativo): não são feriados nacionais.
    assert is_business_day(D(2026, 2, 16))  # segunda de Carnaval
    assert is_business_day(D(2026, 2, 17))  # terça de Carnaval
    assert is_business_day(D(2026, 6, 4))  # Corpus Christi
    assert is_business_day(D(2026, 12, 24))


def test_add_months_clamps_to_the_month_end() -> None:
    assert add_months(D(2027, 1, 31), 1) == D(2027, 2, 28)
    assert add_months(D(2028, 1, 31), 1) == D(2028, 2, 29)
    assert add_months(D(2027, 1, 31), 2) == D(2027, 3, 31)
    assert add_months(D(2027, 1, 31), 3) == D(2027, 4, 30)
    assert add_months(D(2026, 11, 30), 14) == D(2028, 1, 30)


def test_monthly_due_dates_from_a_31st_anchor() -> None:
    # Âncora 31/03/2026 (ter): 30/04 (qui), 31/05 é domingo -> 01/06, 30/06 (ter), 31/07 (sex).
    assert due_dates(D(2026, 3, 31), 5, "monthly", None, 0) == [
        D(2026, 3, 31),
        D(2026, 4, 30),
        D(2026, 6, 1),
        D(2026, 6, 30),
        D(2026, 7, 31),
    ]
    # Começando 5 dias antes com days_to_first_due=5 dá o mesmo.
    assert due_dates(D(2026, 3, 26), 5, "monthly", None, 5)[0] == D(2026, 3, 31)


def test_every_20_days() -> None:
    # 25/11/2026, 15/12/2026, 04/01/2027 (seg), 24/01/2027 é domingo -> 25/01/2027.
    assert due_dates(ON, 4, "every_n_days", 20, 0) == [
        D(2026, 11, 25),
        D(2026, 12, 15),
        D(2027, 1, 4),
        D(2027, 1, 25),
    ]


def test_daily_invoices_never_share_a_day() -> None:
    # 24/12 (qui), 25/12 Natal -> 28/12, 26 e 27 também iriam para 28/12: cada uma anda um dia.
    assert due_dates(D(2026, 12, 24), 5, "every_n_days", 1, 0) == [
        D(2026, 12, 24),
        D(2026, 12, 28),
        D(2026, 12, 29),
        D(2026, 12, 30),
        D(2026, 12, 31),
    ]


def test_due_dates_refuse_bad_input() -> None:
    with pytest.raises(ValueError):
        due_dates(ON, 0, "monthly", None, 0)
    with pytest.raises(ValueError):
        due_dates(ON, 2, "every_n_days", None, 0)
