"""The portal's pages and its admin API in process (Litestar's test client), with the gateway's
real event store (in memory), read model (SQLite) and the real negotiation application (in
memory, its debts projection in SQLite) behind the client the gateway uses, without Kafka:
the four pages, the session cookie, CSRF, the tenant's portal list on the pages and on the
JSON API, the contact a debtor leaves, the logo rules. tests/e2e/test_portal_pages.py walks
the same pages on the whole platform."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, cast

import pytest
import sqlalchemy as sa
from litestar import Litestar
from litestar.datastructures import State
from litestar.middleware import DefineMiddleware
from litestar.testing import TestClient

from contracts.envelope import Envelope, derived_event_id
from contracts.gateway import PORTAL_TOPIC, PortalContactLeftV2
from contracts.negotiation import PaymentConditionTerms
from contracts.negotiation_requests import GetAgreement, ListAgreements, SaveCondition
from contracts.personal import PersonalDataErased
from contracts.portfolio import DebtImported, DebtorContact
from service_runtime.clock import BusinessClock
from service_runtime.personal_data import REMOVED, unseal
from service_runtime.service_client import ServiceRefused, ServiceUnavailable
from service_runtime.settings import Settings
from service_runtime.stored_aggregates import StoredAggregates
from services.gateway.adapters.integration_events import IntegrationEvents
from services.gateway.adapters.tokens import issue_token
from services.gateway.application.uploads import GatewayApplication
from services.gateway.entrypoints.http.auth import BearerTokenMiddleware
from services.gateway.entrypoints.http.controllers import PortalController
from services.gateway.entrypoints.http.errors import (
    ApiError,
    handle_api_error,
    handle_http_exception,
    handle_service_refused,
    handle_service_unavailable,
)
from services.gateway.entrypoints.http.negotiation import AgreementsController
from services.gateway.entrypoints.http.portal_admin import PortalAdminController
from services.gateway.entrypoints.web import csrf_config, template_config, web_route_handlers
from services.gateway.read_models.portal_view import PortalViewProjection
from services.messaging.application import MessagingApplication
from services.negotiation.domain.agreement import agreement_id_for
from tests.support.local_services import local_messaging, local_negotiation
from tests.unit.test_negotiation_app import Negotiation
from tests.unit.test_projections import VAULT

KEY = "test-signing-key-" + "x" * 32
TENANT = "acme"
TODAY = dt.date(2026, 11, 25)
ISABELA = "57872245825"
WESLEY = "12299899430"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
GIF = b"GIF89a" + b"\x00" * 64


def debt_event(
    debt_id: str, document: str, creditor: str, due: dt.date, cents: int, category: str
) -> DebtImported:
    return DebtImported(
        event_id=derived_event_id("test", debt_id),
        occurred_at=dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
        tenant=TENANT,
        aggregate_id=debt_id,
        aggregate_version=1,
        correlation_id="imp-1",
        causation_id="imp-1",
        debt_id=debt_id,
        document=document,
        document_kind="cpf",
        debtor=DebtorContact(name="Isabela Nunes" if document == ISABELA else "Wesley Dias"),
        creditor=creditor,
        contract=f"C-{debt_id}",
        installment="1",
        original_amount_cents=cents,
        due_date=due,
        category=category,
        import_id="imp-1",
        row_key=debt_id,
    )


DEBTS = [
    debt_event("d-old", ISABELA, "Varejo Bom Preço Ltda", dt.date(2026, 7, 16), 1_052_419, "carnê"),
    debt_event(
        "d-new", ISABELA, "Varejo Bom Preço Ltda", dt.date(2026, 11, 13), 1_052_419, "carnê"
    ),
    debt_event("d-bank", ISABELA, "Banco Horizonte S.A.", dt.date(2026, 8, 1), 50_000, "cartão"),
    debt_event("d-wes", WESLEY, "Conecta Fibra Telecom", dt.date(2025, 11, 7), 17_212, "internet"),
]


class Relay:
    woken = 0

    def wake(self) -> None:
        self.woken += 1


@pytest.fixture
def negotiation(tmp_path: Path) -> Iterator[Negotiation]:
    """The real negotiation application, fed the same debts, with the agency's portal
    conditions: à vista with the charges waived, 3x with half of them off."""
    neg = Negotiation(tmp_path)
    neg.paid_to(TENANT)
    neg.imported(*DEBTS)
    for terms in (
        PaymentConditionTerms(
            installments=1, charges_discount_pct=Decimal(100), description="À vista"
        ),
        PaymentConditionTerms(installments=3, charges_discount_pct=Decimal(50)),
    ):
        neg.app.save_condition(SaveCondition(tenant=TENANT, terms=terms, saved_by="admin"))
    yield neg
    neg.engine.dispose()


@pytest.fixture
def gateway() -> GatewayApplication:
    return GatewayApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})


@pytest.fixture
def client(
    tmp_path: Path, negotiation: Negotiation, gateway: GatewayApplication
) -> Iterator[TestClient[Litestar]]:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'read.sqlite'}")
    projection = PortalViewProjection(VAULT)
    projection.create_tables(engine)
    with engine.begin() as conn:
        projection.apply(conn, cast(list[Envelope], DEBTS))
    app = portal_app(tmp_path, engine, BusinessClock(TODAY), gateway, negotiation)
    with TestClient(app) as test_client:
        yield test_client
    engine.dispose()


def portal_app(
    tmp_path: Path,
    engine: sa.Engine,
    clock: BusinessClock,
    gateway: GatewayApplication,
    negotiation: Negotiation,
    messaging: MessagingApplication | None = None,
    security: Any = None,
) -> Litestar:
    """The gateway's portal (JSON API, admin profile, pages) over this read model, the
    negotiation and messaging services answering in process (the messaging's store in
    memory unless one is given); `security`: an on_app_init hook (the rate limits, say)."""
    if messaging is None:
        messaging = MessagingApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    return Litestar(
        route_handlers=[
            PortalController,
            AgreementsController,
            PortalAdminController,
            *web_route_handlers(),
        ],
        middleware=[DefineMiddleware(BearerTokenMiddleware)],
        exception_handlers={
            ApiError: handle_api_error,
            ServiceRefused: handle_service_refused,
            ServiceUnavailable: handle_service_unavailable,
            **{cls: handle_http_exception for cls in _http_exceptions()},
        },
        template_config=template_config(),
        csrf_config=csrf_config(KEY),
        on_app_init=[security] if security is not None else None,
        state=State(
            {
                "settings": Settings(data_dir=tmp_path),
                "clock": clock,
                "signing_key": KEY,
                "gateway_app": gateway,
                "gateway_relay": Relay(),
                "vault": VAULT,
                "read_engine": engine,
                "negotiation": local_negotiation(negotiation.app, TODAY),
                "messaging": local_messaging(messaging, clock),
            }
        ),
    )


def _http_exceptions() -> list[type[Exception]]:
    from litestar.exceptions import HTTPException

    return [HTTPException]


def admin(client: TestClient[Litestar]) -> dict[str, str]:
    token = issue_token(KEY, tenant=TENANT, role="admin", ttl=dt.timedelta(hours=1))
    return {"Authorization": f"Bearer {token}"}


def csrf(html: str) -> str:
    found = re.search(r'name="_csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def hidden(html: str, name: str) -> list[str]:
    return re.findall(rf'name="{name}" value="([^"]*)"', html)


def sign_in(client: TestClient[Litestar], document: str) -> str:
    page = client.get(f"/p/{TENANT}")
    answer = client.post(
        f"/p/{TENANT}/consulta",
        data={"_csrf_token": csrf(page.text), "document": document},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == f"/p/{TENANT}/dividas"
    return str(answer.headers["set-cookie"])


def save_profile(client: TestClient[Litestar], body: dict[str, Any]) -> Any:
    return client.put("/api/v1/admin/portal", json=body, headers=admin(client))


def half_up(value: Decimal) -> int:
    """Centavos rounded half-up (0,5 goes up), as the charges rule rounds."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def reais(cents: int) -> str:
    """'R$ 11.197,73', as the pages write money."""
    whole = f"{cents // 100:,}".replace(",", ".")
    return f"R$ {whole},{cents % 100:02d}"


