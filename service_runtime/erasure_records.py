"""A service's own record of the erasures it applied (see service_runtime.personal_data): the
debtors and the keys. With it, data read after an erasure (a replay, events in clear from
before version 2, a cache that still holds a key) is removed as it arrives."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Column, Connection, DateTime, MetaData, String, Table, select, tuple_


@dataclass(frozen=True)
class ErasureRecords:
    debtors: Table
    keys: Table

    @classmethod
    def declare(cls, prefix: str, metadata: MetaData) -> ErasureRecords:
        return cls(
            debtors=Table(
                f"{prefix}_erased_debtors",
                metadata,
                Column("tenant", String(63), primary_key=True),
                Column("document", String(14), primary_key=True),
                Column("erased_at", DateTime(timezone=True), nullable=False),
            ),
            keys=Table(
                f"{prefix}_erased_keys",
                metadata,
                Column("key_id", String(32), primary_key=True),
                Column("tenant", String(63), nullable=False),
                Column("document", String(14), nullable=False),
            ),
        )

    def erased_among(
        self, conn: Connection, debtors: Iterable[tuple[str, str]], key_ids: Iterable[str]
    ) -> tuple[set[tuple[str, str]], set[str]]:
        """Which of these (tenant, document) pairs and key ids were erased."""
        pairs, keys = list(set(debtors)), list(set(key_ids))
        found_pairs: set[tuple[str, str]] = set()
        found_keys: set[str] = set()
        debtors_table, keys_table = self.debtors, self.keys
        for start in range(0, len(pairs), 500):
            rows = conn.execute(
                select(debtors_table.c.tenant, debtors_table.c.document).where(
                    tuple_(debtors_table.c.tenant, debtors_table.c.document).in_(
                        pairs[start : start + 500]
                    )
                )
            )
            found_pairs.update((r.tenant, r.document) for r in rows)
        for start in range(0, len(keys), 500):
            found_keys.update(
                conn.execute(
                    select(keys_table.c.key_id).where(
                        keys_table.c.key_id.in_(keys[start : start + 500])
                    )
                ).scalars()
            )
        return found_pairs, found_keys
