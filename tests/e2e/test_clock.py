"""The business clock on the running platform: it starts on the manual clock at TEST_TODAY,
`cobranca clock advance --days N` announces each of the N days in order, and every service
works on the new date."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from contracts.clock import CLOCK_TOPIC, DayStarted
from contracts.registry import parse_event
from tests.support.platform import TEST_TODAY, RunningPlatform, running_platform, wait_for

pytestmark = pytest.mark.e2e

START = dt.date.fromisoformat(TEST_TODAY)  # a Wednesday


@pytest.fixture(scope="module")
def clock_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    """One platform (Tansu, SQLite) for this module: the clock does not depend on the store."""
    with running_platform(tmp_path_factory.mktemp("clock"), "tansu") as running:
        yield running


def clock_topic(bootstrap: str) -> list[DayStarted]:
    """Every DayStarted on the clock topic, read from the beginning."""

    async def read() -> list[DayStarted]:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
        )
        await consumer.start()
        try:
            partitions = consumer.partitions_for_topic(CLOCK_TOPIC) or set()
            if not partitions:
                await consumer._client.force_metadata_update()
                partitions = consumer.partitions_for_topic(CLOCK_TOPIC) or set()
            tps = [TopicPartition(CLOCK_TOPIC, p) for p in sorted(partitions)]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            days: list[DayStarted] = []
            while batch := await consumer.getmany(timeout_ms=1500):
                for records in batch.values():
                    for record in records:
                        event = parse_event(record.value)
                        assert isinstance(event, DayStarted)
                        days.append(event)
            return days
        finally:
            await consumer.stop()

    return asyncio.run(read())


CARTEIRA_HEADER = "documento;nome;credor;contrato;parcela;valor_original;vencimento\n"


def carteira(*rows: tuple[str, str]) -> bytes:
    """Rows of one debtor: (contract, due date dd/mm/yyyy)."""
    lines = [f"122.998.994-30;Wesley Dias Pereira;Loja Relógio;{c};1;100,00;{d}" for c, d in rows]
    return (CARTEIRA_HEADER + "\n".join(lines) + "\n").encode()


def test_the_manual_clock_moves_every_service_day_by_day(clock_platform: RunningPlatform) -> None:
    platform = clock_platform
    # It starts at TEST_TODAY: one day announced, the gateway works on it.
    wait_for(lambda: platform.business_date() == START, timeout=30, what="the first date")
    days = wait_for(lambda: clock_topic(platform.broker.bootstrap), timeout=30, what="a day")
    assert [(d.date, d.mode, d.business_day) for d in days] == [(START, "manual", True)]
    shown = platform.clock("show")
    assert shown.returncode == 0, shown.stderr
    assert "Data de negócio: 25/11/2026 (quarta-feira)" in shown.stdout

    # The portfolio works on the same date: a debt due on Friday is in the future.
    client = platform.client("relogio", "operator")
    before = client.wait_for_import(
        client.upload_carteira(carteira(("R-1", "20/11/2026"), ("R-2", "27/11/2026")))["import_id"]
    )
    assert (before["created"], before["rejected"]) == (1, 1)
    assert "no futuro" in before["rejections"][0]["reason"]

    new_date = platform.advance_clock(3)

    assert new_date == START + dt.timedelta(days=3) == dt.date(2026, 11, 28)
    days = clock_topic(platform.broker.bootstrap)
    assert [(d.date, d.business_day, d.mode) for d in days] == [
        (dt.date(2026, 11, 25), True, "manual"),
        (dt.date(2026, 11, 26), True, "manual"),
        (dt.date(2026, 11, 27), True, "manual"),
        (dt.date(2026, 11, 28), False, "manual"),  # a Saturday
    ]
    assert [d.aggregate_version for d in days] == sorted(d.aggregate_version for d in days)
    assert len({d.event_id for d in days}) == 4
    assert len({d.causation_id for d in days[1:]}) == 1, "one command moved the three days"
    health = platform.anonymous().http.get("/health").json()
    assert health["today"] == "2026-11-28"
    shown = platform.clock("show")
    assert "Data de negócio: 28/11/2026 (sábado, não é dia útil)" in shown.stdout

    # Friday's debt is no longer in the future; overdue days count from the new date.
    after = client.wait_for_import(
        client.upload_carteira(carteira(("R-2", "27/11/2026")))["import_id"]
    )
    assert (after["created"], after["rejected"]) == (1, 0)
    found = wait_for(
        lambda: (
            len((f := platform.anonymous().lookup("relogio", "12299899430"))["debts"]) == 2 and f
        ),
        timeout=30,
        what="both debts in the portal view",
    )
    assert {d["contract"]: d["days_overdue"] for d in found["debts"]} == {"R-1": 8, "R-2": 1}


def test_a_wall_clock_refuses_to_advance(clock_platform: RunningPlatform) -> None:
    platform = clock_platform
    before = platform.business_date()
    clock = platform.platform.processes["clock"]
    platform.platform.stop_service("clock")
    # The wall clock, pinned by COBRANCA_TODAY (behind the calendar): it records nothing.
    clock.env = clock.env | {"COBRANCA_CLOCK_MODE": "wall"}
    platform.platform.start_service("clock")
    try:
        refused = platform.clock("advance", "--days", "2")
        assert refused.returncode == 1, refused.stdout + refused.stderr + platform.logs()
        assert "modo wall" in refused.stderr
        assert platform.business_date() == before
        assert [d.date for d in clock_topic(platform.broker.bootstrap)][-1] == before
    finally:
        platform.platform.stop_service("clock")
        clock.env = clock.env | {"COBRANCA_CLOCK_MODE": "manual"}
        platform.platform.start_service("clock")
