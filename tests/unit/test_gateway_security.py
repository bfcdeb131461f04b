"""The gateway facing the internet: limits on the debtor's doors (per address, per document,
enumeration), security headers and a request id on every response, the one error shape with
its English message and request id, readiness, and the logs' request id."""

from __future__ import annotations

import datetime as dt
import json
import logging
import types
from collections.abc import Iterator
from typing import Annotated, Any

import pytest
import sqlalchemy as sa
from litestar import Litestar, Response, get, post
from litestar.config.app import AppConfig
from litestar.enums import MediaType, RequestEncodingType
from litestar.exceptions import HTTPException
from litestar.middleware import DefineMiddleware
from litestar.params import Body
from litestar.testing import TestClient

from service_runtime.logs import (
    JsonFormatter,
    RequestIdFilter,
    TextFormatter,
    current_request_id,
)
from service_runtime.outbox import RelayHealth
from service_runtime.settings import Settings
from services.gateway.adapters.rate_limits import Limited, Limits, RateLimiter, SlidingWindow
from services.gateway.adapters.tokens import issue_token
from services.gateway.entrypoints.http.app import create_app
from services.gateway.entrypoints.http.auth import BearerTokenMiddleware
from services.gateway.entrypoints.http.error_messages import GENERIC_EN, english, english_rule
from services.gateway.entrypoints.http.errors import (
    CODES,
    ApiError,
    handle_api_error,
    handle_http_exception,
    handle_unexpected,
    sane_request_id,
)
from services.gateway.entrypoints.http.health import readiness
from services.gateway.entrypoints.http.security import (
    CONTENT_SECURITY_POLICY,
    client_address,
    install_security,
    is_https,
    trusted_networks,
)

KEY = "k" * 48
AGENCY = "recupera-sul"
JOAO = "529.982.247-25"
MARIA = "111.444.777-35"


