"""Each bank's free field and nosso número: published examples (a line or barcode some other
implementation's test suite or a bank manual states), properties every bank's boletos keep,
checked with validators written here, and the nosso número as the bank writes it in a CNAB 240
return read back to our sequence."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.negotiation.domain.boleto import (
    BANKS,
    FREE_FIELD_LAYOUTS,
    SUPPORTED_BANKS,
    BeneficiaryAccount,
    UnsupportedBank,
    account_problems,
    barcode_from_digitable_line,
    bb_nosso_numero_dv,
    free_field,
    make_boleto,
    nosso_numero_from_segment_t,
    printed_nosso_numero,
    segment_t_nosso_numero,
    sequence_capacity,
    sequence_problem,
    sicoob_nosso_numero_dv,
    sicredi_nosso_numero_dv,
)

# --- independent validators (not the module's) -------------------------------------------------


def field_dv(digits: str) -> int:
    """Mod 10 of a linha digitável field: weights 2,1,2,1... from the right, a two-digit
    product counts as the sum of its digits."""
    total = 0
    for i, d in enumerate(reversed(digits)):
        product = int(d) * (2 if i % 2 == 0 else 1)
        total += product // 10 + product % 10
    return (10 - total % 10) % 10


def general_dv(barcode: str) -> int:
    """Mod 11 of the barcode without its 5th digit, weights 2..9 from the right; 0, 10, 11 -> 1."""
    digits = barcode[:4] + barcode[5:]
    total = sum(int(d) * (2 + i % 8) for i, d in enumerate(reversed(digits)))
    dv = 11 - total % 11
    return 1 if dv in (0, 10, 11) else dv


def assert_valid_line(line: str, barcode: str) -> None:
    assert len(line) == 47 and line.isdigit()
    assert len(barcode) == 44 and barcode.isdigit()
    for start, end in ((0, 9), (10, 20), (21, 31)):
        assert field_dv(line[start:end]) == int(line[end]), line
    assert general_dv(barcode) == int(barcode[4])
    assert line[32] == barcode[4]
    # The line is the barcode rearranged: bank+currency, the free field, factor+amount.
    assert line[0:4] == barcode[0:4]
    assert line[4:9] + line[10:20] + line[21:31] == barcode[19:44]
    assert line[33:47] == barcode[5:19]


def plain(line: str) -> str:
    return line.replace(".", "").replace(" ", "")


# --- published examples ------------------------------------------------------------------------

# Sicredi's examples number boletos by the year they were issued in: brcobranca's current spec
# issues on 2016-08-22 (its data_processamento), agência 0710, posto 65, beneficiário 00129.
SICREDI_2016 = {
    "agency": "0710",
    "account": "61900",
    "beneficiary_code": "00129",
    "service_point": "65",
    "issued_on": dt.date(2016, 8, 22),
}

# (bank, account fields, nosso número, centavos, due date, free field, barcode, linha digitável)
PUBLISHED = [
    # Banco do Brasil, convênio of 7 digits, carteira 18: brcobranca (github.com/kivanio/
    # brcobranca, spec/brcobranca/boleto/banco_brasil_spec.rb, "convenio de 7 digitos e nosso
    # numero de 10").
    pytest.param(
        "001",
        {"agency": "4042", "account": "61900", "wallet": "18", "beneficiary_code": "1238798"},
        7777700168,
        13_500,
        dt.date(2008, 2, 3),
        "0000001238798777770016818",
        "00193377100000135000000001238798777770016818",
        "00190.00009 01238.798779 77700.168188 3 37710000013500",
        id="bb-convenio7-carteira18",
    ),
    # Same spec file, "convenio de 7 digitos e nosso número de 10 e carteira 17".
    pytest.param(
        "001",
        {"agency": "3174", "account": "11672", "wallet": "17", "beneficiary_code": "1474166"},
        328,
        224_674,
        dt.date(2016, 7, 5),
        "0000001474166000000032817",
        "00191684600002246740000001474166000000032817",
        "00190.00009 01474.166004 00000.328179 1 68460000224674",
        id="bb-convenio7-carteira17",
    ),
    # Same spec file, "convenio de 6 digitos e nosso numero de 5" (agência 4042, conta 61900,
    # carteira 18).
    pytest.param(
        "001",
        {"agency": "4042", "account": "61900", "wallet": "18", "beneficiary_code": "123879"},
        1234,
        13_500,
        dt.date(2008, 2, 1),
        "1238790123440420006190018",
        "00192376900000135001238790123440420006190018",
        "00191.23876 90123.440423 00061.900189 2 37690000013500",
        id="bb-convenio6",
    ),
    # Itaú, carteira 175: brcobranca spec/brcobranca/boleto/itau_spec.rb, "Gerar boleto"
    # (agência 0810, conta 53678, nosso número 258281).
    pytest.param(
        "341",
        {"agency": "0810", "account": "53678", "wallet": "175"},
        258281,
        13_500,
        dt.date(2008, 2, 2),
        "1750025828170810536789000",
        "34191377000000135001750025828170810536789000",
        "34191.75009 25828.170818 05367.890000 1 37700000013500",
        id="itau-carteira175",
    ),
    # Santander, carteira 102: brcobranca spec/brcobranca/boleto/santander_spec.rb, "Gerar
    # boleto" (agência 0059, convênio 1899775), both of its boletos.
    pytest.param(
        "033",
        {"agency": "0059", "account": "13000123", "wallet": "102", "beneficiary_code": "1899775"},
        9000026,
        2_500,
        dt.date(2011, 10, 9),
        "9189977500000900002690102",
        "03399511500000025009189977500000900002690102",
        "03399.18997 77500.000904 00026.901025 9 51150000002500",
        id="santander-1",
    ),
    pytest.param(
        "033",
        {"agency": "0059", "account": "13000123", "wallet": "102", "beneficiary_code": "1899775"},
        9000272,
        5_400,
        dt.date(2012, 9, 8),
        "9189977500000900027250102",
        "03393545000000054009189977500000900027250102",
        "03399.18997 77500.000904 00272.501024 3 54500000005400",
        id="santander-2",
    ),
    # Caixa SIGCB, carteira 2 (sem registro), beneficiário 290274 (DV 5), nosso número
    # 24 900000000000132-3: caelum-stella (github.com/caelum/caelum-stella, stella-boleto/src/
    # test/java/br/com/caelum/stella/boleto/bancos/CaixaTest.java, "CarteiraSICGB").
    pytest.param(
        "104",
        {"agency": "589", "account": "0", "wallet": "2", "beneficiary_code": "290274"},
        900000000000132,
        8_000,
        dt.date(2012, 9, 4),
        "2902745900200040000001322",
        "10499544600000080002902745900200040000001322",
        "10492.90271 45900.200044 00000.013227 9 54460000008000",
        id="caixa-sigcb",
    ),
    # Sicoob, carteira 1, modalidade 01, agência 4327, cliente 229385: brcobranca
    # spec/brcobranca/boleto/sicoob_spec.rb, "Montar código de barras modalidade 01".
    pytest.param(
        "756",
        {"agency": "4327", "account": "417270", "wallet": "1", "beneficiary_code": "229385"},
        2,
        5_000,
        dt.date(2016, 2, 18),
        "1432701022938500000024001",
        "75692670800000050001432701022938500000024001",
        "75691.43279 01022.938508 00000.240010 2 67080000005000",
        id="sicoob",
    ),
    # Bradesco, carteira 06: pyboleto (tests/test_banco_bradesco.py), as in test_boleto.py.
    pytest.param(
        "237",
        {"agency": "278", "account": "39232", "wallet": "06"},
        2125525,
        828_000,
        dt.date(2011, 2, 5),
        "0278060000212552500392320",
        "23794486900008280000278060000212552500392320",
        "23790.27804 60000.212559 25003.923205 4 48690000828000",
        id="bradesco",
    ),
    # Sicredi, tipo de cobrança 3 and 1, nosso número 16/208879-3: brcobranca spec/brcobranca/
    # boleto/sicredi_spec.rb, "Montar código de barras para carteira número 3" and "carteira
    # número 1, case 1". The spec states the line and the free field; the barcode here is the
    # line rearranged.
    pytest.param(
        "748",
        {**SICREDI_2016, "wallet": "3"},
        8879,
        19_557,
        dt.date(2016, 8, 22),
        "3116208879307106500129105",
        "74891689400000195573116208879307106500129105",
        "74893.11626 08879.307109 65001.291056 1 68940000019557",
        id="sicredi-cobranca3",
    ),
    pytest.param(
        "748",
        {**SICREDI_2016, "wallet": "1"},
        8879,
        19_557,
        dt.date(2016, 8, 22),
        "1116208879307106500129101",
        "74891689400000195571116208879307106500129101",
        "74891.11620 08879.307109 65001.291015 1 68940000019557",
        id="sicredi-cobranca1",
    ),
    # Sicredi, the same spec file as it was in 2012 (commit 057d8a28): agência 1234, posto 18,
    # beneficiário 12345, issued 2012-01-19, nosso número 12/213871-5.
    pytest.param(
        "748",
        {
            "agency": "1234",
            "account": "12345",
            "wallet": "3",
            "beneficiary_code": "12345",
            "service_point": "18",
            "issued_on": dt.date(2012, 1, 19),
        },
        13871,
        295_295,
        dt.date(2012, 1, 24),
        "3112213871512341812345100",
        "74891522200002952953112213871512341812345100",
        "74893.11220 13871.512342 18123.451009 1 52220000295295",
        id="sicredi-2012",
    ),
]


@pytest.mark.parametrize(
    ("bank", "fields", "nosso_numero", "cents", "due", "free", "barcode", "line"), PUBLISHED
)
def test_published_examples(
    bank: str,
    fields: dict[str, Any],
    nosso_numero: int,
    cents: int,
    due: dt.date,
    free: str,
    barcode: str,
    line: str,
) -> None:
    # The published values pass the validators above: the examples themselves are sound.
    assert_valid_line(plain(line), barcode)
    assert barcode[19:44] == free

    assert free_field(bank, nosso_numero=nosso_numero, **fields) == free
    boleto = make_boleto(
        bank_code=bank, nosso_numero=nosso_numero, amount_cents=cents, due_date=due, **fields
    )
    assert boleto.barcode == barcode
    assert boleto.digitable_line == plain(line)
    assert boleto.formatted_digitable_line() == line
    assert barcode_from_digitable_line(line) == barcode


@pytest.mark.parametrize(
    ("account", "nosso_numero", "printed"),
    [
        # brcobranca banco_brasil_spec.rb: nosso número 7777700168 of convênio 1238798.
        (
            BeneficiaryAccount("001", "4042", "61900", "18", "1238798"),
            7777700168,
            "12387987777700168",
        ),
        # Convênio 6: 12387901234 and its DV, worked out below in test_bb_dv_by_hand.
        (BeneficiaryAccount("001", "4042", "61900", "18", "123879"), 1234, "12387901234-5"),
        (BeneficiaryAccount("341", "0810", "53678", "175"), 258281, "175/00258281-7"),
        (BeneficiaryAccount("033", "0059", "1", "102", "1899775"), 9000026, "000009000026-9"),
        # brcobranca caixa_spec.rb, "Montar nosso_numero_boleto": "14000000000000001-4"; and
        # stella's CaixaTest: "24900000000000132" with DV "3".
        (BeneficiaryAccount("104", "1825", "528", "1", "245274"), 1, "14000000000000001-4"),
        (
            BeneficiaryAccount("104", "589", "0", "2", "290274"),
            900000000000132,
            "24900000000000132-3",
        ),
        (BeneficiaryAccount("756", "4327", "417270", "1", "229385"), 2, "0000002-4"),
        (BeneficiaryAccount("237", "278", "39232", "09", ""), 2, "09/00000000002-P"),
    ],
)
def test_printed_nosso_numero(account: BeneficiaryAccount, nosso_numero: int, printed: str) -> None:
    assert printed_nosso_numero(account, nosso_numero) == printed


@pytest.mark.parametrize(
    ("nosso_numero", "cents", "due", "free", "line"),
    [
        # brcobranca sicredi_spec.rb, "carteira número 1", cases 2 to 6 (issued 2016-08-22).
        (
            8902,
            70_000,
            dt.date(2016, 7, 25),
            "1116208902107106500129100",
            "74891.11620 08902.107104 65001.291007 3 68660000070000",
        ),
        (
            8896,
            70_000,
            dt.date(2016, 7, 25),
            "1116208896307106500129107",
            "74891.11620 08896.307108 65001.291072 1 68660000070000",
        ),
        (
            8899,
            70_000,
            dt.date(2016, 7, 25),
            "1116208899807106500129103",
            "74891.11620 08899.807104 65001.291031 6 68660000070000",
        ),
        (
            8878,
            19_558,
            dt.date(2016, 7, 25),
            "1116208878507106500129106",
            "74891.11620 08878.507105 65001.291064 1 68660000019558",
        ),
        (
            9048,
            22_200,
            dt.date(2016, 8, 26),
            "1116209048807106500129103",
            "74891.11620 09048.807102 65001.291031 8 68980000022200",
        ),
    ],
)
def test_sicredi_published_lines(
    nosso_numero: int, cents: int, due: dt.date, free: str, line: str
) -> None:
    fields: dict[str, Any] = {**SICREDI_2016, "wallet": "1"}
    assert free_field("748", nosso_numero=nosso_numero, **fields) == free
    boleto = make_boleto(
        bank_code="748", nosso_numero=nosso_numero, amount_cents=cents, due_date=due, **fields
    )
    assert boleto.formatted_digitable_line() == line


def test_sicredi_free_field_of_its_manual() -> None:
    # Sicredi's CNAB 240 manual (brcobranca docs/Sicredi/Sicredi.Manual.Cnab.240.pdf), 9.3.2:
    # tipo 3, carteira 1, nosso número 072000031, cooperativa 0165, posto 02, beneficiário
    # 00623, "1" and "0"; weights 9,8,7,...,2 cycling sum to 241, 241 % 11 = 10 -> DV 1.
    assert (
        free_field("748", agency="0165", account="623", wallet="3", nosso_numero=3,
                   beneficiary_code="00623", service_point="02",
                   issued_on=dt.date(2007, 8, 26))
        == "3107200003101650200623101"
    )  # fmt: skip


@pytest.mark.parametrize(
    ("account", "nosso_numero", "issued_on", "printed"),
    [
        # brcobranca sicredi_spec.rb, "Montar nosso_numero_boleto": both of its examples (the
        # second is the manual's, 5.4: 0165/02/00623, 2007, byte 2, sequence 00003).
        (BeneficiaryAccount("748", "0710", "61900", "1", "00129", "65"), 8879,
         dt.date(2016, 8, 22), "16/208879-3"),
        (BeneficiaryAccount("748", "0165", "623", "1", "00623", "02"), 3,
         dt.date(2007, 8, 26), "07/200003-1"),
        # The same spec in 2012: "12/213871-5".
        (BeneficiaryAccount("748", "1234", "12345", "3", "12345", "18"), 13871,
         dt.date(2012, 1, 19), "12/213871-5"),
    ],
)  # fmt: skip
def test_sicredi_printed_nosso_numero(
    account: BeneficiaryAccount, nosso_numero: int, issued_on: dt.date, printed: str
) -> None:
    assert printed_nosso_numero(account, nosso_numero, issued_on) == printed


def test_sicredi_dv_covers_year_byte_and_beneficiary() -> None:
    # python-boleto (github.com/Trust-Code/python-boleto, tests/test_banco_sicredi.py):
    # agência 0434, posto 08, conta 36699, nosso número 18/324121 (byte 3) -> DV 9.
    account = BeneficiaryAccount("748", "0434", "36699", "1", "36699", "08")
    assert sicredi_nosso_numero_dv(account, "18324121") == 9
    # By hand, the manual's 0165 02 00623 07 2 00003, weights 2..9 from the right, cycling:
    # 3x2 + 2x7 + 7x8 + 3x2 + 2x3 + 6x4 + 2x7 + 5x9 + 6x2 + 1x3 = 6+14+56+6+6+24+14+45+12+3
    # = 186; 186 % 11 = 10 -> 11 - 10 = 1.
    manual = BeneficiaryAccount("748", "0165", "623", "1", "00623", "02")
    assert sicredi_nosso_numero_dv(manual, "07200003") == 1


def test_sicredi_without_the_issue_date_makes_nothing() -> None:
    account = BeneficiaryAccount("748", "0165", "623", "1", "00623", "02")
    with pytest.raises(ValueError, match="year"):
        printed_nosso_numero(account, 3)
    with pytest.raises(ValueError, match="year"):
        free_field("748", agency="0165", account="623", wallet="1", nosso_numero=3,
                   beneficiary_code="00623", service_point="02")  # fmt: skip


def test_caixa_free_field_of_brcobranca() -> None:
    # brcobranca caixa_spec.rb, "Gerar o código de barras": convênio 245274 (DV 0), nosso
    # número 1, carteira 1 (registrada), emissão 4.
    assert (
        free_field("104", agency="1825", account="528", wallet="1", nosso_numero=1,
                   beneficiary_code="245274")
        == "2452740000100040000000017"
    )  # fmt: skip


def test_bb_dv_published_values() -> None:
    # brcobranca banco_brasil_spec.rb, "Montar nosso_numero_boleto": DVs 4, 7 and 2.
    assert bb_nosso_numero_dv("12387989000004042") == "4"
    assert bb_nosso_numero_dv("12387989000061900") == "7"
    assert bb_nosso_numero_dv("12387989000000719") == "2"


def test_bb_dv_by_hand() -> None:
    # 1 2 3 8 7 9 0 1 2 3 4, weights 9..2 from the right (4x9 3x8 2x7 1x6 0x5 9x4 7x3 8x2 3x9
    # 2x8 1x7) = 36+24+14+6+0+36+21+16+27+16+7 = 203; 203 % 11 = 5 -> DV 5.
    assert bb_nosso_numero_dv("12387901234") == "5"
    # Remainder 10 is printed "X": 6x9 = 54, 54 % 11 = 10.
    assert bb_nosso_numero_dv("6") == "X"


def test_sicoob_dv_published_values() -> None:
    # brcobranca sicoob_spec.rb: agência 4327, cliente 229385, nosso números 7..13.
    account = BeneficiaryAccount("756", "4327", "417270", "1", "229385")
    assert [sicoob_nosso_numero_dv(account, n) for n in range(7, 14)] == [0, 8, 5, 3, 0, 8, 5]


def test_itau_short_dac_carteiras() -> None:
    # Itaú's manual: for carteiras 126, 131, 146, 150 and 168 the DAC of the nosso número is
    # mod 10 of carteira + nosso número only. "16800258281": from the right 1x2 8x1 2x2 8x1
    # 5x2(=1) 2x1 0 0 8x2(=7) 6x1 1x2 = 2+8+4+8+1+2+7+6+2 = 40 -> DAC 0.
    short = BeneficiaryAccount("341", "0810", "53678", "168")
    assert printed_nosso_numero(short, 258281) == "168/00258281-0"
    assert (
        free_field("341", agency="0810", account="53678", wallet="168", nosso_numero=258281)[11]
        == "0"
    )


# --- unknown banks and what each bank needs ----------------------------------------------------


def test_the_supported_banks() -> None:
    assert dict(SUPPORTED_BANKS) == {
        "001": "Banco do Brasil",
        "033": "Santander",
        "104": "Caixa Econômica Federal",
        "237": "Bradesco",
        "341": "Itaú",
        "748": "Sicredi",
        "756": "Sicoob",
    }
    assert set(FREE_FIELD_LAYOUTS) == set(SUPPORTED_BANKS)


@pytest.mark.parametrize("bank", ["999", "041", "422"])
def test_a_bank_without_a_layout_gets_no_boleto(bank: str) -> None:
    with pytest.raises(UnsupportedBank):
        free_field(bank, agency="1", account="2", wallet="3", nosso_numero=4)
    with pytest.raises(UnsupportedBank):
        make_boleto(
            bank_code=bank,
            agency="1",
            account="2",
            wallet="3",
            nosso_numero=4,
            amount_cents=100,
            due_date=dt.date(2026, 1, 1),
        )
    [problem] = account_problems(BeneficiaryAccount(bank, "1", "2", "3"))
    assert problem.field == "bank_code"
    assert problem.rule == "unsupported_bank"
    assert "001 (Banco do Brasil)" in problem.message and "756 (Sicoob)" in problem.message


@pytest.mark.parametrize(
    ("account", "fields"),
    [
        (BeneficiaryAccount("001", "4042", "61900", "18", ""), {"beneficiary_code"}),
        (BeneficiaryAccount("001", "4042", "61900", "19", "1238798"), {"wallet"}),
        (BeneficiaryAccount("001", "4042", "61900", "18", "12345"), {"beneficiary_code"}),
        (BeneficiaryAccount("341", "0810", "536789", "175"), {"account"}),
        (BeneficiaryAccount("341", "0810", "53678", "17"), {"wallet"}),
        (BeneficiaryAccount("341", "0810", "53678", "198"), {"wallet"}),
        (BeneficiaryAccount("033", "0059", "1", "102", ""), {"beneficiary_code"}),
        (BeneficiaryAccount("104", "1825", "528", "1", "24527"), {"beneficiary_code"}),
        (BeneficiaryAccount("104", "1825", "528", "3", "245274"), {"wallet"}),
        (BeneficiaryAccount("756", "4327", "1", "2", "229385"), {"wallet"}),
        (BeneficiaryAccount("237", "1234", "12345678", "09"), {"account"}),
        (BeneficiaryAccount("237", "1234", "1234567", "109"), {"wallet"}),
        (BeneficiaryAccount("748", "0165", "623", "1", "00623"), {"service_point"}),
        (BeneficiaryAccount("748", "0165", "623", "1", "00623", "123"), {"service_point"}),
        (BeneficiaryAccount("748", "0165", "623", "1", "", "02"), {"beneficiary_code"}),
        (BeneficiaryAccount("748", "0165", "623", "1", "100623", "02"), {"beneficiary_code"}),
        (BeneficiaryAccount("748", "10165", "623", "1", "00623", "02"), {"agency"}),
        (BeneficiaryAccount("748", "0165", "623", "2", "00623", "02"), {"wallet"}),
    ],
)
def test_account_problems_name_the_field(account: BeneficiaryAccount, fields: set[str]) -> None:
    assert {problem.field for problem in account_problems(account)} == fields


# --- properties, every bank ---------------------------------------------------------------------


def _digits(size: int) -> st.SearchStrategy[str]:
    return st.text("0123456789", min_size=size, max_size=size)


def _accounts() -> st.SearchStrategy[BeneficiaryAccount]:
    agency = st.integers(0, 9999).map(str)
    return st.one_of(
        st.builds(
            BeneficiaryAccount,
            st.just("001"),
            agency,
            st.integers(0, 99_999_999).map(str),
            st.sampled_from(["17", "18"]),
            st.one_of(_digits(7), _digits(6)),
        ),
        st.builds(
            BeneficiaryAccount,
            st.just("341"),
            agency,
            st.integers(0, 99_999).map(str),
            st.sampled_from(["109", "112", "157", "168", "175"]),
        ),
        st.builds(
            BeneficiaryAccount,
            st.just("033"),
            agency,
            st.just("0"),
            st.sampled_from(["101", "102", "201"]),
            st.integers(1, 9_999_999).map(str),
        ),
        st.builds(
            BeneficiaryAccount,
            st.just("104"),
            agency,
            st.just("0"),
            st.sampled_from(["1", "2"]),
            _digits(6),
        ),
        st.builds(
            BeneficiaryAccount,
            st.just("756"),
            agency,
            st.just("0"),
            st.just("1"),
            st.integers(1, 9_999_999).map(str),
        ),
        st.builds(
            BeneficiaryAccount,
            st.just("237"),
            agency,
            st.integers(0, 9_999_999).map(str),
            st.integers(0, 99).map(str),
        ),
        st.builds(
            BeneficiaryAccount,
            st.just("748"),
            agency,
            st.just("0"),
            st.sampled_from(["1", "3"]),
            st.integers(0, 99_999).map(str),
            st.integers(0, 99).map(str),
        ),
    )


# Sicredi's nosso número carries the year of issue: two digits, 2000 to 2099.
ISSUE_DATES = st.dates(dt.date(2000, 1, 1), dt.date(2099, 12, 31))


@st.composite
def account_and_number(draw: st.DrawFn) -> tuple[BeneficiaryAccount, int]:
    account = draw(_accounts())
    maximum = BANKS[account.bank_code].max_nosso_numero(account)
    return account, draw(st.integers(1, maximum))


@given(
    account_and_number(),
    st.integers(1, 9_999_999_999),
    st.dates(dt.date(2025, 2, 22), dt.date(2040, 12, 31)),
    ISSUE_DATES,
)
def test_every_bank_makes_valid_lines(
    pair: tuple[BeneficiaryAccount, int], cents: int, due: dt.date, issued_on: dt.date
) -> None:
    account, number = pair
    assert account_problems(account) == []
    boleto = make_boleto(
        bank_code=account.bank_code,
        agency=account.agency,
        account=account.account,
        wallet=account.wallet,
        beneficiary_code=account.beneficiary_code,
        service_point=account.service_point,
        nosso_numero=number,
        amount_cents=cents,
        due_date=due,
        issued_on=issued_on,
    )
    assert_valid_line(boleto.digitable_line, boleto.barcode)
    assert boleto.barcode[0:3] == account.bank_code
    assert boleto.barcode[9:19] == f"{cents:010d}"
    assert barcode_from_digitable_line(boleto.formatted_digitable_line()) == boleto.barcode


@given(account_and_number(), ISSUE_DATES)
def test_the_return_field_reads_back_to_the_sequence(
    pair: tuple[BeneficiaryAccount, int], issued_on: dt.date
) -> None:
    account, number = pair
    field = segment_t_nosso_numero(account, number, issued_on)
    assert len(field) == 20
    assert nosso_numero_from_segment_t(account, field) == number
    # Another bank's account does not take it for one of its own.
    other = BeneficiaryAccount("999", account.agency, account.account, account.wallet)
    assert nosso_numero_from_segment_t(other, field) is None


@given(account_and_number(), ISSUE_DATES, st.integers(0, 19), st.sampled_from("0123456789X "))
def test_a_changed_return_field_is_not_read_as_another_boleto(
    pair: tuple[BeneficiaryAccount, int], issued_on: dt.date, position: int, char: str
) -> None:
    account, number = pair
    field = segment_t_nosso_numero(account, number, issued_on)
    changed = field[:position] + char + field[position + 1 :]
    found = nosso_numero_from_segment_t(account, changed)
    # Either nothing, or the same boleto (the change fell outside what identifies it). Only
    # where the check digit cannot see every change may it be another number: Banco do Brasil's
    # 17-digit nosso número has none, and Santander's, Caixa's, Sicredi's and Sicoob's mod 11
    # give 0 for both remainders 0 and 1.
    if found is not None and found != number:
        assert account.bank_code in ("033", "104", "748", "756") or (
            account.bank_code == "001" and len(account.beneficiary_code) == 7
        )


@pytest.mark.parametrize(
    ("account", "number", "field"),
    [
        (BeneficiaryAccount("001", "4042", "61900", "18", "1238798"), 1, "12387980000000001   "),
        (BeneficiaryAccount("001", "4042", "61900", "18", "123879"), 1234, "123879012345        "),
        (BeneficiaryAccount("341", "0810", "53678", "175"), 258281, "175002582817        "),
        (BeneficiaryAccount("033", "0059", "0", "102", "1899775"), 9000026, "   0000090000269    "),
        (BeneficiaryAccount("104", "1825", "528", "1", "245274"), 1, " 0140000000000000014"),
        (BeneficiaryAccount("756", "4327", "0", "1", "229385"), 2, "000000002401011     "),
        (BeneficiaryAccount("237", "278", "39232", "09"), 2, "0090000000000000002P"),
    ],
)
def test_return_field_layouts(account: BeneficiaryAccount, number: int, field: str) -> None:
    assert segment_t_nosso_numero(account, number) == field
    assert nosso_numero_from_segment_t(account, field) == number


def test_sicredi_return_field_of_its_manual() -> None:
    # Sicredi's CNAB 240 manual, 13.3T (positions 38-57, alfa): "132xxxxxD", year, byte,
    # sequence and DV; brcobranca's Sicredi return sample (spec/arquivos/CNAB240SICREDI.CRT)
    # has "172000595" and blanks there, and its remessa sample the manual's "072000031".
    account = BeneficiaryAccount("748", "0165", "623", "1", "00623", "02")
    field = "072000031           "
    assert segment_t_nosso_numero(account, 3, dt.date(2007, 8, 26)) == field
    assert nosso_numero_from_segment_t(account, field) == 3
    # The year is read from the field, not known beforehand: a boleto of 2026 is found too.
    later = segment_t_nosso_numero(account, 3, dt.date(2026, 1, 2))
    assert later.startswith("26200003")
    assert nosso_numero_from_segment_t(account, later) == 3


@pytest.mark.parametrize(
    ("account", "field"),
    [
        # The cooperative's own numbering (byte 1) and another system's (byte 3).
        (BeneficiaryAccount("748", "0165", "623", "1", "00623", "02"), "071000031"),
        (BeneficiaryAccount("748", "0165", "623", "1", "00623", "02"), "073000031"),
        # A wrong DV, another posto, another beneficiário.
        (BeneficiaryAccount("748", "0165", "623", "1", "00623", "02"), "072000032"),
        (BeneficiaryAccount("748", "0165", "623", "1", "00623", "03"), "072000031"),
        (BeneficiaryAccount("748", "0165", "623", "1", "00624", "02"), "072000031"),
        # Sequence 0 is not one of ours; digits where the manual puts them only.
        (BeneficiaryAccount("748", "0165", "623", "1", "00623", "02"), "072000000"),
        (BeneficiaryAccount("748", "0165", "623", "1", "00623", "02"), " 072000031"),
    ],
)
def test_sicredi_return_field_of_another_boleto_is_not_ours(
    account: BeneficiaryAccount, field: str
) -> None:
    assert nosso_numero_from_segment_t(account, field) is None


def test_caixa_return_field_of_its_manual() -> None:
    # CAIXA's SIGCB CNAB 240 manual, 13.3T: modalidade 40-41, nosso número 42-56, DV 57 (what
    # brcobranca reads, 0-based 39..55, and laravel-boleto's sample return has). The DV is
    # not needed to match, so a field without it (blank) is read too.
    account = BeneficiaryAccount("104", "1825", "528", "1", "245274")
    assert nosso_numero_from_segment_t(account, "  14000000000000001 ") == 1
    # Segment P's columns (41-42/43-57), one later, are not segment T's.
    assert nosso_numero_from_segment_t(account, "   14000000000000001") is None


def test_another_convenio_or_carteira_is_not_ours() -> None:
    bb = BeneficiaryAccount("001", "4042", "61900", "18", "1238798")
    assert nosso_numero_from_segment_t(bb, "12387990000000001   ") is None
    itau = BeneficiaryAccount("341", "0810", "53678", "175")
    assert nosso_numero_from_segment_t(itau, "109002582817        ") is None
    assert nosso_numero_from_segment_t(itau, "175002582818        ") is None  # wrong DAC


# --- capacity: how many boletos each layout can number -----------------------------------------

CAPACITIES = [
    # Banco do Brasil: 5 digits after a 6-digit convênio, 10 after a 7-digit one.
    (BeneficiaryAccount("001", "4042", "61900", "18", "123879"), 99_999),
    (BeneficiaryAccount("001", "4042", "61900", "18", "1238798"), 9_999_999_999),
    (BeneficiaryAccount("033", "0059", "0", "102", "1899775"), 999_999_999_999),
    (BeneficiaryAccount("104", "1825", "528", "1", "245274"), 999_999_999_999_999),
    (BeneficiaryAccount("237", "278", "39232", "09"), 99_999_999_999),
    (BeneficiaryAccount("341", "0810", "53678", "175"), 99_999_999),
    (BeneficiaryAccount("748", "0165", "623", "1", "00623", "02"), 99_999),
    (BeneficiaryAccount("756", "4327", "0", "1", "229385"), 9_999_999),
]


@pytest.mark.parametrize(
    ("account", "capacity"),
    CAPACITIES,
    ids=[f"{a.bank_code}-{len(a.beneficiary_code)}" for a, _ in CAPACITIES],
)
def test_the_capacity_is_the_last_number_a_layout_takes(
    account: BeneficiaryAccount, capacity: int
) -> None:
    assert sequence_capacity(account) == capacity
    fields: dict[str, Any] = {
        "bank_code": account.bank_code,
        "agency": account.agency,
        "account": account.account,
        "wallet": account.wallet,
        "beneficiary_code": account.beneficiary_code,
        "service_point": account.service_point,
        "amount_cents": 100,
        "due_date": dt.date(2026, 12, 1),
        "issued_on": dt.date(2026, 11, 25),
    }
    make_boleto(nosso_numero=capacity, **fields)
    field = segment_t_nosso_numero(account, capacity, dt.date(2026, 11, 25))
    assert nosso_numero_from_segment_t(account, field) == capacity
    # One more does not fit the digits: refused, never cut down to a number already given.
    with pytest.raises(ValueError):
        make_boleto(nosso_numero=capacity + 1, **fields)


def test_a_used_up_layout_is_a_problem_of_the_field_that_sets_its_size() -> None:
    bb6 = BeneficiaryAccount("001", "4042", "61900", "18", "123879")
    assert sequence_problem(bb6, allocated=99_998) is None
    problem = sequence_problem(bb6, allocated=99_999)
    assert problem is not None
    assert (problem.field, problem.rule) == ("beneficiary_code", "sequence_exhausted")
    assert "99.999 boletos" in problem.message and "não resta nenhum" in problem.message
    assert "troque o convênio" in problem.message

    sicredi = BeneficiaryAccount("748", "0165", "623", "1", "00623", "02")
    assert sequence_problem(sicredi, allocated=99_996, wanted=3) is None
    short = sequence_problem(sicredi, allocated=99_997, wanted=3)
    assert short is not None
    assert (short.field, short.rule) == ("bank_code", "sequence_exhausted")
    assert "restam 2 e são necessários 3" in short.message and "Sicredi" in short.message
    # Numbers given under a larger layout count too: nothing left, none negative.
    past = sequence_problem(sicredi, allocated=250_000)
    assert past is not None and "não resta nenhum" in past.message
