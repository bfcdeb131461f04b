"""Carteira files as creditors really send them: Excel pt-BR exports, ERP dumps, files saved
on Windows, and now and then something that is not a CSV at all."""

from __future__ import annotations

import pytest

from services.gateway.domain.carteira_csv import (
    COLUMNS,
    NotACarteiraCsv,
    canonical_column,
    read_carteira,
)

HEADER_BR = "documento;nome;credor;contrato;parcela;valor_original;vencimento"
ROW_JOAO = "529.982.247-25;João da Silva;Banco Horizonte S.A.;BH-001;1;1.234,56;10/01/2025"
ROW_ACOUGUE = "11.222.333/0001-81;Açougue São Jorge Ltda;Varejo Bom Preço;VB-9;2;99,90;2024-12-31"


def _csv(*lines: str, newline: str = "\n") -> str:
    return newline.join(lines) + newline


# --- what Excel pt-BR and Windows produce ---------------------------------------------------


def test_excel_pt_br_export_in_windows_1252() -> None:
    data = _csv(
        "CPF/CNPJ;Nome;Credor;Contrato;Parcela;Valor Original;Data de Vencimento;Município;UF",
        ROW_JOAO + ";São Paulo;SP",
        newline="\r\n",
    ).encode("cp1252")

    carteira = read_carteira(data)

    assert carteira.encoding == "cp1252"
    assert carteira.delimiter == ";"
    row = carteira.rows[0]
    assert row.row_number == 2
    assert row.fields == {
        "document": "529.982.247-25",
        "name": "João da Silva",
        "creditor": "Banco Horizonte S.A.",
        "contract": "BH-001",
        "installment": "1",
        "original_amount": "1.234,56",
        "due_date": "10/01/2025",
        "city": "São Paulo",
        "state": "SP",
    }


def test_utf8_with_bom_does_not_glue_the_bom_to_the_first_column() -> None:
    data = b"\xef\xbb\xbf" + _csv(HEADER_BR, ROW_JOAO).encode("utf-8")

    carteira = read_carteira(data)

    assert carteira.encoding == "utf-8-sig"
    assert carteira.columns[0] == "document"
    assert carteira.rows[0].fields["document"] == "529.982.247-25"
    assert carteira.rows[0].fields["name"] == "João da Silva"


def test_utf8_without_bom_is_read_as_utf8_not_as_mojibake() -> None:
    carteira = read_carteira(_csv(HEADER_BR, ROW_JOAO, ROW_ACOUGUE).encode("utf-8"))

    assert carteira.encoding == "utf-8"
    assert [r.fields["name"] for r in carteira.rows] == ["João da Silva", "Açougue São Jorge Ltda"]


def test_excel_unicode_text_export_utf16_with_tabs() -> None:
    text = _csv(HEADER_BR.replace(";", "\t"), ROW_JOAO.replace(";", "\t"), newline="\r\n")
    carteira = read_carteira(text.encode("utf-16"))

    assert carteira.encoding == "utf-16"
    assert carteira.delimiter == "\t"
    assert carteira.rows[0].fields["name"] == "João da Silva"


def test_comma_separated_with_quoted_names_and_decimal_commas() -> None:
    data = _csv(
        "documento,nome,credor,contrato,valor,vencimento",
        '52998224725,"Silva, João","Banco Horizonte, S.A.",BH-1,"1.234,56",10/01/2025',
        "11222333000181,Padaria Pão Dourado,Varejo,VB-2,1234.56,2025-01-10",
    ).encode("utf-8")

    carteira = read_carteira(data)

    assert carteira.delimiter == ","
    first, second = carteira.rows
    assert first.fields["name"] == "Silva, João"
    assert first.fields["creditor"] == "Banco Horizonte, S.A."
    assert first.fields["original_amount"] == "1.234,56"
    assert second.fields["original_amount"] == "1234.56"


def test_semicolon_file_with_a_quoted_semicolon_and_commas_everywhere() -> None:
    # The header has no ';' inside quotes, but names and amounts are full of commas: the
    # delimiter must still be ';'.
    data = _csv(
        HEADER_BR,
        '52998224725;"Padaria; Confeitaria, Silva";Banco, S.A.;C-1;1;"12,50";01/02/2024',
        "52998224725;Silva, Souza & Cia;Banco, S.A.;C-2;1;1.000,00;01/03/2024",
    ).encode("utf-8")

    carteira = read_carteira(data)

    assert carteira.delimiter == ";"
    assert [r.fields["name"] for r in carteira.rows] == [
        "Padaria; Confeitaria, Silva",
        "Silva, Souza & Cia",
    ]
    assert [r.fields["original_amount"] for r in carteira.rows] == ["12,50", "1.000,00"]


