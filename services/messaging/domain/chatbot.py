"""The chatbot's words and how it reads the debtor's (pure: no I/O). Replies are short pt-BR
texts, as the seeds' bots write them; the flow itself is in the application layer."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from contracts.documents import (
    CPF_LENGTH,
    InvalidDocument,
    document_kind,
    is_valid_document,
    validate_document,
)
from contracts.invoices import installment_heading, installments_count
from contracts.money import format_brl

OPTION_LABELS = {
    "digitable_line": "Linha digitável e PIX do boleto em aberto",
    "boleto_pdf": "Boleto em PDF",
    "statement_pdf": "Demonstrativo de débito (PDF)",
    "negotiate": "Negociar minha dívida",
    "term_pdf": "Termo do último acordo",
    "operator": "Falar com um atendente",
    "restart": "Recomeçar",
    "new_code": "Receber um novo código",
}

OPT_OUT_WORDS = frozenset({"sair", "parar", "stop", "descadastrar"})
MENU_WORDS = frozenset({"menu", "opcoes", "inicio"})
YES_WORDS = frozenset({"1", "sim", "s", "confirmo", "confirmar"})
NO_WORDS = frozenset({"2", "nao", "n", "voltar", "0"})


def plain(text: str) -> str:
    """Lower case, no accents, no surrounding spaces or punctuation: 'Não!' -> 'nao'."""
    decomposed = unicodedata.normalize("NFKD", text.strip().lower())
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return stripped.strip(" .,;:!?*\"'")


def is_opt_out(text: str) -> bool:
    return plain(text) in OPT_OUT_WORDS


def is_menu(text: str) -> bool:
    return plain(text) in MENU_WORDS


def choice(text: str, count: int) -> int | None:
    """The option number typed (1..count), or None."""
    value = plain(text)
    if value.isdigit() and 1 <= int(value) <= count:
        return int(value)
    return None


def given_name(name: str | None) -> str:
    """A person's first given name as it is written: 'JOÃO DA SILVA' -> 'João',
    'ana-clara souza' -> 'Ana-Clara'; "" without a name."""
    words = (name or "").split()
    if not words:
        return ""
    return "-".join(part[:1].upper() + part[1:].lower() for part in words[0].split("-"))


def dmy(day: dt.date) -> str:
    return day.strftime("%d/%m/%Y")


# ---- reading a CPF or CNPJ in what the debtor writes ----------------------------------------

# Between two groups of a document: one separator people type (spaces around it allowed), or,
# between groups of digits only, spaces ("529 982 247 25").
_DOCUMENT_GROUP = re.compile(r"[0-9A-Za-z]+")
_DOCUMENT_SEPARATOR = re.compile(r"\s*[.\-/\u2010\u2011\u2012\u2013\u2014]\s*")
_SPACES = re.compile(r"[ \t]+")
_LEADING_LETTERS = re.compile(r"^[A-Za-z]+(?=[0-9])")
_TRAILING_LETTERS = re.compile(r"(?<=[0-9])[A-Za-z]+$")
# Words that name the document, never a part of it ("CPF-529.982.247-25").
_LABELS = frozenset({"CPF", "CNPJ", "DOC", "DOCUMENTO", "NUMERO"})
# Numbers this long are no CPF (11 digits) but may be one mistyped: said, never an attempt.
SHORT_DOCUMENT_DIGITS = (9, 10)
# No document is longer (a span is at most a document with a few glued characters).
_LONGEST_SPAN = 30


@dataclass(frozen=True)
class DocumentFound:
    """A valid CPF or CNPJ, normalized."""

    document: str


@dataclass(frozen=True)
class DocumentMistyped:
    """Something shaped like a CPF or CNPJ that is none (a wrong check digit, all digits
    equal, 12 or 13 digits...): an identification attempt. `reason` is validate_document's."""

    reason: str


