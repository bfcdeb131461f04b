"""The API docs can send the files the API takes: a carteira CSV is a request body of the
upload in the OpenAPI document, not something only the README tells."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import TestClient

from services.gateway.entrypoints.http.controllers import CarteiraController
from services.gateway.entrypoints.http.negotiation import PaymentsController


def test_the_carteira_upload_documents_its_csv_body() -> None:
    with TestClient(Litestar([CarteiraController])) as client:
        schema = client.get("/schema/openapi.json").json()

    body = schema["paths"]["/api/v1/carteiras"]["post"]["requestBody"]
    assert body["required"] is True
    assert body["content"]["text/csv"]["schema"] == {"type": "string", "format": "binary"}


def test_the_cnab240_import_documents_its_file_body() -> None:
    with TestClient(Litestar([PaymentsController])) as client:
        schema = client.get("/schema/openapi.json").json()

    body = schema["paths"]["/api/v1/payments/cnab240"]["post"]["requestBody"]
    assert set(body["content"]) == {"text/plain", "application/octet-stream"}
