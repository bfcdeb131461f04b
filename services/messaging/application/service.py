"""Use cases of the messaging service: templates and settings, the messages asked for
(rendered, queued for their channel's window, sent once per key, retried with backoff, failed
with the reason), opt-outs and providers' delivery reports. Times come from the caller (the
business clock)."""

from __future__ import annotations

import datetime as dt
import functools
import logging
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

from eventsourcing.utils import get_topic

from contracts.documents import mask_document
from contracts.messaging_requests import (
    DeliveryOut,
    DeliveryReport,
    MessagingSettings,
    OptOutOut,
    RecordOptOut,
    SaveSettings,
    SaveTemplate,
    TemplateList,
    TemplateOut,
)
from contracts.ruler import MessageRequested
from service_runtime.eventstore import ServiceApplication
from service_runtime.refusal import Refused, field_refusal
from services.messaging.adapters.channels import (
    Channel,
    OutgoingMessage,
    TemporaryFailure,
    channel_from_settings,
)
from services.messaging.adapters.contacts import ContactBook
from services.messaging.domain.records import (
    Message,
    OptOut,
    Template,
    TenantMessaging,
    message_aggregate_id,
    opt_out_id,
    template_id,
    tenant_messaging_id,
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


def e164(phone: str | None) -> str | None:
    """A Brazilian phone as providers want it: +55, area code and number (10 or 11 digits
    as carteiras bring them; numbers already with the country code are kept)."""
    if not phone:
        return None
    digits = "".join(c for c in phone if c.isdigit())
    if len(digits) in (10, 11):
        return f"+55{digits}"
    if len(digits) in (12, 13) and digits.startswith("55"):
        return f"+{digits}"
    return None


class MessagingApplication(ServiceApplication):
    name = "messaging"

    def __init__(self, env: dict[str, str] | None = None) -> None:
        super().__init__(env=env)
        self.contacts: ContactBook | None = None
        self.outbox_dir: Path = Path("var/messaging/outbox")
        self.channel_factory: Callable[[str, str, MessagingSettings], Channel] | None = None

    # ---- helpers -------------------------------------------------------------------------

    def _tenant(self, tenant: str) -> TenantMessaging:
        return self.get_or_none(TenantMessaging, tenant_messaging_id(tenant)) or TenantMessaging(
            tenant=tenant, settings_json=MessagingSettings().model_dump_json()
        )

    def settings_of(self, tenant: str) -> MessagingSettings:
        return MessagingSettings.model_validate_json(self._tenant(tenant).settings_json)

    def channel_for(self, tenant: str, channel: str, settings: MessagingSettings) -> Channel:
        if self.channel_factory is not None:
            return self.channel_factory(tenant, channel, settings)
        return channel_from_settings(
            channel,
            settings.channels.get(channel, {}),  # type: ignore[call-overload]
            self.outbox_dir / tenant,
            lambda: dt.datetime.now(dt.UTC),
        )

    @staticmethod
    def window_of(settings: MessagingSettings, channel: str) -> SendingWindow:
        configured = settings.windows.get(channel)  # type: ignore[call-overload]
        if configured is None:
            return DEFAULT_WINDOWS[channel]
        return SendingWindow.of(configured.weekdays, configured.start, configured.end)

    # ---- configuration -------------------------------------------------------------------

    def save_settings(self, request: SaveSettings) -> MessagingSettings:
        for channel, window in request.settings.windows.items():
            try:
                SendingWindow.of(window.weekdays, window.start, window.end)
            except ValueError as exc:
                field, _, message = str(exc).partition(": ")
                raise field_refusal(
                    f"windows.{channel}.{field}", "window", message or str(exc)
                ) from exc
        for channel, config in request.settings.channels.items():
            try:
                channel_from_settings(channel, config, self.outbox_dir, dt.datetime.now)
            except ValueError as exc:
                raise field_refusal(f"channels.{channel}", "channel", str(exc)) from exc

        def command() -> MessagingSettings:
            record = self._tenant(request.tenant)
            record.save_settings(
                settings_json=request.settings.model_dump_json(), saved_by=request.saved_by
            )
            self.save(record)
            return request.settings

        return self.retrying(command)

    def save_template(self, request: SaveTemplate) -> TemplateOut:
        given = request.template
        try:
            body = convert_legacy(given.body) if given.legacy else given.body
            subject = (
                convert_legacy(given.subject, field="subject")
                if given.legacy and given.subject
                else given.subject
            )
            used = check_template(body, subject, max_length=MAX_LENGTH[request.channel])
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
                )
                record = self._tenant(request.tenant)
                record.add_template(channel=request.channel, name=request.name)
                self.save(found, record)
            elif (found.subject, found.body) != (subject, body):
                found.change(
                    subject=subject, body=body, variables=variables, saved_by=request.saved_by
                )
                self.save(found)
            return TemplateOut(
                channel=request.channel,
                name=request.name,
                subject=subject,
                body=body,
                variables=variables,
                version=found.version,
            )

        return self.retrying(command)

    def list_templates(self, tenant: str) -> TemplateList:
        out = []
        for key in self._tenant(tenant).templates:
            channel, name = key.split(":", 1)
            found = self.get_or_none(Template, template_id(tenant, channel, name))
            if found is not None:
                out.append(
                    TemplateOut(
                        channel=channel,
                        name=name,
                        subject=found.subject,
                        body=found.body,
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

    def handle_requests(self, requests: Sequence[MessageRequested], now: dt.datetime) -> int:
        """Accept each request once per key: render it and queue it for its window, or fail
        it with the reason (no template, no contact, opted out). Returns how many were new."""
        new = 0
        for request in requests:
            new += self.retrying(functools.partial(self._accept, request, now))
        return new

    def _accept(self, request: MessageRequested, now: dt.datetime) -> int:
        assert self.contacts is not None
        if message_aggregate_id(request.tenant, request.key) in self.repository:
            return 0  # the same key, already sent or queued: never twice
        message = Message(
            tenant=request.tenant,
            key=request.key,
            document=request.document,
            channel=request.channel,
            template=request.template,
            variables=dict(request.variables),
        )
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
        if self.get_or_none(OptOut, opt_out_id(request.tenant, request.document, request.channel)):
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
        elif not to:
            message.fail(
                reason=f"devedor sem {'e-mail' if request.channel == 'email' else 'telefone'}",
                rule="no_contact",
                at=now,
            )
        else:
            variables = {
                "nome": contact.name if contact else "",
                "documento": mask_document(request.document),
                "assessoria": settings.agency_name,
                "link_portal": settings.portal_link.replace("{tenant}", request.tenant),
                **request.variables,
            }
            try:
                body = render(template.body, variables, html=False)
                subject = (
                    render(template.subject, variables, field="subject")
                    if template.subject
                    else None
                )
            except TemplateError as exc:
                message.fail(reason=exc.message, rule="render", at=now)
            else:
                send_at = next_opening(self.window_of(settings, request.channel), now)
                message.queue(to=to, subject=subject, body=body, send_at=send_at.astimezone(dt.UTC))
        self.save(message)
        if message.status == "queued" and message.send_at is not None:
            self.contacts.enqueue(str(message.id), message.tenant, message.send_at, 0)
        return 1

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
        if message is None or message.status != "queued" or message.to is None:
            self.contacts.dequeue(str(message_id))
            return 0
        settings = self.settings_of(message.tenant)
        window = self.window_of(settings, message.channel)
        opening = next_opening(window, now)
        if opening > now:
            # The window closed since it was queued (or the clock moved): wait again.
            self.contacts.enqueue(
                str(message_id), message.tenant, opening.astimezone(dt.UTC), message.attempts
            )
            return 0
        if self.get_or_none(OptOut, opt_out_id(message.tenant, message.document, message.channel)):
            message.fail(
                reason="o devedor pediu para não receber mais mensagens", rule="opted_out", at=now
            )
            self.save(message)
            self.contacts.dequeue(str(message_id))
            return 0
        channel = self.channel_for(message.tenant, message.channel, settings)
        try:
            result = channel.send(
                OutgoingMessage(
                    message_id=str(message_id),
                    tenant=message.tenant,
                    channel=message.channel,  # type: ignore[arg-type]
                    to=message.to,
                    subject=message.subject,
                    body=message.body or "",
                )
            )
        except TemporaryFailure as exc:
            if message.attempts + 1 >= settings.max_attempts:
                message.fail(
                    reason=f"{exc} (após {message.attempts + 1} tentativas)",
                    rule="retries_exhausted",
                    at=now,
                )
                self.save(message)
                self.contacts.dequeue(str(message_id))
                return 0
            next_at = now + BACKOFF[min(message.attempts, len(BACKOFF) - 1)]
            message.retry_later(reason=str(exc), at=now, next_at=next_at)
            self.save(message)
            self.contacts.enqueue(str(message_id), message.tenant, next_at, message.attempts)
            return 0
        if result.accepted:
            message.sent(provider=channel.name, provider_id=result.provider_id, at=now)
        else:
            message.fail(reason=result.reason or "recusada pelo provedor", rule="refused", at=now)
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

    def delivery(self, report: DeliveryReport, now: dt.datetime) -> DeliveryOut:
        try:
            message_id = uuid.UUID(report.id)
        except ValueError:
            return DeliveryOut(message_id=None, applied=False)
        message = self.get_or_none(Message, message_id)
        if message is None or message.tenant != report.tenant:
            raise Refused(404, "not_found", f"mensagem {report.id} não encontrada")
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
