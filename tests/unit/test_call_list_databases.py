"""The call list derives a debt's status, amount owed, stage and held listing in the database,
in one statement per batch: SQLite (the embedded default) and PostgreSQL (a real deployment) end a
stream with the same rows, however it is batched."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from service_runtime.database import engine_from_url
from services.gateway.read_models.call_list import CallListProjection, call_debts
from tests.support.platform import fresh_postgres_database, postgres_unavailable_reason
from tests.unit.test_projections import VAULT
from tests.unit.test_read_model_batches import call_stream, every_row


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    if request.param == "sqlite":
        made = engine_from_url(f"sqlite:///{tmp_path / 'read.sqlite'}")
        yield made
        made.dispose()
        return
    reason = postgres_unavailable_reason()
    if reason:
        pytest.skip(reason)
    with fresh_postgres_database() as url:
        made = engine_from_url(url)
        yield made
        made.dispose()


def derived(engine: sa.Engine) -> dict[str, tuple[object, ...]]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                call_debts.c.debt_id,
                call_debts.c.status,
                call_debts.c.paid_cents,
                call_debts.c.amount_cents,
                call_debts.c.stage,
                call_debts.c.listing_held,
            )
        )
        return {row[0]: tuple(row[1:]) for row in rows}


@pytest.mark.parametrize("size", [1, 4, 1000])
def test_the_call_lists_debts_end_the_same_on_each_database(engine: sa.Engine, size: int) -> None:
    projection = CallListProjection(VAULT)
    projection.create_tables(engine)
    stream = call_stream()
    for start in range(0, len(stream), size):
        with engine.begin() as conn:
            projection.apply(conn, stream[start : start + size])
    # m1 at the credit bureau stage, its listing held for want of a notice; m2 back from a
    # broken agreement owing 30,000 less 20,000 paid, then left the ruler renegotiated; j1
    # settled; c1 imported after its agreement, which was fulfilled; c2 held, then listed.
    assert derived(engine) == {
        "m1": ("open", 0, 100_000, "credit_bureau", True),
        "m2": ("open", 20_000, 30_000, "current", False),
        "j1": ("settled", 0, 0, "notice", False),
        "c1": ("settled", 0, 0, "current", False),
        "c2": ("open", 0, 40_000, "credit_bureau", False),
    }
    reference = sa.create_engine("sqlite://")
    again = CallListProjection(VAULT)
    again.create_tables(reference)
    with reference.begin() as conn:
        again.apply(conn, stream)
    assert every_row(engine, projection)["call_debts"] == every_row(reference, again)["call_debts"]
