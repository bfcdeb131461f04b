"""The services, by name: what `cobranca serve <service>` runs."""

from __future__ import annotations

import importlib
from collections.abc import Callable

SERVICES: dict[str, str] = {
    # The business clock: every other service takes "today" from its topic.
    "clock": "services.clock.entrypoints.worker",
    "portfolio": "services.portfolio.entrypoints.worker",
    "negotiation": "services.negotiation.entrypoints.worker",
    "ruler": "services.ruler.entrypoints.worker",
    "messaging": "services.messaging.entrypoints.worker",
    "gateway": "services.gateway.entrypoints.main",
}


def service_main(name: str) -> Callable[[], None]:
    module = importlib.import_module(SERVICES[name])
    main: Callable[[], None] = module.main
    return main
