"""The ruler's receivables are written per batch: a stream applied in one batch, one event per
batch, in batches of any size or delivered again ends with the same rows, row for row, and
hands the application the same exits and reentries as applying its events one at a time;
and a batch costs a few statements and one query to the key vault, whatever its size."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator, Sequence
from typing import Any, cast

import pytest
import sqlalchemy as sa
from aiokafka import ConsumerRecord, TopicPartition

from contracts.envelope import Envelope
from contracts.negotiation import (
    AgreementBroken,
    AgreementClosed,
    AgreementClosedV2,
    AgreementInstallment,
    BrokenAgreementDebt,
    InstallmentPaid,
    PaymentReceived,
)
from contracts.personal import PersonalDataErased, SealedPersonalData
from contracts.portfolio import (
    DEBTS_TOPIC,
    DebtImported,
    DebtImportedV2,
    DebtorContact,
    DebtReopened,
    DebtSettled,
    DebtUpdated,
    DebtUpdatedV2,
    DebtWithdrawn,
)
from service_runtime.personal_data import REMOVED, KeyVault, SqlKeyVault, seal
from services.ruler.adapters.consumers import ReceivablesApplier
from services.ruler.adapters.receivables import Exit, ReceivablesTable, Reentry, metadata
from services.ruler.application import RulerApplication
from tests.unit.test_projections import memory_vault
from tests.unit.test_read_model_batches import cut
from tests.unit.test_ruler_app import AGENCY, AT, DUE, JOAO, agreement_fields, env

MARIA = "11144477735"
PEDRO = "39053344705"
NAMES = {JOAO: "João da Silva", MARIA: "Maria Souza", PEDRO: "Pedro Lima"}
CLOSED_ON = DUE + dt.timedelta(days=13)

Rows = dict[str, list[tuple[Any, ...]]]
Moves = tuple[list[Exit], list[Reentry]]


# ---- events --------------------------------------------------------------------------------


def contact(document: str) -> DebtorContact:
    return DebtorContact(name=NAMES[document], phone="(11) 98765-4321")


def sealed(vault: KeyVault, document: str, field: str = "name") -> SealedPersonalData:
    return seal(vault.key_for(AGENCY, document), {field: NAMES[document], "phone": None})


def debt_fields(debt_id: str, document: str, version: int, amount: int) -> dict[str, Any]:
    return {
        **env(debt_id, version),
        "debt_id": debt_id,
        "document": document,
        "document_kind": "cpf",
        "creditor": "Banco Horizonte",
        "contract": f"C-{debt_id}",
        "installment": "1",
        "original_amount_cents": amount,
        "due_date": DUE,
        "import_id": "imp",
        "row_key": debt_id,
    }


def imported(debt_id: str, document: str, version: int = 1, amount: int = 100_000) -> DebtImported:
    """Version 1: the name in clear."""
    return DebtImported(**debt_fields(debt_id, document, version, amount), debtor=contact(document))


def imported_v2(
    sealed_with: SealedPersonalData,
    debt_id: str,
    document: str,
    version: int = 1,
    amount: int = 100_000,
) -> DebtImportedV2:
    return DebtImportedV2(**debt_fields(debt_id, document, version, amount), personal=sealed_with)


def updated(debt_id: str, document: str, version: int, amount: int) -> DebtUpdated:
    return DebtUpdated(
        **debt_fields(debt_id, document, version, amount),
        changes=[],
        debtor=contact(document),
        category="cartao",
    )


def updated_v2(
    sealed_with: SealedPersonalData, debt_id: str, document: str, version: int, amount: int
) -> DebtUpdatedV2:
    return DebtUpdatedV2(
        **debt_fields(debt_id, document, version, amount),
        changes=[],
        personal=sealed_with,
        category="cartao",
    )


def installments(agreement_id: str, count: int) -> list[AgreementInstallment]:
    return [
        AgreementInstallment(
            number=n,
            due_date=CLOSED_ON + dt.timedelta(days=30 * n),
            amount_cents=34_000 + n,
            invoice_id=f"{agreement_id}-inv-{n}",
            nosso_numero=str(n),
            barcode="1" * 44,
            digitable_line="1" * 47,
            pix_txid=f"TX{n}",
            pix_code="000201",
        )
        for n in range(1, count + 1)
    ]


def closing(agreement_id: str, document: str, debt_ids: list[str], count: int) -> dict[str, Any]:
    return agreement_fields(CLOSED_ON) | {
        **env(agreement_id, 1),
        "agreement_id": agreement_id,
        "document": document,
        "debt_ids": debt_ids,
        "installments": installments(agreement_id, count),
    }


def paid(agreement_id: str, number: int) -> InstallmentPaid:
    return InstallmentPaid(
        **env(agreement_id, 2),
        agreement_id=agreement_id,
        invoice_id=f"{agreement_id}-inv-{number}",
        document=JOAO,
        creditor="Banco Horizonte",
        installment_number=number,
        due_date=CLOSED_ON,
        amount_cents=34_001,
        paid_cents=34_001,
        paid_on=CLOSED_ON + dt.timedelta(days=30),
        days_late=0,
        payment_ids=[f"p-{agreement_id}-{number}"],
    )


def broken(agreement_id: str, document: str, debt_ids: list[str]) -> AgreementBroken:
    return AgreementBroken(
        **env(agreement_id, 3),
        agreement_id=agreement_id,
        document=document,
        creditor="Banco Horizonte",
        broken_on=CLOSED_ON + dt.timedelta(days=70),
        rule="later_installment",
        installment_number=2,
        days_overdue=10,
        paid_cents=34_001,
        debts=[BrokenAgreementDebt(debt_id=d, paid_cents=0, balance_cents=1) for d in debt_ids],
    )


def reopened(debt_id: str, document: str, version: int, balance: int) -> DebtReopened:
    return DebtReopened(
        **env(debt_id, version),
        debt_id=debt_id,
        document=document,
        creditor="Banco Horizonte",
        contract=f"C-{debt_id}",
        installment="1",
        agreement_id="a",
        reopened_on=CLOSED_ON + dt.timedelta(days=71),
        paid_cents=100_000 - balance,
        balance_cents=balance,
    )


def settled(debt_id: str, version: int) -> DebtSettled:
    return DebtSettled(
        **env(debt_id, version),
        debt_id=debt_id,
        document=JOAO,
        creditor="Banco Horizonte",
        contract=f"C-{debt_id}",
        installment="1",
        agreement_id="a0",
        settled_on=DUE + dt.timedelta(days=40),
        paid_cents=100_000,
    )


def withdrawn(debt_id: str, document: str, version: int) -> DebtWithdrawn:
    return DebtWithdrawn(
        **env(debt_id, version),
        debt_id=debt_id,
        document=document,
        creditor="Banco Horizonte",
        contract=f"C-{debt_id}",
        installment="1",
        reason="returned",
        withdrawn_on=DUE + dt.timedelta(days=50),
        import_id="devolucao",
        row_key=debt_id,
    )


def erased(document: str, key_ids: list[str]) -> PersonalDataErased:
    return PersonalDataErased(
        **env(document, 1),
        document=document,
        key_ids=key_ids,
        requested_by="admin",
        reason="pedido do titular",
    )


def partial(agreement_id: str, number: int, payment: str, balance: int) -> PaymentReceived:
    """A payment that leaves `balance` of the installment to pay."""
    return PaymentReceived(
        **env(payment, 1),
        payment_id=payment,
        source="api",
        reference=payment,
        invoice_id=f"{agreement_id}-inv-{number}",
        agreement_id=agreement_id,
        document=JOAO,
        amount_cents=34_000 + number - balance,
        paid_on=CLOSED_ON,
        outcome="partial",
        applied_cents=34_000 + number - balance,
        balance_cents=balance,
        credit_cents=0,
    )


# ---- the stream ----------------------------------------------------------------------------


class Stream:
    """Debts of three debtors imported, changed, renegotiated, paid, broken, reopened, settled
    and withdrawn, and two erasures: João's keys erased in the vault (his sealed data does not
    open any more; new data gets a new key), Maria's erasure not yet known to this process's
    vault (her data opens until the erasure is read in the stream)."""

    def __init__(self) -> None:
        self.vault = memory_vault()
        vault = self.vault
        joao_old = sealed(vault, JOAO)
        joao_agreement = sealed(vault, JOAO, "debtor_name")
        maria = sealed(vault, MARIA)
        pedro = sealed(vault, PEDRO)
        maria_key = maria.key_id
        joao_erasure = erased(JOAO, vault.erase(AGENCY, JOAO, by="admin", at=AT))
        joao_new = sealed(vault, JOAO)  # a new key: data the creditor sent after the erasure
        # Sealed under Pedro's key id, with another debtor's key: it does not open.
        unreadable = SealedPersonalData(key_id=pedro.key_id, ciphertext=maria.ciphertext)
        # Stored before the stream, a stage reached by each (the daily run).
        self.before: list[Envelope] = [
            imported("d0", JOAO),
            imported_v2(maria, "m0", MARIA),
        ]
        self.stages = {"d0": "notice", "m0": "questioning"}
        self.events: list[Envelope] = [
            imported("d1", JOAO),
            imported_v2(joao_old, "d2", JOAO),
            imported_v2(maria, "m1", MARIA),
            imported_v2(pedro, "p1", PEDRO),
            updated_v2(joao_old, "d2", JOAO, 2, 90_000),
            imported("d1", JOAO),  # the same version again
            AgreementClosedV2(**closing("a1", JOAO, ["d0", "d1"], 3), personal=joao_agreement),
            paid("a1", 1),
            broken("a1", JOAO, ["d0", "d1"]),
            reopened("d1", JOAO, 4, 65_999),
            reopened("d0", JOAO, 4, 50_000),
            settled("d2", 3),
            withdrawn("p1", PEDRO, 2),
            AgreementClosed(**closing("a2", MARIA, ["m0", "m1"], 1), debtor_name=NAMES[MARIA]),
            withdrawn("m1", MARIA, 3),
            imported_v2(joao_new, "d3", JOAO),
            joao_erasure,
            updated("d1", JOAO, 5, 61_000),  # in clear, after the erasure
            imported_v2(joao_old, "d4", JOAO),  # old data read late: the key is gone
            imported_v2(joao_new, "d5", JOAO),  # new data
            partial("a3", 2, "pay-2", 20_000),  # read before its installment
            AgreementClosed(**closing("a3", JOAO, ["d5"], 2), debtor_name=NAMES[JOAO]),
            partial("a3", 1, "pay-1", 30_000),
            updated_v2(maria, "m0", MARIA, 2, 80_000),  # before Maria's erasure: opens
            erased(MARIA, [maria_key]),
            updated_v2(maria, "m0", MARIA, 3, 70_000),  # after it: her key is erased here
            broken("a2", MARIA, ["m0", "m1"]),
            reopened("m1", MARIA, 4, 1),  # withdrawn: never comes back
            reopened("m0", MARIA, 4, 60_000),
            imported_v2(unreadable, "b1", PEDRO),
            updated_v2(joao_old, "d2", JOAO, 1, 95_000),  # an older version, late
            imported("q1", PEDRO),
            partial("a3", 2, "pay-0", 30_000),  # an earlier payment, read late
        ]


class Run:
    """A fresh ruler database and a fresh vault client (an empty cache) on the stream's keys,
    applying batches as the ruler's consumer does."""

    def __init__(self, stream: Stream) -> None:
        self.engine = sa.create_engine("sqlite://")  # in memory: one connection, kept
        self.table = ReceivablesTable(self.engine, SqlKeyVault(stream.vault.engine))
        self.exits: list[Exit] = []
        self.reentries: list[Reentry] = []
        self.apply(stream.before)
        for receivable_id, stage in stream.stages.items():
            self.table.set_stage(receivable_id, stage)

    def apply(self, batch: Sequence[Envelope]) -> None:
        self.table.prepare(batch)
        with self.engine.begin() as conn:
            exits, reentries = self.table.apply(conn, list(batch))
        self.exits += exits
        self.reentries += reentries

    def rows(self) -> Rows:
        with self.engine.connect() as conn:
            return {
                table.name: sorted((tuple(r) for r in conn.execute(sa.select(table))), key=repr)
                for table in metadata.sorted_tables
            }

    def names(self) -> dict[str, str]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT receivable_id, debtor_name FROM ruler_receivables"))
            return {r.receivable_id: r.debtor_name for r in rows}


