"""Message templates: checked when saved, rendered in a sandbox, converted from the previous
systems' placeholders."""

from __future__ import annotations

from typing import get_args

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.ruler import MessageChannel
from services.messaging.domain.templates import (
    LEGACY_NAMES,
    MAX_LENGTH,
    VARIABLES,
    TemplateError,
    check_template,
    convert_legacy,
    render,
)

VALUES: dict[str, str] = {
    "nome": "Maria da Silva",
    "documento": "***.456.789-**",
    "credor": "Loja Exemplo Ltda",
    "valor": "R$ 1.234,56",
    "vencimento": "10/03/2026",
    "dias_atraso": "12",
    "numero": "NF-000123",
    "motivo": "quitada",
    "data_negativacao": "14/11/2026",
    "prazo_negativacao": "10",
    "data_baixa": "21/11/2026",
    "emissao": "10/02/2026",
    "linha_digitavel": "34191.79001 01043.510047 91020.150008 1 10010000123456",
    "pix_copia_e_cola": "00020126580014br.gov.bcb.pix0136chave-pix520400005303986",
    "link_portal": "https://exemplo.cobranca.app/portal",
    "link_termo": "https://exemplo.cobranca.app/termos/abc123",
    "assessoria": "Assessoria Exemplo",
    "quantidade_dividas": "2",
    "valor_total": "R$ 1.500,50",
}


def test_the_values_above_cover_every_variable() -> None:
    assert set(VALUES) == set(VARIABLES)


def test_every_variable_the_ruler_sends_is_a_template_variable() -> None:
    ruler_sends = {
        "nome",
        "documento",
        "credor",
        "valor",
        "vencimento",
        "dias_atraso",
        "numero",
        "motivo",
        "data_negativacao",
        "prazo_negativacao",
        "data_baixa",
    }
    assert ruler_sends <= set(VARIABLES)


def test_there_is_a_max_length_for_every_channel() -> None:
    assert set(MAX_LENGTH) == set(get_args(MessageChannel))
    assert MAX_LENGTH == {"sms": 1600, "whatsapp": 4096, "push": 240, "email": 100_000}


def test_renders_every_variable() -> None:
    body = "\n".join(f"{name}={{{{ {name} }}}}" for name in VARIABLES)
    assert check_template(body, max_length=MAX_LENGTH["email"]) == set(VARIABLES)
    rendered = render(body, VALUES)
    assert rendered == "\n".join(f"{name}={value}" for name, value in VALUES.items())


def test_renders_a_collection_message() -> None:
    body = (
        "Olá, {{ nome|title }}! Sua fatura {{ numero }} com {{ credor }}, de {{ valor }}, "
        "venceu em {{ vencimento }} ({{ dias_atraso }} dias). Negocie: {{ link_portal }}\n"
    )
    used = check_template(body, max_length=MAX_LENGTH["sms"])
    assert used == {"nome", "numero", "credor", "valor", "vencimento", "dias_atraso", "link_portal"}
    assert render(body, {**VALUES, "nome": "maria da silva"}) == (
        "Olá, Maria Da Silva! Sua fatura NF-000123 com Loja Exemplo Ltda, de R$ 1.234,56, "
        "venceu em 10/03/2026 (12 dias). Negocie: https://exemplo.cobranca.app/portal\n"
    )


def test_allowed_filters_and_conditions() -> None:
    body = (
        "{{ nome|upper }}|{{ nome|lower }}|{{ '  x  '|trim }}|{{ nome|trim('M') }}|"
        "{{ link_termo|default('sem termo') }}|{{ link_termo|default(link_portal) }}|"
        "{% if dias_atraso == '0' %}em dia{% elif credor %}{{ credor ~ '!' }}{% endif %}|"
        "{{ 'a' if not emissao else 'b' }}"
    )
    check_template(body, max_length=MAX_LENGTH["whatsapp"])
    variables = {k: v for k, v in VALUES.items() if k != "link_termo"}
    assert render(body, variables) == (
        "MARIA DA SILVA|maria da silva|x|aria da Silva|sem termo|"
        "https://exemplo.cobranca.app/portal|Loja Exemplo Ltda!|b"
    )


