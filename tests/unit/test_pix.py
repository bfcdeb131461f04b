"""PIX "copia e cola" (BR Code): fields, folding, txid rules and the CRC16 at the end.

The CRC is recomputed bit by bit below, independently of the module under test.
"""

from __future__ import annotations

import hashlib
import re
import string
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.negotiation.domain.pix import crc16, format_amount, parse_emv, pix_code, txid_for

# Static example code of Banco Central's "Manual de Padrões para Iniciação do Pix".
BCB_EXAMPLE = (
    "00020126580014br.gov.bcb.pix0136123e4567-e12b-12d1-a456-426655440000"
    "5204000053039865802BR5913Fulano de Tal6008BRASILIA62070503***63041D3D"
)

PRINTABLE_ASCII = "".join(chr(c) for c in range(ord("!"), ord("~") + 1))
ALPHANUMERIC = string.ascii_letters + string.digits
KEY = "123e4567-e12b-12d1-a456-426655440000"


def crc16_bitwise(data: bytes) -> int:
    """CRC16/CCITT-FALSE: poly 0x1021, init 0xFFFF, MSB first, no reflection, no xor-out."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def crc_is_valid(code: str) -> bool:
    # The CRC covers everything up to and including the "6304" header of field 63.
    return code[-8:-4] == "6304" and code[-4:] == f"{crc16_bitwise(code[:-4].encode()):04X}"


def make(**overrides: object) -> str:
    params: dict[str, object] = {
        "key": KEY,
        "merchant_name": "Recupera Sul Cobrancas",
        "merchant_city": "Porto Alegre",
        "amount_cents": 12_345,
        "txid": "INV0001",
    }
    params.update(overrides)
    return pix_code(**params)  # type: ignore[arg-type]


# --- CRC ---------------------------------------------------------------------------------------


def test_bitwise_crc_matches_the_standard_check_value() -> None:
    # The catalogue check value of CRC-16/CCITT-FALSE over "123456789" is 0x29B1.
    assert crc16_bitwise(b"123456789") == 0x29B1
    assert crc16("123456789") == "29B1"


def test_crc_of_the_bcb_manual_example() -> None:
    payload = BCB_EXAMPLE[:-4]
    assert crc16_bitwise(payload.encode()) == 0x1D3D
    assert crc16(payload) == "1D3D"
    assert crc_is_valid(BCB_EXAMPLE)


def test_crc_is_four_uppercase_hex_digits() -> None:
    # "" keeps the initial value; "A" gives a CRC with letters, to check the case and padding.
    assert crc16("") == "FFFF"
    assert crc16("A") == f"{crc16_bitwise(b'A'):04X}"
    assert re.fullmatch(r"[0-9A-F]{4}", crc16("A"))


# --- parsing -----------------------------------------------------------------------------------


def test_parse_the_bcb_manual_example() -> None:
    fields = parse_emv(BCB_EXAMPLE)

    assert fields == {
        "00": "01",
        "26": "0014br.gov.bcb.pix0136123e4567-e12b-12d1-a456-426655440000",
        "52": "0000",
        "53": "986",
        "58": "BR",
        "59": "Fulano de Tal",
        "60": "BRASILIA",
        "62": "0503***",
        "63": "1D3D",
    }
    assert parse_emv(fields["26"]) == {"00": "br.gov.bcb.pix", "01": KEY}


@pytest.mark.parametrize(
    "bad", ["000", "0002011", "00020101", "0x0201", "00020100020", "000201000201"]
)
def test_parse_rejects_malformed_codes(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_emv(bad)


# --- pix_code ----------------------------------------------------------------------------------


def test_pix_code_fields() -> None:
    code = make()

    assert crc_is_valid(code)
    fields = parse_emv(code)
    assert list(fields) == ["00", "01", "26", "52", "53", "54", "58", "59", "60", "62", "63"]
    assert fields["00"] == "01"
    assert fields["01"] == "12"
    assert parse_emv(fields["26"]) == {"00": "br.gov.bcb.pix", "01": KEY}
    assert fields["52"] == "0000"
    assert fields["53"] == "986"
    assert fields["54"] == "123.45"
    assert fields["58"] == "BR"
    assert fields["59"] == "RECUPERA SUL COBRANCAS"
    assert fields["60"] == "PORTO ALEGRE"
    assert parse_emv(fields["62"]) == {"05": "INV0001"}
    assert code.startswith("000201010212")


def test_pix_code_exact_text() -> None:
    # Built by hand from the field rules; 26 = 00 14 br.gov.bcb.pix + 01 36 <key> = 58 chars.
    payload = (
        "000201"
        "010212"
        "2658" + "0014br.gov.bcb.pix" + "0136" + KEY + "52040000"
        "5303986"
        "5406123.45"
        "5802BR"
        "5922RECUPERA SUL COBRANCAS"
        "6012PORTO ALEGRE"
        "62110507INV0001"
        "6304"
    )
    assert make() == payload + f"{crc16_bitwise(payload.encode()):04X}"


@pytest.mark.parametrize(
    ("cents", "text"),
    [(1, "0.01"), (10, "0.10"), (100, "1.00"), (123_456, "1234.56"), (100_000_000, "1000000.00")],
)
def test_amount_formatting(cents: int, text: str) -> None:
    assert format_amount(cents) == text
    assert parse_emv(make(amount_cents=cents))["54"] == text


@pytest.mark.parametrize("cents", [0, -1, 1_000_000_000_000])
def test_amount_out_of_range_is_rejected(cents: int) -> None:
    with pytest.raises(ValueError, match="amount_cents"):
        make(amount_cents=cents)


@pytest.mark.parametrize(
    ("name", "city", "folded_name", "folded_city"),
    [
        ("João Ação Ltda", "São Paulo", "JOAO ACAO LTDA", "SAO PAULO"),
        ("  Cobranças  Über  ", "Florianópolis", "COBRANCAS UBER", "FLORIANOPOLIS"),
        ("Crédito Ñandú", "Maceió", "CREDITO NANDU", "MACEIO"),
    ],
)
def test_names_with_accents_are_folded(
    name: str, city: str, folded_name: str, folded_city: str
) -> None:
    fields = parse_emv(make(merchant_name=name, merchant_city=city))
    assert fields["59"] == folded_name
    assert fields["60"] == folded_city


def test_long_names_are_truncated() -> None:
    fields = parse_emv(
        make(
            merchant_name="Recuperadora de Créditos do Sul Sociedade Anônima",
            merchant_city="Santa Rita do Passa Quatro",
        )
    )
    assert fields["59"] == "RECUPERADORA DE CREDITOS"  # 25 chars cut to a trailing space, dropped
    assert fields["60"] == "SANTA RITA DO P"  # 15 chars


@pytest.mark.parametrize("name", ["", "   ", "名前"])
def test_names_with_nothing_left_are_rejected(name: str) -> None:
    with pytest.raises(ValueError, match="merchant_name"):
        make(merchant_name=name)


@pytest.mark.parametrize(
    "txid", ["", "INV-0001", "INV 0001", "INVÇ001", "***", "A" * 26, "fatura_1"]
)
def test_bad_txid_is_rejected(txid: str) -> None:
    with pytest.raises(ValueError, match="txid"):
        make(txid=txid)


@pytest.mark.parametrize("key", ["", "has space@example.com", "chave\n", "ação@example.com"])
def test_bad_key_is_rejected(key: str) -> None:
    with pytest.raises(ValueError, match="key"):
        make(key=key)


def test_key_too_long_for_field_26_is_rejected() -> None:
    with pytest.raises(ValueError, match="99"):
        make(key="a" * 78)
    assert crc_is_valid(make(key="a" * 77))


# --- txid_for ----------------------------------------------------------------------------------


def test_txid_for_a_uuid_is_the_whole_uuid_in_base_36() -> None:
    assert txid_for(str(uuid.UUID(int=1))) == "0" * 24 + "1"
    assert txid_for(str(uuid.UUID(int=36))) == "0" * 23 + "10"
    # 2**128 - 1 in base 36 takes all 25 characters.
    assert txid_for("ffffffff-ffff-ffff-ffff-ffffffffffff") == "F5LXX1ZZ5PNORYNQGLHZMSP33"
    invoice_id = "0f8fad5b-d9cb-469f-a165-70867728950e"
    assert int(txid_for(invoice_id), 36) == uuid.UUID(invoice_id).int
    assert txid_for(invoice_id.upper()) == txid_for(invoice_id)


def test_txid_for_another_id_is_a_sha256_prefix() -> None:
    assert txid_for("fatura-1") == hashlib.sha256(b"fatura-1").hexdigest().upper()[:25]


@given(st.text(min_size=1, max_size=60))
def test_txid_for_any_id_is_25_alphanumerics_and_deterministic(invoice_id: str) -> None:
    txid = txid_for(invoice_id)
    assert re.fullmatch(r"[A-Za-z0-9]{25}", txid)
    assert txid_for(invoice_id) == txid
    assert crc_is_valid(make(txid=txid))


def test_txid_for_distinguishes_invoices() -> None:
    # Sequential UUIDs differ only in their last digits, which a hex prefix would drop.
    ids = [str(uuid.UUID(int=n)) for n in range(1, 50)] + [f"fatura-{n}" for n in range(50)]
    assert len({txid_for(i) for i in ids}) == len(ids)


def test_txid_for_rejects_an_empty_id() -> None:
    with pytest.raises(ValueError):
        txid_for("")


# --- properties --------------------------------------------------------------------------------


@given(
    key=st.text(alphabet=PRINTABLE_ASCII, min_size=1, max_size=77),
    name=st.text(min_size=1, max_size=60).filter(lambda s: any(c.isalnum() for c in s)),
    city=st.text(alphabet="abcdeéãç ÁÃ", max_size=30).filter(lambda s: any(c.isalpha() for c in s)),
    amount_cents=st.integers(1, 999_999_999_999),
    txid=st.text(alphabet=ALPHANUMERIC, min_size=1, max_size=25),
)
def test_any_pix_code_is_valid(
    key: str, name: str, city: str, amount_cents: int, txid: str
) -> None:
    try:
        code = pix_code(
            key=key, merchant_name=name, merchant_city=city, amount_cents=amount_cents, txid=txid
        )
    except ValueError as error:
        # Only a name with no ASCII left after folding (e.g. all CJK) may be refused.
        assert "merchant_name" in str(error)
        return

    assert code.isascii()
    assert crc_is_valid(code)
    fields = parse_emv(code)
    assert parse_emv(fields["26"]) == {"00": "br.gov.bcb.pix", "01": key}
    assert fields["54"] == f"{amount_cents // 100}.{amount_cents % 100:02d}"
    assert 1 <= len(fields["59"]) <= 25 and fields["59"] == fields["59"].upper()
    assert 1 <= len(fields["60"]) <= 15 and fields["60"] == fields["60"].upper()
    assert parse_emv(fields["62"]) == {"05": txid}
