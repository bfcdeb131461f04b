"""An admin changes a channel's sending window while messages wait for it (Envio de SMS/WhatsApp
(Dia)): what waits is timed again under the new window at once, through the request the
gateway sends (`PUT /api/v1/admin/messaging-settings`): a wider window lets it go now, a
narrower one holds it back; a message that was failing for now keeps its backoff."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from contracts.messaging_requests import MessagingSettings, SaveSettings, WindowIn
from services.messaging.adapters.channels import (
    OutgoingMessage,
    SendResult,
    TemporaryFailure,
    read_outbox,
)
from services.messaging.entrypoints.requests import answer
from tests.unit.test_messaging_app import AGENCY, SP, Messaging, requested

THURSDAY_17_36 = dt.datetime(2026, 11, 26, 17, 36, tzinfo=SP)


class Host:
    """What `answer` needs of the service host: a business clock pinned at `now`."""

    def __init__(self, now: dt.datetime) -> None:
        self.at = now
        self.clock = self

    def now(self) -> dt.datetime:
        return self.at.astimezone(dt.UTC)

    def today(self) -> dt.date:
        return self.at.date()


def window(start: str, end: str, weekdays: list[int] | None = None) -> SaveSettings:
    days = list(range(7)) if weekdays is None else weekdays
    return SaveSettings(
        tenant=AGENCY,
        settings=MessagingSettings(
            windows={"sms": WindowIn(weekdays=days, start=start, end=end)}, max_attempts=5
        ),
        saved_by="admin@recupera",
    )


@pytest.fixture
def messaging(tmp_path: Path) -> Messaging:
    return Messaging(tmp_path)


def test_a_window_widened_lets_the_waiting_sms_go_at_once(
    messaging: Messaging, tmp_path: Path
) -> None:
    app, host = messaging.app, Host(THURSDAY_17_36)
    answer(app, window("17:42", "24:00"), host)  # type: ignore[arg-type]
    app.handle_requests([requested("aviso-1"), requested("aviso-2")], THURSDAY_17_36)
    assert app.dispatch_due(THURSDAY_17_36) == 0  # waiting for 17:42

    # The admin opens the window all day, every day: the waiting SMS go at the next tick.
    answer(app, window("00:00", "24:00"), host)  # type: ignore[arg-type]
    assert app.dispatch_due(THURSDAY_17_36 + dt.timedelta(seconds=1)) == 2
    assert len(read_outbox(tmp_path / "outbox" / AGENCY / "sms.jsonl")) == 2


def test_a_window_narrowed_holds_back_what_is_now_outside_it(messaging: Messaging) -> None:
    app, host = messaging.app, Host(THURSDAY_17_36)
    answer(app, window("17:42", "24:00"), host)  # type: ignore[arg-type]
    app.handle_requests([requested("aviso-1")], THURSDAY_17_36)
    # Before 17:42 the admin keeps SMS to mornings only: nothing goes tonight.
    answer(app, window("09:00", "12:00"), host)  # type: ignore[arg-type]
    assert app.dispatch_due(THURSDAY_17_36 + dt.timedelta(minutes=10)) == 0
    assert app.dispatch_due(THURSDAY_17_36 + dt.timedelta(hours=5)) == 0
    friday_9 = dt.datetime(2026, 11, 27, 9, 0, tzinfo=SP)
    assert app.dispatch_due(friday_9 - dt.timedelta(minutes=1)) == 0
    assert app.dispatch_due(friday_9) == 1


def test_a_window_saved_unchanged_or_for_another_channel_moves_nothing(
    messaging: Messaging,
) -> None:
    app, host = messaging.app, Host(THURSDAY_17_36)
    answer(app, window("17:42", "24:00"), host)  # type: ignore[arg-type]
    app.handle_requests([requested("aviso-1")], THURSDAY_17_36)
    assert app.reschedule_waiting(AGENCY, {"email", "whatsapp"}, THURSDAY_17_36) == 0
    assert app.reschedule_waiting(AGENCY, {"sms"}, THURSDAY_17_36) == 0  # the same window
    answer(app, window("17:42", "24:00"), host)  # type: ignore[arg-type]
    assert app.dispatch_due(THURSDAY_17_36 + dt.timedelta(minutes=5)) == 0
    assert app.dispatch_due(THURSDAY_17_36 + dt.timedelta(minutes=6)) == 1


def test_a_retry_keeps_its_backoff_when_the_window_widens(messaging: Messaging) -> None:
    app, host = messaging.app, Host(THURSDAY_17_36)
    calls: list[OutgoingMessage] = []

    class DownOnce:
        name = "sms"

        def send(self, message: OutgoingMessage) -> SendResult:
            calls.append(message)
            if len(calls) == 1:
                raise TemporaryFailure("provedor fora do ar")
            return SendResult(accepted=True, provider_id="p-1")

    app.channel_factory = lambda tenant, channel, settings: DownOnce()
    answer(app, window("08:00", "18:00"), host)  # type: ignore[arg-type]
    app.handle_requests([requested("aviso-1")], THURSDAY_17_36)
    assert app.dispatch_due(THURSDAY_17_36) == 0  # failed for now: again in 1 minute
    answer(app, window("00:00", "24:00"), host)  # type: ignore[arg-type]
    assert app.dispatch_due(THURSDAY_17_36 + dt.timedelta(seconds=30)) == 0
    assert app.dispatch_due(THURSDAY_17_36 + dt.timedelta(minutes=1)) == 1
    assert len(calls) == 2
