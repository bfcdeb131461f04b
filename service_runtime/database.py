"""The SQL database a service keeps beside its event store (outbox position, read models):
a SQLite file by default, the service's own schema in PostgreSQL when configured."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from service_runtime.eventstore import ensure_postgres_schema
from service_runtime.settings import Settings


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the HTTP readers read while a projection writes; busy_timeout waits for a lock.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def sqlite_engine(path: str) -> Engine:
    engine = create_engine(f"sqlite:///{path}", connect_args={"check_same_thread": False})
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _bulk_load_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # Nobody reads the file before the load ends, and a failed load is thrown away: the
    # rollback journal in memory and no waiting for the disk. Writing the write-ahead log
    # and checkpointing it was a third of a rebuild's time.
    cursor.execute("PRAGMA journal_mode=MEMORY")
    cursor.execute("PRAGMA synchronous=OFF")
    cursor.close()


def sqlite_file_to_load(url: str) -> Path | None:
    """The path of `url` when it names a SQLite file that does not exist yet."""
    if not url.startswith("sqlite:///"):
        return None
    path = Path(url.removeprefix("sqlite:///"))
    return None if path.exists() else path


@contextlib.contextmanager
def bulk_loaded_sqlite(path: Path) -> Iterator[Engine]:
    """An engine on a new SQLite file, to fill in bulk (a rebuild of read models). When the
    block ends well the file is left in write-ahead-log mode, as the services open theirs;
    when it fails the file is removed, so no half-loaded file is taken for a whole one."""
    if path.exists():
        raise FileExistsError(f"{path} exists: a bulk load makes a new file")
    engine = create_engine(f"sqlite:///{path}", connect_args={"check_same_thread": False})
    event.listen(engine, "connect", _bulk_load_pragmas)
    try:
        yield engine
    except BaseException:
        engine.dispose()
        path.unlink(missing_ok=True)
        raise
    engine.dispose()
    with contextlib.closing(sqlite3.connect(path)) as connection:
        connection.execute("PRAGMA journal_mode=WAL")


def postgres_engine(url: str, schema: str) -> Engine:
    ensure_postgres_schema(url, schema)
    sa_url = make_url(url).set(drivername="postgresql+psycopg")
    return create_engine(
        sa_url,
        pool_size=5,
        pool_pre_ping=True,
        connect_args={"options": f"-csearch_path={schema}"},
    )


def service_engine(settings: Settings, service: str, name: str = "state") -> Engine:
    """One engine per service (and per named database within it, on SQLite)."""
    if settings.uses_postgres:
        assert settings.database_url is not None
        return postgres_engine(settings.database_url, f"{service}_{name}")
    return sqlite_engine(str(settings.service_dir(service) / f"{name}.sqlite"))


def engine_from_url(url: str, schema: str = "public") -> Engine:
    if url.startswith("postgres"):
        return postgres_engine(url, schema)
    path = url.removeprefix("sqlite:///")
    return sqlite_engine(path)


def vault_engine(settings: Settings) -> Engine:
    """The key vault's own database: never a service's store (see personal_data)."""
    if settings.vault_url:
        return engine_from_url(settings.vault_url, "vault")
    if settings.uses_postgres:
        assert settings.database_url is not None
        return postgres_engine(settings.database_url, "vault")
    return sqlite_engine(str(settings.service_dir("vault") / "keys.sqlite"))
