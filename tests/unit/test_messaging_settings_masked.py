"""The admin API answers a tenant's messaging settings with every channel credential masked:
each field the published events withhold reads "********" when set (a url with a path or
query: its origin and "/********"), never a character of it nor its length. The messaging
service masks them, as it alone opens the sealed settings; the gateway passes the answer on.

A credential sent back as it was answered keeps the stored one: the channel built from the
settings still gets it, and the published change set (the audit's "credenciais alteradas")
does not name it. A new value replaces it; null, "" or leaving it out clears it, as before.
The mask's own text is never saved as a credential: carried by a field where it stands for no
stored value, the save is refused (422, rule masked_value) and nothing changes."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa
from litestar import Litestar
from litestar.datastructures import State
from litestar.exceptions import HTTPException
from litestar.middleware import DefineMiddleware
from litestar.testing import TestClient

from contracts.messaging import MessagingSettingsSaved
from contracts.messaging_requests import (
    REQUESTS_TOPIC,
    SECRET_MASK,
    MessagingRequestBody,
    MessagingSettings,
    SaveSettings,
)
from service_runtime.database import sqlite_engine
from service_runtime.personal_data import SqlKeyVault
from service_runtime.refusal import Refused
from service_runtime.request_reply import RequestRefused
from service_runtime.service_client import ServiceClient, ServiceRefused
from service_runtime.stored_aggregates import StoredAggregates
from services.gateway.adapters.tokens import issue_token
from services.gateway.entrypoints.http.auth import BearerTokenMiddleware
from services.gateway.entrypoints.http.errors import (
    ApiError,
    handle_api_error,
    handle_http_exception,
    handle_service_refused,
)
from services.gateway.entrypoints.http.messaging import MessagingAdminController
from services.messaging.adapters import integration_events as messaging_events
from services.messaging.adapters.channels import HttpProviderChannel, SmtpEmailChannel
from services.messaging.adapters.contacts import ContactBook
from services.messaging.application import MessagingApplication
from services.messaging.domain.published_settings import MASK, disclose, keep_masked, masked
from services.messaging.domain.records import TenantMessaging, tenant_messaging_id
from services.messaging.entrypoints.requests import MessagingRequests
from tests.unit import test_message_channels, test_settings_published
from tests.unit.test_message_channels import (
    SENDER,
    ProviderServer,
    RecordingHandler,
    email_message,
    sms_message,
)
from tests.unit.test_settings_published import (
    AGENCY,
    ANA,
    BRUNO,
    POPO,
    SECRETS,
    audit,
    messaging_settings,
    of_type,
    published,
)

# Fixtures of other tests: a real SMTP server (it takes usuario/certa only), a real HTTP
# provider recording what it gets, and the audit's database.
smtp_server = test_message_channels.smtp_server
provider = test_message_channels.provider
engine = test_settings_published.engine

KEY = "k" * 48
URL = "/api/v1/admin/messaging-settings"


class InProcessRequester:
    """The messaging service's request server as the gateway reaches it, without Kafka: the
    request's bytes in, the answer's (or the refusal's) bytes out."""

    def __init__(self, server: MessagingRequests) -> None:
        self.server = server

    async def request(self, topic: str, body: bytes, *, key: bytes | None) -> bytes:
        assert topic == REQUESTS_TOPIC
        request = MessagingRequestBody.model_validate_json(body).request
        try:
            answer = self.server.run(request)
        except Refused as exc:
            raise RequestRefused(exc.reply().model_dump_json().encode()) from exc
        return answer if isinstance(answer, bytes) else answer.model_dump_json().encode()


@pytest.fixture
def app(tmp_path: Path) -> Iterator[MessagingApplication]:
    app = MessagingApplication(env=POPO)
    app.outbox_dir = tmp_path / "outbox"
    app.vault = SqlKeyVault(sqlite_engine(str(tmp_path / "keys.sqlite")))
    # Its queue: a window saved times again what waits in it.
    app.contacts = ContactBook(sa.create_engine(f"sqlite:///{tmp_path / 'messaging.sqlite'}"))
    yield app
    app.close()


@pytest.fixture
def api(app: MessagingApplication) -> Iterator[TestClient[Litestar]]:
    """The gateway's admin controller asking the messaging service's request server."""
    host = SimpleNamespace(
        broker=SimpleNamespace(subscriber=lambda *_, **__: lambda handler: handler),
        consumer_kwargs={},
        clock=SimpleNamespace(now=lambda: dt.datetime(2026, 11, 26, 15, 0, tzinfo=dt.UTC)),
    )
    server = MessagingRequests(host, app, SimpleNamespace())  # type: ignore[arg-type]
    client = ServiceClient(
        "messaging",
        InProcessRequester(server),  # type: ignore[arg-type]
        REQUESTS_TOPIC,
        MessagingRequestBody,
    )
    gateway = Litestar(
        route_handlers=[MessagingAdminController],
        middleware=[DefineMiddleware(BearerTokenMiddleware)],
        exception_handlers={
            ApiError: handle_api_error,
            ServiceRefused: handle_service_refused,
            HTTPException: handle_http_exception,
        },
        state=State({"signing_key": KEY, "messaging": client}),
    )
    with TestClient(gateway) as test_client:
        yield test_client


def as_admin(who: str = ANA) -> dict[str, str]:
    token = issue_token(KEY, tenant=AGENCY, role="admin", subject=who, ttl=dt.timedelta(hours=1))
    return {"Authorization": f"Bearer {token}"}


def put(api: TestClient[Litestar], settings: Any, who: str = ANA) -> Any:
    body = settings.model_dump(mode="json") if isinstance(settings, MessagingSettings) else settings
    return api.put(URL, json=body, headers=as_admin(who))


def get(api: TestClient[Litestar], who: str = ANA) -> dict[str, Any]:
    response = api.get(URL, headers=as_admin(who))
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


MASKED_CHANNELS = {
    "email": {
        "kind": "smtp",
        "host": "smtp.exemplo.com.br",
        "port": 587,
        "tls": "starttls",
        "sender": "cobranca@recupera-sul.com.br",
        "username": MASK,
        "password": MASK,
    },
    "sms": {
        "kind": "http",
        "url": f"https://sms.provedor.com.br/{MASK}",
        "token": MASK,
        "api_secret": MASK,
    },
}


def test_neither_get_nor_the_answer_of_put_carries_a_credential(
    api: TestClient[Litestar], app: MessagingApplication
) -> None:
    saved = put(api, messaging_settings())
    assert saved.status_code == 200, saved.text
    shown = api.get(URL, headers=as_admin())
    assert shown.status_code == 200
    for response in (saved, shown):
        # The whole answer, as the admin's client gets it.
        for secret in SECRETS:
            assert secret not in response.text
        assert response.json()["channels"] == MASKED_CHANNELS
    assert saved.json() == shown.json()
    # Only the answer is masked: what the channels are built from is as saved.
    assert app.settings_of(AGENCY) == messaging_settings()

    # Its length neither: a short and a long password read the same.
    assert put(api, messaging_settings(password="x")).status_code == 200
    short = get(api)
    assert put(api, messaging_settings(password="x" * 60)).status_code == 200
    assert get(api) == short
    assert app.settings_of(AGENCY).channels["email"]["password"] == "x" * 60

    # Not set reads as not set.
    email = {"kind": "smtp", "host": "smtp.exemplo.com.br", "sender": "a@recupera-sul.com.br"}
    unset = {"email": {**email, "username": None, "password": ""}}
    assert put(api, MessagingSettings(channels=unset)).status_code == 200
    assert get(api)["channels"]["email"] == {**email, "username": None, "password": ""}


def real_channels(smtp_port: int, provider_url: str) -> MessagingSettings:
    """Channels a real SMTP server (it takes usuario/certa only) and provider answer."""
    return MessagingSettings(
        channels={
            "email": {
                "kind": "smtp",
                "host": "127.0.0.1",
                "port": smtp_port,
                "tls": "none",
                "timeout": 5,
                "sender": SENDER,
                "username": "usuario",
                "password": "certa",
            },
            "sms": {"kind": "http", "url": provider_url, "token": "tok-antigo", "timeout": 5},
        }
    )


def sent_through_the_stored_channels(app: MessagingApplication) -> bool:
    """Send one e-mail and one SMS with the adapters the service builds from the stored
    settings; whether the SMTP server took the e-mail (its login passed)."""
    settings = app.settings_of(AGENCY)
    email = app.channel_for(AGENCY, "email", settings)
    assert isinstance(email, SmtpEmailChannel)
    sms = app.channel_for(AGENCY, "sms", settings)
    assert isinstance(sms, HttpProviderChannel)
    with sms:
        assert sms.send(sms_message()).accepted
    return email.send(email_message()).accepted


def test_a_credential_sent_back_masked_keeps_the_stored_one(
    api: TestClient[Litestar],
    app: MessagingApplication,
    smtp_server: tuple[RecordingHandler, int],
    provider: ProviderServer,
) -> None:
    handler, port = smtp_server
    assert put(api, real_channels(port, provider.url)).status_code == 200

    # The admin reads the settings, changes the sending window and puts them back whole.
    document = get(api)
    assert document["channels"]["email"]["password"] == MASK
    assert (
        document["channels"]["sms"]["url"]
        == f"http://127.0.0.1:{provider.server_address[1]}/{MASK}"
    )
    document["windows"] = {"sms": {"weekdays": [0, 1, 2, 3, 4], "start": "09:00", "end": "18:00"}}
    saved = put(api, document, BRUNO)
    assert saved.status_code == 200, saved.text
    assert saved.json() == document

    stored = app.settings_of(AGENCY)
    assert stored.channels == real_channels(port, provider.url).channels
    assert stored.windows["sms"].start == "09:00"
    # The adapters get the stored credentials, not the mask.
    assert sent_through_the_stored_channels(app)
    assert len(handler.received) == 1
    [request] = provider.requests
    assert request.path == "/v1/messages"
    assert request.headers["Authorization"] == "Bearer tok-antigo"


def test_a_new_credential_replaces_the_stored_one_and_null_clears_it(
    api: TestClient[Litestar],
    app: MessagingApplication,
    smtp_server: tuple[RecordingHandler, int],
    provider: ProviderServer,
) -> None:
    handler, port = smtp_server
    put(api, real_channels(port, provider.url))

    document = get(api)
    document["channels"]["email"]["password"] = "errada"
    document["channels"]["sms"]["token"] = "tok-novo"
    saved = put(api, document)
    assert saved.status_code == 200, saved.text
    assert "errada" not in saved.text and "tok-novo" not in saved.text
    assert saved.json()["channels"]["email"]["password"] == MASK

    stored = app.settings_of(AGENCY).channels
    assert (stored["email"]["password"], stored["sms"]["token"]) == ("errada", "tok-novo")
    # The SMTP server refuses the new password (535): the adapter got it.
    assert not sent_through_the_stored_channels(app)
    assert handler.received == []
    assert provider.requests[0].headers["Authorization"] == "Bearer tok-novo"

    document = get(api)
    document["channels"]["email"].update(username=None, password=None)
    assert put(api, document).status_code == 200
    email = app.settings_of(AGENCY).channels["email"]
    assert (email["username"], email["password"]) == (None, None)
    assert get(api)["channels"]["email"]["password"] is None


def test_a_credential_sent_back_masked_is_not_told_as_changed(
    api: TestClient[Litestar], app: MessagingApplication, engine: sa.Engine
) -> None:
    put(api, messaging_settings(), ANA)
    # Bruno changes the windows only, sending the masked credentials back.
    document = get(api, BRUNO)
    document["windows"]["sms"] = {"weekdays": [0, 1, 2, 3, 4, 5], "start": "09:00", "end": "18:00"}
    assert put(api, document, BRUNO).status_code == 200
    # Ana changes the SMTP password only.
    document = get(api)
    document["channels"]["email"]["password"] = "outra-senha-forte"
    assert put(api, document, ANA).status_code == 200

    events = published(app, messaging_events.IntegrationEvents(StoredAggregates(app)))
    first, windows, password = of_type(events, MessagingSettingsSaved)
    assert first.channels["sms"].withheld_changed == ["api_secret", "token", "url"]
    assert windows.channels["email"].withheld_changed == []
    assert windows.channels["sms"].withheld_changed == []
    assert password.channels["email"].withheld_changed == ["password"]
    assert password.channels["sms"].withheld_changed == []
    text = json.dumps([json.loads(e.model_dump_json()) for _t, e in events])
    assert MASK not in text and "outra-senha-forte" not in text

    rows = audit(engine, [first, windows, password])
    assert [r["actor"] for r in rows] == [ANA, BRUNO, ANA]
    assert "credenciais alteradas" not in rows[1]["summary"]
    assert rows[1]["summary"].count("(credenciais mantidas)") == 2
    assert (
        "e-mail por SMTP smtp.exemplo.com.br:587, remetente cobranca@recupera-sul.com.br "
        "(credenciais alteradas: senha)"
    ) in rows[0]["summary"]
    assert "SMS por HTTP https://sms.provedor.com.br (credenciais mantidas)" in rows[0]["summary"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        # The mask's own text as a credential: it could never be told from the mask.
        (lambda c: c["email"].update(password=MASK, username=MASK), "channels.email.username"),
        (lambda c: c["email"].update(password=f"abc{MASK}"), "channels.email.password"),
        # A mask where nothing is stored: a new field, another channel, another url.
        (lambda c: c["email"].update(api_key=MASK), "channels.email.api_key"),
        (
            lambda c: c.update(whatsapp={"kind": "http", "url": "https://w.com", "token": MASK}),
            "channels.whatsapp.token",
        ),
        (
            lambda c: c["sms"].update(url=f"https://outro.provedor.com.br/{MASK}"),
            "channels.sms.url",
        ),
    ],
)
def test_the_mask_standing_for_no_stored_value_is_refused(
    api: TestClient[Litestar], app: MessagingApplication, change: Any, field: str
) -> None:
    document = MessagingSettings().model_dump(mode="json")
    document["channels"] = messaging_settings().model_dump(mode="json")["channels"]
    if field != "channels.email.username":
        assert put(api, document).status_code == 200
        document = get(api)
    change(document["channels"])

    refused = put(api, document, BRUNO)

    assert refused.status_code == 422
    error = refused.json()["error"]
    assert [(d["field"], d["rule"]) for d in error["details"]] == [(field, "masked_value")]
    assert "informe o valor completo" in error["message"]
    # Nothing saved: no record for a new tenant, the one save before otherwise.
    record = app.get_or_none(TenantMessaging, tenant_messaging_id(AGENCY))
    if field == "channels.email.username":
        assert record is None
    else:
        assert record is not None and record.version == 2
        assert app.settings_of(AGENCY).channels == messaging_settings().channels


