"""The negotiation service's copy of the debts writes per batch: a stream of debts (both
versions, sealed names opened), settlements, reopenings, withdrawals and an erasure, applied in
one batch, one event per batch, in batches of any size or delivered twice, ends with the same
rows, row for row. A batch opens its sealed names with one query to the key vault."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from aiokafka import TopicPartition

from contracts.envelope import Envelope, derived_event_id
from contracts.personal import PersonalDataErased
from contracts.portfolio import (
    DEBTS_TOPIC,
    DebtImported,
    DebtImportedV2,
    DebtReopened,
    DebtSettled,
    DebtUpdated,
    DebtUpdatedV2,
    DebtWithdrawn,
)
from service_runtime.personal_data import REMOVED, DebtorKey, KeyVault, SqlKeyVault
from service_runtime.projection import BatchApplier
from services.negotiation.adapters.debts_view import (
    ErasuresProjection,
    NegotiableDebtsProjection,
    erasures_metadata,
    metadata,
    negotiable_debts,
)
from tests.unit.test_negotiation_app import (
    AGENCY,
    JOAO,
    MARIA,
    T0,
    debt_event,
    debt_event_v2,
    erasure,
)
from tests.unit.test_projections import memory_vault, record_of
from tests.unit.test_read_model_batches import batchings, cut

CARLA = "39053344705"
DAY = dt.date(2026, 11, 25)

Rows = dict[str, list[tuple[Any, ...]]]


class CachedVault(KeyVault):
    """The vault of a process whose cache still holds the secrets it read before an erasure
    (it learns of the erasure from `privacy.erasures`); it notes what it is asked. Keys are
    made and erased by the vault it stands in front of."""

    def __init__(self, secrets: dict[str, bytes | None], keys: KeyVault | None = None) -> None:
        self.secrets = dict(secrets)
        self.keys = keys or memory_vault()
        self.preloaded: set[str] = set()
        self.asked: set[str] = set()

    def keys_for(self, tenant: str, documents: Iterable[str]) -> dict[str, DebtorKey]:
        return self.keys.keys_for(tenant, documents)

    def erase(self, tenant: str, document: str, by: str, at: dt.datetime) -> list[str]:
        self.forget(erased := self.keys.erase(tenant, document, by, at))
        return erased

    def secret(self, key_id: str) -> bytes | None:
        self.asked.add(key_id)
        return self.secrets.get(key_id)

    def preload(self, key_ids: Iterable[str]) -> None:
        self.preloaded.update(key_ids)

    def forget(self, key_ids: Iterable[str]) -> None:
        for key_id in key_ids:
            self.secrets.pop(key_id, None)


def debt_id(key: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, key))


def env(key: str, version: int, kind: str) -> dict[str, Any]:
    return {
        "event_id": derived_event_id("test", kind, debt_id(key), version),
        "occurred_at": T0,
        "tenant": AGENCY,
        "aggregate_id": debt_id(key),
        "aggregate_version": version,
        "correlation_id": "c",
        "causation_id": "c",
    }


def updated(
    event: DebtImported | DebtImportedV2, version: int, amount_cents: int
) -> DebtUpdated | DebtUpdatedV2:
    """The creditor's carteira again, with another amount: a newer version of the debt."""
    fields = event.model_dump(exclude={"type", "schema_version"}) | {
        "event_id": derived_event_id("updated", event.debt_id, version, amount_cents),
        "aggregate_version": version,
        "original_amount_cents": amount_cents,
        "changes": [],
    }
    if isinstance(event, DebtImportedV2):
        return DebtUpdatedV2(**fields)
    return DebtUpdated(**fields)


def outcome_fields(key: str, document: str) -> dict[str, Any]:
    return {
        "debt_id": debt_id(key),
        "document": document,
        "creditor": "Banco Horizonte",
        "contract": f"CT-{key}",
        "installment": "1",
    }


