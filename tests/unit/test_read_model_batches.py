"""The portal view and the call list write per batch: a stream applied in one batch, one event
per batch, in batches of any size or delivered twice ends with the same rows, row for row (what
a replay builds is what the live projection built)."""

from __future__ import annotations

import datetime as dt
import random
import zlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiokafka import ConsumerRecord, TopicPartition

from contracts.envelope import Envelope
from contracts.negotiation import (
    AgreementBroken,
    AgreementFulfilled,
    BrokenAgreementDebt,
    InstallmentPaid,
    InvoiceOverdue,
)
from contracts.personal import PersonalDataErased
from contracts.portfolio import DebtImported, DebtImportedV2, DebtReopened, DebtSettled
from contracts.ruler import CallResultType, CallResultTypesSaved
from contracts.topics import TOPICS
from service_runtime.personal_data import seal
from service_runtime.projection import (
    BatchApplier,
    Projection,
    TogetherApplier,
    projection_offsets,
)
from services.gateway.domain.portal_challenge import birth_date_digest
from services.gateway.read_models.call_list import CallListProjection
from services.gateway.read_models.portal_view import (
    PortalViewProjection,
    agreements_of,
    open_debts,
    portal_agreements,
    portal_debts,
    portal_invoices,
)
from services.gateway.read_models.timeline import TimelineProjection
from tests.unit import test_call_list as calls
from tests.unit import test_portal_agreements as portal
from tests.unit.test_projections import VAULT, memory_vault, record_of

AGENCY = portal.AGENCY
JOAO = portal.JOAO
DAY = dt.date(2026, 11, 25)

Rows = dict[str, list[tuple[Any, ...]]]


def every_row(engine: sa.Engine, projection: Projection) -> Rows:
    with engine.connect() as conn:
        return {
            table.name: sorted(
                (tuple(row) for row in conn.execute(sa.select(table))),
                key=repr,
            )
            for table in projection.metadata.sorted_tables
        }


def built(make: Callable[[], Projection], batches: Sequence[Sequence[Envelope]]) -> Rows:
    """The tables a fresh projection ends with after these batches, each a transaction."""
    engine = sa.create_engine("sqlite://")  # in memory: one connection, kept
    projection = make()
    projection.create_tables(engine)
    for batch in batches:
        with engine.begin() as conn:
            projection.apply(conn, list(batch))
    rows = every_row(engine, projection)
    engine.dispose()
    return rows


def cut(events: list[Envelope], rng: random.Random, largest: int) -> list[list[Envelope]]:
    """The stream in consecutive batches of 1 to `largest` events."""
    batches: list[list[Envelope]] = []
    start = 0
    while start < len(events):
        size = rng.randint(1, largest)
        batches.append(events[start : start + size])
        start += size
    return batches


def batchings(events: list[Envelope], seed: int = 7) -> Iterator[tuple[str, list[list[Envelope]]]]:
    """The same stream cut in other ways, and delivered again."""
    yield "one event per batch", [[e] for e in events]
    yield "each event twice", [[e] for e in events for _ in range(2)]
    yield "the whole batch twice", [events, events]
    rng = random.Random(seed)
    for attempt in range(2):
        cuts = cut(events, rng, 6)
        yield f"random batches ({attempt})", cuts
        # Redelivery after a failure: a batch read again from an earlier offset.
        again: list[list[Envelope]] = []
        for batch in cuts:
            again.append(batch)
            if rng.random() < 0.5:
                again.append(batch[rng.randrange(len(batch)) :])
        yield f"random batches, some read again ({attempt})", again


# ---- the portal view -----------------------------------------------------------------------


def newer(debt_id: str, version: int, amount_cents: int) -> DebtImported:
    """The creditor's carteira again, with another amount (a newer version of the debt)."""
    return portal.debt(debt_id).model_copy(
        update=portal.env(debt_id, version) | {"original_amount_cents": amount_cents}
    )


