"""A real single-node Apache Kafka 4 (KRaft: broker and controller in one JVM).

The jars come from Maven Central through the repo's ``pom.xml`` (``mvn
dependency:copy-dependencies``) and are cached per version; no Kafka distribution tarball
and no Docker are needed, only ``java`` (17+) and, for the first download, ``mvn``.
Data lives under ``data_dir/logs`` and survives stop, kill and restart.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import re
import shutil
import subprocess
import uuid
from functools import cache
from pathlib import Path
from typing import ClassVar

from cobranca.brokers.base import LOOPBACK, BrokerError, ProcessBroker, free_ports

__all__ = [
    "JARS_DIR_ENV",
    "KAFKA_MAIN_CLASS",
    "KAFKA_VERSION",
    "MIN_JAVA_VERSION",
    "STORAGE_TOOL_CLASS",
    "ApacheKafkaBroker",
    "default_jars_dir",
    "ensure_kafka_jars",
    "java_available",
    "java_executable",
    "kafka_jars_present",
    "kafka_unavailable_reason",
    "new_cluster_id",
    "repo_pom",
]

KAFKA_VERSION = "4.4.0"
SCALA_VERSION = "2.13"
#: Entry points inside kafka_2.13-<version>.jar (checked against the 4.4.0 jar).
KAFKA_MAIN_CLASS = "kafka.Kafka"
STORAGE_TOOL_CLASS = "kafka.tools.StorageTool"
#: Kafka 4 brokers need Java 17.
MIN_JAVA_VERSION = 17
JARS_DIR_ENV = "COBRANCA_KAFKA_JARS_DIR"

_MAIN_JAR = f"kafka_{SCALA_VERSION}-{KAFKA_VERSION}.jar"
_JVM_OPTIONS = (
    # One GC thread and little overhead: this machine class has 2 cores.
    "-XX:+UseSerialGC",
    # C1 only: less CPU and RSS while starting; a local broker needs no C2 peak speed.
    "-XX:TieredStopAtLevel=1",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
)

_LOG4J2_XML = """\
<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by cobranca.brokers: stdout goes to the broker log file. No log4j shutdown
     hook, so Kafka can still log while its own hook shuts the broker down. -->
<Configuration status="WARN" shutdownHook="disable">
  <Appenders>
    <Console name="stdout" target="SYSTEM_OUT">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
    </Console>
  </Appenders>
  <Loggers>
    <Root level="{level}">
      <AppenderRef ref="stdout"/>
    </Root>
  </Loggers>
</Configuration>
"""


# -- environment checks --------------------------------------------------------------------


def java_executable() -> str | None:
    """``$JAVA_HOME/bin/java`` when set, else ``java`` on PATH."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        candidate = Path(java_home) / "bin" / "java"
        if os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which("java")


@cache
def _java_major_version(java: str) -> int | None:
    try:
        out = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if match is None:
        return None
    major = int(match.group(1))
    # Java 8 and older print "1.8.0_x".
    return int(match.group(2) or 0) if major == 1 else major


def java_available() -> bool:
    """A Java runtime new enough for Kafka 4 is installed."""
    java = java_executable()
    if java is None:
        return False
    version = _java_major_version(java)
    return version is not None and version >= MIN_JAVA_VERSION


def repo_pom() -> Path:
    """The ``pom.xml`` at the repository root that names Kafka's jars."""
    return Path(__file__).resolve().parents[2] / "pom.xml"


def default_jars_dir() -> Path:
    """``$COBRANCA_KAFKA_JARS_DIR`` or ``~/.cache/cobranca/kafka-jars/<version>``."""
    override = os.environ.get(JARS_DIR_ENV)
    if override:
        return Path(override).expanduser()
    return Path.home() / ".cache" / "cobranca" / "kafka-jars" / KAFKA_VERSION


def kafka_jars_present(jars_dir: Path | None = None) -> bool:
    return (_jars_dir(jars_dir) / _MAIN_JAR).is_file()


def kafka_unavailable_reason(jars_dir: Path | None = None) -> str | None:
    """Why Apache Kafka cannot run here (for ``pytest.skip``), or None when it can."""
    java = java_executable()
    if java is None:
        return "Apache Kafka needs java (17+): none on PATH or in $JAVA_HOME"
    version = _java_major_version(java)
    if version is None or version < MIN_JAVA_VERSION:
        return f"Apache Kafka {KAFKA_VERSION} needs Java {MIN_JAVA_VERSION}+; {java} is {version}"
    if kafka_jars_present(jars_dir):
        return None
    if shutil.which("mvn") is None:
        return f"Apache Kafka jars are not in {_jars_dir(jars_dir)} and mvn is not on PATH"
    if not repo_pom().is_file():
        return f"Apache Kafka jars are not in {_jars_dir(jars_dir)} and {repo_pom()} is missing"
    return None


