"""The messaging channels against a real SMTP server (aiosmtpd) and a real HTTP server."""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from services.messaging.adapters.channels import (
    HttpProviderChannel,
    OutboxFileChannel,
    OutgoingMessage,
    SendResult,
    SmtpEmailChannel,
    TemporaryFailure,
    channel_from_settings,
    read_outbox,
)

NOW = datetime(2025, 3, 14, 12, 30, tzinfo=UTC)
SENDER = "Cobrança Exemplo <cobranca@exemplo.com.br>"


def fixed_now() -> datetime:
    return NOW


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def email_message(**changes: Any) -> OutgoingMessage:
    fields: dict[str, Any] = {
        "message_id": "msg-0001",
        "tenant": "exemplo",
        "channel": "email",
        "to": "Devedor Silva <devedor@cliente.com.br>",
        "subject": "Negociação da dívida nº 123 — condições especiais",
        "body": "Olá, João!\nSua dívida de R$ 1.234,56 pode ser paga à vista com 30% de desconto.",
        "html": "<p>Olá, <b>João</b>! Sua dívida pode ser paga à vista.</p>",
    }
    fields.update(changes)
    return OutgoingMessage(**fields)


def sms_message(**changes: Any) -> OutgoingMessage:
    fields: dict[str, Any] = {
        "message_id": "msg-0002",
        "tenant": "exemplo",
        "channel": "sms",
        "to": "+5511987654321",
        "subject": None,
        "body": "Exemplo: sua fatura vence amanhã. Pague pelo Pix.",
    }
    fields.update(changes)
    return OutgoingMessage(**fields)


# ---------------------------------------------------------------------------------------------
# SMTP


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes


@dataclass
class RecordingHandler:
    received: list[Received] = field(default_factory=list)

    async def handle_RCPT(
        self,
        server: SMTPServer,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if address.startswith("inexistente@"):
            return "550 5.1.1 Caixa postal inexistente"
        if address.startswith("lotada@"):
            return "452 4.2.2 Caixa postal cheia, tente mais tarde"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        assert envelope.mail_from is not None
        self.received.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content)
        )
        return "250 Message accepted for delivery"


def authenticate(
    server: SMTPServer, session: Session, envelope: Envelope, mechanism: str, data: Any
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"usuario", b"certa")
    return AuthResult(success=ok, handled=False)  # handled=False: the server answers 535


@pytest.fixture
def smtp_server() -> Iterator[tuple[RecordingHandler, int]]:
    handler = RecordingHandler()
    port = free_port()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticate,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def smtp_channel(port: int, **options: Any) -> SmtpEmailChannel:
    return SmtpEmailChannel(
        "127.0.0.1",
        port,
        sender=SENDER,
        tls="none",
        timeout=5.0,
        now=fixed_now,
        local_hostname="teste.local",
        **options,
    )


