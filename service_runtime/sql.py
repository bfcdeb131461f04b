"""Writes that SQLite and PostgreSQL both spell `INSERT ... ON CONFLICT`, and many rows
updated by their key in one statement."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table, bindparam, update
from sqlalchemy.dialects import postgresql, sqlite


def upsert(conn: Connection, table: Table, values: dict[str, Any], keys: Sequence[str]) -> None:
    """Insert or update one row, on SQLite and PostgreSQL alike."""
    ins = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)
    update = {k: v for k, v in values.items() if k not in keys}
    stmt = ins.values(**values)
    stmt = (
        stmt.on_conflict_do_update(index_elements=list(keys), set_=update)
        if update
        else stmt.on_conflict_do_nothing(index_elements=list(keys))
    )
    conn.execute(stmt)


def insert_ignore(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    ins = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)
    conn.execute(ins.on_conflict_do_nothing(), rows)


def update_rows(
    conn: Connection, table: Table, key: str, rows: Sequence[Mapping[str, Any]]
) -> None:
    """Update rows by their `key` column in one executemany: each row maps the key and the
    columns to set (every row the same columns) to their values."""
    if not rows:
        return
    columns = [c for c in rows[0] if c != key]
    # A bind parameter may not take the name of a column the UPDATE sets: hence the prefix.
    conn.execute(
        update(table)
        .where(table.c[key] == bindparam(f"b_{key}"))
        .values({c: bindparam(f"b_{c}") for c in columns}),
        [{f"b_{c}": v for c, v in row.items()} for row in rows],
    )


__all__ = ["insert_ignore", "update_rows", "upsert"]
