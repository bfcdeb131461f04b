"""The ruler's daily run, one business day at a time, once (push-notification routine seed:
"a scheduled task runs it"; README: "running a day twice or replaying the streams asks for
nothing twice"). The embedded broker forgets its log when the platform stops, so after a
restart every event is published again and the ruler reads the clock's days from the
first: it must pass over the days it already ran, and run the days after them as before.
A pre-due reminder is never asked for a due date already past."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import ConsumerRecord, TopicPartition

from contracts.clock import CLOCK_TOPIC, DayStarted
from contracts.envelope import derived_event_id
from service_runtime.projection import stored_positions
from services.ruler.adapters.consumers import DailyRunApplier
from services.ruler.domain.stages import reminders_due
from tests.unit.test_ruler_app import AGENCY, AT, RULER, Ruler, debt
from tests.unit.test_ruler_listing_notice import settled

START = dt.date(2026, 4, 1)  # a Wednesday: COBRANCA_CLOCK_START=2026-04-01
TODAY = dt.date(2026, 5, 4)  # the clock advanced to 04/05/2026 (a Monday)
DUE = dt.date(2026, 4, 14)  # imported on 04/05: 20 days overdue
CLOCK = TopicPartition(CLOCK_TOPIC, 0)


def days(start: dt.date, end: dt.date) -> Iterator[dt.date]:
    day = start
    while day <= end:
        yield day
        day += dt.timedelta(days=1)


def clock_records(start: dt.date, end: dt.date, first_offset: int = 0) -> list[Any]:
    """The clock topic's `DayStarted` records, one per date, as the relay publishes them."""
    out = []
    for offset, date in enumerate(days(start, end), start=first_offset):
        event = DayStarted(
            event_id=derived_event_id("clock", "calendar", offset + 1),
            occurred_at=AT,
            tenant="platform",
            aggregate_id="calendar",
            aggregate_version=offset + 1,
            correlation_id="calendar",
            causation_id="calendar",
            date=date,
            business_day=date.weekday() < 5,
            mode="manual",
        )
        out.append(
            ConsumerRecord(
                topic=CLOCK_TOPIC,
                partition=0,
                offset=offset,
                timestamp=0,
                timestamp_type=0,
                key=b"calendar",
                value=event.model_dump_json().encode(),
                checksum=None,
                serialized_key_size=8,
                serialized_value_size=0,
                headers=[("event-id", str(event.event_id).encode())],
            )
        )
    return out


def deliver(applier: DailyRunApplier, records: list[Any], batch: int = 50) -> None:
    """The records in batches, as the consumer hands them over (max_records 50)."""
    for start in range(0, len(records), batch):
        applier.apply_records({CLOCK: records[start : start + batch]})


def reminders(ruler: Ruler) -> list[Any]:
    return [m for m in ruler.published("MessageRequested") if m.purpose == "pre_due"]


@pytest.fixture
def ruler(tmp_path: Path) -> Ruler:
    return Ruler(tmp_path)


def test_a_restart_reads_the_days_again_and_runs_none_of_them_again(ruler: Ruler) -> None:
    # The platform started on 01/04 and the clock was advanced to 04/05: each day was run.
    first_life = DailyRunApplier(ruler.app, ruler.engine)
    every_day = clock_records(START, TODAY)
    deliver(first_life, every_day)
    # A debt due 14/04 imported on 04/05 goes straight to its stage of 20 days overdue.
    ruler.receive(debt("d1", due=DUE), today=TODAY)
    ruler.app.run_day(TODAY)  # the admin's "run now" (as `make up` does for the demo)
    asked = [m.key for m in ruler.published("MessageRequested")]
    assert [s.to_stage for s in ruler.published("StageAdvanced")] == ["questioning"]

    # Stopped and started again: a new process over the same database, and the broker's
    # log new (Tansu keeps it in memory), so the days are read again from offset zero.
    second_life = DailyRunApplier(ruler.app, ruler.engine)
    second_life.epoch = "after-the-restart"
    deliver(second_life, every_day)

    assert reminders(ruler) == [], "no reminder about a due date 20 days past"
    assert [m.key for m in ruler.published("MessageRequested")] == asked
    assert [s.to_stage for s in ruler.published("StageAdvanced")] == ["questioning"]
    assert second_life.last_day() == TODAY
    assert stored_positions(ruler.engine, "ruler.daily")[(CLOCK_TOPIC, 0)][0] == len(every_day)


def test_the_days_read_again_are_passed_over_quietly(
    ruler: Ruler, caplog: pytest.LogCaptureFixture
) -> None:
    every_day = clock_records(START, START + dt.timedelta(days=6))
    deliver(DailyRunApplier(ruler.app, ruler.engine), every_day)
    caplog.clear()
    with caplog.at_level("DEBUG", logger="services.ruler.adapters.consumers"):
        deliver(DailyRunApplier(ruler.app, ruler.engine), every_day)
    said = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert all(level == "DEBUG" for level, _ in said)
    assert ("DEBUG", "business day 2026-04-01: passed over (the ruler ran 2026-04-07 already)") in (
        said
    )