@dataclass(frozen=True)
class DocumentTooShort:
    """A number of 9 or 10 digits: likely a CPF missing a digit, told but no attempt."""

    digits: int


DocumentTyped = DocumentFound | DocumentMistyped | DocumentTooShort


@dataclass(frozen=True)
class _Span:
    text: str  # normalized: upper case, no separators
    clean: bool  # begins and ends where the debtor left a space (or the chain does)
    # Joins numbers the debtor wrote apart ("529 982 247 25", or "paguei 150 200 300 400"):
    # a document if valid, an attempt only if that is all there is to the run.
    spaced: bool = False
    whole: bool = False


def _chains(text: str) -> list[list[tuple[str, str]]]:
    """Runs of letter-and-digit groups joined as documents are typed, each group with the
    link before it ("" first, "sep" for a separator, "space" for spaces)."""
    chains: list[list[tuple[str, str]]] = []
    previous: re.Match[str] | None = None
    for group in _DOCUMENT_GROUP.finditer(text):
        if group.group().upper() in _LABELS:
            previous = None
            continue
        link = "break"
        if previous is not None:
            gap = text[previous.end() : group.start()]
            if _DOCUMENT_SEPARATOR.fullmatch(gap):
                link = "sep"
            elif _SPACES.fullmatch(gap) and previous.group().isdigit() and group.group().isdigit():
                link = "space"
        if link == "break":
            chains.append([(group.group(), "")])
        else:
            chains[-1].append((group.group(), link))
        previous = group
    return chains


def _spans(chain: list[tuple[str, str]]) -> list[_Span]:
    """Every run of consecutive groups of the chain, the longest first; a group at either end
    also without the word glued to it ("cpf52998224725")."""
    found: list[tuple[int, int, _Span]] = []
    count = len(chain)
    for start in range(count):
        for end in range(start + 1, count + 1):  # exclusive
            groups = [g for g, _ in chain[start:end]]
            if sum(map(len, groups)) > _LONGEST_SPAN:
                break
            length = end - start
            clean = (start == 0 or chain[start][1] == "space") and (
                end == count or chain[end][1] == "space"
            )
            links = {link for _, link in chain[start + 1 : end]}
            if links >= {"sep", "space"}:
                continue  # a document is typed with its punctuation or with spaces, not both
            spaced = "space" in links
            whole = start == 0 and end == count
            heads = {groups[0], _LEADING_LETTERS.sub("", groups[0])}
            for head in heads:
                middle = [head, *groups[1:]]
                tails = {middle[-1], _TRAILING_LETTERS.sub("", middle[-1])}
                for tail in tails:
                    joined = "".join([*middle[:-1], tail]) if length > 1 else tail
                    if joined:
                        found.append((-length, start, _Span(joined.upper(), clean, spaced, whole)))
    return [span for *_, span in sorted(found, key=lambda f: (f[0], f[1]))]


def _looks_like_document(span: str) -> int | None:
    """How surely a span that is no valid document was meant as one (0 surest), or None."""
    kind = document_kind(span)
    if kind == "cpf" or (kind == "cnpj" and span.isdigit()):
        return 0
    if kind == "cnpj" and any(c.isdigit() for c in span[:12]):
        return 1  # an alphanumeric CNPJ
    if span.isdigit() and len(span) > CPF_LENGTH:
        return 2  # 12, 13 or 15 digits and more
    return None