def settled(key: str, document: str, version: int, paid_cents: int) -> DebtSettled:
    return DebtSettled(
        **env(key, version, "settled"),
        **outcome_fields(key, document),
        agreement_id="a1",
        settled_on=DAY,
        paid_cents=paid_cents,
    )


def reopened(key: str, document: str, version: int, paid_cents: int) -> DebtReopened:
    return DebtReopened(
        **env(key, version, "reopened"),
        **outcome_fields(key, document),
        agreement_id="a1",
        reopened_on=DAY,
        paid_cents=paid_cents,
        balance_cents=100_000 - paid_cents,
    )


def withdrawn(key: str, document: str, version: int) -> DebtWithdrawn:
    return DebtWithdrawn(
        **env(key, version, "withdrawn"),
        **outcome_fields(key, document),
        reason="cancelled",
        withdrawn_on=DAY,
        import_id="imp-3",
        row_key=key,
    )


def stream(sent_again: bool = False) -> tuple[list[Envelope], dict[str, bytes | None]]:
    """The events in the order the service reads them, and the secrets a process had cached
    before Maria's keys were erased (`sent_again`: then the creditor sends Maria again, under
    a new key, and the process learns it)."""
    vault = memory_vault()
    joao = debt_event("a")
    m1 = debt_event_v2(vault, "m1")
    m2 = debt_event_v2(vault, "m2")
    c1 = debt_event_v2(vault, "c1", document=CARLA, name="Carla Dias")
    m1_again = updated(m1, 2, 150_000).model_copy(
        update={"personal": debt_event_v2(vault, "m1", name="Maria S. Souza").personal}
    )
    assert isinstance(m1_again, DebtUpdatedV2)
    c1_again = debt_event_v2(vault, "c1", document=CARLA, name="Carla D.", version=2)
    sealed = [e.personal.key_id for e in (m1, m2, c1, m1_again, c1_again)]
    cached = {key_id: vault.secret(key_id) for key_id in sealed}
    erased = erasure(vault)
    assert erased.key_ids == [m1.personal.key_id]
    events: list[Envelope] = [
        joao,
        m1,
        m2,
        c1,
        m1_again,
        settled("c1", CARLA, 2, 100_000),
        reopened("m2", MARIA, 2, 30_000),
        updated(joao, 2, 90_000),
        joao,  # delivered again, older: changes nothing
        withdrawn("a", JOAO, 3),
        erased,
        # A replay of an old event, the name in clear: it stays removed.
        debt_event("m0", document=MARIA),
        c1_again,
        # The same version again (another amount): the first one read stays.
        updated(c1_again, 2, 777),
        settled("m1", MARIA, 3, 150_000),
        withdrawn("m2", MARIA, 3),
    ]
    if sent_again:
        again = debt_event_v2(vault, "m3", name="Maria Souza")
        assert again.personal.key_id not in erased.key_ids
        cached[again.personal.key_id] = vault.secret(again.personal.key_id)
        events.append(again)
    return events, cached


def segments(batch: Sequence[Envelope]) -> Iterator[tuple[bool, list[Envelope]]]:
    """The batch cut where it passes from debts to erasures and back (two topics: each
    projection reads its own), keeping the order."""
    current: list[Envelope] = []
    for event in batch:
        if current and isinstance(event, PersonalDataErased) != isinstance(
            current[0], PersonalDataErased
        ):
            yield isinstance(current[0], PersonalDataErased), current
            current = []
        current.append(event)
    if current:
        yield isinstance(current[0], PersonalDataErased), current


def every_row(engine: sa.Engine) -> Rows:
    with engine.connect() as conn:
        return {
            table.name: sorted((tuple(row) for row in conn.execute(sa.select(table))), key=repr)
            for table in [*metadata.sorted_tables, *erasures_metadata.sorted_tables]
        }


