"""The messaging service's contacts write per batch: a stream of `portfolio.debts` applied in
one batch, one event per batch, in batches of any size or delivered twice ends with the same
rows, row for row, whether the debtor's erasure was read before or after it (the digests of the
dates of birth too: the newest date wins, never the date itself kept); a batch costs a bounded
number of statements and one question to the key vault."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiokafka import TopicPartition

from contracts.envelope import Envelope, derived_event_id
from contracts.personal import PersonalDataErased, SealedPersonalData
from contracts.portfolio import (
    DEBTS_TOPIC,
    DebtImported,
    DebtImportedV2,
    DebtorContact,
    DebtPaymentDeducted,
    DebtReopened,
    DebtSettled,
    DebtUpdated,
    DebtUpdatedV2,
    DebtWithdrawn,
    FieldChange,
)
from service_runtime.personal_data import SqlKeyVault, seal
from service_runtime.projection import BatchApplier
from services.messaging.adapters.contacts import (
    ContactBook,
    ContactsProjection,
    DebtBalance,
    DebtorOpenDebts,
    ErasuresProjection,
    debtor_birth_dates,
    debtor_debts,
    erasures_metadata,
    metadata,
)
from services.messaging.domain.second_factor import BIRTH_DATE_KEY_PURPOSE, birth_date_digest
from tests.unit.test_projections import memory_vault, record_of
from tests.unit.test_read_model_batches import batchings, cut

AGENCY = "recupera-sul"
OTHER = "cobra-norte"
JOAO = "52998224725"
MARIA = "11144477735"
PEDRO = "12345678909"  # his data is erased
T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
ERASED_AT = T0 + dt.timedelta(hours=5)

Rows = dict[str, list[tuple[Any, ...]]]


def at(minutes: int) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def _envelope(
    debt_id: str, version: int, minutes: int, tenant: str = AGENCY, index: int = 0
) -> dict[str, Any]:
    return {
        "event_id": derived_event_id("contacts", tenant, debt_id, version, index),
        "occurred_at": at(minutes),
        "tenant": tenant,
        "aggregate_id": debt_id,
        "aggregate_version": version,
        "correlation_id": "imp",
        "causation_id": f"cause-{version}",
    }


def _debt_fields(debt_id: str, document: str, cents: int) -> dict[str, Any]:
    return {
        "debt_id": debt_id,
        "document": document,
        "document_kind": "cpf",
        "creditor": "Banco Horizonte",
        "contract": f"C-{debt_id}",
        "installment": "1",
        "original_amount_cents": cents,
        "due_date": dt.date(2026, 10, 1),
        "import_id": "imp",
        "row_key": f"r-{debt_id}",
    }


def in_clear(
    debt_id: str,
    document: str,
    contact: DebtorContact,
    *,
    version: int = 1,
    minutes: int = 0,
    cents: int = 100_000,
    tenant: str = AGENCY,
) -> DebtImported | DebtUpdated:
    """Version 1: the contact in clear (imported, or updated from version 2 on)."""
    envelope = _envelope(debt_id, version, minutes, tenant)
    fields = _debt_fields(debt_id, document, cents)
    if version == 1:
        return DebtImported(**envelope, **fields, debtor=contact)
    changes = [FieldChange(field="original_amount_cents", old=None, new=cents)]
    return DebtUpdated(**envelope, **fields, debtor=contact, changes=changes)


def sealed(
    debt_id: str,
    document: str,
    personal: SealedPersonalData,
    *,
    version: int = 1,
    minutes: int = 0,
    cents: int = 100_000,
    tenant: str = AGENCY,
) -> DebtImportedV2 | DebtUpdatedV2:
    """Version 2: the contact sealed with the debtor's key."""
    envelope = _envelope(debt_id, version, minutes, tenant)
    fields = _debt_fields(debt_id, document, cents)
    if version == 1:
        return DebtImportedV2(**envelope, **fields, personal=personal)
    changes = [FieldChange(field="phone", old=None, new=None)]
    return DebtUpdatedV2(**envelope, **fields, personal=personal, changes=changes)


def settled(debt_id: str, document: str, version: int, minutes: int) -> DebtSettled:
    return DebtSettled(
        **_envelope(debt_id, version, minutes),
        debt_id=debt_id,
        document=document,
        creditor="Banco Horizonte",
        contract=f"C-{debt_id}",
        installment="1",
        agreement_id=f"a-{debt_id}",
        settled_on=dt.date(2026, 11, 20),
        paid_cents=100_000,
    )