def document_typed(text: str) -> DocumentTyped | None:
    """The CPF or CNPJ in what the debtor wrote, wherever it is in the sentence and however
    punctuated ("meu cpf é 529.982.247-25, obrigado"; alphanumeric CNPJs too, in any case);
    a mistyped one when something shaped like a document is none; a number just too short;
    or None when there is nothing like a document (a greeting, a question, an emoji)."""
    spans = [span for chain in _chains(text) for span in _spans(chain)]
    # Digits before letters (a word glued to a CPF may make a valid alphanumeric CNPJ), and
    # what the debtor set apart before what runs into other groups.
    for digits, clean in ((True, True), (True, False), (False, True), (False, False)):
        for span in spans:
            if (
                span.text.isdigit() == digits
                and span.clean == clean
                and document_kind(span.text)
                and is_valid_document(span.text)
            ):
                return DocumentFound(span.text)
    # Numbers written apart are an attempt only when they are all there is, shaped as one.
    sure = [s for s in spans if not s.spaced or (s.whole and document_kind(s.text))]
    meant = [
        (rank, span.text) for span in sure if (rank := _looks_like_document(span.text)) is not None
    ]
    if meant:
        _, best = min(meant, key=lambda m: (m[0], -len(m[1])))
        try:
            validate_document(best)
        except InvalidDocument as exc:
            return DocumentMistyped(exc.reason)
    short = [
        len(s.text)
        for s in spans
        if s.whole and not s.spaced and s.text.isdigit() and len(s.text) in SHORT_DOCUMENT_DIGITS
    ]
    if short:
        return DocumentTooShort(max(short))
    return None


def welcome(agency: str) -> str:
    return (
        f"Olá! Você está no atendimento virtual da {agency}. "
        "Para consultar e negociar seus débitos, digite o seu CPF ou CNPJ."
    )


# What isn't a document (a greeting, a question): asked again, no attempt spent.
ASK_DOCUMENT = (
    "Para começar, me diga seu CPF ou CNPJ. Pode ser com ou sem pontos e traço, como está no "
    "seu contrato ou boleto."
)


def document_too_short(digits: int) -> str:
    return (
        f"Esse número tem {digits} dígitos, mas o CPF tem 11 e o CNPJ, 14. "
        "Confira e digite de novo."
    )


def invalid_document(reason: str, attempt: int, allowed: int) -> str:
    return (
        f"Não consegui validar esse documento: {reason}. "
        f"Confira e digite de novo (tentativa {attempt} de {allowed})."
    )


def document_guidance(portal_link: str) -> str:
    return (
        "Não consegui validar o documento informado. Confira o CPF ou CNPJ no seu contrato ou "
        f"boleto e escreva de novo quando quiser. Você também pode consultar pelo portal: "
        f"{portal_link}"
    )


def not_found(masked_document: str) -> str:
    return (
        f"Não encontramos débitos em aberto para o documento {masked_document}. "
        "Se você esperava encontrar um débito aqui, fale com um atendente."
    )


def menu(options: Sequence[str]) -> str:
    lines = [f"{n} - {OPTION_LABELS[o]}" for n, o in enumerate(options, start=1)]
    return "Escolha uma opção, digitando o número:\n" + "\n".join(lines)


@dataclass(frozen=True)
class Situation:
    """What the debtor owes, as the greeting tells it: the open debts not in an agreement (what
    Negociar offers) apart from the agreements in progress."""

    open_debts: int
    open_cents: int  # their updated value
    agreements: int  # active ones
    left_cents: int  # what is left to pay of them (their open invoices)


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def greeting(
    name: str | None,
    company: bool,
    situation: Situation,
    ended: Sequence[tuple[str, str | None, int | None]] = (),
) -> str:
    """A person by the first given name; a company (a CNPJ) by no name at all: its name is no
    name to be called by ('Serviços de Limpeza Pão Dourado ME'). `ended`: the agreements that
    ended of late (as `no_open_invoice` takes them), each said in one sentence with why
    (`ended_sentence`; QA pass 9, D5: the greeting said nothing of an agreement the creditor
    had just ended)."""
    said = "".join(f" {ended_sentence(*agreement)}" for agreement in ended)
    return _greeting(name, company, situation) + said


# How long after an agreement's last invoice fell due its end is still told in the greeting:
# it ended before that (a lowering or withdrawal while in force, a break soon after a due
# date), so an end older than this is not news.
RECENT_END_DAYS = 90


