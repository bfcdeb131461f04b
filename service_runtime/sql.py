"""Writes that SQLite and PostgreSQL both spell `INSERT ... ON CONFLICT`, and many rows
updated by their key in one statement.

The statements a projection writes with at every batch are built once per dialect and kept
(`cached`): building one costs its cache key and SQLAlchemy's compiled-cache lookup each
time, which showed in a replay's profile.

Many rows of one statement (`execute_many`, `insert_ignore`, `update_rows`) go to SQLite as
ready tuples (`write_many`): the statement compiled once per dialect and set of keys, each
row's values taken in the compiled order and only the columns whose type converts (dates,
datetimes, booleans) passed through that type's own bind processor, so the driver stores
exactly what SQLAlchemy's executemany would have; its per-row processing of every parameter
was a quarter of a replay. Dates and UTC datetimes are turned into the same text directly
(`_direct`, checked against the type's processor when a statement is prepared). Other
databases get SQLAlchemy's executemany (on PostgreSQL its INSERTs of many rows are already
sent as multi-row VALUES).

A list of ids a query looks for (`in_ids`) is one parameter, whatever its length: a JSON array
read with `json_each` on SQLite, an array on PostgreSQL. The statement is then compiled once
and kept in SQLAlchemy's cache; an expanding `IN` was rendered again at every execution, and
in chunks (SQLite's limit on parameters), which was a tenth of a replay of the portal view."""

from __future__ import annotations

import datetime as dt
import functools
import json
import operator
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Boolean, Connection, String, Table, TypeDecorator, bindparam, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import Update, UpdateBase
from sqlalchemy.sql.elements import BindParameter, ColumnElement
from sqlalchemy.sql.type_api import TypeEngine
from sqlalchemy.sql.visitors import InternalTraversal

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
    write_many(conn, statement, rows)


@dataclass(frozen=True)
class _Prepared:
    """A statement compiled for one dialect and one set of row keys, and how a row (a
    mapping) becomes the tuple of parameters the driver takes."""

    sql: str
    values: Callable[[Row], Any]  # a row's values (or constants) in the compiled order
    single: bool  # one parameter: `values` gives it alone, not in a tuple
    # (position, the type's bind processor) of the columns whose type converts the value.
    processors: tuple[tuple[int, Callable[[Any], Any]], ...]
    constants: dict[str, Any] | None  # the statement's own values, under the rows'


_PREPARED: dict[tuple[str, UpdateBase, tuple[str, ...]], _Prepared | None] = {}
# Statements are built once and kept (`cached`): more than this many means some are not.
_PREPARED_MAX = 1000


def _prepare(dialect: Dialect, statement: UpdateBase, keys: tuple[str, ...]) -> _Prepared | None:
    """None when the rows cannot go as they are (a parameter neither in the rows nor given
    by the statement, as a column default SQLAlchemy computes would be, or one it computes
    at each execution)."""
    compiled = statement.compile(dialect=dialect, column_keys=list(keys))
    names = compiled.positiontup
    if names is None or compiled.insert_prefetch or compiled.update_prefetch:
        return None
    given = set(keys)
    constants: dict[str, Any] = {}
    for name in names:
        if name not in given:
            bind = compiled.binds[name]
            if bind.required or bind.callable is not None:
                return None
            constants[name] = compiled.params[name]
    processors = []
    for position, name in enumerate(names):
        process = compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            processors.append((position, _direct(process)))
    return _Prepared(
        sql=compiled.string,
        values=operator.itemgetter(*names),
        single=len(names) == 1,
        processors=tuple(processors),
        constants=constants or None,
    )


# A date and an aware datetime as SQLite's DATE and DATETIME store them by default, written
# directly: a UTC column's value went through three Python functions (the TypeDecorator's,
# `UtcDateTime.process_bind_param` and the dialect's %-formatting of a dict), twice the cost.
_SAMPLE_DAYS = (dt.date(2026, 11, 26), dt.date(999, 1, 2))
_SAMPLE_TIMES = (
    dt.datetime(2026, 11, 26, 23, 59, 58, 123456, tzinfo=dt.timezone(dt.timedelta(hours=-3))),
    dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
)


