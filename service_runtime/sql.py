"""Writes that SQLite and PostgreSQL both spell `INSERT ... ON CONFLICT`, and many rows
updated by their key in one statement.

The statements a projection writes with at every batch are built once per dialect and kept
(`cached`): building one costs its cache key and SQLAlchemy's compiled-cache lookup each
time, which showed in a replay's profile; executing a kept statement with many rows is
SQLAlchemy's own executemany."""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table, bindparam, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Update, UpdateBase

Row = Mapping[str, Any]
# The `insert` of a dialect: postgresql.insert or sqlite.insert (both spell ON CONFLICT).
DialectInsert = Callable[[Table], sqlite.Insert | postgresql.Insert]


def insert_for(conn: Connection) -> DialectInsert:
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


_STATEMENTS: dict[tuple[str, Hashable], UpdateBase] = {}


def cached(
    conn: Connection, key: Hashable, build: Callable[[DialectInsert], UpdateBase]
) -> UpdateBase:
    """The statement `build` makes with the connection's dialect's `insert`, built once per
    dialect and `key`."""
    dialect = conn.dialect.name
    found = _STATEMENTS.get((dialect, key))
    if found is None:
        found = _STATEMENTS[(dialect, key)] = build(insert_for(conn))
    return found


def execute_many(conn: Connection, statement: UpdateBase, rows: Sequence[Row]) -> None:
    """`statement` with every row (the same keys in each), in one executemany."""
    if rows:
        conn.execute(statement, list(rows))


def upsert(conn: Connection, table: Table, values: dict[str, Any], keys: Sequence[str]) -> None:
    """Insert or update one row, on SQLite and PostgreSQL alike."""
    ins = insert_for(conn)(table)
    update = {k: v for k, v in values.items() if k not in keys}
    stmt = ins.values(**values)
    stmt = (
        stmt.on_conflict_do_update(index_elements=list(keys), set_=update)
        if update
        else stmt.on_conflict_do_nothing(index_elements=list(keys))
    )
    conn.execute(stmt)


def insert_ignore(conn: Connection, table: Table, rows: Sequence[Row]) -> None:
    """Insert the rows whose key is not stored yet; the others are left as they are."""
    if rows:
        statement = cached(conn, ("insert_ignore", table), _ignoring(table))
        conn.execute(statement, list(rows))


def _ignoring(table: Table) -> Callable[[DialectInsert], UpdateBase]:
    def build(insert: DialectInsert) -> UpdateBase:
        return insert(table).on_conflict_do_nothing()

    return build


@functools.cache
def _update_by(table: Table, key: str, columns: tuple[str, ...]) -> Update:
    # A bind parameter may not take the name of a column the UPDATE sets: hence the prefix.
    return (
        update(table)
        .where(table.c[key] == bindparam(f"b_{key}"))
        .values({c: bindparam(f"b_{c}") for c in columns})
    )


def update_rows(conn: Connection, table: Table, key: str, rows: Sequence[Row]) -> None:
    """Update rows by their `key` column in one executemany: each row maps the key and the
    columns to set (every row the same columns) to their values."""
    if not rows:
        return
    columns = tuple(c for c in rows[0] if c != key)
    conn.execute(
        _update_by(table, key, columns),
        [{f"b_{c}": v for c, v in row.items()} for row in rows],
    )


__all__ = [
    "DialectInsert",
    "cached",
    "execute_many",
    "insert_for",
    "insert_ignore",
    "update_rows",
    "upsert",
]