def test_after_the_restart_the_next_day_runs_as_today(ruler: Ruler) -> None:
    every_day = clock_records(START, TODAY)
    deliver(DailyRunApplier(ruler.app, ruler.engine), every_day)
    second_life = DailyRunApplier(ruler.app, ruler.engine)
    deliver(second_life, every_day)
    # A debt due Friday 08/05 arrives; Tuesday 05/05 is 3 days before it.
    ruler.receive(debt("d2", due=dt.date(2026, 5, 8)), today=TODAY)

    second_life.apply_records(
        {
            CLOCK: clock_records(
                TODAY + dt.timedelta(days=1), TODAY + dt.timedelta(days=1), len(every_day)
            )
        }
    )

    [reminder] = reminders(ruler)
    assert (reminder.receivable_id, reminder.variables["vencimento"]) == ("d2", "08/05/2026")
    assert second_life.last_day() == dt.date(2026, 5, 5)


def test_a_jump_over_several_days_runs_each_business_day_in_order(ruler: Ruler) -> None:
    ran: list[dt.date] = []
    run_day = ruler.app.run_day

    def recording(today: dt.date, tenant: str | None = None) -> dict[str, int]:
        ran.append(today)
        return run_day(today, tenant)

    ruler.app.run_day = recording  # type: ignore[method-assign]
    applier = DailyRunApplier(ruler.app, ruler.engine)
    applier.apply_records({CLOCK: clock_records(START, START)})
    # `cobranca clock advance --days 6`: six days in one batch, the weekend among them.
    applier.apply_records(
        {CLOCK: clock_records(START + dt.timedelta(days=1), START + dt.timedelta(days=6), 1)}
    )
    assert ran == [
        dt.date(2026, 4, 1),
        dt.date(2026, 4, 2),
        dt.date(2026, 4, 3),
        dt.date(2026, 4, 6),
        dt.date(2026, 4, 7),
    ]


def test_a_crash_in_the_middle_of_a_batch_keeps_the_days_run_before_it(ruler: Ruler) -> None:
    ruler.receive(debt("d1", due=dt.date(2026, 4, 10)), today=START)
    applier = DailyRunApplier(ruler.app, ruler.engine)
    run_day = ruler.app.run_day
    calls: list[dt.date] = []

    def crashing(today: dt.date, tenant: str | None = None) -> dict[str, int]:
        calls.append(today)
        if today == dt.date(2026, 4, 7) and calls.count(today) == 1:
            raise RuntimeError("the process died")
        return run_day(today, tenant)

    ruler.app.run_day = crashing  # type: ignore[method-assign]
    batch = clock_records(START, START + dt.timedelta(days=7))
    with pytest.raises(RuntimeError):
        applier.apply_records({CLOCK: batch})
    # The days run before the crash are remembered with their position.
    assert applier.last_day() == dt.date(2026, 4, 6)
    assert stored_positions(ruler.engine, "ruler.daily")[(CLOCK_TOPIC, 0)][0] == 6

    # The consumer reads the batch again (from where it started): only the rest runs.
    applier.apply_records({CLOCK: batch})
    assert calls == [
        dt.date(2026, 4, 1),
        dt.date(2026, 4, 2),
        dt.date(2026, 4, 3),
        dt.date(2026, 4, 6),
        dt.date(2026, 4, 7),
        dt.date(2026, 4, 7),
        dt.date(2026, 4, 8),
    ]
    # Due 10/04: reminded 5 days before (Sun 05/04, so Mon 06/04) and 3 days before (07/04).
    assert [m.variables["vencimento"] for m in reminders(ruler)] == ["10/04/2026"] * 2
    keys = [m.key for m in ruler.published("MessageRequested")]
    assert len(keys) == len(set(keys))


def test_a_run_for_an_earlier_day_reminds_nobody_already_overdue(ruler: Ruler) -> None:
    # The admin ran today's run while the daily run was still going through a jump's days.
    ruler.receive(debt("d1", due=DUE), today=TODAY)
    ruler.app.run_day(TODAY)
    ruler.app.run_day(dt.date(2026, 4, 9))  # 5 days before the due date, read late
    ruler.app.run_day(dt.date(2026, 4, 13))
    assert reminders(ruler) == []


def test_a_receivable_in_an_overdue_stage_is_never_reminded() -> None:
    before = dt.date(2026, 4, 9)
    assert reminders_due(RULER, AGENCY, "d1", DUE, before, (), "current") != []
    assert reminders_due(RULER, AGENCY, "d1", DUE, before, (), "notice") == []
    assert reminders_due(RULER, AGENCY, "d1", DUE, before, (), "finalized") == []
    # On the due date and after it, never.
    assert reminders_due(RULER, AGENCY, "d1", DUE, DUE, (), "current") == []


def test_a_payment_read_before_the_runs_reach_its_day_is_finalized_on_its_day(
    ruler: Ruler,
) -> None:
    """Runs behind the receivables' consumer (a clock advanced over several days): a debt
    paid on Saturday 04/04, read while the runs are at Wednesday 01/04, stays in collection
    for Thursday's and Friday's runs, and leaves when the runs reach Saturday: a day with no
    run, but its DayStarted finalizes what left that day."""
    applier = DailyRunApplier(ruler.app, ruler.engine)
    ruler.receive(debt("d1", due=dt.date(2026, 3, 20)), today=START)
    deliver(applier, clock_records(START, START))
    saturday = dt.date(2026, 4, 4)
    ruler.receive(settled("d1", saturday), today=START)

    deliver(applier, clock_records(START + dt.timedelta(days=1), dt.date(2026, 4, 3), 1))
    assert ruler.published("ReceivableLeftRuler") == []
    deliver(applier, clock_records(saturday, saturday, 3))
    [left] = ruler.published("ReceivableLeftRuler")
    assert (left.receivable_id, left.reason, left.on_date) == ("d1", "settled", saturday)
    assert applier.last_day() == dt.date(2026, 4, 3)  # Saturday is not run
