"""Use cases of the ruler service."""

from __future__ import annotations

from service_runtime.eventstore import ServiceApplication


class RulerApplication(ServiceApplication):
    name = "ruler"
