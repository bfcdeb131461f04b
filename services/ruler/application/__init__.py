"""Use cases of the ruler service."""

from services.ruler.application.service import RulerApplication

__all__ = ["RulerApplication"]