def reopened(debt_id: str, document: str, version: int, minutes: int) -> DebtReopened:
    return DebtReopened(
        **_envelope(debt_id, version, minutes),
        debt_id=debt_id,
        document=document,
        creditor="Banco Horizonte",
        contract=f"C-{debt_id}",
        installment="1",
        agreement_id=f"a-{debt_id}",
        reopened_on=dt.date(2026, 11, 25),
        paid_cents=0,
        balance_cents=100_000,
    )


def deducted(
    debt_id: str, document: str, version: int, minutes: int, balance: int
) -> DebtPaymentDeducted:
    """A payment to the debt's broken agreement's boleto taken off it (`balance` left)."""
    return DebtPaymentDeducted(
        **_envelope(debt_id, version, minutes),
        debt_id=debt_id,
        document=document,
        creditor="Banco Horizonte",
        contract=f"C-{debt_id}",
        installment="1",
        agreement_id=f"a-{debt_id}",
        payment_id=f"pay-{version}",
        paid_on=dt.date(2026, 11, 26),
        deducted_cents=10_000,
        paid_cents=100_000 - balance,
        balance_cents=balance,
    )


def withdrawn(debt_id: str, document: str, version: int, minutes: int) -> DebtWithdrawn:
    return DebtWithdrawn(
        **_envelope(debt_id, version, minutes),
        debt_id=debt_id,
        document=document,
        creditor="Banco Horizonte",
        contract=f"C-{debt_id}",
        installment="1",
        reason="cancelled",
        withdrawn_on=dt.date(2026, 11, 25),
        import_id="imp",
        row_key=f"r-{debt_id}",
    )


@dataclass(frozen=True)
class Stream:
    vault: SqlKeyVault
    events: list[Envelope]
    erasure: PersonalDataErased


def stream() -> Stream:
    """Debts imported in clear and sealed, updated, settled, reopened, payments deducted, sent
    again and late;
    Pedro's data erased (his key gone) and sent again afterwards under a new key."""
    vault = memory_vault()

    def seal_for(document: str, contact: Mapping[str, str | None]) -> SealedPersonalData:
        return seal(vault.key_for(AGENCY, document), contact)

    joao = DebtorContact(name="João da Silva", email="joao@example.com", phone="11987654321")
    joao_moved = {
        "name": "João da Silva",
        "email": "joao@novo.com",
        "phone": "(11) 91111-2222",
        "birth_date": "1980-05-17",
    }
    pedro_old = seal_for(
        PEDRO, {"name": "Pedro Alves", "phone": "21955554444", "birth_date": "1975-03-03"}
    )
    pedro_clear = DebtorContact(name="Pedro Alves", email="pedro@example.com", phone="2133334444")
    # A ciphertext that does not open under its key id (logged, the contact skipped).
    broken = SealedPersonalData(
        key_id=seal_for(MARIA, {"name": "x"}).key_id,
        ciphertext=seal_for(JOAO, {"name": "Maria"}).ciphertext,
    )
    key_ids = vault.erase(AGENCY, PEDRO, by="ana@recupera-sul", at=ERASED_AT)
    erasure = PersonalDataErased(
        **_envelope(f"erasures-{PEDRO}", 1, 300),
        document=PEDRO,
        key_ids=key_ids,
        requested_by="ana@recupera-sul",
        reason="pedido do titular",
    )
    after = 600  # minutes: Pedro's new data, sent after his erasure
    pedro_new = seal_for(
        PEDRO,
        {"name": "Pedro A.", "email": None, "phone": "+5521977776666", "birth_date": "1975-03-04"},
    )
    # An older row with another date: the newer date (j2's version 2) stays.
    late_j2 = sealed(
        "j2",
        JOAO,
        seal_for(JOAO, {"name": "Old", "phone": "11900000000", "birth_date": "1970-01-01"}),
    )
    events: list[Envelope] = [
        in_clear("j1", JOAO, joao, minutes=1),
        sealed("j2", JOAO, seal_for(JOAO, joao_moved), version=2, minutes=20, cents=40_000),
        late_j2,  # version 1 after 2: the debt keeps version 2, its phone is kept though
        settled("j1", JOAO, 2, 30),
        reopened("j1", JOAO, 3, 40),
        settled("j1", JOAO, 3, 41),  # the same version again: changes nothing
        in_clear("j1", JOAO, joao, version=4, minutes=50, cents=90_000),  # stays open
        # Two payments to j1's broken agreement's boleto deducted, the first read again late:
        # the newest balance stays.
        deducted("j1", JOAO, 5, 55, balance=90_000),
        deducted("j1", JOAO, 6, 56, balance=80_000),
        deducted("j1", JOAO, 5, 55, balance=90_000),
        # Maria: two debts imported at the same instant and version, two names: the first
        # read wins; then one does not open, and one is settled for good.
        sealed(
            "m1",
            MARIA,
            # A date that is no date: no digest, the contact kept.
            seal_for(MARIA, {"name": "Maria Souza", "email": "m@x.com", "birth_date": "31/02"}),
        ),
        sealed("m2", MARIA, seal_for(MARIA, {"name": "Maria S.", "phone": "123"})),
        sealed("m3", MARIA, broken, minutes=5),
        settled("m2", MARIA, 2, 60),
        withdrawn("m1", MARIA, 2, 61),  # not read by the contacts
        # Pedro: in clear and sealed before his erasure, a correction in clear after it, then
        # new data under a new key.
        in_clear("p1", PEDRO, pedro_clear, minutes=10),
        sealed("p2", PEDRO, pedro_old, minutes=11),
        in_clear("p1", PEDRO, pedro_clear, version=2, minutes=after, cents=80_000),
        sealed("p3", PEDRO, pedro_new, minutes=after + 1),
        # The other tenant: the same document, its own debt and contact.
        in_clear("o1", JOAO, DebtorContact(name="João S.", phone="31988887777"), tenant=OTHER),
        settled("nobody", MARIA, 2, 70),  # a debt never imported: nothing
        # j2's version 2 sent again (sealed again: another nonce): changes nothing.
        sealed("j2", JOAO, seal_for(JOAO, joao_moved), version=2, minutes=20, cents=40_000),
    ]
    return Stream(vault, events, erasure)


