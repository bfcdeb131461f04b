"""End-to-end import benchmark: one generated carteira through the whole platform.

    python -m benchmarks.import_bench [--rows 200000] [--broker tansu|kafka] [--keep]
                                      [--json PATH] [--profile DIR] [--seed N]
    make bench

On a temporary data dir it starts the embedded broker and the five services (each its own
process, as `cobranca up` does), checks the pipeline with a tiny warm-up import, then times one
upload of `--rows` rows from the moment the HTTP request starts:

(a) upload accepted   the gateway answered 202 (CSV parsed, rows saved in its event store);
(b) import completed  the import status (the gateway's `carteira_imports` read model, what
                      GET /api/v1/carteiras/{id} serves) says completed: every row went through
                      the gateway relay, the portfolio consumer, validation and its event store;
(c) view caught up    the portal view (`portal_debts` in the gateway's read database) holds
                      every accepted debt.

Progress of each stage (gateway relay, portfolio event store, portfolio relay, portal view) and
the CPU of every process are sampled meanwhile from the services' SQLite files (read-only)
and /proc. The same rows, parsed and validated beforehand, are also written with plain
`sqlite3.executemany` in one transaction: the raw rate the import is compared with. Before the
services start, a floor: the portfolio's import use case alone, in this process
(`PortfolioApplication.handle_inbound` over the messages the gateway would publish for the
same file, into a new SQLite event store), with no broker, no relay and no other service.

`--profile DIR` also runs py-spy (`pip install py-spy`) on each of the five services during
the timed import and ranks where their time goes; it slows them down, so take the figures from
a run without it. Other load on the machine (another test run...) lowers the rates: the CPU
table shows it as "other processes", and its µs of CPU per row hardly depend on it.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import datetime as dt
import itertools
import json
import os
import platform as py_platform
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from rich.console import Console
from rich.table import Table

from cobranca.brokers import EmbeddedBroker, free_port
from cobranca.client import GatewayClient
from cobranca.demo_data import generate_carteira
from cobranca.platform import BROKER_KINDS, Platform, make_broker
from service_runtime.database import sqlite_engine
from service_runtime.eventstore import event_store_env
from service_runtime.personal_data import SqlKeyVault
from service_runtime.settings import Settings
from services.gateway.adapters.integration_events import integration_events
from services.gateway.adapters.tokens import issue_token
from services.gateway.domain.carteira_csv import read_carteira
from services.gateway.domain.upload import CarteiraUpload
from services.portfolio.application.importing import PortfolioApplication
from services.portfolio.domain.debt import debt_id_for
from services.portfolio.domain.row_rules import ValidRow, validate_row

BENCH_TODAY = "2026-11-25"
DEFAULT_ROWS = 200_000
DEFAULT_SEED = 2026
TENANT = "bench"
WARMUP_TENANT = "bench-warmup"
WARMUP_ROWS = 20
TARGET_RATIO = 0.20
TICK = 0.1  # seconds between the checks that end each phase
# The others (negotiation, ruler, messaging) are idle during an import.
PROFILED_SERVICES = ("gateway", "portfolio", "negotiation", "ruler", "messaging")

# Wide enough for the tables when the output goes to a file or a pipe.
console = Console(width=None if sys.stdout.isatty() else 150)


# -- the raw baseline ------------------------------------------------------------------------
RAW_COLUMNS = (
    "document",
    "name",
    "creditor",
    "contract",
    "installment",
    "original_amount_cents",
    "due_date",
    "email",
    "phone",
    "city",
    "state",
    "category",
)


@dataclass
class ParsedCarteira:
    rows_total: int
    valid: list[tuple[Any, ...]]
    distinct_debts: int
    parse_seconds: float


@dataclass
class RawResult:
    rows: int
    seconds: float  # the best of the attempts
    parse_seconds: float
    attempts: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def parse_carteira(data: bytes, today: dt.date, tenant: str) -> ParsedCarteira:
    """The rows the portfolio accepts, parsed and validated by the services' own code."""
    started = time.perf_counter()
    carteira = read_carteira(data)
    valid: list[tuple[Any, ...]] = []
    debt_ids = set()
    for raw in carteira.rows:
        row = validate_row(raw.fields, today)
        if not isinstance(row, ValidRow):
            continue
        valid.append(
            (
                row.document,
                row.name,
                row.creditor,
                row.contract,
                row.installment,
                row.original_amount_cents,
                row.due_date.isoformat(),
                row.email,
                row.phone,
                row.city,
                row.state,
                row.category,
            )
        )
        debt_ids.add(debt_id_for(tenant, row.creditor, row.contract, row.installment))
    return ParsedCarteira(
        rows_total=len(carteira.rows),
        valid=valid,
        distinct_debts=len(debt_ids),
        parse_seconds=time.perf_counter() - started,
    )