def test_email_reaches_a_real_smtp_server(smtp_server: tuple[RecordingHandler, int]) -> None:
    handler, port = smtp_server
    message = email_message()

    result = smtp_channel(port).send(message)

    assert result == SendResult(provider_id=None, accepted=True)
    [received] = handler.received
    assert received.mail_from == "cobranca@exemplo.com.br"
    assert received.rcpt_tos == ["devedor@cliente.com.br"]
    parsed = email.message_from_bytes(received.content, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    assert parsed["From"] == SENDER
    assert parsed["From"].addresses[0].display_name == "Cobrança Exemplo"
    assert parsed["To"] == "Devedor Silva <devedor@cliente.com.br>"
    assert parsed["Subject"] == message.subject
    assert parsed["Date"].datetime == NOW
    assert "msg-0001" in parsed["Message-ID"]
    assert parsed["Message-ID"] == "<msg-0001@exemplo.com.br>"
    assert parsed.get_content_type() == "multipart/alternative"
    text = parsed.get_body(preferencelist=("plain",))
    html = parsed.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    assert text.get_content_charset() == "utf-8"
    assert text.get_content().replace("\r\n", "\n").rstrip("\n") == message.body
    assert html.get_content().replace("\r\n", "\n").rstrip("\n") == message.html
    assert received.content.isascii()  # headers RFC 2047, bodies quoted-printable


def test_plain_text_email_without_html(smtp_server: tuple[RecordingHandler, int]) -> None:
    handler, port = smtp_server

    result = smtp_channel(port).send(email_message(html=None, to="devedor@cliente.com.br"))

    assert result.accepted
    parsed = email.message_from_bytes(handler.received[0].content, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    assert parsed.get_content_type() == "text/plain"
    assert parsed.get_content().startswith("Olá, João!")


def test_recipient_refused_for_good(smtp_server: tuple[RecordingHandler, int]) -> None:
    handler, port = smtp_server

    result = smtp_channel(port).send(email_message(to="inexistente@cliente.com.br"))

    assert not result.accepted
    assert result.reason is not None
    assert "inexistente@cliente.com.br" in result.reason
    assert "550" in result.reason
    assert "Caixa postal inexistente" in result.reason
    assert handler.received == []


def test_recipient_refused_for_now_is_a_temporary_failure(
    smtp_server: tuple[RecordingHandler, int],
) -> None:
    _, port = smtp_server

    with pytest.raises(TemporaryFailure, match="452"):
        smtp_channel(port).send(email_message(to="lotada@cliente.com.br"))


def test_login_with_the_tenants_credentials(smtp_server: tuple[RecordingHandler, int]) -> None:
    handler, port = smtp_server

    good = smtp_channel(port, username="usuario", password="certa").send(email_message())
    bad = smtp_channel(port, username="usuario", password="errada").send(email_message())

    assert good.accepted
    assert not bad.accepted
    assert bad.reason is not None and "535" in bad.reason
    assert len(handler.received) == 1


def test_starttls_required_but_not_offered(smtp_server: tuple[RecordingHandler, int]) -> None:
    _, port = smtp_server
    channel = SmtpEmailChannel("127.0.0.1", port, sender=SENDER, tls="starttls", timeout=5.0)

    result = channel.send(email_message())

    assert not result.accepted
    assert result.reason is not None and "STARTTLS" in result.reason


def test_smtp_server_down_is_a_temporary_failure() -> None:
    with pytest.raises(TemporaryFailure, match="sem conexão"):
        smtp_channel(free_port()).send(email_message())


def test_bad_email_address_is_refused_without_connecting() -> None:
    result = smtp_channel(free_port()).send(email_message(to="sem-arroba"))

    assert not result.accepted
    assert result.reason is not None and "inválido" in result.reason


def test_bad_sender_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="remetente"):
        SmtpEmailChannel("127.0.0.1", 25, sender="Cobrança sem endereço")


# ---------------------------------------------------------------------------------------------
# HTTP provider


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: Any


class ProviderServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), ProviderHandler)
        self.requests: list[Recorded] = []
        self.status = 200
        self.reply: bytes = b"{}"
        self.reply_headers: dict[str, str] = {"Content-Type": "application/json"}

    def answer(self, status: int, body: Any, **headers: str) -> None:
        self.status = status
        self.reply = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.reply_headers = {"Content-Type": "application/json", **headers}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1/messages"


class ProviderHandler(BaseHTTPRequestHandler):
    server: ProviderServer

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(length))
        self.server.requests.append(Recorded(self.path, dict(self.headers.items()), body))
        self.send_response(self.server.status)
        for name, value in self.server.reply_headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(self.server.reply)))
        self.end_headers()
        self.wfile.write(self.server.reply)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def provider() -> Iterator[ProviderServer]:
    server = ProviderServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def sms(provider: ProviderServer) -> Iterator[HttpProviderChannel]:
    with HttpProviderChannel("sms", provider.url, "segredo-123", timeout=5.0) as channel:
        yield channel


def test_provider_accepts_and_gives_its_id(
    provider: ProviderServer, sms: HttpProviderChannel
) -> None:
    provider.answer(200, {"id": "prov-789", "status": "queued"})

    result = sms.send(sms_message())

    assert result == SendResult(provider_id="prov-789", accepted=True)
    [request] = provider.requests
    assert request.path == "/v1/messages"
    assert request.body == {
        "id": "msg-0002",
        "channel": "sms",
        "to": "+5511987654321",
        "text": "Exemplo: sua fatura vence amanhã. Pague pelo Pix.",
        "tenant": "exemplo",
    }
    assert request.headers["Authorization"] == "Bearer segredo-123"
    assert request.headers["Idempotency-Key"] == "msg-0002"
    assert request.headers["Content-Type"] == "application/json"
    assert "segredo" not in repr(sms)


