"""Message templates: what an agency writes for its e-mails, SMS, WhatsApp and push messages,
checked when saved and rendered safely when sent.

Syntax: Jinja2 expressions over the variables in `VARIABLES` (``Olá, {{ nome }}``), with the
filters ``upper``, ``lower``, ``title``, ``trim`` and ``default`` and ``{% if %}`` blocks. A
template is data written by a tenant's admin, so it is parsed and checked against a whitelist of
constructs before it is ever compiled: no attribute or item access, no calls, no loops, no
assignments, macros, includes or imports, no globals and no tests; the environment is an
`ImmutableSandboxedEnvironment` with empty globals/tests and only the five filters, as a second
line of defence. Undefined variables are errors (`StrictUndefined`), never empty text.

Every variable's value is a string, formatted by whoever asks for the message (the ruler sends
``nome``, ``documento``, ``credor``, ``valor``, ``vencimento``, ``dias_atraso`` and ``numero``,
``motivo`` in its finalization messages, ``data_negativacao`` and ``prazo_negativacao`` in the
notice before a listing at the credit bureau (the date rendered again from the day it is sent
when it goes later: see `MessagingApplication._notice_dated`) and ``data_baixa`` in the
message about a listing's removal; see `contracts.ruler.MessageRequested.variables`;
the weekly portal notification sends ``quantidade_dividas`` and ``valor_total``). An e-mail may
also have an HTML body, rendered with autoescape (``render(..., html=True)``): a value never
becomes markup.

Templates written for the previous systems (``#areceber_valor#`` of the push notifications,
``%LinkPortal%`` of Recuperador) are converted with `convert_legacy`; see `LEGACY_NAMES`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Literal

from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError, nodes
from jinja2.environment import Template
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

TemplateField = Literal["subject", "body", "html"]
TemplateRule = Literal[
    "empty",
    "syntax",
    "too_long",
    "unknown_variable",
    "unknown_filter",
    "forbidden",
    "missing_variable",
]

# The variables a template may use: name -> what it holds (shown to the admin).
VARIABLES: dict[str, str] = {
    "nome": "Nome do devedor",
    "documento": "CPF ou CNPJ do devedor, mascarado (ex.: ***.456.789-**)",
    "credor": "Nome do credor",
    "valor": "Valor devido, formatado em reais (ex.: R$ 1.234,56)",
    "vencimento": "Data de vencimento (dd/mm/aaaa)",
    "dias_atraso": "Dias em atraso",
    "numero": "Número da fatura ou do contrato",
    "motivo": "Por que a cobrança terminou: quitada, paga, renegociada ou cancelada (só nas "
    "mensagens de finalização da régua)",
    "data_negativacao": "A partir de quando a dívida pode ser negativada, se não for paga nem "
    "negociada (dd/mm/aaaa; só no aviso antes da negativação)",
    "prazo_negativacao": "Em quantos dias do envio do aviso a dívida pode ser negativada "
    "(só no aviso antes da negativação; data_negativacao é contada do dia do envio)",
    "data_baixa": "Quando a negativação foi retirada (dd/mm/aaaa; só na mensagem de baixa da "
    "negativação)",
    "emissao": "Data de emissão (dd/mm/aaaa)",
    "linha_digitavel": "Linha digitável do boleto",
    "pix_copia_e_cola": "Código Pix copia e cola",
    "link_portal": "Link do portal de negociação da assessoria",
    "link_termo": "Link do termo de acordo",
    "assessoria": "Nome da assessoria de cobrança",
    "quantidade_dividas": "Quantidade de dívidas em aberto do devedor",
    "valor_total": "Valor original somado das dívidas em aberto (ex.: R$ 1.234,56)",
}

# Most characters a template's body may have, by channel. SMS: 10 concatenated segments of
# 160; WhatsApp: the text limit of a message; push: what a notification shows; e-mail: HTML.
MAX_LENGTH: dict[str, int] = {
    "sms": 1600,
    "whatsapp": 4096,
    "push": 240,
    "email": 100_000,
}

# Most characters of an e-mail subject's template.
SUBJECT_MAX_LENGTH = 255

# Most characters of an e-mail's HTML body (markup takes room the text body does not).
HTML_MAX_LENGTH = 200_000

# Placeholders of the systems agencies come from -> our variable. Matched without regard to
# case. From the seeds: the `#areceber_...#` variables of the push notification templates and
# `%LinkPortal%` of Recuperador's automatic notifications; the other `%...%` names follow
# Recuperador's naming for the data our variables hold.
LEGACY_NAMES: dict[str, str] = {
    "#areceber_valor#": "valor",
    "#areceber_data_vencimento#": "vencimento",
    "#areceber_data_emissao#": "emissao",
    "#areceber_numero#": "numero",
    "%LinkPortal%": "link_portal",
    "%Nome%": "nome",
    "%NomeCliente%": "nome",
    "%NomeDevedor%": "nome",
    "%CPF%": "documento",
    "%CNPJ%": "documento",
    "%CPFCNPJ%": "documento",
    "%Documento%": "documento",
    "%Credor%": "credor",
    "%Valor%": "valor",
    "%Vencimento%": "vencimento",
    "%DataVencimento%": "vencimento",
    "%Emissao%": "emissao",
    "%DataEmissao%": "emissao",
    "%DiasAtraso%": "dias_atraso",
    "%Numero%": "numero",
    "%Contrato%": "numero",
    "%NumeroContrato%": "numero",
    "%LinhaDigitavel%": "linha_digitavel",
    "%Pix%": "pix_copia_e_cola",
    "%PixCopiaECola%": "pix_copia_e_cola",
    "%LinkTermo%": "link_termo",
    "%TermoAcordo%": "link_termo",
    "%Assessoria%": "assessoria",
}

_FIELD_NAMES: dict[TemplateField, str] = {
    "subject": "assunto",
    "body": "corpo",
    "html": "corpo HTML",
}

# Filters a template may use -> how many positional arguments each takes at most.
_FILTER_ARITY: dict[str, int] = {"upper": 0, "lower": 0, "title": 0, "trim": 1, "default": 2}

# Nodes a template may contain; anything else (attribute or item access, calls, loops,
# assignments, arithmetic, literals other than constants...) is refused.
_ALLOWED_NODES: tuple[type[nodes.Node], ...] = (
    nodes.Template,
    nodes.Output,
    nodes.TemplateData,
    nodes.Name,
    nodes.Const,
    nodes.Filter,
    nodes.If,
    nodes.CondExpr,
    nodes.Not,
    nodes.And,
    nodes.Or,
    nodes.Compare,
    nodes.Operand,
    nodes.Concat,
)

_LEGACY_PLACEHOLDER = re.compile(r"%[A-Za-z][A-Za-z0-9_]*%|#[A-Za-z][A-Za-z0-9_]*#")
# In legacy text, what Jinja would read as the start of code: `{{`, `{%`, `{#`, and a `{` that
# a converted placeholder (`{{ ... }}`) follows.
_JINJA_OPENING = re.compile(r"\{[{%#]|\{\Z")
_LEGACY_LOOKUP: dict[str, str] = {name.lower(): ours for name, ours in LEGACY_NAMES.items()}


class TemplateError(ValueError):
    """A template that cannot be saved or rendered, with what is wrong in pt-BR (`message`)."""

    def __init__(
        self,
        field: TemplateField,
        rule: TemplateRule,
        message: str,
        *,
        variable: str | None = None,
        line: int | None = None,
    ) -> None:
        super().__init__(message)
        self.field: TemplateField = field
        self.rule: TemplateRule = rule
        self.message = message
        self.variable = variable
        self.line = line

    def __str__(self) -> str:
        return f"{_FIELD_NAMES[self.field]}: {self.message}"


def _environment(*, html: bool) -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(
        undefined=StrictUndefined,
        autoescape=html,
        keep_trailing_newline=True,
    )
    allowed: dict[str, Callable[..., Any]] = {name: env.filters[name] for name in _FILTER_ARITY}
    env.filters = allowed
    env.tests = {}
    env.globals = {}
    return env


_TEXT_ENV = _environment(html=False)
_HTML_ENV = _environment(html=True)


def _line_of(node: nodes.Node) -> int | None:
    line: int | None = getattr(node, "lineno", None)
    return line


def _walk(node: nodes.Node) -> Iterator[nodes.Node]:
    """Every node under `node`, in source order (pre-order)."""
    yield node
    for child in node.iter_child_nodes():
        yield from _walk(child)


def _check_node(node: nodes.Node, field: TemplateField) -> None:
    line = _line_of(node)
    if not isinstance(node, _ALLOWED_NODES):
        raise TemplateError(
            field,
            "forbidden",
            f"construção não permitida na linha {line}: use apenas variáveis, filtros e {{% if %}}",
            line=line,
        )
    if isinstance(node, nodes.Name):
        if node.ctx != "load":
            raise TemplateError(
                field, "forbidden", f"atribuição não permitida na linha {line}", line=line
            )
        if node.name not in VARIABLES:
            raise TemplateError(
                field,
                "unknown_variable",
                f"variável desconhecida: {node.name}",
                variable=node.name,
                line=line,
            )
    elif isinstance(node, nodes.CondExpr) and node.expr2 is None:
        raise TemplateError(
            field,
            "forbidden",
            f"expressão condicional sem else na linha {line}: use {{{{ a if b else c }}}}",
            line=line,
        )
    elif isinstance(node, nodes.Filter):
        if node.name not in _FILTER_ARITY:
            raise TemplateError(
                field,
                "unknown_filter",
                f"filtro não permitido: {node.name} (permitidos: "
                f"{', '.join(sorted(_FILTER_ARITY))})",
                line=line,
            )
        if (
            node.kwargs
            or node.dyn_args is not None
            or node.dyn_kwargs is not None
            or len(node.args) > _FILTER_ARITY[node.name]
            or not all(isinstance(arg, nodes.Const | nodes.Name) for arg in node.args)
            or (
                node.name == "trim"
                and not all(
                    isinstance(arg, nodes.Const) and isinstance(arg.value, str) for arg in node.args
                )
            )
        ):
            raise TemplateError(
                field,
                "forbidden",
                f"argumentos inválidos para o filtro {node.name} na linha {line}",
                line=line,
            )


@functools.lru_cache(maxsize=512)
def _compile(source: str, html: bool, field: TemplateField) -> tuple[Template, tuple[str, ...]]:
    """The template compiled, with the variables it uses in order of first use. Raises
    TemplateError for a syntax error or anything outside the whitelist."""
    env = _HTML_ENV if html else _TEXT_ENV
    try:
        tree = env.parse(source)
    except TemplateSyntaxError as exc:
        raise TemplateError(
            field,
            "syntax",
            f"erro de sintaxe na linha {exc.lineno} ({exc.message})",
            line=exc.lineno,
        ) from None
    used: dict[str, None] = {}
    for node in _walk(tree):
        _check_node(node, field)
        if isinstance(node, nodes.Name):
            used[node.name] = None
    return env.from_string(tree), tuple(used)


def _check_one(
    source: str, field: TemplateField, max_length: int, *, html: bool = False
) -> tuple[str, ...]:
    if not source.strip():
        raise TemplateError(field, "empty", f"o {_FIELD_NAMES[field]} não pode ficar vazio")
    if len(source) > max_length:
        raise TemplateError(
            field,
            "too_long",
            f"o {_FIELD_NAMES[field]} tem {len(source)} caracteres; o máximo é {max_length}",
        )
    # Compiled as it will be rendered (HTML with autoescape), so the check warms the cache.
    return _compile(source, html, field)[1]


def check_template(
    body: str, subject: str | None = None, *, max_length: int, html: str | None = None
) -> set[str]:
    """Check a template before saving it: the subject (e-mail only), the body and then the
    HTML body (e-mail only). Raises TemplateError for the first problem found: an empty text, a
    body over `max_length` characters (see `MAX_LENGTH`), a subject over `SUBJECT_MAX_LENGTH`
    or an HTML body over `HTML_MAX_LENGTH`, a syntax error (with its line), the first unknown
    variable, a filter outside the allowed ones, or any construct outside variables, filters
    and ``{% if %}``. Returns the variables used."""
    used: set[str] = set()
    if subject is not None:
        if "\n" in subject or "\r" in subject:
            raise TemplateError("subject", "forbidden", "o assunto não pode ter quebras de linha")
        used.update(_check_one(subject, "subject", SUBJECT_MAX_LENGTH))
    used.update(_check_one(body, "body", max_length))
    if html is not None:
        used.update(_check_one(html, "html", HTML_MAX_LENGTH, html=True))
    return used


def render(
    body: str,
    variables: Mapping[str, str],
    *,
    html: bool = False,
    field: TemplateField = "body",
) -> str:
    """The template filled with `variables`. `html=True` for e-mail HTML bodies: values (and
    constants) are HTML-escaped. Raises TemplateError with rule "missing_variable" naming the
    first used variable without a value (one under ``default(...)`` may be missing), and the
    errors of `check_template` (but length) for a template that would not pass it."""
    template, used = _compile(body, html, field)
    try:
        return str(template.render(dict(variables)))
    except UndefinedError:
        missing = next((name for name in used if name not in variables), None)
        raise TemplateError(
            field,
            "missing_variable",
            f"variável sem valor: {missing}",
            variable=missing,
        ) from None
    except SecurityError:  # pragma: no cover - the whitelist refuses it before compiling
        raise TemplateError(field, "forbidden", "construção não permitida") from None


def _escape_literal(text: str) -> str:
    return _JINJA_OPENING.sub(lambda m: "{{ '" + m.group() + "' }}", text)


def convert_legacy(text: str, *, field: TemplateField = "body") -> str:
    """A template of a previous system in our syntax: each placeholder of `LEGACY_NAMES`
    (``#areceber_valor#``, ``%LinkPortal%``..., any case) becomes ``{{ name }}``, and text that
    Jinja would read as code (``{{``, ``{%``, ``{#``) is escaped so it stays text.

    A ``%Name%`` or ``#name#`` placeholder that is not in `LEGACY_NAMES` raises TemplateError
    (rule "unknown_variable", `variable` the placeholder as written, e.g. ``%Foo%``): left as
    text it would reach debtors unfilled, and as text `check_template` could not see it, so the
    admin is told which one to fix. Only letters, digits and ``_`` between the delimiters make
    a placeholder: ``50% de desconto e 10% de juros`` and ``#1`` stay text."""
    parts: list[str] = []
    position = 0
    for match in _LEGACY_PLACEHOLDER.finditer(text):
        placeholder = match.group()
        ours = _LEGACY_LOOKUP.get(placeholder.lower())
        if ours is None:
            raise TemplateError(
                field,
                "unknown_variable",
                f"variável desconhecida: {placeholder}",
                variable=placeholder,
                line=text.count("\n", 0, match.start()) + 1,
            )
        parts.append(_escape_literal(text[position : match.start()]))
        parts.append("{{ " + ours + " }}")
        position = match.end()
    parts.append(_escape_literal(text[position:]))
    return "".join(parts)
