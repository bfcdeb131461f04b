"""The broker dies in the middle of an import. When it is back, the read models end equal to
the event stores: nothing lost, nothing doubled.

On Tansu the restarted broker has forgotten every topic (memory only): the relays notice and
publish everything again, and the consumers apply nothing twice. On Apache Kafka the broker is
SIGKILLed and restarted on the same log dirs."""

from __future__ import annotations

import datetime as dt
import signal
import time
from pathlib import Path

import pytest

from cobranca.demo_data import generate_carteira
from tests.support.consistency import differences
from tests.support.platform import running_platform, wait_for

pytestmark = pytest.mark.e2e

ROWS = 3_000


@pytest.mark.parametrize("broker_kind", ["tansu", "kafka"])
def test_killing_the_broker_mid_import_loses_and_doubles_nothing(
    broker_kind: str, tmp_path: Path
) -> None:
    with running_platform(tmp_path, broker_kind) as platform:
        client = platform.client("fault", "operator")
        csv_text = generate_carteira(ROWS, seed=99, today=dt.date(2026, 11, 25))
        import_id = client.upload_carteira(csv_text.encode())["import_id"]

        wait_for(
            lambda: (client.import_status(import_id)["rows_read"] or 0) >= 600,
            timeout=120,
            interval=0.05,
            what="the import to be under way",
        )
        read_before = client.import_status(import_id)["rows_read"]
        platform.broker.kill()  # SIGKILL, mid-import
        assert not platform.broker.is_running
        time.sleep(2)
        platform.broker.start(timeout=120)

        try:
            status = wait_for(
                lambda: (s := client.import_status(import_id))["status"] == "completed" and s,
                timeout=300,
                interval=0.5,
                what="the import to complete after the restart",
            )
        except AssertionError:
            raise AssertionError(platform.logs()) from None
        assert read_before < ROWS, "the broker was killed before the import finished"
        assert status["rows_read"] == ROWS
        assert status["created"] + status["rejected"] == ROWS
        assert status["updated"] == 0 and status["unchanged"] == 0
        try:
            wait_for(
                lambda: not differences(platform.settings),
                timeout=180,
                interval=1.0,
                what="the read models to equal the event stores",
            )
        except AssertionError:
            raise AssertionError(f"{differences(platform.settings)}\n{platform.logs()}") from None
        assert platform.platform.processes["gateway"].running
        assert signal.SIGKILL  # the kill above was a real SIGKILL (ProcessBroker.kill)
