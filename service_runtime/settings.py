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
    kafka_session_timeout_ms: int = 6000
    kafka_heartbeat_interval_ms: int = 1000
    relay_batch_size: int = 2000
    relay_poll_interval: float = 0.2
    relay_check_interval: float = 5.0
    consumer_max_records: int = 1000
    request_timeout_seconds: float = Field(
        default=15.0, description="How long the gateway waits for another service's answer"
    )
    portal_token_ttl_seconds: int = 900
    log_level: str = "INFO"

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