def ended_sentence(named: str, end_reason: str | None, owed_cents: int | None) -> str:
    """'O acordo de ... foi encerrado porque ...': `named` as `agreement_named` says it, why
    (`ended_because`); a debtor's break whose debts owe nothing any more (`owed_cents` 0: paid
    since) says so. A withdrawal's 0 is said by its reason; a lowering's 0 is 'quitada'."""
    because = ended_because(end_reason, owed_cents)
    if owed_cents == 0 and end_reason not in ("debt_amount_lowered", "debt_withdrawn"):
        because += "; nada mais resta a pagar dele"
    return f"O {named} {because}."


def _greeting(name: str | None, company: bool, situation: Situation) -> str:
    who = f", {given_name(name)}" if name and not company else ""
    debts = _count(situation.open_debts, "débito em aberto", "débitos em aberto")
    agreements = _count(situation.agreements, "acordo em andamento", "acordos em andamento")
    owed = format_brl(situation.open_cents)
    left = format_brl(situation.left_cents)
    if situation.open_debts and situation.agreements:
        return (
            f"Olá{who}! Encontramos {debts} sem acordo, no total atualizado de {owed}, e "
            f"{agreements}, com {left} a pagar."
        )
    if situation.open_debts:
        return f"Olá{who}! Encontramos {debts}, no total atualizado de {owed}."
    if situation.agreements:
        return (
            f"Olá{who}! Você tem {agreements}, com {left} a pagar, e nenhum outro débito em aberto."
        )
    return f"Olá{who}! Você não tem débitos em aberto no momento."


def invalid_option(options_count: int) -> str:
    return f"Opção inválida. Digite um número de 1 a {options_count}, ou MENU para ver as opções."


@dataclass(frozen=True)
class OpenInvoice:
    creditor: str
    number: int
    installments: int
    amount_cents: int  # what is left to pay: the balance
    due_date: dt.date
    digitable_line: str
    pix_code: str  # asking for the balance
    overdue: bool
    # Paid in part: what was paid, and the installment's amount, which the boleto (registered
    # at the bank) keeps; then only the PIX pays the balance.
    paid_cents: int = 0
    issued_cents: int = 0
    # The agreement's installments' kinds in number order ("down_payment": the entrada, its
    # first); none given, every one a regular installment.
    kinds: tuple[str, ...] = ()

    @property
    def partly_paid(self) -> bool:
        return self.paid_cents > 0 and 0 < self.amount_cents < self.issued_cents

    @property
    def heading(self) -> str:
        """'Entrada', 'Parcela 1 de 3' (counted after the entrada), 'Parcela única': as the
        portal and the term name it (contracts.invoices)."""
        kinds = self.kinds or ("installment",) * self.installments
        kind = kinds[self.number - 1] if 0 < self.number <= len(kinds) else "installment"
        return installment_heading(kind, self.number, kinds)


def _which(invoice: OpenInvoice) -> str:
    return invoice.heading


def _of_the(invoice: OpenInvoice) -> str:
    """'da entrada', 'da parcela 1 de 3', 'da parcela única'."""
    heading = invoice.heading
    return f"da {heading[0].lower()}{heading[1:]}"


def boleto_label(invoice: OpenInvoice) -> str:
    """The boleto's link: 'Boleto da parcela 1 de 3, Banco Horizonte (PDF)'."""
    return f"Boleto {_of_the(invoice)}, {invoice.creditor} (PDF)"


def boleto_due(invoice: OpenInvoice) -> str:
    """Said with one boleto's link: 'Boleto da entrada, vencimento 25/11/2026:'."""
    return f"Boleto {_of_the(invoice)}, vencimento {dmy(invoice.due_date)}:"


def _this(invoice: OpenInvoice) -> str:
    """'desta entrada' or 'desta parcela'."""
    return "desta entrada" if invoice.heading == "Entrada" else "desta parcela"


