"""The chatbot's words and how it reads the debtor's (pure: no I/O). Replies are short pt-BR
texts, as the seeds' bots write them; the flow itself is in the application layer."""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

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


def first_name(name: str | None) -> str:
    if not name:
        return ""
    return name.split()[0].capitalize()


def dmy(day: dt.date) -> str:
    return day.strftime("%d/%m/%Y")


def welcome(agency: str) -> str:
    return (
        f"Olá! Você está no atendimento virtual da {agency}. "
        "Para consultar e negociar seus débitos, digite o seu CPF ou CNPJ (só os números)."
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


def greeting(name: str | None, debts: int, total_cents: int) -> str:
    who = f", {first_name(name)}" if name else ""
    if debts == 0:
        return f"Olá{who}! Você não tem débitos em aberto no momento."
    plural = "débito em aberto" if debts == 1 else "débitos em aberto"
    return (
        f"Olá{who}! Encontramos {debts} {plural}, no total atualizado de {format_brl(total_cents)}."
    )


def invalid_option(options_count: int) -> str:
    return f"Opção inválida. Digite um número de 1 a {options_count}, ou MENU para ver as opções."


@dataclass(frozen=True)
class OpenInvoice:
    number: int
    installments: int
    amount_cents: int
    due_date: dt.date
    digitable_line: str
    pix_code: str
    overdue: bool


def digitable_line(invoice: OpenInvoice) -> str:
    late = " (vencida)" if invoice.overdue else ""
    return (
        f"Parcela {invoice.number} de {invoice.installments}: {format_brl(invoice.amount_cents)}, "
        f"vencimento {dmy(invoice.due_date)}{late}.\n"
        f"Linha digitável:\n{invoice.digitable_line}\n\n"
        f"PIX copia e cola:\n{invoice.pix_code}"
    )


NO_OPEN_INVOICE = "Você não tem boleto em aberto no momento."
NO_AGREEMENT = "Você ainda não tem acordo fechado."
NOTHING_TO_NEGOTIATE = "Não há débitos para negociar: os seus já estão em acordo ou quitados."
NO_OFFERS = (
    "Não há condições de pagamento disponíveis para esses débitos pelo chat. "
    "Fale com um atendente para negociar."
)
UNAVAILABLE = "Não consegui consultar agora. Tente de novo em alguns minutos."
WAIT_FOR_OPERATOR = (
    "Certo! Você está na fila de atendimento; assim que um atendente estiver livre, ele "
    "responde aqui."
)
OPTED_OUT = (
    "Pronto: você não vai mais receber mensagens nossas por WhatsApp. Se quiser falar com a "
    "gente, é só escrever."
)
RESTART = "Vamos recomeçar. Digite o seu CPF ou CNPJ (só os números)."
STATEMENT = "Aqui está o demonstrativo dos seus débitos, com os valores atualizados de hoje."


def with_operator(operator: str) -> str:
    return f"Você está falando com o atendente {operator}. Ele já vai responder."


def transferred(operator: str) -> str:
    return f"Sua conversa foi transferida para o atendente {operator}."


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


def offer_text(offer: OfferLine) -> str:
    discount = f" (desconto de {format_brl(offer.discount_cents)})" if offer.discount_cents else ""
    if offer.installments == 1:
        return f"À vista: {format_brl(offer.total_cents)}{discount}"
    first, rest = offer.amounts[0], offer.amounts[1:]
    if len(set(offer.amounts)) == 1:
        plan = f"{offer.installments}x de {format_brl(first)}"
    elif len(set(rest)) == 1:
        plan = f"entrada de {format_brl(first)} + {len(rest)}x de {format_brl(rest[0])}"
    else:
        plan = f"{offer.installments} parcelas: " + ", ".join(format_brl(a) for a in offer.amounts)
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


def agreement_closed(total_cents: int, installments: int, first: OpenInvoice | None) -> str:
    plan = "à vista" if installments == 1 else f"em {installments} parcelas"
    text = f"Acordo fechado! Total de {format_brl(total_cents)} {plan}."
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