# -- jars ----------------------------------------------------------------------------------


def _jars_dir(jars_dir: Path | None) -> Path:
    return (jars_dir if jars_dir is not None else default_jars_dir()).expanduser().resolve()


def ensure_kafka_jars(jars_dir: Path | None = None, *, timeout: float = 900.0) -> Path:
    """Download Kafka's jars with Maven once; return the directory holding them.

    The jars are copied to a scratch dir and renamed into place at the end, so a
    directory that has the main jar is complete. A lock file keeps two processes (e.g.
    pytest workers) from downloading at the same time.
    """
    target = _jars_dir(jars_dir)
    if kafka_jars_present(target):
        return target
    mvn = shutil.which("mvn")
    if mvn is None:
        raise BrokerError(f"mvn is not on PATH: cannot download Kafka jars into {target}")
    pom = repo_pom()
    if not pom.is_file():
        raise BrokerError(f"{pom} not found: it names the Kafka jars to download")
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if kafka_jars_present(target):  # another process finished while we waited
            return target
        scratch = target.parent / f".{target.name}.partial-{os.getpid()}"
        shutil.rmtree(scratch, ignore_errors=True)
        command = [
            mvn,
            "-q",
            "-B",
            "-f",
            str(pom),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={scratch}",
            f"-Dkafka.version={KAFKA_VERSION}",
        ]
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired as exc:
            shutil.rmtree(scratch, ignore_errors=True)
            raise BrokerError(f"mvn did not finish within {timeout:.0f}s") from exc
        if done.returncode != 0 or not (scratch / _MAIN_JAR).is_file():
            shutil.rmtree(scratch, ignore_errors=True)
            output = (done.stdout + done.stderr)[-4000:]
            raise BrokerError(f"mvn failed ({done.returncode}): {' '.join(command)}\n{output}")
        # A leftover, incomplete target (no main jar) would block the rename.
        shutil.rmtree(target, ignore_errors=True)
        os.replace(scratch, target)
    return target


def new_cluster_id() -> str:
    """A Kafka cluster id: 16 random bytes, URL-safe base64 without padding.

    Same shape as ``kafka-storage random-uuid``, without a JVM start.
    """
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):  # Kafka avoids these: they look like CLI flags
            return text


# -- broker --------------------------------------------------------------------------------


