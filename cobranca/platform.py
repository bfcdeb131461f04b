"""Running the whole platform on one machine: the broker (unless a cluster is configured) and
the services (the clock among them), each its own process. Used by `cobranca up` and the
end-to-end tests."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import multiprocessing
import multiprocessing.context
import multiprocessing.process
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import setproctitle

from cobranca.brokers import ApacheKafkaBroker, EmbeddedBroker, TansuBroker
from cobranca.services import SERVICES, service_main

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
    """One service run as a command (`cobranca serve NAME` in a fresh interpreter)."""

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
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def returncode(self) -> int | None:
        return self.process.poll() if self.process is not None else None

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


# Every service imports the same few seconds of modules (the broker clients, the web and
# database libraries, the contracts, the event store): six fresh interpreters doing it at once
# took most of a platform's start on two cores. A local platform forks its services instead
# from one server process that imported them once (`multiprocessing`'s forkserver), so a
# service starts with nothing left to import. Each is still its own process, with its own
# session, environment and log, running exactly what `cobranca serve NAME` runs.
_FORKSERVER_PRELOAD = [*SERVICES.values(), "service_runtime.logs"]


def _forkserver() -> multiprocessing.context.ForkServerContext:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(_FORKSERVER_PRELOAD)
    return context


def forking_available() -> bool:
    return "forkserver" in multiprocessing.get_all_start_methods()


def serve_forked(name: str, env: dict[str, str], log_path: str | None) -> None:
    """The forked child: the environment and output of `cobranca serve NAME`, then it."""
    os.setsid()  # its own session, as a command would have: Ctrl-C reaches `cobranca up` only
    setproctitle.setproctitle(f"cobranca serve {name}")
    os.environ.clear()
    os.environ.update(env)
    if log_path is not None:
        fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
    sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115 (the process's own)
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
    from service_runtime.logs import configure_logging
    from service_runtime.settings import Settings

    configure_logging(name, Settings().log_level)
    service_main(name)()


@dataclass
class ForkedService:
    """One service forked from the platform's forkserver (see `_FORKSERVER_PRELOAD`)."""

    name: str
    env: dict[str, str]
    log_path: Path | None
    process: multiprocessing.process.BaseProcess | None = None
    restarts: int = 0

    def start(self) -> None:
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.process = _forkserver().Process(
            target=serve_forked,
            args=(self.name, self.env, str(self.log_path) if self.log_path else None),
            name=f"cobranca-{self.name}",
            # Daemonic: if whoever started the platform dies without stopping it, its services
            # are stopped at its exit instead of running on as orphans.
            daemon=True,
        )
        self.process.start()

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.is_alive()

    @property
    def returncode(self) -> int | None:
        return self.process.exitcode if self.process is not None else None

    def signal(self, sig: int) -> None:
        if self.running:
            assert self.process is not None and self.process.pid is not None
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, sig)

    def wait(self, timeout: float) -> None:
        if self.process is None:
            return
        self.process.join(timeout)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()


@dataclass
class Platform:
    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    broker_kind: str = "tansu"
    bootstrap: str | None = None
    log_dir: Path | None = None
    services: tuple[str, ...] = tuple(SERVICES)
    broker: EmbeddedBroker | None = None
    processes: dict[str, ServiceProcess | ForkedService] = field(default_factory=dict)
    #: Fork the services from one process that imported them (False: one command each).
    fork: bool = field(default_factory=forking_available)

    def start_broker(self) -> str:
        if self.bootstrap:
            return self.bootstrap
        self.broker = make_broker(self.broker_kind, self.data_dir)
        self.broker.start()
        self.bootstrap = self.broker.bootstrap
        return self.bootstrap

    def service_env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.broker is not None:
            for name, value in self.broker.client_env.items():
                env.setdefault(name, value)
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
            log_path = (self.log_dir / f"{name}.log") if self.log_dir else None
            proc: ServiceProcess | ForkedService
            if self.fork:
                proc = ForkedService(name=name, env=env, log_path=log_path)
            else:
                proc = ServiceProcess(
                    name=name,
                    command=[sys.executable, "-m", "cobranca", "serve", name],
                    env=env,
                    log_path=log_path,
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
                    log.warning("%s exited with %s; restarting", name, proc.returncode)
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
