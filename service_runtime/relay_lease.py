"""One publishing relay per service, however many replicas run: the relay holds a lease in
the service's own database and only the holder publishes. Without it, two replicas of a
service read the same notification log and publish every event twice (harmless to idempotent
consumers, but twice the traffic and a stream that says things twice).

The lease is a row with its holder and the time it ends; the holder renews it well before
then, a replica that finds it expired takes it over, and a relay that stops gives it back. A
holder that dies (SIGKILL) is replaced within one lease's length."""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Callable

from sqlalchemy import Column, Engine, Float, MetaData, String, Table, or_, update

from service_runtime.sql import insert_ignore

metadata = MetaData()
relay_leases = Table(
    "outbox_relay_lease",
    metadata,
    Column("relay", String(100), primary_key=True),
    Column("holder", String(200), nullable=False),
    Column("expires_at", Float, nullable=False),  # seconds since the epoch
)


class RelayLease:
    def __init__(
        self,
        engine: Engine,
        relay: str,
        seconds: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self.relay = relay
        self.seconds = seconds
        self.clock = clock
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.held_until = 0.0
        metadata.create_all(engine)

    def hold(self) -> bool:
        """Whether this relay holds the lease now, renewing or taking it when it may."""
        now = self.clock()
        if self.held_until - now > self.seconds * 2 / 3:
            return True  # renewed a moment ago: no write
        with self.engine.begin() as conn:
            insert_ignore(
                conn, relay_leases, [{"relay": self.relay, "holder": "", "expires_at": 0.0}]
            )
            taken = conn.execute(
                update(relay_leases)
                .where(
                    relay_leases.c.relay == self.relay,
                    or_(relay_leases.c.holder == self.holder, relay_leases.c.expires_at < now),
                )
                .values(holder=self.holder, expires_at=now + self.seconds)
            ).rowcount
        self.held_until = now + self.seconds if taken else 0.0
        return bool(taken)

    def release(self) -> None:
        """Give the lease back (a clean stop): another replica need not wait for it to end."""
        if not self.held_until:
            return
        with self.engine.begin() as conn:
            conn.execute(
                update(relay_leases)
                .where(relay_leases.c.relay == self.relay, relay_leases.c.holder == self.holder)
                .values(expires_at=0.0)
            )
        self.held_until = 0.0