def test_provider_accepts_without_an_id(provider: ProviderServer, sms: HttpProviderChannel) -> None:
    provider.answer(202, b"", **{"Content-Type": "text/plain"})

    assert sms.send(sms_message()) == SendResult(provider_id=None, accepted=True)


def test_provider_refuses_for_good(provider: ProviderServer, sms: HttpProviderChannel) -> None:
    provider.answer(422, {"error": "número de telefone inválido"})

    result = sms.send(sms_message(to="+55119"))

    assert not result.accepted
    assert result.provider_id is None
    assert result.reason is not None
    assert "422" in result.reason
    assert "número de telefone inválido" in result.reason


@pytest.mark.parametrize("status", [503, 500, 429, 408])
def test_provider_asks_to_retry(
    provider: ProviderServer, sms: HttpProviderChannel, status: int
) -> None:
    provider.answer(status, {"message": "indisponível"}, **{"Retry-After": "7"})

    with pytest.raises(TemporaryFailure, match=str(status)) as caught:
        sms.send(sms_message())

    assert caught.value.retry_after == 7.0
    assert len(provider.requests) == 1


def test_whatsapp_through_a_given_client(provider: ProviderServer) -> None:
    provider.answer(201, {"id": 42})
    with httpx.Client() as client:
        channel = HttpProviderChannel("whatsapp", provider.url, "tok", client=client)
        result = channel.send(sms_message(channel="whatsapp", message_id="msg-0003"))
        channel.close()  # not its client: stays open
        assert not client.is_closed

    assert result == SendResult(provider_id="42", accepted=True)
    assert provider.requests[0].body["channel"] == "whatsapp"
    assert provider.requests[0].headers["Idempotency-Key"] == "msg-0003"


def test_provider_down_is_a_temporary_failure() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1/messages"
    with (
        HttpProviderChannel("sms", url, "tok", timeout=5.0) as channel,
        pytest.raises(TemporaryFailure, match="sem conexão"),
    ):
        channel.send(sms_message())


def test_provider_silent_is_a_temporary_failure() -> None:
    with socket.socket() as listener:  # accepts connections (backlog) but never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/v1/messages"
        with (
            HttpProviderChannel("push", url, "tok", timeout=0.2) as channel,
            pytest.raises(TemporaryFailure, match="não respondeu"),
        ):
            channel.send(sms_message(channel="push", to="device-abc"))


def test_bad_provider_url_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="URL"):
        HttpProviderChannel("sms", "ftp://provedor", "tok")


# ---------------------------------------------------------------------------------------------
# Outbox and settings


