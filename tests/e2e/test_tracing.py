"""One trace per user action, across processes: a debtor closes an agreement over HTTP, and the
trace that starts at the gateway's HTTP span reaches the negotiation service's handling of the
request and, through the outbox relay and Kafka, the gateway's portal projection applying
AgreementClosed.

The services run as separate processes, so their spans cannot be seen by an in-memory
exporter here: this module runs a small OTLP/HTTP receiver (protobuf, as the SDK's exporter
sends it) and points every process of its platform at it with OTEL_EXPORTER_OTLP_ENDPOINT
(the platform's processes inherit the test's environment)."""

from __future__ import annotations

import gzip
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from cobranca.client import GatewayClient, GatewayError
from cobranca.demo_negotiation import DEMO_SETTINGS
from tests.support.platform import RunningPlatform, running_platform, wait_for

pytestmark = pytest.mark.e2e

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TENANT = "acme"
ISABELA = "578.722.458-25"


@dataclass(frozen=True)
class ReceivedSpan:
    service: str
    trace_id: str
    span_id: str
    parent_id: str
    name: str
    kind: int
    attributes: dict[str, Any]


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return tuple(_value(v) for v in value.array_value.values)
    return getattr(value, kind) if kind else None


@dataclass
class Collector:
    """What the platform's processes exported."""

    spans: list[ReceivedSpan] = field(default_factory=list)
    metrics: dict[str, set[str]] = field(default_factory=dict)  # service -> metric names
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add_traces(self, request: ExportTraceServiceRequest) -> None:
        received = []
        for resource_spans in request.resource_spans:
            resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    received.append(
                        ReceivedSpan(
                            service=str(resource.get("service.name")),
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_id=span.parent_span_id.hex(),
                            name=span.name,
                            kind=span.kind,
                            attributes={a.key: _value(a.value) for a in span.attributes},
                        )
                    )
        with self.lock:
            self.spans.extend(received)

    def add_metrics(self, request: ExportMetricsServiceRequest) -> None:
        with self.lock:
            for resource_metrics in request.resource_metrics:
                resource = {a.key: _value(a.value) for a in resource_metrics.resource.attributes}
                names = self.metrics.setdefault(str(resource.get("service.name")), set())
                for scope_metrics in resource_metrics.scope_metrics:
                    names.update(m.name for m in scope_metrics.metrics)

    def snapshot(self) -> list[ReceivedSpan]:
        with self.lock:
            return list(self.spans)


def otlp_receiver(collector: Collector) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            if self.path == "/v1/traces":
                collector.add_traces(ExportTraceServiceRequest.FromString(body))
                answer = ExportTraceServiceResponse().SerializeToString()
            elif self.path == "/v1/metrics":
                collector.add_metrics(ExportMetricsServiceRequest.FromString(body))
                answer = ExportMetricsServiceResponse().SerializeToString()
            else:
                answer = b""
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return ThreadingHTTPServer(("127.0.0.1", 0), Handler)


