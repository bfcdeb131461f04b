"""Running the whole platform on one machine: the broker (unless a cluster is configured) and
the services (the clock among them), each its own process. Used by `cobranca up` and the
end-to-end tests."""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from cobranca.brokers import ApacheKafkaBroker, EmbeddedBroker, TansuBroker
from cobranca.services import SERVICES

log = logging.getLogger(__name__)

BROKER_KINDS = ("tansu", "kafka")
CLOCK_MODES = ("wall", "manual")


def clock_env(mode: str, start: dt.date | None = None) -> dict[str, str]:
    """The environment that puts every process on one business clock: `wall` (a new date every
    day in America/Sao_Paulo) or `manual` from `start` (moved by `cobranca clock advance`)."""
    if mode not in CLOCK_MODES:
        raise ValueError(f"unknown clock {mode!r}: use one of {', '.join(CLOCK_MODES)}")
    if start is not None and mode != "manual":
        raise ValueError("a start date is for the manual clock: use it with --clock manual")
    env = {"COBRANCA_CLOCK_MODE": mode}
    if start is not None:
        env["COBRANCA_CLOCK_START"] = start.isoformat()
    return env


def make_broker(kind: str, data_dir: Path, port: int | None = None) -> EmbeddedBroker:
    if kind == "tansu":
        return TansuBroker(port, data_dir=data_dir / "broker-tansu")
    if kind == "kafka":
        return ApacheKafkaBroker(port, data_dir=data_dir / "broker-kafka")
    raise ValueError(f"unknown broker {kind!r}: use one of {', '.join(BROKER_KINDS)}")


@dataclass
class ServiceProcess:
    name: str
    command: list[str]
    env: dict[str, str]
    log_path: Path | None
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    _log_file: IO[bytes] | None = None

    def start(self) -> None:
        output: IO[bytes] | None = None
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log_file = output = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.command,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT if output else None,
            # Own session: Ctrl-C reaches `cobranca up` only, which stops services in order.
            start_new_session=True,
        )

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal(self, sig: int) -> None:
        if self.running:
            assert self.process is not None
            self.process.send_signal(sig)

    def wait(self, timeout: float) -> None:
        if self.process is None:
            return
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self._log_file:
            self._log_file.close()
            self._log_file = None


@dataclass
class Platform:
    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    broker_kind: str = "tansu"
    bootstrap: str | None = None
    log_dir: Path | None = None
    services: tuple[str, ...] = tuple(SERVICES)
    broker: EmbeddedBroker | None = None
    processes: dict[str, ServiceProcess] = field(default_factory=dict)

    def start_broker(self) -> str:
        if self.bootstrap:
            return self.bootstrap
        self.broker = make_broker(self.broker_kind, self.data_dir)
        self.broker.start()
        self.bootstrap = self.broker.bootstrap
        return self.bootstrap

    def service_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.env)
        env["COBRANCA_DATA_DIR"] = str(self.data_dir)
        assert self.bootstrap is not None
        env["COBRANCA_KAFKA_BOOTSTRAP"] = self.bootstrap
        env.setdefault("PYTHONUNBUFFERED", "1")
        return env

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.start_broker()
        env = self.service_env()
        for name in self.services:
            proc = ServiceProcess(
                name=name,
                command=[sys.executable, "-m", "cobranca", "serve", name],
                env=env,
                log_path=(self.log_dir / f"{name}.log") if self.log_dir else None,
            )
            proc.start()
            self.processes[name] = proc

    def start_service(self, name: str) -> None:
        self.processes[name].start()

    def stop_service(self, name: str, sig: int = signal.SIGTERM, timeout: float = 20.0) -> None:
        proc = self.processes[name]
        proc.signal(sig)
        proc.wait(timeout)

    def check(self, restart: bool = True, max_restarts: int = 5) -> list[str]:
        """Restart services that died; returns the names of those that did."""
        died = []
        for name, proc in self.processes.items():
            if proc.process is not None and not proc.running:
                died.append(name)
                if restart and proc.restarts < max_restarts:
                    proc.restarts += 1
                    log.warning("%s exited with %s; restarting", name, proc.process.returncode)
                    time.sleep(1.0)
                    proc.start()
        return died

    def stop(self, timeout: float = 20.0) -> None:
        for proc in self.processes.values():
            proc.signal(signal.SIGTERM)
        for proc in self.processes.values():
            proc.wait(timeout)
        if self.broker is not None:
            self.broker.stop()
