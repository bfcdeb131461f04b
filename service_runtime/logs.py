"""Logging: readable lines in a terminal, JSON lines when not attached to one (containers), or
as COBRANCA_LOG_FORMAT says (`json`, `text`, `auto`).

A record logged while an HTTP request is served carries that request's id (`request_id`,
the X-Request-ID the gateway answers with), from a context variable the gateway sets; one
logged inside a traced operation carries its `trace_id` and `span_id` (service_runtime.telemetry),
so a log line leads to its trace and back.

aiokafka logs ERROR while a new Kafka elects its group coordinator and creates
`__consumer_offsets` (about 15-25 lines on the first `cobranca up --broker kafka`): those
known-transient errors are logged at INFO during the first STARTUP_GRACE_SECONDS of the
process, and stay ERROR after it (`TransientKafkaErrors`)."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, Literal

from aiokafka import errors as kafka_errors

from service_runtime.telemetry import current_ids

# The id of the HTTP request being served in this context (None outside requests).
current_request_id: ContextVar[str | None] = ContextVar("current_request_id", default=None)


class RequestIdFilter(logging.Filter):
    """Gives every record a `request_id` attribute: the one it was logged with
    (extra={"request_id": ...}), else the current request's, else None."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = current_request_id.get()
        return True


class TraceContextFilter(logging.Filter):
    """Gives every record `trace_id` and `span_id` attributes: the current span's (hex), or
    None outside a traced operation (always, when tracing is off)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "trace_id", None) is None:
            ids = current_ids()
            record.trace_id, record.span_id = ids if ids else (None, None)
        return True


# How long after the process starts aiokafka's known-transient errors are not ERROR.
STARTUP_GRACE_SECONDS = 60.0

# The errors a Kafka answers while it elects a group's coordinator or loads or creates
# `__consumer_offsets` (a new cluster, a coordinator moving): aiokafka retries each of them.
COORDINATOR_ELECTION_ERRORS: tuple[type[Exception], ...] = (
    kafka_errors.GroupCoordinatorNotAvailableError,
    kafka_errors.NotCoordinatorForGroupError,
    kafka_errors.GroupLoadInProgressError,
)

# aiokafka's ERROR records that are transient when they carry one of those errors: (logger,
# the record's format string). Every other record, and these with another error, are as
# aiokafka logged them.
_COORDINATOR_RECORDS = frozenset(
    {
        ("aiokafka.consumer.group_coordinator", "Group Coordinator Request failed: %s"),
        ("aiokafka.consumer.group_coordinator", "Heartbeat send request failed: %s. Will retry."),
    }
)
# A topic the services have just created, not yet in every broker's metadata (its error,
# UnknownTopicOrPartition, is only in the text).
_NEW_TOPIC_RECORDS = frozenset({("aiokafka.cluster", "Topic %s not found in cluster metadata")})

TRANSIENT_KAFKA_LOGGERS = ("aiokafka.consumer.group_coordinator", "aiokafka.cluster")


class TransientKafkaErrors(logging.Filter):
    """Logs aiokafka's known-transient ERROR records at INFO during the startup grace period
    (`grace_seconds` from the filter's creation, i.e. the process's start): the group
    coordinator not available, not the coordinator, loading its offsets, and a new topic not
    yet in the metadata. Nothing is dropped: the record goes on at INFO with a note saying
    why (unless the configured level is above INFO, as any INFO record), and after the grace
    period the same record stays ERROR, a coordinator that never comes being a real fault.
    Installed on aiokafka's loggers that emit them (a logger's filter sees only its own
    records) by configure_logging."""

    def __init__(
        self,
        grace_seconds: float = STARTUP_GRACE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        level: int = logging.NOTSET,
    ) -> None:
        super().__init__()
        self.grace_seconds = grace_seconds
        # The service's level: a record made INFO is left out when it is above INFO.
        self.level = level
        self.clock = clock
        self.started = clock()

    @staticmethod
    def transient(record: logging.LogRecord) -> bool:
        """Whether the record is one of aiokafka's known-transient errors."""
        if record.levelno != logging.ERROR:
            return False
        key = (record.name, record.msg)
        if key in _NEW_TOPIC_RECORDS:
            return True
        if key in _COORDINATOR_RECORDS:
            args = record.args if isinstance(record.args, tuple) else ()
            return bool(args) and isinstance(args[0], COORDINATOR_ELECTION_ERRORS)
        return False

    def filter(self, record: logging.LogRecord) -> bool:
        if self.clock() - self.started > self.grace_seconds or not self.transient(record):
            return True
        record.levelno = logging.INFO
        record.levelname = logging.getLevelName(logging.INFO)
        record.msg = (
            f"{record.msg} (usual while Kafka starts and elects its group coordinator; "
            f"aiokafka retries; an error after the first {self.grace_seconds:g} s)"
        )
        return self.level <= logging.INFO


def install_transient_kafka_filter(
    level: int = logging.INFO, grace_seconds: float = STARTUP_GRACE_SECONDS
) -> None:
    """A new TransientKafkaErrors (its grace period starting now) on aiokafka's loggers,
    replacing one installed before; `level` is the service's."""
    kafka_filter = TransientKafkaErrors(grace_seconds, level=level)
    for name in TRANSIENT_KAFKA_LOGGERS:
        logger = logging.getLogger(name)
        for old in [f for f in logger.filters if isinstance(f, TransientKafkaErrors)]:
            logger.removeFilter(old)
        logger.addFilter(kafka_filter)


class TextFormatter(logging.Formatter):
    """The terminal's lines, with ` [request <id>]` at the end of a request's records and
    ` [trace <trace id>/<span id>]` at the end of a traced operation's."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        request_id = getattr(record, "request_id", None)
        if request_id:
            line = f"{line} [request {request_id}]"
        trace_id = getattr(record, "trace_id", None)
        if trace_id:
            line = f"{line} [trace {trace_id}/{getattr(record, 'span_id', None)}]"
        return line


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            data["request_id"] = request_id
        trace_id = getattr(record, "trace_id", None)
        if trace_id:
            data["trace_id"] = trace_id
            data["span_id"] = getattr(record, "span_id", None)
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False)


LogFormat = Literal["auto", "json", "text"]


def wants_json(log_format: str | None = None) -> bool:
    """JSON lines or text: `json` and `text` say so; `auto` (the default) is text in a
    terminal and JSON elsewhere (containers, files). Unset, COBRANCA_LOG_FORMAT decides."""
    chosen = (log_format or os.environ.get("COBRANCA_LOG_FORMAT") or "auto").strip().lower()
    if chosen == "json":
        return True
    if chosen == "text":
        return False
    return not sys.stderr.isatty()


def configure_logging(
    service: str,
    level: str = "INFO",
    json_lines: bool | None = None,
    log_format: LogFormat | None = None,
) -> None:
    if json_lines is None:
        json_lines = wants_json(log_format)
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestIdFilter())
    handler.addFilter(TraceContextFilter())
    if json_lines:
        handler.setFormatter(JsonFormatter(service))
    else:
        handler.setFormatter(
            TextFormatter(f"%(asctime)s {service:<11} %(levelname)-7s %(name)s: %(message)s")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("aiokafka", "aiokafka.consumer.group_coordinator", "kafka"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    install_transient_kafka_filter(root.level)
    logging.getLogger("faststream").setLevel(logging.WARNING)