def built(stream: Stream, batches: Sequence[Sequence[Envelope]]) -> tuple[Rows, Moves]:
    run = Run(stream)
    for batch in batches:
        run.apply(batch)
    rows = run.rows()
    run.engine.dispose()
    return rows, (run.exits, run.reentries)


def batchings(events: list[Envelope], seed: int = 11) -> Iterator[tuple[str, list[list[Envelope]]]]:
    """The same stream cut in other ways: each gives what its events give one at a time."""
    yield "one batch", [events]
    rng = random.Random(seed)
    for attempt in range(6):
        yield f"random batches ({attempt})", cut(events, rng, rng.choice([2, 4, 8, 16]))


@pytest.fixture(scope="module")
def stream() -> Stream:
    return Stream()


@pytest.fixture(scope="module")
def one_at_a_time(stream: Stream) -> tuple[Rows, Moves]:
    return built(stream, [[e] for e in stream.events])


def test_the_stream_ends_the_same_however_it_is_batched(
    stream: Stream, one_at_a_time: tuple[Rows, Moves]
) -> None:
    for how, batches in batchings(stream.events):
        assert built(stream, batches) == one_at_a_time, how


def test_events_delivered_twice_change_nothing(
    stream: Stream, one_at_a_time: tuple[Rows, Moves]
) -> None:
    twice = [e for e in stream.events for _ in range(2)]
    assert built(stream, [[e] for e in twice]) == one_at_a_time
    assert built(stream, [twice]) == one_at_a_time
    rng = random.Random(5)
    for _ in range(3):
        assert built(stream, cut(twice, rng, 8)) == one_at_a_time


