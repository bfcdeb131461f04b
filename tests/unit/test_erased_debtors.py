"""A projection asks which debtors of a batch had their data erased (to remove data in clear as
it comes): erasures are few, so while they are it reads them all in one query instead of
asking for the batch's debtors 400 at a time (in a replay, every debtor of every batch, of a
table most often empty). The answer is the same either way."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from contracts.envelope import Envelope
from service_runtime.database import sqlite_engine
from services.gateway.read_models import personal
from services.gateway.read_models.personal import PersonalDataProjection, erasures_table

metadata = sa.MetaData()


class Erasing(PersonalDataProjection):
    name = "erasing"
    topics = ()
    metadata = metadata
    erasures = erasures_table("erasing_erasures", metadata)

    def apply(self, conn: sa.Connection, events: list[Envelope]) -> None:
        raise AssertionError("not applied here")


def debtors(n: int) -> list[tuple[str, str]]:
    return [("acme", f"{i:011d}") for i in range(n)]


def erase(engine: sa.Engine, *documents: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            Erasing.erasures.insert(),
            [
                {
                    "tenant": "acme",
                    "document": document,
                    "erased_at": dt.datetime(2026, 11, 2, 15, tzinfo=dt.UTC),
                    "requested_by": "dpo@acme",
                }
                for document in documents
            ],
        )


@pytest.fixture
def engine(tmp_path: Path) -> sa.Engine:
    engine = sqlite_engine(str(tmp_path / "erasing.sqlite"))
    metadata.create_all(engine)
    return engine


def statements(engine: sa.Engine) -> list[str]:
    seen: list[str] = []

    @sa.event.listens_for(engine, "before_cursor_execute")
    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    return seen


def test_a_batch_of_a_thousand_debtors_with_two_erased_asks_once(engine: sa.Engine) -> None:
    # Two of the batch's debtors erased, and one the batch does not name.
    erase(engine, f"{5:011d}", f"{900:011d}", "99999999999")
    seen = statements(engine)
    with engine.connect() as conn:
        found = Erasing(vault=None).erased_debtors(conn, debtors(1000))  # type: ignore[arg-type]
    assert found == {("acme", f"{5:011d}"), ("acme", f"{900:011d}")}
    assert len(seen) == 1


def test_no_debtors_asks_nothing(engine: sa.Engine) -> None:
    seen = statements(engine)
    with engine.connect() as conn:
        assert Erasing(vault=None).erased_debtors(conn, []) == set()  # type: ignore[arg-type]
    assert seen == []


def test_many_erasures_are_asked_for_by_debtor_with_the_same_answer(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(personal, "_FEW_ERASURES", 2)
    erase(engine, f"{5:011d}", f"{900:011d}", "99999999999")
    seen = statements(engine)
    with engine.connect() as conn:
        found = Erasing(vault=None).erased_debtors(conn, debtors(1000))  # type: ignore[arg-type]
    assert found == {("acme", f"{5:011d}"), ("acme", f"{900:011d}")}
    # The first rows, then the debtors 400 at a time.
    assert len(seen) == 1 + 3
