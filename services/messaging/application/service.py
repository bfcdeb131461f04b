"""Use cases of the messaging service: templates and settings, the messages asked for
(rendered, queued for their channel's window, sent once per key, retried with backoff, failed
with the reason), opt-outs and providers' delivery reports. Times come from the caller (the
business clock).

A message's address and text are sealed with the debtor's key (the key vault, `vault`) when it
is queued, opened only to hand it to its channel; once the debtor's data are erased nothing
opens and the message fails with the reason (`ERASED_REASON`), never sent, never dropped.

A tenant's settings hold its channels' credentials: they are stored sealed under the tenant's
settings key in the same vault (never a debtor's, so no erasure touches it) and opened when
read (`settings_of`); settings stored in clear before still read, until saved again. They
leave the service through the admin API masked (`shown_settings`, `domain.published_settings`):
a credential sent back masked keeps the stored one (`save_settings`); only the channels built
here get them in clear."""

from __future__ import annotations

import datetime as dt
import functools
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from eventsourcing.utils import get_topic

from contracts.documents import mask_document
from contracts.messaging_requests import (
    AccessCodeOut,
    BirthDateTriesOut,
    BirthDateTry,
    DeliveryOut,
    DeliveryReport,
    MessagingSettings,
    OptOutOut,
    RecordOptOut,
    SaveSettings,
    SaveTemplate,
    SendAccessCode,
    TemplateList,
    TemplateOut,
    portal_url,
)
from contracts.money import format_brl
from contracts.personal import SealedPersonalData
from contracts.ruler import MessageChannel, MessageRequested
from service_runtime.clock import BUSINESS_TZ
from service_runtime.eventstore import ServiceApplication
from service_runtime.personal_data import DebtorKey, KeyVault, seal, unseal, unseal_with
from service_runtime.refusal import Refused, field_refusal, not_found_refusal
from services.messaging.adapters.channels import (
    Channel,
    OutgoingMessage,
    TemporaryFailure,
    channel_from_settings,
)
from services.messaging.adapters.contacts import Contact, ContactBook, DebtBalance
from services.messaging.adapters.exits import Exit, Exits
from services.messaging.adapters.second_factors import SecondFactors
from services.messaging.domain.phones import e164
from services.messaging.domain.published_settings import MASK, MaskedValue, keep_masked, masked
from services.messaging.domain.records import (
    ACCESS_CODE_KEY_PREFIX,
    COLLECTION_ENDED_RULE,
    ERASED_REASON,
    NOTHING_OWED_REASON,
    NOTHING_OWED_REIMPORTED_REASON,
    PERSONAL_VARIABLES,
    Message,
    OptOut,
    Template,
    TenantMessaging,
    collection_ended_reason,
    is_immediate,
    message_aggregate_id,
    opt_out_id,
    sent_text,
    template_id,
    tenant_messaging_id,
)
from services.messaging.domain.second_factor import (
    DAILY_LIMITS,
    NO_SECOND_FACTOR,
    PORTAL_PREFIX,
    DailyTries,
    SecondFactor,
    daily_tries_id,
)
from services.messaging.domain.templates import (
    MAX_LENGTH,
    TemplateError,
    check_template,
    convert_legacy,
    render,
)
from services.messaging.domain.windows import DEFAULT_WINDOWS, SendingWindow, next_opening

log = logging.getLogger(__name__)

# Waits between attempts of a message that failed for now: 1 min, 5 min, 30 min, 2 h, 6 h.
BACKOFF = (
    dt.timedelta(minutes=1),
    dt.timedelta(minutes=5),
    dt.timedelta(minutes=30),
    dt.timedelta(hours=2),
    dt.timedelta(hours=6),
)


# The vault's key that seals a tenant's messaging settings (their channels' credentials).
SETTINGS_KEY_PURPOSE = "messaging-settings"
TOO_MANY_CODES = (
    "muitos códigos de acesso enviados hoje para este documento; tente amanhã ou fale com a "
    "assessoria"
)
# How long a message asked for a debtor this service has not read yet waits for the contact
# before it fails for want of one: the contacts' consumer is seconds behind at worst, unless
# it is reading everything again after the broker lost its log.
WAIT_FOR_CONTACT = dt.timedelta(minutes=15)


class SettingsUnreadable(RuntimeError):
    """A tenant's sealed settings do not open (the vault lacks the key they were sealed under,
    or it is not theirs): nothing is sent with default settings in their place."""


class SavedSettings(Protocol):
    """A tenant's record, or one of its Started and SettingsSaved events: the settings sealed,
    or in clear when stored before settings were sealed."""

    @property
    def sealed_settings(self) -> dict[str, str] | None: ...
    @property
    def settings_json(self) -> str | None: ...


@dataclass(frozen=True)
class Content:
    """A queued message opened to be sent: where, what, and the key that sealed it."""

    to: str
    subject: str | None
    body: str
    html: str | None
    key: DebtorKey | None  # None: a message kept in clear (no debtor known)


class MessageAsked(Protocol):
    """What `handle_requests` needs of a message asked for: a `MessageRequested` read from
    `messaging.requested`, or an `AskedMessage` the service asks itself."""

    @property
    def tenant(self) -> str: ...
    @property
    def key(self) -> str: ...
    @property
    def document(self) -> str: ...
    @property
    def channel(self) -> str: ...
    @property
    def template(self) -> str: ...
    @property
    def variables(self) -> Mapping[str, str]: ...
    # A ruler's message: the receivable it is about, why it is sent (pre_due, stage,
    # finalization), and the ruler's version of the receivable that asked it.
    @property
    def receivable_id(self) -> str | None: ...
    @property
    def purpose(self) -> str | None: ...
    @property
    def aggregate_version(self) -> int | None: ...