def test_a_batch_read_again_ends_as_its_events_read_again_one_at_a_time(stream: Stream) -> None:
    """After a failure, a batch is read again from an earlier offset (the whole stream again,
    after the broker lost its log): the same as those events, one at a time."""
    rng = random.Random(3)
    for attempt in range(4):
        batches: list[list[Envelope]] = []
        for batch in cut(stream.events, rng, 6):
            batches.append(batch)
            if rng.random() < 0.5:
                batches.append(batch[rng.randrange(len(batch)) :])
        if attempt == 0:
            batches = [stream.events, stream.events]
        alone = built(stream, [[e] for batch in batches for e in batch])
        assert built(stream, batches) == alone, attempt


def test_what_the_stream_leaves_and_hands_to_the_application(
    one_at_a_time: tuple[Rows, Moves],
) -> None:
    rows, (exits, reentries) = one_at_a_time
    by_id = {r[0]: r for r in rows["ruler_receivables"]}
    columns = [c.name for c in metadata.tables["ruler_receivables"].columns]

    def value(receivable_id: str, column: str) -> Any:
        return by_id[receivable_id][columns.index(column)]

    assert {i: value(i, "status") for i in by_id} == {
        "d0": "open",
        "d1": "open",
        "d2": "settled",
        "d3": "open",
        "d4": "open",
        "d5": "in_agreement",
        "m0": "open",
        "m1": "cancelled",
        "p1": "cancelled",
        "b1": "open",
        "q1": "open",
        "a1-inv-1": "paid",
        "a1-inv-2": "cancelled",
        "a1-inv-3": "cancelled",
        "a2-inv-1": "cancelled",
        "a3-inv-1": "open",
        "a3-inv-2": "open",
    }
    assert {i: value(i, "debtor_name") for i in by_id} == {
        # João's rows when the erasure came, his old data read after it (sealed under an
        # erased key, or in clear), removed; what the creditor sealed since, under a new key,
        # is shown.
        **dict.fromkeys(["d0", "d1", "d2", "d3", "d4", "a3-inv-1", "a3-inv-2"], REMOVED),
        **dict.fromkeys(["a1-inv-1", "a1-inv-2", "a1-inv-3"], REMOVED),
        "d5": NAMES[JOAO],
        **dict.fromkeys(["m0", "m1", "a2-inv-1"], REMOVED),
        **dict.fromkeys(["p1", "q1"], NAMES[PEDRO]),
        "b1": REMOVED,  # does not open
    }
    # The newest version of each debt; a reopened one owes its balance, from the first stage,
    # and re-imported (R$ 610,00) still less what was paid before (R$ 340,01).
    assert (value("d1", "amount_cents"), value("d1", "version")) == (26_999, 5)
    assert value("d1", "paid_cents") == 34_001
    assert (value("d2", "amount_cents"), value("d2", "version")) == (90_000, 2)
    assert (value("m0", "amount_cents"), value("m0", "stage")) == (60_000, "current")
    assert (value("d0", "amount_cents"), value("d0", "stage")) == (50_000, "current")
    # Installments paid in part owe the lowest balance their payments said, the one read
    # before the closing included, the earlier one read late changing nothing.
    assert [
        (value(i, "amount_cents"), value(i, "paid_cents")) for i in ("a3-inv-1", "a3-inv-2")
    ] == [
        (30_000, 4_001),
        (20_000, 14_002),
    ]
    assert [(e.row.receivable_id, e.reason, e.row.status, e.row.stage) for e in exits] == [
        ("d0", "renegotiated", "open", "notice"),
        ("d1", "renegotiated", "open", "current"),
        ("a1-inv-1", "paid", "open", "current"),
        ("a1-inv-2", "cancelled", "open", "current"),
        ("a1-inv-3", "cancelled", "open", "current"),
        ("d2", "settled", "open", "current"),
        ("p1", "cancelled", "open", "current"),
        ("m0", "renegotiated", "open", "questioning"),
        ("m1", "renegotiated", "open", "current"),
        ("d5", "renegotiated", "open", "current"),
        ("a2-inv-1", "cancelled", "open", "current"),
    ]
    # The rows as they were when they left: the name still there before the erasure.
    assert exits[0].row.debtor_name == NAMES[JOAO]
    assert exits[7].row.debtor_name == NAMES[MARIA]
    assert exits[-1].row.debtor_name == REMOVED
    assert [
        (r.row.receivable_id, r.row.status, r.row.amount_cents, r.row.debtor_name)
        for r in reentries
    ] == [
        ("d1", "open", 65_999, NAMES[JOAO]),
        ("d0", "open", 50_000, NAMES[JOAO]),
        ("m0", "open", 60_000, REMOVED),
    ]


