"""CPF and CNPJ as debtors' documents arrive in carteiras: with or without punctuation, lower
or upper case, sometimes mistyped; and the alphanumeric CNPJ in force since July 2026."""

from __future__ import annotations

import random
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from contracts.documents import (
    Document,
    InvalidDocument,
    cnpj_check_digits,
    cpf_check_digits,
    document_kind,
    format_document,
    generate_cnpj,
    generate_cpf,
    is_valid_document,
    mask_document,
    normalize_document,
    validate_document,
)

# --- a reference written differently from the module (textbook formulas), to test against --


def _reference_cpf_valid(doc: str) -> bool:
    if len(doc) != 11 or not doc.isdigit() or len(set(doc)) == 1:
        return False
    digits = [int(c) for c in doc]
    # The "x10 mod 11 mod 10" way to say "0 if remainder < 2 else 11 - remainder".
    dv1 = sum(d * (10 - i) for i, d in enumerate(digits[:9])) * 10 % 11 % 10
    dv2 = sum(d * (11 - i) for i, d in enumerate(digits[:10])) * 10 % 11 % 10
    return digits[9] == dv1 and digits[10] == dv2


def _reference_cnpj_valid(doc: str) -> bool:
    allowed = string.digits + string.ascii_uppercase
    if len(doc) != 14 or any(c not in allowed for c in doc[:12]) or not doc[12:].isdigit():
        return False
    if len(set(doc)) == 1:
        return False
    values = [ord(c) - ord("0") for c in doc]

    def digit(n: int) -> int:
        # Weights 2..9 repeating, from the rightmost character leftwards.
        total = sum(v * (2 + i % 8) for i, v in enumerate(reversed(values[:n])))
        return total * 10 % 11 % 10

    return values[12] == digit(12) and values[13] == digit(13)


def _reference_valid(doc: str) -> bool:
    return _reference_cpf_valid(doc) if len(doc) == 11 else _reference_cnpj_valid(doc)


# --- strategies ----------------------------------------------------------------------------

_cpf_bases = st.text(string.digits, min_size=9, max_size=9).filter(lambda b: len(set(b)) > 1)
cpfs = _cpf_bases.map(lambda base: base + cpf_check_digits(base)).filter(_reference_cpf_valid)
numeric_cnpjs = (
    st.text(string.digits, min_size=12, max_size=12)
    .filter(lambda b: len(set(b)) > 1)
    .map(lambda base: base + cnpj_check_digits(base))
)
alphanumeric_cnpjs = (
    st.text(string.digits + string.ascii_uppercase, min_size=12, max_size=12)
    .filter(lambda b: len(set(b)) > 1)
    .map(lambda base: base + cnpj_check_digits(base))
)
documents = st.one_of(cpfs, numeric_cnpjs, alphanumeric_cnpjs)


@st.composite
def punctuated(draw: st.DrawFn, doc: str) -> str:
    """The document as a person or a spreadsheet might write it."""
    out = []
    for c in doc:
        out.append(draw(st.sampled_from(["", "", "", ".", "-", "/", " ", "\u00a0"])))
        out.append(c.lower() if draw(st.booleans()) else c)
    return "".join(out) + draw(st.sampled_from(["", " ", "\t"]))


# --- the official example and well-known valid documents ------------------------------------


def test_receita_federal_alphanumeric_example_is_valid() -> None:
    # The example Receita Federal published for the alphanumeric CNPJ.
    assert validate_document("12.ABC.345/01DE-35") == "12ABC34501DE35"
    assert cnpj_check_digits("12ABC34501DE") == "35"
    assert document_kind("12ABC34501DE35") == "cnpj"
    assert format_document("12ABC34501DE35") == "12.ABC.345/01DE-35"


def test_alphanumeric_cnpj_typed_in_lowercase_is_accepted() -> None:
    assert validate_document("12.abc.345/01de-35") == "12ABC34501DE35"


