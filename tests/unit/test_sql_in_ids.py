"""`in_ids`: a query for the rows whose key is in a list of ids, the list bound as one parameter
(a JSON array on SQLite, an array on PostgreSQL), however long it is."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from service_runtime.database import engine_from_url
from service_runtime.sql import in_ids
from tests.support.platform import fresh_postgres_database, postgres_unavailable_reason

metadata = MetaData()
debts = Table(
    "debts",
    metadata,
    Column("debt_id", String(36), primary_key=True),
    Column("status", String(20), nullable=False),
    Column("paid_cents", Integer, nullable=False),
)
BY_IDS = select(debts.c.debt_id, debts.c.paid_cents).where(in_ids(debts.c.debt_id))
OPEN_ONLY = select(debts.c.debt_id).where(in_ids(debts.c.debt_id), debts.c.status == "open")


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        made = engine_from_url(f"sqlite:///{tmp_path / 'read.sqlite'}")
        metadata.create_all(made)
        yield made
        made.dispose()
        return
    reason = postgres_unavailable_reason()
    if reason:
        pytest.skip(reason)
    with fresh_postgres_database() as url:
        made = engine_from_url(url)
        metadata.create_all(made)
        yield made
        made.dispose()


def _stored(engine: Engine, count: int) -> None:
    with engine.begin() as conn:
        conn.execute(
            debts.insert(),
            [
                {"debt_id": f"d-{n:06d}", "status": "open" if n % 2 else "settled", "paid_cents": n}
                for n in range(count)
            ],
        )


def test_the_rows_of_the_ids_asked_for_and_no_other(engine: Engine) -> None:
    _stored(engine, 10)
    with engine.connect() as conn:
        found = conn.execute(BY_IDS, {"ids": ["d-000003", "d-000007", "nowhere"]}).all()
        assert sorted(found) == [("d-000003", 3), ("d-000007", 7)]
        assert conn.execute(BY_IDS, {"ids": []}).all() == []
        # With another condition beside it (no "= 1" after the predicate on SQLite).
        assert sorted(conn.execute(OPEN_ONLY, {"ids": ["d-000003", "d-000004"]}).scalars()) == [
            "d-000003"
        ]


def test_more_ids_than_sqlite_takes_parameters_in_one_statement(engine: Engine) -> None:
    # An expanding IN had to be cut in chunks (SQLite's limit on parameters); one array has none.
    _stored(engine, 40_000)
    wanted = [f"d-{n:06d}" for n in range(0, 40_000, 2)] + ["nowhere"]
    with engine.connect() as conn:
        found = conn.execute(BY_IDS, {"ids": wanted}).all()
    assert len(found) == 20_000
    assert sum(paid for _, paid in found) == sum(range(0, 40_000, 2))


def test_updates_and_deletes_by_a_list_of_ids(engine: Engine) -> None:
    _stored(engine, 6)
    with engine.begin() as conn:
        conn.execute(
            update(debts).where(in_ids(debts.c.debt_id)).values(status="withdrawn"),
            {"ids": ["d-000001", "d-000002"]},
        )
        conn.execute(delete(debts).where(in_ids(debts.c.debt_id)), {"ids": ["d-000005"]})
    with engine.connect() as conn:
        rows = dict(conn.execute(select(debts.c.debt_id, debts.c.status)).all())
    assert rows == {
        "d-000000": "settled",
        "d-000001": "withdrawn",
        "d-000002": "withdrawn",
        "d-000003": "open",
        "d-000004": "settled",
    }


def test_the_statement_is_one_for_every_list_so_it_is_compiled_once() -> None:
    # The list is a bound value, not part of the SQL: the same text and cache key for any list.
    assert (
        BY_IDS._generate_cache_key()
        == (
            select(debts.c.debt_id, debts.c.paid_cents).where(in_ids(debts.c.debt_id))
        )._generate_cache_key()
    )
    assert str(BY_IDS.compile(dialect=sqlite.dialect())).endswith(
        "WHERE debts.debt_id IN (SELECT value FROM json_each(?))"
    )
    assert str(BY_IDS.compile(dialect=postgresql.dialect())).endswith(
        "WHERE debts.debt_id = ANY(%(ids)s::VARCHAR[])"
    )
