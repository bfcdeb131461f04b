"""Talking to the clock from outside (the command line, tests): advance a manual clock over
request/reply, read the last date from the clock topic, say a date in pt-BR."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from contracts.clock import CLOCK_COMMANDS_TOPIC, CLOCK_TOPIC, AdvanceClock, ClockState, DayStarted
from contracts.registry import UnknownEventType, parse_event
from service_runtime.kafka import (
    TopicLayout,
    bootstrap_servers,
    make_broker,
    partitions_of,
    read_to_end,
    server_list,
)
from service_runtime.request_reply import KafkaRequester, RequestTimeout
from service_runtime.settings import Settings
from services.clock.adapters.commands import CLOCK_REPLIES_TOPIC, COMMANDS_TOPIC, REPLIES_TOPIC
from services.clock.domain.calendar import is_business_day

WEEKDAYS = (
    "segunda-feira",
    "terça-feira",
    "quarta-feira",
    "quinta-feira",
    "sexta-feira",
    "sábado",
    "domingo",
)


def describe_date(date: dt.date) -> str:
    """'08/01/2026 (quinta-feira)'; a date that is not a business day says so."""
    weekday = WEEKDAYS[date.weekday()]
    if not is_business_day(date):
        weekday += ", não é dia útil"
    return f"{date:%d/%m/%Y} ({weekday})"


# How long one AdvanceClock waits for its reply before it is sent again (a day's work, the
# ruler's run included, is answered in well under this).
ATTEMPT_SECONDS = 30.0


class ClockRemote:
    """A manual clock driven from outside over request/reply, one connection for many
    advances (the simulator moves it day by day)."""

    def __init__(self, settings: Settings, timeout: float = 60.0) -> None:
        self.settings = settings
        self.timeout = timeout
        self.broker = make_broker(settings, client_id="cobranca-clock-cli")
        self.requester = KafkaRequester(
            self.broker,
            CLOCK_REPLIES_TOPIC,
            default_timeout=timeout,
            session_timeout_ms=settings.kafka_session_timeout_ms,
            heartbeat_interval_ms=settings.kafka_heartbeat_interval_ms,
        )

    async def start(self) -> None:
        layout = TopicLayout.from_settings(self.settings).declared_partitions()
        await layout.ensure(bootstrap_servers(self.settings), [COMMANDS_TOPIC, REPLIES_TOPIC])
        await self.broker.start()
        await self.requester.wait_ready(self.timeout)

    async def stop(self) -> None:
        await self.broker.stop()

    async def advance(self, days: int) -> ClockState:
        """Returns where the clock stands once it has read its own new days back. Raises
        RequestRefused (a wall clock, an invalid command) or RequestTimeout (no clock
        service answering). A request the cluster could not take, or whose reply did not come
        (a broker just lost), is sent again with the same correlation id: the clock moves once
        for it and answers each time."""
        body = AdvanceClock(days=days).model_dump_json().encode()
        command_id = uuid.uuid4().hex
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        while True:
            try:
                reply = await self.requester.request(
                    CLOCK_COMMANDS_TOPIC,
                    body,
                    key=b"clock",
                    correlation_id=command_id,
                    timeout=max(1.0, min(ATTEMPT_SECONDS, deadline - loop.time())),
                )
                return ClockState.model_validate_json(reply)
            except (KafkaError, RequestTimeout):
                if loop.time() >= deadline:
                    raise
                await asyncio.sleep(1.0)


async def advance_clock(settings: Settings, days: int, timeout: float = 60.0) -> ClockState:
    """Ask the clock service to advance a manual clock by `days` (see ClockRemote.advance)."""
    remote = ClockRemote(settings, timeout)
    try:
        await remote.start()
        return await remote.advance(days)
    finally:
        await remote.stop()


async def read_days(bootstrap: str, idle_ms: int = 1000, timeout: float = 30.0) -> list[DayStarted]:
    """Every DayStarted on the clock topic, in the order read (one partition holds them all)."""
    deadline = asyncio.get_running_loop().time() + timeout
    consumer = AIOKafkaConsumer(
        bootstrap_servers=server_list(bootstrap),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    days: list[DayStarted] = []
    try:
        await consumer.start()
        known = await partitions_of(consumer, [CLOCK_TOPIC])
        tps = [TopicPartition(CLOCK_TOPIC, p) for p in sorted(known[CLOCK_TOPIC])]
        if not tps:
            return days
        ends = await consumer.end_offsets(tps)
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        while True:
            batch = await consumer.getmany(timeout_ms=idle_ms, max_records=1000)
            for records in batch.values():
                for record in records:
                    try:
                        event = parse_event(record.value)
                    except (UnknownEventType, ValueError):
                        continue
                    if isinstance(event, DayStarted):
                        days.append(event)
            if await read_to_end(consumer, tps, ends, fetched_nothing=not batch):
                return days
            if not batch and asyncio.get_running_loop().time() > deadline:
                return days
    finally:
        await consumer.stop()


async def last_day(bootstrap: str) -> DayStarted | None:
    """The latest date the clock announced, None before the first one."""
    days = await read_days(bootstrap)
    return max(days, key=lambda d: d.date) if days else None
