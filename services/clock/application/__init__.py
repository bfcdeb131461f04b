"""Use cases of the clock service."""

from __future__ import annotations

from services.clock.application.calendar import (
    ClockApplication,
    ClockConfigError,
    ClockNotManual,
    Recorded,
)

__all__ = ["ClockApplication", "ClockConfigError", "ClockNotManual", "Recorded"]