class ApacheKafkaBroker(ProcessBroker):
    """Apache Kafka 4 in KRaft combined mode on 127.0.0.1:PORT (controller on another port).

    Ports are chosen once and saved in ``data_dir/ports.json``: every restart and a later
    object on the same ``data_dir`` (e.g. the next ``cobranca up``) reuse them, so clients
    find the data where they left it. Explicit ports override the saved ones. Starting
    downloads the jars first if needed (not counted in ``start``'s timeout).
    """

    name: ClassVar[str] = "kafka"
    # A clean shutdown flushes logs and writes a clean-shutdown marker; give it time.
    default_stop_timeout: ClassVar[float] = 30.0

    def __init__(
        self,
        port: int | None = None,
        *,
        data_dir: Path,
        jars_dir: Path | None = None,
        controller_port: int | None = None,
        num_partitions: int = 4,
        heap: str = "512m",
        log_level: str = "WARN",
    ) -> None:
        data_dir = Path(data_dir).resolve()
        port, controller_port = self._pick_ports(data_dir, port, controller_port)
        super().__init__(port=port, data_dir=data_dir)
        self._controller_port = controller_port
        self._jars_dir = jars_dir
        self._num_partitions = num_partitions
        self._heap = heap
        self._log_level = log_level
        self._java: str | None = None

    @staticmethod
    def _pick_ports(
        data_dir: Path, port: int | None, controller_port: int | None
    ) -> tuple[int, int]:
        saved: dict[str, int] = {}
        with contextlib.suppress(OSError, ValueError, TypeError, AttributeError):
            raw = json.loads((data_dir / "ports.json").read_text())
            saved = {key: int(value) for key, value in raw.items()}
        if port is None:
            port = saved.get("port")
        if controller_port is None:
            controller_port = saved.get("controller")
        if port is None or controller_port is None:
            fresh = iter(p for p in free_ports(3) if p not in (port, controller_port))
            port = port if port is not None else next(fresh)
            controller_port = controller_port if controller_port is not None else next(fresh)
        if port == controller_port:
            raise ValueError(f"port and controller_port must differ (both {port})")
        return port, controller_port

    @property
    def controller_port(self) -> int:
        return self._controller_port

    @property
    def jars_dir(self) -> Path:
        return _jars_dir(self._jars_dir)

    @property
    def config_path(self) -> Path:
        return self.data_dir / "server.properties"

    @property
    def log_dir(self) -> Path:
        """Kafka's ``log.dirs``: topic data and the KRaft metadata log."""
        return self.data_dir / "logs"

    @property
    def is_formatted(self) -> bool:
        return (self.log_dir / "meta.properties").is_file()

    def server_properties(self) -> dict[str, str]:
        host = LOOPBACK
        return {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.bootstrap.servers": f"{host}:{self._controller_port}",
            "listeners": f"PLAINTEXT://{host}:{self.port},CONTROLLER://{host}:{self._controller_port}",
            "advertised.listeners": f"PLAINTEXT://{host}:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.log_dir),
            "num.partitions": str(self._num_partitions),
            "auto.create.topics.enable": "true",
            "group.initial.rebalance.delay.ms": "0",
            # Allow the short consumer session timeouts that make joins quick on Tansu, so
            # one client config works on both brokers (Kafka's default minimum is 6 s).
            "group.min.session.timeout.ms": "1000",
            # Single node: every internal topic must live with one replica.
            "offsets.topic.replication.factor": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            # Fewer internal partitions: the first consumer group and transaction come up
            # faster, and one node gains nothing from 50.
            "offsets.topic.num.partitions": "8",
            "transaction.state.log.num.partitions": "8",
            # After a SIGKILL the restarted broker cannot register until the controller
            # expires the dead incarnation's session (default 9 s): keep that short.
            "broker.session.timeout.ms": "3000",
            "broker.heartbeat.interval.ms": "500",
            # Sized for a 2-core machine.
            "num.network.threads": "2",
            "num.io.threads": "4",
            "num.recovery.threads.per.data.dir": "2",
        }

    def _write_config(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        lines = [f"{key}={value}" for key, value in self.server_properties().items()]
        self.config_path.write_text(
            "# Written by cobranca.brokers on every start; edits are lost.\n"
            + "\n".join(lines)
            + "\n"
        )
        (self.data_dir / "log4j2.xml").write_text(_LOG4J2_XML.format(level=self._log_level))
        ports = {"port": self.port, "controller": self._controller_port}
        (self.data_dir / "ports.json").write_text(json.dumps(ports) + "\n")

    def _java_command(self, main_class: str, *args: str) -> list[str]:
        java = self._java or java_executable()
        if java is None:
            raise BrokerError("java not found on PATH or in $JAVA_HOME")
        self._java = java
        return [
            java,
            f"-Xmx{self._heap}",
            *_JVM_OPTIONS,
            f"-Dlog4j2.configurationFile={self.data_dir / 'log4j2.xml'}",
            "-cp",
            f"{self.jars_dir}/*",  # expanded by java itself, not by a shell
            main_class,
            *args,
        ]

    def _format(self) -> None:
        """``kafka-storage format --standalone`` once: this node is the only voter."""
        command = self._java_command(
            STORAGE_TOOL_CLASS,
            "format",
            "--standalone",
            "--cluster-id",
            new_cluster_id(),
            "--config",
            str(self.config_path),
        )
        log = self._open_log(f"format: {' '.join(command)}")
        try:
            done = subprocess.run(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.data_dir,
                timeout=120,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise BrokerError(f"formatting {self.log_dir} took over 120s") from exc
        finally:
            self._release()
        if done.returncode != 0 or not self.is_formatted:
            raise BrokerError(
                f"formatting {self.log_dir} failed ({done.returncode}); log:\n{self.log_tail()}"
            )

    def _prepare(self) -> None:
        super()._prepare()
        ensure_kafka_jars(self._jars_dir)
        self._write_config()
        if not self.is_formatted:
            self._format()

    def _command(self) -> list[str]:
        return self._java_command(KAFKA_MAIN_CLASS, str(self.config_path))
