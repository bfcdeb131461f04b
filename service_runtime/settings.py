"""Settings of a cobranca process, read from COBRANCA_* environment variables."""

from __future__ import annotations

import os
import secrets
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="COBRANCA_", extra="ignore")

    data_dir: Path = Field(default=Path("var"), description="Where SQLite stores and state live")
    kafka_bootstrap: str | None = Field(
        default=None, description="Kafka bootstrap servers; unset = start the embedded broker"
    )
    database_url: str | None = Field(
        default=None, description="postgresql://... to use PostgreSQL instead of SQLite files"
    )
    vault_url: str | None = Field(
        default=None,
        description="The key vault's database (debtors' keys, held apart from every store): "
        "sqlite:///path or postgresql://...; unset = var/vault/keys.sqlite, or the `vault` "
        "schema of database_url",
    )
    vault_cache_seconds: float = Field(
        default=30.0,
        ge=0,
        description="How long a process keeps a key it read (an erasure elsewhere reaches it "
        "through privacy.erasures, or when this runs out)",
    )
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    public_url: str | None = None
    secret_key: str | None = Field(default=None, description="Signing key of tokens")
    today: str | None = Field(
        default=None, description="Pin the business date (YYYY-MM-DD), for demos and tests"
    )
    clock_mode: Literal["wall", "manual"] = Field(
        default="wall",
        description="wall: a new business date every day at clock_day_starts_at; "
        "manual: the date moves only with `cobranca clock advance`",
    )
    clock_start: str | None = Field(
        default=None, description="The manual clock's first date (YYYY-MM-DD)"
    )
    clock_day_starts_at: str = Field(
        default="06:00", description="When a business date starts (HH:MM, America/Sao_Paulo)"
    )
    topic_partitions: int = 4
    topic_replication: int = 1
    topic_min_insync_replicas: int | None = Field(
        default=None,
        ge=1,
        description="min.insync.replicas of the declared topics (with acks=all, a write "
        "needs this many copies); unset = the cluster's default",
    )
    kafka_session_timeout_ms: int = 6000
    kafka_heartbeat_interval_ms: int = 1000
    relay_batch_size: int = 2000
    relay_poll_interval: float = 0.2
    relay_check_interval: float = 5.0
    relay_lease_seconds: float = Field(
        default=10.0,
        gt=0,
        description="One replica's relay publishes; a dead one's lease is taken over after this",
    )
    consumer_max_records: int = 1000
    request_timeout_seconds: float = Field(
        default=15.0, description="How long the gateway waits for another service's answer"
    )
    portal_token_ttl_seconds: int = 900
    log_level: str = "INFO"
    log_format: Literal["auto", "json", "text"] = Field(
        default="auto",
        description="Log lines as JSON or text; auto: text in a terminal, JSON elsewhere",
    )
    # The gateway's limits on the debtor's public doors (lookup, closing an agreement), per
    # client address and per (tenant, document), each in a sliding window; 0 = no limit.
    # In-process: each gateway replica limits on its own (see README, "Security").
    rate_limit_window_seconds: float = Field(
        default=60.0, gt=0, description="The window of the lookup and close limits"
    )
    lookup_limit_per_address: int = Field(default=10, ge=0)
    lookup_limit_per_document: int = Field(default=5, ge=0)
    close_limit_per_address: int = Field(default=5, ge=0)
    close_limit_per_document: int = Field(default=5, ge=0)
    enumeration_max_documents: int = Field(
        default=20,
        ge=0,
        description="An address that looks up more distinct documents than this in "
        "enumeration_window_seconds is cut off for enumeration_block_seconds (0 = never)",
    )
    enumeration_window_seconds: float = Field(default=600.0, gt=0)
    enumeration_block_seconds: float = Field(default=900.0, gt=0)
    rate_limit_max_keys: int = Field(
        default=100_000, ge=100, description="Addresses and documents tracked at most"
    )
    trusted_proxies: str = Field(
        default="",
        description="Comma-separated addresses or networks (10.0.0.0/8) of reverse proxies "
        "whose X-Forwarded-For and X-Forwarded-Proto are believed; empty: none",
    )
    ready_max_lag_events: int = Field(
        default=1000,
        ge=0,
        description="/health/ready answers 503 while a projection is further behind its "
        "topics than this many events",
    )

    @cached_property
    def data_path(self) -> Path:
        return self.data_dir.resolve()

    def service_dir(self, service: str) -> Path:
        path = self.data_path / service
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def uses_postgres(self) -> bool:
        return bool(self.database_url and self.database_url.startswith("postgres"))

    def signing_key(self) -> str:
        """The token signing key: from the environment, or created once under the data dir."""
        if self.secret_key:
            return self.secret_key
        path = self.data_path / "secret-key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".secret-key.{os.getpid()}")
            tmp.write_text(secrets.token_urlsafe(48))
            tmp.chmod(0o600)
            try:
                # link() fails when another process created it first: every process then
                # reads the same key.
                os.link(tmp, path)
            except FileExistsError:
                pass
            finally:
                tmp.unlink()
        return path.read_text().strip()

    @property
    def base_url(self) -> str:
        return self.public_url or f"http://{self.http_host}:{self.http_port}"


def get_settings() -> Settings:
    return Settings()
