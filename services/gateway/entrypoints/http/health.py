"""Liveness and readiness.

- `GET /health/live`: the process answers (for a liveness probe: restart it when this fails).
- `GET /health/ready`: ready to serve, for a readiness probe: the broker is connected, the read
  store answers a query, and every projection is within COBRANCA_READY_MAX_LAG_EVENTS of its
  topics. 503 in the error shape otherwise, one detail per reason. Also 503 while the read
  store is a local SQLite file and a projection reads only some of its topics' partitions:
  another gateway joined the same consumer group and took the rest, so each holds half of
  the read model (replicas must share one PostgreSQL read database, as Helm's do; see
  `partial_assignment_reasons`). Ready but "degraded" (200,
  with a warning per reason) while the outbox relay has skipped stored events it could not
  publish, or its loop is starting again after an unexpected error (see below), and while a
  projection cannot apply a batch of events (`projection_warnings`).
- `GET /health`: the business date, and "degraded" with the relay's warnings, as above.
- `GET /ready` stays as it was (the broker and store).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from anyio import to_thread
from litestar import Controller, Request, Response, get
from litestar.datastructures import State
from litestar.exceptions import HTTPException
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from service_runtime.outbox import RelayHealth
from services.gateway.entrypoints.http.errors import error_response

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Assignment:
    """How many partitions of a projection's topics this process reads, of all they have."""

    assigned: int
    total: int


def assignment_of(runner: Any) -> Assignment | None:
    """A projection consumer's share of its topics, None when not known: no assignment yet,
    or a topic's partitions not in the consumer's metadata (nothing is claimed then)."""
    if not getattr(runner, "has_assignment", False):
        return None
    try:
        topics = set(runner.applier.topics)
        consumer = runner.consumer
        total = 0
        for topic in topics:
            partitions = consumer.partitions_for_topic(topic)
            if not partitions:
                return None
            total += len(partitions)
        assigned = sum(1 for tp in set(runner.assigned) if tp.topic in topics)
    except (AttributeError, AssertionError, TypeError):
        return None
    return Assignment(assigned, total)


def partial_assignment_reasons(
    local_read_store: bool, assignments: Mapping[str, Assignment | None]
) -> list[dict[str, str]]:
    """A gateway whose read store is its own SQLite file must read every partition of each
    projection's topics: the projections' consumer groups (gateway.<projection>) are shared
    by every gateway on the cluster, so a second one started with its own data dir takes
    part of the partitions, and each then holds part of every read model (a debtor's
    timeline, the call list...). Replicas share one PostgreSQL read database instead (any
    share of the partitions is then fine). One reason per projection that reads fewer than
    all of its partitions; none when the read store is shared or the share is not known."""
    if not local_read_store:
        return []
    reasons: list[dict[str, str]] = []
    for name, share in sorted(assignments.items()):
        if share is None or share.assigned >= share.total:
            continue
        reasons.append(
            {
                "field": f"projections.{name}",
                "rule": "partial_assignment",
                "message": f"a projeção {name} lê só {share.assigned} de {share.total} "
                f"partições: outro gateway do grupo gateway.{name} tem as demais e o banco de "
                "leitura deste é um SQLite local, então cada um guarda só parte dos dados; "
                "rode um gateway só, ou aponte todos para o mesmo PostgreSQL "
                "(COBRANCA_DATABASE_URL)",
                "message_en": f"The projection {name} reads {share.assigned} of "
                f"{share.total} partitions: another gateway in the group gateway.{name} has "
                "the rest and this one's read store is a local SQLite file, so each holds "
                "part of the data; run one gateway only, or point all of them at one "
                "PostgreSQL (COBRANCA_DATABASE_URL)",
            }
        )
    return reasons


@dataclass(frozen=True)
class Readiness:
    ready: bool
    reasons: list[dict[str, str]] = field(default_factory=list)
    # What an operator must see, but that does not stop this process from serving.
    warnings: list[dict[str, str]] = field(default_factory=list)

    @property
    def status(self) -> str:
        if not self.ready:
            return "not_ready"
        return "degraded" if self.warnings else "ready"


