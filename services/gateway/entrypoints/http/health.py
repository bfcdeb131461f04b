"""Liveness and readiness."""

from __future__ import annotations

from typing import Any

from litestar import Controller, get
from litestar.datastructures import State
from litestar.exceptions import HTTPException
from sqlalchemy import text


class HealthController(Controller):
    path = ""
    tags = ["health"]  # noqa: RUF012 (Litestar declares it a list)
    include_in_schema = False

    @get("/health")
    async def health(self, state: State) -> dict[str, str]:
        # The business date this process works with (the clock topic's latest day).
        return {"status": "ok", "today": state.clock.today().isoformat()}

    @get("/ready")
    async def ready(self, state: State) -> dict[str, Any]:
        with state.read_engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        runners = state.projection_runners
        if not state.broker_ready:
            raise HTTPException(status_code=503, detail="Kafka not connected yet")
        return {
            "status": "ready",
            "projections": {r.name: {"applied": r.applied} for r in runners},
            "relay_published": state.gateway_relay.published_total,
        }
