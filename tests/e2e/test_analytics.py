"""FPD on the real platform (separate processes, a real broker, the manual business clock): a
carteira, two agreements, one first installment paid, the clock past the due dates; the
figure replayed from the topics (`analytics`, and `cobranca analytics` as a person runs it)
equals the hand-computed one and the API's, served from the gateway's projection."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from analytics import indicators, reports
from analytics.facts import Facts
from analytics.frames import load_facts
from cobranca.client import GatewayClient, GatewayError
from cobranca.demo_negotiation import DEMO_SETTINGS
from tests.support.platform import RunningPlatform, running_platform, wait_for

pytestmark = pytest.mark.e2e

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TENANT = "fpd"
ISABELA = "578.722.458-25"
DAMASCENO = "33.218.196/0001-44"
CLOSED_ON = dt.date(2026, 11, 25)  # tests.support.platform.TEST_TODAY


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    with running_platform(tmp_path_factory.mktemp("analytics"), "tansu") as running:
        yield running


def _offers(client: GatewayClient, debt_id: str) -> dict[str, Any] | None:
    try:
        return client.offers(TENANT, [debt_id])
    except GatewayError as exc:
        if exc.status == 404:  # the negotiation service's copy of the debt is a moment behind
            return None
        raise


def _debt(platform: RunningPlatform, document: str, count: int) -> dict[str, Any]:
    found: dict[str, Any] = wait_for(
        lambda: len((f := platform.anonymous().lookup(TENANT, document))["debts"]) == count and f,
        timeout=60,
        what=f"{document}'s debts in the portal",
    )
    return found


def _replayed(platform: RunningPlatform) -> Facts:
    return load_facts(platform.broker.bootstrap, tenant=TENANT)


def test_fpd_replayed_from_the_topics_equals_the_hand_count_and_the_api(
    platform: RunningPlatform,
) -> None:
    admin = platform.client(TENANT, "admin")
    admin.save_negotiation_settings(DEMO_SETTINGS)  # where the agency is paid
    admin.create_condition({"installments": 1, "charges_discount_pct": 100})
    admin.create_condition({"installments": 3, "charges_discount_pct": 50})
    operator = platform.client(TENANT, "operator")
    import_id = operator.upload_carteira(
        (EXAMPLES / "carteira-exemplo.csv").read_bytes(), filename="carteira-exemplo.csv"
    )["import_id"]
    operator.wait_for_import(import_id)

    # Isabela closes on the portal, in 3 installments, the first due today.
    isabela = _debt(platform, ISABELA, 5)
    debtor = GatewayClient(platform.base_url, isabela["portal_token"])
    isabela_debt = isabela["debts"][0]["debt_id"]
    wait_for(lambda: _offers(debtor, isabela_debt), timeout=60, what="offers for Isabela")
    _, portal_agreement = debtor.close_agreement(TENANT, [isabela_debt], 3, str(uuid.uuid4()))
    # An operator closes à vista for Damasceno, also due today.
    damasceno_debt = _debt(platform, DAMASCENO, 1)["debts"][0]["debt_id"]
    wait_for(lambda: _offers(operator, damasceno_debt), timeout=60, what="offers for Damasceno")
    _, operator_agreement = operator.close_agreement(TENANT, [damasceno_debt], 1, str(uuid.uuid4()))
    first = portal_agreement["invoices"][0]
    assert (portal_agreement["channel"], operator_agreement["channel"]) == ("portal", "operator")
    assert first["due_date"] == operator_agreement["invoices"][0]["due_date"] == "2026-11-25"

    # The bank pays Isabela's first installment on its due date; Damasceno never pays.
    bank = platform.client(TENANT, "integration")
    paid = bank.report_payment(
        {"invoice_id": first["invoice_id"], "amount_cents": first["amount_cents"],
         "paid_on": "2026-11-25"}
    )  # fmt: skip
    assert paid["outcome"] == "paid"
    # Six days on (01/12): both first due dates are past; Damasceno's is 6 days late.
    today = platform.advance_clock(6)
    assert today == dt.date(2026, 12, 1)

    # Replay until the topics hold the whole story (the services publish as they go).
    facts = wait_for(
        lambda: (
            (f := _replayed(platform)).latest_day == today
            and len(f.agreements) == 2
            and len(f.installments_paid) == 1
            and len(f.breaks) == 1
            and f
        ),
        timeout=90,
        what="the agreements, the payment and the break in the topics",
    )
    # Placed on the business date the clock said (25/11/2026), whatever the wall clock says.
    placed = {p.debt_id: p for p in facts.placements}
    assert placed[isabela_debt].placed_on == CLOSED_ON
    assert placed[isabela_debt].aging_bucket == "91-180"  # due 16/07/2026: 132 days

    # By hand: two mature agreements (the day 25/11 is over: before 01/12); Damasceno's first
    # installment is unpaid, Isabela's was paid on its due date: FPD-0 = 1/2.
    (total,) = indicators.fpd(facts, k=0, as_of=today)
    assert (total.agreements, total.defaulted, total.rate) == (2, 1, indicators.rate(1, 2))
    (five,) = indicators.fpd(facts, k=5, as_of=today)  # 25/11 + 5 = 30/11, over: 1 of 2
    assert (five.agreements, five.defaulted) == (2, 1)
    (thirty,) = indicators.fpd(facts, k=30, as_of=today)  # not mature yet
    assert (thirty.agreements, thirty.defaulted, thirty.rate) == (0, 0, None)
    replayed = reports.fpd_report(facts, k=0, as_of=today, by=["channel"], tenant=TENANT)
    assert replayed.model_dump(mode="json")["rows"] == [
        {"cuts": {"channel": "operator"}, "agreements": 1, "defaulted": 1, "rate": 1.0},
        {"cuts": {"channel": "portal"}, "agreements": 1, "defaulted": 0, "rate": 0.0},
    ]

    # `cobranca analytics fpd` as an analyst runs it: as-of is the clock's date.
    cli = subprocess.run(
        [sys.executable, "-m", "cobranca", "analytics", "fpd", "--by", "channel",
         "--format", "json", "--tenant", TENANT],
        env=platform.platform.service_env(),
        capture_output=True,
        text=True,
        timeout=180,
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    assert json.loads(cli.stdout) == replayed.model_dump(mode="json")

    # The API, from the gateway's projection, once it has caught up.
    analyst = platform.client(TENANT, "analyst")

    def api(indicator: str, **params: Any) -> Any:
        response = analyst.http.get(f"/api/v1/analytics/{indicator}", params=params)
        assert response.status_code == 200, response.text
        return response.json()

    wait_for(
        lambda: api("fpd", by="channel", grace_days=0) == replayed.model_dump(mode="json"),
        timeout=60,
        what="the API's FPD-0 by channel to equal the replayed one",
    )
    assert api("fpd")["rows"] == [{"cuts": {}, "agreements": 2, "defaulted": 1, "rate": 0.5}]
    # The other figures agree too: one of two agreements broken, the money paid received.
    recovery = reports.recovery_report(facts, as_of=today, tenant=TENANT).model_dump(mode="json")
    assert recovery["rows"][0]["received_cents"] == first["amount_cents"]
    wait_for(lambda: api("recovery") == recovery, timeout=60, what="the API's recovery")
    agreed = api("agreements", by="channel")
    assert [(r["cuts"]["channel"], r["agreements"], r["broken"]) for r in agreed["rows"]] == [
        ("operator", 1, 1),
        ("portal", 1, 0),
    ]
    # FPD-6 judges 25/11 + 6 = 01/12 once today is over: not yet.
    assert api("fpd", grace_days=6)["rows"] == [
        {"cuts": {}, "agreements": 0, "defaulted": 0, "rate": None}
    ]
    # Every curve day asked for is answered, those no debt has reached with nothing counted.
    curve = api("recovery", curve_days=[0, 30])["curve"]
    assert [(c["days"], c["debts"] > 0, c["rate"] is None) for c in curve] == [
        (0, True, False),
        (30, False, True),
    ]
    # The carteira cut names the file, read from the imports' topic, in the API as replayed.
    assert facts.carteira_names() == {import_id: "carteira-exemplo.csv"}
    wait_for(
        lambda: api("fpd", by="carteira")["carteiras"] == {import_id: "carteira-exemplo.csv"},
        timeout=60,
        what="the carteira's file name in the API",
    )
    # A day that has not come has no figures: the API and the command refuse it.
    future = analyst.http.get("/api/v1/analytics/fpd", params={"grace_days": 5,
                                                                "as_of": "2027-12-31"})  # fmt: skip
    assert future.status_code == 422
    assert (future.json()["error"]["details"][0]["field"],
            future.json()["error"]["details"][0]["rule"]) == ("as_of", "not_in_future")  # fmt: skip
    refused = subprocess.run(
        [sys.executable, "-m", "cobranca", "analytics", "fpd", "--as-of", "2027-12-31",
         "--tenant", TENANT],
        env=platform.platform.service_env(),
        capture_output=True,
        text=True,
        timeout=180,
    )  # fmt: skip
    assert refused.returncode == 2
    assert "hoje, pelo relógio de negócio, é 01/12/2026" in " ".join(refused.stderr.split())

    # QA pass 9, D1: Damasceno pays his broken agreement's boleto, already printed. The
    # agreement deducts it from his debt, back in collection (AgreementPaymentShared): money
    # received, which the gateway's projection applies too (it stopped at such a payment).
    late = bank.report_payment(
        {"invoice_id": operator_agreement["invoices"][0]["invoice_id"],
         "amount_cents": 10_000, "paid_on": today.isoformat()}
    )  # fmt: skip
    assert late["outcome"] == "excess"
    deducted = wait_for(
        lambda: len((f := _replayed(platform)).deductions) == 1 and f,
        timeout=90,
        what="the deduction in the topics",
    )
    recovered = reports.recovery_report(deducted, as_of=today, tenant=TENANT)
    assert recovered.rows[0].received_cents == first["amount_cents"] + 10_000
    wait_for(
        lambda: api("recovery") == recovered.model_dump(mode="json"),
        timeout=60,
        what="the API's recovery to count the deducted payment",
    )
    assert api("agreements") == reports.agreements_report(
        deducted, as_of=today, tenant=TENANT
    ).model_dump(mode="json")
    # The projection is not stuck: readiness has no warning about it.
    ready = analyst.http.get("/health/ready").json()
    assert [w for w in ready.get("warnings", []) if w["rule"] == "projection_failing"] == []
