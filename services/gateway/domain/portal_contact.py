"""A contact a debtor leaves on the portal when it shows nothing to negotiate (or not what they
expected): a phone or an e-mail for the agency to call back, or the creditor they expected to
find there (the Negociador.com seed: "o cliente ... vai indicar aquela empresa X"). Kept in
the gateway's event store and published for the agency (`PortalContactLeft`).

The name, phone and e-mail are personal data: stored and published sealed with the debtor's
key (`personal`, a `SealedPersonalData` as a dict; see service_runtime.personal_data), so
erasing the key erases them. Contacts recorded before that carry them in clear (`name`,
`phone`, `email`): they are read as they are."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from eventsourcing.domain import Aggregate, event

from contracts.envelope import COBRANCA_NAMESPACE

MAX_NAME = 200
MAX_EMAIL = 254
MAX_CREDITOR = 200
MAX_MESSAGE = 1000

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class ContactProblem:
    field: str
    message: str


class InvalidContact(ValueError):
    def __init__(self, problems: list[ContactProblem]) -> None:
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class ContactDetails:
    name: str | None
    phone: str | None
    email: str | None
    expected_creditor: str | None
    message: str | None


def _clean(value: str | None) -> str | None:
    text = " ".join((value or "").split())
    return text or None


def normalize_phone(raw: str) -> str | None:
    """A Brazilian phone with its area code as +55 and digits ('(81) 98413-4557' ->
    '+5581984134557'), or None when it cannot be one."""
    digits = re.sub(r"\D", "", raw)
    if digits.startswith("55") and len(digits) in (12, 13):
        digits = digits[2:]
    digits = digits.removeprefix("0")
    if len(digits) not in (10, 11) or digits[0] == "0":
        return None
    return "+55" + digits


def validate_contact(
    *,
    name: str | None,
    phone: str | None,
    email: str | None,
    expected_creditor: str | None,
    message: str | None,
) -> ContactDetails:
    """The contact cleaned up, or InvalidContact naming each field (pt-BR). A phone, an
    e-mail or the expected creditor is required: something the agency can act on."""
    problems: list[ContactProblem] = []
    name, expected_creditor = _clean(name), _clean(expected_creditor)
    email = _clean(email)
    text = (message or "").strip() or None
    normalized_phone: str | None = None
    if _clean(phone):
        normalized_phone = normalize_phone(phone or "")
        if normalized_phone is None:
            problems.append(ContactProblem("phone", "telefone inválido: informe o DDD e o número"))
    if email is not None and (len(email) > MAX_EMAIL or not _EMAIL.fullmatch(email)):
        problems.append(ContactProblem("email", "e-mail inválido"))
    for field, value, limit in (
        ("name", name, MAX_NAME),
        ("expected_creditor", expected_creditor, MAX_CREDITOR),
        ("message", text, MAX_MESSAGE),
    ):
        if value is not None and len(value) > limit:
            problems.append(ContactProblem(field, f"no máximo {limit} caracteres"))
    if not problems and not (normalized_phone or email or expected_creditor):
        problems.append(
            ContactProblem(
                "phone",
                "informe um telefone, um e-mail ou a empresa que você esperava encontrar",
            )
        )
    if problems:
        raise InvalidContact(problems)
    return ContactDetails(
        name=name,
        phone=normalized_phone,
        email=email,
        expected_creditor=expected_creditor,
        message=text,
    )


def portal_contact_id(tenant: str, document: str, form_key: str) -> uuid.UUID:
    """One contact per form shown: the same form sent twice is recorded once."""
    return uuid.uuid5(COBRANCA_NAMESPACE, f"portal-contact|{tenant}|{document}|{form_key}")


PERSONAL_FIELDS = ("name", "phone", "email")


class PortalContact(Aggregate):
    @staticmethod
    def create_id(tenant: str, document: str, form_key: str, **_: Any) -> uuid.UUID:
        return portal_contact_id(tenant, document, form_key)

    # Not keyword-only: the library requires every keyword-only argument, and contacts stored
    # before `personal` existed (name, phone and e-mail in clear) must still be read.
    @event("Left")
    def __init__(
        self,
        tenant: str,
        document: str,
        form_key: str,
        name: str | None = None,
        phone: str | None = None,
        email: str | None = None,
        expected_creditor: str | None = None,
        message: str | None = None,
        personal: dict[str, str] | None = None,
    ) -> None:
        self.tenant = tenant
        self.document = document
        self.name = name
        self.phone = phone
        self.email = email
        self.expected_creditor = expected_creditor
        self.message = message
        # {"key_id", "ciphertext"}: the name, phone and e-mail sealed with the debtor's key.
        self.personal = personal
