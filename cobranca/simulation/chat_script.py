"""Reading the chatbot's replies as a debtor does (pure): which number to type for an option, a
creditor or an offer, and what each offer costs. The bot's texts are in
services/messaging/domain/chatbot.py; a reply this cannot read ends the simulated chat."""

from __future__ import annotations

import re

from cobranca.simulation.model import OfferSeen

NEGOTIATE_LABEL = "Negociar minha dívida"
_NUMBERED = re.compile(r"^(\d+) - (.+)$", re.MULTILINE)
_BRL = r"R\$ (-?[\d.]+,\d\d)"
_TOTAL = re.compile(r"total " + _BRL)
_DISCOUNT = re.compile(r"desconto de " + _BRL)
_CASH = re.compile(r"^À vista: " + _BRL)
_EQUAL = re.compile(r"^(\d+)x de ")
_DOWN = re.compile(r"^entrada de " + _BRL + r" \+ (\d+)x de ")
_LISTED = re.compile(r"^(\d+) parcelas: ")


def brl_cents(text: str) -> int:
    """'1.234,56' -> 123456."""
    return int(text.replace(".", "").replace(",", ""))


def numbered(reply: str) -> dict[int, str]:
    """The numbered lines of a menu: {1: 'À vista: R$ ...', ...}."""
    return {int(n): label.strip() for n, label in _NUMBERED.findall(reply)}


def option_number(reply: str, label: str) -> int | None:
    return next((n for n, text in numbered(reply).items() if text == label), None)


def creditor_number(reply: str, creditor: str) -> int | None:
    """In 'Qual débito você quer negociar?', the line of this creditor."""
    return next((n for n, text in numbered(reply).items() if text.startswith(f"{creditor}:")), None)


_CREDITOR_LINE = re.compile(r"^(.+): \d+ débito\(s\), " + _BRL + "$")


def creditors_in(reply: str) -> dict[str, int]:
    """The creditors the bot asks to choose from, with what is owed to each (cents)."""
    if "Qual débito você quer negociar?" not in reply:
        return {}
    found = {}
    for text in numbered(reply).values():
        if line := _CREDITOR_LINE.match(text):
            found[line.group(1)] = brl_cents(line.group(2))
    return found


def offer_seen(line: str) -> OfferSeen | None:
    """One offer line of the bot (chatbot.offer_text), or None when it reads otherwise."""
    discount = _DISCOUNT.search(line)
    discount_cents = brl_cents(discount.group(1)) if discount else 0
    if cash := _CASH.match(line):
        return OfferSeen(1, brl_cents(cash.group(1)), discount_cents)
    total = _TOTAL.search(line)
    if total is None:
        return None
    if equal := _EQUAL.match(line):
        installments = int(equal.group(1))
    elif down := _DOWN.match(line):
        installments = int(down.group(2)) + 1
    elif listed := _LISTED.match(line):
        installments = int(listed.group(1))
    else:
        return None
    return OfferSeen(installments, brl_cents(total.group(1)), discount_cents)


def offers_in(reply: str) -> dict[int, OfferSeen] | None:
    """The offers menu's options by number, or None when the reply is not one."""
    if "Opções de pagamento:" not in reply:
        return None
    seen = {n: offer_seen(text) for n, text in numbered(reply).items()}
    if any(offer is None for offer in seen.values()):
        return None
    return {n: offer for n, offer in seen.items() if offer is not None}
