"""Telemetry (service_runtime.telemetry) with the SDK's in-memory exporter and reader: the trace
context in Kafka headers, the outbox relay publishing with the context its events were stored
in (not its own), consumers and requests continuing the trace, the metrics, the database
spans, the log lines' ids, and nothing installed when no exporter is configured."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Literal

import pytest
from aiokafka import TopicPartition
from eventsourcing.domain import Aggregate, event
from faststream.kafka import KafkaBroker
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from pydantic import BaseModel
from sqlalchemy import create_engine, text

from contracts.envelope import Envelope, derived_event_id
from service_runtime import telemetry
from service_runtime.eventstore import ServiceApplication
from service_runtime.logs import JsonFormatter, TextFormatter, TraceContextFilter, wants_json
from service_runtime.outbox import OutboxRelay
from service_runtime.projection import PositionedConsumer
from service_runtime.request_reply import CORRELATION_ID, KafkaRequester
from service_runtime.request_server import RequestServer
from services.messaging.adapters.channels import OutgoingMessage, SendResult, TemporaryFailure
from services.messaging.entrypoints.worker import MeteredChannel
from services.portfolio.entrypoints.worker import MeteredInboundApplier
from tests.unit.test_portfolio_import import JOAO, header, row

TOPIC = "things.events"


@pytest.fixture
def otel() -> Iterator[tuple[InMemorySpanExporter, InMemoryMetricReader]]:
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    reader = InMemoryMetricReader()
    telemetry.use_providers(tracer_provider, MeterProvider(metric_readers=[reader]))
    try:
        yield spans, reader
    finally:
        telemetry.reset()


def points(reader: InMemoryMetricReader, name: str) -> list[Any]:
    data = reader.get_metrics_data()
    found: list[Any] = []
    for resource_metrics in data.resource_metrics if data else ():
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                if metric.name == name:
                    found.extend(metric.data.data_points)
    return found


def trace_id_of(headers: Any) -> int:
    return trace.get_current_span(telemetry.extract_context(headers)).get_span_context().trace_id


def named(spans: InMemorySpanExporter, name: str) -> list[ReadableSpan]:
    return [s for s in spans.get_finished_spans() if s.name == name]


def parent_id(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent else None


# -- headers --------------------------------------------------------------------------------


def test_the_context_goes_into_kafka_headers_and_comes_back(
    otel: tuple[InMemorySpanExporter, InMemoryMetricReader],
) -> None:
    with telemetry.tracer().start_as_current_span("http") as span:
        headers = dict(telemetry.inject_context({"event-type": "X"}))
    assert headers["traceparent"].split("-")[1] == format(span.get_span_context().trace_id, "032x")
    # A raw record's headers (bytes) and FastStream's dict both give the context back.
    raw = [(k, v.encode()) for k, v in headers.items()]
    expected = span.get_span_context()
    for carried in (raw, headers):
        extracted = trace.get_current_span(telemetry.extract_context(carried)).get_span_context()
        assert (extracted.trace_id, extracted.span_id) == (expected.trace_id, expected.span_id)
        assert extracted.is_remote
    assert telemetry.carrier_of(raw) == {"traceparent": headers["traceparent"]}
    assert not trace.get_current_span(telemetry.extract_context(None)).get_span_context().is_valid


def test_nothing_is_traced_when_telemetry_is_off() -> None:
    assert not telemetry.tracing_enabled() and not telemetry.metrics_enabled()
    assert telemetry.current_carrier() is None
    assert telemetry.http_plugins() == []
    batch = telemetry.ConsumerBatch("g", [])
    assert batch.context is None and batch.spans == []
    batch.finish()


# -- the outbox relay -----------------------------------------------------------------------


class Thing(Aggregate):
    def __init__(self, name: str) -> None:
        self.name = name

    @event("Renamed")
    def rename(self, name: str) -> None:
        self.name = name


class Things(ServiceApplication):
    env = {"PERSISTENCE_MODULE": "eventsourcing.popo"}  # noqa: RUF012


def thing_events(domain_event: Any) -> list[tuple[str, Envelope]]:
    aggregate_id = str(domain_event.originator_id)
    return [
        (
            TOPIC,
            Envelope(
                event_id=derived_event_id("things", aggregate_id, domain_event.originator_version),
                type=type(domain_event).__name__,
                schema_version=1,
                occurred_at=domain_event.timestamp,
                tenant="acme",
                aggregate_id=aggregate_id,
                aggregate_version=domain_event.originator_version,
                correlation_id=aggregate_id,
                causation_id=aggregate_id,
            ),
        )
    ]


class FakeProducer:
    """broker.publish(..., no_confirm=True) as the relay uses it: a future of the metadata."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def publish(self, body: bytes, topic: str, **kwargs: Any) -> asyncio.Future[Any]:
        self.sent.append({"topic": topic, "body": body, **kwargs})
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        future.set_result(SimpleNamespace(topic=topic, partition=0))
        return future


