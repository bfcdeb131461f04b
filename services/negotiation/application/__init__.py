"""Use cases of the negotiation service."""

from __future__ import annotations

from service_runtime.eventstore import ServiceApplication


class NegotiationApplication(ServiceApplication):
    name = "negotiation"