@pytest.mark.parametrize(
    ("raw", "normalized", "kind"),
    [
        ("529.982.247-25", "52998224725", "cpf"),
        ("52998224725", "52998224725", "cpf"),
        (" 529 982 247 25 ", "52998224725", "cpf"),
        ("11.222.333/0001-81", "11222333000181", "cnpj"),
        ("11222333000181", "11222333000181", "cnpj"),
    ],
)
def test_well_known_valid_documents(raw: str, normalized: str, kind: str) -> None:
    assert validate_document(raw) == normalized
    assert document_kind(normalized) == kind
    assert is_valid_document(raw)


# --- properties ------------------------------------------------------------------------------


@given(st.data(), documents)
def test_any_valid_document_with_any_punctuation_normalizes_and_validates(
    data: st.DataObject, doc: str
) -> None:
    written = data.draw(punctuated(doc))
    assert normalize_document(written) == doc
    assert validate_document(written) == doc
    assert is_valid_document(written)


@given(st.data(), documents)
def test_a_mistyped_check_digit_is_always_caught(data: st.DataObject, doc: str) -> None:
    position = data.draw(st.sampled_from([len(doc) - 2, len(doc) - 1]))
    wrong = data.draw(st.sampled_from(string.digits).filter(lambda c: c != doc[position]))
    typo = doc[:position] + wrong + doc[position + 1 :]
    with pytest.raises(InvalidDocument) as caught:
        validate_document(typo)
    assert caught.value.rule in {"check_digit", "repeated_digits"}


@given(st.data(), documents)
def test_a_one_character_change_fails_unless_mod11_itself_cannot_see_it(
    data: st.DataObject, doc: str
) -> None:
    """Any one-character change is rejected, except the few that the official mod-11 check
    digits cannot detect by construction (see the test below): there we agree with an
    independent implementation of the official rule rather than invent a stricter one."""
    position = data.draw(st.integers(0, len(doc) - 1))
    letters_allowed = len(doc) == 14 and position < 12
    alphabet = string.digits + (string.ascii_uppercase if letters_allowed else "")
    replacement = data.draw(st.sampled_from(alphabet).filter(lambda c: c != doc[position]))
    typo = doc[:position] + replacement + doc[position + 1 :]
    assert is_valid_document(typo) == _reference_valid(typo)


def test_mod11_catches_the_vast_majority_of_single_digit_typos() -> None:
    rng = random.Random(7)
    caught = total = 0
    for _ in range(300):
        for doc in (generate_cpf(rng), generate_cnpj(rng)):
            for position in range(len(doc)):
                for c in string.digits:
                    if c != doc[position]:
                        total += 1
                        caught += not is_valid_document(doc[:position] + c + doc[position + 1 :])
    assert caught / total > 0.95


def test_known_blind_spot_letter_and_digit_eleven_apart_in_alphanumeric_cnpj() -> None:
    # 'A' is worth 17 and '6' is worth 6: the sums change by 11 x weight, invisible to mod 11.
    # Worth knowing when a person reads a CNPJ aloud or an OCR misreads it.
    assert is_valid_document("12ABC34501DE35")
    assert is_valid_document("126BC34501DE35")


@given(documents)
def test_format_then_validate_round_trips(doc: str) -> None:
    assert validate_document(format_document(doc)) == doc


@given(st.integers(min_value=0))
def test_generators_make_valid_documents(seed: int) -> None:
    rng = random.Random(seed)
    cpf = generate_cpf(rng)
    cnpj = generate_cnpj(rng)
    alnum = generate_cnpj(rng, alphanumeric=True)
    assert document_kind(cpf) == "cpf" and _reference_cpf_valid(cpf)
    assert document_kind(cnpj) == "cnpj" and cnpj.isdigit() and _reference_cnpj_valid(cnpj)
    assert document_kind(alnum) == "cnpj" and not alnum.isdigit()
    assert _reference_cnpj_valid(alnum)
    for doc in (cpf, cnpj, alnum):
        assert validate_document(doc) == doc


def test_generators_are_deterministic_for_a_seed() -> None:
    first = [generate_cpf(random.Random(3)), generate_cnpj(random.Random(3), alphanumeric=True)]
    again = [generate_cpf(random.Random(3)), generate_cnpj(random.Random(3), alphanumeric=True)]
    assert first == again