def _day_text(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def day_text(value: Any, _date: type[dt.date] = dt.date) -> Any:
        return value.isoformat() if type(value) is _date else process(value)

    return day_text


def _utc_text(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def utc_text(value: Any, _datetime: type[dt.datetime] = dt.datetime) -> Any:
        if type(value) is _datetime:
            offset = value.utcoffset()
            if offset is not None:
                return (value - offset).replace(tzinfo=None).isoformat(" ", "microseconds")
        return process(value)  # None, a naive datetime (refused), anything else

    return utc_text


def _direct(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """`process`, or a quicker function that gives the same text for every date or aware
    datetime: tried on samples first, so a type or a storage format that writes anything
    else keeps its own processor."""
    for quicker, samples in (
        (_day_text(process), _SAMPLE_DAYS),
        (_utc_text(process), _SAMPLE_TIMES),
    ):
        try:
            if all(quicker(v) == process(v) for v in samples) and quicker(None) == process(None):
                return quicker
        except (TypeError, ValueError, AttributeError):
            continue
    return process


def write_many(conn: Connection, statement: UpdateBase, rows: Sequence[Row]) -> None:
    """`statement` executed once with every row (each a mapping with the same keys as the
    first): on SQLite the rows go to the driver as tuples (see the module's docstring);
    elsewhere, or when a row lacks a value the statement needs, SQLAlchemy's executemany."""
    if not rows:
        return
    dialect = conn.dialect
    prepared = None
    if dialect.paramstyle == "qmark":
        key = (dialect.name, statement, tuple(rows[0]))
        if key in _PREPARED:
            prepared = _PREPARED[key]
        else:
            if len(_PREPARED) >= _PREPARED_MAX:
                _PREPARED.clear()
            prepared = _PREPARED[key] = _prepare(dialect, statement, key[2])
    if prepared is None:
        conn.execute(statement, list(rows))
        return
    values = prepared.values
    if prepared.constants is not None:
        constants = prepared.constants
        params = [values({**constants, **row}) for row in rows]
    else:
        params = [values(row) for row in rows]
    if prepared.single:
        params = [(value,) for value in params]
    if prepared.processors:
        processors = prepared.processors
        converted = []
        for row_values in params:
            listed = list(row_values)
            for position, process in processors:
                listed[position] = process(listed[position])
            converted.append(tuple(listed))
        params = converted
    conn.exec_driver_sql(prepared.sql, params)


class IdList(TypeDecorator[Sequence[str]]):
    """A list of ids bound as one parameter: JSON text on SQLite (read with `json_each`), an
    array of text on PostgreSQL."""

    impl = String
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.ARRAY(String()))
        return dialect.type_descriptor(String())

    def process_bind_param(self, value: Sequence[str] | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if dialect.name == "postgresql":
            return list(value)
        return json.dumps(list(value))


class InIds(ColumnElement[bool]):
    """`column` is one of the ids bound as `name` (a list, any length)."""

    inherit_cache = True
    type = Boolean()
    _is_implicitly_boolean = True  # a predicate: no "= 1" after it where booleans are ints
    # What makes its cache key (SQLAlchemy's own convention: a list on the class).
    _traverse_internals = [  # noqa: RUF012
        ("column", InternalTraversal.dp_clauseelement),
        ("ids", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, column: ColumnElement[Any], name: str) -> None:
        self.column = column
        self.ids: BindParameter[Sequence[str]] = bindparam(name, type_=IdList())


@compiles(InIds)
def _in_json_array(element: InIds, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    return f"{column} IN (SELECT value FROM json_each({compiler.process(element.ids, **kw)}))"


@compiles(InIds, "postgresql")
def _in_array(element: InIds, compiler: SQLCompiler, **kw: Any) -> str:
    return f"{compiler.process(element.column, **kw)} = ANY({compiler.process(element.ids, **kw)})"


def in_ids(column: ColumnElement[Any], name: str = "ids") -> InIds:
    """`column IN` the list of ids given as the parameter `name` (see the module's docstring):
    `conn.execute(select(...).where(in_ids(table.c.id)), {"ids": ids})`."""
    return InIds(column, name)


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
        write_many(conn, cached(conn, ("insert_ignore", table), _ignoring(table)), rows)


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
    write_many(
        conn,
        _update_by(table, key, columns),
        [{f"b_{c}": v for c, v in row.items()} for row in rows],
    )


__all__ = [
    "DialectInsert",
    "IdList",
    "cached",
    "execute_many",
    "in_ids",
    "insert_for",
    "insert_ignore",
    "update_rows",
    "upsert",
    "write_many",
]