def relay_for(app: Things, broker: FakeProducer, tmp_path: Path) -> OutboxRelay:
    return OutboxRelay(
        name="things",
        application=app,
        mapper=thing_events,
        broker=broker,  # type: ignore[arg-type]
        bootstrap="127.0.0.1:1",
        engine=create_engine(f"sqlite:///{tmp_path / 'state.sqlite'}"),
    )


async def test_the_relay_publishes_each_event_with_the_context_it_was_stored_in(
    otel: tuple[InMemorySpanExporter, InMemoryMetricReader], tmp_path: Path
) -> None:
    spans, reader = otel
    app = Things()
    thing = Thing("first")
    with telemetry.tracer().start_as_current_span("close agreement") as request:
        app.save(thing)
    thing.rename("second")
    app.save(thing)  # outside any trace
    stored = app.recorder.select_notifications(start=1, limit=10)
    # The carrier lives in the stored event's own state...
    assert b"__trace__" in stored[0].state and b"__trace__" not in stored[1].state
    # ...and never reaches the aggregate or the domain event.
    assert app.repository.get(thing.id).name == "second"
    assert "__trace__" not in vars(app.mapper.to_domain_event(stored[0]))

    broker = FakeProducer()
    relay = relay_for(app, broker, tmp_path)
    with telemetry.tracer().start_as_current_span("relay loop") as relay_span:
        added = await relay._publish(list(stored))
    assert added == {(TOPIC, 0): 2}

    first, second = broker.sent
    origin = request.get_span_context()
    assert trace_id_of(first["headers"]) == origin.trace_id
    assert trace_id_of(first["headers"]) != relay_span.get_span_context().trace_id
    assert first["headers"]["event-type"] == "Created"
    # The event stored outside a trace goes out without one (not with the relay's).
    assert "traceparent" not in second["headers"]

    (publish,) = named(spans, f"{TOPIC} publish")
    assert publish.kind == SpanKind.PRODUCER
    assert publish.context.trace_id == origin.trace_id
    # Its parent is the span the event was stored in: the event store's save, in the request.
    saves = {s.context.span_id: s for s in named(spans, "Things save")}
    assert parent_id(saves[parent_id(publish)]) == origin.span_id
    assert publish.attributes and publish.attributes["messaging.batch.message_count"] == 1
    carried = trace.get_current_span(telemetry.extract_context(first["headers"]))
    assert carried.get_span_context().span_id == publish.context.span_id

    (published,) = points(reader, "cobranca.events.published")
    assert published.value == 2
    assert published.attributes == {"messaging.destination.name": TOPIC}


async def test_a_relay_without_tracing_still_passes_the_stored_context_on(
    otel: tuple[InMemorySpanExporter, InMemoryMetricReader], tmp_path: Path
) -> None:
    app = Things()
    with telemetry.tracer().start_as_current_span("import") as request:
        app.save(Thing("x"))
    telemetry.reset()  # the relay's process exports nothing
    broker = FakeProducer()
    await relay_for(app, broker, tmp_path)._publish(
        list(app.recorder.select_notifications(start=1, limit=10))
    )
    (sent,) = broker.sent
    assert trace_id_of(sent["headers"]) == request.get_span_context().trace_id


# -- consumers ------------------------------------------------------------------------------


class FakeKafkaConsumer:
    def __init__(self, highwater: dict[TopicPartition, int] | None = None) -> None:
        self.marks = highwater or {}
        self.seeks: list[tuple[TopicPartition, int]] = []

    def highwater(self, tp: TopicPartition) -> int | None:
        return self.marks.get(tp)

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks.append((tp, offset))


class RecordingApplier:
    name = "portal_view"
    topics: tuple[str, ...] = (TOPIC,)
    epoch: str | None = None

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.current: list[trace.Span] = []

    def stored_positions(self) -> dict[tuple[str, int], tuple[int, str | None, str | None]]:
        return {}

    def apply_records(self, records_by_tp: Any) -> None:
        self.current.append(trace.get_current_span())
        if self.fail:
            raise RuntimeError("database is locked")