def agreements_of(negotiation: Negotiation, document: str) -> list[Any]:
    """The document's agreements, as the negotiation application keeps them."""
    listed = negotiation.app.list_agreements(
        ListAgreements(tenant=TENANT, document=document), TODAY
    )
    return list(listed.agreements)


# ---- the four pages ------------------------------------------------------------------------


def test_page_one_asks_for_the_document_and_says_what_is_wrong_with_it(
    client: TestClient[Litestar],
) -> None:
    page = client.get(f"/p/{TENANT}")
    assert page.status_code == 200
    assert '<html lang="pt-BR">' in page.text
    assert 'name="viewport"' in page.text
    assert '<label for="document">CPF ou CNPJ</label>' in page.text
    assert re.search(r'<input id="document" name="document"', page.text)
    assert ">Continuar</button>" in page.text
    # CSP-friendly: no inline script, style or handler.
    assert "<script>" not in page.text and " style=" not in page.text
    assert not re.search(r"\son[a-z]+=", page.text)
    assert page.headers["cache-control"] == "no-store"

    wrong = client.post(
        f"/p/{TENANT}/consulta",
        data={"_csrf_token": csrf(page.text), "document": "578.722.458-00"},
    )
    assert wrong.status_code == 422
    assert "CPF com dígito verificador inválido. Confira o número digitado." in wrong.text
    assert 'aria-invalid="true"' in wrong.text
    assert 'aria-describedby="document-dica document-erro"' in wrong.text
    assert 'id="document-erro" role="alert">' in wrong.text


def test_the_session_cookie_is_httponly_lax_and_scoped_to_the_tenant(
    client: TestClient[Litestar],
) -> None:
    cookie = sign_in(client, "578.722.458-25").lower()
    assert "portal_sessao=" in cookie
    assert "path=/p/acme" in cookie
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert "secure" not in cookie  # plain http here; https requests get Secure


def test_over_https_the_session_cookie_is_secure(client: TestClient[Litestar]) -> None:
    with TestClient(client.app, base_url="https://testserver.local") as secure:
        cookie = sign_in(secure, ISABELA).lower()
    assert "secure" in cookie and "httponly" in cookie


def test_a_debtor_walks_the_four_pages_and_a_double_click_closes_once(
    client: TestClient[Litestar], negotiation: Negotiation
) -> None:
    # d-old on 25/11/2026, by the charges rule: R$ 10.524,19 due 16/07/2026, 132 days late;
    # multa 2% = 210,4838 -> 210,48; juros 1% a.m. x 132/30 = 463,06436 -> 463,06.
    principal = 1_052_419
    penalty = half_up(Decimal(principal) * 2 / 100)
    interest = half_up(Decimal(principal) * 1 * 132 / (100 * 30))
    charges = penalty + interest
    assert (penalty, interest) == (21_048, 46_306)
    # À vista waives the charges; 3x takes half of them off (33.677 centavos), in 3 equal parts.
    three_total = principal + charges - half_up(Decimal(charges) * 50 / 100)
    assert three_total == 1_086_096 and three_total % 3 == 0

    sign_in(client, ISABELA)
    debts = client.get(f"/p/{TENANT}/dividas")
    assert debts.status_code == 200
    assert "Olá, Isabela Nunes" in debts.text
    assert debts.text.count(">Negociar</a>") == 3
    assert "R$ 10.524,19" in debts.text and "132 dias" in debts.text
    link = re.search(r'href="(/p/acme/negociar\?divida=d-old)"', debts.text)
    assert link

    offers = client.get(link.group(1))
    assert offers.status_code == 200
    assert 'class="valor-riscado" id="valor-atualizado"' in offers.text
    assert reais(principal + charges) == "R$ 11.197,73"
    assert reais(principal + charges) in offers.text and reais(principal) in offers.text
    assert offers.text.count(">Efetuar acordo</button>") == 2
    assert f"3 × {reais(three_total // 3)}" in offers.text  # 3 × R$ 3.620,32
    # 25/12 is Christmas (a Friday): the second installment is due on the next business day.
    assert "28/12/2026" in offers.text
    (key,) = set(hidden(offers.text, "chave"))

    form = {"_csrf_token": csrf(offers.text), "chave": key, "divida": "d-old", "parcelas": "3"}
    first = client.post(f"/p/{TENANT}/acordo", data=form, follow_redirects=False)
    second = client.post(f"/p/{TENANT}/acordo", data=form, follow_redirects=False)
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    # One agreement, named by the page's idempotency key, closed on the portal.
    agreement_id = str(agreement_id_for(TENANT, key))
    assert first.headers["location"] == f"/p/{TENANT}/acordos/{agreement_id}"
    (closed,) = agreements_of(negotiation, ISABELA)
    assert (closed.agreement_id, closed.channel) == (agreement_id, "portal")
    assert closed.total_cents == three_total and len(closed.invoices) == 3
    assert [e.type for e in negotiation.published()].count("AgreementClosed") == 1

    invoice = client.get(first.headers["location"])
    assert invoice.status_code == 200
    html = invoice.text
    # The page shows the first invoice as the negotiation service answers it.
    answered = negotiation.app.get_agreement(
        GetAgreement(tenant=TENANT, agreement_id=agreement_id, document=ISABELA), TODAY
    )
    shown = answered.invoices[0]
    digits = shown.digitable_line
    assert len(digits) == 47 and digits.isdigit()
    line = (
        f"{digits[0:5]}.{digits[5:10]} {digits[10:15]}.{digits[15:21]} "
        f"{digits[21:26]}.{digits[26:32]} {digits[32]} {digits[33:]}"
    )
    assert f'data-copy-value="{digits}">{line}</p>' in html
    assert ">Copiar linha digitável</button>" in html
    assert shown.pix_code.startswith("000201")
    assert f'id="pix-copia-e-cola">{shown.pix_code}</p>' in html
    assert ">Copiar código PIX</button>" in html
    assert 'alt="QR Code PIX" aria-label="QR Code PIX"' in html
    assert 'alt="Código de barras" aria-label="Código de barras"' in html
    assert 'src="data:image/svg+xml;base64,' in html
    pdf_link = re.search(r'href="([^"]+)">Baixar boleto \(PDF\)</a>', html)
    term_link = re.search(r'href="([^"]+)">Termo de acordo \(PDF\)</a>', html)
    assert pdf_link and term_link
    assert pdf_link.group(1).endswith(f"/boleto/{shown.invoice_id}.pdf")
    pdf = client.get(pdf_link.group(1))
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    term = client.get(term_link.group(1))
    assert term.status_code == 200 and term.content.startswith(b"%PDF")
    # Another invoice of the agreement, chosen from its list.
    other = client.get(first.headers["location"] + f"?fatura={answered.invoices[1].invoice_id}")
    assert "Parcela 2 de 3" in other.text


def test_a_form_without_its_csrf_token_is_refused(client: TestClient[Litestar]) -> None:
    client.get(f"/p/{TENANT}")
    refused = client.post(f"/p/{TENANT}/consulta", data={"document": ISABELA})
    assert refused.status_code == 403
    assert "formulário" in refused.text and "<html" in refused.text
    forged = client.post(
        f"/p/{TENANT}/consulta", data={"document": ISABELA, "_csrf_token": "0" * 128}
    )
    assert forged.status_code == 403
    # The JSON API is not the forms': it needs no CSRF token.
    assert client.post(f"/api/v1/portal/{TENANT}/lookup", json={"document": ISABELA}).is_success


