"""The messaging service's channels: one port (`Channel`) and its adapters.

Every adapter takes an `OutgoingMessage` and answers in one of three ways:

* `SendResult(accepted=True, provider_id=...)`: the message was handed over;
* `SendResult(accepted=False, reason=...)`: refused for good (bad address, rejected content,
  rejected credentials); the caller must not retry, `reason` is pt-BR for people to read;
* raises `TemporaryFailure`: network errors, timeouts, 4xx SMTP replies, HTTP 408/429/5xx;
  the caller retries with backoff, keeping the same `message_id`.

Adapters:

* `SmtpEmailChannel`: e-mail through the tenant's own SMTP server (stdlib `smtplib`), one
  connection per message. The `Message-ID` header carries our `message_id`, so a retry after a
  lost reply sends the same `Message-ID` again.
* `HttpProviderChannel`: SMS, WhatsApp and push through an HTTP provider (see below).
* `OutboxFileChannel`: appends each message as one JSON line to a file and sends nothing outside;
  the default when a tenant configured nothing (`make up`, tests, demos).

`channel_from_settings` builds one of them from a tenant's settings for one channel.

HTTP provider protocol
----------------------

Request: ``POST <url>`` with the headers ``Authorization: Bearer <token>``,
``Idempotency-Key: <message_id>`` and ``Content-Type: application/json``, and the body::

    {
      "id": "<message_id>",          # our id; the same on every retry
      "channel": "sms" | "whatsapp" | "push",
      "to": "+5511987654321",        # E.164 phone, or the push device/user id
      "text": "<body>",
      "tenant": "<tenant>"
    }

Answer:

* 2xx: accepted. When the body is a JSON object with ``"id"``, that is the provider's id for
  the message (`SendResult.provider_id`); otherwise `provider_id` is None.
* 4xx other than 408 and 429: refused for good; the error text (JSON ``error``, ``message`` or
  ``detail``, else the raw body) goes into `SendResult.reason`.
* 408, 429, 5xx, timeouts and network errors: `TemporaryFailure` (with ``retry_after`` when the
  provider sent ``Retry-After`` in seconds).

Delivery callback (the provider posts it to the gateway later; not handled here)::

    POST <gateway callback url>
    {
      "id": "<provider_id, or our message_id when the provider gave none>",
      "status": "delivered" | "failed",
      "reason": "<text>" | null,     # why it failed, when "failed"
      "at": "2025-03-14T12:34:56Z"   # ISO 8601 with offset, when it happened
    }
"""

from __future__ import annotations

import json
import os
import re
import smtplib
import ssl
import threading
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import Any, Literal, Protocol, cast, get_args

import httpx

from contracts.ruler import MessageChannel

TlsMode = Literal["none", "starttls", "ssl"]

CHANNELS: tuple[str, ...] = get_args(MessageChannel)
TLS_MODES: tuple[str, ...] = get_args(TlsMode)
_DEFAULT_SMTP_PORTS: dict[str, int] = {"none": 25, "starttls": 587, "ssl": 465}
_MAX_REASON = 500


@dataclass(frozen=True)
class OutgoingMessage:
    message_id: str  # our id (also the idempotency key towards providers)
    tenant: str
    channel: MessageChannel
    to: str  # e-mail address, E.164 phone (+5511987654321), or push device/user id
    subject: str | None  # e-mail only
    body: str  # plain text
    html: str | None = None  # e-mail only, optional


@dataclass(frozen=True)
class SendResult:
    provider_id: str | None  # the provider's message id, when it gives one
    accepted: bool  # True: handed over; False: refused for good (do not retry)
    reason: str | None = None  # pt-BR, when refused


class TemporaryFailure(Exception):
    """The message may go through later: the caller retries with backoff."""

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class Channel(Protocol):
    name: str

    def send(self, message: OutgoingMessage) -> SendResult: ...


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 1] + "…"


# ---------------------------------------------------------------------------------------------
# E-mail over SMTP


_MSGID_UNSAFE = re.compile(r"[^A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]")


