"""A document link the chatbot or an e-mail sends (/d/<token>) that does not open its
document: a debtor's phone browser gets a page in pt-BR saying why and what to do; any other
client gets the API's error shape naming the link (token) and the rule."""

from __future__ import annotations

import datetime as dt

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from service_runtime.document_links import DocumentRef, sign_link
from tests.unit.test_portal_doors import (  # noqa: F401 (the fixtures, used by name)
    client,
    error_of,
    messaging,
)
from tests.unit.test_portal_pages import ISABELA, KEY, TENANT, negotiation  # noqa: F401

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