@dataclass
class AloneResult:
    rows: int
    seconds: float
    created: int

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def portfolio_alone(data: bytes, directory: Path, today: dt.date, tenant: str) -> AloneResult:
    """The portfolio's import use case alone, in this process: the messages the gateway's
    relay would publish for this upload (made by its own code from the upload aggregate),
    handled by `PortfolioApplication.handle_inbound` in batches of the services' consumer
    size, into a new SQLite event store with the service's settings and a key vault. No
    broker, no relay, no other service: what the import costs in the event-sourced core,
    one `Debt` aggregate and one stored event per row."""
    carteira = read_carteira(data)
    upload = CarteiraUpload(
        import_id=str(uuid.uuid4()),
        tenant=tenant,
        filename="carteira-bench.csv",
        rows_total=len(carteira.rows),
        requested_by="bench",
        encoding=carteira.encoding,
        delimiter=carteira.delimiter,
    )
    upload.add_rows([(row.row_number, dict(row.fields)) for row in carteira.rows])
    messages = [m for event in upload.collect_events() for _, m in integration_events(event)]
    settings = Settings(data_dir=directory / "alone", database_url=None)
    settings.service_dir("portfolio").mkdir(parents=True, exist_ok=True)
    vault = SqlKeyVault(sqlite_engine(str(directory / "alone" / "keys.sqlite")))
    app = PortfolioApplication(env=event_store_env(settings, "portfolio"), vault=vault)
    batch = settings.consumer_max_records
    created = 0
    started = time.perf_counter()
    for start in range(0, len(messages), batch):
        created += app.handle_inbound(messages[start : start + batch], today).created
    seconds = time.perf_counter() - started
    app.close()
    vault.engine.dispose()
    return AloneResult(rows=len(carteira.rows), seconds=seconds, created=created)


def raw_sqlite_write(parsed: ParsedCarteira, directory: Path, repeat: int = 3) -> RawResult:
    """The best of `repeat` writes of the parsed rows, each into a fresh file (one ~1 s write
    is noisy: page cache, other load)."""
    attempts = [
        raw_sqlite_write_once(parsed, directory / f"raw-baseline-{n}.sqlite") for n in range(repeat)
    ]
    for n in range(repeat):
        for suffix in ("", "-wal", "-shm"):
            (directory / f"raw-baseline-{n}.sqlite{suffix}").unlink(missing_ok=True)
    return RawResult(
        rows=len(parsed.valid),
        seconds=min(attempts),
        parse_seconds=parsed.parse_seconds,
        attempts=attempts,
    )