def every_row(engine: sa.Engine) -> Rows:
    tables = [*metadata.sorted_tables, *erasures_metadata.sorted_tables]
    with engine.connect() as conn:
        return {
            table.name: sorted((tuple(row) for row in conn.execute(sa.select(table))), key=repr)
            for table in tables
        }


def built(given: Stream, batches: Sequence[Sequence[Envelope]], *, erasure_first: bool) -> Rows:
    """The tables after these batches, each prepared and applied in a transaction as the
    applier does; the erasure read by its own consumer before or after them."""
    engine = sa.create_engine("sqlite://")  # in memory: one connection, kept
    # A vault of its own (the same keys), its cache empty as a fresh process's.
    vault = SqlKeyVault(given.vault.engine)
    projection = ContactsProjection(vault)
    projection.create_tables(engine)

    def erase() -> None:
        with engine.begin() as conn:
            ErasuresProjection(vault).apply(conn, [given.erasure])

    if erasure_first:
        erase()
    for batch in batches:
        projection.prepare(batch)
        with engine.begin() as conn:
            projection.apply(conn, list(batch))
    if not erasure_first:
        erase()
    rows = every_row(engine)
    engine.dispose()
    return rows


def random_batchings(events: list[Envelope], seed: int) -> Iterator[list[list[Envelope]]]:
    """Cut anywhere, from one event to the whole stream."""
    rng = random.Random(seed)
    for _ in range(5):
        yield cut(events, rng, len(events))


@pytest.mark.parametrize("erasure_first", [True, False], ids=["erasure first", "erasure last"])
def test_the_contacts_end_the_same_however_the_stream_is_batched(erasure_first: bool) -> None:
    given = stream()
    expected = built(given, [given.events], erasure_first=erasure_first)
    # João's date (and Pedro's new one, unless his erasure came last) as digests.
    assert len(expected["debtor_birth_dates"]) == (2 if erasure_first else 1)
    ways = [*batchings(given.events), *(("random", b) for b in random_batchings(given.events, 3))]
    for name, batches in ways:
        assert built(given, batches, erasure_first=erasure_first) == expected, name


