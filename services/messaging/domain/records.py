"""What the messaging service keeps: each message asked for (one per deterministic key, so the
same key is never sent twice, across restarts and replays), templates, the tenant's settings
and the debtors' opt-outs.

A message's address and text are personal data: they are stored sealed with the debtor's key
(see service_runtime.personal_data), so erasing the key leaves nothing readable of them."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from eventsourcing.domain import Aggregate, event

from contracts.envelope import COBRANCA_NAMESPACE
from contracts.money import format_brl

# Keys of the messages that answer the debtor at once (no sending window): a conversation's
# replies (`chat|...`) and portal access codes (`code|...`).
CONVERSATION_KEY_PREFIX = "chat|"
ACCESS_CODE_KEY_PREFIX = "code|"
# The access codes the chatbot sends (its second factor): `code|chat:{conversation}:{n}`.
CHAT_CODE_KEY_PREFIX = f"{ACCESS_CODE_KEY_PREFIX}chat:"


# Why nothing goes to a debtor whose personal data were erased (LGPD).
ERASED_REASON = (
    "os dados pessoais do devedor foram apagados a pedido dele (LGPD): não há contato para enviar"
)

# Template variables that are personal data: never stored with the message asked for (the
# name is rendered from the debtor's contact, and kept only inside the sealed text).
PERSONAL_VARIABLES = frozenset({"nome"})


# The purposes of the ruler's messages that tell the debtor they still owe (not its
# finalization messages, which say the receivable left collection).
COLLECTION_PURPOSES = frozenset({"pre_due", "stage"})

# Why a collection message was not sent: its receivable left collection before it went out.
COLLECTION_ENDED_RULE = "collection_ended"
_EXIT_NAMES = {
    "settled": "a dívida foi quitada",
    "paid": "a parcela foi paga",
    "renegotiated": "a dívida foi renegociada em acordo",
    "cancelled": "a cobrança foi cancelada (dívida retirada pelo credor ou acordo quebrado)",
    # An installment cancelled as its agreement ended, read from negotiation (adapters.exits).
    "agreement_ended": "a parcela foi cancelada com o fim do acordo",
}


def collection_ended_reason(exit_reason: str | None) -> str:
    """pt-BR: why a collection message was not sent (cobrança indevida avoided)."""
    why = _EXIT_NAMES.get(exit_reason or "", "a dívida saiu da cobrança")
    return (
        f"não enviada: a cobrança terminou antes do envio ({why}); a mensagem diria que "
        "ainda há valor em aberto"
    )


# Why a collection message was not sent: what was paid since it was asked (a payment to its
# debt's broken agreement's boleto, deducted) left nothing owed.
NOTHING_OWED_REASON = (
    "não enviada: os pagamentos abatidos da dívida depois do pedido cobriram o valor em aberto; "
    "a mensagem diria que ainda há valor em aberto"
)
# The same when the creditor's re-import lowered the debt's original amount to what was paid.
NOTHING_OWED_REIMPORTED_REASON = (
    "não enviada: com o valor original atualizado pelo credor, o que já foi pago cobre a "
    "dívida; a mensagem diria que ainda há valor em aberto"
)


def amount_lowered_reason(
    said: str, owed_cents: int, paid_on: dt.date | None, reimported: bool = False
) -> str:
    """pt-BR: why a collection message's text was rendered again before it went out."""
    if reimported:
        since = "a atualização do valor original pelo credor"
    elif paid_on is not None:
        since = f"o pagamento abatido em {paid_on.strftime('%d/%m/%Y')}"
    else:
        since = "a quebra do acordo"
    return (
        f"valor atualizado antes do envio: a mensagem dizia {said}, a dívida deve "
        f"{format_brl(owed_cents)} desde {since}"
    )


def cents_of_brl(text: str) -> int | None:
    """An amount as `format_brl` writes it ("R$ 1.234,56") in centavos; None for any other
    text."""
    number = text.strip().removeprefix("R$").strip()
    reais, comma, centavos = number.partition(",")
    digits = reais.replace(".", "")
    if not comma or len(centavos) != 2 or not (digits + centavos).isdigit():
        return None
    if format_brl(int(digits) * 100 + int(centavos)) != text.strip():
        return None
    return int(digits) * 100 + int(centavos)


def is_immediate(key: str) -> bool:
    """A debtor who writes to us, or asks for an access code, is answered at once, even
    outside the sending window and after an opt-out."""
    return key.startswith((CONVERSATION_KEY_PREFIX, ACCESS_CODE_KEY_PREFIX))


def message_aggregate_id(tenant: str, key: str) -> uuid.UUID:
    return uuid.uuid5(COBRANCA_NAMESPACE, f"message|{tenant}|{key}")