def paid(agreement_id: str, number: int, version: int) -> InstallmentPaid:
    return InstallmentPaid(
        **portal.env(agreement_id, version),
        agreement_id=agreement_id,
        invoice_id=f"{agreement_id}-inv-{number}",
        document=JOAO,
        creditor="Banco Horizonte",
        installment_number=number,
        due_date=DAY,
        amount_cents=51_000,
        paid_cents=51_000,
        paid_on=DAY,
        days_late=0,
        payment_ids=[f"p-{agreement_id}-{number}"],
    )


def overdue(agreement_id: str, number: int, days: int, version: int) -> InvoiceOverdue:
    return InvoiceOverdue(
        **portal.env(agreement_id, version),
        invoice_id=f"{agreement_id}-inv-{number}",
        agreement_id=agreement_id,
        document=JOAO,
        creditor="Banco Horizonte",
        installment_number=number,
        due_date=DAY,
        amount_cents=51_000,
        balance_cents=51_000,
        days_overdue=days,
        as_of=DAY + dt.timedelta(days=days),
    )


def broken(agreement_id: str, debt_ids: list[str], version: int) -> AgreementBroken:
    return AgreementBroken(
        **portal.env(agreement_id, version),
        agreement_id=agreement_id,
        document=JOAO,
        creditor="Banco Horizonte",
        broken_on=DAY + dt.timedelta(days=31),
        rule="later_installment",
        installment_number=2,
        days_overdue=31,
        paid_cents=51_000,
        debts=[
            BrokenAgreementDebt(debt_id=d, paid_cents=25_500, balance_cents=74_500)
            for d in debt_ids
        ],
    )


def fulfilled(agreement_id: str, debt_ids: list[str], version: int) -> AgreementFulfilled:
    return AgreementFulfilled(
        **portal.env(agreement_id, version),
        agreement_id=agreement_id,
        document=JOAO,
        creditor="Banco Horizonte",
        debt_ids=debt_ids,
        fulfilled_on=DAY + dt.timedelta(days=60),
        paid_cents=102_000,
    )


def reopened(debt_id: str, agreement_id: str, version: int) -> DebtReopened:
    return DebtReopened(
        **portal.env(debt_id, version),
        debt_id=debt_id,
        document=JOAO,
        creditor="Banco Horizonte",
        contract=f"C-{debt_id}",
        installment="1",
        agreement_id=agreement_id,
        reopened_on=DAY + dt.timedelta(days=31),
        paid_cents=25_500,
        balance_cents=74_500,
    )


def settled(debt_id: str, agreement_id: str, version: int) -> DebtSettled:
    return DebtSettled(
        **portal.env(debt_id, version),
        debt_id=debt_id,
        document=JOAO,
        creditor="Banco Horizonte",
        contract=f"C-{debt_id}",
        installment="1",
        agreement_id=agreement_id,
        settled_on=DAY + dt.timedelta(days=60),
        paid_cents=102_000,
    )


def portal_stream() -> list[Envelope]:
    """Agreements closed, paid, overdue, broken and fulfilled; debts reopened, settled,
    imported after their agreement and sent again, in the order they happen."""
    return [
        portal.debt("d1"),
        portal.debt("d2"),
        portal.debt("d3"),
        # a1 holds d1 and d2: one invoice paid, the other overdue (a lower count is older
        # news), then broken; the debts come back with what was paid.
        portal.closed("a1", ["d1", "d2"]),
        paid("a1", 1, 2),
        overdue("a1", 2, 5, 3),
        overdue("a1", 2, 3, 4),
        broken("a1", ["d1", "d2"], 5),
        reopened("d1", "a1", 2),
        reopened("d2", "a1", 2),
        # d1 again in a2, fulfilled and settled; an overdue after the payment changes nothing.
        portal.closed("a2", ["d1"]),
        paid("a2", 1, 2),
        paid("a2", 2, 3),
        overdue("a2", 2, 4, 4),
        fulfilled("a2", ["d1"], 5),
        settled("d1", "a2", 3),
        # a3 closed before one of its debts is imported; the other is sent again.
        portal.closed("a3", ["d3", "d5"]),
        portal.debt("d5"),
        newer("d3", 2, 120_000),
        # a4 is closed and broken (d2 comes back again), a5 closed and left active.
        portal.closed("a4", ["d2"]),
        broken("a4", ["d2"], 5),
        reopened("d2", "a4", 3),
        portal.closed("a5", ["d2"]),
    ]


