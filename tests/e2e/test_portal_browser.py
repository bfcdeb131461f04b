"""The portal in a real browser (headless Chromium, off the network), as a debtor uses it on a
phone and on a desktop: the document typed with its mask, the eligible debts, the offers with
the crossed-out and suggested values, the agreement closed (a double click gives one), and the
invoice with its linha digitável, barcode, PIX code (copied to the clipboard) and QR code.
Screenshots of each page go to test-artifacts/portal/.

The page contract it relies on (tests/e2e/test_portal_pages.py describes it too): input
#document labelled "CPF ou CNPJ" and a "Continuar" button; a "Negociar" link per debt; an
"Efetuar acordo" button per option; on the invoice page #linha-digitavel, #pix-copia-e-cola,
buttons "Copiar linha digitável" and "Copiar código PIX", the QR code "QR Code PIX", the
barcode "Código de barras", links "Baixar boleto (PDF)" and "Termo de acordo (PDF)"."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cobranca.demo_negotiation import DEMO_SETTINGS
from tests.support.browser import ARTIFACTS, OFFLINE_ARGS, chromium_or_reason
from tests.support.platform import RunningPlatform, running_platform, wait_for

pytestmark = pytest.mark.e2e

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TENANT = "acme"
ISABELA = "57872245825"
SCREENS = ARTIFACTS / "portal"


@pytest.fixture(scope="module")
def chromium() -> str:
    path, reason = chromium_or_reason()
    if path is None:
        pytest.skip(reason)
    return path


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    with running_platform(tmp_path_factory.mktemp("portal-browser"), "tansu") as running:
        admin = running.client(TENANT, "admin")
        admin.save_negotiation_settings(DEMO_SETTINGS)  # where the agency is paid
        admin.create_condition({"installments": 1, "charges_discount_pct": 100})
        admin.create_condition({"installments": 3, "charges_discount_pct": 50})
        operator = running.client(TENANT, "operator")
        operator.wait_for_import(
            operator.upload_carteira((EXAMPLES / "carteira-exemplo.csv").read_bytes())["import_id"]
        )
        wait_for(
            lambda: len(running.anonymous().lookup(TENANT, ISABELA)["debts"]) == 5,
            timeout=60,
            what="Isabela's debts in the portal",
        )
        yield running


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Any]:
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium, headless=True, args=OFFLINE_ARGS
        )
        try:
            yield launched
        finally:
            launched.close()


# Each amount of money on the page, and how many lines the browser laid it out on.
MONEY_LINES = """() => Array.from(document.querySelectorAll('.dinheiro'),
    el => [el.textContent, el.getClientRects().length])"""


def _money_on_one_line(page: Any) -> None:
    """Every amount is there and none is broken between "R$" and the number."""
    laid_out = page.evaluate(MONEY_LINES)
    assert laid_out, "no money marked on the page"
    assert [text for text, lines in laid_out if lines != 1] == []
    assert all(text.startswith(("R$", "Entrada de R$")) or " × R$ " in text for text, _ in laid_out)


def _agreements(platform: RunningPlatform) -> int:
    return len(platform.anonymous().lookup(TENANT, ISABELA)["agreements"])


@pytest.mark.parametrize(
    ("screen", "viewport"),
    [("phone", {"width": 360, "height": 740}), ("desktop", {"width": 1280, "height": 800})],
)
def test_a_debtor_closes_an_agreement_and_copies_the_pix_code(
    platform: RunningPlatform, browser: Any, screen: str, viewport: dict[str, int]
) -> None:
    SCREENS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(
        viewport=viewport,
        locale="pt-BR",
        base_url=platform.base_url,
        permissions=["clipboard-read", "clipboard-write"],
    )
    page = context.new_page()
    try:
        page.goto(f"/p/{TENANT}")
        field = page.get_by_label("CPF ou CNPJ")
        # A wrong check digit is said as the person types.
        field.press_sequentially("57872245800")
        assert page.get_by_role("alert").first.is_visible()
        field.fill("")
        field.press_sequentially(ISABELA)
        assert field.input_value() == "578.722.458-25"  # the mask
        page.screenshot(path=str(SCREENS / f"{screen}-1-documento.png"), full_page=True)
        page.get_by_role("button", name="Continuar").click()

        page.get_by_role("link", name=re.compile("Negociar")).first.wait_for()
        page.screenshot(path=str(SCREENS / f"{screen}-2-debitos.png"), full_page=True)
        _money_on_one_line(page)
        before = _agreements(platform)
        page.get_by_role("link", name=re.compile("Negociar")).first.click()

        close = page.get_by_role("button", name=re.compile("Efetuar acordo")).first
        close.wait_for()
        page.screenshot(path=str(SCREENS / f"{screen}-3-negociacao.png"), full_page=True)
        _money_on_one_line(page)
        close.dblclick()  # a double click: one agreement

        line = page.locator("#linha-digitavel")
        line.wait_for()
        page.screenshot(path=str(SCREENS / f"{screen}-4-boleto.png"), full_page=True)
        _money_on_one_line(page)
        digits = re.sub(r"\D", "", line.inner_text())
        assert len(digits) == 47
        pix = page.locator("#pix-copia-e-cola").inner_text().strip()
        assert pix.startswith("000201")
        page.get_by_role("button", name="Copiar código PIX").click()
        assert page.evaluate("navigator.clipboard.readText()") == pix
        assert page.get_by_label("QR Code PIX").first.is_visible()
        assert page.get_by_label("Código de barras").first.is_visible()
        assert page.get_by_role("link", name="Baixar boleto (PDF)").is_visible()
        assert page.get_by_role("link", name="Termo de acordo (PDF)").is_visible()
        # Nothing overflows sideways on a phone.
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]

        wait_for(
            lambda: _agreements(platform) == before + 1,
            timeout=60,
            what="the agreement in the portal view",
        )
        assert _agreements(platform) == before + 1
    finally:
        context.close()


def test_the_api_docs_render_with_no_way_out(platform: RunningPlatform, browser: Any) -> None:
    """Swagger UI comes from the gateway and reads the OpenAPI 3.1 document Litestar writes:
    the browser here reaches nothing but 127.0.0.1."""
    SCREENS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(base_url=platform.base_url)
    try:
        page = context.new_page()
        for path in ("/schema", "/schema/swagger"):
            page.goto(path)
            page.wait_for_selector(".opblock", timeout=30_000)
            assert page.locator(".opblock").count() > 30
            assert page.get_by_text("Unable to render this definition").count() == 0
            assert page.get_by_text("/api/v1/carteiras").count() >= 1
        page.screenshot(path=str(SCREENS / "api-docs.png"), full_page=False)
    finally:
        context.close()
