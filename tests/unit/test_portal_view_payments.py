"""A payment that leaves part of an installment to pay reaches the portal view: the negotiation
service publishes it as PaymentReceived (outcome "partial", the balance left) on the payments'
topic, and no InstallmentPaid. QA paid R$ 10,00 of a R$ 66,62 installment: the negotiation API
said paid 1000, balance 5662; the portal's lookup still said paid_cents 0."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from contracts.envelope import Envelope
from contracts.negotiation import PAYMENTS_TOPIC, PaymentReceived
from services.gateway.read_models.portal_view import PortalViewProjection, agreements_of
from tests.unit import test_portal_agreements as portal
from tests.unit.test_projections import VAULT

AGENCY, JOAO = portal.AGENCY, portal.JOAO


def received(
    agreement_id: str, number: int, cents: int, balance: int, outcome: str = "partial"
) -> PaymentReceived:
    """A payment of `cents` on the agreement's installment `number`, leaving `balance`."""
    return PaymentReceived(
        **portal.env(f"pay-{agreement_id}-{number}-{cents}", 1),
        payment_id=f"pay-{agreement_id}-{number}-{cents}",
        source="api",
        reference=f"ref-{cents}",
        invoice_id=f"{agreement_id}-inv-{number}",
        agreement_id=agreement_id,
        document=JOAO,
        installment_number=number,
        amount_cents=cents,
        paid_on=dt.date(2026, 11, 26),
        outcome=outcome,  # type: ignore[arg-type]
        applied_cents=cents,
        balance_cents=balance,
        credit_cents=0,
    )


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[sa.Engine]:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'portal.sqlite'}")
    PortalViewProjection(VAULT).create_tables(engine)
    yield engine
    engine.dispose()


def view_after(engine: sa.Engine, events: list[Envelope]) -> list[dict[str, object]]:
    projection = PortalViewProjection(VAULT)
    for event in events:  # one batch each, as topics read apart would bring them
        with engine.begin() as conn:
            projection.apply(conn, [event])
    (agreement,) = agreements_of(engine, AGENCY, JOAO)
    return [
        {k: i[k] for k in ("number", "amount_cents", "paid_cents", "status")}
        for i in agreement["invoices"]
    ]


def test_the_portal_view_reads_the_payments_topic() -> None:
    projection = PortalViewProjection(VAULT)
    assert PAYMENTS_TOPIC in projection.topics
    assert projection.event_types is not None and "PaymentReceived" in projection.event_types


def test_a_partial_payment_shows_what_was_paid_of_the_installment(engine: sa.Engine) -> None:
    invoices = view_after(
        engine,
        [portal.debt("p1"), portal.closed("pa", ["p1"]), received("pa", 1, 1_000, 50_000)],
    )
    assert invoices[0] == {
        "number": 1,
        "amount_cents": 51_000,
        "paid_cents": 1_000,
        "status": "open",
    }
    assert invoices[1]["paid_cents"] == 0


@pytest.mark.parametrize(
    "order", list(itertools.permutations(range(4))), ids=lambda o: "".join(map(str, o))
)
def test_the_payments_show_the_same_whatever_the_order_and_a_repeat_changes_nothing(
    tmp_path: Path, order: tuple[int, ...]
) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / f'portal-{order}.sqlite'}")
    PortalViewProjection(VAULT).create_tables(engine)
    events: list[Envelope] = [
        portal.closed("pa", ["p1"]),
        received("pa", 1, 1_000, 50_000),
        received("pa", 1, 20_000, 30_000),
        received("pa", 1, 1_000, 50_000),  # the first one again (delivered twice)
    ]
    invoices = view_after(engine, [portal.debt("p1"), *(events[i] for i in order)])
    engine.dispose()
    assert (invoices[0]["paid_cents"], invoices[0]["status"]) == (21_000, "open")


def test_a_payment_that_matched_no_invoice_changes_none(engine: sa.Engine) -> None:
    stray = received("pa", 1, 1_000, 0, outcome="unmatched").model_copy(update={"invoice_id": None})
    invoices = view_after(engine, [portal.debt("p1"), portal.closed("pa", ["p1"]), stray])
    assert [i["paid_cents"] for i in invoices] == [0, 0]
