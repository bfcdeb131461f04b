"""Many rows of one statement go to SQLite as ready tuples (`service_runtime.sql.write_many`):
the statement compiled once, no per-row work of SQLAlchemy's, and the file holds exactly
what SQLAlchemy's own executemany stores (the readers, and a rebuilt read model compared
with the live one, depend on it)."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import sqlite

from service_runtime.database import sqlite_engine
from service_runtime.sql import _direct, insert_ignore, update_rows, write_many
from service_runtime.sqltypes import UtcDateTime

metadata = sa.MetaData()
debts = sa.Table(
    "debts",
    metadata,
    sa.Column("debt_id", sa.String(36), primary_key=True),
    sa.Column("due_date", sa.Date, nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.Column("settled", sa.Boolean, nullable=False),
    sa.Column("amount_cents", sa.Integer, nullable=False),
    sa.Column("category", sa.String(100)),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
)
stamped = sa.Table(
    "stamped",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("origin", sa.String(20), nullable=False, default="import"),
)
SAO_PAULO = dt.timezone(dt.timedelta(hours=-3))


def debt(n: int, **changes: Any) -> dict[str, Any]:
    row = {
        "debt_id": f"d-{n}",
        "due_date": dt.date(2026, 1, n),
        # 10:30 in São Paulo is 13:30 UTC: the column keeps UTC.
        "updated_at": dt.datetime(2026, 1, n, 10, 30, tzinfo=SAO_PAULO),
        "settled": n % 2 == 0,
        "amount_cents": 1000 * n,
        "category": None if n == 3 else "cartão",
        "status": "open",
        "version": 1,
    }
    return row | changes


def upsert() -> Any:
    stmt = sqlite.insert(debts)
    return stmt.on_conflict_do_update(
        index_elements=["debt_id"],
        set_={c: stmt.excluded[c] for c in ("due_date", "amount_cents", "version")},
        where=debts.c.version < stmt.excluded.version,
    )


def stored(path: Path, table: str = "debts") -> list[tuple[Any, ...]]:
    """The rows as the file holds them (text, integers), not as SQLAlchemy reads them."""
    with sqlite3.connect(path) as connection:
        return connection.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()


def two_files(tmp_path: Path) -> tuple[sa.Engine, sa.Engine]:
    engines = (
        sqlite_engine(str(tmp_path / "sa.sqlite")),
        sqlite_engine(str(tmp_path / "raw.sqlite")),
    )
    for engine in engines:
        metadata.create_all(engine)
    return engines


def test_the_rows_are_stored_as_sqlalchemys_executemany_stores_them(tmp_path: Path) -> None:
    by_sqlalchemy, by_driver = two_files(tmp_path)
    first = [debt(n) for n in range(1, 5)]
    again = [debt(2, version=2, amount_cents=1), debt(3, version=1, amount_cents=7), debt(9)]
    with by_sqlalchemy.begin() as conn:
        conn.execute(upsert(), first)
        conn.execute(upsert(), again)
    with by_driver.begin() as conn:
        write_many(conn, upsert(), first)
        write_many(conn, upsert(), again)
    assert stored(tmp_path / "raw.sqlite") == stored(tmp_path / "sa.sqlite")
    assert stored(tmp_path / "raw.sqlite")[0] == (
        "d-1", "2026-01-01", "2026-01-01 13:30:00.000000", 0, 1000, "cartão", "open", 1
    )  # fmt: skip
    # The newer version changed the row, the same version did not, the new one came.
    assert [(r[0], r[4], r[7]) for r in stored(tmp_path / "raw.sqlite")][1:] == [
        ("d-2", 1, 2),
        ("d-3", 3000, 1),
        ("d-4", 4000, 1),
        ("d-9", 9000, 1),
    ]
    # And SQLAlchemy reads them back as it wrote them.
    with by_driver.connect() as conn:
        row = conn.execute(sa.select(debts).where(debts.c.debt_id == "d-1")).one()
    assert row.due_date == dt.date(2026, 1, 1)
    assert row.updated_at == dt.datetime(2026, 1, 1, 13, 30, tzinfo=dt.UTC)
    assert row.settled is False


def test_the_driver_is_given_tuples_of_a_statement_compiled_once(tmp_path: Path) -> None:
    _, engine = two_files(tmp_path)
    executed: list[tuple[str, Any, bool]] = []

    @sa.event.listens_for(engine, "before_cursor_execute")
    def seen(_conn: Any, _cursor: Any, statement: str, params: Any, _ctx: Any, many: bool) -> None:
        executed.append((statement, params, many))

    statement = upsert()  # built once and kept, as the read models keep theirs
    with engine.begin() as conn:
        write_many(conn, statement, [debt(1), debt(2)])
        write_many(conn, statement, [debt(3), debt(4)])
    assert [many for _, _, many in executed] == [True, True]
    assert executed[0][0] == executed[1][0]
    assert executed[0][0].startswith("INSERT INTO debts (debt_id, due_date, updated_at,")
    assert executed[1][1] == [
        ("d-3", "2026-01-03", "2026-01-03 13:30:00.000000", 0, 3000, None, "open", 1),
        ("d-4", "2026-01-04", "2026-01-04 13:30:00.000000", 1, 4000, "cartão", "open", 1),
    ]


def test_the_statements_own_values_and_renamed_keys_go_with_the_rows(tmp_path: Path) -> None:
    """An UPDATE by key (`update_rows`, bind names of its own) and one whose WHERE compares
    with values of the statement (`status != 'settled'`), as the read models write them."""
    by_sqlalchemy, by_driver = two_files(tmp_path)
    not_settled = (
        sa.update(debts)
        .where(debts.c.debt_id == sa.bindparam("b_id"), debts.c.status != "settled")
        .values(status=sa.bindparam("b_status"), settled=False)
    )
    changes = [{"b_id": "d-1", "b_status": "in_agreement"}, {"b_id": "d-2", "b_status": "x"}]
    for engine in (by_sqlalchemy, by_driver):
        with engine.begin() as conn:
            insert_ignore(conn, debts, [debt(1), debt(2, status="settled"), debt(4)])
            update_rows(
                conn,
                debts,
                "debt_id",
                [{"debt_id": "d-4", "due_date": dt.date(2027, 2, 1), "settled": True}],
            )
            if engine is by_sqlalchemy:
                conn.execute(not_settled, changes)
            else:
                write_many(conn, not_settled, changes)
    assert stored(tmp_path / "raw.sqlite") == stored(tmp_path / "sa.sqlite")
    assert [(r[0], r[1], r[3], r[6]) for r in stored(tmp_path / "raw.sqlite")] == [
        ("d-1", "2026-01-01", 0, "in_agreement"),
        ("d-2", "2026-01-02", 1, "settled"),
        ("d-4", "2027-02-01", 1, "open"),
    ]


def test_a_column_default_sqlalchemy_computes_is_still_given(tmp_path: Path) -> None:
    _, engine = two_files(tmp_path)
    with engine.begin() as conn:
        write_many(conn, stamped.insert(), [{"id": 1}, {"id": 2}])
        write_many(conn, stamped.insert(), [{"id": 3, "origin": "portal"}])
    assert stored(tmp_path / "raw.sqlite", "stamped") == [
        (1, "import"),
        (2, "import"),
        (3, "portal"),
    ]


def test_dates_and_utc_datetimes_are_written_directly_as_sqlalchemy_writes_them(
    tmp_path: Path,
) -> None:
    """A date and a UTC column's datetime are turned into SQLite's text without going through
    SQLAlchemy's processors (the TypeDecorator's, then the dialect's formatting of a dict),
    the same text whatever the offset, the microseconds or the year; a datetime given to a
    date column, and a plain DateTime column, keep SQLAlchemy's own conversion."""
    dialect = sqlite.dialect()

    def converter(type_: Any) -> Any:
        process = type_.dialect_impl(dialect).bind_processor(dialect)
        return process, _direct(process)

    processed, direct = converter(sa.Date())
    assert direct is not processed
    for day in (dt.date(2026, 2, 28), dt.date(1, 1, 1), dt.date(999, 12, 31), None):
        assert direct(day) == processed(day)
    assert direct(dt.datetime(2026, 2, 28, 10, 30)) == "2026-02-28"  # as SQLAlchemy's
    processed, direct = converter(UtcDateTime())
    assert direct is not processed
    for moment in (
        dt.datetime(2026, 12, 31, 22, 30, tzinfo=SAO_PAULO),  # 01:30 the next year, in UTC
        dt.datetime(2026, 1, 1, 0, 0, 0, 7, tzinfo=dt.UTC),
        dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))),
        None,
    ):
        assert direct(moment) == processed(moment)
    assert direct(dt.datetime(2026, 12, 31, 22, 30, tzinfo=SAO_PAULO)) == (
        "2027-01-01 01:30:00.000000"
    )
    with pytest.raises(ValueError, match="naive"):
        direct(dt.datetime(2026, 1, 1))  # refused, as UtcDateTime refuses it
    # Not UTC: a plain DateTime writes an aware value's own clock, its processor is kept.
    processed, direct = converter(sa.DateTime())
    assert direct is processed
    # And the rows written with them are what SQLAlchemy's executemany stores.
    by_sqlalchemy, by_driver = two_files(tmp_path)
    rows = [
        debt(1, updated_at=dt.datetime(2026, 12, 31, 22, 30, 5, 120, tzinfo=SAO_PAULO)),
        debt(2, due_date=dt.date(999, 1, 2)),
    ]
    with by_sqlalchemy.begin() as conn:
        conn.execute(upsert(), rows)
    with by_driver.begin() as conn:
        write_many(conn, upsert(), rows)
    assert stored(tmp_path / "raw.sqlite") == stored(tmp_path / "sa.sqlite")
