"""A rebuild into a new file builds the indexes only the readers use once, at its end: the
tables, the indexes and what an erasure removes are the same as a rebuild that kept them up
row by row; an erasure read before the end finds its rows by the index, built for it first;
a rebuild of a database others read (not `bulk`) never takes an index away."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from aiokafka import ConsumerRecord, TopicPartition

from contracts.personal import PersonalDataErased
from service_runtime.personal_data import REMOVED
from service_runtime.projection import BatchApplier, Projection, TogetherApplier
from services.gateway.read_models.call_list import CallListProjection
from services.gateway.read_models.portal_view import PortalViewProjection
from services.gateway.read_models.timeline import TimelineProjection
from tests.unit import test_portal_agreements as portal
from tests.unit.test_projections import VAULT, record_of
from tests.unit.test_read_model_batches import (
    JOAO,
    call_stream,
    every_row,
    portal_stream,
    topic_of,
)

Batch = dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]


def projections() -> list[Projection]:
    return [PortalViewProjection(VAULT), CallListProjection(VAULT), TimelineProjection(VAULT)]


def erasure_of_joao() -> PersonalDataErased:
    return PersonalDataErased(
        **portal.env("erasures", 1),
        document=JOAO,
        key_ids=[],
        requested_by="admin",
        reason="pedido do titular",
    )


def batches(events: list[Any], size: int) -> list[Batch]:
    offsets: dict[str, int] = {}
    out: list[Batch] = []
    for start in range(0, len(events), size):
        batch: Batch = {}
        for event in events[start : start + size]:
            topic = topic_of(event)
            offset = offsets[topic] = offsets.get(topic, -1) + 1
            batch.setdefault(TopicPartition(topic, 0), []).append(
                record_of(event, topic, 0, offset)
            )
        out.append(batch)
    return out


def indexes(engine: sa.Engine) -> set[tuple[str, str]]:
    with engine.connect() as conn:
        return {
            (row[0], row[1])
            for row in conn.exec_driver_sql(
                "SELECT tbl_name, name FROM sqlite_master WHERE type = 'index'"
            )
        }


def rebuilt(
    path: Path, stream: list[Any], size: int, deferred: bool
) -> tuple[list[dict[str, Any]], set[tuple[str, str]], list[set[tuple[str, str]]]]:
    """The rows and indexes a rebuild ends with, and the indexes after each batch."""
    engine = sa.create_engine(f"sqlite:///{path}")
    built = projections()
    for projection in built:
        projection.create_tables(engine)
        if deferred:
            with engine.begin() as conn:
                for index in projection.reader_indexes:
                    index.drop(conn)
    together = TogetherApplier(
        [BatchApplier(p, engine) for p in built], engine, deferred_indexes=deferred
    )
    seen = []
    for batch in batches(stream, size):
        together.apply_records(batch)
        seen.append(indexes(engine))
    together.build_deferred_indexes()
    result = [every_row(engine, p) for p in built], indexes(engine), seen
    engine.dispose()
    return result


def test_each_gateway_projection_that_rebuilds_in_bulk_names_indexes_of_its_own_tables() -> None:
    for projection in projections():
        assert projection.reader_indexes, projection.name
        own = {index for table in projection.metadata.tables.values() for index in table.indexes}
        assert set(projection.reader_indexes) <= own, projection.name


def test_a_rebuild_in_bulk_ends_with_the_rows_and_indexes_of_one_kept_up_row_by_row(
    tmp_path: Path,
) -> None:
    stream = portal_stream() + call_stream()
    random.Random(5).shuffle(stream)
    kept_rows, kept_indexes, kept_seen = rebuilt(tmp_path / "kept.sqlite", stream, 4, False)
    bulk_rows, bulk_indexes, bulk_seen = rebuilt(tmp_path / "bulk.sqlite", stream, 4, True)
    assert bulk_rows == kept_rows
    assert bulk_indexes == kept_indexes
    deferred = {("timeline_entries", "ix_timeline_tenant_document")}
    assert deferred <= kept_indexes
    # Kept up: there all along. In bulk: built at the end only.
    assert all(deferred <= seen for seen in kept_seen)
    assert not any(deferred & seen for seen in bulk_seen)


def test_an_erasure_read_during_a_rebuild_in_bulk_gets_the_indexes_built_first(
    tmp_path: Path,
) -> None:
    stream = [*portal_stream(), erasure_of_joao(), *call_stream()]
    kept_rows, _, _ = rebuilt(tmp_path / "kept.sqlite", stream, 5, False)
    bulk_rows, _, bulk_seen = rebuilt(tmp_path / "bulk.sqlite", stream, 5, True)
    assert bulk_rows == kept_rows
    erased_in = next(i for i, batch in enumerate(batches(stream, 5)) if _has_erasure(batch))
    timeline_index = ("timeline_entries", "ix_timeline_tenant_document")
    portal_index = ("portal_debts", "ix_portal_debts_tenant_document")
    assert not {timeline_index, portal_index} & bulk_seen[erased_in - 1]
    assert {timeline_index, portal_index} <= bulk_seen[erased_in]
    # The erasure took João's name out of the portal's rows, as kept up row by row.
    assert {row[4] for row in bulk_rows[0]["portal_debts"] if row[2] == JOAO} == {REMOVED}


def _has_erasure(batch: Batch) -> bool:
    return any(b"PersonalDataErased" in r.value for records in batch.values() for r in records)


def test_a_rebuild_not_in_bulk_keeps_every_index_all_along(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'read.sqlite'}")
    built = projections()
    for projection in built:
        projection.create_tables(engine)
    before = indexes(engine)
    together = TogetherApplier([BatchApplier(p, engine) for p in built], engine)
    for batch in batches(portal_stream(), 3):
        together.apply_records(batch)
        assert indexes(engine) == before
    together.build_deferred_indexes()
    assert indexes(engine) == before
    engine.dispose()
