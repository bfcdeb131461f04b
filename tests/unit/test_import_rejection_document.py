"""QA D6: the rejection of a row whose CNPJ is invalid said `"document": null` on
`GET /api/v1/carteiras/{id}`, while other rejections carried the document: the agency could
not tell which CNPJ to correct without opening the file at that line. `document` stays what
it was (a valid document, normalized: an invalid one is no document); the rejection also
shows `document_as_received`, the row's document as typed in the file (on `carteiras.rejected`
it is `DebtRejected.fields.document`, version 1: no new schema)."""

from __future__ import annotations

import sqlalchemy as sa
from litestar.testing import TestClient

from contracts.carteiras import DebtRejected, RowError, RowFields
from services.gateway.adapters.tokens import issue_token
from services.gateway.read_models.imports import ImportStatusProjection, import_status
from tests.unit.test_gateway_security import KEY, real_app
from tests.unit.test_projections import AGENCY, IMPORT_ID, JOAO, _envelope, project, started


def rejected_row(row_number: int, typed: str, document: str | None, index: int) -> DebtRejected:
    return DebtRejected(
        **_envelope("import-agg", 2, 1, index),
        import_id=IMPORT_ID,
        row_key=str(row_number),
        row_number=row_number,
        document=document,
        reason="CNPJ com dígito verificador inválido",
        errors=[RowError(field="document", rule="check_digit", message="CNPJ inválido")],
        fields=RowFields(document=typed, name="Loja Ótima Ltda"),
    )


REJECTIONS = [
    started(),
    rejected_row(7, "12ABC34501DE36", None, 1),  # wrong check digit: no document
    rejected_row(8, "529.982.247-25", JOAO, 2),  # a valid one, another rule broken
]


def test_the_import_status_shows_the_document_as_typed_next_to_the_valid_one() -> None:
    engine = sa.create_engine("sqlite://")
    project(engine, ImportStatusProjection(), REJECTIONS)

    status = import_status(engine, AGENCY, IMPORT_ID)
    assert status is not None
    assert [(r["document"], r["document_as_received"]) for r in status["rejections"]] == [
        (None, "12ABC34501DE36"),
        (JOAO, "529.982.247-25"),
    ]


def test_the_api_answers_it() -> None:
    app, engine = real_app()
    project(engine, ImportStatusProjection(), REJECTIONS)
    token = issue_token(KEY, tenant=AGENCY, role="admin")

    answer = TestClient(app).get(
        f"/api/v1/carteiras/{IMPORT_ID}", headers={"Authorization": f"Bearer {token}"}
    )

    assert answer.status_code == 200, answer.text
    bad_cnpj, _ = answer.json()["rejections"]
    assert (bad_cnpj["row_number"], bad_cnpj["document"]) == (7, None)
    assert bad_cnpj["document_as_received"] == "12ABC34501DE36"


def test_a_table_from_before_gets_the_column_and_keeps_its_rows() -> None:
    engine = sa.create_engine("sqlite://")
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "CREATE TABLE carteira_rejections (tenant VARCHAR(63), import_id VARCHAR(128), "
                "row_key VARCHAR(128), row_number INTEGER, client_row_id VARCHAR(128), "
                "document VARCHAR(14), reason TEXT NOT NULL, errors JSON NOT NULL, "
                "PRIMARY KEY (tenant, import_id, row_key))"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO carteira_rejections VALUES "
                f"('{AGENCY}', '{IMPORT_ID}', '3', 3, NULL, NULL, 'nome vazio', '[]')"
            )
        )
    project(engine, ImportStatusProjection(), REJECTIONS)
    ImportStatusProjection().create_tables(engine)  # a second start adds nothing

    status = import_status(engine, AGENCY, IMPORT_ID)
    assert status is not None
    assert [(r["row_number"], r["document_as_received"]) for r in status["rejections"]] == [
        (3, None),
        (7, "12ABC34501DE36"),
        (8, "529.982.247-25"),
    ]