def test_check_returns_the_variables_of_subject_and_body() -> None:
    used = check_template("Pague {{ valor }}", "Cobrança {{ credor }}", max_length=100)
    assert used == {"valor", "credor"}


def test_unknown_variable_is_rejected_naming_the_first_one() -> None:
    with pytest.raises(TemplateError) as caught:
        check_template(
            "Olá {{ nome }},\nseu saldo é {{ saldo }} e {{ outro }}", max_length=MAX_LENGTH["sms"]
        )
    error = caught.value
    assert (error.field, error.rule, error.variable, error.line) == (
        "body",
        "unknown_variable",
        "saldo",
        2,
    )
    assert error.message == "variável desconhecida: saldo"
    assert str(error) == "corpo: variável desconhecida: saldo"
    assert isinstance(error, ValueError)


def test_unknown_variable_in_the_subject() -> None:
    with pytest.raises(TemplateError) as caught:
        check_template("{{ nome }}", "Aviso {{ cliente }}", max_length=MAX_LENGTH["email"])
    assert (caught.value.field, caught.value.rule, caught.value.variable) == (
        "subject",
        "unknown_variable",
        "cliente",
    )


def test_syntax_error_names_its_line() -> None:
    with pytest.raises(TemplateError) as caught:
        check_template("Olá {{ nome }},\n\nvalor: {{ valor ", max_length=MAX_LENGTH["sms"])
    assert caught.value.rule == "syntax"
    assert caught.value.line == 3
    assert caught.value.message.startswith("erro de sintaxe na linha 3")


def test_unclosed_block_is_a_syntax_error() -> None:
    with pytest.raises(TemplateError) as caught:
        check_template("{% if nome %}Olá", max_length=MAX_LENGTH["sms"])
    assert caught.value.rule == "syntax"


def test_body_over_the_channel_limit_is_rejected() -> None:
    check_template("x" * MAX_LENGTH["push"], max_length=MAX_LENGTH["push"])
    with pytest.raises(TemplateError) as caught:
        check_template("x" * (MAX_LENGTH["push"] + 1), max_length=MAX_LENGTH["push"])
    assert (caught.value.field, caught.value.rule) == ("body", "too_long")
    assert caught.value.message == "o corpo tem 241 caracteres; o máximo é 240"


def test_subject_limits() -> None:
    with pytest.raises(TemplateError) as caught:
        check_template("corpo", "a" * 256, max_length=MAX_LENGTH["email"])
    assert (caught.value.field, caught.value.rule) == ("subject", "too_long")
    with pytest.raises(TemplateError) as caught:
        check_template("corpo", "Aviso\nBcc: x@y", max_length=MAX_LENGTH["email"])
    assert (caught.value.field, caught.value.rule) == ("subject", "forbidden")


def test_empty_body_is_rejected() -> None:
    with pytest.raises(TemplateError) as caught:
        check_template("  \n", max_length=MAX_LENGTH["sms"])
    assert caught.value.rule == "empty"


def test_filters_outside_the_safe_set_are_rejected() -> None:
    for body in ("{{ nome|safe }}", "{{ nome|format(1) }}", "{{ nome|replace('a', 'b') }}"):
        with pytest.raises(TemplateError) as caught:
            check_template(body, max_length=MAX_LENGTH["sms"])
        assert caught.value.rule == "unknown_filter", body


def test_filter_arguments_are_limited() -> None:
    for body in (
        "{{ nome|upper(1) }}",
        "{{ nome|trim(5) }}",
        "{{ nome|default('a', true, 3) }}",
        "{{ nome|default(*valor) }}",
        "{{ nome|default(default_value='x') }}",
    ):
        with pytest.raises(TemplateError) as caught:
            check_template(body, max_length=MAX_LENGTH["sms"])
        assert caught.value.rule == "forbidden", body


def test_a_used_variable_without_value_is_reported_when_rendering() -> None:
    with pytest.raises(TemplateError) as caught:
        render("{{ nome }}: {{ valor }} em {{ vencimento }}", {"nome": "Ana"})
    error = caught.value
    assert (error.rule, error.variable, error.message) == (
        "missing_variable",
        "valor",
        "variável sem valor: valor",
    )