def test_tab_separated_file() -> None:
    data = _csv(HEADER_BR.replace(";", "\t"), ROW_JOAO.replace(";", "\t")).encode("utf-8")
    carteira = read_carteira(data)
    assert carteira.delimiter == "\t"
    assert carteira.rows[0].fields["original_amount"] == "1.234,56"


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_any_line_ending(newline: str) -> None:
    carteira = read_carteira(_csv(HEADER_BR, ROW_JOAO, ROW_ACOUGUE, newline=newline).encode())
    assert [r.row_number for r in carteira.rows] == [2, 3]
    assert carteira.rows[1].fields["due_date"] == "2024-12-31"


def test_values_are_stripped() -> None:
    data = _csv(HEADER_BR, " 529.982.247-25 ;  João da Silva ; Banco ;C1; 1 ; 10,00 ;10/01/2025 ")
    fields = read_carteira(data.encode()).rows[0].fields
    assert fields["document"] == "529.982.247-25"
    assert fields["name"] == "João da Silva"
    assert fields["original_amount"] == "10,00"
    assert fields["due_date"] == "10/01/2025"


# --- headers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "canonical"),
    [
        ("documento", "document"),
        ("CPF", "document"),
        ("CNPJ", "document"),
        ("CPF/CNPJ", "document"),
        ("cpf_cnpj", "document"),
        ("Document", "document"),
        ("NOME", "name"),
        ("Credor", "creditor"),
        ("Contrato", "contract"),
        ("Nº Contrato", "contract"),
        ("PARCELA", "installment"),
        ("Valor", "original_amount"),
        ("valor_original", "original_amount"),
        ("Valor Original", "original_amount"),
        ("original_amount", "original_amount"),
        ("Vencimento", "due_date"),
        ("data_vencimento", "due_date"),
        ("Data de Vencimento", "due_date"),
        ("due date", "due_date"),
        ("E-mail", "email"),
        ("EMAIL", "email"),
        ("Telefone", "phone"),
        ("Celular", "phone"),
        ("Cidade", "city"),
        ("Município", "city"),
        ("UF", "state"),
        ("Estado", "state"),
        ("Categoria", "category"),
        ("  Categoria  ", "category"),
        ("Observações", None),
        ("Valor Atualizado", None),
    ],
)
def test_header_names_in_any_case_accent_spacing_or_underscore(
    header: str, canonical: str | None
) -> None:
    assert canonical_column(header) == canonical


def test_every_canonical_name_is_its_own_header() -> None:
    assert [canonical_column(c) for c in COLUMNS] == list(COLUMNS)


def test_unknown_columns_are_ignored_but_listed() -> None:
    data = _csv(HEADER_BR + ";Observações;Valor Atualizado", ROW_JOAO + ";ligar à tarde;1.300,00")

    carteira = read_carteira(data.encode())

    assert carteira.ignored_columns == ["Observações", "Valor Atualizado"]
    assert "Observações" not in carteira.rows[0].fields
    assert carteira.columns == [
        "document",
        "name",
        "creditor",
        "contract",
        "installment",
        "original_amount",
        "due_date",
    ]


def test_separate_cpf_and_cnpj_columns_give_one_document() -> None:
    data = _csv(
        "CPF;CNPJ;Nome;Credor;Contrato;Valor;Vencimento",
        "529.982.247-25;;João da Silva;Banco;C1;10,00;10/01/2025",
        ";11.222.333/0001-81;Padaria Central;Banco;C2;20,00;10/01/2025",
    )
    rows = read_carteira(data.encode()).rows
    assert [r.fields["document"] for r in rows] == ["529.982.247-25", "11.222.333/0001-81"]


def test_a_title_line_above_the_header_is_skipped() -> None:
    data = _csv(
        "Carteira Banco Horizonte - remessa de novembro;;;;;;",
        "",
        HEADER_BR,
        ROW_JOAO,
    )

    carteira = read_carteira(data.encode())

    assert carteira.header_line == 3
    assert carteira.rows[0].row_number == 4


# --- row numbers as a person counts them ---------------------------------------------------


def test_blank_lines_are_skipped_but_still_counted() -> None:
    data = _csv(HEADER_BR, ROW_JOAO, "", "   ", ";;;;;;", ROW_ACOUGUE, "", "")

    carteira = read_carteira(data.encode())

    assert [r.row_number for r in carteira.rows] == [2, 6]


def test_a_quoted_line_break_keeps_the_row_number_where_the_row_starts() -> None:
    data = _csv(
        HEADER_BR,
        '52998224725;"João\nda Silva";Banco;C1;1;10,00;10/01/2025',
        ROW_ACOUGUE,
    )

    rows = read_carteira(data.encode()).rows

    assert rows[0].fields["name"] == "João\nda Silva"
    assert [r.row_number for r in rows] == [2, 4]


