"""Read models built from several topics end the same whatever the order in which those topics
are read. Within a partition events come in order; across topics (and partitions) they do not,
live or in a replay, which may read a whole topic before another. QA saw a rebuilt portal view
show a fulfilled agreement with its three installments open, unpaid, and its debt settled by
no agreement: the payments and the settlement had been read before the agreement."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiokafka import ConsumerRecord, TopicPartition
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.envelope import Envelope
from contracts.negotiation import (
    AgreementBroken,
    AgreementClosed,
    AgreementFulfilled,
    AgreementInstallment,
    BrokenAgreementDebt,
    InstallmentPaid,
    InstallmentPaidV2,
    InvoiceOverdue,
    InvoiceOverdueV2,
)
from service_runtime.projection import BatchApplier, Projection, TogetherApplier
from services.gateway.read_models.analytics import AnalyticsProjection
from services.gateway.read_models.call_list import CallListProjection
from services.gateway.read_models.imports import ImportStatusProjection
from services.gateway.read_models.portal_view import (
    PortalViewProjection,
    agreements_of,
    portal_debts,
    portal_pending_invoices,
)
from services.gateway.read_models.timeline import (
    TimelineProjection,
    debtor_timeline,
    timeline_unnamed_installments,
)
from tests.unit import test_call_list as calls
from tests.unit import test_portal_agreements as portal
from tests.unit import test_projections as imports
from tests.unit.test_projections import VAULT, record_of
from tests.unit.test_read_model_batches import (
    DAY,
    Rows,
    broken,
    call_stream,
    every_row,
    overdue,
    paid,
    portal_stream,
    settled,
    topic_of,
)

AGENCY, JOAO = portal.AGENCY, portal.JOAO

# ---- the events ----------------------------------------------------------------------------


def closed_in_three(agreement_id: str, debt_ids: list[str]) -> AgreementClosed:
    """An agreement of three installments of R$ 340,00, closed on the portal."""
    return portal.closed(agreement_id, debt_ids).model_copy(
        update={
            "installments": [
                AgreementInstallment(
                    number=n,
                    due_date=DAY + dt.timedelta(days=30 * (n - 1)),
                    amount_cents=34_000,
                    invoice_id=f"{agreement_id}-inv-{n}",
                    nosso_numero=f"{n}",
                    barcode=f"{n}" * 44,
                    digitable_line=f"{n}" * 47,
                    pix_txid=f"TX{n}",
                    pix_code="000201",
                )
                for n in (1, 2, 3)
            ]
        }
    )


def paid_in_three(agreement_id: str, number: int) -> InstallmentPaid:
    return paid(agreement_id, number, number + 1).model_copy(
        update={"amount_cents": 34_000, "paid_cents": 34_000}
    )


def fulfilled_in_three(agreement_id: str, debt_ids: list[str]) -> AgreementFulfilled:
    return AgreementFulfilled(
        **portal.env(agreement_id, 5),
        agreement_id=agreement_id,
        document=JOAO,
        creditor="Banco Horizonte",
        debt_ids=debt_ids,
        fulfilled_on=DAY + dt.timedelta(days=60),
        paid_cents=102_000,
    )


def fulfilled_on_the_portal() -> list[Envelope]:
    """QA's demo debtor: an agreement of three installments closed on the portal, all paid;
    the agreement fulfilled and its debt settled. Another debt stays open."""
    return [
        portal.debt("q1"),
        portal.debt("q2"),
        closed_in_three("qa", ["q1"]),
        paid_in_three("qa", 1),
        paid_in_three("qa", 2),
        paid_in_three("qa", 3),
        fulfilled_in_three("qa", ["q1"]),
        settled("q1", "qa", 2),
    ]


def withdrawn_in_agreement() -> list[Envelope]:
    """A debt the creditor withdraws while an agreement holds it (left active), and an
    installment of another agreement overdue, then paid, while a notice of fewer days comes
    after (older news)."""
    return [
        portal.debt("w1"),
        portal.debt("w2"),
        portal.closed("aw", ["w1"]),
        calls.withdrawn("w1", JOAO).model_copy(update={"creditor": "Banco Horizonte"}),
        portal.closed("ax", ["w2"]),
        overdue("ax", 1, 4, 2),
        overdue("ax", 1, 2, 3),
        paid("ax", 1, 4),
        overdue("ax", 2, 3, 5),
    ]


def live_stream() -> list[Envelope]:
    """Everything in the order it happened (as the live projection reads it)."""
    return portal_stream() + fulfilled_on_the_portal() + withdrawn_in_agreement()


# ---- reading them in other orders ----------------------------------------------------------


def partition_of(event: Envelope) -> tuple[str, str]:
    """The topic and key: events of one keep their order, whatever is read in between."""
    return topic_of(event), str(getattr(event, type(event).partition_key_field))


def partitions(events: Sequence[Envelope]) -> dict[tuple[str, str], list[Envelope]]:
    found: dict[tuple[str, str], list[Envelope]] = {}
    for event in events:
        found.setdefault(partition_of(event), []).append(event)
    return found


def rebuilt(make: Callable[[], Projection], batches: Sequence[Sequence[Envelope]]) -> Rows:
    """The tables a fresh projection ends with, each batch a transaction in which, as the
    runtime does, each partition's events are applied together."""
    engine = sa.create_engine("sqlite://")
    projection = make()
    projection.create_tables(engine)
    for batch in batches:
        with engine.begin() as conn:
            for events in partitions(batch).values():
                projection.apply(conn, events)
    rows = every_row(engine, projection)
    engine.dispose()
    return rows


