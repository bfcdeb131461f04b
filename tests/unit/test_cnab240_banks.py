"""CNAB 240 returns written by the banks themselves (samples kept by brcobranca, laravel-boleto
and autogeral/CNAB; see tests/fixtures/cnab240/README.txt), read bank by bank: the nosso
número where each bank's manual puts it, the amounts and dates those libraries' specs assert,
and the nosso número mapped back to our sequence with the sample's own account."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from services.negotiation.adapters.cnab240 import (
    Cnab240Movement,
    ReturnPayment,
    liquidation_codes,
    parse_cnab240,
    write_cnab240_return,
)
from services.negotiation.domain.boleto import BeneficiaryAccount, nosso_numero_from_segment_t

FIXTURES = Path(__file__).parents[1] / "fixtures" / "cnab240"


def _read(name: str) -> list[Cnab240Movement]:
    parsed = parse_cnab240((FIXTURES / name).read_bytes().decode("latin-1"))
    assert parsed.problems == []
    return parsed.movements


def _in_a_file_of_ours(bank_code: str, t: str, u: str) -> list[Cnab240Movement]:
    """A real T+U pair inside the header and trailers our writer makes (for samples whose
    own header is damaged, or that are single lines)."""
    empty = write_cnab240_return(
        bank_code=bank_code, company_name="Teste", generated_on=date(2024, 1, 2), payments=[]
    ).split("\r\n")[:-1]
    header, batch_header, batch_trailer, trailer = empty
    batch = t[3:7]
    batch_header = batch_header[:3] + batch + batch_header[7:]
    batch_trailer = batch_trailer[:3] + batch + batch_trailer[7:17] + "000004" + batch_trailer[23:]
    trailer = trailer[:23] + "000006" + trailer[29:]
    # T and U must be the first pair of the batch.
    t = t[:8] + "00001" + t[13:]
    u = u[:8] + "00002" + u[13:]
    parsed = parse_cnab240("\r\n".join([header, batch_header, t, u, batch_trailer, trailer]))
    assert parsed.problems == []
    return parsed.movements


# --- Banco do Brasil (001) ---------------------------------------------------------------------


def test_banco_do_brasil_brcobranca_sample() -> None:
    # kivanio/brcobranca spec/arquivos/CNAB240.RET, as spec/brcobranca/retorno/
    # retorno_cnab_240_spec.rb asserts its first payment. BB's manual (Cnab240 agosto/2017,
    # 13.3P/13.3T, positions 38-57): convênio of 7 digits + 10-digit sequence, no DV,
    # left-aligned with blanks.
    movements = _read("brcobranca_CNAB240.RET")
    assert len(movements) == 35
    first = movements[0]
    assert first.nosso_numero_raw == "14499570000020673   "
    assert first.carteira == "7"
    assert first.movement_code == "17"  # liquidação após baixa: a payment
    assert first.is_liquidation
    assert first.due_date is None  # "00000000"
    assert first.title_amount_cents == 34400
    assert first.paid_amount_cents == 34400
    assert first.charges_cents == 9
    assert first.discount_cents == 1
    assert first.rebate_cents == 2
    assert first.iof_cents == 3
    assert first.other_expenses_cents == 4
    assert first.other_credits_cents == 5
    assert first.fee_cents == 103
    assert first.credit_date == date(2012, 1, 2)
    assert first.occurrence_date == date(2011, 12, 29)
    assert first.reasons == ("03",)
    account = BeneficiaryAccount("001", "1234", "5432", "17", "1449957")
    assert nosso_numero_from_segment_t(account, first.nosso_numero_raw) == 20673
    other_convenio = BeneficiaryAccount("001", "1234", "5432", "17", "1449958")
    assert nosso_numero_from_segment_t(other_convenio, first.nosso_numero_raw) is None


def test_banco_do_brasil_laravel_boleto_sample() -> None:
    # eduardokum/laravel-boleto tests/Retorno/files/cnab240/banco_brasil.ret, first pair:
    # "0010001300001T 060032860000000075367 32948600000000196   1 ..." and its U.
    first = _read("laravel-boleto_banco_brasil.ret")[0]
    assert first.nosso_numero_raw == "32948600000000196   "
    assert first.movement_code == "06"
    assert first.is_liquidation
    assert first.due_date == date(2011, 3, 23)
    assert first.title_amount_cents == 4000
    assert first.paid_amount_cents == 4000
    assert first.net_amount_cents == 3500
    assert first.occurrence_date == date(2011, 3, 21)
    assert first.credit_date == date(2011, 3, 23)
    account = BeneficiaryAccount("001", "3286", "7536", "18", "3294860")
    assert nosso_numero_from_segment_t(account, first.nosso_numero_raw) == 196


# --- Santander (033) ---------------------------------------------------------------------------


def test_santander_brcobranca_sample_is_read_at_santanders_positions() -> None:
    # kivanio/brcobranca spec/arquivos/CNAB240SANTANDER.RET, as cnab240/santander_spec.rb
    # asserts its first payment. Santander's "Layout Padrão 240" v2.5, segmento T: nosso
    # número with DV 41-53, carteira 54, vencimento 70-77, valor 78-92, tarifa 194-208; the
    # FEBRABAN positions put "20160000" where the due date is and refused the line.
    movements = _read("brcobranca_CNAB240SANTANDER.RET")
    assert len(movements) == 2
    first, second = movements
    assert first.nosso_numero_raw == "   00000000014062000"
    assert first.nosso_numero == "1406"
    assert first.agency == "3163"
    assert first.account == "13002862"
    assert first.carteira == "2"
    assert first.seu_numero == "0000001406"
    assert first.due_date == date(2016, 4, 1)
    assert first.title_amount_cents == 1000
    assert first.collecting_bank == "033"
    assert first.payer_document == "00009073504630"
    assert first.payer_name == "FULANO SANTOS"
    assert first.fee_cents == 392
    assert first.reasons == ()
    assert first.paid_amount_cents == 1000
    assert first.credit_date == date(2016, 4, 1)
    assert (first.movement_code, first.is_liquidation) == ("02", False)
    assert (second.movement_code, second.is_liquidation) == ("06", True)
    assert second.paid_amount_cents == 1000
    assert second.occurrence_date == date(2016, 4, 1)
    assert second.credit_date == date(2016, 4, 4)
    # 000000000140 and its DV 6: our sequence 140 (Santander's key is the nosso número and
    # its DV; the código do cedente is not in segment T).
    account = BeneficiaryAccount("033", "3163", "13002862", "101", "7401949")
    assert nosso_numero_from_segment_t(account, second.nosso_numero_raw) == 140


def test_santander_laravel_boleto_sample() -> None:
    # eduardokum/laravel-boleto tests/Retorno/files/cnab240/santander.ret: one "17"
    # (liquidação após baixa) of R$ 10,00 paid R$ 11,00.
    (only,) = _read("laravel-boleto_santander.ret")
    assert only.nosso_numero == "1040"  # 000000000104 and its DV 0, then carteira "1" at 54
    assert only.carteira == "1"
    assert only.due_date == date(2014, 6, 4)
    assert only.title_amount_cents == 1000
    assert (only.movement_code, only.is_liquidation) == ("17", True)
    assert only.paid_amount_cents == 1100
    assert only.occurrence_date == date(2014, 6, 4)
    assert only.credit_date == date(2014, 6, 5)
    account = BeneficiaryAccount("033", "4567", "11111111", "101", "1234567")
    assert nosso_numero_from_segment_t(account, only.nosso_numero_raw) == 104


def test_santander_writer_uses_santanders_positions() -> None:
    payment = ReturnPayment(
        nosso_numero="1406",
        amount_cents=1000,
        paid_cents=1000,
        due_date=date(2016, 4, 1),
        paid_on=date(2016, 4, 1),
    )
    text = write_cnab240_return(
        bank_code="033", company_name="X", generated_on=date(2016, 4, 1), payments=[payment]
    )
    t = text.split("\r\n")[2]
    assert t[40:53] == "0000000001406"
    assert t[69:77] == "01042016"
    assert t[77:92] == "000000000001000"
    (movement,) = parse_cnab240(text).movements
    assert (movement.nosso_numero, movement.due_date) == ("1406", date(2016, 4, 1))


# --- Caixa (104) -------------------------------------------------------------------------------


def test_caixa_laravel_boleto_sample() -> None:
    # eduardokum/laravel-boleto tests/Retorno/files/cnab240/caixa.ret. CAIXA's SIGCB manual
    # (2017), 13.3T: modalidade 40-41 ("24"), nosso número 42-56, its DV 57; brcobranca reads
    # 40-56, laravel-boleto 39-56.
    movements = _read("laravel-boleto_caixa.ret")
    assert len(movements) == 9
    first, _, third = movements[:3]
    assert first.nosso_numero_raw == "  240000000111369979"
    assert first.movement_code == "06"
    assert first.is_liquidation
    assert first.due_date == date(2014, 1, 2)
    assert first.title_amount_cents == 8000
    assert first.paid_amount_cents == 8000
    assert first.occurrence_date == date(2014, 1, 6)
    assert first.credit_date == date(2014, 1, 7)
    assert third.paid_amount_cents == 7000
    # Código do beneficiário 004321 (positions 24-29), modalidade 24: carteira 2.
    account = BeneficiaryAccount("104", "0000", "0", "2", "004321")
    assert nosso_numero_from_segment_t(account, first.nosso_numero_raw) == 11136997
    registered = BeneficiaryAccount("104", "0000", "0", "1", "004321")
    assert nosso_numero_from_segment_t(registered, first.nosso_numero_raw) is None


def test_caixa_segment_p_columns_are_not_read_in_segment_t() -> None:
    # Segment P has modalidade and number one column later (41-42/43-57); no manual or sample
    # puts segment T there, and reading both would let a Caixa-numbered "11..." title pass
    # for one of ours.
    account = BeneficiaryAccount("104", "1825", "528", "1", "245274")
    assert nosso_numero_from_segment_t(account, "   14000000000000001") is None


# --- Itaú (341) --------------------------------------------------------------------------------

# autogeral/CNAB, src/test/java/br/com/jcomputacao/cnab/itau240/
# LineCnabRegistroSegmentoTRetornoTest.java (linha05) and LineCnabRegistroSegmentoURetornoTest.java
# (linha05): registros 9 and 10 of one batch, a liquidação.
ITAU_T = (
    "3410001300009T 0600278000000009365700109000262701        00010209705     130720230000000001"
    "11370341027313                         000000000000000000JOSE APARECIDO DE JESUS AUTO P    "
    "      000000000000000000000000000000000CK                 "
)
ITAU_U = (
    "3410001300010U 0600000000000133800000000000000000000000000000000000000000000000000000011270"
    "80000000001127080000000000000000000000000000001807202319072023000000000000000000000000000  "
    "                            00000000000000000000000       "
)


def test_itau_autogeral_sample() -> None:
    # Itaú's "Cobrança FEBRABAN 240": carteira 38-40, nosso número 41-48, DAC 49, blanks
    # 50-57; 214-221 errors, 222-223 código de liquidação ("CK" here), not a reason.
    assert len(ITAU_T) == len(ITAU_U) == 240
    (movement,) = _in_a_file_of_ours("341", ITAU_T, ITAU_U)
    assert movement.nosso_numero_raw == "109000262701        "
    assert movement.due_date == date(2023, 7, 13)
    assert movement.title_amount_cents == 111370
    assert movement.charges_cents == 1338
    assert movement.paid_amount_cents == 112708
    assert movement.occurrence_date == date(2023, 7, 18)
    assert movement.credit_date == date(2023, 7, 19)
    assert movement.reasons == ()
    assert movement.is_liquidation
    account = BeneficiaryAccount("341", "0278", "93657", "109")
    assert nosso_numero_from_segment_t(account, movement.nosso_numero_raw) == 26270
    other_account = BeneficiaryAccount("341", "0278", "93658", "109")
    assert nosso_numero_from_segment_t(other_account, movement.nosso_numero_raw) is None


@pytest.mark.parametrize(
    ("bank_code", "code", "paid"),
    [
        ("341", "06", True),
        ("341", "08", True),  # liquidação em cartório
        ("341", "17", False),  # alteração/exclusão de dados rejeitada
        ("104", "06", True),
        ("104", "46", False),  # liquidação on-line: a "47" may reverse it
        ("104", "17", False),
        ("001", "17", True),
        ("033", "17", True),
        ("237", "17", True),
        ("748", "17", True),
        ("756", "17", True),
        ("756", "15", False),
    ],
)
def test_liquidation_codes_of_each_bank(bank_code: str, code: str, paid: bool) -> None:
    assert (code in liquidation_codes(bank_code)) is paid


# --- Sicredi (748) -----------------------------------------------------------------------------


def test_sicredi_brcobranca_sample() -> None:
    # kivanio/brcobranca spec/arquivos/CNAB240SICREDI.CRT, as cnab240/sicredi_spec.rb
    # asserts its first movement (an entrada confirmada, not a payment).
    first, second = _read("brcobranca_CNAB240SICREDI.CRT")
    assert first.nosso_numero_raw == "172000595           "
    assert first.carteira == "1"
    assert first.due_date == date(2017, 4, 13)
    assert first.title_amount_cents == 995
    assert first.collecting_bank == "000"
    assert first.occurrence_date == date(2017, 4, 6)
    assert first.credit_date is None
    assert first.reasons == ("A4",)
    assert (first.movement_code, first.is_liquidation) == ("02", False)
    assert (second.movement_code, second.is_liquidation) == ("28", False)


# --- Sicoob (756) ------------------------------------------------------------------------------


def test_sicoob_brcobranca_sample() -> None:
    # kivanio/brcobranca spec/arquivos/CNAB240SICOOB.RET, as cnab240/sicoob_spec.rb asserts
    # its first payment. Sicoob's layout (brcobranca docs/Sicoob, 13.3T): NumTitulo(10: the
    # nosso número and its DV) + parcela "01" + modalidade "01" + tipo de formulário + blanks.
    lines = (FIXTURES / "brcobranca_CNAB240SICOOB.RET").read_bytes().decode("latin-1")
    t, u = lines.split("\r\n")[2:4]
    (movement,) = _in_a_file_of_ours("756", t, u)
    assert movement.nosso_numero_raw == "000000008301011     "
    assert movement.carteira == "1"
    assert movement.due_date == date(2015, 8, 13)
    assert movement.title_amount_cents == 200
    assert movement.collecting_bank == "756"
    assert movement.fee_cents == 170
    assert movement.reasons == ("03",)
    assert (movement.movement_code, movement.is_liquidation) == ("06", True)
    assert movement.paid_amount_cents == 200
    assert movement.occurrence_date == date(2015, 8, 10)
    assert movement.credit_date == date(2015, 8, 10)


# --- whole as the banks write them --------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["laravel-boleto_banco_brasil.ret", "laravel-boleto_caixa.ret", "laravel-boleto_santander.ret"],
)
def test_the_banks_files_kept_whole_are_whole(name: str) -> None:
    # 240 columns a record (Banco do Brasil's batch header has a 241st, blank), trailers
    # whose counts add up (Santander's batch trailer counting its details only): import_cnab240
    # applies them.
    parsed = parse_cnab240((FIXTURES / name).read_bytes().decode("latin-1"))
    assert parsed.defects == []


def test_the_samples_whose_trailing_blanks_were_stripped_are_read_whole() -> None:
    # brcobranca keeps its samples without their trailing blanks, as a transfer in text mode
    # leaves them: what each line lacks can only have been blanks, so the file is whole
    # (import_cnab240 applies it).
    for name in ("brcobranca_CNAB240.RET", "brcobranca_CNAB240SANTANDER.RET"):
        text = (FIXTURES / name).read_bytes().decode("latin-1")
        assert any(len(line.rstrip("\r")) < 240 for line in text.split("\n") if line.strip())
        parsed = parse_cnab240(text)
        assert parsed.movements and parsed.problems == []
        assert parsed.defects == []
