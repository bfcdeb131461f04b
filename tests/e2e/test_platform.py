"""An agency's day on the spine: a creditor's carteira arrives, is imported over HTTP or
pushed over Kafka, and debtors and operators read the result."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from cobranca.client import GatewayError
from cobranca.demo_data import generate_carteira
from contracts.carteiras import (
    INBOUND_TOPIC,
    REJECTED_TOPIC,
    CarteiraImportRequested,
    CarteiraRowSubmitted,
    RowFields,
)
from contracts.envelope import derived_event_id
from tests.support.consistency import differences
from tests.support.platform import RunningPlatform, wait_for

pytestmark = pytest.mark.e2e

# The lookup's limits for this module's platform: tests poll a debtor's lookup every 0.3 s
# (at most 4 a second), so a 1-second window with 8 per document never refuses them, and a
# burst of lookups is refused. No limit per address: every test calls from 127.0.0.1.
LIMITS_ENV = {
    "COBRANCA_RATE_LIMIT_WINDOW_SECONDS": "1",
    "COBRANCA_LOOKUP_LIMIT_PER_DOCUMENT": "8",
    "COBRANCA_LOOKUP_LIMIT_PER_ADDRESS": "0",
}


@pytest.fixture(scope="module", autouse=True)
def _lookup_limits() -> Iterator[None]:
    # Autouse: set before the module's platform starts (its processes inherit the env).
    with pytest.MonkeyPatch.context() as patch:
        for name, value in LIMITS_ENV.items():
            patch.setenv(name, value)
        yield


def lookup_settled(platform: RunningPlatform, tenant: str, document: str, count: int) -> dict:  # type: ignore[type-arg]
    """The portal view is a projection of its own: read it once it shows `count` debts."""
    return wait_for(  # type: ignore[no-any-return]
        lambda: (
            (found := platform.anonymous().lookup(tenant, document))["debts"].__len__() == count
            and found
        ),
        timeout=30,
        what=f"{count} debts of {document} in the portal view",
    )


def timeline_settled(client: object, document: str, count: int) -> list[dict]:  # type: ignore[type-arg]
    return wait_for(  # type: ignore[no-any-return]
        lambda: len(entries := client.timeline(document)["entries"]) >= count and entries,  # type: ignore[attr-defined]
        timeout=30,
        what=f"{count} timeline entries of {document}",
    )


EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_an_uploaded_carteira_is_imported_row_by_row_with_reasons(
    platform: RunningPlatform,
) -> None:
    client = platform.client("acme", "operator")
    accepted = client.upload_carteira(
        (EXAMPLES / "carteira-exemplo.csv").read_bytes(), "exemplo.csv"
    )
    assert accepted["rows"] == 12
    status = client.wait_for_import(accepted["import_id"], timeout=60)

    assert status["status"] == "completed"
    assert status["rows_total"] == 12 and status["rows_read"] == 12
    assert status["accepted"] == status["created"] == 10
    assert status["rejected"] == 2
    bad_cpf, zero_amount = status["rejections"]
    # Line numbers as a person counts them in the file (the header is line 1).
    assert bad_cpf["row_number"] == 5
    assert bad_cpf["reason"] == "CPF com dígito verificador inválido"
    assert bad_cpf["errors"][0]["field"] == "document"
    assert zero_amount["row_number"] == 6
    assert "maior que zero" in zero_amount["reason"]
    assert zero_amount["errors"][0]["field"] == "original_amount"


def test_a_debtor_finds_open_debts_by_document_and_gets_a_portal_token(
    platform: RunningPlatform,
) -> None:
    client = platform.client("acme", "operator")
    client.wait_for_import(
        client.upload_carteira((EXAMPLES / "carteira-exemplo.csv").read_bytes())["import_id"]
    )
    found = lookup_settled(platform, "acme", "578.722.458-25", 5)

    assert found["document"] == "57872245825"
    # Installment 1 (R$ 0,00) was rejected; 2 to 6 are open, oldest first.
    assert [d["installment"] for d in found["debts"]] == ["2", "3", "4", "5", "6"]
    first = found["debts"][0]
    assert first["creditor"] == "Varejo Bom Preço Ltda"
    assert first["contract"] == "VBP-03682210"
    assert first["original_amount_cents"] == 1052419
    assert first["due_date"] == "2026-07-16"
    assert first["days_overdue"] == 132  # business date pinned at 2026-11-25
    assert found["portal_token"]

    with pytest.raises(GatewayError) as invalid:
        platform.anonymous().lookup("acme", "578.722.458-26")
    assert invalid.value.status == 422
    assert invalid.value.body["error"]["details"][0]["field"] == "document"


def test_an_operator_reads_the_debtor_timeline_oldest_first(platform: RunningPlatform) -> None:
    client = platform.client("acme", "operator")
    client.wait_for_import(
        client.upload_carteira((EXAMPLES / "carteira-exemplo.csv").read_bytes())["import_id"]
    )
    entries = timeline_settled(client, "122.998.994-30", 2)
    assert len(entries) == 2, "both of the debtor's debts are on the timeline"
    assert {e["type"] for e in entries} == {"DebtImported"}
    assert {e["service"] for e in entries} == {"portfolio"}
    summaries = sorted(e["summary"] for e in entries)
    assert summaries[0].startswith("Dívida importada: Banco Horizonte S.A., contrato BHS-03682369")
    assert "R$ 56,43" in summaries[0] and "vencimento 18/11/2025" in summaries[0]
    times = [e["occurred_at"] for e in entries]
    assert times == sorted(times)


def test_reimporting_never_duplicates_and_records_what_changed(platform: RunningPlatform) -> None:
    client = platform.client("reimport", "operator")
    original = (EXAMPLES / "carteira-exemplo.csv").read_text()
    first = client.wait_for_import(client.upload_carteira(original.encode())["import_id"])
    assert first["created"] == 10

    again = client.wait_for_import(client.upload_carteira(original.encode())["import_id"])
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 10)

    changed = original.replace("172,12;07/11/2025", "300,00;07/12/2025")
    third = client.wait_for_import(client.upload_carteira(changed.encode())["import_id"])
    assert (third["created"], third["updated"], third["unchanged"]) == (0, 1, 9)

    wait_for(
        lambda: any(
            d["original_amount_cents"] == 30000
            for d in platform.anonymous().lookup("reimport", "12299899430")["debts"]
        ),
        timeout=30,
    )
    debts = platform.anonymous().lookup("reimport", "12299899430")["debts"]
    assert sorted((d["original_amount_cents"], d["due_date"]) for d in debts) == [
        (5643, "2025-11-18"),
        (30000, "2025-12-07"),
    ]
    entries = timeline_settled(client, "12299899430", 3)
    assert [e["type"] for e in entries].count("DebtImported") == 2
    (updated,) = [e["summary"] for e in entries if e["type"] == "DebtUpdated"]
    assert "valor de R$ 172,12 para R$ 300,00" in updated
    assert "vencimento de 07/11/2025 para 07/12/2025" in updated


def test_a_token_for_one_tenant_never_reads_another(platform: RunningPlatform) -> None:
    mine = platform.client("tenant-a", "operator")
    import_id = mine.upload_carteira((EXAMPLES / "carteira-exemplo.csv").read_bytes())["import_id"]
    mine.wait_for_import(import_id)
    timeline_settled(mine, "12299899430", 2)
    theirs = platform.client("tenant-b", "admin")

    with pytest.raises(GatewayError) as status:
        theirs.import_status(import_id)
    assert status.value.status == 404
    assert theirs.timeline("12299899430")["entries"] == []
    # tenant-b has imported nothing: no portal to look anyone up in.
    with pytest.raises(GatewayError) as no_portal:
        platform.anonymous().lookup("tenant-b", "12299899430")
    assert no_portal.value.status == 404
    assert mine.timeline("12299899430")["entries"]


def test_roles_and_tokens_are_enforced(platform: RunningPlatform) -> None:
    with pytest.raises(GatewayError) as anonymous:
        platform.anonymous().timeline("12299899430")
    assert anonymous.value.status == 401
    assert anonymous.value.body["error"]["code"] == "unauthorized"
    with pytest.raises(GatewayError) as analyst:
        platform.client("acme", "analyst").upload_carteira(b"documento;nome\n")
    assert analyst.value.status == 403


def test_a_file_that_is_not_a_csv_is_refused_and_imports_nothing(platform: RunningPlatform) -> None:
    client = platform.client("refused", "operator")
    for body in (b"%PDF-1.7\n\x00\x01binary", b"", b"just some words\nand more words\n"):
        with pytest.raises(GatewayError) as refused:
            client.upload_carteira(body)
        assert refused.value.status == 422
        assert refused.value.body["error"]["code"] == "not_a_carteira_csv"
        assert refused.value.body["error"]["message"]
    listing = client.http.get("/api/v1/carteiras/").json()
    assert listing == []


def _row(tenant: str, import_id: str, n: int, fields: dict[str, str]) -> CarteiraRowSubmitted:
    return CarteiraRowSubmitted(
        event_id=derived_event_id("client-test", import_id, n),
        occurred_at="2026-11-25T12:00:00Z",  # type: ignore[arg-type]
        tenant=tenant,
        aggregate_id=import_id,
        aggregate_version=n,
        correlation_id=import_id,
        causation_id=import_id,
        import_id=import_id,
        source="client",
        row_key=f"erp-{n}",
        client_row_id=f"erp-{n}",
        fields=RowFields(**fields),
    )


def test_a_client_system_pushes_a_carteira_as_events(platform: RunningPlatform) -> None:
    tenant, import_id = "pushco", f"erp-batch-{uuid.uuid4().hex[:6]}"
    good = {
        "document": "12299899430",
        "name": "Wesley Dias Pereira",
        "creditor": "Loja X",
        "contract": "X-1",
        "original_amount": "1234.56",
        "due_date": "2026-01-10",
    }
    bad = good | {"contract": "X-2", "original_amount": "-5"}
    header = CarteiraImportRequested(
        event_id=derived_event_id("client-test", import_id, 0),
        occurred_at="2026-11-25T12:00:00Z",  # type: ignore[arg-type]
        tenant=tenant,
        aggregate_id=import_id,
        aggregate_version=0,
        correlation_id=import_id,
        causation_id=import_id,
        import_id=import_id,
        source="client",
        rows_total=2,
    )
    messages = [header, _row(tenant, import_id, 1, good), _row(tenant, import_id, 2, bad)]

    async def push_and_read_rejections() -> list[dict[str, object]]:
        producer = AIOKafkaProducer(bootstrap_servers=platform.broker.bootstrap)
        await producer.start()
        try:
            for message in messages:
                await producer.send_and_wait(
                    INBOUND_TOPIC, message.model_dump_json().encode(), key=import_id.encode()
                )
            # Twice, as an at-least-once client would after a timeout: nothing doubles.
            for message in messages:
                await producer.send_and_wait(
                    INBOUND_TOPIC, message.model_dump_json().encode(), key=import_id.encode()
                )
            await producer.send_and_wait(INBOUND_TOPIC, b"{not json", key=import_id.encode())
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(
            REJECTED_TOPIC,
            bootstrap_servers=platform.broker.bootstrap,
            auto_offset_reset="earliest",
            group_id=f"test-{uuid.uuid4().hex}",
        )
        await consumer.start()
        found: list[dict[str, object]] = []
        try:
            deadline = asyncio.get_running_loop().time() + 60
            while not found and asyncio.get_running_loop().time() < deadline:
                batch = await consumer.getmany(timeout_ms=500)
                for records in batch.values():
                    for record in records:
                        body = json.loads(record.value)
                        if body["import_id"] == import_id:
                            found.append(body)
        finally:
            await consumer.stop()
        return found

    rejected = asyncio.run(push_and_read_rejections())
    assert len(rejected) == 1
    assert rejected[0]["client_row_id"] == "erp-2"
    assert "negativo" in str(rejected[0]["reason"])

    client = platform.client(tenant, "integration")
    status = client.wait_for_import(import_id, timeout=60)
    assert (status["rows_read"], status["created"], status["rejected"]) == (2, 1, 1)
    assert status["source"] == "client"
    debts = lookup_settled(platform, tenant, "12299899430", 1)["debts"]
    assert [d["original_amount_cents"] for d in debts] == [123456]


def test_a_generated_carteira_and_the_read_models_agree_with_the_store(
    platform: RunningPlatform,
) -> None:
    import datetime as dt

    client = platform.client("bulk", "operator")
    csv_text = generate_carteira(1500, seed=7, today=dt.date(2026, 11, 25))
    status = client.wait_for_import(
        client.upload_carteira(csv_text.encode())["import_id"], timeout=120
    )
    assert status["rows_read"] == 1500
    assert status["rejected"] == 30  # 2% spoiled on purpose
    wait_for(lambda: not differences(platform.settings), timeout=60, what="read models to catch up")


def test_a_rebuilt_read_model_equals_the_live_one_row_for_row(
    platform: RunningPlatform, tmp_path: Path
) -> None:
    import subprocess
    import sys

    from sqlalchemy import select

    from service_runtime.database import engine_from_url, service_engine, vault_engine
    from service_runtime.personal_data import SqlKeyVault
    from services.gateway.entrypoints.main import PROJECTION_NAMES, build_projections

    client = platform.client("replay", "operator")
    client.wait_for_import(
        client.upload_carteira((EXAMPLES / "carteira-exemplo.csv").read_bytes())["import_id"]
    )
    wait_for(lambda: not differences(platform.settings), timeout=60, what="read models to catch up")
    env = platform.platform.service_env()
    live = service_engine(platform.settings, "gateway", "read")
    # All of them in one run, as an operator rebuilding the gateway would.
    target = tmp_path / "rebuilt.sqlite"
    result = subprocess.run(
        [sys.executable, "-m", "cobranca", "replay", "--target-url", f"sqlite:///{target}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    for name in PROJECTION_NAMES:
        assert f"{name}: rebuilt from" in result.stderr  # the console writes to stderr
    rebuilt = engine_from_url(f"sqlite:///{target}")
    projections = build_projections(SqlKeyVault(vault_engine(platform.settings)))
    for name, projection in projections.items():
        for table in projection.metadata.sorted_tables:
            order = list(table.primary_key.columns)
            with live.connect() as a, rebuilt.connect() as b:
                live_rows = [tuple(r) for r in a.execute(select(table).order_by(*order))]
                rebuilt_rows = [tuple(r) for r in b.execute(select(table).order_by(*order))]
            assert rebuilt_rows == live_rows, f"{name}.{table.name} differs after replay"


def test_health_request_ids_english_messages_and_the_lookup_limit(
    platform: RunningPlatform,
) -> None:
    anonymous = platform.anonymous().http
    assert anonymous.get("/health/live").status_code == 200
    # A monitor's HEAD, as the served gateway answers it: the GET's status, no body.
    probed = anonymous.head("/health/live")
    assert (probed.status_code, probed.content) == (200, b"")
    ready = wait_for(
        lambda: (r := anonymous.get("/health/ready")).status_code == 200 and r,
        timeout=60,
        what="/health/ready to answer 200",
    )
    assert set(ready.json()["projections"]) >= {"portal_view", "timeline", "audit"}
    assert ready.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in ready.headers["content-security-policy"]

    admin = platform.client("acme", "admin").http
    missing = admin.get("/api/v1/carteiras/nao-existe", headers={"X-Request-ID": "e2e-404"})
    assert missing.status_code == 404
    assert missing.headers["x-request-id"] == "e2e-404"
    error = missing.json()["error"]
    assert (error["code"], error["message_en"], error["request_id"]) == (
        "not_found",
        "Not found",
        "e2e-404",
    )
    assert "não encontrada" in error["message"]

    # The same document looked up in a burst: refused past the limit, with the wait. The
    # limit comes first: "limites" has no portal (404 naming the tenant), counted all the same.
    answers = []
    for _ in range(30):
        answer = anonymous.post(
            "/api/v1/portal/limites/lookup", json={"document": "529.982.247-25"}
        )
        answers.append(answer)
        if answer.status_code == 429:
            break
    refused = answers[-1]
    assert refused.status_code == 429, [a.status_code for a in answers]
    assert {a.status_code for a in answers[:-1]} == {404}
    assert answers[0].json()["error"]["details"][0]["rule"] == "no_portal"
    assert int(refused.headers["retry-after"]) >= 1
    error = refused.json()["error"]
    assert error["code"] == "rate_limited"
    assert error["details"][0]["rule"] == "per_document"
    assert error["message_en"].startswith("Too many requests")
    assert error["request_id"] == refused.headers["x-request-id"]