class FakeClock:
    """Monotonic seconds, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def cpf(n: int) -> str:
    """The n-th valid CPF of a simple sequence (distinct documents for enumeration)."""
    base = f"{100000000 + n * 7919:09d}"
    from contracts.documents import cpf_check_digits

    return base + cpf_check_digits(base)


# ---- the limiter -------------------------------------------------------------------------


def limiter(clock: FakeClock, **limits: Any) -> RateLimiter:
    return RateLimiter(Limits(**limits), clock)


def test_lookups_are_allowed_up_to_the_limit_per_address_then_refused_with_the_wait() -> None:
    clock = FakeClock()
    limits = limiter(clock, lookup_per_address=3, lookup_per_document=100)
    for n in range(3):
        assert limits.check_lookup("203.0.113.7", AGENCY, cpf(n)) is None
        clock.advance(10)

    assert limits.check_lookup("203.0.113.7", AGENCY, cpf(9)) == Limited("address", 30)
    # Another address is not affected.
    assert limits.check_lookup("203.0.113.8", AGENCY, cpf(9)) is None
    # The oldest hit leaves the window (60 s after it): one more is allowed, not two.
    clock.advance(30)
    assert limits.check_lookup("203.0.113.7", AGENCY, cpf(9)) is None
    assert limits.check_lookup("203.0.113.7", AGENCY, cpf(10)) == Limited("address", 10)


def test_a_refused_attempt_is_not_counted() -> None:
    clock = FakeClock()
    limits = limiter(clock, lookup_per_address=1)
    assert limits.check_lookup("198.51.100.1", AGENCY, JOAO) is None
    for _ in range(5):
        assert limits.check_lookup("198.51.100.1", AGENCY, JOAO) == Limited("address", 60)
    clock.advance(60)
    assert limits.check_lookup("198.51.100.1", AGENCY, JOAO) is None


def test_the_limit_per_document_holds_whatever_the_address() -> None:
    clock = FakeClock()
    limits = limiter(clock, lookup_per_address=100, lookup_per_document=5)
    for n in range(5):
        # The same CPF typed in different ways is one document.
        typed = JOAO if n % 2 else JOAO.replace(".", "").replace("-", "")
        assert limits.check_lookup(f"192.0.2.{n}", AGENCY, typed) is None

    assert limits.check_lookup("192.0.2.99", AGENCY, JOAO) == Limited("document", 60)
    # Another document, and the same document at another agency, are not affected.
    assert limits.check_lookup("192.0.2.99", AGENCY, MARIA) is None
    assert limits.check_lookup("192.0.2.99", "outra-assessoria", JOAO) is None


def test_closing_agreements_is_limited_per_address_and_per_document() -> None:
    clock = FakeClock()
    limits = limiter(clock, close_per_address=2, close_per_document=3)
    assert limits.check_close("192.0.2.1", AGENCY, JOAO) is None
    assert limits.check_close("192.0.2.1", AGENCY, MARIA) is None
    assert limits.check_close("192.0.2.1", AGENCY, JOAO) == Limited("address", 60)
    assert limits.check_close("192.0.2.2", AGENCY, JOAO) is None
    assert limits.check_close("192.0.2.3", AGENCY, JOAO) is None
    assert limits.check_close("192.0.2.4", AGENCY, JOAO) == Limited("document", 60)
    # Lookups count on their own.
    assert limits.check_lookup("192.0.2.1", AGENCY, JOAO) is None


def test_a_limit_of_zero_is_no_limit() -> None:
    clock = FakeClock()
    limits = limiter(
        clock, lookup_per_address=0, lookup_per_document=0, enumeration_max_documents=0
    )
    for n in range(200):
        assert limits.check_lookup("192.0.2.1", AGENCY, cpf(n)) is None


def test_the_windows_forget_old_keys_and_stay_bounded() -> None:
    window = SlidingWindow(limit=2, window=60, max_keys=100)
    for n in range(500):
        window.hit(f"key-{n}", float(n))
    assert len(window) == 60  # the others left the window
    crowded = SlidingWindow(limit=2, window=10_000, max_keys=100)
    for n in range(500):
        crowded.hit(f"key-{n}", float(n))
    assert len(crowded) == 100  # the stalest dropped first
    assert crowded.retry_after("key-499", 500.0) is None


def test_an_address_looking_up_many_documents_is_cut_off_and_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    limits = limiter(
        clock,
        lookup_per_address=1000,
        enumeration_max_documents=20,
        enumeration_window_seconds=600,
        enumeration_block_seconds=900,
    )
    documents = [cpf(n) for n in range(25)]
    caplog.set_level(logging.WARNING, logger="services.gateway.adapters.rate_limits")
    for document in documents[:20]:
        assert limits.check_lookup("203.0.113.66", AGENCY, document) is None
        clock.advance(20)
    # The same documents again are not new ones.
    assert limits.check_lookup("203.0.113.66", AGENCY, documents[0]) is None

    assert limits.check_lookup("203.0.113.66", AGENCY, documents[20]) == Limited("enumeration", 900)
    clock.advance(100)
    # Cut off: even a document it looked up before, from this address only.
    assert limits.check_lookup("203.0.113.66", AGENCY, documents[0]) == Limited("enumeration", 800)
    assert limits.check_lookup("203.0.113.66", AGENCY, documents[21]) == Limited("enumeration", 800)
    assert limits.check_lookup("203.0.113.67", AGENCY, documents[22]) is None

    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    line = warnings[0].getMessage()
    assert "203.0.113.66" in line and "21 distinct documents" in line
    assert "***." in line  # masked ('***.456.789-**')
    for document in documents:
        assert document not in line
        assert document[3:9] + document[9:] not in line  # no digits beyond the masked middle

    clock.advance(800)
    assert limits.check_lookup("203.0.113.66", AGENCY, documents[23]) is None


def test_documents_spread_over_more_than_the_window_are_not_enumeration() -> None:
    clock = FakeClock()
    limits = limiter(clock, lookup_per_address=1000, enumeration_max_documents=20)
    for n in range(60):
        assert limits.check_lookup("203.0.113.5", AGENCY, cpf(n)) is None
        clock.advance(31)  # 20 documents take 620 s > the 600 s window


# ---- addresses and https -----------------------------------------------------------------


def scope_of(peer: str, headers: dict[str, str] | None = None, scheme: str = "http") -> Any:
    return {
        "type": "http",
        "scheme": scheme,
        "client": (peer, 50000),
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
    }


def test_x_forwarded_for_is_believed_only_from_a_trusted_proxy() -> None:
    forwarded = {"X-Forwarded-For": "6.6.6.6, 198.51.100.20, 10.0.0.5"}
    assert client_address(scope_of("10.0.0.9", forwarded), ()) == "10.0.0.9"
    trusted = trusted_networks("10.0.0.0/8, 192.168.1.7")
    # The nearest address that is not a proxy; what the client wrote on the left is ignored.
    assert client_address(scope_of("10.0.0.9", forwarded), trusted) == "198.51.100.20"
    assert client_address(scope_of("203.0.113.1", forwarded), trusted) == "203.0.113.1"
    assert client_address(scope_of("192.168.1.7"), trusted) == "192.168.1.7"


def test_https_is_the_connections_or_a_trusted_proxys_word() -> None:
    trusted = trusted_networks("10.0.0.0/8")
    assert is_https(scope_of("203.0.113.1", scheme="https"), ())
    assert not is_https(scope_of("203.0.113.1", {"X-Forwarded-Proto": "https"}), trusted)
    assert is_https(scope_of("10.1.2.3", {"X-Forwarded-Proto": "https"}), trusted)
    assert not is_https(scope_of("10.1.2.3", {"X-Forwarded-Proto": "https"}), ())


def test_a_request_id_is_taken_only_when_it_is_a_sane_token() -> None:
    assert sane_request_id("abc-123_X.9") == "abc-123_X.9"
    assert sane_request_id("a" * 64) == "a" * 64
    assert sane_request_id("a" * 65) is None
    assert sane_request_id("abc def") is None
    assert sane_request_id("<script>") is None
    assert sane_request_id("") is None


# ---- the real app, without Kafka ---------------------------------------------------------


class FakeRunner:
    def __init__(self, name: str, lag: int | None) -> None:
        self.name = name
        self.applied = 7
        self.lag = lag


class BrokenClock:
    def today(self) -> dt.date:
        raise RuntimeError("secret internals: /srv/cobranca password=hunter2")


def real_app(**settings: Any) -> tuple[Litestar, sa.Engine]:
    engine = sa.create_engine(
        "sqlite://", poolclass=sa.pool.StaticPool, connect_args={"check_same_thread": False}
    )
    host = types.SimpleNamespace(
        settings=Settings(secret_key=KEY, **settings),
        clock=types.SimpleNamespace(today=lambda: dt.date(2026, 11, 25)),
        application=None,
        relay=types.SimpleNamespace(
            wake=lambda: None, published_total=0, health=lambda: RelayHealth(0, 0, None)
        ),
        vault=None,
    )
    runners = [FakeRunner("portal_view", 0), FakeRunner("timeline", 3)]
    return create_app(host, engine, runners, None, None, None), engine  # type: ignore[arg-type]


SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}


def assert_secure(response: Any) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, name
    assert "camera=()" in response.headers["permissions-policy"]
    assert "strict-transport-security" not in response.headers  # plain http
    assert sane_request_id(response.headers.get("x-request-id"))


def test_a_success_carries_the_security_headers_and_a_request_id() -> None:
    app, _ = real_app()
    client_ = TestClient(app)
    ok = client_.get("/health/live")
    assert ok.status_code == 200 and ok.json() == {"status": "live"}
    assert_secure(ok)
    given = client_.get("/health/live", headers={"X-Request-ID": "req-42.a_b"})
    assert given.headers["x-request-id"] == "req-42.a_b"
    insane = client_.get("/health/live", headers={"X-Request-ID": "x" * 65})
    assert insane.headers["x-request-id"] != "x" * 65
    assert ok.headers["x-request-id"] != insane.headers["x-request-id"]


def test_a_404_carries_the_headers_request_id_and_both_languages() -> None:
    app, _ = real_app()
    client_ = TestClient(app)
    missing = client_.get("/nada/aqui", headers={"X-Request-ID": "abc-404"})
    assert missing.status_code == 404
    assert_secure(missing)
    assert missing.headers["x-request-id"] == "abc-404"
    error = missing.json()["error"]
    assert (error["code"], error["message"], error["message_en"]) == (
        "not_found",
        "não encontrado",
        "Not found",
    )
    assert error["request_id"] == "abc-404"


@pytest.mark.parametrize(
    ("authorization", "rule", "message"),
    [
        (None, "required", "envie o token no cabeçalho Authorization: Bearer <token>"),
        ("Bearer nao-e-um-token", "token_invalid", "token inválido"),
        (
            "Bearer "
            + issue_token("outra-chave-de-outra-instalacao-32+bytes", tenant="demo", role="admin"),
            "token_invalid",
            "token inválido",
        ),
        (
            "Bearer " + issue_token(KEY, tenant="demo", role="admin", ttl=dt.timedelta(seconds=-1)),
            "token_expired",
            "token expirado",
        ),
    ],
)
def test_a_refused_token_names_the_header_and_why(
    authorization: str | None, rule: str, message: str
) -> None:
    app, _ = real_app()
    headers = {"Authorization": authorization} if authorization else {}
    refused = TestClient(app).get("/api/v1/carteiras/", headers=headers)
    assert refused.status_code == 401
    error = refused.json()["error"]
    assert (error["code"], error["message"]) == ("unauthorized", message)
    [detail] = error["details"]
    assert (detail["field"], detail["rule"], detail["message"]) == ("Authorization", rule, message)
    assert detail["message_en"] == english_rule(rule)


def test_a_role_that_may_not_names_the_header_and_the_rule() -> None:
    app, _ = real_app()
    client_ = TestClient(app)
    portal = issue_token(KEY, tenant="demo", role="portal", document="52998224725")
    forbidden = client_.get("/api/v1/carteiras/", headers={"Authorization": f"Bearer {portal}"})
    assert forbidden.status_code == 403
    [detail] = forbidden.json()["error"]["details"]
    assert (detail["field"], detail["rule"]) == ("Authorization", "role")
    assert detail["message"].startswith("o papel portal não pode fazer isto; exige: ")
    assert detail["message_en"] == "The token's role may not do this"


def test_a_500_tells_nothing_of_the_trace_and_logs_it_with_the_request_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app, _ = real_app()
    app.state.clock = BrokenClock()
    caplog.set_level(logging.ERROR)
    broken = TestClient(app).get("/health")

    assert broken.status_code == 500
    assert_secure(broken)
    error = broken.json()["error"]
    assert error["code"] == "internal_error"
    assert error["message_en"] == "Internal error; please try again"
    assert error["request_id"] == broken.headers["x-request-id"]
    for secret in ("Traceback", "hunter2", "RuntimeError", "/srv"):
        assert secret not in broken.text
    (record,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert record.request_id == error["request_id"]  # type: ignore[attr-defined]
    assert record.exc_info is not None


def test_the_api_docs_work_offline_and_get_a_policy_that_lets_their_scripts_run() -> None:
    app, _ = real_app()
    client_ = TestClient(app)
    for path in ("/schema", "/schema/swagger"):
        swagger = client_.get(path)
        assert swagger.status_code == 200
        # Swagger UI comes from the gateway itself: no CDN, so no way out is needed.
        assert "cdn.jsdelivr.net/npm/swagger-ui-dist" not in swagger.text
        for asset in (
            "swagger-ui-bundle.js",
            "swagger-ui.css",
            "swagger-ui-standalone-preset.js",
        ):
            assert f"/schema/swagger-ui/{asset}" in swagger.text
            served = client_.get(f"/schema/swagger-ui/{asset}")
            assert served.status_code == 200 and len(served.content) > 10_000
    policy = swagger.headers["content-security-policy"]
    # The page starts Swagger UI with an inline script; Scalar (/schema/scalar) uses a CDN.
    assert "<script type='text/javascript'>" in swagger.text
    script_src = next(p for p in policy.split("; ") if p.startswith("script-src"))
    assert "'self'" in script_src and "'unsafe-inline'" in script_src
    assert "https://cdn.jsdelivr.net" in script_src
    assert client_.get("/schema/scalar").status_code == 200
    assert "frame-ancestors 'none'" in policy
    assert swagger.headers["x-frame-options"] == "DENY"
    # Everywhere else, only same-origin scripts.
    assert "cdn.jsdelivr.net" not in client_.get("/health/live").headers["content-security-policy"]


def test_hsts_only_when_the_request_came_over_https() -> None:
    app, _ = real_app()
    secure = TestClient(app, base_url="https://testserver.local").get("/health/live")
    assert secure.headers["strict-transport-security"].startswith("max-age=31536000")
    assert "strict-transport-security" not in TestClient(app).get("/health/live").headers


def test_the_debtor_lookup_answers_429_with_retry_after_after_the_per_document_limit() -> None:
    app, _ = real_app(lookup_limit_per_document=2, lookup_limit_per_address=100)
    # The limiter's clock stands still, so Retry-After is the whole window however slow
    # the machine is.
    app.state.rate_limiter.clock = lambda: 1_000.0
    client_ = TestClient(app)
    for _ in range(2):
        answer = client_.post(f"/api/v1/portal/{AGENCY}/lookup", json={"document": JOAO})
        assert answer.status_code != 429
    refused = client_.post(f"/api/v1/portal/{AGENCY}/lookup", json={"document": JOAO})

    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "60"
    assert_secure(refused)
    error = refused.json()["error"]
    assert error["code"] == "rate_limited"
    assert error["message"] == "muitas consultas deste documento; tente novamente em 60 segundos"
    assert error["message_en"] == "Too many requests; try again after the time in Retry-After"
    assert error["details"][0]["rule"] == "per_document"
    assert error["request_id"] == refused.headers["x-request-id"]


# ---- the middleware on a small app: bodies still reach the handlers ----------------------


@post("/api/v1/portal/{tenant:str}/lookup", status_code=200)
async def fake_lookup(tenant: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"tenant": tenant, "document": data["document"]}


@post("/api/v1/portal/{tenant:str}/agreements", status_code=201)
async def fake_close(tenant: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"closed": data["debt_ids"]}


@post("/p/{tenant:str}/consulta", status_code=200)
async def fake_form(
    tenant: str,
    data: Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)],
) -> dict[str, Any]:
    return {"documento": data["documento"]}


def page_error(request: Any, exc: HTTPException) -> Response[str]:
    """As the web portal's pages answer an HTTPException: a page of their own."""
    return Response(
        f"<p>{exc.detail}</p>",
        status_code=exc.status_code,
        media_type=MediaType.HTML,
        headers=exc.headers,
    )