def test_a_quote_left_open_rejects_the_file_at_its_line_instead_of_swallowing_the_rest() -> None:
    # Row 3 opens a quote it never closes: a lenient reader makes rows 3 to 5 one name and
    # the file seems to have two rows. The operator is told where to look, nothing is imported.
    data = _csv(
        HEADER_BR,
        ROW_JOAO,
        '61695214000;"Ana;Banco Q;Q-2;1;10,00;01/01/2025',
        ROW_ACOUGUE,
        "52998224725;Maria;Banco Q;Q-3;1;20,00;01/02/2025",
    )

    with pytest.raises(NotACarteiraCsv) as caught:
        read_carteira(data.encode())

    assert caught.value.rule == "malformed"
    assert caught.value.message.startswith("linha 3: ")
    assert "aspas" in caught.value.message


def test_a_stray_character_after_a_closing_quote_rejects_the_file_at_its_line() -> None:
    data = _csv(HEADER_BR, ROW_JOAO, '52998224725;"João" da Silva;Banco;C1;1;10,00;10/01/2025')

    with pytest.raises(NotACarteiraCsv) as caught:
        read_carteira(data.encode())

    assert caught.value.rule == "malformed"
    assert caught.value.message.startswith("linha 3: ")


def test_short_rows_have_empty_values_and_long_rows_keep_the_extra_values() -> None:
    data = _csv(
        HEADER_BR + ";email",
        "52998224725;João da Silva;Banco",
        ROW_JOAO + ";joao@example.com;10;00",
    )

    short, long = read_carteira(data.encode()).rows

    assert short.fields["contract"] == ""
    assert short.fields["email"] == ""
    assert short.extra_values == ()
    assert long.fields["email"] == "joao@example.com"
    assert long.extra_values == ("10", "00")


def test_trailing_separators_from_excel_are_not_extra_values() -> None:
    data = _csv(HEADER_BR + ";;;", ROW_JOAO + ";;;;;")
    row = read_carteira(data.encode()).rows[0]
    assert row.extra_values == ()
    assert row.fields["due_date"] == "10/01/2025"


# --- not a carteira at all -----------------------------------------------------------------


@pytest.mark.parametrize("body", [b"", b"   \r\n\n", b"\xef\xbb\xbf", b"\xef\xbb\xbf\r\n"])
def test_an_empty_body_is_rejected(body: bytes) -> None:
    with pytest.raises(NotACarteiraCsv) as caught:
        read_carteira(body)
    assert caught.value.rule == "empty"
    assert caught.value.message == "o arquivo está vazio"


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n", "PDF"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00", "PNG"),
        (b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00", "Excel (.xlsx)"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00\x00", "Excel antiga (.xls)"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "JPEG"),
        (b"documento;nome\x00\x00\x00\x01\x02", "binário"),
    ],
)
def test_binary_files_are_rejected_naming_what_they_look_like(body: bytes, named: str) -> None:
    with pytest.raises(NotACarteiraCsv) as caught:
        read_carteira(body)
    assert caught.value.rule == "binary"
    assert named in caught.value.message
    assert "CSV" in caught.value.message


def test_a_file_without_a_header_lists_the_required_columns() -> None:
    data = _csv(ROW_JOAO, ROW_ACOUGUE)

    with pytest.raises(NotACarteiraCsv) as caught:
        read_carteira(data.encode())

    assert caught.value.rule == "no_header"
    for label in ("documento", "nome", "credor", "contrato", "valor original", "vencimento"):
        assert label in caught.value.message


def test_plain_text_is_not_a_carteira() -> None:
    with pytest.raises(NotACarteiraCsv) as caught:
        read_carteira("Segue em anexo a carteira de novembro.\nAtt,\nJoão".encode())
    assert caught.value.rule == "no_header"


def test_missing_required_columns_reject_the_whole_file_and_are_named() -> None:
    data = _csv("documento;nome;contrato;valor;parcela", "52998224725;João;C1;10,00;1")

    with pytest.raises(NotACarteiraCsv) as caught:
        read_carteira(data.encode())

    assert caught.value.rule == "missing_columns"
    assert caught.value.missing_columns == ("creditor", "due_date")
    assert caught.value.message.endswith("credor, vencimento")
    assert "linha 1" in caught.value.message


@pytest.mark.parametrize("after_header", ["", "\n\n", ";;;;;;\n;;;;;;\n"])
def test_a_header_without_rows_is_rejected(after_header: str) -> None:
    with pytest.raises(NotACarteiraCsv) as caught:
        read_carteira((HEADER_BR + "\n" + after_header).encode())
    assert caught.value.rule == "no_rows"
    assert "nenhuma linha de dados" in caught.value.message


def test_the_error_is_a_value_error_with_the_message() -> None:
    with pytest.raises(ValueError, match="o arquivo está vazio"):
        read_carteira(b"")


# --- size ------------------------------------------------------------------------------------