def relay_warnings(relay: RelayHealth | None) -> list[dict[str, str]]:
    """The relay's troubles, as details of the error shape. Degraded rather than 503: every
    replica reads the same relay database, so a 503 would take them all out of the Service
    and stop every tenant's traffic for one event nobody can publish; the API can still serve,
    and the body, the status "degraded" and the ERROR logged once tell the operator."""
    if relay is None:
        return [
            {
                "field": "relay",
                "rule": "relay_unknown",
                "message": "o banco do relay não respondeu: não se sabe se há eventos sem publicar",
                "message_en": "The relay's database did not answer",
            }
        ]
    found: list[dict[str, str]] = []
    if relay.unpublished:
        found.append(
            {
                "field": "relay.unpublished",
                "rule": "unpublished_events",
                "message": f"{relay.unpublished} evento(s) gravado(s) não puderam ser "
                "publicados pelo relay (veja a tabela outbox_unpublished e o log)",
                "message_en": f"{relay.unpublished} stored event(s) could not be published "
                "by the relay (see the outbox_unpublished table and the log)",
            }
        )
    if relay.failing:
        found.append(
            {
                "field": "relay",
                "rule": "relay_restarting",
                "message": "o relay parou por um erro inesperado e está sendo reiniciado "
                f"({relay.restarts} reinício(s)): {relay.failing}",
                "message_en": "The relay stopped on an unexpected error and is being restarted",
            }
        )
    return found


def projection_warnings(runners: Sequence[Any]) -> list[dict[str, str]]:
    """A projection whose batch keeps failing (QA pass 9, D1: analytics could not apply an
    event, read the batch again every second for hours, and the API kept answering the
    numbers of that moment). Degraded rather than 503, as for the relay: every replica reads
    the same events and would fail alike, and the other read models still serve; the body,
    the status "degraded" and the ERROR lines in the log tell the operator. The warning names
    the error's type only: `/health` answers anyone, and an error's text may hold a row's data
    (the log has it)."""
    found: list[dict[str, str]] = []
    for runner in sorted(runners, key=lambda r: r.name):
        failing = getattr(runner, "failing", None)
        if not failing:
            continue
        failures = getattr(runner, "failures", 0)
        found.append(
            {
                "field": f"projections.{runner.name}",
                "rule": "projection_failing",
                "message": f"a projeção {runner.name} não consegue aplicar um lote de eventos "
                f"({failures} tentativa(s) seguidas) e não avança: o que ela mostra parou "
                f"nesse ponto; veja o erro ({failing}) no log do gateway",
                "message_en": f"The projection {runner.name} cannot apply a batch of events "
                f"({failures} attempt(s) in a row) and does not move on: what it shows stopped "
                f"there; see the error ({failing}) in the gateway's log",
            }
        )
    return found


def readiness(
    broker_connected: bool,
    store_ok: bool,
    lags: Mapping[str, int | None],
    max_lag: int,
    warnings: Sequence[dict[str, str]] = (),
    *,
    local_read_store: bool = False,
    assignments: Mapping[str, Assignment | None] | None = None,
) -> Readiness:
    """Whether the gateway may take traffic, and if not, why (field, rule, pt-BR message).
    A projection's lag is None when it has no partitions yet or has not heard its topics'
    ends: it is not known to be caught up, so not ready. With a local read store (SQLite),
    a projection reading only part of its partitions is not ready either
    (`partial_assignment_reasons`)."""
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
    reasons.extend(partial_assignment_reasons(local_read_store, assignments or {}))
    return Readiness(ready=not reasons, reasons=reasons, warnings=list(warnings))


def _relay_health(relay: Any) -> RelayHealth | None:
    """None when the relay's database does not answer (told as a warning, not guessed)."""
    try:
        health: RelayHealth = relay.health()
    except (DBAPIError, OSError):
        log.warning("readiness: the relay's database did not answer", exc_info=True)
        return None
    return health


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
    async def health(self, state: State) -> dict[str, Any]:
        # The business date this process works with (the clock topic's latest day).
        today = state.clock.today().isoformat()
        relay = await to_thread.run_sync(lambda: _relay_health(state.gateway_relay))
        warnings = relay_warnings(relay) + projection_warnings(state.projection_runners)
        return {
            "status": "degraded" if warnings else "ok",
            "today": today,
            "unpublished_events": relay.unpublished if relay else None,
            "warnings": warnings,
        }

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
        relay = await to_thread.run_sync(lambda: _relay_health(state.gateway_relay))
        found = readiness(
            bool(state.broker_ready),
            store_ok,
            lags,
            max_lag,
            relay_warnings(relay) + projection_warnings(runners),
            local_read_store=state.read_engine.dialect.name == "sqlite",
            assignments={r.name: assignment_of(r) for r in runners},
        )
        if not found.ready:
            return error_response(
                request,
                503,
                "not_ready",
                "o gateway ainda não está pronto: "
                + "; ".join(r["message"] for r in found.reasons),
                found.reasons + found.warnings,
                headers={"Retry-After": "5"},
            )
        return Response(
            {
                "status": found.status,
                "projections": {
                    r.name: {"applied": r.applied, "lag": lags[r.name]} for r in runners
                },
                "max_lag_events": max_lag,
                "relay": {
                    "unpublished_events": relay.unpublished if relay else None,
                    "restarts": relay.restarts if relay else None,
                },
                "warnings": found.warnings,
            }
        )