class Message(Aggregate):
    @staticmethod
    def create_id(tenant: str, key: str, **_: Any) -> uuid.UUID:
        return message_aggregate_id(tenant, key)

    @event("Received")
    def __init__(
        self,
        *,
        tenant: str,
        key: str,
        document: str,
        channel: str,
        template: str,
        variables: dict[str, str],
    ) -> None:
        self.tenant = tenant
        self.key = key
        self.document = document
        self.channel = channel
        self.template = template
        self.variables = variables
        self.status = "received"
        self.attempts = 0
        self.to: str | None = None
        self.subject: str | None = None
        self.body: str | None = None
        self.html: str | None = None
        self.send_at: dt.datetime | None = None
        self.provider_id: str | None = None
        # The address and what is sent, sealed with the debtor's key (`SealedPersonalData` as
        # a dict: {"to", "subject", "body", "html"}); None for a message kept in clear (one
        # stored before personal data were sealed, or a conversation's reply to a debtor not
        # identified yet, whose key is unknown).
        self.personal: dict[str, str] | None = None
        # A collection message (the ruler's pre-due reminder or stage message): the
        # receivable it is about and the ruler's version of that receivable when it asked
        # (`about_receivable`); None for any other message, and for one stored before.
        self.receivable_id: str | None = None
        self.purpose: str | None = None
        self.receivable_version: int | None = None

    @property
    def collects(self) -> bool:
        """Whether it tells the debtor they still owe (a reminder or a stage's message): it
        must not go once its receivable left collection (see `left_before`)."""
        return self.receivable_id is not None and self.purpose in COLLECTION_PURPOSES

    def left_before(self, left_version: int | None) -> bool:
        """Whether its receivable left collection after it was asked: the ruler's exit, at
        `left_version` of the receivable, came after the version that asked it. An exit
        before it (the cycle of a debt that came back to collection) does not count; a
        finalization message (asked by the exit itself) is never stopped."""
        return (
            self.collects
            and left_version is not None
            and self.receivable_version is not None
            and left_version > self.receivable_version
        )

    def says_more_than(self, owed_cents: int) -> bool:
        """Whether it is a collection message whose amount (`valor`, as the ruler asked it)
        is more than `owed_cents`, what its debt owes now: sent as it is, it would charge
        what is not owed (CDC art. 42)."""
        said = cents_of_brl(self.variables.get("valor", ""))
        return self.collects and said is not None and owed_cents < said

    def amount_lowered(
        self,
        *,
        owed_cents: int,
        paid_on: dt.date | None,
        personal: dict[str, str],
        at: dt.datetime,
        reimported: bool = False,
    ) -> None:
        """Rendered again with what its debt owes now (`valor`), its address and new text
        sealed again (`personal`, as `queue_sealed`'s); it keeps its place in the queue.
        `reimported`: what it owes changed with the creditor's re-import (the reason says so)."""
        said = self.variables.get("valor", "")
        self._amount_lowered(
            facts=self.facts(),
            variables={**self.variables, "valor": format_brl(owed_cents)},
            reason=amount_lowered_reason(said, owed_cents, paid_on, reimported),
            personal=personal,
            at=at,
        )

    @event("AmountLowered")
    def _amount_lowered(
        self,
        *,
        facts: dict[str, Any],
        variables: dict[str, str],
        reason: str,
        personal: dict[str, str],
        at: dt.datetime,
    ) -> None:
        self.variables = variables
        self.personal = personal
        # A message kept in clear from before sealing is sealed from now on.
        self.to = self.subject = self.body = self.html = None

    def notice_dated(
        self, *, listing_from: dt.date, personal: dict[str, str], at: dt.datetime
    ) -> None:
        """A listing's notice rendered again as it goes out (`data_negativacao`: the day it is
        sent plus the ruler's notice days, `prazo_negativacao`), its address and new text
        sealed again: the ruler lists from that day, never from the day it asked the notice,
        and the text never says a day already past."""
        said = self.variables.get("data_negativacao", "")
        self._notice_dated(
            facts=self.facts(),
            variables={**self.variables, "data_negativacao": listing_from.strftime("%d/%m/%Y")},
            reason=f"data da negativação contada do envio: a mensagem dizia {said}",
            personal=personal,
            at=at,
        )

    @event("NoticeDated")
    def _notice_dated(
        self,
        *,
        facts: dict[str, Any],
        variables: dict[str, str],
        reason: str,
        personal: dict[str, str],
        at: dt.datetime,
    ) -> None:
        self.variables = variables
        self.personal = personal
        self.to = self.subject = self.body = self.html = None

    @event("AboutReceivable")
    def about_receivable(self, *, receivable_id: str, purpose: str, version: int) -> None:
        """The ruler asked it about `receivable_id` (`purpose`: pre_due, stage or
        finalization) at `version` of its record of the receivable (the request's
        aggregate_version)."""
        self.receivable_id = receivable_id
        self.purpose = purpose
        self.receivable_version = version

    def facts(self) -> dict[str, Any]:
        """Who and what the message is, carried by each event so it stands on its own."""
        return {
            "tenant": self.tenant,
            "key": self.key,
            "document": self.document,
            "channel": self.channel,
            "template": self.template,
        }

    def queue_sealed(self, *, personal: dict[str, str], send_at: dt.datetime) -> None:
        """Queued with its address and text sealed (`personal`, a `SealedPersonalData` dict of
        {"to", "subject", "body", "html"} under the debtor's key)."""
        self._queued(
            facts=self.facts(),
            to=None,
            subject=None,
            body=None,
            send_at=send_at,
            html=None,
            personal=personal,
        )

    def queue(
        self,
        *,
        to: str,
        subject: str | None,
        body: str,
        send_at: dt.datetime,
        html: str | None = None,
    ) -> None:
        """Queued in clear: only a message with no debtor to seal it for (a conversation's
        reply before the debtor said who they are). Every other message is `queue_sealed`."""
        self._queued(
            facts=self.facts(),
            to=to,
            subject=subject,
            body=body,
            send_at=send_at,
            html=html,
            personal=None,
        )

    # `html` defaults to None: Queued events stored before e-mails had an HTML body lack it;
    # `personal` too: those stored before personal data were sealed have it in clear.
    @event("Queued")
    def _queued(
        self,
        *,
        facts: dict[str, Any],
        to: str | None,
        subject: str | None,
        body: str | None,
        send_at: dt.datetime,
        html: str | None = None,
        personal: dict[str, str] | None = None,
    ) -> None:
        self.status = "queued"
        self.to, self.subject, self.body, self.send_at = to, subject, body, send_at
        self.html = html
        self.personal = personal

    def retry_later(self, *, reason: str, at: dt.datetime, next_at: dt.datetime) -> None:
        self._attempt_failed(facts=self.facts(), reason=reason, at=at, next_at=next_at)

    @event("AttemptFailed")
    def _attempt_failed(
        self, *, facts: dict[str, Any], reason: str, at: dt.datetime, next_at: dt.datetime
    ) -> None:
        self.attempts += 1
        self.send_at = next_at

    def sent(
        self,
        *,
        provider: str,
        provider_id: str | None,
        at: dt.datetime,
        personal: dict[str, str] | None,
    ) -> None:
        """Handed to the provider. `personal`: {"to", "text"} (`sent_text`) sealed with the
        debtor's key; None only for a message kept in clear (see `personal` above), whose
        Sent keeps them in clear too."""
        self._sent(
            facts=self.facts(),
            to=None if personal else self.to,
            text=None if personal else sent_text(self.key, self.subject, self.body),
            provider=provider,
            provider_id=provider_id,
            at=at,
            attempts=self.attempts + 1,
            personal=personal,
        )

    @event("Sent")
    def _sent(
        self,
        *,
        facts: dict[str, Any],
        to: str | None,
        text: str | None,
        provider: str,
        provider_id: str | None,
        at: dt.datetime,
        attempts: int,
        personal: dict[str, str] | None = None,
    ) -> None:
        self.status = "sent"
        self.attempts = attempts
        self.provider_id = provider_id

    def delivered(self, *, at: dt.datetime) -> None:
        if self.status == "sent":
            self._delivered(facts=self.facts(), at=at)

    @event("Delivered")
    def _delivered(self, *, facts: dict[str, Any], at: dt.datetime) -> None:
        self.status = "delivered"

    def fail(self, *, reason: str, rule: str, at: dt.datetime) -> None:
        self._failed(facts=self.facts(), reason=reason, rule=rule, at=at, attempts=self.attempts)

    @event("Failed")
    def _failed(
        self, *, facts: dict[str, Any], reason: str, rule: str, at: dt.datetime, attempts: int
    ) -> None:
        self.status = "failed"


