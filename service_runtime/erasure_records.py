"""A service's own record of the erasures it applied (see service_runtime.personal_data): the
debtors and the keys. With it, data read after an erasure (a replay, events in clear from
before version 2, a cache that still holds a key) is removed as it arrives."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Column, Connection, DateTime, MetaData, String, Table, select, tuple_

from contracts.personal import PersonalDataErased
from service_runtime.sql import insert_ignore


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

    def remember(self, conn: Connection, events: Sequence[PersonalDataErased]) -> None:
        """Record these erasures: the first of each debtor and of each key is the one kept."""
        insert_ignore(
            conn,
            self.debtors,
            [
                {"tenant": e.tenant, "document": e.document, "erased_at": e.occurred_at}
                for e in events
            ],
        )
        insert_ignore(
            conn,
            self.keys,
            [
                {"key_id": key_id, "tenant": e.tenant, "document": e.document}
                for e in events
                for key_id in e.key_ids
            ],
        )

    @staticmethod
    def applied_before(event: PersonalDataErased, erased_keys: set[str]) -> bool:
        """Whether this erasure was applied already: every key it names is remembered as
        erased. Read again (a partition read from the start), it must not remove the data the
        creditor sent after it, under a new key. (An erasure without keys, of data that came
        in clear, cannot tell and is applied again.)"""
        return bool(event.key_ids) and set(event.key_ids) <= erased_keys