def test_pages_without_a_session_go_back_to_page_one(client: TestClient[Litestar]) -> None:
    answer = client.get(f"/p/{TENANT}/dividas", follow_redirects=False)
    assert (answer.status_code, answer.headers["location"]) == (303, f"/p/{TENANT}")
    expired = issue_token(
        KEY,
        tenant=TENANT,
        role="portal",
        document=ISABELA,
        ttl=dt.timedelta(minutes=15),
        now=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1),
    )
    client.cookies.set("portal_sessao", expired, path=f"/p/{TENANT}")
    answer = client.get(f"/p/{TENANT}/negociar?divida=d-old", follow_redirects=False)
    assert answer.status_code == 303
    # Page one says it expired, and keeps the page asked to return to it.
    assert answer.headers["location"] == (
        f"/p/{TENANT}?sessao=expirada&voltar=%2Fp%2Facme%2Fnegociar%3Fdivida%3Dd-old"
    )
    page = client.get(answer.headers["location"])
    assert "Sua sessão expirou" in page.text
    # A token of another tenant is no session here.
    other = issue_token(KEY, tenant="other", role="portal", document=ISABELA)
    client.cookies.set("portal_sessao", other, path=f"/p/{TENANT}")
    answer = client.get(f"/p/{TENANT}/dividas", follow_redirects=False)
    assert answer.headers["location"] == f"/p/{TENANT}"


def test_an_unknown_tenant_has_no_portal_and_the_generic_link_asks_which(
    client: TestClient[Litestar],
) -> None:
    assert client.get("/p/nobody").status_code == 404
    save_profile(client, {"name": "Acme Cobranças"})
    chooser = client.get("/portal")
    assert chooser.status_code == 200
    assert '<a href="/p/acme">Acme Cobranças</a>' in chooser.text
    assert 'label for="assessoria"' in chooser.text
    found = client.get("/portal?assessoria=ACME", follow_redirects=False)
    assert (found.status_code, found.headers["location"]) == (303, "/p/acme")
    assert client.get("/portal?assessoria=nobody").status_code == 404
    assert client.get("/portal?assessoria=no%20way").status_code == 422


# ---- the portal list -----------------------------------------------------------------------


def test_the_portal_list_applies_to_the_pages_and_the_json_api(
    client: TestClient[Litestar], negotiation: Negotiation
) -> None:
    saved = save_profile(
        client,
        {
            "name": "Acme Cobranças",
            "portal_list": {"creditors": ["varejo bom preco ltda"], "days_overdue_min": 30},
        },
    )
    assert saved.status_code == 200, saved.text
    assert saved.json()["portal_url"].endswith("/p/acme")

    looked = client.post(f"/api/v1/portal/{TENANT}/lookup", json={"document": ISABELA}).json()
    assert [d["debt_id"] for d in looked["debts"]] == ["d-old"]
    portal = {"Authorization": f"Bearer {looked['portal_token']}"}
    refused = client.get(f"/api/v1/portal/{TENANT}/offers?debt_id=d-bank", headers=portal)
    assert refused.status_code == 422
    detail = refused.json()["error"]["details"][0]
    assert (detail["field"], detail["rule"]) == ("debt_ids", "not_eligible")
    refused = client.post(
        f"/api/v1/portal/{TENANT}/agreements",
        json={"debt_ids": ["d-new"], "installments": 1},
        headers={**portal, "Idempotency-Key": "k-1"},
    )
    assert refused.status_code == 422
    assert agreements_of(negotiation, ISABELA) == []
    # Operators negotiate any debt: the list is the portal's.
    staff = admin(client)
    assert client.get(f"/api/v1/portal/{TENANT}/offers?debt_id=d-bank", headers=staff).is_success

    sign_in(client, ISABELA)
    page = client.get(f"/p/{TENANT}/dividas")
    assert page.text.count(">Negociar</a>") == 1
    assert "Acme Cobranças" in page.text
    assert client.get(f"/p/{TENANT}/negociar?divida=d-bank").status_code == 422


def test_profile_validation_names_the_field(client: TestClient[Litestar]) -> None:
    bad = save_profile(
        client,
        {"name": "X", "portal_list": {"amount_min_cents": 500, "amount_max_cents": 100}},
    )
    assert bad.status_code == 422
    detail = bad.json()["error"]["details"][0]
    assert (detail["field"], detail["rule"]) == ("portal_list.amount_max_cents", "range")
    bad = save_profile(client, {"name": "X", "portal_list": {"days_overdue_min": -1}})
    assert bad.status_code == 422
    assert "days_overdue_min" in bad.json()["error"]["details"][0]["field"]
    bad = save_profile(client, {"name": "", "portal_list": {}})
    assert bad.status_code == 422
    assert client.get("/api/v1/admin/portal", headers=admin(client)).status_code == 404
    operator = issue_token(KEY, tenant=TENANT, role="operator")
    forbidden = client.put(
        "/api/v1/admin/portal",
        json={"name": "X"},
        headers={"Authorization": f"Bearer {operator}"},
    )
    assert forbidden.status_code == 403


def test_the_logo_must_be_a_small_png_or_jpeg(client: TestClient[Litestar]) -> None:
    headers = admin(client)
    gif = client.put(
        "/api/v1/admin/portal/logo", content=GIF, headers={**headers, "content-type": "image/gif"}
    )
    assert gif.status_code == 415
    assert gif.json()["error"]["details"][0]["rule"] == "content_type"
    disguised = client.put(
        "/api/v1/admin/portal/logo", content=GIF, headers={**headers, "content-type": "image/png"}
    )
    assert disguised.status_code == 415
    assert disguised.json()["error"]["details"][0]["rule"] == "magic_bytes"
    big = client.put(
        "/api/v1/admin/portal/logo",
        content=PNG + b"\x00" * 200 * 1024,
        headers={**headers, "content-type": "image/png"},
    )
    assert big.status_code == 422
    assert big.json()["error"]["details"][0]["rule"] == "max_size"
    assert client.get(f"/p/{TENANT}/logo").status_code == 404

    ok = client.put(
        "/api/v1/admin/portal/logo", content=PNG, headers={**headers, "content-type": "image/png"}
    )
    assert ok.status_code == 200, ok.text
    logo = client.get(f"/p/{TENANT}/logo")
    assert (logo.content, logo.headers["content-type"]) == (PNG, "image/png")
    assert re.search(r'<img class="logo" src="/p/acme/logo\?v=\w+"', client.get("/p/acme").text)


# ---- nothing eligible: the contact ---------------------------------------------------------


def test_nothing_eligible_offers_the_contact_form_and_records_it_once(
    client: TestClient[Litestar], gateway: GatewayApplication
) -> None:
    save_profile(client, {"name": "Acme", "portal_list": {"creditors": ["Varejo Bom Preço Ltda"]}})
    sign_in(client, WESLEY)
    page = client.get(f"/p/{TENANT}/dividas")
    assert "Não encontramos dívidas para negociar aqui" in page.text
    assert ">Negociar</a>" not in page.text
    form = {
        "_csrf_token": csrf(page.text),
        "chave": hidden(page.text, "chave")[0],
        "nome": "Wesley Dias",
        "telefone": "(61) 99876-5432",
        "email": "",
        "credor_esperado": "Loja Exemplo",
        "mensagem": "Tenho um carnê em atraso",
    }
    invalid = client.post(f"/p/{TENANT}/contato", data={**form, "email": "nope"})
    assert invalid.status_code == 422
    assert 'id="contato-email-erro" role="alert">e-mail inválido' in invalid.text
    for _ in range(2):
        sent = client.post(f"/p/{TENANT}/contato", data=form, follow_redirects=False)
        assert sent.status_code == 303
    assert "Recebemos seu contato" in client.get(sent.headers["location"]).text

    relay = IntegrationEvents(StoredAggregates(gateway).tenant_of)  # the gateway's mapper
    published = [
        message
        for notification in gateway.recorder.select_notifications(start=1, limit=100)
        for topic, message in relay(gateway.mapper.to_domain_event(notification))
        if topic == PORTAL_TOPIC
    ]
    assert len(published) == 1
    contact = published[0]
    # Sealed with Wesley's key (LGPD): in clear neither in the store nor on the topic.
    assert isinstance(contact, PortalContactLeftV2) and contact.personal is not None
    assert unseal(contact.personal, VAULT) == {
        "name": "Wesley Dias",
        "phone": "+5561998765432",
        "email": None,
    }
    assert (contact.tenant, contact.document) == (TENANT, WESLEY)
    stored_bytes = b"".join(
        n.state for n in gateway.recorder.select_notifications(start=1, limit=100)
    )
    for clear in (b"Wesley Dias", b"5561998765432"):
        assert clear not in stored_bytes and clear not in contact.model_dump_json().encode()
    assert (contact.expected_creditor, contact.message) == (
        "Loja Exemplo",
        "Tenho um carnê em atraso",
    )