def built(batches: Sequence[Sequence[Envelope]], cached: dict[str, bytes | None]) -> Rows:
    """The tables a fresh service ends with after these batches, each a transaction, its
    vault's cache as it was before the erasure."""
    engine = sa.create_engine("sqlite://")  # in memory: one connection, kept
    vault = CachedVault(cached)
    debts, erasures = NegotiableDebtsProjection(vault), ErasuresProjection(vault)
    debts.create_tables(engine)
    erasures.create_tables(engine)
    for batch in batches:
        debts.prepare(batch)
        with engine.begin() as conn:
            for is_erasure, events in segments(batch):
                (erasures if is_erasure else debts).apply(conn, events)
    rows = every_row(engine)
    engine.dispose()
    return rows


def any_sizes(events: list[Envelope], seed: int) -> list[list[Envelope]]:
    """The stream cut in batches of random sizes, from one event to all of them."""
    return cut(events, random.Random(seed), len(events))


def test_the_debts_view_ends_the_same_however_the_stream_is_batched() -> None:
    events, cached = stream()
    expected = built([events], cached)
    columns = [c.name for c in negotiable_debts.columns]
    shown = {
        row[0]: {
            name: row[columns.index(name)]
            for name in ("debtor_name", "original_amount_cents", "paid_cents", "settled", "version")
        }
        for row in expected["negotiable_debts"]
    }
    assert shown == {
        debt_id("a"): {
            "debtor_name": "João da Silva",
            "original_amount_cents": 90_000,
            "paid_cents": 0,
            "settled": 2,
            "version": 2,
        },
        debt_id("m1"): {
            "debtor_name": REMOVED,
            "original_amount_cents": 150_000,
            "paid_cents": 150_000,
            "settled": 1,
            "version": 2,
        },
        debt_id("m2"): {
            "debtor_name": REMOVED,
            "original_amount_cents": 100_000,
            "paid_cents": 30_000,
            "settled": 2,
            "version": 1,
        },
        debt_id("m0"): {
            "debtor_name": REMOVED,
            "original_amount_cents": 100_000,
            "paid_cents": 0,
            "settled": 0,
            "version": 1,
        },
        debt_id("c1"): {
            "debtor_name": "Carla D.",
            "original_amount_cents": 100_000,
            "paid_cents": 100_000,
            "settled": 1,
            "version": 2,
        },
    }
    assert [row[:2] for row in expected["negotiation_erased_debtors"]] == [(AGENCY, MARIA)]
    assert len(expected["negotiation_erased_keys"]) == 1
    for seed in range(3):
        for name, batches in batchings(events, seed):
            assert built(batches, cached) == expected, (seed, name)
        assert built(any_sizes(events, seed), cached) == expected, seed


def test_a_change_read_before_its_debt_changes_it_only_if_the_debt_was_stored() -> None:
    late, stored = debt_event("late"), debt_event("stored", document=MARIA)
    # Settled before the row exists: as one event at a time, it changed nothing.
    batch: list[Envelope] = [settled("late", JOAO, 2, 50_000), late, reopened("late", JOAO, 3, 7)]
    # Stored in an earlier batch: the same batch settles it, whatever comes after.
    again: list[Envelope] = [settled("stored", MARIA, 2, 60_000), updated(stored, 3, 80_000)]
    expected = built([[stored], *([e] for e in batch), *([e] for e in again)], {})
    assert built([[stored], batch + again], {}) == expected
    assert built([[stored, *batch], again], {}) == expected
    columns = [c.name for c in negotiable_debts.columns]
    outcome = {
        row[0]: (row[columns.index("paid_cents")], row[columns.index("settled")])
        for row in expected["negotiable_debts"]
    }
    assert outcome == {debt_id("late"): (7, 0), debt_id("stored"): (60_000, 1)}


