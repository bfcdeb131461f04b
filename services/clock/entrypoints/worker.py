"""The clock service process: records each business date and answers `AdvanceClock`.

Wall mode (the default): at start it records every date missing up to the last one that has
started in America/Sao_Paulo (a date starts at COBRANCA_CLOCK_DAY_STARTS_AT, 06:00 by default;
an empty calendar records today at once), then records each next date when its time comes.
With COBRANCA_TODAY set, the wall clock stands still at that date.

Manual mode (`cobranca up --clock manual --date 2026-01-05`): the calendar starts at
COBRANCA_CLOCK_START and moves only with `cobranca clock advance --days N`, one recorded date
per day.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from typing import Any

from aiokafka import ConsumerRecord
from faststream import AckPolicy, FastStream
from faststream.kafka import KafkaMessage

from contracts.clock import ClockMode
from service_runtime.clock import BUSINESS_TZ
from service_runtime.host import ServiceHost, build_host, worker_app
from service_runtime.kafka import header
from service_runtime.request_reply import CORRELATION_ID, FAST_FETCH, send_reply
from service_runtime.settings import Settings
from service_runtime.telemetry import setup_telemetry
from services.clock.adapters.commands import (
    COMMANDS_TOPIC,
    REPLIES_TOPIC,
    answer_advance,
    refusal,
)
from services.clock.adapters.integration_events import integration_events
from services.clock.application.calendar import ClockApplication, ClockConfigError, Recorded
from services.clock.domain.calendar import next_day_start, parse_day_start

log = logging.getLogger(__name__)

COMMANDS_GROUP = "clock.commands"
# A command older than this was given up on by whoever sent it (the command line waits a
# minute): it is not applied when the clock comes back, it would only surprise.
STALE_COMMAND_SECONDS = 120.0
# How long a command's answer waits for the clock's own subscriber to read the new days back
# from the topic (so the answer means every process can now see them).
PUBLISHED_TIMEOUT = 20.0
# The wall clock looks at the time at least this often (a machine that slept, a time change).
WALL_RECHECK_SECONDS = 60.0


def _parse_date(name: str, value: str | None) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ClockConfigError(f"{name} must be a date YYYY-MM-DD, not {value!r}") from None


class ClockService:
    """The clock's work in its process: open the calendar, tick (wall) or answer (manual)."""

    def __init__(self, host: ServiceHost) -> None:
        self.host = host
        self.app: ClockApplication = host.application
        settings = host.settings
        self.mode: ClockMode = settings.clock_mode
        try:
            self.day_starts_at = parse_day_start(settings.clock_day_starts_at)
        except ValueError as exc:
            raise ClockConfigError(str(exc)) from None
        self.start = _parse_date("COBRANCA_CLOCK_START", settings.clock_start)
        self.pinned = _parse_date("COBRANCA_TODAY", settings.today)
        self._lock = asyncio.Lock()
        subscriber = host.broker.subscriber(
            COMMANDS_TOPIC.name,
            group_id=COMMANDS_GROUP,
            # Acknowledged once answered.
            ack_policy=AckPolicy.ACK,
            decoder=self._no_decode,
            **{**host.consumer_kwargs, **FAST_FETCH},
        )
        subscriber(self.on_command)

    @staticmethod
    async def _no_decode(msg: Any) -> Any:
        return None

    def now_local(self) -> dt.datetime:
        """The wall time in America/Sao_Paulo; with COBRANCA_TODAY, the start of that date."""
        if self.pinned is not None:
            return dt.datetime.combine(self.pinned, self.day_starts_at, tzinfo=BUSINESS_TZ)
        return dt.datetime.now(BUSINESS_TZ)

    def open(self) -> Recorded:
        """At start, before the broker: the first date, or the dates missed while stopped."""
        if self.mode == "manual":
            recorded = self.app.start_manual(self.start)
            log.info(
                "manual clock at %s: it moves with `cobranca clock advance --days N`",
                recorded.today.isoformat(),
            )
        else:
            if self.start is not None:
                log.warning("COBRANCA_CLOCK_START is ignored: the clock is not manual")
            now = self.now_local()
            recorded = self.app.catch_up_wall(now, self.day_starts_at)
            if recorded.today > now.date():
                log.warning(
                    "the calendar is at %s, ahead of the wall clock (%s): dates never go back, "
                    "it stays there until the wall clock reaches it",
                    recorded.today.isoformat(),
                    now.date().isoformat(),
                )
            elif self.pinned is not None:
                log.info("wall clock pinned by COBRANCA_TODAY: it stands at %s", self.pinned)
            else:
                log.info(
                    "wall clock at %s: a new date every day at %s (America/Sao_Paulo)",
                    recorded.today.isoformat(),
                    self.day_starts_at.strftime("%H:%M"),
                )
        return recorded

    async def run_wall(self) -> None:
        """Record each date when it starts (and any date missed while the machine slept)."""
        while True:
            try:
                async with self._lock:
                    recorded = await asyncio.to_thread(
                        self.app.catch_up_wall, self.now_local(), self.day_starts_at
                    )
                if recorded.dates:
                    self.host.relay.wake()
            except Exception:
                log.exception("wall clock: could not record the date; trying again")
                await asyncio.sleep(5.0)
                continue
            if self.pinned is not None:
                return  # a pinned clock stands still
            now = self.now_local()
            wait = (next_day_start(now, self.day_starts_at, BUSINESS_TZ) - now).total_seconds()
            await asyncio.sleep(min(max(wait, 0.05), WALL_RECHECK_SECONDS))

    async def on_command(self, body: Any, msg: KafkaMessage) -> None:
        record: ConsumerRecord[Any, Any] = msg.raw_message
        headers = record.headers or ()
        sent = record.timestamp / 1000 if record.timestamp and record.timestamp > 0 else None
        if sent is not None and time.time() - sent > STALE_COMMAND_SECONDS:
            log.warning(
                "ignoring a clock command sent %.0fs ago (nobody waits for it)", time.time() - sent
            )
            return
        # The request's correlation id: a command delivered twice moves the clock once.
        cause_id = (
            header(headers, CORRELATION_ID) or f"{record.topic}:{record.partition}:{record.offset}"
        )
        try:
            async with self._lock:
                reply = await asyncio.to_thread(
                    answer_advance, self.app, record.value, mode=self.mode, cause_id=cause_id
                )
        except Exception:
            log.exception("clock command failed")
            failed = refusal(
                500,
                "internal_error",
                "O relógio não conseguiu avançar; veja o log do serviço clock",
            )
            await send_reply(self.host.broker, headers, failed.body, error=True)
            return
        if reply.recorded is not None:
            self.host.relay.wake()
            try:
                await self.host.clock.wait_for(reply.recorded.today, PUBLISHED_TIMEOUT)
            except TimeoutError:
                log.warning(
                    "%s recorded but not read back from the clock topic within %.0fs",
                    reply.recorded.today,
                    PUBLISHED_TIMEOUT,
                )
        await send_reply(self.host.broker, headers, reply.body, error=reply.error)


def build(settings: Settings | None = None) -> ClockService:
    host = build_host("clock", ClockApplication, integration_events, settings)
    return ClockService(host)


def clock_app(service: ClockService) -> FastStream:
    app = worker_app(service.host)

    @app.on_startup
    async def _commands_topic() -> None:
        # One partition: commands are answered in the order they were sent.
        # As many copies as every other topic: replies that cannot be written after a
        # broker is lost would leave `clock advance` waiting.
        layout = service.host.topic_layout.declared_partitions()
        await layout.ensure(service.host.bootstrap, [COMMANDS_TOPIC, REPLIES_TOPIC])

    @app.after_startup
    async def _tick() -> None:
        if service.mode == "wall":
            service.host.background.append(asyncio.create_task(service.run_wall()))

    return app


def main() -> None:
    settings = Settings()
    setup_telemetry("clock", settings)
    try:
        service = build(settings)
        service.open()
    except ClockConfigError as exc:
        log.error("the clock cannot start: %s", exc)
        raise SystemExit(2) from None
    asyncio.run(clock_app(service).run())
