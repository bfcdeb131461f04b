"""Process handling shared by the embedded Kafka-protocol brokers.

A broker is one child process listening on 127.0.0.1. It is ready when it answers a real
Kafka Metadata request (after the ApiVersions handshake), never after a fixed sleep.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Coroutine, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Any, ClassVar, Protocol, Self, TypeVar, runtime_checkable

from aiokafka.conn import create_conn
from aiokafka.errors import KafkaError
from aiokafka.protocol.metadata import MetadataRequest

__all__ = [
    "LOOPBACK",
    "BrokerError",
    "BrokerStartError",
    "EmbeddedBroker",
    "ProcessBroker",
    "free_port",
    "free_ports",
    "wait_for_kafka",
]

LOOPBACK = "127.0.0.1"

_T = TypeVar("_T")


class BrokerError(RuntimeError):
    """A broker could not be prepared, started or stopped."""


class BrokerStartError(BrokerError):
    """The broker process exited or did not answer Kafka requests in time."""


@runtime_checkable
class EmbeddedBroker(Protocol):
    """What `cobranca up` and the test fixtures need from a local broker."""

    @property
    def name(self) -> str: ...

    @property
    def client_env(self) -> Mapping[str, str]:
        """Settings (``COBRANCA_*``) the services should take on this broker unless told
        otherwise: what suits this broker's behaviour, not the production defaults."""
        ...

    @property
    def port(self) -> int: ...

    @property
    def bootstrap(self) -> str:
        """``"127.0.0.1:PORT"``, ready for ``bootstrap_servers``."""
        ...

    @property
    def data_dir(self) -> Path: ...

    @property
    def log_path(self) -> Path:
        """File receiving the broker's stdout and stderr."""
        ...

    @property
    def is_running(self) -> bool: ...

    def start(self, timeout: float = 60.0) -> None:
        """Start and return once the broker answers Kafka API requests."""
        ...

    def stop(self, timeout: float | None = None) -> None:
        """SIGTERM, wait up to ``timeout`` seconds, then SIGKILL."""
        ...

    def kill(self) -> None:
        """SIGKILL right away (fault tests)."""
        ...

    def restart(self, timeout: float = 60.0) -> None: ...

    def wait(self, timeout: float | None = None) -> int:
        """Block until the process exits; return its exit code."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


def free_ports(count: int) -> list[int]:
    """``count`` distinct free TCP ports on 127.0.0.1.

    All sockets are held open together so the kernel cannot hand out the same port twice.
    """
    with contextlib.ExitStack() as stack:
        ports: list[int] = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind((LOOPBACK, 0))
            ports.append(int(sock.getsockname()[1]))
        return ports


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (free now: a small race with other processes remains)."""
    return free_ports(1)[0]


def _split_bootstrap(bootstrap: str) -> tuple[str, int]:
    host, _, port = bootstrap.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"bootstrap must look like HOST:PORT, got {bootstrap!r}")
    return host, int(port)


async def _metadata_probe(host: str, port: int, request_timeout: float) -> bool:
    """True when the broker answers Metadata and lists at least one broker."""
    conn = await create_conn(host, port, request_timeout_ms=int(request_timeout * 1000))
    try:
        response = await conn.send(MetadataRequest([]))
    finally:
        conn.close()
    # An empty broker list means a KRaft broker that has not registered itself yet.
    return bool(response.brokers)


async def wait_for_kafka(
    bootstrap: str,
    timeout: float = 60.0,
    *,
    alive: Callable[[], bool] | None = None,
    interval: float = 0.1,
) -> None:
    """Wait until ``bootstrap`` answers an ApiVersions + Metadata round trip.

    ``alive`` lets the caller stop waiting as soon as the broker process has died.
    Raises TimeoutError after ``timeout`` seconds, BrokerStartError if ``alive()`` is False.
    """
    host, port = _split_bootstrap(bootstrap)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last_error: BaseException | None = None

    def check_alive() -> None:
        if alive is not None and not alive():
            raise BrokerStartError(f"broker process for {bootstrap} exited while starting")

    while True:
        check_alive()
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise TimeoutError(
                f"no Kafka API answer from {bootstrap} within {timeout:.1f}s"
                f" (last error: {last_error!r})"
            )
        attempt = min(remaining, 5.0)
        probe = asyncio.ensure_future(_metadata_probe(host, port, attempt))
        try:
            # Poll the process while the probe runs: a port held by something else can
            # accept the connection and never answer, after our broker already died.
            async with asyncio.timeout(attempt):
                while not probe.done():
                    await asyncio.wait({probe}, timeout=interval)
                    check_alive()
            if probe.result():
                return
            last_error = None
        except (OSError, KafkaError, TimeoutError) as exc:
            last_error = exc
        finally:
            if probe.done() and not probe.cancelled():
                probe.exception()  # mark retrieved: no "exception never retrieved" noise
            probe.cancel()  # no-op when done; else its finally closes the connection
        await asyncio.sleep(min(interval, max(deadline - loop.time(), 0.0)))