def test_outbox_writes_one_line_per_message(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "email.jsonl"
    channel = OutboxFileChannel(path, "email", now=fixed_now)

    first = channel.send(email_message())
    second = channel.send(email_message(message_id="msg-0009", html=None))

    assert first.accepted and second.accepted
    assert len(path.read_text(encoding="utf-8").splitlines()) == 2
    records = read_outbox(path)
    assert records[0] == {
        "message_id": "msg-0001",
        "tenant": "exemplo",
        "channel": "email",
        "to": "Devedor Silva <devedor@cliente.com.br>",
        "subject": "Negociação da dívida nº 123 — condições especiais",
        "body": email_message().body,
        "html": email_message().html,
        "sent_at": "2025-03-14T12:30:00+00:00",
    }
    assert records[1]["message_id"] == "msg-0009"
    assert records[1]["html"] is None


def test_outbox_lines_stay_whole_across_threads(tmp_path: Path) -> None:
    path = tmp_path / "sms.jsonl"
    channel = OutboxFileChannel(path, "sms", now=fixed_now)

    def send_many(worker: int) -> None:
        for n in range(25):
            channel.send(sms_message(message_id=f"{worker}-{n}", body="x" * 5000))

    threads = [threading.Thread(target=send_many, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    ids = {record["message_id"] for record in read_outbox(path)}
    assert len(ids) == 200


def test_read_outbox_without_a_file(tmp_path: Path) -> None:
    assert read_outbox(tmp_path / "nada.jsonl") == []


@pytest.mark.parametrize("settings", [{}, {"kind": "outbox"}])
def test_settings_default_to_the_outbox(tmp_path: Path, settings: dict[str, Any]) -> None:
    channel = channel_from_settings("whatsapp", settings, tmp_path, fixed_now)

    assert isinstance(channel, OutboxFileChannel)
    assert channel.name == "whatsapp"
    assert channel.path == tmp_path / "whatsapp.jsonl"
    channel.send(sms_message(channel="whatsapp"))
    assert read_outbox(tmp_path / "whatsapp.jsonl")[0]["sent_at"] == NOW.isoformat()


def test_settings_for_smtp(tmp_path: Path, smtp_server: tuple[RecordingHandler, int]) -> None:
    handler, port = smtp_server
    settings = {
        "kind": "smtp",
        "host": "127.0.0.1",
        "port": str(port),
        "tls": "none",
        "username": "usuario",
        "password": "certa",
        "sender": SENDER,
    }

    channel = channel_from_settings("email", settings, tmp_path, fixed_now)

    assert isinstance(channel, SmtpEmailChannel)
    assert (channel.name, channel.host, channel.port, channel.tls) == (
        "email",
        "127.0.0.1",
        port,
        "none",
    )
    assert channel.send(email_message()).accepted
    parsed = email.message_from_bytes(handler.received[0].content, policy=email.policy.default)
    assert parsed["Date"].datetime == NOW


@pytest.mark.parametrize(("tls", "port"), [("none", 25), ("starttls", 587), ("ssl", 465)])
def test_smtp_port_defaults_from_tls(tmp_path: Path, tls: str, port: int) -> None:
    settings = {"kind": "smtp", "host": "smtp.exemplo.com.br", "tls": tls, "sender": SENDER}

    channel = channel_from_settings("email", settings, tmp_path, fixed_now)

    assert isinstance(channel, SmtpEmailChannel)
    assert channel.port == port


def test_settings_for_http(tmp_path: Path) -> None:
    settings = {"kind": "http", "url": "https://sms.exemplo.com/v1", "token": "t", "timeout": 3}

    channel = channel_from_settings("sms", settings, tmp_path, fixed_now)

    assert isinstance(channel, HttpProviderChannel)
    assert (channel.name, channel.url, channel.timeout) == ("sms", "https://sms.exemplo.com/v1", 3)
    channel.close()


@pytest.mark.parametrize(
    ("channel", "settings", "field"),
    [
        ("email", {"kind": "smtp", "port": 25, "sender": SENDER}, "'host'"),
        ("email", {"kind": "smtp", "host": "smtp.exemplo.com.br"}, "'sender'"),
        ("email", {"kind": "smtp", "host": "h", "sender": SENDER, "username": "u"}, "'password'"),
        ("email", {"kind": "smtp", "host": "h", "sender": SENDER, "password": "p"}, "'username'"),
        ("sms", {"kind": "http", "token": "t"}, "'url'"),
        ("push", {"kind": "http", "url": "https://push.exemplo.com"}, "'token'"),
        ("sms", {"kind": "http", "url": "", "token": "t"}, "'url'"),
        ("sms", {"url": "https://sms.exemplo.com", "token": "t"}, "'kind'"),
    ],
)
def test_missing_fields_are_named(
    tmp_path: Path, channel: str, settings: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValueError, match=f"falta o campo {field}"):
        channel_from_settings(channel, settings, tmp_path, fixed_now)


@pytest.mark.parametrize(
    ("channel", "settings", "words"),
    [
        ("fax", {}, "canal desconhecido"),
        ("sms", {"kind": "pombo"}, "tipo desconhecido"),
        ("sms", {"kind": "smtp", "host": "h", "sender": SENDER}, "só para o canal 'email'"),
        ("email", {"kind": "http", "url": "https://x", "token": "t"}, "não para 'email'"),
        ("email", {"kind": "smtp", "host": "h", "sender": SENDER, "tls": "tls"}, "'tls'"),
        ("email", {"kind": "smtp", "host": "h", "sender": SENDER, "port": "abc"}, "'port'"),
        ("email", {"kind": "smtp", "host": "h", "sender": SENDER, "port": 0}, "'port'"),
    ],
)
def test_wrong_settings_are_explained(
    tmp_path: Path, channel: str, settings: dict[str, Any], words: str
) -> None:
    with pytest.raises(ValueError, match=words):
        channel_from_settings(channel, settings, tmp_path, fixed_now)