# ---- what a batch costs ----------------------------------------------------------------------


class Recorded:
    """The application's side of the consumer: the moves it is handed."""

    def __init__(self) -> None:
        self.moves: list[Moves] = []

    def handle_moves(self, exits: list[Exit], reentries: list[Reentry], today: Any) -> int:
        self.moves.append((exits, reentries))
        return len(exits) + len(reentries)


def record(event: Envelope, offset: int) -> ConsumerRecord[Any, Any]:
    value = event.model_dump_json().encode()
    return ConsumerRecord(
        topic=DEBTS_TOPIC,
        partition=0,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=None,
        value=value,
        checksum=None,
        serialized_key_size=0,
        serialized_value_size=len(value),
        headers=[("event-id", str(event.event_id).encode())],
    )


def statements(engine: sa.Engine) -> list[str]:
    seen: list[str] = []
    sa.event.listen(engine, "before_cursor_execute", lambda *args: seen.append(args[2]))
    return seen


@pytest.mark.parametrize("size", [3, 400])
def test_a_batch_of_new_debtors_costs_a_few_statements_and_one_vault_query(size: int) -> None:
    portfolio = memory_vault()
    documents = [f"{n:011d}" for n in range(size)]
    keys = portfolio.keys_for(AGENCY, documents)
    events = [
        imported_v2(seal(keys[d], {"name": f"Devedor {n}"}), f"x{n}", d)
        for n, d in enumerate(documents)
    ]
    engine = sa.create_engine("sqlite://")
    vault = SqlKeyVault(portfolio.engine)  # the ruler's client: nothing cached yet
    table = ReceivablesTable(engine, vault)
    app = Recorded()
    applier = ReceivablesApplier(cast(RulerApplication, app), table, engine, lambda: DUE)
    ruler_sql, vault_sql = statements(engine), statements(vault.engine)

    applier.apply_records(
        {TopicPartition(DEBTS_TOPIC, 0): [record(e, n) for n, e in enumerate(events)]}
    )

    assert len(vault_sql) == 1  # the batch's secrets at once
    # Read the rows, and the erasures of their keys; insert the new rows; store the position:
    # as many statements for 3 events as for 400.
    assert [sql.split()[0] for sql in ruler_sql] == ["SELECT", "SELECT", "INSERT", "INSERT"]
    assert app.moves == []
    with engine.connect() as conn:
        found = conn.execute(sa.text("SELECT receivable_id, debtor_name FROM ruler_receivables"))
        names = {r.receivable_id: r.debtor_name for r in found}
    assert names == {f"x{n}": f"Devedor {n}" for n in range(size)}