def test_a_missing_variable_in_a_condition_is_reported() -> None:
    with pytest.raises(TemplateError) as caught:
        render("{% if link_termo %}{{ link_termo }}{% endif %}", {})
    assert (caught.value.rule, caught.value.variable) == ("missing_variable", "link_termo")


def test_render_refuses_what_check_refuses() -> None:
    with pytest.raises(TemplateError) as caught:
        render("{{ saldo }}", {"saldo": "1"})
    assert caught.value.rule == "unknown_variable"


ESCAPES = [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ lipsum.__globals__['os'] }}",
    "{{ joiner }}{{ namespace }}{{ range(10) }}",
    "{% for x in ().__class__.__base__.__subclasses__() %}{{ x }}{% endfor %}",
    "{{ nome.__class__ }}",
    "{{ nome['__class__'] }}",
    "{{ nome.upper() }}",
    "{{ nome|attr('__class__') }}",
    "{{ nome|map('upper')|list }}",
    "{{ self.__init__.__globals__ }}",
    "{{ config }}{{ request }}",
    "{{ 'a' * 100000000 }}",
    "{{ 9 ** 9 ** 9 }}",
    "{{ nome is defined }}",
    "{% set x = nome %}{{ x }}",
    "{% include 'base.html' %}",
    "{% import 'm.html' as m %}",
    "{% extends 'base.html' %}",
    "{% macro m() %}{% endmacro %}",
    "{% with a = nome %}{{ a }}{% endwith %}",
    "{{ [nome] }}",
    "{{ {'a': nome} }}",
    "{{ nome if dias_atraso }}",
]


@pytest.mark.parametrize("body", ESCAPES)
def test_sandbox_escapes_are_rejected(body: str) -> None:
    with pytest.raises(TemplateError) as caught:
        check_template(body, max_length=MAX_LENGTH["email"])
    assert caught.value.rule in {"unknown_variable", "unknown_filter", "forbidden", "syntax"}
    with pytest.raises(TemplateError):
        render(body, VALUES)


def test_raw_blocks_and_values_are_inert() -> None:
    body = "{% raw %}{{ ''.__class__.__mro__ }}{% endraw %} {{ nome }}"
    check_template(body, max_length=MAX_LENGTH["sms"])
    payload = "{{ ''.__class__.__mro__ }}{% for x in range(9) %}x{% endfor %}"
    assert render(body, {"nome": payload}) == "{{ ''.__class__.__mro__ }} " + payload


def test_html_bodies_are_escaped_and_text_bodies_are_not() -> None:
    body = "<p>Olá, {{ nome }}</p>"
    nasty = {"nome": "<script>alert('x')</script> & Cia"}
    assert render(body, nasty, html=True) == (
        "<p>Olá, &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; Cia</p>"
    )
    assert render(body, nasty) == "<p>Olá, <script>alert('x')</script> & Cia</p>"
    assert render("{{ nome|upper }}", {"nome": "a<b"}, html=True) == "A&lt;B"


# ---- legacy placeholders -------------------------------------------------------------------

# The push notification variables of the seed (002), in a message as its "Dica" describes.
SEED_PUSH = (
    "Sua fatura #areceber_numero#, emitida em #areceber_data_emissao#, no valor de "
    "#areceber_valor#, vence em #areceber_data_vencimento#."
)
# The seed's own sentence about Recuperador's portal link variable (000).
SEED_PORTAL = (
    "Também, é possível melhorar a comunicação com esses clientes usando a variável "
    "%LinkPortal% na configuração do texto da notificação automática configurada acima para "
    "que o endereço do portal seja incluído na mensagem do e-mail, facilitando o acesso do "
    "cliente ao portal de negociação."
)


def test_legacy_names_map_to_template_variables() -> None:
    assert set(LEGACY_NAMES.values()) <= set(VARIABLES)
    for legacy, ours in LEGACY_NAMES.items():
        assert convert_legacy(legacy) == "{{ " + ours + " }}"