def positioned(applier: RecordingApplier, consumer: FakeKafkaConsumer) -> PositionedConsumer:
    positioned = PositionedConsumer(
        applier,
        KafkaBroker("127.0.0.1:1"),
        "127.0.0.1:1",
        group_id="gateway.portal_view",
        consumer_kwargs={},
    )
    positioned.subscriber = SimpleNamespace(consumer=consumer)
    return positioned


def record(offset: int, headers: dict[str, str], event_type: str = "AgreementClosed") -> Any:
    return SimpleNamespace(
        topic=TOPIC,
        partition=0,
        offset=offset,
        timestamp=int(time.time() * 1000),
        key=None,
        value=b"{}",
        headers=[("event-type", event_type.encode())]
        + [(k, v.encode()) for k, v in headers.items()],
    )


def origin_headers(name: str) -> tuple[dict[str, str], trace.SpanContext]:
    with telemetry.tracer().start_as_current_span(name) as span:
        return dict(telemetry.inject_context({})), span.get_span_context()


async def test_a_consumer_applies_a_batch_in_the_trace_its_events_carry(
    otel: tuple[InMemorySpanExporter, InMemoryMetricReader],
) -> None:
    spans, reader = otel
    headers, origin = origin_headers("negotiation handles close_agreement")
    applier = RecordingApplier()
    consumer = positioned(applier, FakeKafkaConsumer())
    msg = SimpleNamespace(raw_message=(record(7, headers), record(8, headers, "InvoiceIssued")))
    await consumer.handle(None, msg)  # type: ignore[arg-type]

    (process,) = named(spans, "gateway.portal_view process")
    assert process.kind == SpanKind.CONSUMER
    assert process.context.trace_id == origin.trace_id and parent_id(process) == origin.span_id
    assert process.attributes is not None
    assert process.attributes["cobranca.event_types"] == ("AgreementClosed", "InvoiceIssued")
    assert process.attributes["messaging.batch.message_count"] == 2
    # The applier ran inside it (in its worker thread): what it saves keeps this context.
    assert applier.current[0].get_span_context().span_id == process.context.span_id

    (consumed,) = points(reader, "cobranca.events.consumed")
    assert consumed.value == 2
    assert consumed.attributes["messaging.consumer.group.name"] == "gateway.portal_view"
    (duration,) = points(reader, "cobranca.processing.duration")
    assert duration.count == 1


async def test_a_batch_from_several_traces_has_a_span_in_each(
    otel: tuple[InMemorySpanExporter, InMemoryMetricReader],
) -> None:
    spans, _ = otel
    first, first_origin = origin_headers("one person")
    second, second_origin = origin_headers("another person")
    applier = RecordingApplier()
    consumer = positioned(applier, FakeKafkaConsumer())
    msg = SimpleNamespace(raw_message=(record(1, first), record(2, second), record(3, {})))
    await consumer.handle(None, msg)  # type: ignore[arg-type]

    processed = named(spans, "gateway.portal_view process")
    by_trace = {s.context.trace_id: s for s in processed}
    assert by_trace[first_origin.trace_id].parent is not None
    assert by_trace[second_origin.trace_id].parent is not None
    # The batch's own span is current while it is applied, linked to both origins.
    (batch,) = [s for s in processed if s.parent is None]
    assert {link.context.trace_id for link in batch.links} == {
        first_origin.trace_id,
        second_origin.trace_id,
    }
    assert applier.current[0].get_span_context().span_id == batch.context.span_id


async def test_a_failed_batch_is_an_error(
    otel: tuple[InMemorySpanExporter, InMemoryMetricReader], monkeypatch: pytest.MonkeyPatch
) -> None:
    spans, reader = otel

    async def no_pause(_seconds: float) -> None:
        return None

    monkeypatch.setattr(asyncio, "sleep", no_pause)
    headers, _ = origin_headers("x")
    kafka = FakeKafkaConsumer()
    consumer = positioned(RecordingApplier(fail=True), kafka)
    await consumer.handle(None, SimpleNamespace(raw_message=(record(5, headers),)))  # type: ignore[arg-type]
    (process,) = named(spans, "gateway.portal_view process")
    assert process.status.status_code == StatusCode.ERROR
    assert kafka.seeks == [(TopicPartition(TOPIC, 0), 5)]
    (errors,) = points(reader, "cobranca.processing.errors")
    assert errors.value == 1 and errors.attributes["error.type"] == "RuntimeError"
    assert points(reader, "cobranca.events.consumed") == []