def test_what_the_contact_book_reads_at_the_end_of_the_stream(tmp_path: Path) -> None:
    given = stream()
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'messaging.sqlite'}")
    book = ContactBook(engine)
    vault = SqlKeyVault(given.vault.engine)
    with engine.begin() as conn:
        ErasuresProjection(vault).apply(conn, [given.erasure])
    applier = BatchApplier(ContactsProjection(vault), engine)
    records = [record_of(e, DEBTS_TOPIC, 0, n) for n, e in enumerate(given.events)]
    for start in range(0, len(records), 4):
        applier.apply_records({TopicPartition(DEBTS_TOPIC, 0): records[start : start + 4]})

    # João: the newest of his contacts (j1's correction, in clear), every phone he had.
    joao = book.contact(AGENCY, JOAO)
    assert joao is not None
    assert (joao.email, joao.phone) == ("joao@example.com", "11987654321")
    for phone in ("+5511987654321", "+5511911112222", "+5511900000000"):
        assert book.documents_with_phone(AGENCY, phone) == [JOAO]
    # Maria: two contacts with the same key, the first read wins; one that does not open.
    maria = book.contact(AGENCY, MARIA)
    assert maria is not None
    assert (maria.name, maria.email, maria.phone) == ("Maria Souza", "m@x.com", None)
    assert book.documents_with_phone(AGENCY, "123") == []
    # Pedro: only what came after his erasure.
    pedro = book.contact(AGENCY, PEDRO)
    assert pedro is not None
    assert (pedro.name, pedro.email) == ("Pedro A.", None)
    assert book.erased(AGENCY, PEDRO)
    assert book.documents_with_phone(AGENCY, "+5521955554444") == []
    assert book.documents_with_phone(AGENCY, "+552133334444") == [PEDRO]
    assert book.documents_with_phone(AGENCY, "+5521977776666") == [PEDRO]
    # The dates of birth: their keyed digests, the newest date of each; none of Maria's.
    key = vault.settings_key(AGENCY, BIRTH_DATE_KEY_PURPOSE).secret
    assert book.birth_date_digest(AGENCY, JOAO) == birth_date_digest(
        key, AGENCY, JOAO, dt.date(1980, 5, 17)
    )
    assert book.birth_date_digest(AGENCY, PEDRO) == birth_date_digest(
        key, AGENCY, PEDRO, dt.date(1975, 3, 4)
    )
    assert book.birth_date_digest(AGENCY, MARIA) is None
    with engine.connect() as conn:
        stored = repr(conn.execute(sa.select(debtor_birth_dates)).all())
    assert "1980" not in stored and "1975" not in stored
    other = book.contact(OTHER, JOAO)
    assert other is not None and other.name == "João S."
    assert book.documents_with_phone(OTHER, "+5531988887777") == [JOAO]
    assert book.debtors_with_open_debts(AGENCY) == [
        DebtorOpenDebts(MARIA, "m@x.com", 2, 200_000),
        DebtorOpenDebts(JOAO, "joao@example.com", 2, 130_000),
    ]
    with engine.connect() as conn:
        versions = {
            r.debt_id: (r.open, r.version, r.original_amount_cents)
            for r in conn.execute(sa.select(debtor_debts).where(debtor_debts.c.tenant == AGENCY))
        }
    # What j1 owes since its agreement broke: the newest deduction's balance.
    assert book.balance(AGENCY, "j1") == DebtBalance(80_000, dt.date(2026, 11, 26), 6)
    assert book.balance(AGENCY, "j2") is None  # never back from an agreement
    assert versions == {
        "j1": (True, 4, 90_000),
        "j2": (True, 2, 40_000),
        "m1": (True, 1, 100_000),
        "m2": (False, 2, 100_000),
        "m3": (True, 1, 100_000),
        "p1": (True, 2, 80_000),
        "p2": (True, 1, 100_000),
        "p3": (True, 1, 100_000),
    }
    engine.dispose()


def fresh_imports(vault: SqlKeyVault, count: int, first: int = 0) -> list[Envelope]:
    documents = [f"{n:011d}" for n in range(first, first + count)]
    keys = vault.keys_for(AGENCY, documents)
    return [
        sealed(
            f"d{n}",
            document,
            seal(keys[document], {"name": f"Devedor {n}", "phone": f"119{n:08d}"}),
            minutes=n,
        )
        for n, document in enumerate(documents, start=first)
    ]


def test_a_batch_asks_the_vault_once_and_writes_each_table_once(tmp_path: Path) -> None:
    keys = memory_vault()
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'messaging.sqlite'}")
    vault = SqlKeyVault(keys.engine)  # the messaging process's: nothing cached
    applier = BatchApplier(ContactsProjection(vault), engine)
    vault_queries: list[str] = []
    statements: list[str] = []
    sa.event.listen(keys.engine, "before_cursor_execute", lambda *a: vault_queries.append(a[2]))
    sa.event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    tp = TopicPartition(DEBTS_TOPIC, 0)

    small, big = fresh_imports(keys, 3), fresh_imports(keys, 600, first=3)
    vault_queries.clear()
    applier.apply_records({tp: [record_of(e, DEBTS_TOPIC, 0, n) for n, e in enumerate(small)]})
    assert len(vault_queries) == 1
    per_small_batch = len(statements)
    vault_queries.clear()
    statements.clear()
    applier.apply_records({tp: [record_of(e, DEBTS_TOPIC, 0, n + 3) for n, e in enumerate(big)]})

    assert len(vault_queries) == 1  # the 600 keys, one list in one query
    assert len(statements) == per_small_batch + 1  # the debts read in two chunks too
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(debtor_debts)).scalar() == 603
    assert ContactBook(engine).documents_with_phone(AGENCY, "+5511900000602") == [f"{602:011d}"]
    engine.dispose()
