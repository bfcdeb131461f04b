"""The negotiation service process."""

from __future__ import annotations

from service_runtime.host import ServiceHost, build_host, run_worker
from service_runtime.settings import Settings
from services.negotiation.adapters.integration_events import integration_events
from services.negotiation.application import NegotiationApplication


def build(settings: Settings | None = None) -> ServiceHost:
    return build_host("negotiation", NegotiationApplication, integration_events, settings)


def main() -> None:
    run_worker(build())
