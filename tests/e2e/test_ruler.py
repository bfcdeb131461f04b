"""Two months of collection on the whole platform (push routine, Cedrus and EliteSoft seeds):
a ruler moves the debts through its stages day by day on the manual clock, asks the
messaging service for its messages, lists the oldest at the credit bureau, feeds a call
campaign; a debtor settles and leaves the ruler and the bureau."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cobranca.client import GatewayClient, GatewayError
from cobranca.demo_negotiation import DEMO_SETTINGS
from contracts.ruler import MESSAGES_REQUESTED_TOPIC
from tests.support.platform import RunningPlatform, running_platform, wait_for
from tests.support.topics import read_all

pytestmark = pytest.mark.e2e

TENANT = "acme"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

# Debts due around the window this test lives through (25/11/2026 to 03/02/2027).
CARTEIRA = (Path(__file__).resolve().parents[1] / "fixtures" / "carteira-regua.csv").read_bytes()


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    with running_platform(tmp_path_factory.mktemp("ruler"), "tansu") as running:
        yield running


def test_two_months_of_collection(platform: RunningPlatform) -> None:
    admin = platform.client(TENANT, "admin")
    with pytest.raises(GatewayError) as zero:
        admin.create_ruler(
            {"name": "errada", "stages": [{"stage": "notice", "day": 0, "actions": []}]}
        )
    assert zero.value.status == 422
    detail = zero.value.body["error"]["details"][0]
    assert detail["field"] == "stages" and "nenhum cliente" in detail["message"]

    campaign = admin.create_campaign(
        {"name": "Cartão 15+", "categories": ["cartão"], "days_overdue_min": 15}
    )["campaign_id"]
    admin.create_ruler(
        {
            "name": "Padrão",
            "stages": [
                {
                    "stage": "notice",
                    "day": 3,
                    "actions": [{"kind": "message", "channel": "sms", "template": "aviso"}],
                },
                {
                    "stage": "schedule_payment",
                    "day": 20,
                    "actions": [
                        {"kind": "message", "channel": "whatsapp", "template": "agendar"},
                        {"kind": "call_campaign", "campaign_id": campaign},
                    ],
                },
                {"stage": "credit_bureau", "day": 45, "actions": [{"kind": "credit_bureau"}]},
            ],
            "listing_notice_actions": [
                {"kind": "message", "channel": "sms", "template": "aviso_negativacao"}
            ],
            "finalization_actions": [{"kind": "message", "channel": "sms", "template": "quitado"}],
        }
    )
    # The agency's texts, and windows open every day so that the test's wall time never
    # holds a message back (windows are tested on their own).
    with pytest.raises(GatewayError) as unknown:
        admin.save_template("sms", "aviso", {"body": "Olá {{ nome }}, pague {{ saldo }}"})
    assert unknown.value.status == 422 and "saldo" in unknown.value.body["error"]["message"]
    admin.save_template(
        "sms",
        "aviso",
        {"body": "%NomeCliente%, sua fatura de #areceber_valor# venceu.", "legacy": True},
    )
    admin.save_template(
        "whatsapp", "agendar", {"body": "{{ nome }}, vamos agendar? {{ link_portal }}"}
    )
    admin.save_template("sms", "quitado", {"body": "{{ nome }}, obrigado pelo pagamento."})
    admin.save_template(
        "sms",
        "aviso_negativacao",
        {"body": "{{ nome }}, {{ valor }}: negativação a partir de {{ data_negativacao }}."},
    )
    every_day = {"weekdays": [0, 1, 2, 3, 4, 5, 6], "start": "00:00", "end": "24:00"}
    admin.save_messaging_settings({"windows": {"sms": every_day, "whatsapp": every_day}})

    operator = platform.client(TENANT, "operator")
    operator.wait_for_import(operator.upload_carteira(CARTEIRA)["import_id"])
    wait_for(
        lambda: len(platform.anonymous().lookup(TENANT, "52998224725")["debts"]) == 2,
        timeout=60,
        what="the debts in the portal",
    )
    # On 25/11 (a Wednesday) the first business day runs: BH-2 (36 days) enters
    # schedule_payment directly, BH-3 (15 days) and BH-1 (5 days) notice.
    assert str(platform.advance_clock(1)) == "2026-11-26"

    # A listing counts its notice's days from the business day the notice was sent (QA pass
    # 8, N5), and over `clock advance --days 59` the messaging service sends at the clock's
    # latest day: the first messages (two avisos, BH-2's agendar) go out on 26/11 and the
    # ruler reads that they did before the clock moves on.
    def notices_sent() -> int:
        with sqlite3.connect(platform.root / "var" / "ruler" / "state.sqlite", timeout=30) as db:
            return int(db.execute("SELECT COUNT(*) FROM ruler_notice_outcomes").fetchone()[0])

    wait_for(lambda: notices_sent() >= 3, timeout=90, what="the first messages sent on 26/11")
    assert str(platform.advance_clock(59)) == "2027-01-24"
    # Each debt reached negativação during the advance and was asked the notice of the
    # listing (QA pass 9, D3: the stages' avisos and agendar do not tell of it); the messaging
    # service sends them all on 24/01, the clock's latest day: none is listed yet. Ten days
    # after they went out, Wednesday 03/02, all three are.
    wait_for(lambda: notices_sent() >= 8, timeout=90, what="the notices of the listing sent")
    bureau = platform.root / "var" / "ruler" / "bureau"
    assert not any(
        line.startswith("I")
        for f in bureau.glob("remessa-*.txt")
        for line in f.read_text().splitlines()
    )
    assert str(platform.advance_clock(10)) == "2027-02-03"

    def timeline_of(document: str) -> list[dict[str, Any]]:
        return list(operator.timeline(document)["entries"])

    def of_type(kind: str) -> list[dict[str, Any]]:
        return [e for e in timeline_of("52998224725") if e["type"] == kind]

    # João: BH-2 (due 20/10) enters schedule_payment on 26/11 (37 days) and the bureau stage
    # on 04/12; BH-1 (due 20/11) notice on 26/11, schedule_payment on 10/12, bureau on 04/01.
    stages = wait_for(
        lambda: (
            len(s := of_type("StageAdvanced")) >= 5 and len(of_type("DebtorNegativated")) >= 2 and s
        ),
        timeout=90,
        what="João's stages and listings on the timeline",
    )
    assert len(stages) == 5
    assert sum("etapa negativação" in e["summary"] for e in stages) == 2
    assert len(of_type("DebtorNegativated")) == 2

    bureau_files = sorted((platform.root / "var" / "ruler" / "bureau").glob("remessa-*.txt"))
    lines = [line for f in bureau_files for line in f.read_text().splitlines()]
    assert sum(1 for line in lines if line.startswith("I")) == 3
    # Never listed without the notice of the listing sent 10 days before: not on 04/12 (BH-2),
    # 28/12 (Maria's BH-3) or 04/01 (BH-1), the days the ruler asked it, but 10 days after the
    # messaging service sent it.
    listed_on = sorted(
        f.name
        for f in bureau_files
        if any(line.startswith("I") for line in f.read_text().splitlines())
    )
    assert listed_on == ["remessa-20270203.txt"]
    assert all("52998224725" in line or "11144477735" in line for line in lines)

    messages = asyncio.run(read_all(platform.broker.bootstrap, MESSAGES_REQUESTED_TOPIC))
    keys = [m["key"] for m in messages]
    assert len(keys) == len(set(keys)), "no message asked twice"
    # Notices for BH-1 and BH-3; schedule_payment for all three (BH-2 skipped notice); the
    # notice of the listing for all three.
    assert sorted((m["channel"], m["template"]) for m in messages) == [
        ("sms", "aviso"),
        ("sms", "aviso"),
        ("sms", "aviso_negativacao"),
        ("sms", "aviso_negativacao"),
        ("sms", "aviso_negativacao"),
        ("whatsapp", "agendar"),
        ("whatsapp", "agendar"),
        ("whatsapp", "agendar"),
    ]

    outbox = platform.root / "var" / "messaging" / "outbox" / TENANT

    def sent(channel: str) -> list[dict[str, Any]]:
        path = outbox / f"{channel}.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    wait_for(
        lambda: len(sent("sms")) == 5 and len(sent("whatsapp")) == 3,
        timeout=60,
        what="the messages sent to the outbox",
    )
    assert sorted(m["body"] for m in sent("sms") if "fatura" in m["body"]) == [
        "João da Silva, sua fatura de R$ 1.000,00 venceu.",
        "Maria Souza, sua fatura de R$ 2.500,00 venceu.",
    ]
    # Sent on 24/01, said from then: 10 days after.
    notices = [m["body"] for m in sent("sms") if "negativação" in m["body"]]
    assert len(notices) == 3 and all(b.endswith("a partir de 03/02/2027.") for b in notices)
    assert {m["to"] for m in sent("whatsapp")} == {"+5511987654321", "+5521998765432"}
    assert any(e["type"] == "MessageSent" for e in timeline_of("52998224725"))

    calls = operator.call_list(campaign)
    assert [e["document"] for e in calls["entries"]] == ["11144477735", "52998224725"]
    assert calls["entries"][0]["total_cents"] == 250_000
    assert calls["priority"].startswith("maior valor devido primeiro")
    csv = operator.call_list_csv(campaign)
    assert csv.startswith(b"\xef\xbb\xbf") and b";" in csv.splitlines()[0]
    recorded = operator.record_call(
        campaign, {"document": "111.444.777-35", "result": "wrong_number", "note": "não é ela"}
    )
    assert recorded["result"]["removes_from_list"]
    wait_for(
        lambda: [e["document"] for e in operator.call_list(campaign)["entries"]] == ["52998224725"],
        timeout=60,
        what="Maria off the call list",
    )

    # João settles BH-2: a 1x agreement paid in full.
    admin.save_negotiation_settings(DEMO_SETTINGS)  # where the agency is paid
    admin.create_condition({"installments": 1})
    found = platform.anonymous().lookup(TENANT, "52998224725")
    debtor = GatewayClient(platform.base_url, found["portal_token"])
    bh2 = next(d for d in found["debts"] if d["contract"] == "BH-2")
    status, agreement = debtor.close_agreement(TENANT, [bh2["debt_id"]], 1, str(uuid.uuid4()))
    assert status == 201
    platform.client(TENANT, "integration").report_payment(
        {
            "invoice_id": agreement["invoices"][0]["invoice_id"],
            "amount_cents": agreement["total_cents"],
            "paid_on": "2027-02-03",
        }
    )
    removed = wait_for(
        lambda: [e for e in timeline_of("52998224725") if e["type"] == "NegativationRemoved"],
        timeout=60,
        what="BH-2's listing removed",
    )
    assert len(removed) == 1
    lines = [
        line
        for f in sorted((platform.root / "var" / "ruler" / "bureau").glob("remessa-*.txt"))
        for line in f.read_text().splitlines()
    ]
    assert sum(1 for line in lines if line.startswith("E")) == 1
    finals = wait_for(
        lambda: [
            m
            for m in asyncio.run(read_all(platform.broker.bootstrap, MESSAGES_REQUESTED_TOPIC))
            if m["purpose"] == "finalization"
        ],
        timeout=30,
        what="the confirmation message",
    )
    assert [m["template"] for m in finals] == ["quitado"]
    wait_for(lambda: len(sent("sms")) == 6, timeout=60, what="the confirmation sent")