# --- rejections a person can understand ------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "rule", "reason"),
    [
        ("", "required", "documento vazio"),
        ("  .-/ ", "required", "documento vazio"),
        ("111.111.111-11", "repeated_digits", "CPF com todos os dígitos iguais não é válido"),
        ("000.000.000-00", "repeated_digits", "CPF com todos os dígitos iguais não é válido"),
        ("00.000.000/0000-00", "repeated_digits", "CNPJ com todos os dígitos iguais não é válido"),
        ("529.982.247-24", "check_digit", "CPF com dígito verificador inválido"),
        ("11.222.333/0001-82", "check_digit", "CNPJ com dígito verificador inválido"),
        ("12.ABC.345/01DE-36", "check_digit", "CNPJ com dígito verificador inválido"),
        ("1234567890", "length", "CPF deve ter 11 dígitos (encontrados 10)"),
        ("529.982.247", "length", "CPF deve ter 11 dígitos (encontrados 9)"),
        ("1122233300018", "length", "CNPJ deve ter 14 caracteres (encontrados 13)"),
        ("12ABC34501DE3", "length", "CNPJ deve ter 14 caracteres (encontrados 13)"),
        ("12ABC34501DEAB", "characters", "CNPJ deve terminar com dois dígitos"),
        ("5299822472X", "characters", "CPF deve conter apenas dígitos"),
        ("529#982#247#25", "characters", "caracteres inválidos: '#'"),
        ("529982247251234", "length", "CPF tem 11 dígitos e CNPJ tem 14 caracteres"),
    ],
)
def test_rejections_say_what_is_wrong_in_portuguese(raw: str, rule: str, reason: str) -> None:
    with pytest.raises(InvalidDocument) as caught:
        validate_document(raw)
    assert caught.value.rule == rule
    assert reason in caught.value.reason
    assert str(caught.value) == caught.value.reason
    assert isinstance(caught.value, ValueError)
    assert not is_valid_document(raw)


@pytest.mark.parametrize("digit", string.digits)
def test_all_equal_digits_are_rejected_even_where_the_check_digits_would_match(
    digit: str,
) -> None:
    # 111.111.111-11 passes the mod-11 arithmetic, yet is no one's CPF.
    assert not is_valid_document(digit * 11)
    assert not is_valid_document(digit * 14)


# --- display -------------------------------------------------------------------------------


def test_masks_hide_enough_to_prevent_reuse() -> None:
    assert mask_document("52998224725") == "***.982.247-**"
    assert mask_document("11222333000181") == "11.***.***/0001-**"
    assert mask_document("12ABC34501DE35") == "12.***.***/01DE-**"


def test_format_puts_the_usual_punctuation() -> None:
    assert format_document("52998224725") == "529.982.247-25"
    assert format_document("11222333000181") == "11.222.333/0001-81"


@pytest.mark.parametrize("bad", ["", "123", "ABCDEFGHIJK"])
def test_format_and_mask_refuse_what_is_not_shaped_like_a_document(bad: str) -> None:
    with pytest.raises(ValueError):
        format_document(bad)
    with pytest.raises(ValueError):
        mask_document(bad)


@given(documents)
def test_masks_keep_the_shape_and_never_the_check_digits(doc: str) -> None:
    masked = mask_document(doc)
    assert len(masked) == len(format_document(doc))
    assert masked.endswith("-**")


# --- pydantic --------------------------------------------------------------------------------


class _Debtor(BaseModel):
    document: Document


def test_models_get_the_normalized_document() -> None:
    assert _Debtor(document="529.982.247-25").document == "52998224725"
    assert _Debtor(document="12.abc.345/01de-35").document == "12ABC34501DE35"


def test_models_reject_an_invalid_document_with_the_reason() -> None:
    with pytest.raises(ValidationError) as caught:
        _Debtor(document="529.982.247-24")
    assert "CPF com dígito verificador inválido" in str(caught.value)
