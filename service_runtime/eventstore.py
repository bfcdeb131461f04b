"""Event store configuration: each service's `Application` gets its own store, a SQLite file
under the data dir by default, or its own schema in PostgreSQL when COBRANCA_DATABASE_URL is set.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import unquote, urlparse
from uuid import UUID

import msgspec
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import (
    JSONTranscoder,
    Mapper,
    RecordConflictError,
    Transcoder,
    Transcoding,
)

from service_runtime.settings import Settings
from service_runtime.telemetry import TracingMapper, db_span, tracing_enabled


class DateAsISO(Transcoding):
    """Business dates (due dates) are stored as ISO dates, not datetimes."""

    type = dt.date
    name = "date_iso"

    def encode(self, obj: dt.date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> dt.date:
        return dt.date.fromisoformat(data)


# Values the stdlib's json writes by itself, by exact type. Anything else takes a transcoding;
# a subclass (an enum), a float (msgspec writes some differently) or a dict key that is not a
# str sends the whole event through the stdlib encoder, as before.
_PLAIN_TYPES = frozenset({str, int, bool, type(None)})


class _UseStdlib(Exception):
    """The state holds something msgspec might write differently from the stdlib."""


class FastJSONTranscoder(JSONTranscoder):
    """eventsourcing's JSONTranscoder, writing and reading the same bytes with msgspec (a
    litestar dependency) in C: the stdlib encoder with a Python `default` hook took about 20 µs
    an event, and its decoder with an `object_hook` about 12; msgspec with the walk that
    applies the transcodings takes a fraction. Output is byte-for-byte the stdlib's
    (`separators=(",", ":")`, `ensure_ascii=False`, insertion order): whatever might differ
    goes through the library's own code."""

    def encode(self, obj: Any) -> bytes:
        try:
            return msgspec.json.encode(self._plain(obj))
        except (_UseStdlib, msgspec.EncodeError, OverflowError):
            return super().encode(obj)

    def _plain(self, obj: Any) -> Any:
        kind = type(obj)
        if kind in _PLAIN_TYPES:
            return obj
        if kind is dict:
            out = {}
            for key, value in obj.items():
                if type(key) is not str:
                    raise _UseStdlib
                # Plain values inline: most of an event's fields are strings and numbers.
                out[key] = value if type(value) in _PLAIN_TYPES else self._plain(value)
            return out
        if kind is list or kind is tuple:
            return [item if type(item) in _PLAIN_TYPES else self._plain(item) for item in obj]
        transcoding = self.types.get(kind)
        if transcoding is None:
            # A float, a subclass of a plain type, or a type without a transcoding (the
            # stdlib's encoder raises TranscodingNotRegisteredError for the last).
            raise _UseStdlib
        return {"_type_": transcoding.name, "_data_": self._plain(transcoding.encode(obj))}

    def decode(self, data: bytes) -> Any:
        try:
            raw = msgspec.json.decode(data)
        except msgspec.DecodeError:
            return super().decode(data)  # NaN, Infinity...: what the stdlib reads
        return self._restore(raw)

    def _restore(self, obj: Any) -> Any:
        # The stdlib's object_hook, innermost objects first.
        kind = type(obj)
        if kind is dict:
            for key, value in obj.items():
                if type(value) is dict or type(value) is list:
                    obj[key] = self._restore(value)
            if len(obj) == 2 and "_type_" in obj and "_data_" in obj:
                return self._decode_obj(obj)
            return obj
        if kind is list:
            return [
                self._restore(item) if type(item) is dict or type(item) is list else item
                for item in obj
            ]
        return obj


AggregateT = TypeVar("AggregateT", bound=Aggregate)
Result = TypeVar("Result")

# Concurrent commands on the same aggregates: the store refuses all but one; try again.
CONFLICT_ATTEMPTS = 5


