"""Use cases of the messaging service."""

from __future__ import annotations

from service_runtime.eventstore import ServiceApplication


class MessagingApplication(ServiceApplication):
    name = "messaging"