def _full_amount_boleto(invoice: OpenInvoice) -> str:
    """Why a partly paid invoice is paid by PIX: its boleto asks for the whole installment."""
    return (
        f"Você já pagou {format_brl(invoice.paid_cents)} {_this(invoice)}. O boleto foi emitido "
        f"com o valor integral ({format_brl(invoice.issued_cents)}) e não serve para pagar só "
        f"o saldo: pague os {format_brl(invoice.amount_cents)} que faltam com o PIX."
    )


def digitable_line(invoice: OpenInvoice) -> str:
    """The invoice's line and PIX code; once paid in part, the PIX of the balance alone (the
    line, of the whole amount, is not given, as on the portal)."""
    late = " (vencida)" if invoice.overdue else ""
    head = (
        f"{_which(invoice)} do acordo com {invoice.creditor}: "
        f"{format_brl(invoice.amount_cents)}, vencimento {dmy(invoice.due_date)}{late}.\n"
    )
    if invoice.partly_paid:
        return f"{head}{_full_amount_boleto(invoice)}\n\nPIX copia e cola:\n{invoice.pix_code}"
    return (
        f"{head}Linha digitável:\n{invoice.digitable_line}\n\nPIX copia e cola:\n{invoice.pix_code}"
    )


# At most this many invoices in one answer (each with its line and PIX code).
MAX_INVOICES_SHOWN = 5


def invoices_to_pay(shown: int, more: int) -> str:
    """Said before the invoices when there are several (`more`: those left out). Parcelas,
    not boletos: a partly paid one is paid by the PIX of its balance, not by its boleto."""
    if not more:
        return f"Você tem {shown} parcelas para pagar agora:"
    others = "a outra está" if more == 1 else f"as outras {more} estão"
    return (
        f"Você tem {shown + more} parcelas para pagar agora. Seguem as {shown} que vencem "
        f"primeiro ({others} no portal de negociação):"
    )


NO_OPEN_INVOICE = "Você não tem boleto em aberto no momento."
NO_AGREEMENT = "Você ainda não tem acordo fechado."


# Why an agreement no longer in force ended (negotiation's `end_reason`), as the chat says it.
ENDED_BECAUSE = {
    "debt_withdrawn": "foi encerrado pelo credor, que retirou a dívida da cobrança, e as "
    "parcelas em aberto foram canceladas",
    "debt_amount_lowered": "foi encerrado porque o credor reduziu o valor da dívida; as "
    "parcelas em aberto foram canceladas e você pode negociar o novo valor",
    "not_paid": "foi quebrado por falta de pagamento e as parcelas em aberto foram canceladas",
}


def agreement_named(
    closed_on: dt.date,
    creditor: str,
    total_cents: int | None = None,
    kinds: Sequence[str] | None = None,
) -> str:
    """'acordo de 05/01/2026 com Banco X'; given its total and its installments' kinds (when
    the debtor has another agreement of that day with that creditor: QA pass 9, D8, the two
    could not be told apart), 'acordo de 05/01/2026 com Banco X (R$ 2.011,20, 3 parcelas)'."""
    named = f"acordo de {dmy(closed_on)} com {creditor}"
    if total_cents is None or kinds is None:
        return named
    count = installments_count(kinds)
    return f"{named} ({format_brl(total_cents)}, {count[0].lower()}{count[1:]})"


# A lowering that left nothing to pay (negotiation's `owed_cents` 0): nothing to negotiate any
# more (QA pass 9, D4: "você pode negociar o novo valor" for a debt already settled).
ENDED_LOWERED_AND_SETTLED = (
    "foi encerrado porque o credor reduziu o valor da dívida, que ficou quitada com o que você "
    "já pagou"
)


