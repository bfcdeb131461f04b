"""Use cases of the negotiation service."""

from services.negotiation.application.service import NegotiationApplication

__all__ = ["NegotiationApplication"]
