"""An agency operator uploads a creditor's carteira through the gateway: the file is read at
once, its rows are kept in the gateway's event store, and they leave as exactly the messages a
client system would publish on `carteiras.inbound`."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import pytest

from cobranca.demo_data import generate_carteira
from contracts.carteiras import (
    INBOUND_TOPIC,
    CarteiraImportRequested,
    CarteiraRowSubmitted,
    CarteiraRowSubmittedV3,
)
from contracts.envelope import Envelope
from services.gateway.adapters.integration_events import integration_events
from services.gateway.application.uploads import GatewayApplication
from services.gateway.domain.carteira_csv import NotACarteiraCsv, read_carteira
from services.gateway.domain.upload import CHUNK_ROWS, CarteiraUpload

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "carteira-exemplo.csv"
TODAY = dt.date(2026, 11, 25)
AGENCY = "recupera-sul"


@pytest.fixture
def gateway() -> GatewayApplication:
    return GatewayApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})


def stored_events(app: GatewayApplication) -> list[Any]:
    notifications = app.recorder.select_notifications(start=1, limit=100_000)
    return [app.mapper.to_domain_event(n) for n in notifications]


def inbound_messages(app: GatewayApplication) -> list[Envelope]:
    messages = []
    for event in stored_events(app):
        for topic, message in integration_events(event):
            assert topic == INBOUND_TOPIC
            messages.append(message)
    return messages


def test_an_uploaded_carteira_is_stored_with_all_its_rows(gateway: GatewayApplication) -> None:
    data = EXAMPLE.read_bytes()
    expected_rows = read_carteira(data).rows

    receipt = gateway.receive_carteira(
        tenant=AGENCY, data=data, filename="carteira-exemplo.csv", requested_by="ana@recupera-sul"
    )

    assert receipt.rows_total == len(expected_rows) == 12
    assert (receipt.encoding, receipt.delimiter, receipt.ignored_columns) == ("utf-8", ";", [])
    assert uuid.UUID(receipt.import_id).version == 4

    received, *chunks = stored_events(gateway)
    assert isinstance(received, CarteiraUpload.Received)
    assert received.originator_id == uuid.UUID(receipt.import_id)
    assert (received.tenant, received.filename, received.requested_by) == (
        AGENCY,
        "carteira-exemplo.csv",
        "ana@recupera-sul",
    )
    assert (received.rows_total, received.encoding, received.delimiter) == (12, "utf-8", ";")
    assert len(chunks) == 1
    assert isinstance(chunks[0], CarteiraUpload.RowsReceived)
    assert chunks[0].rows == [[r.row_number, dict(r.fields)] for r in expected_rows]

    upload = gateway.repository.get(uuid.UUID(receipt.import_id))
    assert isinstance(upload, CarteiraUpload)
    assert (upload.tenant, upload.rows_total) == (AGENCY, 12)


def test_an_upload_becomes_one_import_request_then_one_message_per_row(
    gateway: GatewayApplication,
) -> None:
    receipt = gateway.receive_carteira(
        tenant=AGENCY,
        data=EXAMPLE.read_bytes(),
        filename="carteira-exemplo.csv",
        requested_by="ana@recupera-sul",
    )

    first, *rows = inbound_messages(gateway)

    assert isinstance(first, CarteiraImportRequested)
    assert (first.tenant, first.import_id, first.source) == (AGENCY, receipt.import_id, "upload")
    assert (first.filename, first.rows_total, first.requested_by) == (
        "carteira-exemplo.csv",
        12,
        "ana@recupera-sul",
    )
    assert first.partition_key() == receipt.import_id.encode()

    assert len(rows) == 12
    # The example has a date of birth column: its rows go in version 3, the one with it.
    assert all(isinstance(r, CarteiraRowSubmittedV3) for r in rows)
    # The header is line 1, so the rows are lines 2..13, and the line is the row's key.
    assert [r.row_key for r in rows] == [str(n) for n in range(2, 14)]  # type: ignore[attr-defined]
    for message in rows:
        assert isinstance(message, CarteiraRowSubmittedV3)
        assert message.row_number == int(message.row_key)
        assert (message.import_id, message.tenant, message.source) == (
            receipt.import_id,
            AGENCY,
            "upload",
        )
        assert message.rows_total == 12
        assert message.causation_id == str(first.event_id)
        assert message.correlation_id == receipt.import_id
        # Same partition as the header, so the portfolio reads the header first.
        assert message.partition_key() == first.partition_key()

    line_2 = rows[0]
    assert isinstance(line_2, CarteiraRowSubmittedV3)
    assert line_2.fields.document == "33.218.196/0001-44"
    assert line_2.fields.creditor == "Varejo Bom Preço Ltda"
    assert line_2.fields.original_amount == "5749,34"
    assert line_2.fields.due_date == "12/08/2026"
    assert line_2.fields.email == ""  # an empty cell, as written
    assert line_2.fields.birth_date == ""  # this company's opening date was not sent
    josefa = rows[3]
    assert isinstance(josefa, CarteiraRowSubmittedV3)
    assert (josefa.fields.name, josefa.fields.birth_date) == ("Josefa Sampaio", "30/06/1985")


def test_a_file_without_the_date_of_birth_column_still_goes_in_version_1(
    gateway: GatewayApplication,
) -> None:
    text = "documento;nome;credor;contrato;valor;vencimento\n"
    text += "529.982.247-25;João da Silva;Banco X;C-1;100,00;01/10/2026\n"
    gateway.receive_carteira(
        tenant=AGENCY, data=text.encode(), filename="antigo.csv", requested_by="ana"
    )
    _, row = inbound_messages(gateway)
    assert type(row) is CarteiraRowSubmitted


def test_the_messages_of_an_upload_keep_their_ids_when_published_again(
    gateway: GatewayApplication,
) -> None:
    gateway.receive_carteira(
        tenant=AGENCY, data=EXAMPLE.read_bytes(), filename=None, requested_by="ana"
    )

    first_run = [m.event_id for m in inbound_messages(gateway)]
    second_run = [m.event_id for m in inbound_messages(gateway)]

    assert first_run == second_run
    assert len(set(first_run)) == len(first_run) == 13


def test_two_uploads_of_the_same_file_are_two_imports(gateway: GatewayApplication) -> None:
    data = EXAMPLE.read_bytes()
    one = gateway.receive_carteira(tenant=AGENCY, data=data, filename="a.csv", requested_by="ana")
    two = gateway.receive_carteira(tenant=AGENCY, data=data, filename="a.csv", requested_by="ana")

    assert one.import_id != two.import_id
    messages = inbound_messages(gateway)
    assert len(messages) == 26
    assert len({m.event_id for m in messages}) == 26


def test_a_large_carteira_is_stored_in_chunks_and_sent_row_by_row(
    gateway: GatewayApplication,
) -> None:
    text = generate_carteira(2_500, seed=7, today=TODAY)

    receipt = gateway.receive_carteira(
        tenant=AGENCY,
        data=text.encode("utf-8"),
        filename="banco-horizonte.csv",
        requested_by="erp",
    )

    assert receipt.rows_total == 2_500
    events = stored_events(gateway)
    chunks = [e for e in events if isinstance(e, CarteiraUpload.RowsReceived)]
    assert len(chunks) == 3
    assert [len(c.rows) for c in chunks] == [CHUNK_ROWS, CHUNK_ROWS, 500]
    assert [c.originator_version for c in chunks] == [2, 3, 4]

    messages = inbound_messages(gateway)
    requests = [m for m in messages if isinstance(m, CarteiraImportRequested)]
    rows = [m for m in messages if isinstance(m, CarteiraRowSubmittedV3)]
    assert len(requests) == 1 and messages[0] is requests[0]
    assert requests[0].rows_total == 2_500
    assert len(rows) == 2_500
    assert [r.row_number for r in rows] == list(range(2, 2_502))
    assert len({r.row_key for r in rows}) == 2_500
    assert len({m.event_id for m in messages}) == 2_501
    assert all(r.rows_total == 2_500 for r in rows)


@pytest.mark.parametrize(
    ("data", "rule"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "binary"),
        (b"PK\x03\x04\x14\x00\x06\x00", "binary"),
        (b"", "empty"),
        (b"nome;telefone\nJoao;11987654321\n", "missing_columns"),
        (b"documento;nome;credor;contrato;valor;vencimento\n", "no_rows"),
    ],
    ids=["pdf", "xlsx", "empty", "missing-columns", "header-only"],
)
def test_a_file_that_is_not_a_carteira_is_refused_and_nothing_is_stored(
    gateway: GatewayApplication, data: bytes, rule: str
) -> None:
    with pytest.raises(NotACarteiraCsv) as refused:
        gateway.receive_carteira(tenant=AGENCY, data=data, filename="x", requested_by="ana")

    assert refused.value.rule == rule
    assert refused.value.message  # a pt-BR sentence for the person who sent it
    assert stored_events(gateway) == []
