"""Running the real platform in tests: the broker and the services as separate processes,
exactly as `cobranca up` runs them, on a temporary data dir, with the manual business clock
at TEST_TODAY (`RunningPlatform.advance_clock` moves it)."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from cobranca.brokers import (
    ApacheKafkaBroker,
    EmbeddedBroker,
    TansuBroker,
    free_port,
    kafka_unavailable_reason,
)
from cobranca.client import GatewayClient, GatewayError
from cobranca.platform import Platform
from service_runtime.settings import Settings
from services.gateway.adapters.tokens import Role, issue_token

TEST_TODAY = "2026-11-25"
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def postgres_url() -> str:
    return os.environ.get("COBRANCA_TEST_DATABASE_URL", DEFAULT_PG_URL)


def postgres_unavailable_reason() -> str | None:
    try:
        import psycopg

        with psycopg.connect(postgres_url(), connect_timeout=3) as conn:
            conn.execute("select 1")
    except Exception as exc:
        return (
            f"no PostgreSQL reachable at COBRANCA_TEST_DATABASE_URL ({postgres_url()}): "
            f"{type(exc).__name__}: {str(exc).strip()[:200]}"
        )
    return None


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """A new, empty database on the test server; dropped afterwards."""
    import psycopg
    from sqlalchemy.engine import make_url

    name = f"cobranca_test_{uuid.uuid4().hex[:10]}"
    base = postgres_url()
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def start_broker(kind: str, data_dir: Path) -> EmbeddedBroker:
    if kind == "kafka":
        reason = kafka_unavailable_reason()
        if reason:
            pytest.skip(reason)
        broker: EmbeddedBroker = ApacheKafkaBroker(data_dir=data_dir / "kafka")
    else:
        broker = TansuBroker(data_dir=data_dir / "tansu")
    broker.start(timeout=120)
    return broker


@dataclass
class RunningPlatform:
    root: Path
    broker: EmbeddedBroker
    database_url: str | None = None
    platform: Platform = field(init=False)
    port: int = field(init=False)

    def __post_init__(self) -> None:
        self.port = free_port()
        env = {
            "COBRANCA_HTTP_PORT": str(self.port),
            # The manual business clock, at TEST_TODAY until a test advances it.
            "COBRANCA_CLOCK_MODE": "manual",
            "COBRANCA_CLOCK_START": TEST_TODAY,
            "COBRANCA_TODAY": TEST_TODAY,
            "COBRANCA_KAFKA_SESSION_TIMEOUT_MS": "6000",
            "COBRANCA_KAFKA_HEARTBEAT_INTERVAL_MS": "500",
            **self.broker.client_env,
            "COBRANCA_RELAY_CHECK_INTERVAL": "2",
            "COBRANCA_LOG_LEVEL": "INFO",
            # Tests poll a debtor's lookup (at most 4 a second) from 127.0.0.1: a 1-second
            # window with 8 per document never refuses them; no limit per address. A module
            # may set its own through the environment.
            **{
                name: os.environ.get(name, default)
                for name, default in (
                    ("COBRANCA_RATE_LIMIT_WINDOW_SECONDS", "1"),
                    ("COBRANCA_LOOKUP_LIMIT_PER_DOCUMENT", "8"),
                    ("COBRANCA_LOOKUP_LIMIT_PER_ADDRESS", "0"),
                    ("COBRANCA_CLOSE_LIMIT_PER_ADDRESS", "0"),
                )
            },
        }
        if self.database_url:
            env["COBRANCA_DATABASE_URL"] = self.database_url
        self.platform = Platform(
            data_dir=self.root / "var",
            env=env,
            bootstrap=self.broker.bootstrap,
            log_dir=self.root / "logs",
        )

    @property
    def settings(self) -> Settings:
        return Settings(
            data_dir=self.root / "var",
            kafka_bootstrap=self.broker.bootstrap,
            database_url=self.database_url,
            http_port=self.port,
            today=TEST_TODAY,
            clock_mode="manual",
            clock_start=TEST_TODAY,
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        (self.root / "var").mkdir(parents=True, exist_ok=True)
        self.settings.signing_key()
        self.platform.start()
        try:
            GatewayClient(self.base_url).wait_ready(timeout=120)
        except TimeoutError:
            raise AssertionError("gateway not ready:\n" + self.logs()) from None

    def stop(self) -> None:
        self.platform.stop()

    def business_date(self) -> dt.date:
        """The business date the gateway works with (its /health says)."""
        body = self.anonymous().http.get("/health").json()
        return dt.date.fromisoformat(body["today"])

    def clock(self, *args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        """`cobranca clock ...` against this platform, as a person would run it."""
        return subprocess.run(
            [sys.executable, "-m", "cobranca", "clock", *args],
            env=self.platform.service_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def advance_clock(self, days: int, timeout: float = 60.0) -> dt.date:
        """`cobranca clock advance --days N`; returns the new business date once the gateway
        works with it."""
        done = self.clock("advance", "--days", str(days))
        if done.returncode != 0:
            raise AssertionError(
                f"cobranca clock advance failed ({done.returncode}):\n{done.stdout}{done.stderr}"
            )
        printed = re.search(r"Data de negócio: (\d\d)/(\d\d)/(\d{4})", done.stdout)
        assert printed, done.stdout
        day, month, year = (int(g) for g in printed.groups())
        new_date = dt.date(year, month, day)
        wait_for(
            lambda: self.business_date() == new_date,
            timeout=timeout,
            what=f"the gateway to work on {new_date}",
        )
        return new_date

    def token(self, tenant: str, role: Role = "admin") -> str:
        return issue_token(
            self.settings.signing_key(),
            tenant=tenant,
            role=role,
            subject=f"{role}@{tenant}",
            ttl=dt.timedelta(hours=1),
        )

    def client(self, tenant: str, role: Role = "admin") -> GatewayClient:
        return GatewayClient(self.base_url, self.token(tenant, role))

    def anonymous(self) -> GatewayClient:
        return GatewayClient(self.base_url)

    def logs(self, tail: int = 60) -> str:
        out = []
        for path in sorted((self.root / "logs").glob("*.log")):
            lines = path.read_text(errors="replace").splitlines()[-tail:]
            out.append(f"--- {path.name}\n" + "\n".join(lines))
        return "\n".join(out)


@contextmanager
def running_platform(
    root: Path, broker_kind: str, database_url: str | None = None
) -> Iterator[RunningPlatform]:
    broker = start_broker(broker_kind, root)
    running = RunningPlatform(root=root, broker=broker, database_url=database_url)
    try:
        running.start()
        yield running
    finally:
        running.stop()
        broker.stop()


def wait_for(predicate: Any, timeout: float = 60.0, interval: float = 0.3, what: str = "") -> Any:
    import time

    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
        except GatewayError as exc:
            # A tenant's portal opens with its first debt read (or its profile): until the
            # import is projected, its lookup is a 404 naming the tenant, as its page is.
            if not no_portal_yet(exc):
                raise
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        time.sleep(interval)


def no_portal_yet(exc: GatewayError) -> bool:
    """The gateway's 404 for a tenant without a portal (no profile, no debt read yet)."""
    error = exc.body.get("error", {}) if isinstance(exc.body, dict) else {}
    return exc.status == 404 and any(
        d.get("field") == "tenant" and d.get("rule") == "no_portal"
        for d in error.get("details", [])
    )