@post(
    "/p/{tenant:str}/acordo",
    status_code=303,
    exception_handlers={HTTPException: page_error},
)
async def fake_page_close(
    tenant: str,
    data: Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)],
) -> dict[str, Any]:
    return {"closed": data["divida"]}


@post("/api/v1/chat/{tenant:str}/messages", status_code=200)
async def fake_chat(tenant: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"said": data.get("text")}


@get("/health/boom")
async def boom() -> None:
    logging.getLogger("tests.boom").warning("about to fail")
    raise HTTPException(status_code=405, detail="Method Not Allowed")


def small_app(clock: FakeClock, **limits: Any) -> Litestar:
    settings = Settings(secret_key=KEY)
    limiter_ = RateLimiter(Limits(**limits), clock)

    def init(config: AppConfig) -> AppConfig:
        config.state.update({"settings": settings, "signing_key": KEY})
        return install_security(config, limiter_)

    return Litestar(
        route_handlers=[fake_lookup, fake_close, fake_form, fake_page_close, fake_chat, boom],
        middleware=[DefineMiddleware(BearerTokenMiddleware)],
        on_app_init=[init],
        logging_config=None,
        exception_handlers={
            ApiError: handle_api_error,
            HTTPException: handle_http_exception,
            Exception: handle_unexpected,
        },
    )