class ServiceApplication(Application[UUID]):
    """Base of the services' applications: the business date transcoding and a cache of
    aggregates (fast-forwarded on read, so several replicas stay correct)."""

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    def construct_transcoder(self) -> Transcoder:
        """The FastJSONTranscoder (same bytes as the library's), unless TRANSCODER_TOPIC
        names another."""
        if self.env.get("TRANSCODER_TOPIC"):
            return super().construct_transcoder()
        transcoder = FastJSONTranscoder()
        self.register_transcodings(transcoder)
        return transcoder

    def construct_mapper(self) -> Mapper[UUID]:
        """The TracingMapper (it keeps the trace context of a save with the events, for the
        outbox relay), unless MAPPER_TOPIC names another."""
        if self.env.get("MAPPER_TOPIC"):
            return super().construct_mapper()
        return self.factory.mapper(
            transcoder=self.construct_transcoder(), mapper_class=TracingMapper
        )

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        """Saves as the library does; inside a traced operation, in a span of its own."""
        if not tracing_enabled():
            return super().save(*objs, **kwargs)
        module = type(self.recorder).__module__.rsplit(".", 1)[-1]
        system = {"postgres": "postgresql", "popo": "memory"}.get(module, module)
        with db_span(f"{type(self).__name__} save", system) as span:
            recordings = super().save(*objs, **kwargs)
            if span is not None:
                span.set_attribute("cobranca.events", len(recordings))
            return recordings

    def get_or_none(self, cls: type[AggregateT], aggregate_id: UUID) -> AggregateT | None:
        """The aggregate, or None when it was never saved."""
        if aggregate_id not in self.repository:
            return None
        aggregate: Aggregate = self.repository.get(aggregate_id)
        assert isinstance(aggregate, cls)
        return aggregate

    def retrying(self, command: Callable[[], Result]) -> Result:
        """Run a command that reads and saves aggregates again when another one saved the same
        aggregates first (optimistic concurrency: the command decides again on fresh state)."""
        for attempt in range(1, CONFLICT_ATTEMPTS + 1):
            try:
                return command()
            except RecordConflictError:
                if attempt == CONFLICT_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")


def postgres_params(url: str) -> dict[str, str]:
    parsed = urlparse(url)
    return {
        "dbname": (parsed.path or "/postgres").lstrip("/") or "postgres",
        "host": parsed.hostname or "127.0.0.1",
        "port": str(parsed.port or 5432),
        "user": unquote(parsed.username or "postgres"),
        "password": unquote(parsed.password or ""),
    }


def ensure_postgres_schema(url: str, schema: str) -> None:
    import psycopg

    params = postgres_params(url)
    # Another process may create it at the same instant (the key vault's schema is shared by
    # every service): IF NOT EXISTS does not cover that race.
    with (
        psycopg.connect(
            dbname=params["dbname"],
            host=params["host"],
            port=params["port"],
            user=params["user"],
            password=params["password"],
            autocommit=True,
        ) as conn,
        contextlib.suppress(psycopg.errors.UniqueViolation),
    ):
        conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')


def event_store_env(settings: Settings, service: str) -> dict[str, str]:
    """Environment for eventsourcing, prefixed-free: passed to the Application constructor."""
    env: dict[str, str] = {"AGGREGATE_CACHE_MAXSIZE": "20000", "COMPRESSOR_TOPIC": ""}
    if settings.uses_postgres:
        assert settings.database_url is not None
        params = postgres_params(settings.database_url)
        schema = f"{service}_events"
        ensure_postgres_schema(settings.database_url, schema)
        env.update(
            {
                "PERSISTENCE_MODULE": "eventsourcing.postgres",
                "POSTGRES_DBNAME": params["dbname"],
                "POSTGRES_HOST": params["host"],
                "POSTGRES_PORT": params["port"],
                "POSTGRES_USER": params["user"],
                "POSTGRES_PASSWORD": params["password"],
                "POSTGRES_SCHEMA": schema,
                "POSTGRES_POOL_SIZE": "4",
            }
        )
    else:
        env.update(
            {
                "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "SQLITE_DBNAME": str(settings.service_dir(service) / "events.sqlite"),
                "SQLITE_LOCK_TIMEOUT": "30",
            }
        )
    return env


A = TypeVar("A", bound=Application[Any])


def build_application(app_class: type[A], settings: Settings, service: str, **kwargs: Any) -> A:
    return app_class(env=event_store_env(settings, service), **kwargs)
