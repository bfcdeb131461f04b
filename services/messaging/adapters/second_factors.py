"""Each tenant's second factor, as the gateway's portal profile says it (`PortalProfileSaved`
versions 1 and 2 on `gateway.config`), kept in the messaging service's database so the chatbot
asks what the portal asks (see domain.second_factor). Only the `second_factor` part of a
profile says it; the other parts (name, list, logo) and any other event are skipped. The
profile's newest version wins (`version`, the tenant's portal profile's aggregate version), so
reading the topic again, or out of order, changes nothing."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Connection, Engine, Integer, MetaData, String, Table, select
from sqlalchemy.dialects import postgresql, sqlite

from contracts.envelope import Envelope
from contracts.gateway import CONFIG_TOPIC, PortalProfileSaved, PortalProfileSavedV2
from service_runtime.projection import Projection
from services.messaging.domain.second_factor import (
    NO_SECOND_FACTOR,
    SECOND_FACTORS,
    SecondFactor,
)

metadata = MetaData()
tenant_second_factors = Table(
    "tenant_second_factors",
    metadata,
    Column("tenant", String(63), primary_key=True),
    Column("second_factor", String(20), nullable=False),
    Column("code_channels", String(40), nullable=False),  # "sms,email", in order
    Column("version", Integer, nullable=False),
)

PROJECTION_NAME = "messaging.second_factors"


def _upsert(dialect: Any) -> Any:
    ins = dialect.insert(tenant_second_factors)
    return ins.on_conflict_do_update(
        index_elements=["tenant"],
        set_={k: ins.excluded[k] for k in ("second_factor", "code_channels", "version")},
        where=tenant_second_factors.c.version < ins.excluded.version,
    )


_UPSERT = {"postgresql": _upsert(postgresql), "sqlite": _upsert(sqlite)}


class SecondFactorsProjection(Projection):
    name = PROJECTION_NAME
    topics = (CONFIG_TOPIC,)
    metadata = metadata

    def apply(self, conn: Connection, events: list[Envelope]) -> None:
        newest: dict[str, dict[str, Any]] = {}
        for event in events:
            if not isinstance(event, PortalProfileSaved | PortalProfileSavedV2):
                continue
            if event.part != "second_factor" or event.second_factor not in SECOND_FACTORS:
                continue
            row = {
                "tenant": event.tenant,
                "second_factor": event.second_factor,
                "code_channels": ",".join(event.code_channels or ("sms", "email")),
                "version": event.aggregate_version,
            }
            # As the upsert would: only a newer version replaces.
            if event.tenant not in newest or newest[event.tenant]["version"] < row["version"]:
                newest[event.tenant] = row
        if newest:
            dialect = "postgresql" if conn.dialect.name == "postgresql" else "sqlite"
            conn.execute(_UPSERT[dialect], list(newest.values()))


class SecondFactors:
    """Reads the tenants' second factors (none when the gateway never said one)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        metadata.create_all(engine)

    def of(self, tenant: str) -> SecondFactor:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(
                    tenant_second_factors.c.second_factor, tenant_second_factors.c.code_channels
                ).where(tenant_second_factors.c.tenant == tenant)
            ).first()
        if row is None:
            return NO_SECOND_FACTOR
        channels = tuple(c for c in row.code_channels.split(",") if c in ("sms", "email"))
        return SecondFactor(row.second_factor, channels or ("sms", "email"))