def token(role: str, document: str | None = None) -> str:
    return issue_token(
        KEY,
        tenant=AGENCY,
        role=role,  # type: ignore[arg-type]
        subject=f"{role}@{AGENCY}",
        document=document,
        ttl=dt.timedelta(minutes=15),
    )


def test_the_body_read_for_the_limit_still_reaches_the_handler() -> None:
    client_ = TestClient(small_app(FakeClock(), lookup_per_document=1))
    first = client_.post(f"/api/v1/portal/{AGENCY}/lookup", json={"document": JOAO})
    assert first.json() == {"tenant": AGENCY, "document": JOAO}
    assert (
        client_.post(f"/api/v1/portal/{AGENCY}/lookup", json={"document": JOAO}).status_code == 429
    )
    # Another document is its own count.
    assert (
        client_.post(f"/api/v1/portal/{AGENCY}/lookup", json={"document": MARIA}).status_code == 200
    )


def test_the_portal_form_is_limited_per_address_and_per_document() -> None:
    clock = FakeClock()
    client_ = TestClient(small_app(clock, lookup_per_address=2, lookup_per_document=5))
    for document in (JOAO, MARIA):
        answer = client_.post(f"/p/{AGENCY}/consulta", data={"documento": document})
        assert answer.json() == {"documento": document}
    refused = client_.post(f"/p/{AGENCY}/consulta", data={"documento": JOAO})
    assert refused.status_code == 429
    assert refused.json()["error"]["details"][0]["rule"] == "per_address"
    assert refused.headers["retry-after"] == "60"
    clock.advance(60)
    assert client_.post(f"/p/{AGENCY}/consulta", data={"documento": JOAO}).status_code == 200


