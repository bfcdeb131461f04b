"""A rebuild into a new SQLite file loads it in bulk: the file ends as the services open
theirs, and a rebuild that fails leaves no half-filled file behind."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from service_runtime.database import bulk_loaded_sqlite, sqlite_file_to_load

rows = sa.Table("rows", sa.MetaData(), sa.Column("n", sa.Integer, primary_key=True))


def journal_mode(path: Path) -> str:
    with sqlite3.connect(path) as connection:
        return str(connection.execute("PRAGMA journal_mode").fetchone()[0])


def test_a_loaded_file_keeps_its_rows_and_ends_in_write_ahead_log_mode(tmp_path: Path) -> None:
    path = tmp_path / "rebuilt.sqlite"
    with bulk_loaded_sqlite(path) as engine:
        rows.metadata.create_all(engine)
        with engine.begin() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "memory"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 0
            conn.execute(rows.insert(), [{"n": n} for n in range(1000)])
    assert journal_mode(path) == "wal"
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT count(*) FROM rows").fetchone()[0] == 1000


def test_a_transaction_that_fails_during_the_load_still_rolls_back(tmp_path: Path) -> None:
    path = tmp_path / "rebuilt.sqlite"
    with bulk_loaded_sqlite(path) as engine:
        rows.metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(rows.insert(), [{"n": 1}])
        with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
            conn.execute(rows.insert(), [{"n": 2}, {"n": 1}])
        with engine.connect() as conn:
            assert conn.execute(sa.select(rows.c.n)).scalars().all() == [1]


def test_a_load_that_fails_removes_the_file(tmp_path: Path) -> None:
    path = tmp_path / "rebuilt.sqlite"
    with pytest.raises(RuntimeError, match="broker went away"), bulk_loaded_sqlite(path) as engine:
        rows.metadata.create_all(engine)
        assert path.exists()
        raise RuntimeError("broker went away")
    assert not path.exists()


def test_an_existing_file_is_never_loaded_in_bulk(tmp_path: Path) -> None:
    path = tmp_path / "gateway.sqlite"
    path.write_bytes(b"")
    assert sqlite_file_to_load(f"sqlite:///{path}") is None
    with pytest.raises(FileExistsError), bulk_loaded_sqlite(path):
        pass
    assert path.exists()


def test_only_a_new_sqlite_file_is_loaded_in_bulk(tmp_path: Path) -> None:
    assert sqlite_file_to_load(f"sqlite:///{tmp_path / 'new.sqlite'}") == tmp_path / "new.sqlite"
    assert sqlite_file_to_load("postgresql://postgres@127.0.0.1/postgres") is None