def make_portal() -> Projection:
    return PortalViewProjection(VAULT)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[sa.Engine]:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'read.sqlite'}")
    PortalViewProjection(VAULT).create_tables(engine)
    yield engine
    engine.dispose()


def test_the_portal_view_ends_the_same_however_the_stream_is_batched() -> None:
    events = portal_stream()
    expected = built(make_portal, [events])
    assert len(expected["portal_agreements"]) == 5
    assert len(expected["portal_invoices"]) == 10
    for name, batches in batchings(events):
        assert built(make_portal, batches) == expected, name


def test_what_the_portal_view_shows_at_the_end_of_the_stream(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        PortalViewProjection(VAULT).apply(conn, portal_stream())
    with engine.connect() as conn:
        debts = {
            r.debt_id: (r.status, r.agreement_id, r.paid_cents, r.original_amount_cents)
            for r in conn.execute(sa.select(portal_debts))
        }
        agreements = {
            r.agreement_id: (r.status, r.ended_on)
            for r in conn.execute(sa.select(portal_agreements))
        }
        invoices = {
            r.invoice_id: (r.status, r.paid_cents, r.days_overdue)
            for r in conn.execute(sa.select(portal_invoices))
        }
    assert debts == {
        "d1": ("settled", "a2", 102_000, 100_000),
        "d2": ("in_agreement", "a5", 25_500, 100_000),
        "d3": ("in_agreement", "a3", 0, 120_000),
        "d5": ("in_agreement", "a3", 0, 100_000),
    }
    assert agreements == {
        "a1": ("broken", DAY + dt.timedelta(days=31)),
        "a2": ("fulfilled", DAY + dt.timedelta(days=60)),
        "a3": ("active", None),
        "a4": ("broken", DAY + dt.timedelta(days=31)),
        "a5": ("active", None),
    }
    assert invoices["a1-inv-1"] == ("paid", 51_000, 0)
    assert invoices["a1-inv-2"] == ("overdue", 0, 5)
    assert invoices["a2-inv-2"] == ("paid", 51_000, 0)
    assert invoices["a5-inv-1"] == ("open", 0, 0)


def test_an_agreement_closed_broken_and_reopened_in_one_batch_gives_the_debt_back(
    engine: sa.Engine,
) -> None:
    with engine.begin() as conn:
        PortalViewProjection(VAULT).apply(conn, [portal.debt("d1"), portal.debt("d2")])
    batch: list[Envelope] = [
        portal.closed("a1", ["d1"]),
        paid("a1", 1, 2),
        broken("a1", ["d1"], 3),
        reopened("d1", "a1", 2),
        portal.closed("a2", ["d2"]),  # its end must not take d2 with it
    ]
    for _ in range(2):  # delivered twice: nothing more changes
        with engine.begin() as conn:
            PortalViewProjection(VAULT).apply(conn, batch)
        debts = {d["debt_id"]: d for d in open_debts(engine, AGENCY, JOAO)}
        assert list(debts) == ["d1"]
        assert (debts["d1"]["paid_cents"], debts["d1"]["balance_cents"]) == (25_500, 74_500)
        shown = {a["agreement_id"]: a for a in agreements_of(engine, AGENCY, JOAO)}
        assert (shown["a1"]["status"], shown["a2"]["status"]) == ("broken", "active")
        # Its unpaid installment went with it: cancelled, no longer to pay.
        assert [i["status"] for i in shown["a1"]["invoices"]] == ["paid", "cancelled"]


def test_an_end_read_before_its_agreement_changes_nothing_as_one_event_at_a_time(
    engine: sa.Engine,
) -> None:
    stream: list[Envelope] = [portal.debt("d1"), broken("a1", ["d1"], 3), paid("a1", 1, 2)]
    stream += [portal.closed("a1", ["d1"])]
    with engine.begin() as conn:
        PortalViewProjection(VAULT).apply(conn, stream)
    [agreement] = agreements_of(engine, AGENCY, JOAO)
    assert agreement["status"] == "active"
    # The payment comes from another topic: kept until its invoice comes, then applied.
    assert [i["status"] for i in agreement["invoices"]] == ["paid", "open"]
    assert open_debts(engine, AGENCY, JOAO) == []
    assert built(make_portal, [[e] for e in stream]) == every_row(engine, make_portal())


# ---- the call list -------------------------------------------------------------------------


def results_saved(version: int, label: str) -> CallResultTypesSaved:
    return CallResultTypesSaved(
        **calls.env("results", version),
        result_types=[
            CallResultType(code="no_answer", label=label),
            CallResultType(code="paid", label="Pagou", removes_from_list=True),
        ],
        saved_by="ana.admin",
    )


def call_stream() -> list[Envelope]:
    M, J, C = calls.MARIA, calls.JOAO, calls.CARLA
    later = calls.TODAY + dt.timedelta(days=3)
    return [
        calls.debt("m1", M, 100_000, 40),
        calls.debt("m2", M, 50_000, 20),
        calls.debt("j1", J, 300_000, 40),
        calls.saved(stages=["notice", "questioning"]),
        results_saved(1, "Não atende"),
        calls.advanced("m1", M, "notice", campaign_id="camp"),
        calls.advanced("m2", M, "questioning"),
        calls.advanced("m2", M, "notice"),  # an older stage: the later one stays
        calls.advanced("j1", J, "notice", on_date=later),
        # ca1: closed, broken and m2 reopened, all in a row. (Agreements of their own: the
        # portal stream's a1 and a2 would share their events' ids when both are replayed.)
        calls.closed("ca1", M, ["m2"]),
        calls.broken("ca1", M, "m2", 20_000),
        calls.reopened("m2", M, 20_000, 30_000).model_copy(update={"agreement_id": "ca1"}),
        calls.left("m2", M, "renegotiated", later),
        # ca2: closed for a debt imported after it, then fulfilled; j1 settled.
        calls.closed("ca2", C, ["c1"]),
        calls.debt("c1", C, 70_000, 40),
        AgreementFulfilled(
            **calls.env("ca2", 4),
            agreement_id="ca2",
            document=C,
            creditor=calls.HORIZONTE,
            debt_ids=["c1"],
            fulfilled_on=later,
            paid_cents=70_000,
        ),
        calls.settled("j1", J),
        calls.saved(version=2, stages=["notice"]),
        calls.saved(version=1, stages=["questioning"]),  # older: changes nothing
        results_saved(2, "Não atendeu"),
        calls.call("k1", M, calls.NO_ANSWER, 1),
        calls.call("k2", C, calls.WRONG_NUMBER, 2),
        calls.call("k1", M, calls.NO_ANSWER, 1),  # delivered again
        # Carla's listing held for want of a notice (read before the stage that brought it),
        # then listed once noticed; Maria's m1 held.
        calls.bureau("c2", C, held=True, on_date=later),
        calls.debt("c2", C, 40_000, 40),
        calls.advanced("c2", C, "credit_bureau", on_date=later),
        calls.bureau("c2", C, held=False, on_date=later + dt.timedelta(days=10)),
        calls.advanced("m1", M, "credit_bureau", on_date=later),
        calls.bureau("m1", M, held=True, on_date=later),
    ]


def make_calls() -> Projection:
    return CallListProjection(VAULT)


def test_the_call_list_ends_the_same_however_the_stream_is_batched() -> None:
    events = call_stream()
    expected = built(make_calls, [events])
    debts = {row[0]: row for row in expected["call_debts"]}
    columns = [c.name for c in CallListProjection.metadata.tables["call_debts"].columns]
    names = ("status", "stage", "paid_cents", "amount_cents", "listing_held")
    at = {name: columns.index(name) for name in names}
    assert {d: tuple(row[at[n]] for n in names) for d, row in debts.items()} == {
        "m1": ("open", "credit_bureau", 0, 100_000, True),
        "m2": ("open", "current", 20_000, 30_000, False),
        "j1": ("settled", "notice", 0, 0, False),
        "c1": ("settled", "current", 0, 0, False),
        "c2": ("open", "credit_bureau", 0, 40_000, False),
    }
    assert [(a, s) for a, _, s in expected["call_agreements"]] == [
        ("ca1", "broken"),
        ("ca2", "fulfilled"),
    ]
    assert len(expected["campaign_calls"]) == 2
    for name, batches in batchings(events):
        assert built(make_calls, batches) == expected, name


def test_a_debt_the_creditor_withdrew_is_not_offered_on_the_portal_any_more(
    engine: sa.Engine,
) -> None:
    withdrawal = calls.withdrawn("d2", JOAO).model_copy(update={"creditor": "Banco Horizonte"})
    stream: list[Envelope] = [
        portal.debt("d1"),
        portal.debt("d2"),
        withdrawal,
        newer("d2", 3, 90_000),  # a correction from the creditor: still withdrawn
        portal.closed("a1", ["d1", "d2"]),  # an agreement's refresh does not reopen it
        broken("a1", ["d1", "d2"], 5),
    ]
    for name, batches in batchings(stream):
        assert built(make_portal, batches) == built(make_portal, [stream]), name
    with engine.begin() as conn:
        PortalViewProjection(VAULT).apply(conn, stream)
    with engine.connect() as conn:
        status = {r.debt_id: r.status for r in conn.execute(sa.select(portal_debts))}
    assert status == {"d1": "open", "d2": "withdrawn"}
    assert [d["debt_id"] for d in open_debts(engine, AGENCY, JOAO)] == ["d1"]


# ---- the portal view's digests of dates of birth -------------------------------------------


def test_the_digests_of_dates_of_birth_end_the_same_however_the_stream_is_batched() -> None:
    """Maria's carteira rows bring her date, corrected once; Carlos's come again with an older
    version read late; Wesley's have none; Maria's data is erased and her creditor sends her
    again (a new key, new data): each debt ends with the digest its newest version gives."""
    vault = memory_vault()
    maria, carlos, wesley = JOAO, "39053344705", "12299899430"

    def sealed_debt(
        debt_id: str, document: str, born: dt.date | None, version: int = 1
    ) -> DebtImportedV2:
        fields: dict[str, Any] = {"name": "Nome Qualquer", "email": None, "phone": None}
        if born is not None:
            fields["birth_date"] = born.isoformat()
        return DebtImportedV2(
            **portal.env(debt_id, version),
            debt_id=debt_id,
            document=document,
            document_kind="cpf",
            personal=seal(vault.key_for(AGENCY, document), fields),
            creditor="Banco Horizonte",
            contract=f"C-{debt_id}",
            installment="1",
            original_amount_cents=100_000,
            due_date=DAY,
            import_id="imp",
            row_key=debt_id,
        )

    born, fixed = dt.date(1980, 5, 17), dt.date(1980, 5, 18)
    stream: list[Envelope] = [
        sealed_debt("m1", maria, born),
        sealed_debt("m2", maria, born),
        sealed_debt("c1", carlos, dt.date(1975, 1, 2)),
        sealed_debt("w1", wesley, None),
        sealed_debt("c1", carlos, dt.date(1975, 2, 1), version=2),
        sealed_debt("m1", maria, fixed, version=2),
    ]
    stream.append(stream[2])  # Carlos's first version, read again late: older, ignored
    erased = vault.erase(AGENCY, maria, by="admin", at=portal.AT)
    stream.append(
        PersonalDataErased(
            **portal.env("erasures", 1),
            document=maria,
            key_ids=erased,
            requested_by="admin",
            reason="pedido do titular",
        )
    )
    stream.append(sealed_debt("m3", maria, fixed))  # sent again: her new key

    def make() -> Projection:
        return PortalViewProjection(vault, "chave-do-gateway")

    expected = built(make, [stream])
    columns = [c.name for c in portal_debts.columns]
    at = columns.index("birth_date_digest")
    digests = {row[0]: row[at] for row in expected["portal_debts"]}
    assert digests == {
        "m1": None,  # erased
        "m2": None,
        "m3": birth_date_digest("chave-do-gateway", AGENCY, maria, fixed),
        "c1": birth_date_digest("chave-do-gateway", AGENCY, carlos, dt.date(1975, 2, 1)),
        "w1": None,
    }
    for name, batches in batchings(stream):
        assert built(make, batches) == expected, name


# --- `cobranca replay` of several projections in one pass ------------------------------------


def topic_of(event: Envelope) -> str:
    return next(spec.name for spec in TOPICS if type(event) in spec.events)


def test_projections_replayed_together_end_as_each_replayed_alone(tmp_path: Path) -> None:
    """One pass reads and parses each record once for all the projections: each ends with the
    rows and positions it ends with replayed on its own, however the records are batched."""
    events = portal_stream() + call_stream()
    rng = random.Random(11)
    offsets: dict[str, int] = {}
    records: list[tuple[TopicPartition, ConsumerRecord[bytes, bytes]]] = []
    for event in events:
        topic = topic_of(event)
        # By its key, as the outbox publishes it: one aggregate's events stay in order.
        partition = zlib.crc32(event.partition_key()) % 2
        offset = offsets[f"{topic}/{partition}"] = offsets.get(f"{topic}/{partition}", -1) + 1
        records.append(
            (TopicPartition(topic, partition), record_of(event, topic, partition, offset))
        )
    makers = (make_portal, make_calls, lambda: TimelineProjection(VAULT))

    def replayed(together: bool, largest: int) -> tuple[list[Rows], list[Any]]:
        engine = sa.create_engine(f"sqlite:///{tmp_path / f'{together}-{largest}.sqlite'}")
        projections = [make() for make in makers]
        for projection in projections:
            projection.create_tables(engine)
        appliers = [BatchApplier(projection, engine) for projection in projections]
        start = 0
        while start < len(records):
            size = rng.randint(1, largest)
            batch: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]] = {}
            for tp, rec in records[start : start + size]:
                batch.setdefault(tp, []).append(rec)
            start += size
            if together:
                TogetherApplier(appliers, engine).apply_records(batch)
            else:
                for applier in appliers:
                    mine = {tp: r for tp, r in batch.items() if tp.topic in applier.topics}
                    if mine:
                        applier.apply_records(mine)
        rows = [every_row(engine, projection) for projection in projections]
        with engine.connect() as conn:
            positions = sorted(tuple(r) for r in conn.execute(sa.select(projection_offsets)))
        engine.dispose()
        return rows, positions

    alone = replayed(False, len(records))
    assert alone[0][0]["portal_agreements"] and alone[0][1]["call_debts"]
    assert {p[0] for p in alone[1]} == {"portal_view", "call_list", "timeline"}
    for largest in (1, 3, len(records)):
        assert replayed(True, largest) == alone, largest