def test_closing_is_limited_by_the_portal_tokens_document_and_staff_are_not_limited() -> None:
    client_ = TestClient(small_app(FakeClock(), close_per_address=100, close_per_document=1))
    debtor = {"Authorization": f"Bearer {token('portal', '52998224725')}"}
    body = {"debt_ids": ["d1"], "installments": 1}
    path = f"/api/v1/portal/{AGENCY}/agreements"
    assert client_.post(path, json=body, headers=debtor).status_code == 201
    assert client_.post(path, json=body, headers=debtor).status_code == 429
    operator = {"Authorization": f"Bearer {token('operator')}"}
    for _ in range(3):
        assert client_.post(path, json=body, headers=operator).status_code == 201


def test_the_pages_close_form_is_limited_by_the_sessions_document() -> None:
    client_ = TestClient(small_app(FakeClock(), close_per_address=100, close_per_document=2))
    path = f"/p/{AGENCY}/acordo"
    client_.cookies.set("portal_sessao", token("portal", "52998224725"))
    for _ in range(2):
        assert client_.post(path, data={"divida": "d1"}).status_code == 303
    refused = client_.post(path, data={"divida": "d1"})
    # The pages' own HTTPException handler answered it, with the wait and a pt-BR message.
    assert refused.status_code == 429
    assert refused.headers["content-type"].startswith("text/html")
    assert refused.headers["retry-after"] == "60"
    assert refused.text == (
        "<p>muitas tentativas de acordo deste documento; tente novamente em 60 segundos</p>"
    )
    assert refused.headers["x-request-id"]
    # Another debtor's session is not affected.
    client_.cookies.set("portal_sessao", token("portal", "11144477735"))
    assert client_.post(path, data={"divida": "d2"}).status_code == 303


