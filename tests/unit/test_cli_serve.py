"""`cobranca serve <service>` is what a container runs: started without a Kafka to talk to,
it says which setting is missing and exits 2, without a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def test_serving_without_kafka_names_the_setting_and_exits_2(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COBRANCA_")}
    env["COBRANCA_DATA_DIR"] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "cobranca", "serve", "portfolio"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    said = done.stdout + done.stderr
    assert done.returncode == 2, said
    assert "COBRANCA_KAFKA_BOOTSTRAP is not set" in said
    assert "Traceback" not in said and "RuntimeError" not in said


def test_a_kafka_that_does_not_answer_is_said_plainly(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from aiokafka.errors import KafkaConnectionError

    from cobranca import cli

    def unreachable(**_: object) -> None:
        raise KafkaConnectionError("Unable to bootstrap from [('127.0.0.1', 1)]")

    monkeypatch.setattr(cli, "app", unreachable)
    with pytest.raises(SystemExit) as exited:
        cli.main()

    assert exited.value.code == 1
    said = " ".join(capsys.readouterr().err.split())
    assert "Kafka não respondeu" in said and "COBRANCA_KAFKA_BOOTSTRAP" in said
    assert "127.0.0.1" in said
