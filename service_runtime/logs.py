"""Logging: readable lines in a terminal, JSON lines when not attached to one (containers), or
as COBRANCA_LOG_FORMAT says (`json`, `text`, `auto`).

A record logged while an HTTP request is served carries that request's id (`request_id`,
the X-Request-ID the gateway answers with), from a context variable the gateway sets; one
logged inside a traced operation carries its `trace_id` and `span_id` (service_runtime.telemetry),
so a log line leads to its trace and back."""

from __future__ import annotations

import json
import logging
import os
import sys
from contextvars import ContextVar
from typing import Any, Literal

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
    logging.getLogger("faststream").setLevel(logging.WARNING)