def raw_sqlite_write_once(parsed: ParsedCarteira, path: Path) -> float:
    """Seconds to write the parsed rows into a fresh SQLite file: one table, one transaction,
    WAL and synchronous=NORMAL as the services' databases."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(
            "CREATE TABLE debts ("
            "document TEXT NOT NULL, name TEXT NOT NULL, creditor TEXT NOT NULL, "
            "contract TEXT NOT NULL, installment TEXT NOT NULL, "
            "original_amount_cents INTEGER NOT NULL, due_date TEXT NOT NULL, email TEXT, "
            "phone TEXT, city TEXT, state TEXT, category TEXT)"
        )
        placeholders = ", ".join("?" for _ in RAW_COLUMNS)
        started = time.perf_counter()
        conn.execute("BEGIN")
        conn.executemany(f"INSERT INTO debts VALUES ({placeholders})", parsed.valid)
        conn.execute("COMMIT")
        seconds = time.perf_counter() - started
        (count,) = conn.execute("SELECT COUNT(*) FROM debts").fetchone()
        assert count == len(parsed.valid)
    finally:
        conn.close()
    return seconds


# -- watching the services -------------------------------------------------------------------
class ReadOnlyDb:
    """A read-only connection to one of the services' SQLite files, opened once it exists.
    Any error (file or table not there yet, a lock) reads as None."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.conn: sqlite3.Connection | None = None

    def row(self, sql: str, params: tuple[Any, ...] = ()) -> tuple[Any, ...] | None:
        if self.conn is None:
            if not self.path.exists():
                return None
            self.conn = sqlite3.connect(
                f"{self.path.as_uri()}?mode=ro", uri=True, timeout=2.0, check_same_thread=False
            )
        try:
            found = self.conn.execute(sql, params).fetchone()
        except sqlite3.Error:
            return None
        return tuple(found) if found is not None else None

    def scalar(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        found = self.row(sql, params)
        return found[0] if found else None

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


# Stages in pipeline order: (key, label).
STAGES: tuple[tuple[str, str], ...] = (
    ("gw_relay", "gateway relay → carteiras.inbound (msgs, saved per relay batch)"),
    ("rows_read", "portfolio: rows read (import status)"),
    ("pf_events", "portfolio event store (events)"),
    ("pf_relay", "portfolio relay → debts/imports (msgs)"),
    ("portal", "portal view (debts)"),
)


class ServiceProbes:
    def __init__(self, data_dir: Path) -> None:
        self.gateway_state = ReadOnlyDb(data_dir / "gateway" / "state.sqlite")
        self.gateway_read = ReadOnlyDb(data_dir / "gateway" / "read.sqlite")
        self.portfolio_events = ReadOnlyDb(data_dir / "portfolio" / "events.sqlite")
        self.portfolio_state = ReadOnlyDb(data_dir / "portfolio" / "state.sqlite")

    @staticmethod
    def _published(db: ReadOnlyDb, relay: str) -> int | None:
        value = db.scalar(
            "SELECT COALESCE(SUM(published), 0) FROM outbox_relay_counts WHERE relay = ?", (relay,)
        )
        return int(value) if value is not None else None

    def portal_count(self, tenant: str) -> int | None:
        value = self.gateway_read.scalar(
            "SELECT COUNT(*) FROM portal_debts WHERE tenant = ?", (tenant,)
        )
        return int(value) if value is not None else None

    def import_status(self, tenant: str, import_id: str) -> dict[str, Any] | None:
        found = self.gateway_read.row(
            "SELECT status, rows_total, rows_read, created, updated, unchanged, rejected "
            "FROM carteira_imports WHERE tenant = ? AND import_id = ?",
            (tenant, import_id),
        )
        if found is None:
            return None
        keys = ("status", "rows_total", "rows_read", "created", "updated", "unchanged", "rejected")
        return dict(zip(keys, found, strict=True))

    def counters(self) -> dict[str, int | None]:
        pf_events = self.portfolio_events.scalar("SELECT MAX(rowid) FROM stored_events")
        return {
            "gw_relay": self._published(self.gateway_state, "gateway"),
            "pf_events": int(pf_events) if pf_events is not None else None,
            "pf_relay": self._published(self.portfolio_state, "portfolio"),
        }

    def close(self) -> None:
        for db in (
            self.gateway_state,
            self.gateway_read,
            self.portfolio_events,
            self.portfolio_state,
        ):
            db.close()


CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def proc_stat(pid: int) -> tuple[int, int] | None:
    """(CPU ticks used, resident bytes) of a process, from /proc; None when unavailable."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()
    # Fields after the name start at field 3 (state): utime=14, stime=15, rss=24.
    return int(fields[11]) + int(fields[12]), int(fields[21]) * PAGE_SIZE


def machine_busy(seconds: float = 1.0) -> float | None:
    """Share of all cores busy over `seconds` (0..1), or None without /proc."""
    before = machine_ticks()
    time.sleep(seconds)
    after = machine_ticks()
    if before is None or after is None or after[1] == before[1]:
        return None
    return (after[0] - before[0]) / (after[1] - before[1])


def machine_ticks() -> tuple[int, int] | None:
    """(busy, total) CPU ticks of the whole machine."""
    try:
        first = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    except OSError:
        return None
    values = [int(v) for v in first[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    return sum(values) - idle, sum(values)


@dataclass
class Sample:
    t: float
    counts: dict[str, int | None]
    cpu: dict[str, int | None]
    rss: dict[str, int | None]
    machine: tuple[int, int] | None


@dataclass
class Monitor:
    """Samples the stages' progress and the processes' CPU during the timed import."""

    probes: ServiceProbes
    pids: dict[str, int]
    tenant: str
    baseline: dict[str, int] = field(default_factory=dict)
    samples: list[Sample] = field(default_factory=list)

    def take_baseline(self) -> None:
        counts = self.probes.counters()
        self.baseline = {k: v or 0 for k, v in counts.items()}

    def sample(self, t: float, import_id: str | None) -> Sample:
        counts = {
            k: (v - self.baseline.get(k, 0) if v is not None else None)
            for k, v in self.probes.counters().items()
        }
        counts["portal"] = self.probes.portal_count(self.tenant)
        status = self.probes.import_status(self.tenant, import_id) if import_id else None
        counts["rows_read"] = status["rows_read"] if status else None
        cpu: dict[str, int | None] = {}
        rss: dict[str, int | None] = {}
        for name, pid in self.pids.items():
            stat = proc_stat(pid)
            cpu[name], rss[name] = stat if stat else (None, None)
        sample = Sample(t=t, counts=counts, cpu=cpu, rss=rss, machine=machine_ticks())
        self.samples.append(sample)
        return sample


@dataclass
class StageFigures:
    key: str
    label: str
    count: int
    first_at: float | None
    done_at: float | None

    @property
    def rate(self) -> float | None:
        if self.first_at is None or self.done_at is None or self.done_at <= self.first_at:
            return None
        return self.count / (self.done_at - self.first_at)


def stage_figures(samples: list[Sample]) -> list[StageFigures]:
    out = []
    for key, label in STAGES:
        values = [(s.t, s.counts.get(key)) for s in samples]
        final = max((v for _, v in values if v is not None), default=0)
        first = next((t for t, v in values if v), None)
        done = next((t for t, v in values if v is not None and v >= final and final), None)
        out.append(StageFigures(key, label, final, first, done))
    return out


@dataclass
class CpuFigures:
    name: str
    cpu_seconds: float
    average_pct: float
    peak_pct: float
    max_rss_mb: float


def cpu_figures(samples: list[Sample], window: float = 1.0) -> list[CpuFigures]:
    """CPU used by each process over the timed import: average and peak (over ~1 s windows)
    in % of one core; `machine` is the whole machine, in % of all its cores."""
    if len(samples) < 2:
        return []
    out = []
    span = samples[-1].t - samples[0].t
    for name in samples[0].cpu:
        points = [(s.t, s.cpu.get(name)) for s in samples if s.cpu.get(name) is not None]
        if len(points) < 2:
            continue
        used = (points[-1][1] or 0) - (points[0][1] or 0)
        peak = 0.0
        start = 0
        for end in range(1, len(points)):
            while points[end][0] - points[start][0] > window and start < end - 1:
                start += 1
            dt_s = points[end][0] - points[start][0]
            if dt_s >= window * 0.5:
                ticks = (points[end][1] or 0) - (points[start][1] or 0)
                peak = max(peak, ticks / CLOCK_TICKS / dt_s * 100)
        rss = max((s.rss.get(name) or 0) for s in samples)
        out.append(
            CpuFigures(
                name=name,
                cpu_seconds=used / CLOCK_TICKS,
                average_pct=used / CLOCK_TICKS / span * 100 if span else 0.0,
                peak_pct=peak,
                max_rss_mb=rss / 1e6,
            )
        )
    machines = [s.machine for s in samples if s.machine]
    if len(machines) >= 2:
        busy = machines[-1][0] - machines[0][0]
        total = machines[-1][1] - machines[0][1]
        ours = sum(c.cpu_seconds for c in out)
        # Whatever else runs on the machine (other test runs...) competes for the same cores.
        other = max(0.0, busy / CLOCK_TICKS - ours)
        out.append(
            CpuFigures("other processes", other, other / span * 100 if span else 0.0, 0.0, 0.0)
        )
        out.append(
            CpuFigures(
                "machine (% of all cores)",
                busy / CLOCK_TICKS,
                busy / total * 100 if total else 0.0,
                0.0,
                0.0,
            )
        )
    return out


# -- py-spy ----------------------------------------------------------------------------------
def py_spy_binary() -> str | None:
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


@dataclass
class Profilers:
    directory: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, pids: dict[str, int]) -> None:
        binary = py_spy_binary()
        if binary is None:
            raise SystemExit("--profile needs py-spy: pip install py-spy")
        self.directory.mkdir(parents=True, exist_ok=True)
        for name, pid in pids.items():
            log = (self.directory / f"{name}.py-spy.log").open("wb")
            self.processes[name] = subprocess.Popen(
                [
                    binary,
                    "record",
                    "--pid",
                    str(pid),
                    "--rate",
                    "100",
                    "--format",
                    "raw",
                    "--function",
                    "--threads",
                    "--nonblocking",
                    "--output",
                    str(self.directory / f"{name}.txt"),
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            log.close()

    def stop(self) -> None:
        for proc in self.processes.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        for proc in self.processes.values():
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def outputs(self) -> dict[str, Path]:
        return {
            name: self.directory / f"{name}.txt"
            for name in self.processes
            if (self.directory / f"{name}.txt").exists()
        }


def _short_frame(frame: str) -> str:
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    for marker in ("site-packages/", "/work/main/", "lib/python3.11/"):
        if marker in where:
            where = where.split(marker, 1)[1]
    return f"{name} ({where})" if where else name


# The project's own code: the frames worth ranking by inclusive time.
PROJECT_FRAME_PREFIXES = ("(services/", "(service_runtime/", "(contracts/")
# Frames that only wrap everything below them (entry points, runners).
WRAPPER_FRAMES = ("main (services/", "run_worker (service_runtime/")


@dataclass
class ProfileSummary:
    samples: int
    project: list[tuple[str, int]]  # project functions, by samples with them on the stack
    own: list[tuple[str, int]]  # any function, by samples spent in its own code


def summarize_profile(path: Path, top: int = 20) -> ProfileSummary:
    """From py-spy's collapsed stacks (`--threads`: the first frame names the thread)."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_short_frame(f) for f in stack.split(";")[1:]] or ["(no Python frame)"]
        total += count
        for frame in set(frames):
            inclusive[frame] += count
        own[frames[-1]] += count
    project = [
        (frame, n)
        for frame, n in inclusive.most_common()
        if any(p in frame for p in PROJECT_FRAME_PREFIXES) and not frame.startswith(WRAPPER_FRAMES)
    ]
    return ProfileSummary(total, project[:top], own.most_common(top))


# -- the run ---------------------------------------------------------------------------------
@dataclass
class Timings:
    rows_total: int = 0
    accepted_debts: int = 0
    rejected: int = 0
    upload_s: float | None = None
    completed_s: float | None = None
    first_debt_s: float | None = None
    portal_s: float | None = None


def wait_until(
    predicate: Callable[[], bool], timeout: float, what: str, check: Callable[[], None]
) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        check()
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.2)


