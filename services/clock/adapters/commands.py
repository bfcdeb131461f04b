"""Commands to the clock (`clock.commands`, request/reply) and their answers: a `ClockState`,
or a refusal in the platform's error shape (`{"status", "code", "message"}`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from contracts.clock import CLOCK_COMMANDS_TOPIC, AdvanceClock, ClockMode, ClockState
from contracts.topics import TopicSpec
from services.clock.application.calendar import (
    ClockApplication,
    ClockConfigError,
    ClockNotManual,
    Recorded,
)

# Replies to the command-line's requests (each requester reads them in a group of its own).
CLOCK_REPLIES_TOPIC = "clock.replies"

# Not declared in contracts.topics.TOPICS (they carry no events): created by the clock service
# and by whoever sends it commands, before use.
COMMANDS_TOPIC = TopicSpec(
    CLOCK_COMMANDS_TOPIC,
    owner="clock",
    events=(),
    description="Commands to a manual clock (AdvanceClock), answered over request/reply",
    partitions=1,
    retention_ms=7 * 24 * 3600 * 1000,
)
REPLIES_TOPIC = TopicSpec(
    CLOCK_REPLIES_TOPIC,
    owner="clock",
    events=(),
    description="The clock's answers to the command line (ClockState or a refusal)",
    partitions=1,
    retention_ms=24 * 3600 * 1000,
)


@dataclass(frozen=True)
class Reply:
    body: bytes
    error: bool = False
    recorded: Recorded | None = None


def refusal(status: int, code: str, message: str, **extra: Any) -> Reply:
    body = {"status": status, "code": code, "message": message, **extra}
    return Reply(json.dumps(body, ensure_ascii=False).encode(), error=True)


def answer_advance(
    app: ClockApplication, body: bytes | None, *, mode: ClockMode, cause_id: str
) -> Reply:
    """Apply an `AdvanceClock` request (synchronous: the event store is)."""
    if mode != "manual":
        return refusal(
            409,
            "clock_not_manual",
            "O relógio segue o calendário real (modo wall): só um relógio manual avança com "
            "`cobranca clock advance` (cobranca up --clock manual --date AAAA-MM-DD)",
        )
    try:
        command = AdvanceClock.model_validate_json(body or b"")
    except ValidationError as exc:
        details = [
            {
                "field": ".".join(str(p) for p in error["loc"]) or "body",
                "rule": error["type"],
                "message": error["msg"],
            }
            for error in exc.errors()
        ]
        return refusal(
            422,
            "validation_failed",
            'Comando inválido: esperado {"days": N} com N entre 1 e 3660',
            details=details,
        )
    try:
        recorded = app.advance(command.days, mode=mode, cause_id=cause_id)
    except ClockNotManual:  # pragma: no cover - the mode was checked above
        return refusal(409, "clock_not_manual", "O relógio não está no modo manual")
    except ClockConfigError as exc:
        return refusal(409, "clock_not_started", str(exc))
    state = ClockState(mode=mode, today=recorded.today)
    return Reply(state.model_dump_json().encode(), recorded=recorded)
