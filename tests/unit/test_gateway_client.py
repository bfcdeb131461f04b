"""The gateway client waits for an import that the gateway does not know yet (pushed by a
client system on `carteiras.inbound`), and gives up on anything else."""

from __future__ import annotations

import httpx
import pytest

from cobranca.client import GatewayClient, GatewayError

NOT_FOUND = {"error": {"code": "not_found", "message": "importação não encontrada"}}


def client_answering(*answers: tuple[int, dict[str, object]]) -> tuple[GatewayClient, list[str]]:
    asked: list[str] = []
    queue = list(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        status, body = queue.pop(0) if len(queue) > 1 else queue[0]
        return httpx.Response(status, json=body)

    client = GatewayClient("http://gateway.test", token="t")
    client.http = httpx.Client(
        base_url="http://gateway.test", transport=httpx.MockTransport(handler)
    )
    return client, asked


def test_an_import_not_known_yet_is_waited_for_until_it_completes() -> None:
    client, asked = client_answering(
        (404, NOT_FOUND),
        (404, NOT_FOUND),
        (200, {"status": "importing", "rows_read": 1}),
        (200, {"status": "completed", "rows_read": 2}),
    )

    status = client.wait_for_import("erp-batch-1", timeout=30)

    assert status["status"] == "completed"
    assert asked == ["/api/v1/carteiras/erp-batch-1"] * 4


def test_an_import_never_known_ends_with_the_gateways_404() -> None:
    client, _ = client_answering((404, NOT_FOUND))

    with pytest.raises(GatewayError) as raised:
        client.wait_for_import("erp-batch-2", timeout=0.5)

    assert raised.value.status == 404


def test_other_errors_are_not_waited_for() -> None:
    client, asked = client_answering((403, {"error": {"message": "sem permissão"}}))

    with pytest.raises(GatewayError):
        client.wait_for_import("erp-batch-3", timeout=30)

    assert len(asked) == 1