def sent_text(key: str, subject: str | None, body: str | None) -> str:
    """What a Sent event says was sent: the subject and the body, never an access code."""
    if key.startswith(CHAT_CODE_KEY_PREFIX):
        return "código de verificação do atendimento (omitido)"
    if key.startswith(ACCESS_CODE_KEY_PREFIX):
        return "código de acesso ao portal (omitido)"
    return "\n\n".join(p for p in (subject, body) if p)


def template_id(tenant: str, channel: str, name: str) -> uuid.UUID:
    return uuid.uuid5(COBRANCA_NAMESPACE, f"template|{tenant}|{channel}|{name}")


class Template(Aggregate):
    @staticmethod
    def create_id(tenant: str, channel: str, name: str, **_: Any) -> uuid.UUID:
        return template_id(tenant, channel, name)

    # `html` (e-mail only) defaults to None: Saved and Changed events stored before e-mails had
    # an HTML body lack it, and must still load. (The eventsourcing library still wants it
    # passed when a template is created: pass html=None for a text-only one.)
    @event("Saved")
    def __init__(
        self,
        *,
        tenant: str,
        channel: str,
        name: str,
        subject: str | None,
        body: str,
        variables: list[str],
        saved_by: str,
        html: str | None = None,
    ) -> None:
        self.tenant, self.channel, self.name = tenant, channel, name
        self.subject, self.body, self.variables = subject, body, variables
        self.html = html

    def change(
        self,
        *,
        subject: str | None,
        body: str,
        variables: list[str],
        saved_by: str,
        html: str | None = None,
    ) -> None:
        self._changed(
            tenant=self.tenant,
            channel=self.channel,
            name=self.name,
            subject=subject,
            body=body,
            variables=variables,
            saved_by=saved_by,
            html=html,
        )

    @event("Changed")
    def _changed(
        self,
        *,
        tenant: str,
        channel: str,
        name: str,
        subject: str | None,
        body: str,
        variables: list[str],
        saved_by: str,
        html: str | None = None,
    ) -> None:
        self.subject, self.body, self.variables = subject, body, variables
        self.html = html