def test_consumer_lag_per_partition_and_projection_lag_in_seconds(
    otel: tuple[InMemorySpanExporter, InMemoryMetricReader],
) -> None:
    _, reader = otel
    behind, caught_up = TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 1)
    consumer = positioned(RecordingApplier(), FakeKafkaConsumer({behind: 8, caught_up: 4}))
    assert consumer.seconds_behind() is None  # not assigned yet
    consumer.has_assignment = True
    consumer.assigned = {behind, caught_up}
    consumer.positions = {behind: 5, caught_up: 4}
    consumer.applied_at_ms = {behind: int((time.time() - 30) * 1000)}
    assert consumer.lag == 3

    lags = {
        p.attributes["messaging.destination.partition.id"]: p.value
        for p in points(reader, "cobranca.consumer.lag")
        if p.attributes["messaging.consumer.group.name"] == "gateway.portal_view"
    }
    assert lags == {"0": 3, "1": 0}
    (seconds,) = [
        p
        for p in points(reader, "cobranca.projection.lag")
        if p.attributes["messaging.consumer.group.name"] == "gateway.portal_view"
    ]
    assert 29 <= seconds.value < 60

    consumer.positions[behind] = 8
    assert consumer.seconds_behind() == 0.0


# -- request/reply --------------------------------------------------------------------------


class Ping(BaseModel):
    kind: Literal["ping"] = "ping"


class PingBody(BaseModel):
    request: Ping


class Subscriber:
    consumer = None

    def __call__(self, handler: Any) -> Any:
        return handler


class LoopbackBroker:
    """Requests go to the server's handler, replies to the requester's."""

    def __init__(self) -> None:
        self.server: RequestServer | None = None
        self.requester: KafkaRequester | None = None
        self.published: list[tuple[str, dict[str, str]]] = []
        self.tasks: list[asyncio.Task[None]] = []

    def subscriber(self, *topics: str, **kwargs: Any) -> Subscriber:
        return Subscriber()

    async def publish(self, body: bytes, topic: str, **kwargs: Any) -> None:
        headers = dict(kwargs.get("headers") or {})
        self.published.append((topic, headers))
        msg = SimpleNamespace(
            raw_message=SimpleNamespace(
                topic=topic,
                partition=0,
                offset=len(self.published),
                timestamp=int(time.time() * 1000),
                value=body,
                headers=[(k, v.encode()) for k, v in headers.items()],
            )
        )
        if topic == "pings.requests":
            assert self.server is not None
            self.tasks.append(asyncio.create_task(self.server.handle(None, msg)))  # type: ignore[arg-type]
        else:
            assert self.requester is not None
            await self.requester._on_reply(None, msg)  # type: ignore[arg-type]


async def test_a_request_is_handled_in_the_requesters_trace(
    otel: tuple[InMemorySpanExporter, InMemoryMetricReader],
) -> None:
    spans, reader = otel
    broker = LoopbackBroker()
    seen: list[trace.Span] = []

    def run(request: Ping) -> bytes:
        seen.append(trace.get_current_span())
        return b'{"pong": true}'

    host = SimpleNamespace(
        broker=broker, relay=SimpleNamespace(wake=lambda: None), consumer_kwargs={}
    )
    broker.server = RequestServer(host, "pings.requests", "pings.group", PingBody, run)
    broker.requester = KafkaRequester(broker, "gateway.replies", default_timeout=5)  # type: ignore[arg-type]
    with telemetry.tracer().start_as_current_span("POST /agreements") as http:
        reply = await broker.requester.request(
            "pings.requests", PingBody(request=Ping()).model_dump_json().encode(), key=b"k"
        )
    assert reply == b'{"pong": true}'

    (send,) = named(spans, "pings.requests send")
    (process,) = named(spans, "pings.requests process")
    assert send.kind == SpanKind.PRODUCER and parent_id(send) == http.get_span_context().span_id
    assert process.kind == SpanKind.CONSUMER and parent_id(process) == send.context.span_id
    assert process.context.trace_id == http.get_span_context().trace_id
    assert process.attributes is not None
    assert process.attributes["cobranca.request.kind"] == "ping"
    assert process.attributes["cobranca.outcome"] == "answered"
    assert seen[0].get_span_context().span_id == process.context.span_id
    # The request's headers carry the send span; the reply's the handling span.
    (request_topic, request_headers), (reply_topic, reply_headers) = broker.published
    assert (request_topic, reply_topic) == ("pings.requests", "gateway.replies")
    assert request_headers[CORRELATION_ID] == reply_headers[CORRELATION_ID]
    assert trace_id_of(reply_headers) == http.get_span_context().trace_id

    (handled,) = points(reader, "cobranca.requests.handled")
    assert handled.value == 1
    assert handled.attributes["cobranca.outcome"] == "answered"