def test_an_erased_name_is_neither_greeted_nor_offered_back(client: TestClient[Litestar]) -> None:
    engine = client.app.state.read_engine
    erased = PersonalDataErased(
        event_id=derived_event_id("test", "erasure", ISABELA),
        occurred_at=dt.datetime(2026, 11, 20, tzinfo=dt.UTC),
        tenant=TENANT,
        aggregate_id="erasures",
        aggregate_version=1,
        correlation_id="erasures",
        causation_id="erasures",
        document=ISABELA,
        key_ids=[],
        requested_by="admin@acme",
        reason="pedido do titular",
    )
    with engine.begin() as conn:
        PortalViewProjection(VAULT).apply(conn, [erased])
    # The JSON API says it was removed; the debts are still there to negotiate.
    found = client.post(f"/api/v1/portal/{TENANT}/lookup", json={"document": ISABELA}).json()
    assert found["debtor_name"] == REMOVED and found["debts"]
    sign_in(client, ISABELA)
    page = client.get(f"/p/{TENANT}/dividas")
    assert page.status_code == 200
    assert "Isabela" not in page.text and REMOVED not in page.text
    assert "<h1>Olá</h1>" in page.text
    name_field = re.search(r'name="nome"[^>]*value="([^"]*)"', page.text)
    assert name_field is not None and name_field.group(1) == ""


# ---- what QA found on `make up` ------------------------------------------------------------


def _session_cookie(answer: Any) -> tuple[str, int] | None:
    """The session cookie an answer sets: its token and Max-Age (None when it sets none)."""
    for header in answer.headers.get_list("set-cookie"):
        found = re.match(r"portal_sessao=([^;]*);.*?Max-Age=(\d+)", header, re.I)
        if found:
            return found.group(1), int(found.group(2))
    return None


def _claims(token: str) -> dict[str, Any]:
    import jwt

    return dict(jwt.decode(token, KEY, algorithms=["HS256"], issuer="cobranca"))


def _use_session(client: TestClient[Litestar], token: str) -> None:
    """The browser's session cookie is now `token` (in place of the one the pages set)."""
    client.cookies.delete("portal_sessao")
    client.cookies.set("portal_sessao", token, domain="testserver.local", path=f"/p/{TENANT}")


def _session_of(minutes_ago: float, signed_in_minutes_ago: float | None = None) -> str:
    """A portal session token issued `minutes_ago` for 15 minutes (the portal's lifetime)."""
    import jwt

    issued = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=minutes_ago)
    claims: dict[str, Any] = {
        "iss": "cobranca",
        "sub": f"portal:{ISABELA}",
        "tenant": TENANT,
        "role": "portal",
        "document": ISABELA,
        "iat": issued,
        "exp": issued + dt.timedelta(minutes=15),
        "jti": "t-1",
    }
    if signed_in_minutes_ago is not None:
        signed_in = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=signed_in_minutes_ago)
        claims["auth_time"] = int(signed_in.timestamp())
    return jwt.encode(claims, KEY, algorithm="HS256")


def test_the_session_cookie_outlives_its_token_so_an_expired_session_is_told(
    client: TestClient[Litestar],
) -> None:
    page = client.get(f"/p/{TENANT}")
    answer = client.post(
        f"/p/{TENANT}/consulta",
        data={"_csrf_token": csrf(page.text), "document": ISABELA},
        follow_redirects=False,
    )
    cookie = _session_cookie(answer)
    assert cookie is not None
    token, max_age = cookie
    lifetime = _claims(token)["exp"] - _claims(token)["iat"]
    assert lifetime == 15 * 60
    # The browser still sends it once the token expired: page one can say so.
    assert max_age >= lifetime + 3600


def test_the_session_slides_while_the_debtor_acts_up_to_two_hours(
    client: TestClient[Litestar],
) -> None:
    # Signed in 10 minutes ago: 5 minutes left. Opening a page gives 15 again.
    _use_session(client, _session_of(10))
    now = dt.datetime.now(dt.UTC).timestamp()
    debts = client.get(f"/p/{TENANT}/dividas")
    assert debts.status_code == 200
    renewed = _session_cookie(debts)
    assert renewed is not None, "a signed-in page extends the session"
    claims = _claims(renewed[0])
    assert claims["exp"] >= now + 15 * 60 - 5
    assert (claims["document"], claims["role"], claims["tenant"]) == (ISABELA, "portal", TENANT)
    assert renewed[1] > 15 * 60  # the cookie outlives it here too
    # The first identification is kept along: 1h55 after it, only 5 minutes are left.
    _use_session(client, _session_of(1, signed_in_minutes_ago=115))
    offers = client.get(f"/p/{TENANT}/negociar?divida=d-old")
    assert offers.status_code == 200
    capped = _session_cookie(offers)
    assert capped is not None
    left = _claims(capped[0])["exp"] - dt.datetime.now(dt.UTC).timestamp()
    assert 4 * 60 < left <= 5 * 60 + 5


def test_a_choice_made_after_the_session_expired_says_so_and_returns_to_the_offers(
    client: TestClient[Litestar], negotiation: Negotiation
) -> None:
    sign_in(client, ISABELA)
    offers = client.get(f"/p/{TENANT}/negociar?divida=d-old")
    (key,) = set(hidden(offers.text, "chave"))
    # 20 minutes later, the token expired: "Efetuar acordo".
    _use_session(client, _session_of(20))
    form = {"_csrf_token": csrf(offers.text), "chave": key, "divida": "d-old", "parcelas": "3"}
    answer = client.post(f"/p/{TENANT}/acordo", data=form, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith(f"/p/{TENANT}?sessao=expirada&voltar=")
    assert agreements_of(negotiation, ISABELA) == []
    page = client.get(answer.headers["location"])
    assert "Sua sessão expirou" in page.text
    assert hidden(page.text, "voltar") == [f"/p/{TENANT}/negociar?divida=d-old"]
    # Identified again, the debtor is back on the same debt's offers (a new key).
    again = client.post(
        f"/p/{TENANT}/consulta",
        data={
            "_csrf_token": csrf(page.text),
            "document": ISABELA,
            "voltar": "/p/acme/negociar?divida=d-old",
        },
        follow_redirects=False,
    )
    assert (again.status_code, again.headers["location"]) == (
        303,
        f"/p/{TENANT}/negociar?divida=d-old",
    )
    back = client.get(again.headers["location"])
    assert ">Efetuar acordo</button>" in back.text and key not in back.text
    # Only a page of this portal is a place to return to.
    for elsewhere in ("https://example.com/", "//example.com", "/p/other/dividas"):
        page = client.get(f"/p/{TENANT}", params={"voltar": elsewhere})
        assert hidden(page.text, "voltar") == []


def test_too_many_lookups_say_so_with_the_wait_in_the_agencys_frame(
    tmp_path: Path, negotiation: Negotiation, gateway: GatewayApplication
) -> None:
    from services.gateway.entrypoints.http.security import install_security

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'read.sqlite'}")
    PortalViewProjection(VAULT).create_tables(engine)
    # The gateway's limits as app.py installs them (5 lookups of a document a minute).
    app = portal_app(
        tmp_path, engine, BusinessClock(TODAY), gateway, negotiation, security=install_security
    )
    with TestClient(app) as client:
        save_profile(client, {"name": "Acme Cobranças"})
        page = client.get(f"/p/{TENANT}")
        answers = [
            client.post(
                f"/p/{TENANT}/consulta",
                data={"_csrf_token": csrf(page.text), "document": ISABELA},
                follow_redirects=False,
            )
            for _ in range(6)
        ]
    engine.dispose()
    assert [a.status_code for a in answers] == [303] * 5 + [429]
    refused = answers[-1]
    assert "Muitas tentativas" in refused.text
    assert "Algo deu errado" not in refused.text
    assert re.search(
        r"Muitas consultas deste documento\. Tente novamente em \d+ segundos\.", refused.text
    )
    assert int(refused.headers["retry-after"]) > 0
    assert '<span class="marca-nome">Acme Cobranças</span>' in refused.text