@pytest.fixture(scope="module", params=["tansu-sqlite"])
def traced(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningPlatform, Collector]]:
    broker_kind = request.param.split("-")[0]
    collector = Collector()
    server = otlp_receiver(collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with pytest.MonkeyPatch.context() as env:
            env.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{server.server_port}")
            env.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
            # Export soon, so the test polls for seconds, not for the SDK's defaults.
            env.setenv("OTEL_BSP_SCHEDULE_DELAY", "200")
            env.setenv("OTEL_METRIC_EXPORT_INTERVAL", "1000")
            for name in ("OTEL_SDK_DISABLED", "OTEL_TRACES_EXPORTER", "OTEL_METRICS_EXPORTER"):
                env.delenv(name, raising=False)
            root = tmp_path_factory.mktemp(f"tracing-{request.param}")
            with running_platform(root, broker_kind) as platform:
                yield platform, collector
    finally:
        server.shutdown()
        server.server_close()


def _offers(client: GatewayClient, debt_ids: list[str]) -> dict[str, Any] | None:
    try:
        return client.offers(TENANT, debt_ids)
    except GatewayError as exc:
        if exc.status == 404:  # the negotiation service's copy may be a moment behind
            return None
        raise


def _ancestry(span: ReceivedSpan, by_id: dict[str, ReceivedSpan]) -> list[ReceivedSpan] | None:
    """The span and its ancestors up to the root; None while one of them is not received."""
    chain = [span]
    while chain[-1].parent_id:
        parent = by_id.get(chain[-1].parent_id)
        if parent is None:
            return None
        chain.append(parent)
    return chain


def test_closing_an_agreement_is_one_trace_from_http_to_the_portal_projection(
    traced: tuple[RunningPlatform, Collector],
) -> None:
    platform, collector = traced
    admin = platform.client(TENANT, "admin")
    admin.save_negotiation_settings(DEMO_SETTINGS)  # where the agency is paid
    admin.create_condition({"installments": 1, "charges_discount_pct": 100})
    operator = platform.client(TENANT, "operator")
    operator.wait_for_import(
        operator.upload_carteira((EXAMPLES / "carteira-exemplo.csv").read_bytes())["import_id"]
    )
    found = wait_for(
        lambda: len((f := platform.anonymous().lookup(TENANT, ISABELA))["debts"]) == 5 and f,
        timeout=60,
        what="Isabela's debts in the portal",
    )
    debtor = GatewayClient(platform.base_url, found["portal_token"])
    debt_id = found["debts"][0]["debt_id"]
    wait_for(lambda: _offers(debtor, [debt_id]), timeout=60, what="offers for the debt")

    status, agreement = debtor.close_agreement(TENANT, [debt_id], 1, str(uuid.uuid4()))
    assert status == 201

    def closing_trace() -> list[ReceivedSpan] | None:
        spans = collector.snapshot()
        by_id = {s.span_id: s for s in spans}
        applied = [
            s
            for s in spans
            if s.service == "gateway"
            and s.name == "gateway.portal_view process"
            and "AgreementClosed" in (s.attributes.get("cobranca.event_types") or ())
        ]
        for span in applied:
            chain = _ancestry(span, by_id)
            if chain and chain[-1].service == "gateway" and "agreements" in chain[-1].name:
                return chain
        return None

    chain = wait_for(
        closing_trace, timeout=60, what="the portal projection's span in the HTTP request's trace"
    )
    root = chain[-1]
    assert root.kind == 2  # SPAN_KIND_SERVER
    assert root.name.startswith("POST /api/v1/portal/{tenant")  # the route, not the path
    assert {s.trace_id for s in chain} == {root.trace_id}
    steps = [(s.service, s.name) for s in reversed(chain)]
    # HTTP -> the request over Kafka -> its handling in negotiation -> the relay publishing
    # the stored AgreementClosed -> the gateway's projection applying it.
    assert ("gateway", "negotiation.requests send") in steps
    handling = next(s for s in chain if s.name == "negotiation.requests process")
    assert handling.service == "negotiation"
    assert handling.attributes["cobranca.request.kind"] == "close_agreement"
    assert ("negotiation", "negotiation.agreements publish") in steps
    assert steps[-1] == ("gateway", "gateway.portal_view process")
    # The agreement's id came back over HTTP in the same request whose trace this is.
    assert agreement["agreement_id"]

    # Database work of the request is in the trace too (the event store's save).
    everything = [s for s in collector.snapshot() if s.trace_id == root.trace_id]
    assert any(s.service == "negotiation" and s.name.endswith(" save") for s in everything)

    # Metrics reach the collector as well.
    wait_for(
        lambda: (
            {"cobranca.events.published", "cobranca.requests.handled"}
            <= collector.metrics.get("negotiation", set())
            and {"cobranca.events.consumed", "cobranca.consumer.lag"}
            <= collector.metrics.get("gateway", set())
        ),
        timeout=60,
        what="the services' metrics",
    )
