"""A debtor negotiates on the portal, pays, and lives through the collection calendar, on the
whole platform (separate processes, a real broker): the Recuperador portal seed's flow from
the lookup to the boleto, the bank's payment, and an installment going overdue."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cobranca.client import GatewayClient, GatewayError
from cobranca.demo_negotiation import DEMO_SETTINGS
from services.negotiation.adapters.cnab240 import ReturnPayment, write_cnab240_return
from tests.support.platform import (
    RunningPlatform,
    fresh_postgres_database,
    postgres_unavailable_reason,
    running_platform,
    wait_for,
)

pytestmark = pytest.mark.e2e

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TENANT = "acme"
ISABELA = "578.722.458-25"


@pytest.fixture(scope="module", params=["tansu-sqlite", "tansu-postgres"])
def platform(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningPlatform]:
    broker_kind, store = request.param.split("-")
    root = tmp_path_factory.mktemp(f"negotiation-{request.param}")
    if store == "postgres":
        reason = postgres_unavailable_reason()
        if reason:
            pytest.skip(reason)
        with fresh_postgres_database() as url, running_platform(root, broker_kind, url) as running:
            yield running
    else:
        with running_platform(root, broker_kind) as running:
            yield running


def portal(platform: RunningPlatform, token: str) -> GatewayClient:
    return GatewayClient(platform.base_url, token)


def test_a_debtor_closes_an_agreement_pays_it_and_an_installment_goes_overdue(
    platform: RunningPlatform,
) -> None:
    admin = platform.client(TENANT, "admin")
    # The agency's portal discounts: à vista with all charges off, 3x with half off.
    with pytest.raises(GatewayError) as bad:
        admin.create_condition({"installments": 1, "principal_discount_pct": 120})
    assert bad.value.status == 422
    assert bad.value.body["error"]["details"][0]["field"].endswith("principal_discount_pct")
    admin.save_negotiation_settings(DEMO_SETTINGS)  # where the agency is paid
    admin.create_condition(
        {"installments": 1, "charges_discount_pct": 100, "description": "À vista"}
    )
    admin.create_condition({"installments": 3, "charges_discount_pct": 50})
    assert [c["terms"]["installments"] for c in admin.conditions()] == [1, 3]

    operator = platform.client(TENANT, "operator")
    operator.wait_for_import(
        operator.upload_carteira((EXAMPLES / "carteira-exemplo.csv").read_bytes())["import_id"]
    )
    found = wait_for(
        lambda: len((f := platform.anonymous().lookup(TENANT, ISABELA))["debts"]) == 5 and f,
        timeout=60,
        what="Isabela's five debts in the portal",
    )
    debtor = portal(platform, found["portal_token"])
    debt = found["debts"][0]
    assert (debt["installment"], debt["days_overdue"]) == ("2", 132)

    offers = wait_for(
        lambda: _offers(debtor, [debt["debt_id"]]), timeout=60, what="offers for the debt"
    )
    # R$ 10.524,19 due 16/07/2026, 132 days late on 25/11/2026: multa 2% = 210,48,
    # juros 1% x 132/30 = 463,06 -> updated 11.197,73 (crossed out).
    assert offers["updated_value_cents"] == 1_119_773
    assert offers["suggested_value_cents"] == 1_052_419  # à vista, charges waived
    three = offers["offers"][1]
    assert three["total_cents"] == 1_086_096
    assert [p["amount_cents"] for p in three["schedule"]] == [362_032] * 3
    assert [p["due_date"] for p in three["schedule"]] == [
        "2026-11-25",
        "2026-12-28",  # 25/12 is Christmas (a Friday): next business day
        "2027-01-25",
    ]

    # A double click: two requests with the same key at once give one agreement.
    key = str(uuid.uuid4())
    answers: list[tuple[int, dict[str, Any]]] = []

    def close() -> None:
        answers.append(debtor.close_agreement(TENANT, [debt["debt_id"]], 3, key))

    clicks = [threading.Thread(target=close) for _ in range(2)]
    for click in clicks:
        click.start()
    for click in clicks:
        click.join(60)
    assert sorted(status for status, _ in answers) == [200, 201]
    assert len({body["agreement_id"] for _, body in answers}) == 1
    agreement = answers[0][1]
    with pytest.raises(GatewayError) as taken:
        debtor.close_agreement(TENANT, [debt["debt_id"]], 1, str(uuid.uuid4()))
    assert taken.value.status == 409

    first, second, _third = agreement["invoices"]
    assert len(first["digitable_line"]) == 47 and first["pix_code"].startswith("000201")
    base = f"/api/v1/portal/{TENANT}/agreements/{agreement['agreement_id']}"
    assert debtor.pdf(f"{base}/invoices/{first['invoice_id']}.pdf").startswith(b"%PDF")
    assert debtor.pdf(f"{base}/term.pdf").startswith(b"%PDF")

    # Looking up again: the debt left the negotiable list; the agreement is listed.
    again = wait_for(
        lambda: (f := platform.anonymous().lookup(TENANT, ISABELA))["agreements"] and f,
        timeout=60,
        what="the agreement in the portal view",
    )
    assert debt["debt_id"] not in [d["debt_id"] for d in again["debts"]]
    assert again["agreements"][0]["invoices"][0]["digitable_line"] == first["digitable_line"]

    bank = platform.client(TENANT, "integration")
    paid = bank.report_payment(
        {"invoice_id": first["invoice_id"], "amount_cents": 362_032, "paid_on": "2026-11-25"}
    )
    assert (paid["outcome"], paid["duplicate"]) == ("paid", False)
    assert bank.report_payment(
        {"invoice_id": first["invoice_id"], "amount_cents": 362_032, "paid_on": "2026-11-25"}
    )["duplicate"]

    # 34 days later (29/12/2026, a Tuesday) the second invoice is a day overdue.
    assert str(platform.advance_clock(34)) == "2026-12-29"
    state = wait_for(
        lambda: (
            (a := debtor.agreement(TENANT, agreement["agreement_id"]))["invoices"][1]["status"]
            == "overdue"
            and a
        ),
        timeout=60,
        what="the second invoice overdue",
    )
    assert state["status"] == "active"

    # The bank's return file pays it.
    returned = write_cnab240_return(
        bank_code="237",
        company_name="ACME COBRANCA",
        generated_on=platform.business_date(),
        payments=[
            ReturnPayment(
                nosso_numero=second["nosso_numero"],
                amount_cents=362_032,
                paid_cents=362_032,
                due_date=platform.business_date(),
                paid_on=platform.business_date(),
            )
        ],
    )
    result = bank.upload_cnab240(returned.encode("latin-1"), "retorno.ret")
    assert [p["outcome"] for p in result["payments"]] == ["paid"]

    wanted = {"AgreementClosed", "InstallmentPaid", "InvoiceOverdue", "PaymentReceived"}

    def story() -> list[dict[str, Any]] | None:
        entries: list[dict[str, Any]] = operator.timeline(ISABELA)["entries"]
        types = [e["type"] for e in entries]
        return entries if wanted <= set(types) and types.count("InstallmentPaid") == 2 else None

    timeline = wait_for(story, timeout=60, what="the agreement's story on the timeline")
    closed = next(e for e in timeline if e["type"] == "AgreementClosed")
    assert "em 3 parcelas" in closed["summary"] and closed["service"] == "negotiation"
    overdue = next(e for e in timeline if e["type"] == "InvoiceOverdue")
    assert "Parcela 2 de 3 em atraso há 1 dia(s)" in overdue["summary"]


def _offers(client: GatewayClient, debt_ids: list[str]) -> dict[str, Any] | None:
    try:
        return client.offers(TENANT, debt_ids)
    except GatewayError as exc:
        # The negotiation service's copy of the debts may be a moment behind the portal's.
        if exc.status == 404:
            return None
        raise


DAMASCENO = "33.218.196/0001-44"
DAMASCENO_PHONE = "+5581984134557"


def test_a_debtor_negotiates_on_whatsapp_and_is_handed_to_an_operator(
    platform: RunningPlatform,
) -> None:
    """The Cedrus WhatsApp chatbot seed: the provider posts the debtor's messages, the bot
    answers through the negotiation service, files go as links, and an operator takes over."""
    if platform.database_url:
        pytest.skip("the chatbot's path does not depend on the store: it runs once, on SQLite")
    admin = platform.client(TENANT, "admin")
    if not admin.conditions():
        admin.save_negotiation_settings(DEMO_SETTINGS)  # where the agency is paid
        admin.create_condition({"installments": 1, "charges_discount_pct": 100})
    operator = platform.client(TENANT, "operator")
    operator.wait_for_import(
        operator.upload_carteira((EXAMPLES / "carteira-exemplo.csv").read_bytes())["import_id"]
    )
    found = wait_for(
        lambda: (f := platform.anonymous().lookup(TENANT, DAMASCENO))["debts"] and f,
        timeout=60,
        what="Damasceno's debt in the portal",
    )
    # The negotiation service's copy of the debts (what the bot asks) is there too.
    wait_for(
        lambda: _offers(portal(platform, found["portal_token"]), [found["debts"][0]["debt_id"]]),
        timeout=60,
        what="offers for Damasceno",
    )
    provider = platform.client(TENANT, "integration")
    sequence = iter(range(1, 100))

    def say(text: str) -> dict[str, Any]:
        return provider.whatsapp_inbound(
            {"from": DAMASCENO_PHONE, "text": text, "message_id": f"wamid.{next(sequence)}"}
        )

    def texts(reply: dict[str, Any]) -> str:
        return "\n".join(r["text"] for r in reply["replies"])

    group = provider.whatsapp_inbound({"from": "120363041234@g.us", "text": "oi", "group": True})
    assert (group["conversation_id"], group["replies"]) == (None, [])
    with pytest.raises(GatewayError) as malformed:
        provider.whatsapp_inbound({"from": DAMASCENO_PHONE})
    assert malformed.value.status == 400 or malformed.value.status == 422
    with pytest.raises(GatewayError) as oversize:
        provider.whatsapp_inbound({"from": DAMASCENO_PHONE, "text": "x" * 5000})
    assert oversize.value.status in (400, 422)

    assert "CPF ou CNPJ" in texts(say("Boa tarde"))
    menu = say("33218196000144")
    # A company (Damasceno Comércio de Alimentos EPP) is greeted by no word of its name.
    assert "Olá! Encontramos 1 débito em aberto" in texts(menu)
    conversation_id = menu["conversation_id"]
    assert "1 - À vista" in texts(say("4"))
    assert texts(say("1")).startswith("Confirma o acordo")
    closed = say("1")
    assert "Acordo fechado!" in texts(closed)
    links = {link["kind"]: link["url"] for r in closed["replies"] for link in r["links"]}
    anonymous = platform.anonymous()
    for kind in ("boleto", "term"):
        path = links[kind].split("127.0.0.1", 1)[1].split("/", 1)[1]
        assert anonymous.pdf("/" + path).startswith(b"%PDF"), kind
    with pytest.raises(GatewayError) as forged:
        anonymous.pdf("/d/" + "x" * 40)
    assert forged.value.status == 404

    waiting = say("6")
    assert waiting["status"] == "waiting_operator"
    desk = operator.set_available(True)
    assert conversation_id in desk["conversations"]
    listed = wait_for(
        lambda: operator.conversations(status="with_operator", operator="operator@acme"),
        timeout=60,
        what="the conversation on the supervisor's list",
    )
    assert listed[0]["conversation_id"] == conversation_id
    assert listed[0]["document"] == "33218196000144"
    operator.send_in_conversation(conversation_id, "Olá, sou a atendente Ana.")
    # A transfer goes to an operator the desk knows: the supervisor comes to it (busy).
    admin.set_available(False)
    operator.transfer_conversation(conversation_id, "admin@acme")
    ended = admin.close_conversation(conversation_id)
    assert ended["status"] == "closed"
    assert [e["sender"] for e in ended["entries"]][-1] == "operator"

    outbox = platform.root / "var" / "messaging" / "outbox" / TENANT / "whatsapp.jsonl"
    wait_for(
        lambda: outbox.exists() and "Olá, sou a atendente Ana." in outbox.read_text(),
        timeout=60,
        what="the replies sent on WhatsApp",
    )

    def story() -> list[str] | None:
        entries = operator.timeline("33218196000144")["entries"]
        summaries = [e["summary"] for e in entries]
        wanted = ("Devedor identificado", "Conversa transferida", "Conversa encerrada")
        return summaries if all(any(w in s for s in summaries) for w in wanted) else None

    timeline = wait_for(story, timeout=60, what="the conversation on the timeline")
    assert any("Acordo fechado pelo chatbot" in s for s in timeline)

    # The web chat runs the same bot; unknown conversations are refused.
    web = anonymous.chat(TENANT, "oi")
    assert web["conversation_id"] and "CPF ou CNPJ" in texts(web)
    with pytest.raises(GatewayError) as unknown:
        anonymous.chat(TENANT, "oi", str(uuid.uuid4()))
    assert unknown.value.status == 404