def _closed(client: TestClient[Litestar], debt: str, installments: str) -> str:
    """The debtor closes `debt` in `installments` on the pages: the agreement page's path."""
    offers = client.get(f"/p/{TENANT}/negociar?divida={debt}")
    form = {
        "_csrf_token": csrf(offers.text),
        "chave": hidden(offers.text, "chave")[0],
        "divida": debt,
        "parcelas": installments,
    }
    closed = client.post(f"/p/{TENANT}/acordo", data=form, follow_redirects=False)
    assert closed.status_code == 303, closed.text
    return str(closed.headers["location"])


def _pay(negotiation: Negotiation, invoice_id: str, cents: int) -> None:
    from contracts.negotiation_requests import PaymentReport

    negotiation.app.record_payment(
        TENANT,
        PaymentReport(invoice_id=invoice_id, amount_cents=cents, paid_on=TODAY),
        "api",
        today=TODAY,
    )


def test_a_paid_installment_offers_no_boleto_to_pay(
    client: TestClient[Litestar], negotiation: Negotiation
) -> None:
    sign_in(client, ISABELA)
    page = _closed(client, "d-old", "3")
    (agreement,) = agreements_of(negotiation, ISABELA)
    first = agreement.invoices[0]
    boleto = f"{page}/boleto/{first.invoice_id}.pdf"
    assert client.get(boleto).content.startswith(b"%PDF")  # payable: the boleto
    _pay(negotiation, first.invoice_id, first.amount_cents)

    paid = client.get(f"{page}?fatura={first.invoice_id}")
    assert "Esta parcela já está paga" in paid.text
    assert "Baixar boleto (PDF)" not in paid.text and 'id="linha-digitavel"' not in paid.text
    assert "Termo de acordo (PDF)" in paid.text
    # A link kept from before gives no payable document either.
    kept = client.get(boleto)
    assert kept.status_code == 409 and kept.headers["content-type"].startswith("text/html")
    assert "Esta parcela já está paga: o boleto não vale mais." in kept.text
    assert f'href="{page}?fatura={first.invoice_id}">Ver a parcela</a>' in kept.text
    # The next one is still to pay, with its boleto.
    assert "Baixar boleto (PDF)" in client.get(page).text


def test_a_debt_already_in_an_agreement_is_said_in_the_debtors_words(
    client: TestClient[Litestar], negotiation: Negotiation
) -> None:
    sign_in(client, ISABELA)
    offers = client.get(f"/p/{TENANT}/negociar?divida=d-old")
    key = hidden(offers.text, "chave")[0]
    form = {"_csrf_token": csrf(offers.text), "chave": key, "divida": "d-old", "parcelas": "3"}
    page = client.post(f"/p/{TENANT}/acordo", data=form, follow_redirects=False).headers["location"]
    (agreement,) = agreements_of(negotiation, ISABELA)

    # Back, and another option of the same page (its key closed the first one): a fresh
    # offers page, which says where the debt stands.
    again = client.post(
        f"/p/{TENANT}/acordo", data={**form, "parcelas": "1"}, follow_redirects=False
    )
    assert (again.status_code, again.headers["location"]) == (
        303,
        f"/p/{TENANT}/negociar?divida=d-old",
    )
    told = client.get(again.headers["location"])
    assert told.status_code == 409
    message = re.search(r'<p role="alert">([^<]*)</p>', told.text)
    assert message is not None
    assert message.group(1) == (
        "Você já fez um acordo para esta dívida com Varejo Bom Preço Ltda (contrato C-d-old "
        "(parcela 1)) em 25/11/2026. Os boletos e o PIX das parcelas estão no acordo."
    )
    assert f'<a class="botao primario" href="{page}">Ver o acordo</a>' in told.text
    assert agreement.agreement_id not in message.group(1)
    assert "idempotência" not in told.text and "chave" not in message.group(1)
    # A new page's key, the same debt: the same words.
    fresh = client.post(
        f"/p/{TENANT}/acordo",
        data={**form, "chave": hidden(offers.text, "chave")[0] + "-2", "parcelas": "1"},
    )
    assert fresh.status_code == 409 and "Você já fez um acordo para esta dívida" in fresh.text
    assert len(agreements_of(negotiation, ISABELA)) == 1


def test_an_offer_with_an_entrada_is_labelled_once_and_counted_after_it() -> None:
    from contracts.negotiation_requests import Offer, ScheduledInstallment
    from services.gateway.entrypoints.web.formatting import installment_label, offer_plan

    amounts = [14_313, 12_004, 12_000, 12_000, 12_000, 12_000]
    schedule = [
        ScheduledInstallment(
            number=n,
            kind="down_payment" if n == 1 else "installment",
            due_date=TODAY + dt.timedelta(days=30 * n),
            amount_cents=amount,
        )
        for n, amount in enumerate(amounts, start=1)
    ]
    offer = Offer(
        condition_id="c-6",
        description="6x",
        installments=6,
        principal_cents=74_317,
        charges_cents=0,
        updated_value_cents=74_317,
        principal_discount_cents=0,
        charges_discount_cents=0,
        discount_cents=0,
        total_cents=sum(amounts),
        down_payment_cents=14_313,
        schedule=schedule,
    )
    plan = re.sub(r"<[^>]+>", "", str(offer_plan(offer)))
    # The plan once, the 2nd payment's centavos shown, not hidden behind "a primeira de".
    assert plan == "Entrada de R$ 143,13 + 1 × R$ 120,04 + 4 × R$ 120,00"
    assert [installment_label(p, schedule) for p in schedule] == [
        "Entrada",
        "1ª",
        "2ª",
        "3ª",
        "4ª",
        "5ª",
    ]
    no_entrada = [p.model_copy(update={"kind": "installment"}) for p in schedule]
    assert [installment_label(p, no_entrada) for p in no_entrada][:2] == ["1ª", "2ª"]


def test_the_pages_label_an_entrada_plan_entrada_then_parcela_1_de_n(
    client: TestClient[Litestar], negotiation: Negotiation
) -> None:
    negotiation.app.save_condition(
        SaveCondition(
            tenant=TENANT,
            terms=PaymentConditionTerms(
                installments=6, charges_discount_pct=Decimal(50), min_down_payment_pct=Decimal(20)
            ),
            saved_by="admin",
        )
    )
    sign_in(client, ISABELA)
    offers = client.get(f"/p/{TENANT}/negociar?divida=d-bank")
    headings = re.findall(r'<h3 id="opcao-\d+">(.*?)</h3>', offers.text)
    plain = [re.sub(r"<[^>]+>", "", h) for h in headings]
    six = next(h for h in plain if h.startswith("Entrada de"))
    assert "parcelas" not in six and six.count("Entrada") == 1
    rows = re.findall(r'<th scope="row">([^<]*)</th>', offers.text)
    assert [r for r in rows if r][-6:] == ["Entrada", "1ª", "2ª", "3ª", "4ª", "5ª"]
    assert "6ª" not in rows

    page = _closed(client, "d-bank", "6")
    (agreement,) = agreements_of(negotiation, ISABELA)
    entrada = client.get(page)
    assert '<h2 id="titulo-fatura">Entrada</h2>' in entrada.text
    assert "Entrada + 5 parcelas" in entrada.text
    second = client.get(f"{page}?fatura={agreement.invoices[1].invoice_id}")
    assert '<h2 id="titulo-fatura">Parcela 1 de 5</h2>' in second.text
    labels = re.findall(r'id="parcela-[^"]+">([^<]+)</th>', second.text)
    assert labels == ["Entrada", "1ª", "2ª", "3ª", "4ª", "5ª"]


def test_money_stays_on_one_line_on_the_pages(client: TestClient[Litestar]) -> None:
    sign_in(client, ISABELA)
    debts = client.get(f"/p/{TENANT}/dividas")
    assert '<span class="dinheiro">R$ 10.524,19</span>' in debts.text
    offers = client.get(f"/p/{TENANT}/negociar?divida=d-old")
    assert '<span class="dinheiro">3 × R$ 3.620,32</span>' in offers.text
    css = client.get("/static/portal.css").text
    assert re.search(r"\.dinheiro\s*\{\s*white-space:\s*nowrap;\s*\}", css)
    from contracts.money import format_brl

    assert format_brl(70_003) == "R$ 700,03"  # CSV, PDF and API texts keep a plain space