def test_the_applier_hands_the_batchs_moves_to_the_application(stream: Stream) -> None:
    engine = sa.create_engine("sqlite://")
    table = ReceivablesTable(engine, SqlKeyVault(stream.vault.engine))
    app = Recorded()
    applier = ReceivablesApplier(cast(RulerApplication, app), table, engine, lambda: DUE)
    events = [*stream.before, *stream.events]

    applier.apply_records(
        {TopicPartition(DEBTS_TOPIC, 0): [record(e, n) for n, e in enumerate(events)]}
    )

    [(exits, reentries)] = app.moves
    assert [e.row.receivable_id for e in exits][:3] == ["d0", "d1", "a1-inv-1"]
    assert [r.row.receivable_id for r in reentries] == ["d1", "d0", "m0"]


def test_the_whole_stream_read_again_from_the_start_leaves_the_rows_of_one_reading(
    stream: Stream, one_at_a_time: tuple[Rows, Moves]
) -> None:
    """The broker lost its log and the relays published everything again: the consumer reads
    every partition from the start. A closing read again must not take out a debt that its
    agreement's break brought back, nor anything else move: the rows are those of one
    reading, and the second reading hands the application nothing new."""
    rows, (exits, reentries) = one_at_a_time
    again_rows, (again_exits, again_reentries) = built(stream, [stream.events, stream.events])
    assert again_rows == rows
    assert (again_exits, again_reentries) == (exits, reentries)