def ended_because(end_reason: str | None, owed_cents: int | None = None) -> str:
    """Why an agreement no longer in force ended, in words (not known: only that it ended);
    `owed_cents` what its debts still owe (negotiation's answer; None: not known)."""
    if end_reason == "debt_amount_lowered" and owed_cents == 0:
        return ENDED_LOWERED_AND_SETTLED
    return ENDED_BECAUSE.get(
        end_reason or "", "foi encerrado e as parcelas em aberto foram canceladas"
    )


def term_intro(
    closed_on: dt.date,
    creditor: str,
    status: str,
    end_reason: str | None = None,
    named: str | None = None,
    owed_cents: int | None = None,
    credit_cents: int = 0,
) -> str:
    """What comes before the link to an agreement's term: an agreement no longer in force is
    said to be so (QA: the term of an agreement the creditor ended came as if it held), and
    why it ended (`end_reason`: the creditor's withdrawal or lowered amount is never said to
    be the debtor's break; not known, only that it ended; a lowering that left nothing to
    pay, `owed_cents` 0, settled the debt), with the debtor's credit from it (`credit_cents`:
    paid beyond what its debts owe, QA pass 9, D4). `named`: the agreement as
    `agreement_named` says it (by default by its day and creditor)."""
    agreement = named or agreement_named(closed_on, creditor)
    if status == "active":
        return f"Termo do {agreement}:"
    if status == "fulfilled":
        return f"Termo do {agreement}, já quitado:"
    credit = (
        f" Você tem {format_brl(credit_cents)} de crédito: o que pagou além do que as dívidas "
        "deste acordo devem."
        if credit_cents > 0
        else ""
    )
    return (
        f"O {agreement} não está mais em vigor: {ended_because(end_reason, owed_cents)}.{credit} "
        "O termo fica como registro do que foi acordado:"
    )


def no_open_invoice(ended: Sequence[tuple[str, str | None, int | None]] = ()) -> str:
    """Options 1 and 2 with nothing to pay; `ended`: the agreements (as `agreement_named`
    says them, their end_reason and what their debts still owe, `owed_cents`) that ended of
    late, each said with why (QA pass 9, D5: a debtor holding the boleto of an agreement the
    creditor ended read only that there was no boleto, not that the agreement had ended nor
    why; a lowering that left nothing to pay is not offered a new negotiation)."""
    if not ended:
        return NO_OPEN_INVOICE
    said = " ".join(f"O {named} {ended_because(reason, owed)}." for named, reason, owed in ended)
    boletos = "desse acordo não servem" if len(ended) == 1 else "desses acordos não servem"
    return f"{NO_OPEN_INVOICE} {said} Os boletos {boletos} mais para pagamento."


NOTHING_TO_NEGOTIATE = "Não há débitos para negociar: os seus já estão em acordo ou quitados."
NO_OFFERS = (
    "Não há condições de pagamento disponíveis para esses débitos pelo chat. "
    "Fale com um atendente para negociar."
)
UNAVAILABLE = "Não consegui consultar agora. Tente de novo em alguns minutos."
WAIT_FOR_OPERATOR = (
    "Certo! Você está na fila de atendimento; assim que um atendente estiver livre, a resposta "
    "chega aqui."
)
OPTED_OUT = (
    "Pronto: você não vai mais receber mensagens nossas por WhatsApp. Se quiser falar com a "
    "gente, é só escrever."
)
RESTART = "Vamos recomeçar. Digite o seu CPF ou CNPJ."
STATEMENT = "Aqui está o demonstrativo dos seus débitos, com os valores atualizados de hoje."


def with_operator(display_name: str | None, agency: str) -> str:
    """Said when an operator takes the conversation: by the name the operator chose to be
    read by debtors (never the login, often an e-mail), or "um atendente" without one."""
    who = f"{display_name}, da" if display_name else "um atendente da"
    return f"Você está falando com {who} {agency}. Já vamos responder."


def transferred(display_name: str | None) -> str:
    return f"Sua conversa foi transferida para {display_name or 'um atendente'}."


def portal_only(portal_link: str) -> str:
    return f"Para negociar, acesse o portal de negociação: {portal_link}"


