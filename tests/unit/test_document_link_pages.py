"""A document link the chatbot or an e-mail sends (/d/<token>) that does not open its
document: a debtor's phone browser gets a page in pt-BR saying why and what to do; any other
client gets the API's error shape naming the link (token) and the rule."""

from __future__ import annotations

import datetime as dt

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from contracts.negotiation_requests import CloseAgreement, PaymentReport
from service_runtime.document_links import DocumentRef, sign_link
from tests.unit.test_negotiation_app import Negotiation
from tests.unit.test_portal_doors import (  # noqa: F401 (the fixtures, used by name)
    client,
    error_of,
    messaging,
)
from tests.unit.test_portal_pages import (  # noqa: F401 (negotiation: the fixture)
    ISABELA,
    KEY,
    TENANT,
    TODAY,
    negotiation,
)

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def _link(now: dt.datetime, ttl: dt.timedelta = dt.timedelta(days=7)) -> str:
    ref = DocumentRef(tenant=TENANT, document=ISABELA, kind="statement")
    return sign_link(KEY, ref, now, ttl)


def test_a_browser_opening_a_bad_document_link_gets_a_page_in_portuguese(
    client: TestClient[Litestar],  # noqa: F811 (the fixture imported above)
) -> None:
    expired = _link(dt.datetime.now(dt.UTC) - dt.timedelta(days=8))
    for token, title, text in (
        ("x" * 40, "Link inválido", "Este link não é válido."),
        (expired, "Link expirado", "Este link expirou."),
    ):
        page = client.get(f"/d/{token}", headers={"Accept": BROWSER})
        assert page.status_code == 404
        assert page.headers["content-type"].startswith("text/html")
        assert '<html lang="pt-BR">' in page.text
        assert f">{title}</h1>" in page.text
        assert text in page.text
        assert '"error"' not in page.text
        assert page.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("accept", [None, "application/json", "*/*"])
def test_any_other_client_gets_the_error_shape_naming_the_link(
    client: TestClient[Litestar],  # noqa: F811 (the fixture imported above)
    accept: str | None,
) -> None:
    expired = _link(dt.datetime.now(dt.UTC) - dt.timedelta(days=8))
    headers = {"Accept": accept} if accept else {}

    bad = client.get("/d/" + "x" * 40, headers=headers)
    late = client.get(f"/d/{expired}", headers=headers)

    assert error_of(bad) == (404, "link inválido", [("token", "link_invalid", "link inválido")])
    assert error_of(late)[2][0][:2] == ("token", "link_expired")
    assert late.json()["error"]["code"] == "not_found"


def test_a_good_link_still_opens_its_pdf_in_a_browser(
    client: TestClient[Litestar],  # noqa: F811 (the fixture imported above)
) -> None:
    pdf = client.get(f"/d/{_link(dt.datetime.now(dt.UTC))}", headers={"Accept": BROWSER})
    assert pdf.status_code == 200, pdf.text
    assert pdf.content.startswith(b"%PDF")


def test_a_boleto_sent_before_its_installment_was_paid_no_longer_opens(
    client: TestClient[Litestar],  # noqa: F811 (the fixture imported above)
    negotiation: Negotiation,  # noqa: F811 (the fixture imported above)
) -> None:
    """QA: the chat's boleto link (7 days) still opened the whole amount's boleto after the
    installment was paid, or paid in part. The negotiation service withholds it now: a page
    saying why for the debtor's phone, the API's error shape for any other client."""
    agreement = negotiation.app.close_agreement(
        CloseAgreement(
            tenant=TENANT,
            document=ISABELA,
            debt_ids=["d-bank"],
            installments=3,
            channel="chatbot",
            idempotency_key="chat-link",
        ),
        TODAY,
    )
    first, second, third = agreement.invoices
    now = dt.datetime.now(dt.UTC)
    links = {
        i.invoice_id: sign_link(
            KEY,
            DocumentRef(
                tenant=TENANT,
                document=ISABELA,
                kind="boleto",
                agreement_id=agreement.agreement_id,
                invoice_id=i.invoice_id,
            ),
            now,
        )
        for i in agreement.invoices
    }
    for invoice in agreement.invoices:
        assert client.get(f"/d/{links[invoice.invoice_id]}").content.startswith(b"%PDF")
    for invoice_id, cents in ((first.invoice_id, first.amount_cents), (second.invoice_id, 1_000)):
        negotiation.app.record_payment(
            TENANT,
            PaymentReport(invoice_id=invoice_id, amount_cents=cents, paid_on=TODAY),
            "api",
            today=TODAY,
        )

    for invoice, title, text, rule in (
        (first, "Parcela paga", "Esta parcela já está paga: o boleto não vale mais.", "paid"),
        (
            second,
            "Boleto indisponível",
            "Esta parcela já foi paga em parte, e o boleto tem o valor integral. Pague o saldo "
            "com o PIX da parcela.",
            "partly_paid",
        ),
    ):
        token = links[invoice.invoice_id]
        page = client.get(f"/d/{token}", headers={"Accept": BROWSER})
        assert page.status_code == 409
        assert page.headers["content-type"].startswith("text/html")
        assert f">{title}</h1>" in page.text and text in page.text
        status, _, details = error_of(client.get(f"/d/{token}"))
        assert (status, [d[:2] for d in details]) == (409, [("invoice", rule)])
    # The one nothing was paid of still opens.
    assert client.get(f"/d/{links[third.invoice_id]}").content.startswith(b"%PDF")