def one_by_one(events: Sequence[Envelope]) -> list[list[Envelope]]:
    return [[event] for event in events]


@st.composite
def topic_orders(draw: st.DrawFn, events: list[Envelope]) -> list[list[Envelope]]:
    """The events in batches, the partitions interleaved in any order (each kept in its
    own), some batches read again (redelivered after a failure)."""
    left = {key: list(stream) for key, stream in partitions(events).items()}
    order: list[Envelope] = []
    while left:
        key = draw(st.sampled_from(sorted(left)))
        order.append(left[key].pop(0))
        if not left[key]:
            del left[key]
    batches: list[list[Envelope]] = []
    start = 0
    while start < len(order):
        size = draw(st.integers(1, 12))
        batches.append(order[start : start + size])
        if draw(st.integers(0, 9)) == 0:
            batches.append(order[start : start + size])
        start += size
    return batches


def make_portal() -> Projection:
    return PortalViewProjection(VAULT)


# ---- the portal view -----------------------------------------------------------------------


def shown(rows: Rows) -> dict[str, Any]:
    """What the debtor sees of QA's agreement and of the debts, from the tables' rows."""
    debts = [c.name for c in portal_debts.columns]
    at = {name: debts.index(name) for name in ("debt_id", "status", "agreement_id", "paid_cents")}
    return {
        "debts": {
            r[at["debt_id"]]: (r[at["status"]], r[at["agreement_id"]], r[at["paid_cents"]])
            for r in rows["portal_debts"]
        },
        "qa": sorted((r[2], r[7], r[6]) for r in rows["portal_invoices"] if r[1] == "qa"),
    }


def test_the_live_order_shows_the_agreement_paid_and_its_debts_settled_by_it() -> None:
    rows = rebuilt(make_portal, one_by_one(live_stream()))
    view = shown(rows)
    assert view["qa"] == [(1, "paid", 34_000), (2, "paid", 34_000), (3, "paid", 34_000)]
    assert view["debts"]["q1"] == ("settled", "qa", 102_000)
    assert view["debts"]["q2"] == ("open", None, 0)
    assert view["debts"]["d1"] == ("settled", "a2", 102_000)
    # Withdrawn while its agreement holds it: still shown with it.
    assert view["debts"]["w1"] == ("withdrawn", "aw", 0)
    assert rows["portal_pending_invoices"] == []


@functools.cache
def portal_live() -> Rows:
    return rebuilt(make_portal, one_by_one(live_stream()))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_the_portal_view_ends_the_same_whichever_topic_is_read_first(data: st.DataObject) -> None:
    live = portal_live()
    batches = data.draw(topic_orders(live_stream()))
    assert rebuilt(make_portal, batches) == live


def test_payments_and_settlements_read_before_their_agreement_are_applied_when_it_comes() -> None:
    """The adverse orders one by one: the invoices' topic first, the debts' topic first, the
    agreements' last, each topic whole in one batch (as a replay reads them) or event by
    event."""
    live = rebuilt(make_portal, one_by_one(live_stream()))
    topics: dict[str, list[Envelope]] = {}
    for event in live_stream():
        topics.setdefault(topic_of(event), []).append(event)
    agreements, invoices, debts = (
        topics["negotiation.agreements"],
        topics["negotiation.invoices"],
        topics["portfolio.debts"],
    )
    for name, order in {
        "payments before the agreements": [invoices, debts, agreements],
        "settlements before the agreements": [debts, agreements, invoices],
        "agreements, then payments, then debts": [agreements, invoices, debts],
    }.items():
        assert rebuilt(make_portal, order) == live, name
        every = [event for topic in order for event in topic]
        assert rebuilt(make_portal, one_by_one(every)) == live, name
        assert rebuilt(make_portal, [every]) == live, name