def creditors_menu(creditors: Sequence[tuple[str, int, int]]) -> str:
    """`creditors`: (name, debts, updated value)."""
    lines = [
        f"{n} - {name}: {count} débito(s), {format_brl(total)}"
        for n, (name, count, total) in enumerate(creditors, start=1)
    ]
    return "Qual débito você quer negociar? Digite o número:\n" + "\n".join(lines)


@dataclass(frozen=True)
class OfferLine:
    installments: int
    total_cents: int
    discount_cents: int
    amounts: tuple[int, ...]  # each installment, in order
    first_due: dt.date
    # Each installment's kind as the offer's schedule gives it ("down_payment" is an entrada);
    # none known (an offer kept before kinds were): no entrada.
    kinds: tuple[str, ...] = ()

    @property
    def down_payment(self) -> bool:
        return bool(self.kinds) and self.kinds[0] == "down_payment"


def _installments(amounts: Sequence[int]) -> str:
    """'3x de R$ 100,00'; '3 parcelas: a 1ª de R$ 100,02 e as outras 2 de R$ 100,00' (the
    first absorbs the centavos of the split); else each amount."""
    first, rest = amounts[0], amounts[1:]
    if len(set(amounts)) == 1:
        return f"{len(amounts)}x de {format_brl(first)}"
    if len(set(rest)) == 1:
        others = "a outra" if len(rest) == 1 else f"as outras {len(rest)}"
        return (
            f"{len(amounts)} parcelas: a 1ª de {format_brl(first)} e {others} de "
            f"{format_brl(rest[0])}"
        )
    return f"{len(amounts)} parcelas: " + ", ".join(format_brl(a) for a in amounts)


def offer_text(offer: OfferLine) -> str:
    """One payment option; the first installment is called an entrada only when the offer
    says it is one (a larger first installment of an equal split is no entrada)."""
    discount = f" (desconto de {format_brl(offer.discount_cents)})" if offer.discount_cents else ""
    if offer.installments == 1:
        return f"À vista: {format_brl(offer.total_cents)}{discount}"
    if not offer.down_payment:
        plan = _installments(offer.amounts)
    else:
        entrada, rest = offer.amounts[0], offer.amounts[1:]
        if len(set(rest)) == 1:
            later = f"{len(rest)}x de {format_brl(rest[0])}"
        elif len(set(rest[1:])) == 1:
            later = (
                f"{len(rest)}x de {format_brl(rest[1])} (a primeira delas de {format_brl(rest[0])})"
            )
        else:
            later = f"{len(rest)} parcelas de " + ", ".join(format_brl(a) for a in rest)
        plan = f"entrada de {format_brl(entrada)} + {later}"
    return f"{plan}, total {format_brl(offer.total_cents)}{discount}"


def offers_menu(creditor: str, updated_cents: int, offers: Sequence[OfferLine]) -> str:
    lines = [f"{n} - {offer_text(o)}" for n, o in enumerate(offers, start=1)]
    return (
        f"Débitos com {creditor}: valor atualizado de {format_brl(updated_cents)}.\n"
        "Opções de pagamento:\n" + "\n".join(lines) + "\nDigite o número da opção, ou 0 para "
        "voltar ao menu."
    )


def confirm_offer(offer: OfferLine) -> str:
    return (
        f"Confirma o acordo: {offer_text(offer)}, 1º vencimento em {dmy(offer.first_due)}? "
        "Digite 1 para confirmar ou 2 para voltar."
    )


def in_agreement(creditor: str, contracts: Sequence[str], closed_on: dt.date | None) -> str:
    """Debts that an agreement took meanwhile (closed on the portal, with an operator), said
    by what the debtor knows of them: never their ids."""
    which = (
        f"contrato {contracts[0]}"
        if len(contracts) == 1
        else "contratos " + ", ".join(contracts[:-1]) + f" e {contracts[-1]}"
    )
    when = f" fechado em {dmy(closed_on)}" if closed_on else ""
    return f"os débitos com {creditor} ({which}) já estão em um acordo{when}"