def tenant_messaging_id(tenant: str) -> uuid.UUID:
    return uuid.uuid5(COBRANCA_NAMESPACE, f"messaging-tenant|{tenant}")


def _stored_in_clear(state: dict[str, Any]) -> None:
    """Version 1 of the settings' events held them in clear (`settings_json`): they load as
    they are, with nothing sealed."""
    state["sealed_settings"] = None


class TenantMessaging(Aggregate):
    """A tenant's settings and the names of its templates.

    The settings hold the channels' credentials (an SMTP server's password, providers'
    tokens): they are stored sealed under the tenant's settings key in the key vault
    (`sealed_settings`, a `SealedPersonalData` dict of {"settings_json"}), so neither the event
    store nor its backups show them. Events stored before that (class_version 1) have them in
    clear (`settings_json`, None in every later event): they still load, are never edited,
    and the next save seals."""

    @staticmethod
    def create_id(tenant: str, **_: Any) -> uuid.UUID:
        return tenant_messaging_id(tenant)

    class Started(Aggregate.Created):
        class_version = 2
        tenant: str
        sealed_settings: dict[str, str] | None
        settings_json: str | None = None

        upcast_v1_v2 = staticmethod(_stored_in_clear)

    class SettingsSaved(Aggregate.Event):
        class_version = 2
        sealed_settings: dict[str, str] | None
        saved_by: str
        settings_json: str | None = None

        upcast_v1_v2 = staticmethod(_stored_in_clear)

    # The eventsourcing library wants `settings_json` passed, default or not: a new record
    # passes settings_json=None (see `start`).
    @event(Started)
    def __init__(
        self,
        *,
        tenant: str,
        sealed_settings: dict[str, str] | None,
        settings_json: str | None = None,
    ) -> None:
        self.tenant = tenant
        self.sealed_settings = sealed_settings
        self.settings_json = settings_json
        self.templates: list[str] = []

    @classmethod
    def start(cls, *, tenant: str, sealed_settings: dict[str, str]) -> TenantMessaging:
        """A new tenant's record, its first settings sealed."""
        return cls(tenant=tenant, sealed_settings=sealed_settings, settings_json=None)

    def save_settings(self, *, sealed_settings: dict[str, str], saved_by: str) -> None:
        """New settings, sealed (`sealed_settings`); they replace any kept in clear."""
        self._settings_saved(sealed_settings=sealed_settings, saved_by=saved_by, settings_json=None)

    @event(SettingsSaved)
    def _settings_saved(
        self,
        *,
        sealed_settings: dict[str, str] | None,
        saved_by: str,
        settings_json: str | None = None,
    ) -> None:
        self.sealed_settings = sealed_settings
        self.settings_json = settings_json

    @event("TemplateAdded")
    def add_template(self, *, channel: str, name: str) -> None:
        self.templates = [*self.templates, f"{channel}:{name}"]


def opt_out_id(tenant: str, document: str, channel: str) -> uuid.UUID:
    return uuid.uuid5(COBRANCA_NAMESPACE, f"opt-out|{tenant}|{document}|{channel}")


class OptOut(Aggregate):
    @staticmethod
    def create_id(tenant: str, document: str, channel: str, **_: Any) -> uuid.UUID:
        return opt_out_id(tenant, document, channel)

    @event("Recorded")
    def __init__(
        self, *, tenant: str, document: str, channel: str, source: str, on: dt.date
    ) -> None:
        self.tenant, self.document, self.channel = tenant, document, channel
        self.source, self.on = source, on