def test_the_gateway_traces_each_request_by_its_route(
    otel: tuple[InMemorySpanExporter, InMemoryMetricReader],
) -> None:
    from litestar import Litestar, get
    from litestar.testing import TestClient

    spans, _ = otel
    inside: list[dict[str, str] | None] = []

    @get("/api/v1/portal/{tenant:str}/agreements/{agreement_id:str}", sync_to_thread=False)
    def agreement(tenant: str, agreement_id: str) -> dict[str, str]:
        inside.append(telemetry.current_carrier())
        return {"tenant": tenant}

    @get("/health", sync_to_thread=False)
    def health() -> dict[str, str]:
        return {}

    app = Litestar([agreement, health], plugins=telemetry.http_plugins())
    with TestClient(app) as client:
        assert client.get("/api/v1/portal/acme/agreements/a-1").status_code == 200
        assert client.get("/health").status_code == 200
    (server,) = [s for s in spans.get_finished_spans() if s.kind == SpanKind.SERVER]
    route = "/api/v1/portal/{tenant}/agreements/{agreement_id}"
    assert server.name == f"GET {route}"
    assert server.attributes and server.attributes["http.route"] == route
    # The handler runs in the server span: what it sends over Kafka continues this trace.
    assert inside[0] and trace_id_of(inside[0]) == server.context.trace_id


# -- metrics of the services ----------------------------------------------------------------


def test_messages_sent_are_counted_per_channel(
    otel: tuple[InMemorySpanExporter, InMemoryMetricReader],
) -> None:
    _, reader = otel

    class Inner:
        name = "sms"

        def __init__(self) -> None:
            self.results = [SendResult("p1", True), SendResult(None, False, "número inválido")]

        def send(self, message: OutgoingMessage) -> SendResult:
            if not self.results:
                raise TemporaryFailure("provedor fora do ar")
            return self.results.pop(0)

    channel = MeteredChannel(Inner(), "sms")
    message = OutgoingMessage("m1", "acme", "sms", "+5511987654321", None, "Olá")
    assert channel.send(message).accepted
    assert not channel.send(message).accepted
    with pytest.raises(TemporaryFailure):
        channel.send(message)
    counted = {
        p.attributes["cobranca.outcome"]: p.value for p in points(reader, "cobranca.messages.sent")
    }
    assert counted == {"sent": 1, "refused": 1, "retry": 1}


def test_the_portfolio_counts_the_rows_it_applies(
    otel: tuple[InMemorySpanExporter, InMemoryMetricReader], tmp_path: Path
) -> None:
    _, reader = otel
    handled: list[int] = []
    app = SimpleNamespace(handle_inbound=lambda messages, today: handled.append(len(messages)))
    clock = SimpleNamespace(today=lambda: dt.date(2026, 11, 25))
    applier = MeteredInboundApplier(
        app,
        create_engine(f"sqlite:///{tmp_path / 'state.sqlite'}"),
        clock,
    )
    import_id = uuid.uuid4().hex
    messages = [header(import_id, 2), row(import_id, 1, JOAO), row(import_id, 2, JOAO)]
    records = [
        SimpleNamespace(
            topic="carteiras.inbound",
            partition=0,
            offset=i,
            key=None,
            value=m.model_dump_json().encode(),
            headers=[("event-id", str(m.event_id).encode())],
        )
        for i, m in enumerate(messages)
    ]
    applier.apply_records({TopicPartition("carteiras.inbound", 0): records})
    assert handled == [3]
    (rows,) = points(reader, "cobranca.import.rows")
    assert rows.value == 2 and rows.attributes == {"cobranca.tenant": messages[1].tenant}


# -- the database ---------------------------------------------------------------------------