@dataclass
class Bench:
    broker_kind: str
    seed: int
    root: Path
    timeout: float
    interval: float
    profile_dir: Path | None
    broker: EmbeddedBroker | None = None
    platform: Platform | None = None
    profilers: Profilers | None = None
    probes: ServiceProbes | None = None

    @property
    def data_dir(self) -> Path:
        return self.root / "var"

    def check_alive(self) -> None:
        assert self.platform is not None
        died = self.platform.check(restart=False)
        if died:
            raise RuntimeError(f"service(s) exited: {', '.join(died)}\n{self.log_tails()}")
        if self.broker is not None and not self.broker.is_running:
            raise RuntimeError("the broker exited")

    def log_tails(self, lines: int = 25) -> str:
        out = []
        for path in sorted((self.root / "logs").glob("*.log")):
            tail = path.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"--- {path}\n" + "\n".join(tail))
        return "\n".join(out)

    def start(self) -> GatewayClient:
        port = free_port()
        console.print(f"starting the {self.broker_kind} broker...")
        self.broker = make_broker(self.broker_kind, self.root)
        self.broker.start(timeout=180)
        env = {
            "COBRANCA_HTTP_PORT": str(port),
            "COBRANCA_TODAY": BENCH_TODAY,
            "COBRANCA_DATABASE_URL": "",  # SQLite files under the temp dir, whatever the shell says
            "COBRANCA_LOG_LEVEL": "INFO",
        }
        self.platform = Platform(
            data_dir=self.data_dir,
            env=env,
            bootstrap=self.broker.bootstrap,
            log_dir=self.root / "logs",
        )
        settings = Settings(data_dir=self.data_dir, http_port=port, database_url=None)
        key = settings.signing_key()  # created before the services start, so all share it
        console.print("starting the five services...")
        self.platform.start()
        token = issue_token(
            key, tenant=TENANT, role="admin", subject="bench", ttl=dt.timedelta(hours=6)
        )
        client = GatewayClient(f"http://127.0.0.1:{port}", token, timeout=self.timeout)
        started = time.monotonic()
        wait_until(self._ready(client), 180, "the gateway's /ready", self.check_alive)
        self.probes = ServiceProbes(self.data_dir)
        console.print(f"gateway ready after {time.monotonic() - started:.1f}s")
        return client

    @staticmethod
    def _ready(client: GatewayClient) -> Callable[[], bool]:
        def ready() -> bool:
            try:
                return client.http.get("/ready").status_code == 200
            except Exception:  # not listening yet
                return False

        return ready

    def warm_up(self, client: GatewayClient, today: dt.date) -> None:
        """A tiny import through the whole pipeline: every consumer has joined its group."""
        assert self.probes is not None
        data = generate_carteira(WARMUP_ROWS, self.seed + 1, today=today).encode()
        expected = parse_carteira(data, today, WARMUP_TENANT).distinct_debts
        token = issue_token(
            Settings(data_dir=self.data_dir).signing_key(),
            tenant=WARMUP_TENANT,
            role="admin",
            subject="bench",
            ttl=dt.timedelta(hours=1),
        )
        warm = GatewayClient(str(client.http.base_url), token)
        started = time.monotonic()
        import_id = warm.upload_carteira(data, "warm-up.csv")["import_id"]
        probes = self.probes

        def done() -> bool:
            status = probes.import_status(WARMUP_TENANT, import_id)
            count = probes.portal_count(WARMUP_TENANT)
            return bool(status and status["status"] == "completed" and count == expected)

        wait_until(done, 300, "the warm-up import", self.check_alive)
        console.print(f"warm-up import through the pipeline in {time.monotonic() - started:.1f}s")

    def pids(self) -> dict[str, int]:
        assert self.platform is not None and self.broker is not None
        pids = {
            name: proc.process.pid
            for name, proc in self.platform.processes.items()
            if proc.process is not None and proc.process.pid is not None
        }
        broker_pid = getattr(self.broker, "pid", None)
        if broker_pid:
            pids[f"broker ({self.broker_kind})"] = broker_pid
        pids["bench (monitor)"] = os.getpid()
        return pids

    def timed_import(
        self, client: GatewayClient, data: bytes, expected_debts: int
    ) -> tuple[Timings, Monitor, dict[str, Any]]:
        assert self.probes is not None
        monitor = Monitor(self.probes, self.pids(), TENANT)
        monitor.take_baseline()
        if self.profile_dir is not None:
            self.profilers = Profilers(self.profile_dir)
            self.profilers.start({n: p for n, p in monitor.pids.items() if n in PROFILED_SERVICES})
            # Their CPU is ours too: not "other processes".
            for name, proc in self.profilers.processes.items():
                monitor.pids[f"py-spy ({name})"] = proc.pid
            time.sleep(1.0)  # py-spy attaches
        timings = Timings()
        accepted_at: list[float] = []
        target = expected_debts
        import_id: str | None = None
        last_report = 0.0

        def upload() -> dict[str, Any]:
            body = client.upload_carteira(data, "carteira-bench.csv")
            accepted_at.append(time.perf_counter())
            return body

        # Not `with`: on Ctrl-C, do not wait for an upload in flight (it fails once the
        # services stop).
        pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="upload")
        try:
            t0 = time.perf_counter()
            future = pool.submit(upload)
            sample: Sample | None = None
            while True:
                now = time.perf_counter() - t0
                # Stage counts and CPU every `interval`; the cheap checks that end the phases
                # (the 202, the status row, the first and last debt in the view) every tick.
                if sample is None or now - sample.t >= self.interval:
                    sample = monitor.sample(now, import_id)
                    count = sample.counts.get("portal") or 0
                elif timings.first_debt_s is None or timings.completed_s is not None:
                    count = self.probes.portal_count(TENANT) or 0
                if import_id is None and future.done():
                    accepted = future.result()  # raises the upload's error
                    import_id = str(accepted["import_id"])
                    timings.rows_total = int(accepted["rows"])
                    timings.upload_s = accepted_at[0] - t0
                    console.print(
                        f"  202 after {timings.upload_s:.1f}s: import {import_id}, "
                        f"{timings.rows_total} rows"
                    )
                if import_id is not None and timings.completed_s is None:
                    status = self.probes.import_status(TENANT, import_id)
                    if status and status["status"] == "completed":
                        timings.completed_s = now
                        timings.rejected = int(status["rejected"] or 0)
                        # On a fresh store every accepted debt is new: the view must hold them.
                        target = int(status["created"] or 0) + int(status["updated"] or 0)
                        console.print(f"  import completed after {now:.1f}s: {status}")
                        count = self.probes.portal_count(TENANT) or 0
                if count and timings.first_debt_s is None:
                    timings.first_debt_s = now
                if timings.completed_s is not None and count >= target:
                    timings.portal_s = now
                    timings.accepted_debts = count
                    monitor.sample(now, import_id)
                    break
                if now - last_report >= 10:
                    last_report = now
                    progress = ", ".join(f"{k}={v}" for k, v in sample.counts.items())
                    console.print(f"  t={now:6.1f}s {progress}")
                if now > self.timeout:
                    raise TimeoutError(
                        f"not done after {self.timeout:.0f}s: {sample.counts}\n{self.log_tails()}"
                    )
                self.check_alive()
                time.sleep(TICK)
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        if self.profilers is not None:
            self.profilers.stop()
        assert import_id is not None
        status = client.import_status(import_id)  # the API's word on it, once
        status.pop("rejections", None)
        return timings, monitor, status

    def stop(self) -> None:
        if self.profilers is not None:
            with contextlib.suppress(Exception):
                self.profilers.stop()
        if self.probes is not None:
            self.probes.close()
        if self.platform is not None:
            console.print("stopping the services...")
            self.platform.stop()
        if self.broker is not None:
            self.broker.stop()


