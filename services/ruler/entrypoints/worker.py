"""The ruler service process: keeps the receivables (scrubbed when a debtor's personal data
is erased), runs each business day over them, lists at the credit bureau, and answers
configuration and call requests."""

from __future__ import annotations

from service_runtime.host import ServiceHost, build_host, run_worker
from service_runtime.projection import PositionedConsumer
from service_runtime.settings import Settings
from service_runtime.telemetry import setup_telemetry
from services.ruler.adapters.bureau_file import FileBureau
from services.ruler.adapters.consumers import (
    DailyRunApplier,
    ErasuresApplier,
    NoticeOutcomesApplier,
    ReceivablesApplier,
)
from services.ruler.adapters.integration_events import integration_events
from services.ruler.adapters.notices import NoticeOutcomes
from services.ruler.adapters.receivables import ReceivablesTable
from services.ruler.application import RulerApplication
from services.ruler.entrypoints.requests import RulerRequests


def build(settings: Settings | None = None) -> ServiceHost:
    host = build_host("ruler", RulerApplication, integration_events, settings)
    app: RulerApplication = host.application
    app.receivables = ReceivablesTable(host.engine, host.vault)
    # The file-based bureau: remittance files under the data dir (a real bureau is another
    # adapter behind the same port).
    app.bureau = FileBureau(host.settings.service_dir("ruler") / "bureau")
    receivables = PositionedConsumer(
        ReceivablesApplier(app, app.receivables, host.engine, host.clock.today),
        host.broker,
        host.bootstrap,
        group_id="ruler.receivables",
        consumer_kwargs=host.consumer_kwargs,
        max_records=host.settings.consumer_max_records,
        topics=host.topic_layout,
    )
    receivables.after_batch = host.relay.wake
    # A debtor's personal data erased (privacy.erasures): forget the keys, scrub the names.
    erasures = PositionedConsumer(
        ErasuresApplier(app.receivables, host.engine),
        host.broker,
        host.bootstrap,
        group_id="ruler.erasures",
        consumer_kwargs=host.consumer_kwargs,
        max_records=host.settings.consumer_max_records,
        topics=host.topic_layout,
    )
    # What became of its messages: a listing waits for its notice to be sent.
    app.notices = NoticeOutcomes(host.engine)
    messages = PositionedConsumer(
        NoticeOutcomesApplier(app.notices, host.engine),
        host.broker,
        host.bootstrap,
        group_id="ruler.messages",
        consumer_kwargs=host.consumer_kwargs,
        max_records=host.settings.consumer_max_records,
        topics=host.topic_layout,
    )
    daily = PositionedConsumer(
        DailyRunApplier(app, host.engine),
        host.broker,
        host.bootstrap,
        group_id="ruler.daily",
        consumer_kwargs=host.consumer_kwargs,
        max_records=50,
        topics=host.topic_layout,
    )
    daily.after_batch = host.relay.wake
    host.consumers.extend([receivables, erasures, messages, daily])
    # Runs admins ask for run the clock's last day, when it is a business day.
    assert host.clock_follower is not None, "build_host follows the clock"
    RulerRequests(host, app, host.clock_follower)
    return host


def main() -> None:
    settings = Settings()
    setup_telemetry("ruler", settings)
    run_worker(build(settings))
