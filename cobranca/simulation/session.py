"""One simulation on a running platform: the tenant set up through the admin API as an agency
would, the world lived day by day, and the summary with the indicators replayed from the
topics. `cobranca simulate` runs it on a platform it starts; tests run it on theirs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from anyio.from_thread import start_blocking_portal

from analytics import reports
from analytics.frames import load_facts
from cobranca.client import GatewayClient
from cobranca.demo_messaging import seed_messaging
from cobranca.demo_negotiation import seed_negotiation
from cobranca.demo_portal import seed_portal
from cobranca.demo_ruler import seed_ruler
from cobranca.simulation.driver import Clients, Simulation, Tally, settle_with
from cobranca.simulation.fingerprint import fingerprint
from cobranca.simulation.model import BehaviourModel
from cobranca.simulation.world import World
from service_runtime.settings import Settings
from services.clock.adapters.client import ClockRemote
from services.gateway.adapters.tokens import Role, issue_token


def set_up_tenant(settings: Settings, tenant: str) -> Clients:
    """The agency's configuration (the demo's), and the people's doors into the gateway."""
    key = settings.signing_key()

    def client(role: Role, subject: str) -> GatewayClient:
        token = issue_token(
            key, tenant=tenant, role=role, subject=subject, ttl=dt.timedelta(days=30)
        )
        return GatewayClient(settings.base_url, token)

    admin = client("admin", f"admin@{tenant}")
    seed_messaging(admin)
    seed_ruler(admin)
    seed_negotiation(admin)
    seed_portal(admin)
    return Clients(
        anonymous=GatewayClient(settings.base_url),
        operator=client("operator", f"operadora@{tenant}"),
        bank=client("integration", f"banco@{tenant}"),
        admin=admin,
        with_token=lambda token: GatewayClient(settings.base_url, token),
    )


def run_simulation(
    settings: Settings,
    world: World,
    days: int,
    seed: int,
    tenant: str,
    model: BehaviourModel,
    *,
    workers: int = 6,
    on_day: Callable[[int, dt.date, Tally], None] | None = None,
) -> dict[str, Any]:
    """Needs the platform of `settings` running on a manual clock at `world.start`."""
    clients = set_up_tenant(settings, tenant)
    bootstrap = settings.kafka_bootstrap
    assert bootstrap, "the platform's Kafka bootstrap servers"
    # The Kafka clients live on an event loop of their own thread, running all along: between
    # two calls the day's HTTP work goes on for tens of seconds, and a loop run only during the
    # calls (asyncio.Runner) left their fetches unanswered that long (each then failed as timed
    # out, with an error in the console, and its connection was made again).
    with start_blocking_portal() as portal:
        remote = ClockRemote(settings, timeout=120.0)
        portal.call(remote.start)
        idle, settle = settle_with(bootstrap, portal)
        simulation = Simulation(
            world,
            days,
            seed,
            tenant,
            clients,
            bootstrap,
            advance_day=lambda: portal.call(remote.advance, 1).today,
            model=model,
            workers=workers,
            on_day=on_day,
        )
        try:
            tally = simulation.run(settle)
        finally:
            portal.call(idle.stop)
            portal.call(remote.stop)
    return summarize(bootstrap, world, days, seed, tenant, tally)


def summarize(
    bootstrap: str, world: World, days: int, seed: int, tenant: str, tally: Tally
) -> dict[str, Any]:
    """What the people did, and what the topics say happened (replayed from offset zero)."""
    as_of = world.start + dt.timedelta(days=days - 1)
    facts = load_facts(bootstrap, tenant=tenant)
    return {
        "seed": seed,
        "debtors": len(world.debtors),
        "days": days,
        "first_day": world.start,
        "as_of": as_of,
        "activity": dict(sorted(tally.counts.items())),
        "paid_cents": tally.paid_cents,
        "streams": {
            "fingerprint": fingerprint(facts),
            "agreements": len(facts.agreements),
            "installments_paid": len(facts.installments_paid),
            "breaks": len(facts.breaks),
            "receipts": len(facts.receipts),
        },
        "fpd": {
            f"fpd_{k}": reports.fpd_report(
                facts, k=k, as_of=as_of, by=["channel"], tenant=tenant
            ).model_dump(mode="json")["rows"]
            for k in (0, 5, 30)
        },
        "recovery": reports.recovery_report(
            facts, as_of=as_of, by=["creditor"], tenant=tenant
        ).model_dump(mode="json")["rows"],
        "agreements": reports.agreements_report(
            facts, as_of=as_of, by=[], tenant=tenant
        ).model_dump(mode="json")["rows"],
    }