# -- reporting -------------------------------------------------------------------------------
def machine_info() -> dict[str, Any]:
    model = None
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory_gb = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        first = Path("/proc/meminfo").read_text().splitlines()[0]
        memory_gb = round(int(first.split()[1]) / 1024 / 1024, 1)
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "cores": os.cpu_count(),
        "usable_cores": affinity,
        "cpu": model,
        "memory_gb": memory_gb,
        "python": py_platform.python_version(),
        "system": f"{py_platform.system()} {py_platform.release()}",
        "sqlite": sqlite3.sqlite_version,
    }


def _rate(rows: int, seconds: float | None) -> float | None:
    return rows / seconds if seconds else None


def _fmt(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def figures_of(
    timings: Timings, raw: RawResult, parsed: ParsedCarteira, alone: AloneResult
) -> dict[str, dict[str, Any]]:
    projection_s = (
        timings.portal_s - timings.first_debt_s
        if timings.portal_s is not None and timings.first_debt_s is not None
        else None
    )
    return {
        "upload_accepted": {
            "rows": timings.rows_total,
            "seconds": timings.upload_s,
            "rows_per_s": _rate(timings.rows_total, timings.upload_s),
        },
        "import_completed": {
            "rows": timings.rows_total,
            "seconds": timings.completed_s,
            "rows_per_s": _rate(timings.rows_total, timings.completed_s),
        },
        "portal_caught_up": {
            "rows": timings.accepted_debts,
            "seconds": timings.portal_s,
            "rows_per_s": _rate(timings.accepted_debts, timings.portal_s),
        },
        "projection_from_first_debt": {
            "rows": timings.accepted_debts,
            "seconds": projection_s,
            "rows_per_s": _rate(timings.accepted_debts, projection_s),
        },
        "raw_sqlite_executemany": {
            "rows": raw.rows,
            "seconds": raw.seconds,
            "rows_per_s": raw.rate,
            "attempts_s": raw.attempts,
        },
        "raw_parse_validate": {
            "rows": parsed.rows_total,
            "seconds": parsed.parse_seconds,
            "rows_per_s": _rate(parsed.rows_total, parsed.parse_seconds),
        },
        "portfolio_alone": {
            "rows": alone.rows,
            "seconds": alone.seconds,
            "rows_per_s": alone.rate,
            "debts_created": alone.created,
        },
    }


def print_report(
    figures: dict[str, dict[str, Any]],
    raw: RawResult,
    stages: list[StageFigures],
    cpu: list[CpuFigures],
    machine: dict[str, Any],
    broker_kind: str,
    profiles: dict[str, ProfileSummary],
) -> float | None:
    labels = {
        "upload_accepted": "(a) upload accepted (HTTP 202)",
        "import_completed": "(b) import completed (status)",
        "portal_caught_up": "(c) portal view caught up",
        "projection_from_first_debt": "    projection rate, from the first debt in the view",
        "raw_sqlite_executemany": "raw: sqlite3 executemany, 1 transaction, WAL (best of 3)",
        "raw_parse_validate": "raw: read_carteira + validate_row (1 process, for scale)",
        "portfolio_alone": "floor: the portfolio's use case alone, in process, no broker",
    }
    table = Table(title=f"Import benchmark ({broker_kind}): seconds from the start of the upload")
    table.add_column("step")
    table.add_column("rows", justify="right")
    table.add_column("seconds", justify="right")
    table.add_column("rows/s", justify="right")
    table.add_column("% of raw write", justify="right")
    for key, label in labels.items():
        fig = figures[key]
        rate = fig["rows_per_s"]
        share = f"{rate / raw.rate * 100:.1f}%" if rate and raw.rate else "—"
        table.add_row(label, f"{fig['rows']:,}", _fmt(fig["seconds"], 2), _fmt(rate, 0), share)
    console.print(table)

    import_rate = figures["import_completed"]["rows_per_s"]
    ratio = import_rate / raw.rate if import_rate and raw.rate else None
    if ratio is not None:
        verdict = "[green]meets[/]" if ratio >= TARGET_RATIO else "[red]misses[/]"
        console.print(
            f"import rate / raw rate = [bold]{ratio * 100:.2f}%[/] "
            f"({_fmt(import_rate, 0)} / {_fmt(raw.rate, 0)} rows/s): {verdict} "
            f"the >= {TARGET_RATIO:.0%} aim"
        )

    stage_table = Table(title="Pipeline stages (sampled; t from the start of the upload)")
    for column in ("stage", "count", "first at s", "done at s", "rate /s"):
        stage_table.add_column(column, justify="left" if column == "stage" else "right")
    for st in stages:
        stage_table.add_row(
            st.label, f"{st.count:,}", _fmt(st.first_at, 1), _fmt(st.done_at, 1), _fmt(st.rate, 0)
        )
    console.print(stage_table)

    rows = figures["upload_accepted"]["rows"] or 1
    cpu_table = Table(
        title="CPU during the timed import (% of one core; µs per row: CPU time / rows, "
        "which other load on the machine hardly changes)"
    )
    for column in ("process", "CPU s", "µs/row", "average %", "peak % (1 s)", "max RSS MB"):
        cpu_table.add_column(column, justify="left" if column == "process" else "right")
    for c in cpu:
        cpu_table.add_row(
            c.name,
            f"{c.cpu_seconds:.1f}",
            f"{c.cpu_seconds / rows * 1e6:.0f}",
            f"{c.average_pct:.0f}",
            f"{c.peak_pct:.0f}" if c.peak_pct else "—",
            f"{c.max_rss_mb:.0f}" if c.max_rss_mb else "—",
        )
    console.print(cpu_table)

    for name, summary in profiles.items():
        total = summary.samples or 1
        prof = Table(title=f"py-spy, {name}: {summary.samples} samples of busy threads")
        prof.add_column("project function (on the stack)")
        prof.add_column("incl %", justify="right")
        prof.add_column("function (own code)")
        prof.add_column("self %", justify="right")
        for index in range(max(len(summary.project), len(summary.own))):
            frame, incl = summary.project[index] if index < len(summary.project) else ("", 0)
            where, own = summary.own[index] if index < len(summary.own) else ("", 0)
            prof.add_row(
                frame,
                f"{incl / total * 100:.1f}" if frame else "",
                where,
                f"{own / total * 100:.1f}" if where else "",
            )
        console.print(prof)

    console.print(
        f"machine: {machine['cores']} cores ({machine['usable_cores']} usable), "
        f"{machine['cpu']}, {machine['memory_gb']} GB; Python {machine['python']}, "
        f"SQLite {machine['sqlite']}, {machine['system']}"
    )
    return ratio


def timeline(samples: list[Sample], points: int = 25) -> list[dict[str, Any]]:
    """Evenly spaced samples: stage counts and each process's CPU % since the previous one."""
    if len(samples) < 2:
        return []
    step = max(1, len(samples) // points)
    chosen = samples[::step]
    if chosen[-1] is not samples[-1]:
        chosen.append(samples[-1])
    out = []
    for before, after in itertools.pairwise(chosen):
        span = after.t - before.t
        cpu = {
            name: round(
                ((after.cpu[name] or 0) - (before.cpu.get(name) or 0)) / CLOCK_TICKS / span * 100
            )
            for name in after.cpu
            if after.cpu[name] is not None and span > 0
        }
        out.append({"t": round(after.t, 2), **after.counts, "cpu_pct": cpu})
    return out


def print_timeline(rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    names = list(rows[0]["cpu_pct"])
    table = Table(title="Timeline: stage counts and CPU % of each process since the row above")
    table.add_column("t s", justify="right")
    for key, _ in STAGES:
        table.add_column(key, justify="right")
    for name in names:
        table.add_column(name.split(" ")[0][:9] + " %", justify="right")
    for row in rows:
        table.add_row(
            f"{row['t']:.1f}",
            *(f"{row[k]:,}" if row.get(k) is not None else "—" for k, _ in STAGES),
            *(str(row["cpu_pct"].get(n, "—")) for n in names),
        )
    console.print(table)


# -- entry point -----------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.import_bench",
        description="Time one carteira import end to end and compare it with raw SQLite.",
    )
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS, help="rows in the carteira")
    parser.add_argument("--broker", choices=BROKER_KINDS, default="tansu")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures here")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds for the import")
    parser.add_argument(
        "--interval", type=float, default=0.5, help="seconds between stage/CPU samples"
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="run py-spy on the Python services during the import; collapsed stacks in DIR",
    )
    args = parser.parse_args(argv)
    if args.rows < 1:
        parser.error("--rows must be at least 1")
    if args.profile is not None and py_spy_binary() is None:
        parser.error("--profile needs py-spy: pip install py-spy")
    return args


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run(args: argparse.Namespace) -> int:
    today = dt.date.fromisoformat(BENCH_TODAY)
    machine = machine_info()
    busy = machine_busy()
    machine["busy_before_start"] = busy
    if busy is not None and busy > 0.25:
        console.print(
            f"[yellow]warning: the machine is already {busy:.0%} busy before the benchmark "
            "starts; other processes compete for the cores (see 'other processes' below)[/]"
        )
    root = Path(tempfile.mkdtemp(prefix="cobranca-bench-"))
    console.print(
        f"cobranca import benchmark: {args.rows:,} rows, broker {args.broker}, "
        f"{machine['cores']} cores, Python {machine['python']}; temp dir {root}"
    )
    bench = Bench(
        broker_kind=args.broker,
        seed=args.seed,
        root=root,
        timeout=args.timeout,
        interval=args.interval,
        profile_dir=args.profile,
    )
    ok = interrupted = False
    try:
        started = time.perf_counter()
        data = generate_carteira(args.rows, args.seed, today=today).encode()
        console.print(
            f"carteira generated: {len(data) / 1e6:.1f} MB in {time.perf_counter() - started:.1f}s"
        )
        parsed = parse_carteira(data, today, TENANT)
        raw = raw_sqlite_write(parsed, root)
        console.print(
            f"raw baseline: {raw.rows:,} valid rows parsed in {parsed.parse_seconds:.2f}s, "
            f"written in {raw.seconds:.3f}s, best of {len(raw.attempts)} "
            f"({', '.join(f'{a:.3f}' for a in raw.attempts)}): {raw.rate:,.0f} rows/s"
        )
        parsed.valid = []  # free the memory before the services start
        console.print("the portfolio's import use case alone, in this process...")
        alone = portfolio_alone(data, root, today, TENANT)
        console.print(
            f"  {alone.rows:,} rows ({alone.created:,} debts created) in {alone.seconds:.1f}s: "
            f"{alone.rate:,.0f} rows/s, {alone.rate / raw.rate:.2%} of the raw write"
        )

        client = bench.start()
        bench.warm_up(client, today)
        console.print(f"timing the import of {args.rows:,} rows...")
        timings, monitor, status = bench.timed_import(client, data, parsed.distinct_debts)
        if timings.accepted_debts != parsed.distinct_debts:
            console.print(
                f"[yellow]the view holds {timings.accepted_debts} debts; "
                f"{parsed.distinct_debts} expected from the file[/]"
            )
        figures = figures_of(timings, raw, parsed, alone)
        stages = stage_figures(monitor.samples)
        cpu = cpu_figures(monitor.samples)
        profiles = (
            {name: summarize_profile(path) for name, path in bench.profilers.outputs().items()}
            if bench.profilers is not None
            else {}
        )
        ratio = print_report(figures, raw, stages, cpu, machine, args.broker, profiles)
        steps = timeline(monitor.samples)
        print_timeline(steps)
        console.print(f"import status (API): {status}")
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(
                json.dumps(
                    {
                        "rows": args.rows,
                        "broker": args.broker,
                        "seed": args.seed,
                        "today": BENCH_TODAY,
                        "machine": machine,
                        "figures": figures,
                        "import_rate_over_raw_rate": ratio,
                        "target_ratio": TARGET_RATIO,
                        "import_status": status,
                        "stages": [asdict(s) | {"rate": s.rate} for s in stages],
                        "cpu": [
                            asdict(c) | {"us_per_row": c.cpu_seconds / args.rows * 1e6} for c in cpu
                        ],
                        "timeline": steps,
                        "profiles": {name: asdict(p) for name, p in profiles.items()},
                    },
                    indent=2,
                    default=str,
                )
                + "\n"
            )
            console.print(f"figures written to {args.json}")
        ok = True
        return 0
    except KeyboardInterrupt:
        interrupted = True
        console.print("[yellow]interrupted[/]")
        return 130
    finally:
        # A second Ctrl-C must not leave processes behind: stop everything first.
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            if not ok and not interrupted and bench.platform is not None:
                with contextlib.suppress(Exception):
                    console.print(bench.log_tails(15), markup=False, highlight=False)
            bench.stop()
        finally:
            signal.signal(signal.SIGINT, previous)
        if args.keep:
            console.print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with sigterm_as_interrupt():
        return run(args)


if __name__ == "__main__":
    sys.exit(main())