def test_statements_are_spans_inside_a_traced_operation_only(
    otel: tuple[InMemorySpanExporter, InMemoryMetricReader], tmp_path: Path
) -> None:
    spans, _ = otel
    engine = create_engine(f"sqlite:///{tmp_path / 'read.sqlite'}")
    telemetry.instrument_engine(engine)
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))  # polling: no root span
    assert named(spans, "SELECT sqlite") == []
    with telemetry.tracer().start_as_current_span("apply") as apply, engine.connect() as conn:
        conn.execute(text("SELECT 2"))
    (select,) = named(spans, "SELECT sqlite")
    assert select.kind == SpanKind.CLIENT and parent_id(select) == apply.get_span_context().span_id
    assert select.attributes and select.attributes["db.query.text"] == "SELECT 2"


def test_an_event_store_save_is_a_span(
    otel: tuple[InMemorySpanExporter, InMemoryMetricReader],
) -> None:
    spans, _ = otel
    app = Things()
    with telemetry.tracer().start_as_current_span("use case"):
        app.save(Thing("y"))
    (save,) = named(spans, "Things save")
    assert save.attributes and save.attributes["cobranca.events"] == 1


# -- logs -----------------------------------------------------------------------------------


def test_log_lines_carry_the_trace_and_span_ids(
    otel: tuple[InMemorySpanExporter, InMemoryMetricReader],
) -> None:
    def formatted(formatter: logging.Formatter) -> str:
        entry = logging.LogRecord("cobranca.x", logging.INFO, __file__, 1, "oi", None, None)
        TraceContextFilter().filter(entry)
        return formatter.format(entry)

    assert "trace" not in formatted(TextFormatter("%(message)s"))
    with telemetry.tracer().start_as_current_span("request") as span:
        line = json.loads(formatted(JsonFormatter("gateway")))
        text_line = formatted(TextFormatter("%(message)s"))
    ids = span.get_span_context()
    assert line["trace_id"] == format(ids.trace_id, "032x")
    assert line["span_id"] == format(ids.span_id, "016x")
    assert text_line == f"oi [trace {line['trace_id']}/{line['span_id']}]"


def test_the_log_format_is_chosen_by_setting_or_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    assert wants_json("json") and not wants_json("text")
    monkeypatch.setenv("COBRANCA_LOG_FORMAT", "json")
    assert wants_json()
    monkeypatch.setenv("COBRANCA_LOG_FORMAT", "auto")
    monkeypatch.setattr("sys.stderr.isatty", lambda: True)
    assert not wants_json()


# -- setup ----------------------------------------------------------------------------------

OTEL_VARIABLES = (
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    "OTEL_TRACES_EXPORTER",
    "OTEL_METRICS_EXPORTER",
    "OTEL_SERVICE_NAME",
    "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_SDK_DISABLED",
)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in OTEL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_without_an_endpoint_nothing_is_installed(clean_env: pytest.MonkeyPatch) -> None:
    from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider

    assert telemetry.build_providers("negotiation") == (None, None)
    assert telemetry.setup_telemetry("negotiation") is False
    assert not isinstance(trace.get_tracer_provider(), SdkTracerProvider)
    assert not telemetry.tracing_enabled()


def test_an_endpoint_turns_the_exporters_on(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    clean_env.setenv("OTEL_METRICS_EXPORTER", "none")
    tracer_provider, meter_provider = telemetry.build_providers("negotiation")
    try:
        assert isinstance(tracer_provider, TracerProvider) and meter_provider is None
        attributes = tracer_provider.resource.attributes
        assert attributes["service.name"] == "negotiation"
        assert attributes["service.namespace"] == "cobranca"
    finally:
        tracer_provider.shutdown()
    clean_env.setenv("OTEL_SDK_DISABLED", "true")
    assert telemetry.build_providers("negotiation") == (None, None)


def test_the_standard_variables_win_over_the_defaults(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("OTEL_SERVICE_NAME", "cobranca-negociacao")
    clean_env.setenv(
        "OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=staging,service.namespace=x"
    )
    attributes = telemetry.resource_for("negotiation").attributes
    assert attributes["service.name"] == "cobranca-negociacao"
    assert attributes["service.namespace"] == "x"
    assert attributes["deployment.environment"] == "staging"
    clean_env.setenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://127.0.0.1:4318/v1/metrics")
    assert telemetry._exporter_kind("METRICS") == "otlp"
    assert telemetry._exporter_kind("TRACES") is None
    clean_env.setenv("OTEL_TRACES_EXPORTER", "console")
    assert telemetry._exporter_kind("TRACES") == "console"