def test_a_credential_stored_with_the_masks_text_before_is_kept_as_it_is(
    api: TestClient[Litestar], app: MessagingApplication
) -> None:
    # Saved before the API masked: the mask's text was then a password like any other.
    legacy = messaging_settings(password=MASK)
    record = TenantMessaging.start(
        tenant=AGENCY, sealed_settings=app.seal_settings(AGENCY, MessagingSettings())
    )
    record.save_settings(sealed_settings=app.seal_settings(AGENCY, legacy), saved_by=ANA)
    app.save(record)

    document = get(api)
    assert document["channels"]["email"]["password"] == MASK
    assert put(api, document).status_code == 200
    assert app.settings_of(AGENCY) == legacy


def test_a_mask_is_refused_when_the_stored_settings_do_not_open(
    api: TestClient[Litestar], app: MessagingApplication, tmp_path: Path
) -> None:
    put(api, messaging_settings())
    document = get(api)
    # A vault that lost the key: what the mask stood for cannot be read.
    app.vault = SqlKeyVault(sqlite_engine(str(tmp_path / "other-keys.sqlite")))

    refused = put(api, document)
    assert refused.status_code == 422
    assert "não abrem" in refused.json()["error"]["message"]
    # Typed again in full, they are saved (sealed under the key the vault has now).
    assert put(api, messaging_settings()).status_code == 200
    assert app.settings_of(AGENCY) == messaging_settings()