def _smtp_reply(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return _clip(f"{code} {text}")


class SmtpEmailChannel:
    """E-mail through an SMTP server, sent from the tenant's own address.

    Refusals with a 5xx reply (recipient, sender, content, credentials) give
    `SendResult(accepted=False)`; connection errors, timeouts and 4xx replies raise
    `TemporaryFailure`.
    """

    name: str

    def __init__(
        self,
        host: str,
        port: int,
        *,
        sender: str,
        username: str | None = None,
        password: str | None = None,
        tls: TlsMode = "starttls",
        timeout: float = 10.0,
        now: Callable[[], datetime] = _utc_now,
        local_hostname: str | None = None,
    ) -> None:
        _, address = parseaddr(sender)
        if "@" not in address or any(c in sender for c in "\r\n"):
            raise ValueError(f"remetente inválido: {sender!r} (use 'Nome <email@dominio>')")
        if tls not in TLS_MODES:
            raise ValueError(f"modo TLS inválido: {tls!r} (use none, starttls ou ssl)")
        if (username is None) != (password is None):
            raise ValueError("informe usuário e senha do SMTP juntos")
        self.name = "email"
        self.host = host
        self.port = port
        self.sender = sender
        self.tls: TlsMode = tls
        self.timeout = timeout
        self._sender_address = address
        self._sender_domain = address.rpartition("@")[2]
        self._username = username
        self._password = password
        self._now = now
        self._local_hostname = local_hostname

    def __repr__(self) -> str:
        return f"SmtpEmailChannel({self.host!r}, {self.port}, sender={self.sender!r})"

    def build_email(self, message: OutgoingMessage) -> EmailMessage:
        """The e-mail as it goes on the wire: UTF-8, quoted-printable, text and optional html."""
        email = EmailMessage()
        email["From"] = self.sender
        email["To"] = message.to
        if message.subject is not None:
            email["Subject"] = " ".join(message.subject.splitlines())
        email["Date"] = format_datetime(self._now())
        local = _MSGID_UNSAFE.sub("_", message.message_id).strip(".") or "_"
        email["Message-ID"] = f"<{local}@{self._sender_domain}>"
        email.set_content(message.body, charset="utf-8", cte="quoted-printable")
        if message.html is not None:
            email.add_alternative(
                message.html, subtype="html", charset="utf-8", cte="quoted-printable"
            )
        return email

    def send(self, message: OutgoingMessage) -> SendResult:
        _, to_address = parseaddr(message.to)
        if "@" not in to_address or any(c in message.to for c in "\r\n"):
            return SendResult(None, False, f"endereço de e-mail inválido: {message.to!r}")
        email = self.build_email(message)
        smtp = self._connect()
        if isinstance(smtp, SendResult):
            return smtp
        try:
            refused = smtp.send_message(
                email, from_addr=self._sender_address, to_addrs=[to_address]
            )
        except smtplib.SMTPRecipientsRefused as exc:
            return self._refused_recipients(exc.recipients)
        except smtplib.SMTPNotSupportedError:
            return SendResult(
                None, False, "o servidor SMTP não aceita endereços com acentos (SMTPUTF8)"
            )
        except smtplib.SMTPResponseException as exc:  # sender refused, data refused
            return self._reply(exc.smtp_code, exc.smtp_error, "o servidor SMTP recusou o envio")
        except (smtplib.SMTPException, OSError) as exc:
            raise TemporaryFailure(f"falha na conversa com o servidor SMTP: {exc}") from exc
        finally:
            self._close(smtp)
        if refused:
            return self._refused_recipients(refused)
        return SendResult(None, True)

    def _connect(self) -> smtplib.SMTP | SendResult:
        """A connection ready to send, or the permanent refusal met on the way."""
        where = f"{self.host}:{self.port}"
        smtp: smtplib.SMTP | None = None
        try:
            if self.tls == "ssl":
                smtp = smtplib.SMTP_SSL(
                    self.host,
                    self.port,
                    local_hostname=self._local_hostname,
                    timeout=self.timeout,
                    context=ssl.create_default_context(),
                )
            else:
                smtp = smtplib.SMTP(
                    self.host, self.port, local_hostname=self._local_hostname, timeout=self.timeout
                )
            smtp.ehlo_or_helo_if_needed()
            if self.tls == "starttls":
                if not smtp.has_extn("starttls"):
                    self._close(smtp)
                    return SendResult(None, False, f"o servidor SMTP {where} não oferece STARTTLS")
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo_or_helo_if_needed()
            if self._username is not None and self._password is not None:
                if not smtp.has_extn("auth"):
                    self._close(smtp)
                    return SendResult(
                        None, False, f"o servidor SMTP {where} não oferece autenticação (AUTH)"
                    )
                smtp.login(self._username, self._password)
            return smtp
        except smtplib.SMTPConnectError as exc:
            raise TemporaryFailure(
                f"o servidor SMTP {where} não aceitou a conexão: "
                f"{_smtp_reply(exc.smtp_code, exc.smtp_error)}"
            ) from exc
        except smtplib.SMTPResponseException as exc:  # EHLO, STARTTLS or AUTH refused
            self._close(smtp)
            reply = _smtp_reply(exc.smtp_code, exc.smtp_error)
            if 500 <= exc.smtp_code < 600:
                return SendResult(None, False, f"o servidor SMTP {where} recusou: {reply}")
            raise TemporaryFailure(
                f"o servidor SMTP {where} pediu para tentar depois: {reply}"
            ) from exc
        except smtplib.SMTPServerDisconnected as exc:
            self._close(smtp)
            raise TemporaryFailure(f"o servidor SMTP {where} desconectou: {exc}") from exc
        except smtplib.SMTPException as exc:  # no AUTH mechanism in common
            self._close(smtp)
            return SendResult(
                None, False, f"nenhum método de autenticação em comum com {where}: {exc}"
            )
        except OSError as exc:  # refused, unreachable, timeout, TLS handshake
            self._close(smtp)
            raise TemporaryFailure(f"sem conexão com o servidor SMTP {where}: {exc}") from exc

    @staticmethod
    def _close(smtp: smtplib.SMTP | None) -> None:
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()

    @staticmethod
    def _reply(code: int, text: bytes | str, what: str) -> SendResult:
        if 500 <= code < 600:
            return SendResult(None, False, f"{what}: {_smtp_reply(code, text)}")
        raise TemporaryFailure(f"{what} por enquanto: {_smtp_reply(code, text)}")

    @classmethod
    def _refused_recipients(cls, refused: Mapping[str, tuple[int, bytes]]) -> SendResult:
        address, (code, text) = next(iter(refused.items()))
        return cls._reply(code, text, f"o servidor SMTP recusou o destinatário {address}")


# ---------------------------------------------------------------------------------------------
# SMS, WhatsApp and push over an HTTP provider


def _error_text(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict):
        for key in ("error", "message", "detail"):
            value = data.get(key)
            if isinstance(value, str) and value.strip():
                return _clip(value)
            if isinstance(value, dict | list):
                return _clip(json.dumps(value, ensure_ascii=False))
    return _clip(response.text) or "(sem texto)"


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "").strip()
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


