"""Use cases of the messaging service."""

from services.messaging.application.service import MessagingApplication

__all__ = ["MessagingApplication"]