def test_converts_the_seed_push_variables() -> None:
    converted = convert_legacy(SEED_PUSH)
    assert converted == (
        "Sua fatura {{ numero }}, emitida em {{ emissao }}, no valor de {{ valor }}, "
        "vence em {{ vencimento }}."
    )
    assert check_template(converted, max_length=MAX_LENGTH["push"]) == {
        "numero",
        "emissao",
        "valor",
        "vencimento",
    }
    assert render(converted, VALUES) == (
        "Sua fatura NF-000123, emitida em 10/02/2026, no valor de R$ 1.234,56, vence em 10/03/2026."
    )


def test_converts_the_seed_portal_link() -> None:
    converted = convert_legacy(SEED_PORTAL)
    assert "usando a variável {{ link_portal }} na configuração" in converted
    assert check_template(converted, max_length=MAX_LENGTH["email"]) == {"link_portal"}
    assert "usando a variável https://exemplo.cobranca.app/portal na configuração" in render(
        converted, VALUES, html=True
    )


def test_legacy_names_match_without_regard_to_case() -> None:
    assert convert_legacy("%linkportal% %NOMECLIENTE% #AReceber_Valor#") == (
        "{{ link_portal }} {{ nome }} {{ valor }}"
    )


def test_recuperador_style_message() -> None:
    text = (
        "Olá %NomeCliente%, CPF %CPF%: seu débito com %Credor% de %Valor% venceu em "
        "%Vencimento%. Boleto: %LinhaDigitavel%. Acesse %LinkPortal%"
    )
    converted = convert_legacy(text)
    check_template(converted, max_length=MAX_LENGTH["sms"])
    assert render(converted, VALUES) == (
        "Olá Maria da Silva, CPF ***.456.789-**: seu débito com Loja Exemplo Ltda de "
        "R$ 1.234,56 venceu em 10/03/2026. Boleto: "
        "34191.79001 01043.510047 91020.150008 1 10010000123456. "
        "Acesse https://exemplo.cobranca.app/portal"
    )


def test_unknown_legacy_placeholder_is_named() -> None:
    with pytest.raises(TemplateError) as caught:
        convert_legacy("Olá %Nome%,\nseu código é %CodigoCliente%.")
    error = caught.value
    assert (error.field, error.rule, error.variable, error.line) == (
        "body",
        "unknown_variable",
        "%CodigoCliente%",
        2,
    )
    assert error.message == "variável desconhecida: %CodigoCliente%"
    with pytest.raises(TemplateError) as caught:
        convert_legacy("Aviso #areceber_juros#", field="subject")
    assert (caught.value.field, caught.value.variable) == ("subject", "#areceber_juros#")


def test_percentages_and_hashes_stay_text() -> None:
    text = "Desconto de 70% nos juros e 65% na multa (100%!). Senha #1, item # 2 #"
    assert convert_legacy(text) == text


def test_literal_jinja_in_legacy_text_stays_text() -> None:
    text = "Use {{ ''.__class__ }} e {% for %} e {# nota #} {%Nome%} {{{#areceber_valor#}}}"
    converted = convert_legacy(text)
    check_template(converted, max_length=MAX_LENGTH["sms"])
    assert render(converted, VALUES) == (
        "Use {{ ''.__class__ }} e {% for %} e {# nota #} {Maria da Silva} {{{R$ 1.234,56}}}"
    )


_LITERAL = st.text(alphabet="{}%#-_ \n1'\"\\", max_size=12)
_LEGACY = st.sampled_from(sorted(LEGACY_NAMES))


@given(st.lists(st.tuples(_LITERAL, _LEGACY), min_size=1, max_size=6), _LITERAL)
def test_converted_legacy_renders_the_text_with_the_values(
    pieces: list[tuple[str, str]], tail: str
) -> None:
    text = "".join(literal + legacy for literal, legacy in pieces) + tail
    expected = "".join(literal + VALUES[LEGACY_NAMES[legacy]] for literal, legacy in pieces)
    converted = convert_legacy(text)
    check_template(converted, max_length=MAX_LENGTH["email"])
    assert render(converted, VALUES) == expected + tail