def test_a_partly_paid_installment_shows_what_was_paid_and_asks_pix_for_the_balance(
    client: TestClient[Litestar], negotiation: Negotiation
) -> None:
    from services.negotiation.domain.pix import crc16, parse_emv

    sign_in(client, ISABELA)
    page = _closed(client, "d-old", "3")
    (agreement,) = agreements_of(negotiation, ISABELA)
    first = agreement.invoices[0]
    _pay(negotiation, first.invoice_id, 1000)

    html = client.get(page).text
    balance = first.amount_cents - 1000
    assert f'id="valor-pago"><span class="dinheiro">{reais(1000)}</span>' in html
    assert f'id="saldo"><span class="dinheiro">{reais(balance)}</span>' in html
    assert "Em aberto · paga em parte" in html
    shown = re.search(r'id="pix-copia-e-cola">([^<]+)</p>', html)
    assert shown is not None
    code = shown.group(1)
    fields, issued = parse_emv(code), parse_emv(first.pix_code)
    assert fields["54"] == f"{balance // 100}.{balance % 100:02d}"
    assert code[-4:] == crc16(code[:-4])
    # The same receiver and txid: the payment is matched to this invoice.
    assert {k: v for k, v in fields.items() if k not in ("54", "63")} == {
        k: v for k, v in issued.items() if k not in ("54", "63")
    }
    # The boleto has the whole amount: not offered for the balance.
    assert 'id="linha-digitavel"' not in html and "Baixar boleto (PDF)" not in html
    assert "não serve para pagar só o saldo" in html


def test_a_partial_payment_reaches_the_debts_page_and_the_lookup(
    client: TestClient[Litestar],
) -> None:
    """The read model's side: the agreements on page 2 and in the JSON lookup come from the
    portal view, which now reads the partial payment (PaymentReceived, outcome partial)."""
    from tests.unit import test_portal_agreements as agreements
    from tests.unit.test_portal_view_payments import received

    def ours(event: Any) -> Any:
        return event.model_copy(update={"tenant": TENANT, "document": ISABELA})

    closed = ours(agreements.closed("qa", ["d-bank"]))
    with client.app.state.read_engine.begin() as conn:
        PortalViewProjection(VAULT).apply(conn, [closed, ours(received("qa", 1, 1_000, 50_000))])
    sign_in(client, ISABELA)
    page = client.get(f"/p/{TENANT}/dividas")
    assert (
        'Em aberto · pago <span class="dinheiro">R$ 10,00</span> de '
        '<span class="dinheiro">R$ 510,00</span>'
    ) in page.text
    looked = client.post(f"/api/v1/portal/{TENANT}/lookup", json={"document": ISABELA}).json()
    (agreement,) = looked["agreements"]
    assert [i["paid_cents"] for i in agreement["invoices"]] == [1_000, 0]


# ---- the JSON API says what the pages say of a paid or partly paid installment -------------


def _issued_pix(invoice_id: str, cents: int) -> str:
    from services.negotiation.domain.pix import pix_code, txid_for

    return pix_code(
        key="pix@acme.com.br",
        merchant_name="ACME COBRANCAS",
        merchant_city="SAO PAULO",
        amount_cents=cents,
        txid=txid_for(invoice_id),
    )


def _asks_for(code: str, issued: str, cents: int) -> None:
    """`code` is `issued` asking for `cents`: the same receiver and txid, its CRC right."""
    from contracts.brcode import crc16, parse_emv

    fields, first = parse_emv(code), parse_emv(issued)
    assert fields["54"] == f"{cents // 100}.{cents % 100:02d}"
    assert code[-4:] == crc16(code[:-4])
    assert {k: v for k, v in fields.items() if k not in ("54", "63")} == {
        k: v for k, v in first.items() if k not in ("54", "63")
    }


def test_the_lookup_gives_a_partly_paid_invoice_the_pix_of_its_balance_and_a_paid_one_no_boleto(
    client: TestClient[Litestar],
) -> None:
    from contracts.negotiation import InstallmentPaid
    from tests.unit import test_portal_agreements as agreements
    from tests.unit.test_portal_view_payments import received

    def ours(event: Any) -> Any:
        return event.model_copy(update={"tenant": TENANT, "document": ISABELA})

    closed = ours(agreements.closed("qa", ["d-bank"]))
    issued = {i.invoice_id: _issued_pix(i.invoice_id, i.amount_cents) for i in closed.installments}
    closed = closed.model_copy(
        update={
            "installments": [
                i.model_copy(update={"pix_code": issued[i.invoice_id]}) for i in closed.installments
            ]
        }
    )
    paid = InstallmentPaid(
        **{**agreements.env("qa", 2), "tenant": TENANT},
        agreement_id="qa",
        invoice_id="qa-inv-1",
        document=ISABELA,
        creditor="Banco Horizonte",
        installment_number=1,
        due_date=dt.date(2026, 11, 25),
        amount_cents=51_000,
        paid_cents=51_000,
        paid_on=TODAY,
        days_late=0,
        payment_ids=["p1"],
    )
    with client.app.state.read_engine.begin() as conn:
        PortalViewProjection(VAULT).apply(
            conn, [closed, paid, ours(received("qa", 2, 1_000, 50_000))]
        )

    looked = client.post(f"/api/v1/portal/{TENANT}/lookup", json={"document": ISABELA})
    assert looked.status_code == 200, looked.text
    (agreement,) = looked.json()["agreements"]
    first, second = agreement["invoices"]
    # Paid: no boleto to pay (the page offers none either), nothing left.
    assert (first["status"], first["balance_cents"], first["pdf_url"]) == ("paid", 0, None)
    # Partly paid: the PIX asks for the balance, txid kept, the balance said; no boleto's PDF
    # (it carries the whole amount: the negotiation service refuses it, as the page does).
    assert (second["amount_cents"], second["paid_cents"], second["balance_cents"]) == (
        51_000,
        1_000,
        50_000,
    )
    _asks_for(second["pix_code"], issued["qa-inv-2"], 50_000)
    assert second["pdf_url"] is None
    # Nor its line or barcode, with which a bank would charge the whole amount again.
    for invoice in (first, second):
        assert (invoice["digitable_line"], invoice["barcode"]) == (None, None)