def test_a_requests_log_records_carry_its_request_id(caplog: pytest.LogCaptureFixture) -> None:
    caplog.handler.addFilter(RequestIdFilter())
    caplog.set_level(logging.WARNING, logger="tests.boom")
    answer = TestClient(small_app(FakeClock())).get(
        "/health/boom", headers={"X-Request-ID": "trace-me"}
    )
    assert answer.status_code == 405
    assert answer.json()["error"]["message"] == "método não permitido neste endereço"
    assert answer.json()["error"]["message_en"] == "Method not allowed on this address"
    (record,) = [r for r in caplog.records if r.name == "tests.boom"]
    assert record.request_id == "trace-me"  # type: ignore[attr-defined]
    assert current_request_id.get() is None  # not left behind


def test_json_and_text_log_lines_show_the_request_id() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", None, None)
    token_ = current_request_id.set("rid-1")
    try:
        RequestIdFilter().filter(record)
    finally:
        current_request_id.reset(token_)
    assert json.loads(JsonFormatter("gateway").format(record))["request_id"] == "rid-1"
    assert TextFormatter("%(message)s").format(record) == "hello [request rid-1]"
    outside = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", None, None)
    RequestIdFilter().filter(outside)
    assert "request_id" not in json.loads(JsonFormatter("gateway").format(outside))
    assert TextFormatter("%(message)s").format(outside) == "hello"


# ---- error messages ----------------------------------------------------------------------


def test_every_code_has_an_english_message_and_unknown_ones_a_generic_one() -> None:
    for code in [*CODES.values(), "validation_failed", "debt_in_agreement", "conflict"]:
        assert english(code) and english(code) != GENERIC_EN, code
    assert english("ruler_unavailable").startswith("The collection ruler service")
    assert english("some_new_code") == GENERIC_EN
    assert english("some_new_code", 500) == "Internal error; please try again"
    assert english_rule("check_digit") == "Invalid check digit"
    assert english_rule("some_new_rule")