@pytest.mark.parametrize("first", ["portfolio.debts", "negotiation.agreements"])
def test_a_settled_or_withdrawn_debt_keeps_its_agreement_whichever_topic_comes_first(
    first: str,
) -> None:
    """Each topic whole in one batch, as a replay reads it: the debts' (imported, settled,
    withdrawn) before or after the agreements'."""
    events = fulfilled_on_the_portal() + withdrawn_in_agreement()
    events = [e for e in events if topic_of(e) != "negotiation.invoices"]
    mine = [e for e in events if topic_of(e) == first]
    others = [e for e in events if topic_of(e) != first]
    debts = shown(rebuilt(make_portal, [mine, others]))["debts"]
    assert debts == {
        "q1": ("settled", "qa", 102_000),
        "q2": ("open", None, 0),
        "w1": ("withdrawn", "aw", 0),
        "w2": ("in_agreement", "ax", 0),
    }
    assert debts == shown(rebuilt(make_portal, one_by_one(events)))["debts"]


def test_a_payment_waits_for_its_invoice_and_is_then_no_longer_pending(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'read.sqlite'}")
    projection = make_portal()
    projection.create_tables(engine)

    def apply(*events: Envelope) -> None:
        with engine.begin() as conn:
            projection.apply(conn, list(events))

    def pending() -> list[tuple[Any, ...]]:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.select(portal_pending_invoices))]

    apply(portal.debt("q1"))
    apply(paid_in_three("qa", 1), overdue("qa", 2, 3, 3))
    apply(paid_in_three("qa", 1))  # delivered again
    assert pending() == [("qa-inv-1", "qa", "paid", 34_000, 0), ("qa-inv-2", "qa", "overdue", 0, 3)]
    assert agreements_of(engine, AGENCY, JOAO) == []
    apply(closed_in_three("qa", ["q1"]))
    [agreement] = agreements_of(engine, AGENCY, JOAO)
    assert [(i["number"], i["status"]) for i in agreement["invoices"]] == [
        (1, "paid"),
        (2, "overdue"),
        (3, "open"),
    ]
    assert pending() == []
    apply(paid_in_three("qa", 1))  # and again, now that its invoice is here
    assert pending() == []
    engine.dispose()


def test_a_replay_reading_payments_and_settlements_first_rebuilds_what_live_built(
    tmp_path: Path,
) -> None:
    """QA's replay: the invoices' and the debts' partitions come in the batch before the
    agreements' (`cobranca replay` of every projection in one pass), into a new file."""
    events = fulfilled_on_the_portal()
    offsets: dict[str, int] = {}
    by_topic: dict[str, list[ConsumerRecord[bytes, bytes]]] = {}
    for event in events:
        topic = topic_of(event)
        offset = offsets[topic] = offsets.get(topic, -1) + 1
        by_topic.setdefault(topic, []).append(record_of(event, topic, 0, offset))
    live = rebuilt(make_portal, one_by_one(events))
    for first in ("negotiation.invoices", "portfolio.debts"):
        engine = sa.create_engine(f"sqlite:///{tmp_path / f'{first}.sqlite'}")
        projection = make_portal()
        applier = BatchApplier(projection, engine)
        order = [first] + [t for t in by_topic if t != first]
        TogetherApplier([applier], engine).apply_records(
            {TopicPartition(topic, 0): by_topic[topic] for topic in order}
        )
        [agreement] = agreements_of(engine, AGENCY, JOAO)
        assert agreement["status"] == "fulfilled"
        assert [(i["number"], i["status"], i["paid_cents"]) for i in agreement["invoices"]] == [
            (1, "paid", 34_000),
            (2, "paid", 34_000),
            (3, "paid", 34_000),
        ], first
        rows = every_row(engine, projection)
        assert shown(rows)["debts"]["q1"] == ("settled", "qa", 102_000), first
        assert rows == live, first
        engine.dispose()


# ---- the other read models that join topics ------------------------------------------------


def import_stream() -> list[Envelope]:
    return [
        imports.started(),
        imports.rejected(2, "Valor inválido"),
        imports.processed(2, 2, 1, 1),
        imports.rejected(3, "CPF inválido", index=2),
        imports.completed(3, 1, 2),
    ]