def test_the_agreement_api_asks_pix_for_the_balance_and_refuses_a_boleto_that_no_longer_pays(
    client: TestClient[Litestar], negotiation: Negotiation
) -> None:
    looked = client.post(f"/api/v1/portal/{TENANT}/lookup", json={"document": ISABELA}).json()
    portal = {"Authorization": f"Bearer {looked['portal_token']}"}
    closed = client.post(
        f"/api/v1/portal/{TENANT}/agreements",
        json={"debt_ids": ["d-old"], "installments": 3},
        headers={**portal, "Idempotency-Key": "k-api"},
    )
    assert closed.status_code == 201, closed.text
    (agreement,) = agreements_of(negotiation, ISABELA)
    first, second, third = agreement.invoices
    _pay(negotiation, first.invoice_id, first.amount_cents)
    _pay(negotiation, second.invoice_id, 1_000)
    path = f"/api/v1/portal/{TENANT}/agreements/{agreement.agreement_id}"

    shown = client.get(path, headers=portal)
    assert shown.status_code == 200, shown.text
    invoices = shown.json()["invoices"]
    assert [i["status"] for i in invoices] == ["paid", "open", "open"]
    balance = second.amount_cents - 1_000
    assert invoices[1]["balance_cents"] == balance
    _asks_for(invoices[1]["pix_code"], second.pix_code, balance)
    assert [invoices[0]["pix_code"], invoices[2]["pix_code"]] == [None, third.pix_code]

    # The negotiation service refuses the boleto of a paid installment and of a partly paid
    # one (its boleto carries the whole amount), to the portal's token and to staff alike.
    staff = admin(client)
    balance_message = (
        f"parcela paga em parte (R$ 10,00 de {reais(second.amount_cents)}): o boleto tem o "
        "valor integral e não serve para pagar só o saldo; pague os "
        f"{reais(balance)} que faltam com o PIX da parcela"
    )
    for invoice, code, rule, message in (
        (first, "invoice_paid", "paid", "parcela paga: o boleto não serve mais"),
        (second, "invoice_partly_paid", "partly_paid", balance_message),
    ):
        for headers in (portal, staff):
            refused = client.get(f"{path}/invoices/{invoice.invoice_id}.pdf", headers=headers)
            assert refused.status_code == 409, refused.text
            error = refused.json()["error"]
            assert (error["status"], error["code"], error["message"]) == (409, code, message)
            (detail,) = error["details"]
            assert (detail["field"], detail["rule"], detail["message"]) == (
                "invoice",
                rule,
                message,
            )
            assert detail["message_en"].startswith(
                "The installment is paid" if rule == "paid" else "The installment is partly paid"
            )
    # The untouched one still has its boleto, for both.
    for headers in (portal, staff):
        pdf = client.get(f"{path}/invoices/{third.invoice_id}.pdf", headers=headers)
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    # Staff read the payments and the same means to pay as the debtor: the boleto only where
    # it pays its installment, the PIX (for the balance) while anything is left to pay.
    as_staff = client.get(path, headers=staff).json()["invoices"]
    assert as_staff == invoices
    assert [(i["status"], i["paid_cents"]) for i in as_staff] == [
        ("paid", first.amount_cents),
        ("open", 1_000),
        ("open", 0),
    ]
    means = ("digitable_line", "barcode", "pix_code", "pdf_url")
    assert [[i[m] is not None for m in means] for i in as_staff] == [
        [False, False, False, False],  # paid
        [False, False, True, False],  # partly paid: the balance by PIX
        [True, True, True, True],
    ]
    assert (as_staff[2]["digitable_line"], as_staff[2]["pdf_url"]) == (
        third.digitable_line,
        f"{path}/invoices/{third.invoice_id}.pdf",
    )
    assert [i["nosso_numero"] for i in as_staff] == [i.nosso_numero for i in (first, second, third)]


def test_a_kept_boleto_link_of_a_partly_paid_or_broken_agreements_installment_gives_no_pdf(
    client: TestClient[Litestar], negotiation: Negotiation
) -> None:
    """The page's boleto links are answered by the negotiation service's rule: a partly paid
    installment's boleto (the whole amount) and a broken agreement's (cancelled) are pages
    saying why, never the PDF; the JSON API says so to staff too, with its data kept."""
    sign_in(client, ISABELA)
    page = _closed(client, "d-old", "3")
    (agreement,) = agreements_of(negotiation, ISABELA)
    first, second, _ = agreement.invoices
    boleto = f"{page}/boleto/{first.invoice_id}.pdf"
    _pay(negotiation, first.invoice_id, 1_000)

    kept = client.get(boleto)
    assert kept.status_code == 409 and kept.headers["content-type"].startswith("text/html")
    assert "Esta parcela já foi paga em parte, e o boleto tem o valor integral." in kept.text
    assert f'href="{page}?fatura={first.invoice_id}">Ver a parcela</a>' in kept.text

    negotiation.app.run_day(first.due_date + dt.timedelta(days=5))  # the agreement breaks
    cancelled = client.get(f"{page}/boleto/{second.invoice_id}.pdf")
    assert cancelled.status_code == 409
    assert "Esta parcela foi cancelada com o acordo." in cancelled.text
    api = f"/api/v1/portal/{TENANT}/agreements/{agreement.agreement_id}"
    refused = client.get(f"{api}/invoices/{second.invoice_id}.pdf", headers=admin(client))
    assert refused.status_code == 409
    error = refused.json()["error"]
    assert error["code"] == "invoice_cancelled"
    assert [(d["field"], d["rule"]) for d in error["details"]] == [("invoice", "cancelled")]
    assert error["details"][0]["message_en"].startswith("The installment was cancelled")
    looked = client.post(f"/api/v1/portal/{TENANT}/lookup", json={"document": ISABELA}).json()
    portal = {"Authorization": f"Bearer {looked['portal_token']}"}
    for headers in (admin(client), portal):
        shown = client.get(api, headers=headers).json()
        assert (shown["status"], [i["status"] for i in shown["invoices"]]) == (
            "broken",
            ["cancelled", "cancelled", "cancelled"],
        )
        # Nothing in the answer pays a cancelled installment any more.
        assert {
            (i["digitable_line"], i["barcode"], i["pix_code"], i["pdf_url"])
            for i in shown["invoices"]
        } == {(None, None, None, None)}


def test_the_json_apis_portal_token_slides_as_the_pages_session_does(
    tmp_path: Path, negotiation: Negotiation, gateway: GatewayApplication
) -> None:
    from services.gateway.entrypoints.http.security import install_security

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'read.sqlite'}")
    projection = PortalViewProjection(VAULT)
    projection.create_tables(engine)
    with engine.begin() as conn:
        projection.apply(conn, cast(list[Envelope], DEBTS))
    app = portal_app(
        tmp_path, engine, BusinessClock(TODAY), gateway, negotiation, security=install_security
    )
    offers = f"/api/v1/portal/{TENANT}/offers"
    with TestClient(app) as client:
        found = client.post(f"/api/v1/portal/{TENANT}/lookup", json={"document": ISABELA})
        assert "x-portal-token" not in found.headers  # the lookup's answer has it in its body

        # Ten minutes into a 15-minute token: an answer gives 15 again, same debtor.
        now = dt.datetime.now(dt.UTC).timestamp()
        answer = client.get(offers, params={"debt_id": "d-old"}, headers=_bearer(_session_of(10)))
        assert answer.status_code == 200, answer.text
        renewed = _claims(answer.headers["x-portal-token"])
        assert renewed["exp"] >= now + 15 * 60 - 5
        assert (renewed["document"], renewed["role"], renewed["tenant"]) == (
            ISABELA,
            "portal",
            TENANT,
        )
        expires_at = dt.datetime.fromisoformat(answer.headers["x-portal-token-expires-at"])
        assert int(expires_at.timestamp()) == renewed["exp"]
        again = client.get(
            offers,
            params={"debt_id": "d-old"},
            headers=_bearer(answer.headers["x-portal-token"]),
        )
        assert again.status_code == 200

        # Never past two hours after the debtor identified: 1h55 in, 5 minutes are left.
        capped = client.get(
            offers,
            params={"debt_id": "d-old"},
            headers=_bearer(_session_of(1, signed_in_minutes_ago=115)),
        )
        left = _claims(capped.headers["x-portal-token"])["exp"] - now
        assert 4 * 60 < left <= 5 * 60 + 5

        # A refusal renews nothing, nor does a staff token get a debtor's.
        refused = client.get(
            offers, params={"debt_id": "nao-existe"}, headers=_bearer(_session_of(1))
        )
        assert refused.status_code == 404 and "x-portal-token" not in refused.headers
        staff = client.get(offers, params={"debt_id": "d-old"}, headers=admin(client))
        assert staff.status_code == 200 and "x-portal-token" not in staff.headers
    engine.dispose()


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_broken_agreements_unpaid_installments_are_cancelled_with_nothing_to_pay_them(
    client: TestClient[Litestar],
) -> None:
    """QA: after a break the portal still listed the installments 'Vencida' / 'Em aberto' with
    their line, barcode, PIX and a 'Ver boleto e PIX' link: a debtor could pay a cancelled
    installment (cobrança indevida)."""
    from tests.unit import test_portal_agreements as agreements
    from tests.unit.test_read_model_batches import broken, paid

    def ours(event: Any) -> Any:
        return event.model_copy(update={"tenant": TENANT, "document": ISABELA})

    # The first installment paid, the agreement broken on the second.
    closed = ours(agreements.closed("qb", ["d-bank"]))
    paid_first = ours(paid("qb", 1, 2))
    broke = ours(broken("qb", ["d-bank"], 3))
    with client.app.state.read_engine.begin() as conn:
        PortalViewProjection(VAULT).apply(conn, [closed, paid_first, broke])

    looked = client.post(f"/api/v1/portal/{TENANT}/lookup", json={"document": ISABELA})
    (agreement,) = [a for a in looked.json()["agreements"] if a["agreement_id"] == "qb"]
    assert agreement["status"] == "broken"
    was_paid, cancelled = agreement["invoices"]
    assert was_paid["status"] == "paid"
    assert cancelled["status"] == "cancelled"
    assert [cancelled[k] for k in ("pix_code", "digitable_line", "barcode", "pdf_url")] == [
        None
    ] * 4

    sign_in(client, ISABELA)
    page = client.get(f"/p/{TENANT}/dividas")
    assert page.status_code == 200
    card = page.text[page.text.index('id="acordo-qb"') :]
    card = card[: card.index("</article>")]
    assert "Cancelada" in card and "Vencida" not in card and "Em aberto" not in card
    assert "Ver boleto e PIX" not in card