# A refusal that would show the debtor ids or keys: said in words instead.
OFFER_CHANGED = "os débitos ou as condições mudaram desde que as opções foram mostradas"
_TECHNICAL = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{16,}|idempot",
    re.IGNORECASE,
)


def refusal_reason(message: str) -> str:
    """The negotiation service's refusal as the debtor may read it: its words, unless they
    carry an id or speak of keys (then OFFER_CHANGED)."""
    return OFFER_CHANGED if _TECHNICAL.search(message) else message


def agreement_closed(total_cents: int, kinds: Sequence[str], first: OpenInvoice | None) -> str:
    """`kinds`: each installment's kind, in order (an entrada first, counted apart)."""
    count = installments_count(kinds)
    if count.startswith("Entrada"):
        plan = f": {count[0].lower()}{count[1:]}"
    else:
        plan = f" {'à vista' if len(kinds) <= 1 else f'em {len(kinds)} parcelas'}"
    text = f"Acordo fechado! Total de {format_brl(total_cents)}{plan}."
    if first is not None:
        text += "\n\n" + digitable_line(first)
    return text


# ---- the tenant's second factor (see domain.second_factor) ----------------------------------

# What is kept of a line typed while a code or a date is asked: never the secret itself.
SECRET_OMITTED = "(resposta omitida: código ou data de verificação)"


def code_sent(channel: str, destination: str) -> str:
    where = "o e-mail" if channel == "email" else "o celular"
    return f"Enviamos um código de 6 dígitos para {where} {destination}. Digite-o aqui."


def code_message(agency: str, code: str) -> str:
    """The SMS or e-mail that carries the code."""
    return (
        f"{agency}: seu código de verificação do atendimento é {code}. Ele vale por 10 "
        "minutos. Não o compartilhe com ninguém."
    )


def code_subject(agency: str) -> str:
    return f"Seu código de verificação - {agency}"


NO_CONTACT_FOR_CODE = (
    "Não há telefone nem e-mail cadastrado para enviar o código; fale com a assessoria."
)
CODE_HINT = "Digite o código de 6 dígitos que enviamos, ou MENU para outras opções."
CODE_EXPIRED = "Esse código expirou (ele vale por 10 minutos)."
CODE_EXHAUSTED = "O código foi digitado errado muitas vezes e não vale mais."
NO_MORE_CODES = "Já enviamos códigos demais nesta conversa. Fale com um atendente."
NO_MORE_CODES_TODAY = (
    "Já enviamos códigos demais hoje para este documento: por segurança, tente amanhã ou fale "
    "com um atendente."
)


def wrong_code(left: int) -> str:
    tries = "1 tentativa" if left == 1 else f"{left} tentativas"
    return f"Código incorreto. Você ainda tem {tries}."


def date_label(is_company: bool) -> str:
    return "a data de abertura da empresa" if is_company else "sua data de nascimento"


def ask_date(is_company: bool) -> str:
    return f"Para sua segurança, informe {date_label(is_company)} (dd/mm/aaaa)."


def no_date(is_company: bool) -> str:
    what = "data de abertura" if is_company else "data de nascimento"
    return f"Não há {what} cadastrada para este documento; fale com a assessoria."


def invalid_date(reason: str) -> str:
    return f"Não consegui ler a data: {reason}. Digite no formato dd/mm/aaaa."


def wrong_date(left: int) -> str:
    tries = "1 tentativa" if left == 1 else f"{left} tentativas"
    return f"A data não confere com o nosso cadastro. Você ainda tem {tries} hoje."


DATE_LOCKED = (
    "A data foi informada errada muitas vezes hoje: por segurança, a consulta deste documento "
    "fica bloqueada até amanhã. Se precisar, fale com um atendente."
)