@dataclass(frozen=True)
class CodeMessage:
    """A one-time code on its way: the message (None when one with its key was made before:
    a retried request) and where it goes, the address masked."""

    message: Message | None
    channel: str
    destination: str


@dataclass(frozen=True)
class AskedMessage:
    """A message the service asks itself for (the portal notification); same rules as one of
    the ruler's: one per key, in its window, never to who opted out."""

    tenant: str
    key: str
    document: str
    channel: str
    template: str
    variables: Mapping[str, str] = field(default_factory=dict)
    receivable_id: str | None = None
    purpose: str | None = None
    aggregate_version: int | None = None


def portal_notification_key(day: dt.date, document: str) -> str:
    """One portal notification per debtor and date: a replay or a restart never sends two."""
    return f"portal-notification|{day.isoformat()}|{document}"


class MessagingApplication(ServiceApplication):
    name = "messaging"

    def __init__(self, env: dict[str, str] | None = None) -> None:
        super().__init__(env=env)
        self.contacts: ContactBook | None = None
        # The receivables that left collection (the ruler's exits): none known when unset.
        self.exits: Exits | None = None
        # The tenants' second factors, from the gateway's portal profiles (none when unset).
        self.second_factors: SecondFactors | None = None
        self.outbox_dir: Path = Path("var/messaging/outbox")
        self.channel_factory: Callable[[str, str, MessagingSettings], Channel] | None = None
        # The platform's public address, the portal links' base (the worker sets the host's
        # `settings.base_url`, which the signed document links use too).
        self.base_url = "http://127.0.0.1:8000"
        self._vault: KeyVault | None = None

    @property
    def vault(self) -> KeyVault:
        """The debtors' keys (the host's), to seal and open messages' personal data, and the
        tenant's settings key."""
        if self._vault is None:
            raise RuntimeError("the messaging application has no key vault")
        return self._vault

    @vault.setter
    def vault(self, vault: KeyVault) -> None:
        self._vault = vault

    # ---- helpers -------------------------------------------------------------------------

    def _tenant(self, tenant: str) -> TenantMessaging:
        """The tenant's record, to change it: a new one (default settings) when none was
        saved."""
        found = self.get_or_none(TenantMessaging, tenant_messaging_id(tenant))
        if found is not None:
            return found
        return TenantMessaging.start(
            tenant=tenant, sealed_settings=self.seal_settings(tenant, MessagingSettings())
        )

    def settings_of(self, tenant: str) -> MessagingSettings:
        """The tenant's settings in clear; the defaults when it never saved any."""
        record = self.get_or_none(TenantMessaging, tenant_messaging_id(tenant))
        if record is None:
            return MessagingSettings()
        return self.settings_in(tenant, record)

    def shown_settings(self, tenant: str) -> MessagingSettings:
        """The tenant's settings as the admin API answers them: every credential masked."""
        return mask_settings(self.settings_of(tenant))

    def seal_settings(self, tenant: str, settings: MessagingSettings) -> dict[str, str]:
        """The settings sealed under the tenant's settings key (as stored: a
        `SealedPersonalData` dict), their JSON kept as it was stored in clear before."""
        key = self.vault.settings_key(tenant, SETTINGS_KEY_PURPOSE)
        return seal(key, {"settings_json": settings.model_dump_json()}).model_dump()

    def settings_in(self, tenant: str, saved: SavedSettings) -> MessagingSettings:
        """The settings a record of the tenant, or one of its settings' events, holds: opened
        with the tenant's settings key, or read as they are when stored in clear before
        sealing. Raises SettingsUnreadable when they do not open."""
        if saved.sealed_settings is None:
            if saved.settings_json is None:
                raise SettingsUnreadable(f"the messaging settings of tenant {tenant!r} are empty")
            return MessagingSettings.model_validate_json(saved.settings_json)
        sealed = SealedPersonalData.model_validate(saved.sealed_settings)
        key = self.vault.settings_key(tenant, SETTINGS_KEY_PURPOSE)
        try:
            opened = unseal_with(sealed, key)
        except ValueError as exc:
            raise SettingsUnreadable(
                f"the messaging settings of tenant {tenant!r} do not open with its settings "
                f"key in the vault ({exc}): restore the vault that sealed them, or save the "
                "settings again"
            ) from exc
        return MessagingSettings.model_validate_json(opened["settings_json"])

    def channel_for(self, tenant: str, channel: str, settings: MessagingSettings) -> Channel:
        if self.channel_factory is not None:
            return self.channel_factory(tenant, channel, settings)
        return channel_from_settings(
            channel,
            settings.channels.get(channel, {}),  # type: ignore[call-overload]
            self.outbox_dir / tenant,
            lambda: dt.datetime.now(dt.UTC),
        )

    def queue_message(
        self,
        message: Message,
        *,
        to: str,
        subject: str | None,
        body: str,
        send_at: dt.datetime,
        html: str | None = None,
    ) -> None:
        """Queue a message with its address and text sealed with the debtor's key; in clear
        only when it has no debtor (a conversation's reply before the debtor identified)."""
        if not message.document:
            message.queue(to=to, subject=subject, body=body, send_at=send_at, html=html)
            return
        key = self.vault.key_for(message.tenant, message.document)
        fields = {"to": to, "subject": subject, "body": body, "html": html}
        message.queue_sealed(personal=seal(key, fields).model_dump(), send_at=send_at)

    def content(self, message: Message) -> Content | None:
        """The queued message in clear, to send it; None once the debtor's data were erased
        (its key is gone, or, kept in clear from before sealing, the debtor was erased)."""
        assert self.contacts is not None
        if message.personal is not None:
            sealed = SealedPersonalData.model_validate(message.personal)
            secret = self.vault.secret(sealed.key_id)
            opened = unseal(sealed, self.vault) if secret is not None else None
            if secret is None or opened is None:
                return None
            return Content(
                to=str(opened["to"]),
                subject=opened.get("subject"),
                body=opened.get("body") or "",
                html=opened.get("html"),
                key=DebtorKey(sealed.key_id, secret),
            )
        if message.to is None:
            raise ValueError(f"message {message.id} has no address")
        if not message.document:
            return Content(message.to, message.subject, message.body or "", message.html, None)
        if self.contacts.erased(message.tenant, message.document):
            return None
        key = self.vault.key_for(message.tenant, message.document)
        return Content(message.to, message.subject, message.body or "", message.html, key)

    @staticmethod
    def window_of(settings: MessagingSettings, channel: str) -> SendingWindow:
        configured = settings.windows.get(channel)  # type: ignore[call-overload]
        if configured is None:
            return DEFAULT_WINDOWS[channel]
        return SendingWindow.of(configured.weekdays, configured.start, configured.end)

    # ---- configuration -------------------------------------------------------------------

    def save_settings(
        self, request: SaveSettings, now: dt.datetime | None = None
    ) -> MessagingSettings:
        """Save the tenant's settings; credentials sent back masked keep the stored ones.
        Answers what was saved, masked like `shown_settings`. With `now` (the business clock's,
        as the request server passes it), the messages waiting in a channel whose window
        changed get their time again under the new window (`reschedule_waiting`): a window
        widened lets them go at once, a narrower one holds them back."""
        for channel, window in request.settings.windows.items():
            try:
                SendingWindow.of(window.weekdays, window.start, window.end)
            except ValueError as exc:
                field, _, message = str(exc).partition(": ")
                raise field_refusal(
                    f"windows.{channel}.{field}", "window", message or str(exc)
                ) from exc

        def command() -> MessagingSettings:
            found = self.get_or_none(TenantMessaging, tenant_messaging_id(request.tenant))
            # Against the record this attempt saves over: a concurrent save is never undone
            # by putting back what was stored before it.
            settings = self._keeping_masked(request, found)
            for channel, config in settings.channels.items():
                try:
                    channel_from_settings(channel, config, self.outbox_dir, dt.datetime.now)
                except ValueError as exc:
                    raise field_refusal(f"channels.{channel}", "channel", str(exc)) from exc
            portal = settings.portal_notification
            if portal.enabled and (
                self.get_or_none(Template, template_id(request.tenant, "email", portal.template))
                is None
            ):
                # Else every debtor would get a failed message on the day it runs.
                raise field_refusal(
                    "portal_notification.template",
                    "unknown_template",
                    f"modelo de e-mail {portal.template!r} não cadastrado: cadastre-o antes de "
                    "ligar a notificação do portal",
                )
            sealed = self.seal_settings(request.tenant, settings)
            if found is None:
                record = TenantMessaging.start(
                    tenant=request.tenant,
                    sealed_settings=self.seal_settings(request.tenant, MessagingSettings()),
                )
            else:
                record = found
            record.save_settings(sealed_settings=sealed, saved_by=request.saved_by)
            self.save(record)
            return mask_settings(settings)

        try:
            before: MessagingSettings | None = self.settings_of(request.tenant)
        except SettingsUnreadable:
            before = None  # every window may have changed
        saved = self.retrying(command)
        if now is not None:
            after = self.settings_of(request.tenant)
            changed = {
                channel
                for channel in DEFAULT_WINDOWS
                if before is None
                or self.window_of(before, channel) != self.window_of(after, channel)
            }
            if changed:
                self.reschedule_waiting(request.tenant, changed, now)
        return saved

    def reschedule_waiting(self, tenant: str, channels: set[str], now: dt.datetime) -> int:
        """The tenant's messages waiting to be sent in `channels` (their window changed): each
        gets its time again under the window as it is now, from `now` (a retry not before the
        time its backoff set), so the dispatcher sends at once what may go now and holds back
        what may not. A conversation's reply or an access code (no window) is left as it is.
        Returns how many moved."""
        assert self.contacts is not None
        settings = self.settings_of(tenant)
        moved = 0
        for row in self.contacts.queued_of(tenant):
            message = self.get_or_none(Message, uuid.UUID(row["message_id"]))
            if (
                message is None
                or message.status != "queued"
                or message.channel not in channels
                or is_immediate(message.key)
            ):
                continue
            earliest = now
            if message.attempts and message.send_at is not None and message.send_at > now:
                earliest = message.send_at  # a retry waits for its backoff
            send_at = next_opening(self.window_of(settings, message.channel), earliest)
            send_at = send_at.astimezone(dt.UTC)
            if send_at != row["send_at"]:
                self.contacts.enqueue(row["message_id"], tenant, send_at, row["attempts"])
                moved += 1
        return moved

    def _keeping_masked(
        self, request: SaveSettings, found: TenantMessaging | None
    ) -> MessagingSettings:
        """The settings to store: each credential sent back masked replaced by the stored one
        (so it is not changed, and the published change set does not name it)."""
        sent = request.settings.channels
        if not any(MASK in str(config) for config in sent.values()):
            return request.settings
        stored: dict[MessageChannel, dict[str, Any]] = {}
        unreadable = False
        if found is not None:
            try:
                stored = self.settings_in(request.tenant, found).channels
            except SettingsUnreadable:
                unreadable = True
        channels: dict[MessageChannel, dict[str, Any]] = {}
        for channel, config in sent.items():
            try:
                channels[channel] = keep_masked(stored.get(channel), config)
            except MaskedValue as exc:
                message = (
                    f"o campo {exc.field!r} veio mascarado ({MASK}), mas as configurações "
                    "salvas não abrem com a chave do cofre: informe o valor completo"
                    if unreadable
                    else f"o campo {exc.field!r} veio mascarado ({MASK}) e não há valor salvo "
                    f"que a máscara represente: informe o valor completo (uma credencial não "
                    f"pode conter {MASK})"
                )
                raise field_refusal(
                    f"channels.{channel}.{exc.field}", "masked_value", message
                ) from exc
        return request.settings.model_copy(update={"channels": channels})

    def save_template(self, request: SaveTemplate) -> TemplateOut:
        given = request.template
        try:
            body = convert_legacy(given.body) if given.legacy else given.body
            subject = (
                convert_legacy(given.subject, field="subject")
                if given.legacy and given.subject
                else given.subject
            )
            html = (
                convert_legacy(given.html, field="html")
                if given.legacy and given.html is not None
                else given.html
            )
            used = check_template(body, subject, max_length=MAX_LENGTH[request.channel], html=html)
        except TemplateError as exc:
            detail = f"template.{exc.field}"
            raise Refused(
                422,
                "validation_failed",
                exc.message,
                [(detail, exc.rule, exc.message)],
            ) from exc
        if request.channel != "email" and subject:
            raise field_refusal("template.subject", "email_only", "assunto só vale para e-mail")
        if request.channel != "email" and html is not None:
            raise field_refusal("template.html", "email_only", "corpo HTML só vale para e-mail")
        variables = sorted(used)

        def command() -> TemplateOut:
            found = self.get_or_none(
                Template, template_id(request.tenant, request.channel, request.name)
            )
            if found is None:
                found = Template(
                    tenant=request.tenant,
                    channel=request.channel,
                    name=request.name,
                    subject=subject,
                    body=body,
                    variables=variables,
                    saved_by=request.saved_by,
                    html=html,
                )
                record = self._tenant(request.tenant)
                record.add_template(channel=request.channel, name=request.name)
                self.save(found, record)
            elif (found.subject, found.body, found.html) != (subject, body, html):
                found.change(
                    subject=subject,
                    body=body,
                    variables=variables,
                    saved_by=request.saved_by,
                    html=html,
                )
                self.save(found)
            return TemplateOut(
                channel=request.channel,
                name=request.name,
                subject=subject,
                body=body,
                html=html,
                variables=variables,
                version=found.version,
            )

        return self.retrying(command)

    def list_templates(self, tenant: str) -> TemplateList:
        out = []
        record = self.get_or_none(TenantMessaging, tenant_messaging_id(tenant))
        for key in [] if record is None else record.templates:
            channel, name = key.split(":", 1)
            found = self.get_or_none(Template, template_id(tenant, channel, name))
            if found is not None:
                out.append(
                    TemplateOut(
                        channel=channel,
                        name=name,
                        subject=found.subject,
                        body=found.body,
                        html=found.html,
                        variables=found.variables,
                        version=found.version,
                    )
                )
        return TemplateList(templates=out)

    def record_opt_out(self, request: RecordOptOut, today: dt.date) -> OptOutOut:
        found = self.get_or_none(
            OptOut, opt_out_id(request.tenant, request.document, request.channel)
        )
        if found is None:
            found = OptOut(
                tenant=request.tenant,
                document=request.document,
                channel=request.channel,
                source=request.source,
                on=today,
            )
            self.save(found)
        return OptOutOut(document=found.document, channel=request.channel, on_date=found.on)

    # ---- messages asked for --------------------------------------------------------------

    def handle_requests(self, requests: Sequence[MessageAsked], now: dt.datetime) -> int:
        """Accept each request once per key: render it and queue it for its window, or fail
        it with the reason (no template, no contact, opted out). Returns how many were new."""
        new = 0
        for request in requests:
            new += self.retrying(functools.partial(self._accept, request, now))
        return new

    def accept_waiting(self, now: dt.datetime) -> int:
        """Accept the requests that waited for their debtor's contact (see the requests'
        consumer): those whose debtor is now known or erased, and those that waited
        `WAIT_FOR_CONTACT` (then failed for want of a contact, with the reason). Returns how
        many were decided."""
        assert self.contacts is not None
        rows = self.contacts.waiting()
        if not rows:
            return 0
        known = self.contacts.known((r["tenant"], r["document"]) for r in rows)
        due = [
            r
            for r in rows
            if (r["tenant"], r["document"]) in known or now - r["since"] >= WAIT_FOR_CONTACT
        ]
        if due:
            asked = [MessageRequested.model_validate_json(r["request"]) for r in due]
            self.handle_requests(asked, now)
            self.contacts.stop_waiting(due)
        return len(due)

    def _accept(self, request: MessageAsked, now: dt.datetime) -> int:
        assert self.contacts is not None
        if message_aggregate_id(request.tenant, request.key) in self.repository:
            return 0  # the same key, already sent or queued: never twice
        message = Message(
            tenant=request.tenant,
            key=request.key,
            document=request.document,
            channel=request.channel,
            template=request.template,
            # The debtor's name is rendered from the contact, never kept in clear.
            variables={k: v for k, v in request.variables.items() if k not in PERSONAL_VARIABLES},
        )
        if (
            request.receivable_id is not None
            and request.purpose is not None
            and request.aggregate_version is not None
        ):
            message.about_receivable(
                receivable_id=request.receivable_id,
                purpose=request.purpose,
                version=request.aggregate_version,
            )
        left = self.exit_before(message)
        settings = self.settings_of(request.tenant)
        contact = self.contacts.contact(request.tenant, request.document)
        to = None
        if contact is not None:
            to = contact.email if request.channel == "email" else e164(contact.phone)
            if request.channel == "push":
                to = request.document  # the app user is the debtor
        template = self.get_or_none(
            Template, template_id(request.tenant, request.channel, request.template)
        )
        if left is not None:
            # Asked before its receivable left collection, read after: it would charge what
            # is no longer owed (cobrança indevida).
            message.fail(
                reason=collection_ended_reason(left.reason), rule=COLLECTION_ENDED_RULE, at=now
            )
        elif self.get_or_none(
            OptOut, opt_out_id(request.tenant, request.document, request.channel)
        ):
            message.fail(
                reason=f"o devedor pediu para não receber mensagens por {request.channel}",
                rule="opted_out",
                at=now,
            )
        elif template is None:
            message.fail(
                reason=f"modelo {request.template!r} de {request.channel} não cadastrado",
                rule="no_template",
                at=now,
            )
        elif not to and contact is None and self.contacts.erased(request.tenant, request.document):
            message.fail(reason=ERASED_REASON, rule="no_contact", at=now)
        elif contact is None:
            message.fail(
                reason="nenhuma dívida deste devedor chegou ao serviço de mensagens: sem contato",
                rule="no_contact",
                at=now,
            )
        elif not to:
            message.fail(
                reason=f"devedor sem {'e-mail' if request.channel == 'email' else 'telefone'}",
                rule="no_contact",
                at=now,
            )
        else:
            variables = self.variables_of(request, contact, settings, request.variables)
            try:
                subject, body, html = rendered(template, variables, request.channel)
            except TemplateError as exc:
                message.fail(reason=exc.message, rule="render", at=now)
            else:
                send_at = next_opening(self.window_of(settings, request.channel), now)
                self.queue_message(
                    message,
                    to=to,
                    subject=subject,
                    body=body,
                    send_at=send_at.astimezone(dt.UTC),
                    html=html,
                )
        self.save(message)
        if message.status == "queued" and message.send_at is not None:
            self.contacts.enqueue(str(message.id), message.tenant, message.send_at, 0)
        return 1

    def variables_of(
        self,
        message: MessageAsked | Message,
        contact: Contact | None,
        settings: MessagingSettings,
        asked: Mapping[str, str],
    ) -> dict[str, str]:
        """What a template is rendered with: the debtor's name (from the contact), the masked
        document, the agency and the portal link, and what was asked (`asked`)."""
        return {
            "nome": contact.name if contact else "",
            "documento": mask_document(message.document),
            "assessoria": settings.agency_name,
            "link_portal": portal_url(settings.portal_link, self.base_url, message.tenant),
            **asked,
        }

    def owed_now(self, message: Message) -> DebtBalance | None:
        """What the debt of a collection message owes now when it is less than the message
        says (a payment to its broken agreement's boleto was deducted since the ruler asked
        it, `DebtPaymentDeducted`) or nothing at all, else None."""
        assert self.contacts is not None
        if not message.collects or message.receivable_id is None:
            return None
        balance = self.contacts.balance(message.tenant, message.receivable_id)
        if balance is None:
            return None
        if balance.balance_cents == 0 or message.says_more_than(balance.balance_cents):
            # Nothing owed: not even a text saying "R$ 0,00" goes (the ruler still has it).
            return balance
        return None

    def _lower_amount(
        self,
        message: Message,
        content: Content,
        owed: DebtBalance,
        settings: MessagingSettings,
        now: dt.datetime,
    ) -> Content | None:
        """The message rendered again from its template and variables with what its debt owes
        now (`valor`), sealed again, recorded (`Message.amount_lowered`): what is sent. None
        when it cannot go (nothing owed any more, or the template no longer renders), failed
        with the reason (not saved: the caller saves)."""
        assert self.contacts is not None
        if owed.balance_cents == 0:
            reason = NOTHING_OWED_REIMPORTED_REASON if owed.reimported else NOTHING_OWED_REASON
            message.fail(reason=reason, rule=COLLECTION_ENDED_RULE, at=now)
            return None
        again = self._rendered_again(
            message,
            content,
            {**message.variables, "valor": format_brl(owed.balance_cents)},
            settings,
            "a mensagem não pôde ser refeita com o valor atualizado da dívida",
            now,
        )
        if again is not None:
            message.amount_lowered(
                owed_cents=owed.balance_cents,
                paid_on=owed.paid_on,
                reimported=owed.reimported,
                personal=again[1],
                at=now,
            )
        return None if again is None else again[0]

    def _rendered_again(
        self,
        message: Message,
        content: Content,
        asked: dict[str, str],
        settings: MessagingSettings,
        why_not: str,
        now: dt.datetime,
    ) -> tuple[Content, dict[str, Any]] | None:
        """A queued message rendered again from its template with the variables `asked`: the
        content to send and its sealed personal fields (for the event that records it). None
        when it cannot be (its template gone, `why_not` saying what was lost; or it no longer
        renders), the message failed with the reason (not saved: the caller saves)."""
        template = self.get_or_none(
            Template, template_id(message.tenant, message.channel, message.template)
        )
        if template is None:
            message.fail(
                reason=f"modelo {message.template!r} de {message.channel} não cadastrado: "
                + why_not,
                rule="no_template",
                at=now,
            )
            return None
        contact = self.contacts.contact(message.tenant, message.document) if self.contacts else None
        variables = self.variables_of(message, contact, settings, asked)
        try:
            subject, body, html = rendered(template, variables, message.channel)
        except TemplateError as exc:
            message.fail(reason=exc.message, rule="render", at=now)
            return None
        key = content.key or self.vault.key_for(message.tenant, message.document)
        fields = {"to": content.to, "subject": subject, "body": body, "html": html}
        return Content(content.to, subject, body, html, key), seal(key, fields).model_dump()

    def _notice_dated(self, message: Message, content: Content, now: dt.datetime) -> Content | None:
        """A listing's notice (`data_negativacao` with `prazo_negativacao`, the ruler's notice
        days) says the day it may be listed counted from the business day it goes out: the
        ruler lists from then (QA pass 8, N5: an SMS asked on 30/04 saying "a partir de
        10/05" went out on 14/05, after the listing). Rendered again when that day is later
        than the text says (`Message.notice_dated`, not saved: the caller saves); the content
        as it is otherwise. None when it cannot be rendered again (failed with the reason)."""
        said = message.variables.get("data_negativacao")
        days = message.variables.get("prazo_negativacao", "")
        if not said or not days.isdigit():
            return content
        listing_from = now.astimezone(BUSINESS_TZ).date() + dt.timedelta(days=int(days))
        try:
            said_day: dt.date | None = dt.datetime.strptime(said, "%d/%m/%Y").date()
        except ValueError:
            # Not a date this service wrote: rendered again, with the day counted from now.
            said_day = None
        if said_day is not None and said_day >= listing_from:
            return content
        again = self._rendered_again(
            message,
            content,
            {**message.variables, "data_negativacao": listing_from.strftime("%d/%m/%Y")},
            self.settings_of(message.tenant),
            "o aviso de negativação não pôde ser refeito com a data contada do envio",
            now,
        )
        if again is not None:
            message.notice_dated(listing_from=listing_from, personal=again[1], at=now)
        return None if again is None else again[0]

    def exit_before(self, message: Message) -> Exit | None:
        """The exit of the message's receivable that came after the ruler asked it (a
        collection message that must not go), or None."""
        if self.exits is None or not message.collects or message.receivable_id is None:
            return None
        left = self.exits.of(message.tenant, message.receivable_id)
        return left if left is not None and message.left_before(left.version) else None

    def dispatch_due(self, now: dt.datetime) -> int:
        """Send what is due; returns how many were sent."""
        assert self.contacts is not None
        sent = 0
        for row in self.contacts.due(now):
            sent += self.retrying(functools.partial(self._send, uuid.UUID(row["message_id"]), now))
        return sent

    def _send(self, message_id: uuid.UUID, now: dt.datetime) -> int:
        assert self.contacts is not None
        message = self.get_or_none(Message, message_id)
        if (
            message is None
            or message.status != "queued"
            or (message.to is None and message.personal is None)
        ):
            self.contacts.dequeue(str(message_id))
            return 0
        left = self.exit_before(message)
        if left is not None:
            # Its receivable left collection while it waited: never sent, said why.
            message.fail(
                reason=collection_ended_reason(left.reason), rule=COLLECTION_ENDED_RULE, at=now
            )
            self.save(message)
            self.contacts.dequeue(str(message_id))
            return 0
        settings = self.settings_of(message.tenant)
        window = self.window_of(settings, message.channel)
        opening = next_opening(window, now)
        # A conversation's reply answers the debtor: it goes at once, window or not.
        if opening > now and not is_immediate(message.key):
            # The window closed since it was queued (or the clock moved): wait again.
            self.contacts.enqueue(
                str(message_id), message.tenant, opening.astimezone(dt.UTC), message.attempts
            )
            return 0
        if not is_immediate(message.key) and self.get_or_none(
            OptOut, opt_out_id(message.tenant, message.document, message.channel)
        ):
            message.fail(
                reason="o devedor pediu para não receber mais mensagens", rule="opted_out", at=now
            )
            self.save(message)
            self.contacts.dequeue(str(message_id))
            return 0
        content = self.content(message)
        if content is None:
            message.fail(reason=ERASED_REASON, rule="no_contact", at=now)
            self.save(message)
            self.contacts.dequeue(str(message_id))
            return 0
        owed = self.owed_now(message)
        if owed is not None:
            # Its debt owes less than its text says (a payment deducted while it waited, or
            # before the ruler read it): rendered again with what is owed, or not sent.
            content = self._lower_amount(message, content, owed, settings, now)
            if content is None:
                self.save(message)
                self.contacts.dequeue(str(message_id))
                return 0
        dated = self._notice_dated(message, content, now)
        if dated is None:
            self.save(message)
            self.contacts.dequeue(str(message_id))
            return 0
        content = dated
        channel = self.channel_for(message.tenant, message.channel, settings)
        try:
            result = channel.send(
                OutgoingMessage(
                    message_id=str(message_id),
                    tenant=message.tenant,
                    channel=message.channel,  # type: ignore[arg-type]
                    to=content.to,
                    subject=content.subject,
                    body=content.body,
                    html=content.html,
                )
            )
        except TemporaryFailure as exc:
            reason = without_address(str(exc), content.to)
            if message.attempts + 1 >= settings.max_attempts:
                message.fail(
                    reason=f"{reason} (após {message.attempts + 1} tentativas)",
                    rule="retries_exhausted",
                    at=now,
                )
                self.save(message)
                self.contacts.dequeue(str(message_id))
                return 0
            next_at = now + BACKOFF[min(message.attempts, len(BACKOFF) - 1)]
            message.retry_later(reason=reason, at=now, next_at=next_at)
            self.save(message)
            self.contacts.enqueue(str(message_id), message.tenant, next_at, message.attempts)
            return 0
        if result.accepted:
            text = sent_text(message.key, content.subject, content.body)
            personal = (
                seal(content.key, {"to": content.to, "text": text}).model_dump()
                if content.key is not None
                else None
            )
            message.sent(
                provider=channel.name, provider_id=result.provider_id, at=now, personal=personal
            )
        else:
            message.fail(
                reason=without_address(result.reason or "recusada pelo provedor", content.to),
                rule="refused",
                at=now,
            )
        self.save(message)
        self.contacts.dequeue(str(message_id))
        return 1 if result.accepted else 0

    def rebuild_queue(self) -> int:
        """The queue from the event store (after a crash between saving and queueing)."""
        assert self.contacts is not None
        queued_topic = get_topic(Message.Queued)  # type: ignore[attr-defined]
        ended = {
            get_topic(Message.Sent),  # type: ignore[attr-defined]
            get_topic(Message.Failed),  # type: ignore[attr-defined]
        }
        waiting: dict[uuid.UUID, None] = {}
        start = 1
        while page := self.recorder.select_notifications(
            start, 2000, topics=[queued_topic, *sorted(ended)]
        ):
            for n in page:
                if n.topic == queued_topic:
                    waiting[n.originator_id] = None  # type: ignore[index]
                else:
                    waiting.pop(n.originator_id, None)  # type: ignore[arg-type]
            start = page[-1].id + 1
        rows = []
        for message_id in waiting:
            message = self.get_or_none(Message, message_id)
            if message is not None and message.status == "queued" and message.send_at:
                rows.append(
                    {
                        "message_id": str(message_id),
                        "tenant": message.tenant,
                        "send_at": message.send_at,
                        "attempts": message.attempts,
                    }
                )
        self.contacts.replace_queue(rows)
        return len(rows)

    # ---- the portal notification ---------------------------------------------------------

    def tenants(self) -> list[str]:
        """Every tenant with messaging settings or templates, from the event store (each
        started once), so no second index can disagree with it."""
        started = get_topic(TenantMessaging.Started)
        found: dict[str, None] = {}
        start = 1
        while page := self.recorder.select_notifications(start, 2000, topics=[started]):
            for n in page:
                record = self.get_or_none(TenantMessaging, n.originator_id)  # type: ignore[arg-type]
                if record is not None:
                    found[record.tenant] = None
            start = page[-1].id + 1
        return list(found)

    def notify_portal(self, day: dt.date, now: dt.datetime) -> int:
        """The business day `day` started: each tenant whose portal notification runs on its
        weekday asks for one e-mail with the portal link to every debtor with an open debt and
        an e-mail. Keyed by date and document, so running a day again sends nothing new.
        Returns how many messages were new."""
        assert self.contacts is not None
        new = 0
        for tenant in self.tenants():
            setting = self.settings_of(tenant).portal_notification
            if not setting.enabled or day.weekday() not in setting.weekdays:
                continue
            if self.get_or_none(Template, template_id(tenant, "email", setting.template)) is None:
                log.warning(
                    "portal notification of %s: no e-mail template %r", tenant, setting.template
                )
                continue
            asked = [
                AskedMessage(
                    tenant=tenant,
                    key=portal_notification_key(day, debtor.document),
                    document=debtor.document,
                    channel="email",
                    template=setting.template,
                    variables={
                        "quantidade_dividas": str(debtor.open_debts),
                        "valor_total": format_brl(debtor.total_cents),
                    },
                )
                for debtor in self.contacts.debtors_with_open_debts(tenant)
            ]
            sent = self.handle_requests(asked, now)
            log.info("portal notification of %s on %s: %d new e-mail(s)", tenant, day, sent)
            new += sent
        return new

    def delivery(self, report: DeliveryReport, now: dt.datetime) -> DeliveryOut:
        try:
            message_id = uuid.UUID(report.id)
        except ValueError:
            return DeliveryOut(message_id=None, applied=False)
        message = self.get_or_none(Message, message_id)
        if message is None or message.tenant != report.tenant:
            raise not_found_refusal("id", f"mensagem {report.id} não encontrada")
        if report.status == "delivered":
            before = message.version
            message.delivered(at=report.at or now)
            if message.version != before:
                self.save(message)
                return DeliveryOut(message_id=str(message_id), applied=True)
            return DeliveryOut(message_id=str(message_id), applied=False)
        if message.status in ("sent", "queued"):
            message.fail(
                reason=report.reason or "falha informada pelo provedor",
                rule="refused",
                at=report.at or now,
            )
            self.save(message)
            return DeliveryOut(message_id=str(message_id), applied=True)
        return DeliveryOut(message_id=str(message_id), applied=False)

    # ---- what conversations need ---------------------------------------------------------

    def queued(self, messages: list[Message]) -> None:
        """Conversation replies saved as queued messages: into the dispatcher's queue."""
        assert self.contacts is not None
        for message in messages:
            if message.status == "queued" and message.send_at is not None:
                self.contacts.enqueue(str(message.id), message.tenant, message.send_at, 0)

    def documents_with_phone(self, tenant: str, phone: str) -> list[str]:
        assert self.contacts is not None
        return self.contacts.documents_with_phone(tenant, phone)

    def contact_of(self, tenant: str, document: str) -> tuple[str, str | None] | None:
        assert self.contacts is not None
        contact = self.contacts.contact(tenant, document)
        return (contact.name, contact.phone) if contact else None

    def erased(self, tenant: str, document: str) -> bool:
        """Whether the debtor's personal data were erased (`PersonalDataErased`), at any time:
        what was kept in clear of them before is not used nor shown any more."""
        assert self.contacts is not None
        return self.contacts.erased(tenant, document)

    # ---- the portal's access codes --------------------------------------------------------

    def send_access_code(self, request: SendAccessCode, now: dt.datetime) -> AccessCodeOut:
        """The code goes at once to the first contact the debtor has among the channels
        asked, once per challenge; the answer says where, masked."""
        assert self.contacts is not None
        day = now.astimezone(BUSINESS_TZ).date()
        sent_today = self.get_or_none(
            DailyTries, daily_tries_id("code", request.tenant, request.document, day)
        )
        agency = self.settings_of(request.tenant).agency_name
        found = self.code_message(
            tenant=request.tenant,
            document=request.document,
            key=f"{ACCESS_CODE_KEY_PREFIX}{request.challenge_id}",
            channels=request.channels,
            now=now,
            subject=f"Seu código de acesso - {agency}",
            body=f"{agency}: seu código de acesso ao portal é {request.code}. "
            "Ele vale por 10 minutos. Não o compartilhe com ninguém.",
        )
        if found is not None:
            if found.message is not None:
                # A new code (a retried request finds its message and answers it again).
                if sent_today is not None and sent_today.locked:
                    return AccessCodeOut(sent=False, reason=TOO_MANY_CODES, rule="too_many_codes")
                if sent_today is None:
                    sent_today = DailyTries(
                        kind="code", tenant=request.tenant, document=request.document, day=day
                    )
                sent_today.used(by=f"{PORTAL_PREFIX}{request.challenge_id}", at=now)
                self.save(found.message, sent_today)
                self.queued([found.message])
            return AccessCodeOut(
                sent=True,
                channel=found.channel,
                destination=found.destination,
            )
        if self.contacts.contact(request.tenant, request.document) is None and (
            self.contacts.erased(request.tenant, request.document)
        ):
            return AccessCodeOut(sent=False, reason=ERASED_REASON, rule="no_contact")
        return AccessCodeOut(
            sent=False,
            reason="o devedor não tem telefone nem e-mail cadastrado para o código",
            rule="no_contact",
        )

    def birth_date_try(self, request: BirthDateTry, now: dt.datetime) -> BirthDateTriesOut:
        """The portal's wrong dates of birth, counted with the chat's (`DailyTries`): what the
        document has left today, after one more used when `try_id` says a wrong date was
        typed (once per id; nothing more once locked)."""
        day = now.astimezone(BUSINESS_TZ).date()
        tries_id = daily_tries_id("birth_date", request.tenant, request.document, day)

        def command() -> DailyTries | None:
            tries = self.get_or_none(DailyTries, tries_id)
            if request.try_id is None or (tries is not None and tries.locked):
                return tries
            by = f"{PORTAL_PREFIX}{request.try_id}"
            if tries is None:
                tries = DailyTries(
                    kind="birth_date", tenant=request.tenant, document=request.document, day=day
                )
            elif tries.counted(by):
                return tries
            tries.used(by=by, at=now)
            self.save(tries)
            return tries

        tries = self.retrying(command)
        if tries is None:
            return BirthDateTriesOut(left=DAILY_LIMITS["birth_date"], locked=False)
        return BirthDateTriesOut(left=tries.left, locked=tries.locked)

    def code_message(
        self,
        *,
        tenant: str,
        document: str,
        key: str,
        channels: Sequence[str],
        now: dt.datetime,
        subject: str,
        body: str,
    ) -> CodeMessage | None:
        """A one-time code's message (`key` starts with ACCESS_CODE_KEY_PREFIX: sent at once,
        in no window) to the first contact the debtor has among `channels` (sms, email),
        queued sealed; `subject` for an e-mail. None when the debtor has none. Not saved: the
        caller saves it with what it changes, then calls `queued`."""
        assert self.contacts is not None
        contact = self.contacts.contact(tenant, document)
        for channel in channels:
            to = None
            if contact is not None:
                to = contact.email if channel == "email" else e164(contact.phone)
            if not to:
                continue
            message = None
            if message_aggregate_id(tenant, key) not in self.repository:
                message = Message(
                    tenant=tenant,
                    key=key,
                    document=document,
                    channel=channel,
                    template="codigo_acesso",
                    variables={},
                )
                self.queue_message(
                    message,
                    to=to,
                    subject=subject if channel == "email" else None,
                    body=body,
                    send_at=now,
                )
            return CodeMessage(message, channel, mask_contact(to))
        return None

    # ---- the chatbot's second factor ---------------------------------------------------------

    def second_factor_of(self, tenant: str) -> SecondFactor:
        """What the tenant's portal asks before values (the gateway's profile)."""
        if self.second_factors is None:
            return NO_SECOND_FACTOR
        return self.second_factors.of(tenant)

    def birth_date_digest_of(self, tenant: str, document: str) -> str | None:
        assert self.contacts is not None
        return self.contacts.birth_date_digest(tenant, document)

    def digest_key(self, tenant: str, purpose: str) -> bytes:
        """The tenant's key of the vault that keys the second factor's digests."""
        return self.vault.settings_key(tenant, purpose).secret