class HttpProviderChannel:
    """SMS, WhatsApp or push through an HTTP provider (the protocol is in the module docstring).

    Owns an `httpx.Client` unless one is given; `close()` closes only the one it owns.
    """

    name: str

    def __init__(
        self,
        name: str,
        url: str,
        token: str,
        *,
        timeout: float = 10.0,
        client: httpx.Client | None = None,
    ) -> None:
        parsed = httpx.URL(url)
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise ValueError(f"URL do provedor inválida: {url!r} (use http:// ou https://)")
        if not token:
            raise ValueError("o token do provedor está vazio")
        self.name = name
        self.url = url
        self.timeout = timeout
        self._token = token
        self._owns_client = client is None
        self._client = client if client is not None else httpx.Client(timeout=timeout)

    def __repr__(self) -> str:  # never shows the token
        return f"HttpProviderChannel({self.name!r}, {self.url!r})"

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> HttpProviderChannel:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def send(self, message: OutgoingMessage) -> SendResult:
        payload = {
            "id": message.message_id,
            "channel": message.channel,
            "to": message.to,
            "text": message.body,
            "tenant": message.tenant,
        }
        headers = {
            "Authorization": f"Bearer {self._token}",
            "Idempotency-Key": message.message_id,
            "Accept": "application/json",
        }
        try:
            response = self._client.post(
                self.url, json=payload, headers=headers, timeout=self.timeout
            )
        except httpx.TimeoutException as exc:
            raise TemporaryFailure(
                f"o provedor {self.name} não respondeu em {self.timeout:g} s"
            ) from exc
        except httpx.TransportError as exc:
            raise TemporaryFailure(f"sem conexão com o provedor {self.name}: {exc}") from exc
        status = response.status_code
        if 200 <= status < 300:
            return SendResult(_provider_id(response), True)
        if status in (408, 429) or status >= 500:
            raise TemporaryFailure(
                f"o provedor {self.name} pediu para tentar depois (HTTP {status}): "
                f"{_error_text(response)}",
                retry_after=_retry_after(response),
            )
        if 400 <= status < 500:
            return SendResult(
                None,
                False,
                f"o provedor {self.name} recusou a mensagem (HTTP {status}): "
                f"{_error_text(response)}",
            )
        return SendResult(  # 1xx/3xx: the configured URL is not the provider's endpoint
            None,
            False,
            f"resposta inesperada do provedor {self.name} (HTTP {status}); confira a URL",
        )


def _provider_id(response: httpx.Response) -> str | None:
    try:
        data = response.json()
    except ValueError:
        return None
    if isinstance(data, dict):
        value = data.get("id")
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
            return str(value)
    return None


# ---------------------------------------------------------------------------------------------
# Outbox file


