"""`cobranca import`'s "Linhas recusadas" table names each refused row's document as typed in
the file (QA: it showed only the line and the reason, while the import status API answers
`document_as_received`): the agency finds the CNPJ to correct without opening the file."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def printed(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Any:
    from cobranca import cli

    monkeypatch.setattr(cli.console, "width", 200)  # wide enough that no cell is cut

    def show(status: dict[str, Any]) -> str:
        cli._print_summary(status)
        shown = capsys.readouterr()
        return shown.out + shown.err

    return show


def rejection(row: int, typed: str | None, document: str | None, reason: str) -> dict[str, Any]:
    return {
        "row_number": row,
        "row_key": str(row),
        "client_row_id": None,
        "document": document,
        "document_as_received": typed,
        "reason": reason,
        "errors": [],
    }


STATUS = {
    "import_id": "imp-1",
    "status": "completed",
    "rows_total": 4,
    "rows_read": 4,
    "accepted": 1,
    "rejected": 3,
}


def test_a_refused_row_shows_the_document_as_typed_in_the_file(printed: Any) -> None:
    shown = printed(
        STATUS
        | {
            "rejections": [
                rejection(2, "12ABC34501DE36", None, "CNPJ com dígito verificador inválido"),
                rejection(3, "529.982.247-25", "52998224725", "valor original: maior que zero"),
                rejection(4, "", None, "documento: obrigatório"),
            ]
        },
    )
    table = shown[shown.index("Linhas recusadas") :]
    assert "documento" in table
    lines = [" ".join(line.replace("│", " ").split()) for line in table.splitlines()]
    assert "2 12ABC34501DE36 CNPJ com dígito verificador inválido" in lines
    # As typed, with its punctuation, not the normalized one.
    assert "3 529.982.247-25 valor original: maior que zero" in lines
    # Nothing typed: a dash, the column stays in place.
    assert "4 - documento: obrigatório" in lines


def test_a_status_without_the_typed_document_shows_the_valid_one(printed: Any) -> None:
    """A gateway from before `document_as_received` (or a row stored before it, empty)."""
    old = rejection(5, None, "52998224725", "valor original: maior que zero")
    del old["document_as_received"]
    shown = printed(STATUS | {"rejections": [old]})
    lines = [" ".join(line.replace("│", " ").split()) for line in shown.splitlines()]
    assert "5 52998224725 valor original: maior que zero" in lines
