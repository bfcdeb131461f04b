"""Liveness and readiness.

- `GET /health/live`: the process answers (for a liveness probe: restart it when this fails).
- `GET /health/ready`: ready to serve, for a readiness probe: the broker is connected, the read
  store answers a query, and every projection is within COBRANCA_READY_MAX_LAG_EVENTS of its
  topics. 503 in the error shape otherwise, one detail per reason.
- `GET /health` and `GET /ready` stay as they were (the business date; the broker and store).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from anyio import to_thread
from litestar import Controller, Request, Response, get
from litestar.datastructures import State
from litestar.exceptions import HTTPException
from sqlalchemy import text

from services.gateway.entrypoints.http.errors import error_response


@dataclass(frozen=True)
class Readiness:
    ready: bool
    reasons: list[dict[str, str]] = field(default_factory=list)


def readiness(
    broker_connected: bool,
    store_ok: bool,
    lags: Mapping[str, int | None],
    max_lag: int,
) -> Readiness:
    """Whether the gateway may take traffic, and if not, why (field, rule, pt-BR message).
    A projection's lag is None when it has no partitions yet or has not heard its topics'
    ends: it is not known to be caught up, so not ready."""
    reasons: list[dict[str, str]] = []
    if not broker_connected:
        reasons.append(
            {"field": "broker", "rule": "broker", "message": "Kafka ainda não está conectado"}
        )
    if not store_ok:
        reasons.append(
            {
                "field": "read_store",
                "rule": "read_store",
                "message": "o banco de leitura não respondeu a uma consulta",
            }
        )
    for name, lag in sorted(lags.items()):
        if lag is None:
            reasons.append(
                {
                    "field": f"projections.{name}",
                    "rule": "not_assigned",
                    "message": f"a projeção {name} ainda não recebeu suas partições",
                }
            )
        elif lag > max_lag:
            reasons.append(
                {
                    "field": f"projections.{name}",
                    "rule": "lagging",
                    "message": f"a projeção {name} está {lag} eventos atrás (o máximo é {max_lag})",
                }
            )
    return Readiness(ready=not reasons, reasons=reasons)


def _store_answers(engine: Any) -> bool:
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception:
        return False
    return True


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

    @get("/health/live")
    async def live(self) -> dict[str, str]:
        return {"status": "live"}

    @get("/health/ready")
    async def ready_for_traffic(
        self, request: Request[Any, Any, Any], state: State
    ) -> Response[Any]:
        store_ok = await to_thread.run_sync(lambda: _store_answers(state.read_engine))
        runners = state.projection_runners
        lags: dict[str, int | None] = {r.name: getattr(r, "lag", None) for r in runners}
        max_lag = state.settings.ready_max_lag_events
        found = readiness(bool(state.broker_ready), store_ok, lags, max_lag)
        if not found.ready:
            return error_response(
                request,
                503,
                "not_ready",
                "o gateway ainda não está pronto: "
                + "; ".join(r["message"] for r in found.reasons),
                found.reasons,
                headers={"Retry-After": "5"},
            )
        return Response(
            {
                "status": "ready",
                "projections": {
                    r.name: {"applied": r.applied, "lag": lags[r.name]} for r in runners
                },
                "max_lag_events": max_lag,
            }
        )
