"""The FEBRABAN CNAB 240 cobrança return: a hand-laid sample file read field by field, the
writer read back, and the broken files banks and people really produce."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.negotiation.adapters.cnab240 import (
    Cnab240Movement,
    NotACnab240File,
    ReturnPayment,
    parse_cnab240,
    write_cnab240_return,
)

SAMPLE = Path(__file__).parents[1] / "fixtures" / "cnab240" / "retorno_bradesco_sample.ret"


def _sample() -> str:
    # Bytes decoded by the caller, as the parser expects; read_text would turn CRLF into LF.
    return SAMPLE.read_bytes().decode("latin-1")


def _lines() -> list[str]:
    return _sample().split("\r\n")[:-1]


def _join(lines: list[str]) -> str:
    return "".join(line + "\r\n" for line in lines)


def _put(line: str, start: int, value: str) -> str:
    """The line with `value` at manual position `start` (1-based)."""
    return line[: start - 1] + value + line[start - 1 + len(value) :]


# --- the sample file, field by field ------------------------------------------------------


def test_sample_file_is_what_the_tests_think_it_is() -> None:
    data = SAMPLE.read_bytes()
    assert data.count(b"\r\n") == 10
    assert all(len(line) == 240 for line in data.split(b"\r\n")[:-1])
    assert data.endswith(b"\r\n")


def test_sample_header() -> None:
    parsed = parse_cnab240(_sample())

    assert parsed.problems == []
    assert parsed.bank_code == "237"
    assert parsed.bank_name == "BRADESCO"
    assert parsed.company_name == "COBRANCA HORIZONTE ASSESSORIA"
    assert parsed.generated_on == date(2025, 3, 15)
    assert parsed.file_sequence == 42
    assert len(parsed.movements) == 3


def test_sample_liquidation_paid_with_interest() -> None:
    movement = parse_cnab240(_sample()).movements[0]

    assert movement == Cnab240Movement(
        bank_code="237",
        batch=1,
        sequence=1,
        line=3,
        movement_code="06",
        nosso_numero="1234567890",
        nosso_numero_raw="00000000001234567890",
        seu_numero="NEG-2025-000123",
        carteira="1",
        agency="3456",
        account="98765",
        due_date=date(2025, 3, 10),
        title_amount_cents=15000,
        paid_amount_cents=15345,
        charges_cents=345,
        discount_cents=0,
        rebate_cents=0,
        iof_cents=0,
        net_amount_cents=15095,
        other_expenses_cents=0,
        other_credits_cents=0,
        fee_cents=250,
        occurrence_date=date(2025, 3, 12),
        credit_date=date(2025, 3, 13),
        collecting_bank="237",
        company_use="ACORDO 8812 PARCELA 1",
        payer_document="52998224725",
        payer_name="JOAO DA SILVA",
        reasons=("03",),
    )
    assert movement.is_liquidation
    assert movement.movement_description == "Liquidação"
    assert movement.paid_amount_cents > movement.title_amount_cents


def test_sample_liquidation_paid_short_with_discount() -> None:
    movement = parse_cnab240(_sample()).movements[1]

    assert movement == Cnab240Movement(
        bank_code="237",
        batch=1,
        sequence=3,
        line=5,
        movement_code="06",
        nosso_numero="987654321",  # the bank's "P" check digit is not a digit
        nosso_numero_raw="0000000000987654321P",
        seu_numero="NEG-2025-000124",
        carteira="1",
        agency="3456",
        account="98765",
        due_date=date(2025, 3, 20),
        title_amount_cents=123456,
        paid_amount_cents=120000,
        charges_cents=0,
        discount_cents=3456,
        rebate_cents=0,
        iof_cents=0,
        net_amount_cents=119750,
        other_expenses_cents=0,
        other_credits_cents=0,
        fee_cents=250,
        occurrence_date=date(2025, 3, 14),
        credit_date=date(2025, 3, 17),
        collecting_bank="237",
        company_use="ACORDO 8813 PARCELA 2",
        payer_document="11222333000181",
        payer_name="ACOUGUE SAO JORGE LTDA",
        reasons=("04",),
    )
    assert movement.is_liquidation
    assert movement.paid_amount_cents < movement.title_amount_cents


def test_sample_entry_confirmed_is_not_a_payment() -> None:
    movement = parse_cnab240(_sample()).movements[2]

    assert movement == Cnab240Movement(
        bank_code="237",
        batch=1,
        sequence=5,
        line=7,
        movement_code="02",
        nosso_numero="55501234567",
        nosso_numero_raw="55501234567         ",
        seu_numero="NEG-2025-000125",
        carteira="1",
        agency="3456",
        account="98765",
        due_date=date(2025, 4, 30),
        title_amount_cents=48000,
        paid_amount_cents=0,
        charges_cents=0,
        discount_cents=0,
        rebate_cents=0,
        iof_cents=0,
        net_amount_cents=0,
        other_expenses_cents=0,
        other_credits_cents=0,
        fee_cents=180,
        occurrence_date=date(2025, 3, 14),
        credit_date=None,
        collecting_bank="000",
        company_use="ACORDO 8814 PARCELA 1",
        payer_document="01234567890",  # a CPF keeps its leading zero
        payer_name="MARIA DE FATIMA SOUZA",
        reasons=(),
    )
    assert not movement.is_liquidation
    assert movement.movement_description == "Entrada confirmada"


def test_liquidations_are_the_paid_movements() -> None:
    parsed = parse_cnab240(_sample())

    assert [m.nosso_numero for m in parsed.liquidations] == ["1234567890", "987654321"]


def test_movements_are_immutable() -> None:
    movement = parse_cnab240(_sample()).movements[0]

    with pytest.raises(dataclasses.FrozenInstanceError):
        movement.paid_amount_cents = 0  # type: ignore[misc]


# --- line ends and padding ----------------------------------------------------------------


def test_lf_line_ends_read_like_crlf() -> None:
    crlf = _sample()
    lf = crlf.replace("\r\n", "\n")

    assert "\r" not in lf
    assert parse_cnab240(lf) == parse_cnab240(crlf)


def test_no_final_line_end_and_trailing_blank_lines() -> None:
    expected = parse_cnab240(_sample())

    assert parse_cnab240("\r\n".join(_lines())) == expected
    assert parse_cnab240(_sample() + "\r\n\r\n   \r\n") == expected
    assert parse_cnab240(_sample() + "\x1a") == expected  # DOS end-of-file mark


def test_a_file_whose_trailing_blanks_were_stripped_reads_as_the_whole_one() -> None:
    # QA: a return forwarded by e-mail (and one sent over FTP in text mode) came with every
    # line's trailing spaces gone, and was refused whole (record_length on every line).
    whole = parse_cnab240(_sample())
    lines = [line.rstrip(" ") for line in _lines()]
    assert {len(line) for line in lines} == {171, 207, 213, 215, 223, 115, 35}

    for stripped in (
        "\r\n".join(lines) + "\r\n",
        "\n".join(lines) + "\n",  # LF line ends
        "\n".join(lines),  # and no line end after the last record
        "\r\n".join(lines),
    ):
        assert parse_cnab240(stripped) == whole
    assert whole.defects == [] and len(whole.movements) == 3


# Each record of the sample cut one column before the last one that must hold data (what it
# lacks then is data, not blanks), and the field named there.
_CUT_BEFORE = [
    (0, 166, "versão do layout do arquivo (164-166)"),
    (1, 199, "data de gravação (192-199)"),
    (2, 213, "valor da tarifa (199-213)"),  # segment T
    (3, 213, "código do banco correspondente (211-213)"),  # segment U
    (8, 115, "totais do lote (99-115)"),
    (9, 29, "quantidade de registros do arquivo (24-29)"),
]


@pytest.mark.parametrize(("index", "required", "field"), _CUT_BEFORE, ids=lambda v: str(v))
def test_a_line_cut_where_its_data_is_is_not_whole(index: int, required: int, field: str) -> None:
    lines = _lines()
    stripped = [line.rstrip(" ") for line in lines]
    assert len(stripped[index]) >= required  # the sample fills the field

    # Written with everything after that field blank, and stripped: read as written.
    blank_after = list(lines)
    blank_after[index] = lines[index][:required].ljust(240)
    stripped_at_field = list(lines)
    stripped_at_field[index] = lines[index][:required]
    written = parse_cnab240(_join(blank_after))
    assert parse_cnab240(_join(stripped_at_field)) == written
    assert written.defects == []

    # One column less is a cut field: not whole, nothing of it applied.
    cut = list(lines)
    cut[index] = lines[index][: required - 1]
    if index == 0:  # a header cut short: not a CNAB 240 file at all
        with pytest.raises(NotACnab240File, match=f"A primeira linha tem {required - 1} "):
            parse_cnab240(_join(cut))
        return
    parsed = parse_cnab240(_join(cut))
    said = f"tem só {required - 1} colunas; o registro CNAB 240 tem 240"
    assert (index + 1, "record_length", said) in [
        (d.line, d.rule, d.message) for d in parsed.defects
    ], field
    assert f"linha {index + 1}: {said}" in parsed.problems


def test_a_line_that_ends_inside_a_number_was_cut_not_stripped() -> None:
    # Past the last field that must hold data, a number a bank may leave blank but writes
    # whole when it writes it: ending after some of its digits is a cut.
    lines = _lines()
    for index, start, end in ((1, 200, 207), (9, 30, 35)):  # data do crédito, conciliação
        assert lines[index][start - 1 : end].isdigit()
        cut = list(lines)
        cut[index] = lines[index][: end - 1]
        parsed = parse_cnab240(_join(cut))
        said = f"tem só {end - 1} colunas; o registro CNAB 240 tem 240"
        assert (index + 1, "record_length", said) in [
            (d.line, d.rule, d.message) for d in parsed.defects
        ]
        # Left blank by the bank, and stripped: read.
        blank = list(lines)
        blank[index] = lines[index][: start - 1]
        assert parse_cnab240(_join(blank)).defects == []


def test_a_file_cut_anywhere_is_not_whole() -> None:
    # QA: `head -c 900` left a U record of 174 columns and no trailers, and was applied.
    sample = _sample()
    assert parse_cnab240(sample[:-2]).defects == []  # without its last line end: whole

    trailer = len(sample) - 242  # where the file trailer begins
    for size in range(243, len(sample) - 2):
        parsed = parse_cnab240(sample[:size])
        kept = size - trailer  # of the file trailer's 240 columns
        if kept == 29 or kept >= 35:
            # Cut where only blanks follow (as a stripped file ends), or right after the
            # records' count: what is gone may be blank (the conciliation count, which Caixa
            # and Santander leave blank); every record is there and counted.
            assert parsed.defects == [], size
            assert parsed.movements == parse_cnab240(sample).movements
            continue
        assert parsed.defects, size
        assert {d.rule for d in parsed.defects} <= {"record_length", "truncated"}, size

    cut = parse_cnab240(sample[:900])
    assert [(d.line, d.rule, d.message) for d in cut.defects] == [
        (2, "truncated", "lote 1 sem trailer de lote"),
        (4, "record_length", "tem só 174 colunas; o registro CNAB 240 tem 240"),
        (
            4,
            "truncated",
            "o arquivo termina sem trailer de arquivo (registro tipo 9): pode estar incompleto",
        ),
    ]


def test_latin_1_text_fields_do_not_split_lines() -> None:
    # "\x85" is NEL in Latin-1, and str.splitlines would break the record there.
    lines = _lines()
    lines[2] = _put(lines[2], 149, "JOSÉ\x85DA SILVA")
    data = _join(lines).encode("latin-1")

    parsed = parse_cnab240(data.decode("latin-1"))

    assert parsed.problems == []
    assert parsed.movements[0].payer_name == "JOSÉ\x85DA SILVA"


# --- the writer ---------------------------------------------------------------------------

_TEXT = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-/. "


def _text(max_size: int) -> st.SearchStrategy[str]:
    return st.text(_TEXT, max_size=max_size).filter(lambda s: s == s.strip())


_DATES = st.dates(min_value=date(1990, 1, 1), max_value=date(2099, 12, 31))

_PAYMENTS = st.builds(
    ReturnPayment,
    nosso_numero=st.integers(1, 10**20 - 1).map(str),
    amount_cents=st.integers(0, 10**13),
    paid_cents=st.integers(0, 10**13),
    due_date=_DATES,
    paid_on=_DATES,
    credited_on=st.none() | _DATES,
    seu_numero=_text(15),
    payer_document=st.sampled_from(["", "529.982.247-25", "11.222.333/0001-81"])
    | st.text("0123456789", min_size=11, max_size=11).filter(lambda d: d.strip("0"))
    | st.text("0123456789", min_size=14, max_size=14).filter(lambda d: d.strip("0")),
    payer_name=_text(40),
    movement_code=st.sampled_from(["02", "06", "09", "17", "28"]),
    agency=st.integers(0, 99999).map(str),
    account=st.integers(0, 10**12 - 1).map(str),
)


def _as_payment(movement: Cnab240Movement) -> ReturnPayment:
    assert movement.due_date is not None
    assert movement.occurrence_date is not None
    return ReturnPayment(
        nosso_numero=movement.nosso_numero,
        amount_cents=movement.title_amount_cents,
        paid_cents=movement.paid_amount_cents,
        due_date=movement.due_date,
        paid_on=movement.occurrence_date,
        credited_on=movement.credit_date,
        seu_numero=movement.seu_numero,
        payer_document=movement.payer_document,
        payer_name=movement.payer_name,
        movement_code=movement.movement_code,
        agency=movement.agency,
        account=movement.account,
    )


def _digits(document: str) -> str:
    return "".join(c for c in document if c.isdigit())


@settings(max_examples=150, deadline=None)
@given(payments=st.lists(_PAYMENTS, max_size=8), generated_on=_DATES)
def test_writer_output_parses_back_to_the_same_payments(
    payments: list[ReturnPayment], generated_on: date
) -> None:
    text = write_cnab240_return(
        bank_code="341",
        company_name="Cobrança Horizonte Ltda",
        generated_on=generated_on,
        payments=payments,
    )

    parsed = parse_cnab240(text)

    assert parsed.problems == []
    assert parsed.bank_code == "341"
    assert parsed.company_name == "COBRANCA HORIZONTE LTDA"
    assert parsed.generated_on == generated_on
    assert [_as_payment(m) for m in parsed.movements] == [
        dataclasses.replace(p, payer_document=_digits(p.payer_document)) for p in payments
    ]
    for movement in parsed.movements:
        assert movement.bank_code == "341"
        assert movement.net_amount_cents == movement.paid_amount_cents
        if movement.is_liquidation:
            assert movement.paid_amount_cents == (
                movement.title_amount_cents + movement.charges_cents - movement.discount_cents
            )


def test_writer_layout() -> None:
    payment = ReturnPayment(
        nosso_numero="123",
        amount_cents=10000,
        paid_cents=10250,
        due_date=date(2025, 1, 10),
        paid_on=date(2025, 1, 12),
        credited_on=date(2025, 1, 13),
        payer_name="João",
    )
    text = write_cnab240_return(
        bank_code="237",
        company_name="Horizonte",
        generated_on=date(2025, 1, 14),
        payments=[payment, payment],
    )

    assert text.endswith("\r\n")
    lines = text.split("\r\n")[:-1]
    assert [len(line) for line in lines] == [240] * 8
    assert [line[7] for line in lines] == ["0", "1", "3", "3", "3", "3", "5", "9"]
    assert [line[13] for line in lines[2:6]] == ["T", "U", "T", "U"]
    assert [line[8:13] for line in lines[2:6]] == ["00001", "00002", "00003", "00004"]
    assert lines[0][143:151] == "14012025"
    assert lines[2][37:57] == "00000000000000000123"
    assert lines[2][148:188] == "JOAO".ljust(40)
    assert lines[3][17:32] == "000000000000250"  # juros/multa: paid beyond the title
    assert lines[6][17:23] == "000006"  # records in the batch, its header and trailer too
    assert lines[7][17:23] == "000001"  # batches
    assert lines[7][23:29] == "000008"  # records in the file


def test_writer_refuses_values_that_do_not_fit() -> None:
    def write(**changes: object) -> str:
        payment = ReturnPayment(
            nosso_numero="1",
            amount_cents=1,
            paid_cents=1,
            due_date=date(2025, 1, 1),
            paid_on=date(2025, 1, 1),
        )
        return write_cnab240_return(
            bank_code="237",
            company_name="X",
            generated_on=date(2025, 1, 1),
            payments=[dataclasses.replace(payment, **changes)],  # type: ignore[arg-type]
        )

    for changes in (
        {"nosso_numero": "12A"},
        {"nosso_numero": "1" * 21},
        {"amount_cents": 10**15},
        {"paid_cents": -1},
        {"payer_document": "123"},
        {"payer_document": "000.000.000-00"},
        {"movement_code": "6"},
        {"agency": "123456"},
    ):
        with pytest.raises(ValueError):
            write(**changes)


# --- broken lines: reported, and the rest is read ------------------------------------------


def test_line_of_the_wrong_length() -> None:
    lines = _lines()
    lines[3] = lines[3][:100]  # the U of the first pair

    parsed = parse_cnab240(_join(lines))

    assert parsed.problems == [
        "linha 3: segmento T (nosso número '00000000001234567890') sem o segmento U que "
        "deveria segui-lo; movimento ignorado",
        "linha 4: tem só 100 colunas; o registro CNAB 240 tem 240",
    ]
    assert [m.nosso_numero for m in parsed.movements] == ["987654321", "55501234567"]
    assert [(d.line, d.rule) for d in parsed.defects] == [(4, "record_length")]


def test_line_too_long() -> None:
    lines = _lines()
    lines[5] = lines[5] + "X"

    parsed = parse_cnab240(_join(lines))

    assert "linha 6: tem 241 colunas; o registro CNAB 240 tem 240" in parsed.problems
    assert [m.sequence for m in parsed.movements] == [1, 5]
    assert [(d.line, d.rule) for d in parsed.defects] == [(6, "record_length")]


def test_blanks_after_the_240th_column_are_let_go() -> None:
    # laravel-boleto's Banco do Brasil return has a batch header of 241 columns, the last blank.
    lines = _lines()
    lines[1] += " "

    parsed = parse_cnab240(_join(lines))

    assert (parsed.problems, parsed.defects) == ([], [])


def test_u_without_its_t() -> None:
    lines = _lines()
    del lines[2]  # the T of the first pair

    parsed = parse_cnab240(_join(lines))

    assert parsed.problems == [
        "linha 3: segmento U sem o segmento T que deveria precedê-lo",
        "linha 8: o trailer do lote 1 declara 8 registros, mas o lote (linhas 2-8) tem 7",
        "linha 9: o trailer do arquivo declara 10 registros, mas o arquivo tem 9",
    ]
    assert [m.sequence for m in parsed.movements] == [3, 5]
    # A record gone: the counts say so.
    assert [(d.line, d.rule) for d in parsed.defects] == [
        (8, "trailer_count"),
        (9, "trailer_count"),
    ]


def test_bad_due_date() -> None:
    lines = _lines()
    lines[4] = _put(lines[4], 74, "31022025")  # 31 February

    parsed = parse_cnab240(_join(lines))

    assert parsed.problems == [
        "linha 5: segmento T ignorado, e com ele o movimento: vencimento (posições 74-81) não "
        "é uma data DDMMAAAA: '31022025'",
        "linha 6: segmento U ignorado: o segmento T da linha 5 foi rejeitado",
    ]
    assert [m.sequence for m in parsed.movements] == [1, 5]


def test_bad_amount_and_bad_credit_date_in_u() -> None:
    lines = _lines()
    lines[3] = _put(lines[3], 78, "00000000001534X")
    lines[3] = _put(lines[3], 146, "13132025")

    parsed = parse_cnab240(_join(lines))

    assert parsed.problems == [
        "linha 4: segmento U ignorado, e com ele o movimento do segmento T da linha 3: valor "
        "pago (posições 78-92) não é numérico: '00000000001534X'; data do crédito (posições "
        "146-153) não é uma data DDMMAAAA: '13132025'"
    ]
    assert [m.sequence for m in parsed.movements] == [3, 5]


def test_unknown_record_type_and_segment() -> None:
    lines = _lines()
    lines[2] = _put(lines[2], 8, "7")
    lines[6] = _put(lines[6], 14, "Y")

    parsed = parse_cnab240(_join(lines))

    assert parsed.problems == [
        "linha 3: tipo de registro '7' (posição 8) desconhecido; esperado 0, 1, 3, 5 ou 9",
        "linha 4: segmento U sem o segmento T que deveria precedê-lo",
        "linha 7: segmento 'Y' (posição 14) ignorado: o retorno de cobrança é lido dos "
        "segmentos T e U",
        "linha 8: segmento U sem o segmento T que deveria precedê-lo",
    ]
    assert [m.sequence for m in parsed.movements] == [3]


def test_t_and_u_that_are_not_a_pair() -> None:
    lines = _lines()
    lines[3] = _put(lines[3], 9, "00009")
    lines[5] = _put(lines[5], 16, "09")

    parsed = parse_cnab240(_join(lines))

    assert parsed.problems == [
        "linha 3: segmento T (nosso número '00000000001234567890') sem o segmento U que "
        "deveria segui-lo; movimento ignorado",
        "linha 4: segmento U (lote 1, registro 9) não é o par do segmento T da linha 3 (lote "
        "1, registro 1); ignorado",
        "linha 6: segmento U ignorado, e com ele o movimento do segmento T da linha 5: código "
        "de movimento '09' difere do segmento T da linha 5 ('06')",
    ]
    assert [m.sequence for m in parsed.movements] == [5]


def test_truncated_file_and_blank_line() -> None:
    lines = _lines()[:6]
    lines.insert(4, "")

    parsed = parse_cnab240(_join(lines))

    assert parsed.problems == [
        "linha 2: lote 1 sem trailer de lote",
        "linha 5: linha em branco no meio do arquivo",
        "linha 7: o arquivo termina sem trailer de arquivo (registro tipo 9): pode estar "
        "incompleto",
    ]
    assert [m.sequence for m in parsed.movements] == [1, 3]
    assert [(d.line, d.rule) for d in parsed.defects] == [(2, "truncated"), (7, "truncated")]


def test_lines_after_the_file_trailer() -> None:
    lines = [*_lines(), _lines()[2]]

    parsed = parse_cnab240(_join(lines))

    assert parsed.problems == [
        "linha 11: linha depois do trailer do arquivo (linha 10); ignorada",
    ]
    assert len(parsed.movements) == 3
    assert [(d.line, d.rule) for d in parsed.defects] == [(11, "after_trailer")]


def test_bad_generation_date_in_header() -> None:
    lines = _lines()
    lines[0] = _put(lines[0], 144, "00132025")

    parsed = parse_cnab240(_join(lines))

    assert parsed.generated_on is None
    assert parsed.problems == [
        "linha 1: data de geração do arquivo (posições 144-151) não é uma data DDMMAAAA: '00132025'"
    ]
    assert len(parsed.movements) == 3


# --- not a CNAB 240 file at all -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "O arquivo está vazio."),
        ("\r\n  \r\n", "O arquivo está vazio."),
        ("documento;nome;valor\n123;Fulano;10,00\n", "A primeira linha tem 20 colunas"),
        ("02RETORNO01COBRANCA".ljust(400) + "\r\n", "CNAB 400"),
        ("%PDF-1.7\n" + "x" * 500, "A primeira linha tem 8 colunas"),
    ],
)
def test_junk_is_not_a_cnab240_file(text: str, message: str) -> None:
    with pytest.raises(NotACnab240File) as raised:
        parse_cnab240(text)

    assert message in raised.value.message
    assert isinstance(raised.value, ValueError)


def test_file_that_does_not_start_with_a_file_header() -> None:
    with pytest.raises(NotACnab240File, match="não é um header de arquivo CNAB 240"):
        parse_cnab240(_join(_lines()[1:]))


def test_a_remessa_is_not_a_return() -> None:
    lines = _lines()
    lines[0] = _put(lines[0], 143, "1")

    with pytest.raises(NotACnab240File, match="remessa"):
        parse_cnab240(_join(lines))
