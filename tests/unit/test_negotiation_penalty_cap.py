"""QA pass 7, D5: the settings took a multa of 10% and the offers charged it to a consumer
(CPF). CDC art. 52 §1 caps the multa on a consumer's debt at 2%. The settings do not tell
consumers' debts from companies', so no multa above 2% is saved (422 naming the field, rule
`penalty_above_legal_cap`, nothing saved); settings stored before with more still never charge
a consumer more than 2% (a company, CNPJ, is charged what they hold)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from contracts.negotiation_requests import (
    CreditorCharges,
    GetOffers,
    GetStatement,
    NegotiationSettings,
    SaveSettings,
)
from service_runtime.refusal import Refused
from services.gateway.entrypoints.http.error_messages import RULES_EN
from services.negotiation.domain.tenant import TenantNegotiation, tenant_aggregate_id
from tests.unit.test_negotiation_app import (
    AGENCY,
    AGENCY_SETTINGS,
    JOAO,
    TODAY,
    Negotiation,
    debt_event,
)

ACME = "11222333000181"  # a company debtor (CNPJ)
TEN_PCT = CreditorCharges(penalty_pct=Decimal(10))


@pytest.fixture
def neg(tmp_path: Path) -> Iterator[Negotiation]:
    n = Negotiation(tmp_path)
    n.portal_discounts()
    yield n


def save(neg: Negotiation, settings: NegotiationSettings) -> NegotiationSettings:
    return neg.app.save_settings(SaveSettings(tenant=AGENCY, settings=settings, saved_by="admin"))


def stored_before_the_cap(neg: Negotiation, settings: NegotiationSettings) -> None:
    """Settings saved before the multa was checked: stored as they came."""
    record = neg.app.get_or_none(TenantNegotiation, tenant_aggregate_id(AGENCY))
    assert record is not None
    record.save_settings(settings_json=settings.model_dump_json(), saved_by="admin")
    neg.app.save(record)


def test_a_multa_above_2_pct_is_refused_naming_the_field_and_nothing_is_saved(
    neg: Negotiation,
) -> None:
    with pytest.raises(Refused) as refused:
        save(neg, AGENCY_SETTINGS.model_copy(update={"charges": TEN_PCT}))
    assert (refused.value.status, refused.value.code) == (422, "validation_failed")
    assert refused.value.details == [
        (
            "charges.penalty_pct",
            "penalty_above_legal_cap",
            "multa de 10% acima do limite de 2% para dívidas de consumidor (CDC, art. 52, § 1º)",
        )
    ]
    assert neg.app.settings_of(AGENCY).charges.penalty_pct == Decimal(2)
    assert "penalty_above_legal_cap" in RULES_EN


def test_a_creditors_own_multa_above_2_pct_is_refused_naming_the_creditor(
    neg: Negotiation,
) -> None:
    """The QA's second try: creditor_charges of Banco Horizonte S.A. at 10%."""
    settings = AGENCY_SETTINGS.model_copy(
        update={
            "creditor_charges": {
                "Banco Horizonte S.A.": CreditorCharges(penalty_pct=Decimal("2.5"))
            }
        }
    )
    with pytest.raises(Refused) as refused:
        save(neg, settings)
    assert [(field, rule) for field, rule, _ in refused.value.details] == [
        ("creditor_charges.Banco Horizonte S.A..penalty_pct", "penalty_above_legal_cap")
    ]
    assert "multa de 2,5%" in refused.value.details[0][2]
    assert neg.app.settings_of(AGENCY).creditor_charges == {}
    # 2% is the law's limit, and allowed.
    allowed = AGENCY_SETTINGS.model_copy(
        update={
            "creditor_charges": {"Banco Horizonte S.A.": CreditorCharges(penalty_pct=Decimal(2))}
        }
    )
    assert save(neg, allowed) == allowed


def test_settings_stored_before_with_10_pct_still_charge_a_consumer_2_pct(
    neg: Negotiation,
) -> None:
    """QA D5: R$ 8.149,52 of principal got a multa of R$ 814,95 (10%) in the consumer's offer,
    and the crossed-out value, the discounts and the agreement came from it."""
    stored_before_the_cap(neg, AGENCY_SETTINGS.model_copy(update={"charges": TEN_PCT}))
    [consumer, company] = neg.imported(
        debt_event("cpf", amount=814_952), debt_event("cnpj", document=ACME, amount=814_952)
    )

    offers = neg.app.offers(
        GetOffers(tenant=AGENCY, document=JOAO, debt_ids=[consumer], channel="portal"), TODAY
    )
    assert offers.debts[0].penalty_cents == 16_299  # 2%, not 81.495
    statement = neg.app.statement(GetStatement(tenant=AGENCY, document=JOAO), TODAY)
    assert statement.debts[0].penalty_cents == 16_299
    agreement = neg.close([consumer], 1)
    assert agreement.debts[0].penalty_cents == 16_299

    # A company is not a consumer: the settings' rate.
    offers = neg.app.offers(
        GetOffers(tenant=AGENCY, document=ACME, debt_ids=[company], channel="portal"), TODAY
    )
    assert offers.debts[0].penalty_cents == 81_495