class OutboxFileChannel:
    """Writes each message as one JSON line to `path` and sends nothing outside.

    Each line holds the message's fields plus ``sent_at`` (ISO 8601 from `now`). Lines are
    appended with one write each, so threads and processes sharing the file do not interleave.
    """

    name: str

    def __init__(self, path: Path, name: str, *, now: Callable[[], datetime] = _utc_now) -> None:
        self.path = Path(path)
        self.name = name
        self._now = now
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"OutboxFileChannel({str(self.path)!r}, {self.name!r})"

    def send(self, message: OutgoingMessage) -> SendResult:
        record = {**asdict(message), "sent_at": self._now().isoformat()}
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)
        return SendResult(None, True)


def read_outbox(path: Path) -> list[dict[str, Any]]:
    """The messages written by `OutboxFileChannel`, oldest first; [] when there is no file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    return [cast(dict[str, Any], json.loads(line)) for line in text.splitlines() if line.strip()]


# ---------------------------------------------------------------------------------------------
# From a tenant's settings


def channel_from_settings(
    channel: str,
    settings: Mapping[str, Any],
    outbox_dir: Path,
    now: Callable[[], datetime],
) -> Channel:
    """The adapter for one tenant's channel, from its settings.

    * ``{}`` or ``{"kind": "outbox"}``: `OutboxFileChannel` on ``outbox_dir / "<channel>.jsonl"``;
    * ``{"kind": "smtp", "host", "port", "tls", "username", "password", "sender"}`` (e-mail
      only; ``host`` and ``sender`` required, ``port`` defaults from ``tls``: 25, 587 or 465,
      ``tls`` defaults to ``starttls``, ``username``/``password`` together or neither);
    * ``{"kind": "http", "url", "token"}`` (SMS, WhatsApp, push; both required).

    ``timeout`` (seconds) is optional for smtp and http. Raises ValueError (pt-BR) naming the
    missing or wrong field.
    """
    if channel not in CHANNELS:
        raise ValueError(f"canal desconhecido: {channel!r} (use {', '.join(CHANNELS)})")
    where = f"configuração do canal {channel!r}"
    kind = settings.get("kind", "outbox" if not settings else None)
    if kind is None or kind == "":
        raise ValueError(f"{where}: falta o campo 'kind' (smtp, http ou outbox)")
    if kind == "outbox":
        return OutboxFileChannel(Path(outbox_dir) / f"{channel}.jsonl", channel, now=now)
    if kind == "smtp":
        if channel != "email":
            raise ValueError(f"{where}: 'smtp' serve só para o canal 'email'")
        tls = _optional_str(settings, "tls", where) or "starttls"
        if tls not in TLS_MODES:
            raise ValueError(f"{where}: o campo 'tls' deve ser none, starttls ou ssl, não {tls!r}")
        username = _optional_str(settings, "username", where)
        password = _optional_str(settings, "password", where)
        if username is not None and password is None:
            raise ValueError(f"{where}: falta o campo 'password' (há 'username')")
        if password is not None and username is None:
            raise ValueError(f"{where}: falta o campo 'username' (há 'password')")
        port = settings.get("port")
        return SmtpEmailChannel(
            _required_str(settings, "host", where),
            _DEFAULT_SMTP_PORTS[tls] if port in (None, "") else _port(port, where),
            sender=_required_str(settings, "sender", where),
            username=username,
            password=password,
            tls=cast(TlsMode, tls),
            timeout=_timeout(settings, where),
            now=now,
        )
    if kind == "http":
        if channel == "email":
            raise ValueError(f"{where}: 'http' serve para sms, whatsapp e push, não para 'email'")
        return HttpProviderChannel(
            channel,
            _required_str(settings, "url", where),
            _required_str(settings, "token", where),
            timeout=_timeout(settings, where),
        )
    raise ValueError(f"{where}: tipo desconhecido no campo 'kind': {kind!r} (smtp, http ou outbox)")


def _optional_str(settings: Mapping[str, Any], field: str, where: str) -> str | None:
    value = settings.get(field)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"{where}: o campo {field!r} deve ser texto")
    return value


def _required_str(settings: Mapping[str, Any], field: str, where: str) -> str:
    value = _optional_str(settings, field, where)
    if value is None:
        raise ValueError(f"{where}: falta o campo {field!r}")
    return value


def _port(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"{where}: o campo 'port' deve ser um número")
    try:
        port = int(value)
    except ValueError:
        raise ValueError(f"{where}: o campo 'port' deve ser um número, não {value!r}") from None
    if not 0 < port < 65536:
        raise ValueError(f"{where}: o campo 'port' deve estar entre 1 e 65535, não {port}")
    return port


def _timeout(settings: Mapping[str, Any], where: str) -> float:
    value = settings.get("timeout")
    if value is None:
        return 10.0
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ValueError(f"{where}: o campo 'timeout' deve ser um número de segundos > 0")
    return float(value)