def rendered(
    template: Template, variables: Mapping[str, str], channel: str
) -> tuple[str | None, str, str | None]:
    """A template's subject, body and (e-mail only) HTML body rendered with `variables`.
    Raises TemplateError."""
    body = render(template.body, variables, html=False)
    subject = render(template.subject, variables, field="subject") if template.subject else None
    # Autoescaped: a debtor's name (from a carteira) never becomes markup.
    html = (
        render(template.html, variables, html=True, field="html")
        if template.html is not None and channel == "email"
        else None
    )
    return subject, body, html


def mask_settings(settings: MessagingSettings) -> MessagingSettings:
    """The settings with every channel's credentials masked (`published_settings.masked`)."""
    return settings.model_copy(
        update={"channels": {c: masked(config) for c, config in settings.channels.items()}}
    )


def without_address(reason: str, to: str) -> str:
    """A provider's reason as it is kept: the debtor's address in it masked."""
    return reason.replace(to, mask_contact(to)) if to else reason


def mask_contact(to: str) -> str:
    """Enough for debtors to recognise their own contact, not enough to learn someone's."""
    if "@" in to:
        user, _, domain = to.partition("@")
        return f"{user[:1]}***@{domain}"
    digits = "".join(c for c in to if c.isdigit())[-11:]
    return f"({digits[:2]}) *****-{digits[-4:]}"
