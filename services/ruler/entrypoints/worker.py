"""The ruler service process."""

from __future__ import annotations

from service_runtime.host import ServiceHost, build_host, run_worker
from service_runtime.settings import Settings
from services.ruler.adapters.integration_events import integration_events
from services.ruler.application import RulerApplication


def build(settings: Settings | None = None) -> ServiceHost:
    return build_host("ruler", RulerApplication, integration_events, settings)


def main() -> None:
    run_worker(build())