# ---- after a break, what each debt still owes ------------------------------------------------


def test_after_a_break_the_debts_page_shows_the_balance_and_what_was_already_deducted(
    client: TestClient[Litestar],
) -> None:
    """QA (D4): after a broken agreement the debts page showed only "Valor original" while the
    lookup, the offers, the chat and the statement used the reduced balance; a debtor who had
    paid thought the payment lost. Each debt now shows its balance next to the original value,
    and says how much of it was paid and deducted."""
    from tests.unit import test_portal_agreements as agreements
    from tests.unit.test_read_model_batches import broken, paid, reopened

    def ours(event: Any) -> Any:
        return event.model_copy(update={"tenant": TENANT, "document": ISABELA})

    # d-bank (R$ 500,00): an agreement, its first installment paid, broken; R$ 255,00 of the
    # payments shared to d-bank, which comes back owing R$ 245,00.
    events = [
        ours(agreements.closed("qd", ["d-bank"])),
        ours(paid("qd", 1, 2)),
        ours(broken("qd", ["d-bank"], 3)),
        ours(reopened("d-bank", "qd", 2)).model_copy(
            update={"creditor": "Banco Horizonte S.A.", "balance_cents": 24_500}
        ),
    ]
    with client.app.state.read_engine.begin() as conn:
        PortalViewProjection(VAULT).apply(conn, events)

    looked = client.post(f"/api/v1/portal/{TENANT}/lookup", json={"document": ISABELA}).json()
    (bank,) = [d for d in looked["debts"] if d["debt_id"] == "d-bank"]
    assert bank["balance_cents"] == 24_500

    sign_in(client, ISABELA)
    page = client.get(f"/p/{TENANT}/dividas").text
    row = page[page.index('id="divida-d-bank"') :]
    row = row[: row.index("</tr>")]
    assert 'data-label="Valor original" class="numero"><span class="dinheiro">R$ 500,00</span>' in (
        row
    )
    balance = re.search(r'id="saldo-d-bank">(.*?)</td>', row, re.S)
    assert balance is not None
    assert balance.group(1).startswith('<span class="dinheiro">R$ 245,00</span>')
    assert (
        'Já abatido: <span class="dinheiro">R$ 255,00</span> pagos no acordo anterior'
        in balance.group(1)
    )
    # A debt nothing was paid on owes its original value, and says nothing was deducted.
    old = page[page.index('id="divida-d-old"') :]
    old = old[: old.index("</tr>")]
    assert 'id="saldo-d-old"><span class="dinheiro">R$ 10.524,19</span></td>' in old
    assert "Já abatido" not in old
    assert "o valor original menos o que você já pagou" in page
    # Paid through two broken agreements with the creditor: said so.
    from services.gateway.entrypoints.web.pages import deducted_line

    assert deducted_line(25_500, 2) == (
        'Já abatido: <span class="dinheiro">R$ 255,00</span> pagos em acordos anteriores'
    )


# ---- the words of the pages agree (QA D8) ----------------------------------------------------


def test_a_debtor_whose_only_debt_is_in_an_agreement_is_told_it_is_below_not_that_none_was_found(
    client: TestClient[Litestar],
) -> None:
    """QA: with an active agreement and no other debt, the page opened on "Não encontramos
    dívidas para negociar aqui … já foi resolvida ou é negociada por outro canal" above the
    agreement itself."""
    from tests.unit import test_portal_agreements as agreements

    closed = agreements.closed("qw", ["d-wes"]).model_copy(
        update={"tenant": TENANT, "document": WESLEY}
    )
    with client.app.state.read_engine.begin() as conn:
        PortalViewProjection(VAULT).apply(conn, [closed])
    sign_in(client, WESLEY)
    page = client.get(f"/p/{TENANT}/dividas").text
    assert 'id="acordo-qw"' in page
    assert "Não encontramos dívidas" not in page
    assert "negociada por outro canal" not in page
    assert "Não há mais dívidas para negociar" in page
    assert "Seus acordos estão abaixo" in page
    assert page.index("Não há mais dívidas para negociar") < page.index('id="titulo-acordos"')


def test_another_debtors_agreement_is_an_agreement_not_found(
    client: TestClient[Litestar],
) -> None:
    """QA: opening another debtor's agreement answered 404 "Dívida não encontrada"; it is an
    agreement. Still 404, nothing more said (no enumeration)."""
    sign_in(client, ISABELA)
    page = _closed(client, "d-old", "3")
    sign_in(client, WESLEY)
    for path in (page, f"{page}/termo.pdf"):
        other = client.get(path)
        assert other.status_code == 404, path
        assert "Acordo não encontrado" in other.text
        assert "Dívida não encontrada" not in other.text
        assert "Isabela" not in other.text


def test_a_partly_paid_installment_says_so_in_the_table_as_in_its_detail(
    client: TestClient[Litestar], negotiation: Negotiation
) -> None:
    """QA: the detail said "Em aberto · paga em parte", the "Todas as parcelas" row of the same
    installment only "Em aberto"."""
    sign_in(client, ISABELA)
    page = _closed(client, "d-old", "3")
    (agreement,) = agreements_of(negotiation, ISABELA)
    first, second = agreement.invoices[0], agreement.invoices[1]
    _pay(negotiation, first.invoice_id, 1000)

    for shown in (page, f"{page}?fatura={second.invoice_id}"):
        html = client.get(shown).text
        table = html[html.index('id="titulo-parcelas"') :]
        rows = re.findall(r'<td data-label="Situação">([^<]*)</td>', table)
        assert rows == ["Em aberto · paga em parte", "Em aberto", "Em aberto"], shown
    detail = client.get(page).text
    assert "<dd>Em aberto · paga em parte</dd>" in detail


def test_a_debt_the_creditor_withdrew_is_said_so_not_that_it_was_paid(
    client: TestClient[Litestar], negotiation: Negotiation
) -> None:
    # A kept link to the offers of a debt the creditor cancelled since (the negotiation's debts
    # view keeps it as withdrawn, settled 2): refused as withdrawn, in the debtor's words, not
    # "Dívida já quitada" (the debtor paid nothing).
    sign_in(client, ISABELA)
    with negotiation.engine.begin() as conn:
        conn.execute(sa.text("UPDATE negotiable_debts SET settled = 2 WHERE debt_id = 'd-old'"))
    told = client.get(f"/p/{TENANT}/negociar?divida=d-old")
    assert told.status_code == 409
    assert "Dívida retirada da cobrança" in told.text
    assert "O credor retirou esta dívida da cobrança" in told.text
    assert "quitada" not in told.text


def test_an_invoice_that_is_not_of_the_agreement_is_a_parcela_not_found(
    client: TestClient[Litestar],
) -> None:
    """QA pass 8: `?fatura=<another debtor's invoice>` on one's own agreement page showed its
    parcela 1 as if asked for. A 404 now, "Parcela não encontrada", nothing of the other's."""
    sign_in(client, ISABELA)
    page = _closed(client, "d-old", "3")
    own = client.get(page)
    assert own.status_code == 200 and "Parcela 1 de 3" in own.text
    other = client.get(f"{page}?fatura=not-an-invoice-of-this-agreement")
    assert other.status_code == 404
    assert "Parcela não encontrada" in other.text
    assert "Parcela 1 de 3" not in other.text
