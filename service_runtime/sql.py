"""Writes that SQLite and PostgreSQL both spell `INSERT ... ON CONFLICT`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table
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


__all__ = ["insert_ignore", "upsert"]