def test_the_request_server_masks_without_the_gateway(app: MessagingApplication) -> None:
    """The masking is the messaging service's: what it answers on `messaging.requests`."""
    app.save_settings(SaveSettings(tenant=AGENCY, settings=messaging_settings(), saved_by=ANA))
    host = SimpleNamespace(
        broker=SimpleNamespace(subscriber=lambda *_, **__: lambda handler: handler),
        consumer_kwargs={},
    )
    server = MessagingRequests(host, app, SimpleNamespace())  # type: ignore[arg-type]
    body = MessagingRequestBody.model_validate_json(
        json.dumps({"request": {"kind": "get_settings", "tenant": AGENCY}})
    )
    answer = server.run(body.request)
    assert isinstance(answer, MessagingSettings)
    wire = answer.model_dump_json()
    for secret in SECRETS:
        assert secret not in wire
    assert answer.channels == MASKED_CHANNELS


@pytest.mark.parametrize(
    ("config", "shown"),
    [
        ({}, {}),
        ({"kind": "outbox"}, {"kind": "outbox"}),
        (
            {"kind": "http", "url": "https://user:senha@api.sms.com.br:8443/v1?x=1", "token": "t"},
            {"kind": "http", "url": f"https://api.sms.com.br:8443/{MASK}", "token": MASK},
        ),
        # Nothing beyond the origin: shown whole, as the events publish it.
        (
            {"kind": "http", "url": "https://api.sms.com.br/", "token": "t", "timeout": 3},
            {"kind": "http", "url": "https://api.sms.com.br/", "token": MASK, "timeout": 3},
        ),
        # Not a web address, or a host that is no host name: masked whole.
        (
            {"kind": "http", "url": "ftp://segredo@x", "token": ""},
            {"kind": "http", "url": MASK, "token": ""},
        ),
        (
            {"kind": "smtp", "host": "smtp://u:p@mail", "sender": "a@b.com", "password": "p"},
            {"kind": "smtp", "host": MASK, "sender": "a@b.com", "password": MASK},
        ),
        # An adapter this service does not know; fields named like credentials; any value.
        (
            {"kind": "twilio", "account_sid": "AC1", "from": "+5511", "retries": 3},
            {"kind": "twilio", "account_sid": MASK, "from": MASK, "retries": MASK},
        ),
        (
            {"kind": "smtp", "host": "mail.x.com", "api_key": 42, "extra": {"a": 1}, "user": None},
            {"kind": "smtp", "host": "mail.x.com", "api_key": MASK, "extra": MASK, "user": None},
        ),
    ],
)
def test_the_answer_masks_exactly_what_the_published_events_withhold(
    config: dict[str, Any], shown: dict[str, Any]
) -> None:
    assert MASK == SECRET_MASK == "********"
    answered = masked(config)
    assert answered == shown
    # One rule: a field is masked when, and only when, it is set and the events withhold it.
    set_and_withheld = {f for f in disclose(config).withheld if config[f] not in (None, "")}
    assert {f for f in config if answered[f] != config[f]} == set_and_withheld
    # Sent back as answered, every stored value stays.
    assert keep_masked(config, answered) == config


def test_the_openapi_schema_tells_the_mask(api: TestClient[Litestar]) -> None:
    schema = api.get("/schema/openapi.json").json()
    operations = schema["paths"][URL]
    for method in ("get", "put"):
        assert f'"{MASK}"' in operations[method]["description"]
    ref = operations["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    channels = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]["properties"]["channels"]
    assert f'reads "{MASK}" when set' in channels["description"]