def _run_blocking(factory: Callable[[], Coroutine[Any, Any, _T]]) -> _T:
    """Run a coroutine to completion from sync code, even if a loop runs in this thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(factory())
    # Called from async code (e.g. an async test): asyncio.run would refuse here, so the
    # wait gets its own loop in a helper thread; the caller's loop is blocked meanwhile.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="broker-wait") as pool:
        return pool.submit(lambda: asyncio.run(factory())).result()


# Brokers started by this process, so an interpreter exit never leaves one behind.
_running: set[ProcessBroker] = set()
_running_lock = threading.Lock()
_owner_pid = os.getpid()


@atexit.register
def _stop_leftovers() -> None:
    if os.getpid() != _owner_pid:  # a forked child must not stop its parent's brokers
        return
    with _running_lock:
        leftovers = list(_running)
    for broker in leftovers:
        with contextlib.suppress(Exception):
            broker.stop(timeout=5.0)


class ProcessBroker(ABC):
    """An :class:`EmbeddedBroker` run as one child process on a fixed loopback port."""

    name: ClassVar[str]
    client_env: ClassVar[Mapping[str, str]] = {}
    #: Seconds ``stop()`` waits after SIGTERM before it sends SIGKILL.
    default_stop_timeout: ClassVar[float] = 10.0

    def __init__(self, *, port: int, data_dir: Path) -> None:
        self._port = port
        self._data_dir = Path(data_dir).resolve()
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._returncode: int | None = None
        self._lock = threading.RLock()

    # -- properties ---------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._port

    @property
    def bootstrap(self) -> str:
        return f"{LOOPBACK}:{self._port}"

    @property
    def data_dir(self) -> Path:
        return self._data_dir

    @property
    def log_path(self) -> Path:
        return self._data_dir / f"{self.name}.log"

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    @property
    def is_running(self) -> bool:
        proc = self._proc
        return proc is not None and proc.poll() is None

    @property
    def returncode(self) -> int | None:
        """Exit code of the last process once it has exited (negative: killed by signal)."""
        proc = self._proc
        if proc is not None:
            return proc.poll()
        return self._returncode

    # -- hooks for subclasses -----------------------------------------------------------

    @abstractmethod
    def _command(self) -> list[str]:
        """The argv that runs the broker in the foreground."""

    def _prepare(self) -> None:
        """Create config files, format storage... Runs before every start."""
        self._data_dir.mkdir(parents=True, exist_ok=True)

    def _env(self) -> dict[str, str] | None:
        """Environment for the child; None inherits ours."""
        return None

    # -- lifecycle ----------------------------------------------------------------------

    def start(self, timeout: float = 60.0) -> None:
        with self._lock:
            if self.is_running:
                return
            self._release()
            self._prepare()
            command = self._command()
            log = self._open_log(f"start: {' '.join(command)}")
            try:
                self._proc = subprocess.Popen(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=self._data_dir,
                    env=self._env(),
                    # Own session: a Ctrl-C in the terminal reaches `cobranca up`, which then
                    # stops the brokers in order, instead of killing them mid-write.
                    start_new_session=True,
                )
            except OSError as exc:
                self._release()
                raise BrokerStartError(f"{self.name}: cannot run {command[0]}: {exc}") from exc
            self._returncode = None
            with _running_lock:
                _running.add(self)
            self._await_ready(timeout)

    def _await_ready(self, timeout: float) -> None:
        started = time.monotonic()
        try:
            _run_blocking(lambda: wait_for_kafka(self.bootstrap, timeout, alive=self._alive))
        except (TimeoutError, BrokerStartError, OSError) as exc:
            self.kill()
            raise BrokerStartError(
                f"{self.name} on {self.bootstrap} not ready ({exc}); "
                f"exit code {self.returncode}; last lines of {self.log_path}:\n"
                f"{self.log_tail()}"
            ) from exc
        except BaseException:
            self.kill()
            raise
        self._note(f"ready in {time.monotonic() - started:.2f}s")

    def _alive(self) -> bool:
        return self.is_running

    def stop(self, timeout: float | None = None) -> None:
        with self._lock:
            proc = self._proc
            if proc is None:
                return
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(self.default_stop_timeout if timeout is None else timeout)
                except subprocess.TimeoutExpired:
                    self._note("did not stop after SIGTERM; sending SIGKILL")
                    with contextlib.suppress(ProcessLookupError):
                        proc.kill()
                    proc.wait()
            self._note(f"stopped, exit code {proc.returncode}")
            self._release()

    def kill(self) -> None:
        with self._lock:
            proc = self._proc
            if proc is None:
                return
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                proc.wait()
                self._note(f"killed, exit code {proc.returncode}")
            else:
                self._note(f"had exited, exit code {proc.returncode}")
            self._release()

    def restart(self, timeout: float = 60.0) -> None:
        self.stop()
        self.start(timeout)

    def wait(self, timeout: float | None = None) -> int:
        proc = self._proc
        if proc is None:
            if self._returncode is None:
                raise BrokerError(f"{self.name} was never started")
            return self._returncode
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired as exc:
            raise TimeoutError(f"{self.name} still running after {timeout}s") from exc

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- log file -----------------------------------------------------------------------

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def _open_log(self, first_line: str) -> IO[bytes]:
        self._data_dir.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - kept open for the child's life
        self._note(first_line)
        return self._log

    def _note(self, message: str) -> None:
        """Our own lines in the broker log, so a reader sees starts, kills and restarts."""
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        line = f"--- cobranca {stamp} {self.name}: {message}\n".encode()
        if self._log is not None and not self._log.closed:
            self._log.write(line)
            self._log.flush()
        else:
            with contextlib.suppress(OSError), open(self.log_path, "ab") as log:
                log.write(line)

    def _release(self) -> None:
        """Forget a finished process and close our copy of its log file."""
        proc = self._proc
        if proc is not None and proc.poll() is not None:
            self._returncode = proc.returncode
            self._proc = None
        if self._proc is None:
            if self._log is not None:
                self._log.close()
                self._log = None
            with _running_lock:
                _running.discard(self)

    def __repr__(self) -> str:
        state = f"pid={self.pid}" if self.is_running else "stopped"
        return f"<{type(self).__name__} {self.bootstrap} {state} data_dir={self._data_dir}>"
