"""How the chatbot reads a debtor's words and what it says back (pure): a CPF or CNPJ is found
wherever it is in a sentence and however it is punctuated; a greeting is no document; a
person is greeted by the first given name and a company by none; offers, invoices and
refusals are said as the debtor understands them."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.documents import (
    cnpj_check_digits,
    cpf_check_digits,
    format_document,
    is_valid_document,
)
from services.messaging.domain.chatbot import (
    DocumentFound,
    DocumentMistyped,
    DocumentTooShort,
    OfferLine,
    OpenInvoice,
    Situation,
    digitable_line,
    document_typed,
    given_name,
    greeting,
    in_agreement,
    invoices_to_pay,
    offer_text,
    refusal_reason,
    welcome,
)

# ---- strategies -----------------------------------------------------------------------------

DIGITS = "0123456789"
ALPHANUMERIC = DIGITS + "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@st.composite
def cpfs(draw: st.DrawFn) -> str:
    base = draw(st.text(DIGITS, min_size=9, max_size=9).filter(lambda b: len(set(b)) > 1))
    return base + cpf_check_digits(base)


@st.composite
def cnpjs(draw: st.DrawFn) -> str:
    alphabet = draw(st.sampled_from([DIGITS, ALPHANUMERIC]))
    base = draw(st.text(alphabet, min_size=12, max_size=12).filter(lambda b: len(set(b)) > 1))
    return base + cnpj_check_digits(base)


documents = st.one_of(cpfs(), cnpjs())

SEPARATORS = [".", "-", "/", " . ", "\u2013", "\u2014", "\u2010"]


@st.composite
def written(draw: st.DrawFn, document: str) -> str:
    """The document as people write it: bare, formatted, with any separators between its
    groups (spaces too, for digits), in either case."""
    style = draw(st.sampled_from(["bare", "formatted", "separators", "spaces"]))
    if style == "bare":
        text = document
    elif style == "formatted":
        text = format_document(document)
    else:
        cuts = [3, 6, 9] if len(document) == 11 else [2, 5, 8, 12]
        parts = [document[a:b] for a, b in zip([0, *cuts], [*cuts, None], strict=True)]
        if style == "spaces" and document.isdigit():
            text = " ".join(parts)
        else:
            text = parts[0]
            for part in parts[1:]:
                text += draw(st.sampled_from(SEPARATORS)) + part
    return text.lower() if draw(st.booleans()) else text


BEFORE = [
    "",
    "oi",
    "Olá, bom dia! Meu CPF é",
    "meu cnpj:",
    "Boa tarde, segue o documento da empresa:",
    "o número é",
    "CPF",
    "cpf-",
    "Quero negociar minha dívida, meu documento é o",
    "👍",
    "(",
    "segue:\n",
]
AFTER = ["", ".", "!", ", obrigado", " obrigada!", " 👍", ")", "\nAguardo retorno.", "?"]


@st.composite
def sentences_with(draw: st.DrawFn) -> tuple[str, str]:
    document = draw(documents)
    before = draw(st.sampled_from(BEFORE))
    joint = "" if before.endswith(("-", "(", "\n")) or not before else " "
    text = before + joint + draw(written(document)) + draw(st.sampled_from(AFTER))
    return document, text


WORDS = [
    "oi",
    "olá",
    "bom",
    "dia",
    "quero",
    "negociar",
    "minha",
    "dívida",
    "não",
    "sei",
    "o",
    "meu",
    "CPF",
    "CNPJ",
    "obrigado",
    "👍",
    "Parcelamento12",
    "R$",
    "1.500,00",
    "10/12/2026",
    "2",
    "parcelas",
    "às",
    "14h30",
    "desenvolvimento",
]


# ---- finding the document -------------------------------------------------------------------


@given(sentences_with())
def test_a_valid_cpf_or_cnpj_is_found_in_any_sentence_however_punctuated(
    case: tuple[str, str],
) -> None:
    document, text = case
    assert document_typed(text) == DocumentFound(document)


@given(st.text().filter(lambda t: not any(c in DIGITS for c in t)))
def test_text_without_a_digit_is_no_document(text: str) -> None:
    assert document_typed(text) is None


@given(st.lists(st.sampled_from(WORDS), max_size=12).map(" ".join))
def test_sentences_of_words_and_short_numbers_are_no_document(text: str) -> None:
    assert document_typed(text) is None


# A CNPJ whose first 12 characters are all letters reads like a word and two digits
# ("Parcelamento12"): mistyped, it is no attempt. Real ones carry digits (the branch, 0001).
with_digits = documents.filter(lambda d: any(c in DIGITS for c in d[:12]))


@given(with_digits, st.sampled_from(BEFORE), st.integers(1, 9))
def test_a_wrong_check_digit_is_still_an_attempt(document: str, before: str, shift: int) -> None:
    wrong = document[:-1] + str((int(document[-1]) + shift) % 10)
    assert not is_valid_document(wrong)
    typed = document_typed(f"{before} {format_document(wrong)}")
    assert isinstance(typed, DocumentMistyped), (document, before, wrong)
    assert "dígito verificador" in typed.reason, (document, before, wrong)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("oi", None),
        ("👍", None),
        ("quero negociar minha dívida", None),
        ("1", None),
        ("meu cpf é 733.925.169-37", DocumentFound("73392516937")),
        ("cpf73392516937", DocumentFound("73392516937")),
        ("meu cnpj é 12.abc.345/01de-35, obrigado", DocumentFound("12ABC34501DE35")),
        ("529 982 247 25", DocumentFound("52998224725")),
        ("tenho 2 529 982 247 25", DocumentFound("52998224725")),
        ("11111111111", DocumentMistyped("CPF com todos os dígitos iguais não é válido")),
        ("CPF-123.456.789-00", DocumentMistyped("CPF com dígito verificador inválido")),
        ("12.ABC.345/01DE-36", DocumentMistyped("CNPJ com dígito verificador inválido")),
        ("5511987654321", DocumentMistyped("CNPJ deve ter 14 caracteres (encontrados 13)")),
        ("529 982 247 00", DocumentMistyped("CPF com dígito verificador inválido")),
        ("+55 11 98765-4321", None),
        ("1.500,00 10/12/2026", None),
        ("2 10/12/2026 2 2 desenvolvimento", None),  # dates and numbers, not 11 digits typed
        ("733.925.169 - 37", DocumentFound("73392516937")),
        ("529.982.247-2", DocumentTooShort(10)),
    ],
)
def test_what_is_a_document_an_attempt_or_neither(text: str, expected: object) -> None:
    assert document_typed(text) == expected


def test_the_welcome_asks_for_the_document_as_it_is_written() -> None:
    text = welcome("Recupera Sul")
    assert "CPF ou CNPJ" in text
    assert "só os números" not in text


# ---- names ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("JOÃO DA SILVA", "João"),
        ("maria souza", "Maria"),
        ("  ÉRICA   Lima", "Érica"),
        ("ANA-CLARA DE SOUZA", "Ana-Clara"),
        ("", ""),
        (None, ""),
    ],
)
def test_a_person_is_called_by_the_first_given_name_properly_capitalized(
    name: str | None, expected: str
) -> None:
    assert given_name(name) == expected


@given(st.lists(st.text("abcdefghijklmnopqrstuvwxyzáéíóúâêôãõç", min_size=1), min_size=1))
def test_the_given_name_is_the_first_word_capitalized_whatever_its_case(words: list[str]) -> None:
    name = " ".join(words)
    assert given_name(name.upper()) == given_name(name) == words[0].capitalize()


SOME = Situation(open_debts=13, open_cents=723_387, agreements=0, left_cents=0)


def test_a_company_is_greeted_without_a_word_of_its_name() -> None:
    for name in ("Serviços de Limpeza Pão Dourado ME", "LOPES & FILHOS LTDA"):
        text = greeting(name, True, SOME)
        assert text.startswith("Olá! Encontramos 13 débitos em aberto")
        assert "Serviços" not in text and "Lopes" not in text.title()
    assert greeting("JOÃO DA SILVA", False, SOME).startswith("Olá, João! Encontramos")


# ---- what is owed ---------------------------------------------------------------------------


def test_open_debts_and_agreements_in_progress_are_told_apart() -> None:
    both = Situation(open_debts=3, open_cents=150_000, agreements=2, left_cents=120_050)
    assert greeting("Maria", False, both) == (
        "Olá, Maria! Encontramos 3 débitos em aberto sem acordo, no total atualizado de "
        "R$ 1.500,00, e 2 acordos em andamento, com R$ 1.200,50 a pagar."
    )
    one_each = Situation(open_debts=1, open_cents=10_000, agreements=1, left_cents=5_000)
    assert "1 débito em aberto sem acordo" in greeting(None, False, one_each)
    assert "1 acordo em andamento, com R$ 50,00 a pagar" in greeting(None, False, one_each)
    only_agreements = Situation(open_debts=0, open_cents=0, agreements=1, left_cents=5_000)
    assert greeting("Maria", False, only_agreements) == (
        "Olá, Maria! Você tem 1 acordo em andamento, com R$ 50,00 a pagar, e nenhum outro "
        "débito em aberto."
    )
    assert greeting("Maria", False, Situation(0, 0, 0, 0)) == (
        "Olá, Maria! Você não tem débitos em aberto no momento."
    )


# ---- invoices -------------------------------------------------------------------------------


def invoice(creditor: str = "Banco Horizonte", number: int = 1, of: int = 3) -> OpenInvoice:
    return OpenInvoice(
        creditor=creditor,
        number=number,
        installments=of,
        amount_cents=52_000,
        due_date=dt.date(2026, 11, 25),
        digitable_line="23791234059000000000101001234507716410000052000",
        pix_code="00020101021226450014br.gov.bcb.pix",
        overdue=True,
    )


def test_an_invoice_names_its_creditor_installment_due_date_amount_line_and_pix() -> None:
    assert digitable_line(invoice()) == (
        "Parcela 1 de 3 do acordo com Banco Horizonte: R$ 520,00, vencimento 25/11/2026 "
        "(vencida).\nLinha digitável:\n23791234059000000000101001234507716410000052000\n\n"
        "PIX copia e cola:\n00020101021226450014br.gov.bcb.pix"
    )
    assert digitable_line(invoice("Loja Lua", 1, 1)).startswith(
        "Parcela única do acordo com Loja Lua: R$ 520,00"
    )


def test_several_invoices_are_announced_with_those_left_out() -> None:
    assert invoices_to_pay(3, 0) == "Você tem 3 parcelas para pagar agora:"
    assert invoices_to_pay(5, 2) == (
        "Você tem 7 parcelas para pagar agora. Seguem as 5 que vencem primeiro (as outras 2 "
        "estão no portal de negociação):"
    )
    assert "(a outra está no portal de negociação)" in invoices_to_pay(5, 1)


# ---- offers ---------------------------------------------------------------------------------

DUE = dt.date(2026, 12, 1)


def test_a_larger_first_installment_is_no_entrada_unless_the_offer_says_so() -> None:
    split = OfferLine(3, 100_001, 0, (33_335, 33_333, 33_333), DUE, kinds=("installment",) * 3)
    assert offer_text(split) == (
        "3 parcelas: a 1ª de R$ 333,35 e as outras 2 de R$ 333,33, total R$ 1.000,01"
    )
    two = OfferLine(2, 20_001, 0, (10_001, 10_000), DUE, kinds=("installment",) * 2)
    assert offer_text(two).startswith("2 parcelas: a 1ª de R$ 100,01 e a outra de R$ 100,00")
    # An offer kept before the kinds were: no entrada either.
    assert "entrada" not in offer_text(OfferLine(3, 100_001, 0, (33_335, 33_333, 33_333), DUE))
    entrada = ("down_payment", "installment", "installment", "installment")
    with_entrada = OfferLine(4, 156_000, 0, (46_800, 36_400, 36_400, 36_400), DUE, kinds=entrada)
    assert offer_text(with_entrada) == ("entrada de R$ 468,00 + 3x de R$ 364,00, total R$ 1.560,00")
    uneven = OfferLine(4, 156_001, 0, (46_800, 36_403, 36_399, 36_399), DUE, kinds=entrada)
    assert offer_text(uneven).startswith(
        "entrada de R$ 468,00 + 3x de R$ 363,99 (a primeira delas de R$ 364,03)"
    )
    equal = OfferLine(3, 30_000, 0, (10_000,) * 3, DUE, kinds=("installment",) * 3)
    assert offer_text(equal) == "3x de R$ 100,00, total R$ 300,00"


# ---- refusals -------------------------------------------------------------------------------

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}")


def test_a_debt_taken_by_an_agreement_is_said_by_creditor_contracts_and_date() -> None:
    text = in_agreement("Banco Horizonte", ["CT-1", "CT-2", "CT-3"], dt.date(2026, 11, 20))
    assert text == (
        "os débitos com Banco Horizonte (contratos CT-1, CT-2 e CT-3) já estão em um acordo "
        "fechado em 20/11/2026"
    )
    assert "(contrato CT-1)" in in_agreement("Banco Horizonte", ["CT-1"], None)


@pytest.mark.parametrize(
    "message",
    [
        "a dívida 9c8b9bc0-1d2e-4f5a-8b6c-7d8e9f0a1b2c já está no acordo "
        "89003673-aaaa-4bbb-8ccc-1234567890ab",
        "dívida já quitada: 9c8b9bc0-1d2e-4f5a-8b6c-7d8e9f0a1b2c",
        "esta chave de idempotência já fechou outro acordo; use uma chave nova",
        "chave chat:0123456789abcdef0123456789abcdef:3 em uso",
    ],
)
def test_a_refusal_with_ids_or_keys_reaches_the_debtor_in_words(message: str) -> None:
    said = refusal_reason(message)
    assert not UUID.search(said) and "idempot" not in said and "chave" not in said
    assert said == "os débitos ou as condições mudaram desde que as opções foram mostradas"


def test_a_refusal_in_plain_words_is_said_as_it_is() -> None:
    message = "não há condição de pagamento em 3 parcela(s) para esses débitos"
    assert refusal_reason(message) == message


def test_what_was_paid_of_an_entrada_is_said_of_the_entrada() -> None:
    from services.messaging.domain.chatbot import OpenInvoice, digitable_line

    entrada = OpenInvoice(
        creditor="Banco Horizonte S.A.",
        number=1,
        installments=6,
        amount_cents=88_901,
        due_date=dt.date(2026, 11, 26),
        digitable_line="1" * 47,
        pix_code="000201",
        overdue=False,
        paid_cents=1_000,
        issued_cents=89_901,
        kinds=("down_payment",) + ("installment",) * 5,
    )
    said = digitable_line(entrada)
    assert "Você já pagou R$ 10,00 desta entrada." in said
    regular = digitable_line(
        OpenInvoice(**{**entrada.__dict__, "number": 2})  # the first after the entrada
    )
    assert "Você já pagou R$ 10,00 desta parcela." in regular