OTHERS: dict[str, tuple[Callable[[], Projection], Callable[[], list[Envelope]]]] = {
    "call list": (lambda: CallListProjection(VAULT), call_stream),
    "timeline (portal)": (lambda: TimelineProjection(VAULT), live_stream),
    "timeline (calls)": (lambda: TimelineProjection(VAULT), call_stream),
    "analytics (portal)": (AnalyticsProjection, live_stream),
    "analytics (calls)": (AnalyticsProjection, call_stream),
    "import status": (ImportStatusProjection, import_stream),
}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(OTHERS)), st.data())
def test_the_other_read_models_joining_topics_end_the_same_whichever_is_read_first(
    name: str, data: st.DataObject
) -> None:
    make, stream = OTHERS[name]
    live = rebuilt(make, one_by_one(stream()))
    assert any(live.values()), name
    assert rebuilt(make, data.draw(topic_orders(stream()))) == live, name


# ---- the timeline names an agreement's installments as its boletos do ------------------------


def closed_with_entrada(agreement_id: str, debt_ids: list[str]) -> AgreementClosed:
    """An entrada and two installments (numbers 1, 2 and 3 in the agreement)."""
    agreement = closed_in_three(agreement_id, debt_ids)
    return agreement.model_copy(
        update={
            "installments": [
                i.model_copy(update={"kind": "down_payment" if i.number == 1 else "installment"})
                for i in agreement.installments
            ]
        }
    )


def broken_with_nothing_paid(agreement_id: str) -> AgreementBroken:
    """Broken on its entrada, 31 days late, nothing paid."""
    return broken(agreement_id, ["b1"], 4).model_copy(
        update={
            "rule": "first_installment",
            "installment_number": 1,
            "paid_cents": 0,
            "debts": [BrokenAgreementDebt(debt_id="b1", paid_cents=0, balance_cents=100_000)],
        }
    )


def timeline_lines(batches: Sequence[Sequence[Envelope]]) -> list[str]:
    engine = sa.create_engine("sqlite://")
    projection = TimelineProjection(VAULT)
    projection.create_tables(engine)
    for batch in batches:
        with engine.begin() as conn:
            for events in partitions(batch).values():
                projection.apply(conn, events)
    lines = [row["summary"] for row in debtor_timeline(engine, AGENCY, JOAO)]
    engine.dispose()
    return [line for line in lines if not line.startswith("Dívida")]


@pytest.mark.parametrize("closing_read", ["first", "after its invoices"])
def test_the_timeline_names_the_entrada_and_counts_the_installments_after_it(
    closing_read: str,
) -> None:
    closing = closed_with_entrada("ae", ["e1"])
    invoices = [paid_in_three("ae", 1), paid_in_three("ae", 2), overdue("ae", 3, 5, 6)]
    batches = [[portal.debt("e1")], [closing], invoices]
    if closing_read != "first":
        batches = [[portal.debt("e1")], invoices, [closing]]

    lines = timeline_lines(batches)

    assert [line.split(":")[0] for line in lines] == [
        "Acordo fechado pelo portal",
        "Entrada paga",
        "Parcela 1 de 2 paga",
        "Parcela 2 de 2 em atraso há 5 dia(s)",
    ]


def test_a_broken_agreement_with_nothing_paid_says_so() -> None:
    lines = timeline_lines(
        [[portal.debt("b1")], [closed_with_entrada("ab", ["b1"]), broken_with_nothing_paid("ab")]]
    )
    assert lines[1:] == [
        "Acordo quebrado: entrada com 31 dias de atraso; nada foi pago, as dívidas voltam à "
        "cobrança"
    ]


def placed(event: InstallmentPaid | InvoiceOverdue) -> Envelope:
    """The event as the negotiation service publishes it now (version 2: its place in the
    plan of an entrada and two installments)."""
    model = InstallmentPaidV2 if isinstance(event, InstallmentPaid) else InvoiceOverdueV2
    return model(
        **event.model_dump(exclude={"schema_version"}),
        installment_kind="down_payment" if event.installment_number == 1 else "installment",
        installments=3,
        with_down_payment=True,
    )


def test_invoices_that_say_their_place_are_named_at_once_and_nothing_waits() -> None:
    invoices = [placed(paid_in_three("ap", 1)), placed(overdue("ap", 3, 5, 6))]
    engine = sa.create_engine("sqlite://")
    projection = TimelineProjection(VAULT)
    projection.create_tables(engine)
    with engine.begin() as conn:
        projection.apply(conn, [portal.debt("p1")])
        projection.apply(conn, invoices)  # read before the agreement's closing
        waiting = conn.execute(sa.select(timeline_unnamed_installments)).all()
    lines = [row["summary"] for row in debtor_timeline(engine, AGENCY, JOAO)]
    engine.dispose()

    assert waiting == []
    assert [line.split(":")[0] for line in lines if not line.startswith("Dívida")] == [
        "Entrada paga",
        "Parcela 2 de 2 em atraso há 5 dia(s)",
    ]
