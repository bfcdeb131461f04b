"""Traces and metrics (OpenTelemetry), exported over OTLP when configured; nearly free when not.

`setup_telemetry(service, settings)` runs once where a process starts. It installs the SDK's
providers only when an OTLP endpoint is configured (`OTEL_EXPORTER_OTLP_ENDPOINT`, or the
per-signal `..._TRACES_ENDPOINT` / `..._METRICS_ENDPOINT`) or an exporter is named
(`OTEL_TRACES_EXPORTER=console`). The standard variables are the SDK's own:
`OTEL_SERVICE_NAME` (default: the service's name), `OTEL_RESOURCE_ATTRIBUTES`,
`OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG`, `OTEL_EXPORTER_OTLP_HEADERS`,
`OTEL_BSP_*`, `OTEL_METRIC_EXPORT_INTERVAL`, `OTEL_PROPAGATORS`, `OTEL_SDK_DISABLED`.
Unset, no SDK provider is installed: the hooks below return at their first test.

One trace per user action: the gateway's HTTP span (Litestar's OpenTelemetry plugin), the
request sent over Kafka (`request_reply`), its handling in the answering service
(`request_server`), the events that handling stored, published later by the outbox relay
*with the context stored beside them* (`TracingMapper`), and each consumer's processing of
them (`projection.PositionedConsumer`), with the database work (statements on the services'
SQLAlchemy engines, saves to the event store) inside. The W3C context travels in the Kafka
headers `traceparent` / `tracestate`.

Why the context is stored in the event: the relay publishes long after the save, from its own
loop, so the context current then is the relay's. The W3C carrier of the context current at
save time is written into the stored event's state (key `__trace__`), in the same row and so
the same transaction as the event on SQLite and PostgreSQL alike; `TracingMapper` removes it
when events are read back, so aggregates and integration events never see it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
import weakref
from collections.abc import Iterable, Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Mapper, StoredEvent
from opentelemetry import context as otel_context
from opentelemetry import metrics, propagate, trace
from opentelemetry.context import Context
from opentelemetry.metrics import CallbackOptions, Meter, Observation
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode, Tracer

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from service_runtime.settings import Settings

log = logging.getLogger(__name__)

INSTRUMENTATION = "cobranca"
# The key of the W3C carrier in a stored event's state (see TracingMapper).
STORED_CONTEXT_KEY = "__trace__"
# Headers that carry the context (W3C trace context and baggage).
CONTEXT_HEADERS = ("traceparent", "tracestate", "baggage")
# A consumer's batch from several traces: a span in each, up to this many (the rest are only
# linked from the batch's span).
MAX_ORIGIN_SPANS = 16
MAX_LINKS = 128
# Seconds: from a millisecond to two minutes.
DURATION_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    120.0,
)


# -- state --------------------------------------------------------------------------------------


class Instruments:
    """The platform's metrics, created on one meter."""

    def __init__(self, meter: Meter) -> None:
        self.published = meter.create_counter(
            "cobranca.events.published",
            unit="{event}",
            description="Integration events the outbox relay published, per topic",
        )
        self.consumed = meter.create_counter(
            "cobranca.events.consumed",
            unit="{event}",
            description="Events a consumer applied, per topic and consumer group",
        )
        self.requests = meter.create_counter(
            "cobranca.requests.handled",
            unit="{request}",
            description="Requests a service answered, per topic, kind and outcome",
        )
        self.duration = meter.create_histogram(
            "cobranca.processing.duration",
            unit="s",
            description="Time to process a consumer's batch or answer a request",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self.errors = meter.create_counter(
            "cobranca.processing.errors",
            unit="{error}",
            description="Batches and requests whose processing failed, per consumer group",
        )
        self.import_rows = meter.create_counter(
            "cobranca.import.rows",
            unit="{row}",
            description="Carteira rows the portfolio applied (its rate is rows per second)",
        )
        self.messages_sent = meter.create_counter(
            "cobranca.messages.sent",
            unit="{message}",
            description="Messages handed to a channel, per channel and outcome",
        )
        meter.create_observable_gauge(
            "cobranca.consumer.lag",
            callbacks=[_observe_consumer_lag],
            unit="{event}",
            description="Events not applied yet, per consumer group and partition",
        )
        meter.create_observable_gauge(
            "cobranca.projection.lag",
            callbacks=[_observe_projection_lag],
            unit="s",
            description="How far a consumer is behind the newest event: 0 when caught up, "
            "else the age of the last event it applied",
        )


@dataclass
class _State:
    tracer: Tracer
    tracing: bool = False
    instruments: Instruments | None = None
    tracer_provider: Any = None
    meter_provider: Any = None


_state = _State(tracer=trace.NoOpTracer())
# The positioned consumers of this process, for the lag gauges.
_consumers: weakref.WeakSet[Any] = weakref.WeakSet()


def tracing_enabled() -> bool:
    return _state.tracing


def metrics_enabled() -> bool:
    return _state.instruments is not None


def tracer() -> Tracer:
    return _state.tracer


def use_providers(tracer_provider: Any = None, meter_provider: Any = None) -> None:
    """Turn the hooks on with these providers (tests pass in-memory ones; `setup_telemetry`
    passes the exporting ones). None leaves a signal off."""
    _state.tracer_provider = tracer_provider
    _state.meter_provider = meter_provider
    if tracer_provider is not None:
        _state.tracer = trace.get_tracer(INSTRUMENTATION, tracer_provider=tracer_provider)
        _state.tracing = True
    else:
        _state.tracer = trace.NoOpTracer()
        _state.tracing = False
    _state.instruments = (
        Instruments(metrics.get_meter(INSTRUMENTATION, meter_provider=meter_provider))
        if meter_provider is not None
        else None
    )


def reset() -> None:
    """Back to the no-op state (for tests)."""
    use_providers(None, None)


# -- setup --------------------------------------------------------------------------------------


def _env(name: str) -> str:
    return os.environ.get(name, "").strip()


def _exporter_kind(signal: str) -> str | None:
    """The exporter of a signal ("TRACES" or "METRICS"): otlp, console, or None (off)."""
    if _env("OTEL_SDK_DISABLED").lower() == "true":
        return None
    named = (_env(f"OTEL_{signal}_EXPORTER") or "otlp").split(",")[0].strip().lower()
    if named == "console":
        return "console"
    if named != "otlp":
        if named != "none":
            log.warning("OTEL_%s_EXPORTER=%s is not supported here: no %s", signal, named, signal)
        return None
    if _env("OTEL_EXPORTER_OTLP_ENDPOINT") or _env(f"OTEL_EXPORTER_OTLP_{signal}_ENDPOINT"):
        return "otlp"
    return None


def _protocol(signal: str) -> str:
    return (
        _env(f"OTEL_EXPORTER_OTLP_{signal}_PROTOCOL")
        or _env("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "http/protobuf"
    )


def resource_for(service: str) -> Any:
    """The process's resource: OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win over the
    defaults (service.name = the service, service.namespace = cobranca)."""
    from opentelemetry.sdk.resources import OTELResourceDetector, Resource

    defaults: dict[str, str] = {
        "service.name": service,
        "service.namespace": "cobranca",
        "service.instance.id": f"{socket.gethostname()}-{os.getpid()}",
    }
    with contextlib.suppress(Exception):
        from importlib.metadata import version

        defaults["service.version"] = version("cobranca")
    given = OTELResourceDetector().detect().attributes
    return Resource.create({k: v for k, v in defaults.items() if k not in given})


def _span_exporter(kind: str) -> Any:
    if kind == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    if _protocol("TRACES").startswith("grpc"):
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
            OTLPSpanExporter as GrpcSpanExporter,
        )

        return GrpcSpanExporter()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()


def _metric_exporter(kind: str) -> Any:
    if kind == "console":
        from opentelemetry.sdk.metrics.export import ConsoleMetricExporter

        return ConsoleMetricExporter()
    if _protocol("METRICS").startswith("grpc"):
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (
            OTLPMetricExporter as GrpcMetricExporter,
        )

        return GrpcMetricExporter()
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

    return OTLPMetricExporter()


def build_providers(service: str) -> tuple[Any, Any]:
    """The SDK providers the environment asks for: (tracer provider or None, meter provider
    or None). Builds nothing when no exporter is configured."""
    traces, meters = _exporter_kind("TRACES"), _exporter_kind("METRICS")
    if traces is None and meters is None:
        return None, None
    resource = resource_for(service)
    tracer_provider = meter_provider = None
    if traces is not None:
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        try:
            exporter = _span_exporter(traces)
        except ImportError:
            log.error("OTLP over gRPC needs opentelemetry-exporter-otlp-proto-grpc: no traces")
        else:
            # The sampler comes from OTEL_TRACES_SAMPLER (parent-based, always on, by default).
            tracer_provider = TracerProvider(resource=resource)
            tracer_provider.add_span_processor(BatchSpanProcessor(exporter))
    if meters is not None:
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

        try:
            metric_exporter = _metric_exporter(meters)
        except ImportError:
            log.error("OTLP over gRPC needs opentelemetry-exporter-otlp-proto-grpc: no metrics")
        else:
            meter_provider = MeterProvider(
                resource=resource,
                metric_readers=[PeriodicExportingMetricReader(metric_exporter)],
            )
    return tracer_provider, meter_provider


def setup_telemetry(service: str, settings: Settings | None = None) -> bool:
    """Install the exporting providers the environment asks for, once, where a process starts.
    Returns whether anything is exported. (`settings` is for symmetry with the rest of the
    runtime: telemetry is configured by the standard OTEL_* variables.)"""
    del settings
    tracer_provider, meter_provider = build_providers(service)
    if tracer_provider is None and meter_provider is None:
        return False
    if tracer_provider is not None:
        trace.set_tracer_provider(tracer_provider)
    if meter_provider is not None:
        metrics.set_meter_provider(meter_provider)
    use_providers(tracer_provider, meter_provider)
    log.info(
        "telemetry on for %s: traces %s, metrics %s",
        service,
        "exported" if tracer_provider is not None else "off",
        "exported" if meter_provider is not None else "off",
    )
    return True


def route_details(scope: Any) -> tuple[str, dict[str, str]]:
    """The HTTP span's first name: the method alone. The span starts before routing, when only
    the path is known, whose ids would make every name (and the duration metric's route)
    unique; `name_span_by_route` renames it once the route is known."""
    return str(scope.get("method", "")).strip() or str(scope.get("path", "")), {}


def name_span_by_route(app: Any) -> Any:
    """Litestar middleware (it runs after routing): names the current HTTP server span after
    the route's template, `POST /api/v1/portal/{tenant}/agreements`."""

    async def middleware(scope: Any, receive: Any, send: Any) -> None:
        template = scope.get("path_template")
        if template and scope.get("type") == "http":
            span = trace.get_current_span()
            if span.is_recording():
                span.update_name(f"{scope.get('method', '')} {template}".strip())
                span.set_attribute("http.route", template)
        await app(scope, receive, send)

    return middleware


def http_plugins(exclude: Sequence[str] = ("^/health", "^/static")) -> list[Any]:
    """Litestar's OpenTelemetry plugin for the gateway when tracing is on (no plugin, and so
    no cost, when off), and a plugin that names its spans by route. The server span is the
    parent of the requests the gateway sends over Kafka."""
    if not tracing_enabled():
        return []
    from litestar.config.app import AppConfig
    from litestar.plugins import InitPlugin
    from litestar.plugins.opentelemetry import OpenTelemetryConfig, OpenTelemetryPlugin

    class RouteNames(InitPlugin):
        def on_app_init(self, app_config: AppConfig) -> AppConfig:
            app_config.middleware.append(name_span_by_route)
            return app_config

    return [
        OpenTelemetryPlugin(
            OpenTelemetryConfig(
                tracer_provider=_state.tracer_provider,
                meter_provider=_state.meter_provider,
                exclude=list(exclude),
                exclude_spans=["receive", "send"],
                scope_span_details_extractor=route_details,
                http_capture_headers_server_response=["x-request-id"],
            )
        ),
        RouteNames(),
    ]


# -- context in Kafka headers -------------------------------------------------------------------


RawHeaders = Iterable[tuple[str, bytes]] | Mapping[str, Any]


def carrier_of(headers: RawHeaders | None) -> dict[str, str]:
    """The context headers of a message (a raw record's list or FastStream's dict)."""
    carrier: dict[str, str] = {}
    if not headers:
        return carrier
    items = headers.items() if isinstance(headers, Mapping) else headers
    for key, value in items:
        if key in CONTEXT_HEADERS and value is not None:
            carrier[key] = value.decode() if isinstance(value, bytes) else str(value)
    return carrier


def extract_context(headers: RawHeaders | None) -> Context:
    """The context a message carries (an empty context when it carries none)."""
    return propagate.extract(carrier_of(headers), context=Context())


def inject_context(
    headers: MutableMapping[str, str], context: Context | None = None
) -> MutableMapping[str, str]:
    """Write the context (the current one by default) into a message's headers."""
    propagate.inject(headers, context=context)
    return headers


def current_carrier() -> dict[str, str] | None:
    """The W3C carrier of the current span, or None when there is none (or tracing is off)."""
    if not _state.tracing:
        return None
    if not trace.get_current_span().get_span_context().is_valid:
        return None
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier or None


def _parent_key(carrier: Mapping[str, str]) -> str | None:
    return carrier.get("traceparent")


@contextlib.contextmanager
def attached(ctx: Context | None) -> Iterator[None]:
    if ctx is None:
        yield
        return
    token = otel_context.attach(ctx)
    try:
        yield
    finally:
        otel_context.detach(token)


# -- the outbox: the context stored with each event ---------------------------------------------


class TracingMapper(Mapper[UUID]):
    """Stores the W3C carrier of the span current when an event is saved in the event's own
    state, and takes it out again when the event is read. Costs one test when tracing is off;
    events stored while it was on read back the same with it off."""

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        carrier = current_carrier()
        if carrier is not None:
            # A copy of the event with the carrier among its fields: the event itself stays
            # as the aggregate made it.
            copy = object.__new__(type(domain_event))
            object.__setattr__(
                copy, "__dict__", {**vars(domain_event), STORED_CONTEXT_KEY: carrier}
            )
            domain_event = copy
        return super().to_stored_event(domain_event)

    def to_domain_event_with_context(
        self, stored_event: StoredEvent
    ) -> tuple[DomainEventProtocol[UUID], dict[str, str] | None]:
        """The domain event and the carrier stored with it (None when none was)."""
        domain_event = super().to_domain_event(stored_event)
        carrier = vars(domain_event).pop(STORED_CONTEXT_KEY, None)
        return domain_event, carrier if isinstance(carrier, dict) else None

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        return self.to_domain_event_with_context(stored_event)[0]


def stored_carrier(mapper: Any, stored_event: StoredEvent) -> tuple[Any, dict[str, str] | None]:
    """(domain event, stored carrier) with any mapper (a plain one stores no carrier)."""
    if isinstance(mapper, TracingMapper):
        return mapper.to_domain_event_with_context(stored_event)
    return mapper.to_domain_event(stored_event), None


class RelayBatch:
    """The relay's spans for one batch: one PRODUCER span per stored context and topic, child
    of the context the events were stored in, whose id goes in the messages' headers. Events
    stored without a context are published without one."""

    def __init__(self, relay: str) -> None:
        self.relay = relay
        self.spans: dict[tuple[str, str], tuple[Span, dict[str, str]]] = {}
        self.counts: dict[tuple[str, str], int] = {}

    def headers(self, carrier: dict[str, str] | None, topic: str) -> dict[str, str]:
        """The context headers of a message of `topic` whose event was stored in `carrier`."""
        if not carrier:
            return {}
        if not _state.tracing:
            # Nothing recorded here, but the trace goes on where it is traced.
            return {k: v for k, v in carrier.items() if k in CONTEXT_HEADERS}
        key = (_parent_key(carrier) or "", topic)
        found = self.spans.get(key)
        if found is None:
            parent = propagate.extract(carrier, context=Context())
            span = _state.tracer.start_span(
                f"{topic} publish",
                context=parent,
                kind=SpanKind.PRODUCER,
                attributes={
                    "messaging.system": "kafka",
                    "messaging.operation.type": "send",
                    "messaging.destination.name": topic,
                    "cobranca.relay": self.relay,
                },
            )
            headers: dict[str, str] = {}
            propagate.inject(headers, context=trace.set_span_in_context(span, parent))
            found = self.spans[key] = (span, headers)
        self.counts[key] = self.counts.get(key, 0) + 1
        return found[1]

    def end(self, error: BaseException | None = None) -> None:
        for key, (span, _) in self.spans.items():
            span.set_attribute("messaging.batch.message_count", self.counts.get(key, 0))
            if error is not None:
                span.record_exception(error)
                span.set_status(Status(StatusCode.ERROR, type(error).__name__))
            span.end()
        self.spans.clear()
        self.counts.clear()


# -- consumers ----------------------------------------------------------------------------------


def _event_type(headers: Iterable[tuple[str, bytes]] | None) -> str | None:
    for key, value in headers or ():
        if key == "event-type":
            return value.decode() if isinstance(value, bytes) else str(value)
    return None


class ConsumerBatch:
    """Spans for a batch a consumer applies. Records of one origin (the usual case after a
    person's action): one CONSUMER span, child of that origin, current while the batch is
    applied. Records of several: a span of the batch (linked to every origin) is current,
    and each origin gets a span of its own in its trace, up to MAX_ORIGIN_SPANS."""

    def __init__(self, group: str, records: Sequence[Any]) -> None:
        self.group = group
        self.records = records
        self.started = time.perf_counter()
        self.spans: list[Span] = []
        self.context: Context | None = None
        if not _state.tracing:
            return
        origins: dict[str | None, tuple[dict[str, str], list[Any]]] = {}
        for record in records:
            carrier = carrier_of(record.headers)
            key = _parent_key(carrier)
            origins.setdefault(key, (carrier, []))[1].append(record)
        if len(origins) == 1:
            ((carrier, members),) = origins.values()
            parent = propagate.extract(carrier, context=Context())
            span = self._start(parent, members, links=None)
            self.spans.append(span)
            self.context = trace.set_span_in_context(span, parent)
            return
        links = []
        for carrier, _ in list(origins.values())[:MAX_LINKS]:
            span_context = trace.get_current_span(
                propagate.extract(carrier, context=Context())
            ).get_span_context()
            if span_context.is_valid:
                links.append(Link(span_context))
        batch_span = self._start(Context(), records, links=links)
        self.spans.append(batch_span)
        self.context = trace.set_span_in_context(batch_span, Context())
        traced = [(c, m) for k, (c, m) in origins.items() if k is not None]
        for carrier, members in traced[:MAX_ORIGIN_SPANS]:
            parent = propagate.extract(carrier, context=Context())
            self.spans.append(
                self._start(parent, members, links=[Link(batch_span.get_span_context())])
            )

    def _start(self, parent: Context, records: Sequence[Any], links: list[Link] | None) -> Span:
        topics = sorted({r.topic for r in records})
        types = sorted({t for r in records if (t := _event_type(r.headers)) is not None})
        return _state.tracer.start_span(
            f"{self.group} process",
            context=parent,
            kind=SpanKind.CONSUMER,
            links=links,
            attributes={
                "messaging.system": "kafka",
                "messaging.operation.type": "process",
                "messaging.consumer.group.name": self.group,
                "messaging.destination.name": ",".join(topics),
                "messaging.batch.message_count": len(records),
                "cobranca.event_types": types,
            },
        )

    def finish(self, error: BaseException | None = None) -> None:
        seconds = time.perf_counter() - self.started
        for span in self.spans:
            if error is not None:
                span.record_exception(error)
                span.set_status(Status(StatusCode.ERROR, type(error).__name__))
            span.end()
        instruments = _state.instruments
        if instruments is None:
            return
        attributes = {"messaging.consumer.group.name": self.group}
        instruments.duration.record(seconds, {**attributes, "messaging.operation.type": "process"})
        if error is not None:
            instruments.errors.add(1, {**attributes, "error.type": type(error).__name__})
            return
        per_topic: dict[str, int] = {}
        for record in self.records:
            per_topic[record.topic] = per_topic.get(record.topic, 0) + 1
        for topic, count in per_topic.items():
            instruments.consumed.add(count, {**attributes, "messaging.destination.name": topic})


@contextlib.contextmanager
def request_span(topic: str, group: str, record: Any) -> Iterator[Span | None]:
    """A request's handling, child of the requester's span, current while it runs."""
    if not _state.tracing:
        yield None
        return
    parent = extract_context(record.headers)
    span = _state.tracer.start_span(
        f"{topic} process",
        context=parent,
        kind=SpanKind.CONSUMER,
        attributes={
            "messaging.system": "kafka",
            "messaging.operation.type": "process",
            "messaging.destination.name": topic,
            "messaging.consumer.group.name": group,
            "messaging.kafka.offset": record.offset,
            "messaging.destination.partition.id": str(record.partition),
        },
    )
    with trace.use_span(
        span, end_on_exit=True, record_exception=True, set_status_on_exception=True
    ):
        yield span


def record_request(topic: str, kind: str, outcome: str, seconds: float) -> None:
    instruments = _state.instruments
    if instruments is None:
        return
    attributes = {"messaging.destination.name": topic, "cobranca.request.kind": kind}
    instruments.requests.add(1, {**attributes, "cobranca.outcome": outcome})
    instruments.duration.record(seconds, {**attributes, "messaging.operation.type": "process"})
    if outcome == "failed":
        instruments.errors.add(1, {**attributes, "error.type": "internal_error"})


@contextlib.contextmanager
def send_span(topic: str, correlation_id: str) -> Iterator[Span | None]:
    """A request sent and its reply awaited: a PRODUCER span, current, whose context goes in
    the request's headers."""
    if not _state.tracing:
        yield None
        return
    with _state.tracer.start_as_current_span(
        f"{topic} send",
        kind=SpanKind.PRODUCER,
        attributes={
            "messaging.system": "kafka",
            "messaging.operation.type": "send",
            "messaging.destination.name": topic,
            "messaging.message.conversation_id": correlation_id,
        },
    ) as span:
        yield span


def count_published(added: Mapping[tuple[str, int], int]) -> None:
    instruments = _state.instruments
    if instruments is None:
        return
    per_topic: dict[str, int] = {}
    for (topic, _partition), count in added.items():
        per_topic[topic] = per_topic.get(topic, 0) + count
    for topic, count in per_topic.items():
        instruments.published.add(count, {"messaging.destination.name": topic})


def count_import_rows(rows_by_tenant: Mapping[str, int]) -> None:
    instruments = _state.instruments
    if instruments is None:
        return
    for tenant, rows in rows_by_tenant.items():
        if rows:
            instruments.import_rows.add(rows, {"cobranca.tenant": tenant})


def count_message_sent(channel: str, outcome: str) -> None:
    instruments = _state.instruments
    if instruments is not None:
        instruments.messages_sent.add(1, {"cobranca.channel": channel, "cobranca.outcome": outcome})


# -- lag gauges ---------------------------------------------------------------------------------


def register_consumer(consumer: Any) -> None:
    """A positioned consumer whose lag the gauges report (held weakly)."""
    _consumers.add(consumer)


def _observe_consumer_lag(options: CallbackOptions) -> Iterable[Observation]:
    for consumer in list(_consumers):
        try:
            lags = consumer.lag_by_partition()
        except Exception:  # read from the exporter's thread: skip a consumer that moves
            continue
        for tp, lag in (lags or {}).items():
            yield Observation(
                lag,
                {
                    "messaging.consumer.group.name": consumer.group_id,
                    "messaging.destination.name": tp.topic,
                    "messaging.destination.partition.id": str(tp.partition),
                },
            )


def _observe_projection_lag(options: CallbackOptions) -> Iterable[Observation]:
    for consumer in list(_consumers):
        try:
            seconds = consumer.seconds_behind()
        except Exception:
            continue
        if seconds is not None:
            yield Observation(
                seconds,
                {
                    "messaging.consumer.group.name": consumer.group_id,
                    "cobranca.projection": consumer.name,
                },
            )


# -- the database -------------------------------------------------------------------------------


@contextlib.contextmanager
def db_span(name: str, system: str, **attributes: Any) -> Iterator[Span | None]:
    """A span of database work, only inside a traced operation (no root spans for polling)."""
    if not _state.tracing or not trace.get_current_span().is_recording():
        yield None
        return
    with _state.tracer.start_as_current_span(
        name, kind=SpanKind.CLIENT, attributes={"db.system.name": system, **attributes}
    ) as span:
        yield span


def instrument_engine(engine: Engine) -> None:
    """A CLIENT span per statement run on the engine inside a traced operation. Installed only
    when tracing is on (opentelemetry-instrumentation-sqlalchemy pins an older API than the
    SDK the project uses; this is the part of it the services need)."""
    if not _state.tracing:
        return
    from sqlalchemy import event

    system = engine.dialect.name
    database = engine.url.database or ""
    key = "_cobranca_span"

    def before(conn: Any, cursor: Any, statement: str, params: Any, ctx: Any, many: bool) -> None:
        if not trace.get_current_span().is_recording():
            return
        operation = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else "SQL"
        span = _state.tracer.start_span(
            f"{operation} {system}",
            kind=SpanKind.CLIENT,
            attributes={
                "db.system.name": system,
                "db.namespace": os.path.basename(database) if system == "sqlite" else database,
                "db.operation.name": operation,
                "db.query.text": statement[:2000],
                "cobranca.db.executemany": many,
            },
        )
        setattr(ctx, key, span)

    def after(conn: Any, cursor: Any, statement: str, params: Any, ctx: Any, many: bool) -> None:
        span = getattr(ctx, key, None)
        if span is not None:
            span.end()

    def failed(exception_context: Any) -> None:
        span = getattr(exception_context.execution_context, key, None)
        if span is not None:
            error = exception_context.original_exception
            span.record_exception(error)
            span.set_status(Status(StatusCode.ERROR, type(error).__name__))
            span.end()

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    event.listen(engine, "handle_error", failed)


# -- logs ---------------------------------------------------------------------------------------


def current_ids() -> tuple[str, str] | None:
    """(trace id, span id) in hex of the current span, or None outside one."""
    span_context = trace.get_current_span().get_span_context()
    if not span_context.is_valid:
        return None
    return format(span_context.trace_id, "032x"), format(span_context.span_id, "016x")