def test_validation_errors_carry_english_for_the_error_and_each_detail() -> None:
    client_ = TestClient(small_app(FakeClock()))
    bad = client_.post(
        f"/p/{AGENCY}/consulta",
        content=b"x=1",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    # A form without the document: the handler's own failure, still in the one shape.
    error = bad.json()["error"]
    assert error["message_en"] and error["request_id"] == bad.headers["x-request-id"]
    for detail in error["details"]:
        assert detail["message_en"]


# ---- readiness ---------------------------------------------------------------------------


def test_ready_when_connected_the_store_answers_and_projections_are_caught_up() -> None:
    found = readiness(True, True, {"portal_view": 0, "timeline": 10}, max_lag=10)
    assert found.ready and found.reasons == []


def test_not_ready_says_every_reason() -> None:
    found = readiness(False, False, {"timeline": 11, "audit": None, "portal_view": 0}, 10)
    assert not found.ready
    assert [(r["field"], r["rule"]) for r in found.reasons] == [
        ("broker", "broker"),
        ("read_store", "read_store"),
        ("projections.audit", "not_assigned"),
        ("projections.timeline", "lagging"),
    ]
    assert "11 eventos atrás" in found.reasons[-1]["message"]


def test_the_ready_endpoint_answers_503_in_the_error_shape_then_200() -> None:
    app, _ = real_app(ready_max_lag_events=5)
    client_ = TestClient(app)
    waiting = client_.get("/health/ready")
    assert waiting.status_code == 503
    error = waiting.json()["error"]
    assert error["code"] == "not_ready" and error["message_en"] == "The service is not ready"
    assert [d["field"] for d in error["details"]] == ["broker"]
    app.state.broker_ready = True
    ready = client_.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json()["projections"]["timeline"] == {"applied": 7, "lag": 3}
    # The old endpoints still answer.
    assert client_.get("/ready").status_code == 200
    assert client_.get("/health").json()["today"] == "2026-11-25"


def test_a_projections_lag_counts_what_its_partitions_have_not_applied() -> None:
    from aiokafka import TopicPartition

    from service_runtime.projection import PositionedConsumer

    class Consumer:
        def __init__(self) -> None:
            self.marks = {TopicPartition("t", 0): 10, TopicPartition("t", 1): 4}

        def highwater(self, tp: TopicPartition) -> int | None:
            return self.marks.get(tp)

    runner = PositionedConsumer.__new__(PositionedConsumer)
    runner.subscriber = types.SimpleNamespace(consumer=Consumer())  # type: ignore[assignment]
    runner.has_assignment = False
    assert runner.lag is None
    runner.has_assignment = True
    runner.assigned = {TopicPartition("t", 0), TopicPartition("t", 1)}
    runner.positions = {TopicPartition("t", 0): 7, TopicPartition("t", 1): 4}
    assert runner.lag == 3
    runner.assigned.add(TopicPartition("t", 2))  # nothing fetched from it yet
    assert runner.lag is None


@pytest.fixture(autouse=True)
def _no_request_id_left() -> Iterator[None]:
    yield
    assert current_request_id.get() is None


def test_a_web_chat_line_that_is_a_document_is_a_lookup_and_the_others_are_not() -> None:
    # The public web chat looks debtors up as the portal does: the same limits, so it is no
    # door around them.
    clock = FakeClock()
    client_ = TestClient(small_app(clock, lookup_per_address=2, lookup_per_document=5))
    path = f"/api/v1/chat/{AGENCY}/messages"
    for line in ("oi", "1", "quero negociar", "0800 123 4567"):
        for _ in range(3):
            assert client_.post(path, json={"text": line}).json() == {"said": line}
    assert client_.post(path, json={"text": "529.982.247-25"}).status_code == 200
    assert client_.post(path, json={"text": MARIA}).status_code == 200
    refused = client_.post(path, json={"text": JOAO})
    assert refused.status_code == 429
    assert refused.json()["error"]["details"][0]["rule"] == "per_address"
    assert client_.post(path, json={"text": "2"}).json() == {"said": "2"}  # the menu still works
    clock.advance(60)
    assert client_.post(path, json={"text": JOAO}).status_code == 200