def test_a_batch_opens_its_sealed_names_with_one_query_to_the_vault() -> None:
    keys = memory_vault()
    debts = [
        debt_event_v2(keys, f"d{i}", document=f"{i:011d}", name=f"Devedor {i}") for i in range(60)
    ]
    # The service's own vault over the same keys, nothing cached yet.
    vault = SqlKeyVault(keys.engine)
    queries: list[str] = []
    sa.event.listen(keys.engine, "before_cursor_execute", lambda *args: queries.append(args[2]))
    engine = sa.create_engine("sqlite://")
    applier = BatchApplier(NegotiableDebtsProjection(vault), engine)
    applier.apply_records(
        {
            TopicPartition(DEBTS_TOPIC, 0): [
                record_of(e, DEBTS_TOPIC, 0, i) for i, e in enumerate(debts[:40])
            ],
            TopicPartition(DEBTS_TOPIC, 1): [
                record_of(e, DEBTS_TOPIC, 1, i) for i, e in enumerate(debts[40:])
            ],
        }
    )
    assert len(queries) == 1
    with engine.connect() as conn:
        names = dict(
            conn.execute(sa.select(negotiable_debts.c.debt_id, negotiable_debts.c.debtor_name))
            .tuples()
            .all()
        )
    assert names == {e.debt_id: f"Devedor {i}" for i, e in enumerate(debts)}


def test_the_projection_preloads_every_sealed_key_of_the_batch() -> None:
    events, cached = stream()
    vault = CachedVault(cached)
    projection = NegotiableDebtsProjection(vault)
    projection.prepare(events)
    sealed = {e.personal.key_id for e in events if isinstance(e, DebtImportedV2 | DebtUpdatedV2)}
    assert vault.preloaded == sealed
    engine = sa.create_engine("sqlite://")
    projection.create_tables(engine)
    with engine.begin() as conn:
        projection.apply(conn, events)
    # Only what was preloaded is asked for (the erased key was not preloaded for nothing).
    assert vault.asked and vault.asked <= vault.preloaded


def test_a_batch_writes_with_as_many_statements_whatever_its_size() -> None:
    def statements(size: int) -> int:
        vault = memory_vault()
        batch: list[Envelope] = []
        for i in range(size):
            batch.append(debt_event_v2(vault, f"v2-{i}", document=f"{i:011d}"))
            batch.append(debt_event(f"v1-{i}"))
            batch.append(settled(f"v1-{i}", JOAO, 2, 1_000))
            batch.append(withdrawn(f"v2-{i}", f"{i:011d}", 2))
        engine = sa.create_engine("sqlite://")
        projection = NegotiableDebtsProjection(vault)
        projection.create_tables(engine)
        projection.prepare(batch)
        executed: list[str] = []
        sa.event.listen(engine, "before_cursor_execute", lambda *args: executed.append(args[2]))
        with engine.begin() as conn:
            projection.apply(conn, batch)
        engine.dispose()
        return len(executed)

    assert statements(3) == statements(400) <= 5


def test_an_erasure_delivered_twice_in_one_batch_is_remembered_once() -> None:
    events, cached = stream()
    [erased] = [e for e in events if isinstance(e, PersonalDataErased)]
    later = erased.model_copy(
        update={"event_id": uuid.uuid4(), "occurred_at": T0 + dt.timedelta(days=1)}
    )
    rows = built([events[:10], [erased, later, erased]], cached)
    assert rows == built([events[:10], [erased], [later], [erased]], cached)
    assert rows != built([events[:10], [later], [erased]], cached)  # the first one is kept
    assert len(rows["negotiation_erased_debtors"]) == 1


def test_the_whole_stream_read_again_from_the_start_leaves_the_rows_of_one_reading() -> None:
    # The broker lost its log and the service reads its partitions from the start: Maria's
    # erasure, read again, must not remove her name from the debt the creditor sent after it.
    events, cached = stream(sent_again=True)
    once = built([events], cached)
    columns = [c.name for c in negotiable_debts.columns]
    names = {
        row[columns.index("debt_id")]: row[columns.index("debtor_name")]
        for row in once["negotiable_debts"]
    }
    assert (names[debt_id("m3")], names[debt_id("m1")]) == ("Maria Souza", REMOVED)
    assert built([events, events], cached) == once
    for seed in range(3):
        assert built(any_sizes([*events, *events], seed), cached) == once, seed
