"""A debtor's personal data erased on request (LGPD), on the whole platform: a carteira is
imported and the debtor's name, e-mail and phone show in the portal, the call list and the
timeline; an admin erases them; every read model shows them removed; a replay of the gateway's
projections from offset zero brings nothing back; and no topic but the carteira's inbox holds
them in clear.

The refusals of the endpoint (another role, a bad document, an unknown one) are checked on the
same platform."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, TopicPartition

from cobranca.client import GatewayError
from contracts.carteiras import INBOUND_TOPIC
from contracts.topics import TOPICS
from service_runtime.database import engine_from_url, service_engine
from service_runtime.kafka import partitions_of
from service_runtime.personal_data import REMOVED
from tests.support.platform import RunningPlatform, running_platform, wait_for

pytestmark = pytest.mark.e2e

TENANT = "lgpd"
ZELIA = "52998224725"  # erased
OTAVIO = "11144477735"  # kept
NAME = "Zélia Quintanilha Baptista"
SURNAME = "Quintanilha"  # ASCII: found whether the JSON escapes the accent or not
EMAIL = "zelia.quintanilha@exemplo.com.br"
PHONE = "(11) 97531-8642"
PHONE_DIGITS = "975318642"
CITY = "Itapecerica da Serra"
OTAVIO_NAME = "Otávio Kept Mendonça"
CREDITOR = "Banco Horizonte S.A."
CARTEIRA = "\n".join(
    [
        "documento;nome;credor;contrato;parcela;valor_original;vencimento;email;telefone;"
        "cidade;uf;categoria",
        f"529.982.247-25;{NAME};{CREDITOR};LGPD-0001;1;1500,00;10/09/2026;{EMAIL};{PHONE};"
        f"{CITY};SP;cartão",
        f"529.982.247-25;{NAME};{CREDITOR};LGPD-0002;1;820,50;10/10/2026;{EMAIL};{PHONE};"
        f"{CITY};SP;cartão",
        f"111.444.777-35;{OTAVIO_NAME};{CREDITOR};LGPD-0003;1;2300,00;05/09/2026;"
        "otavio@exemplo.com.br;(21) 99876-1234;Niterói;RJ;cartão",
    ]
)
# What must not be found in clear once Zélia's data is erased.
CLEAR = (SURNAME, EMAIL, PHONE_DIGITS, "97531-8642", CITY)
# Topics whose messages must hold no personal data in clear (all but the carteira's inbox).
SEALED_TOPICS = tuple(
    spec.name
    for spec in TOPICS
    if spec.name
    in ("portfolio.debts", "negotiation.agreements", "gateway.portal", "privacy.erasures")
    or spec.name.startswith("messaging.")
)


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    with running_platform(tmp_path_factory.mktemp("erasure"), "tansu") as running:
        yield running


def csrf_token(html: str) -> str:
    found = re.search(r'name="_csrf_token" value="([^"]+)"', html)
    assert found, "the page has no CSRF token"
    return found.group(1)


def leave_portal_contact(platform: RunningPlatform) -> None:
    """Zélia signs in on the portal's pages and leaves her contact."""
    with httpx.Client(base_url=platform.base_url, timeout=60) as browser:
        page = browser.get(f"/p/{TENANT}")
        assert page.status_code == 200, page.text
        signed = browser.post(
            f"/p/{TENANT}/consulta",
            data={"_csrf_token": csrf_token(page.text), "document": ZELIA},
        )
        assert signed.status_code == 303, signed.text
        debts = browser.get(f"/p/{TENANT}/dividas")
        assert debts.status_code == 200 and NAME in debts.text
        key = re.search(r'name="chave" value="([^"]+)"', debts.text)
        assert key is not None
        sent = browser.post(
            f"/p/{TENANT}/contato",
            data={
                "_csrf_token": csrf_token(debts.text),
                "chave": key.group(1),
                "nome": NAME,
                "telefone": PHONE,
                "email": EMAIL,
                "credor_esperado": "",
                "mensagem": "",
            },
        )
        assert sent.status_code == 303, sent.text


def text_values(engine: sa.Engine) -> list[str]:
    """Every text value of every table of a database."""
    values: list[str] = []
    inspector = sa.inspect(engine)
    with engine.connect() as conn:
        for name in inspector.get_table_names():
            table = sa.Table(name, sa.MetaData(), autoload_with=conn)
            for row in conn.execute(sa.select(table)):
                values.extend(v for v in row if isinstance(v, str))
    return values


def assert_nothing_in_clear(values: list[str], where: str) -> None:
    for clear in CLEAR:
        found = [v for v in values if clear in v]
        assert not found, f"{clear!r} is still in {where}: {found[:3]}"


async def topic_messages(bootstrap: str, topics: tuple[str, ...]) -> dict[str, list[bytes]]:
    """Every message of these topics, from offset zero to their end."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        known = await partitions_of(consumer, topics)
        tps = [TopicPartition(t, p) for t in topics for p in sorted(known[t])]
        found: dict[str, list[bytes]] = {t: [] for t in topics}
        if not tps:
            return found
        ends = await consumer.end_offsets(tps)
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        while True:
            batch = await consumer.getmany(timeout_ms=2000, max_records=5000)
            for tp, records in batch.items():
                found[tp.topic].extend(r.value or b"" for r in records)
            if not any(batch.values()):
                positions = [await consumer.position(tp) for tp in tps]
                if all(pos >= ends[tp] for pos, tp in zip(positions, tps, strict=True)):
                    return found
    finally:
        await consumer.stop()


def test_an_erased_debtor_shows_as_removed_everywhere_and_a_replay_brings_nothing_back(
    platform: RunningPlatform, tmp_path: Path
) -> None:
    admin = platform.client(TENANT, "admin")
    status = admin.wait_for_import(admin.upload_carteira(CARTEIRA.encode())["import_id"], 120)
    assert (status["rows_read"], status["rejected"]) == (3, 0), status
    campaign = admin.create_campaign({"name": "Horizonte", "creditors": [CREDITOR]})["campaign_id"]

    # Before: the name and contacts show to the debtor and to the operators.
    looked = wait_for(
        lambda: (found := platform.anonymous().lookup(TENANT, ZELIA))["debts"] and found,
        timeout=60,
        what="Zélia's debts in the portal",
    )
    assert looked["debtor_name"] == NAME

    def call_entry(document: str) -> dict[str, Any] | None:
        try:
            entries = admin.call_list(campaign)["entries"]
        except GatewayError as exc:
            if exc.status == 404:  # the call list has not read the new campaign yet
                return None
            raise
        return next((e for e in entries if e["document"] == document), None)

    entry = wait_for(lambda: call_entry(ZELIA), timeout=60, what="Zélia on the call list")
    assert entry["debtor_name"] == NAME and entry["email"] == EMAIL and entry["phones"]
    leave_portal_contact(platform)
    contacts = wait_for(
        lambda: [e for e in admin.timeline(ZELIA)["entries"] if e["type"] == "PortalContactLeft"],
        timeout=60,
        what="the portal contact on Zélia's timeline",
    )
    assert PHONE_DIGITS in contacts[0]["summary"] and EMAIL in contacts[0]["summary"]

    # The refusals change nothing.
    erasure = f"/api/v1/admin/debtors/{ZELIA}/erasure"
    operator = platform.client(TENANT, "operator")
    forbidden = operator.http.post(erasure, json={"reason": "pedido do titular"})
    assert forbidden.status_code == 403 and forbidden.json()["error"]["code"] == "forbidden"
    bad = admin.http.post(
        "/api/v1/admin/debtors/529.982.247-26/erasure", json={"reason": "pedido do titular"}
    )
    assert bad.status_code == 422
    (detail,) = bad.json()["error"]["details"]
    assert (detail["field"], detail["rule"]) == ("document", "check_digit")
    unknown = admin.http.post(
        "/api/v1/admin/debtors/390.533.447-05/erasure", json={"reason": "pedido do titular"}
    )
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"
    assert platform.anonymous().lookup(TENANT, ZELIA)["debtor_name"] == NAME

    # The erasure, by an admin.
    erased = admin.http.post(erasure, json={"reason": "Pedido do titular por e-mail"})
    assert erased.status_code == 200, erased.text
    body = erased.json()
    assert body["document"] == ZELIA and body["key_ids"]
    assert body["requested_by"] == f"admin@{TENANT}"

    # Every read model shows it removed; Otávio's data is untouched.
    wait_for(
        lambda: platform.anonymous().lookup(TENANT, ZELIA)["debtor_name"] == REMOVED,
        timeout=60,
        what="the portal to show Zélia's name removed",
    )
    entry = wait_for(
        lambda: (e := call_entry(ZELIA)) and e["debtor_name"] == REMOVED and e,
        timeout=60,
        what="the call list to show Zélia's data removed",
    )
    assert (entry["phones"], entry["email"], entry["city"], entry["state"]) == (
        [],
        None,
        None,
        None,
    )
    assert entry["debts"] == 2  # the debts are still collected
    kept = call_entry(OTAVIO)
    assert kept is not None and kept["debtor_name"] == OTAVIO_NAME
    entries = wait_for(
        lambda: (
            (found := admin.timeline(ZELIA)["entries"])
            and found[-1]["type"] == "PersonalDataErased"
            and found
        ),
        timeout=60,
        what="the erasure on Zélia's timeline",
    )
    assert entries[-1]["summary"].startswith(
        f"Dados pessoais removidos a pedido do titular (LGPD) por admin@{TENANT} em "
    )
    assert_nothing_in_clear([e["summary"] for e in entries], "the timeline")
    audit = wait_for(
        lambda: admin.http.get(
            "/api/v1/admin/audit", params={"entity_kind": "debtor", "entity_id": ZELIA}
        ).json()["entries"],
        timeout=60,
        what="the erasure in the audit trail",
    )
    assert (audit[0]["actor"], audit[0]["type"]) == (f"admin@{TENANT}", "PersonalDataErased")
    live = service_engine(platform.settings, "gateway", "read")
    wait_for(
        lambda: not any(SURNAME in v or EMAIL in v for v in text_values(live)),
        timeout=60,
        what="every read model of the gateway to drop Zélia's data",
    )
    assert_nothing_in_clear(text_values(live), "the gateway's read database")
    live.dispose()

    # Asking again is safe: the same keys.
    again = admin.http.post(erasure, json={"reason": "Pedido repetido"})
    assert again.status_code == 200 and again.json()["key_ids"] == body["key_ids"]

    # A replay of every projection from offset zero, into a fresh database: nothing comes back.
    target = tmp_path / "rebuilt.sqlite"
    result = subprocess.run(
        [sys.executable, "-m", "cobranca", "replay", "--target-url", f"sqlite:///{target}"],
        env=platform.platform.service_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    rebuilt = engine_from_url(f"sqlite:///{target}")
    values = text_values(rebuilt)
    assert_nothing_in_clear(values, "the rebuilt read models")
    assert REMOVED in values and OTAVIO_NAME in values  # the replay did open Otávio's data
    rebuilt.dispose()

    # The topics: no message holds Zélia's data in clear, but the carteira's inbox (as the
    # creditor sent it; see README, "Personal data (LGPD)").
    messages = asyncio.run(
        topic_messages(platform.broker.bootstrap, (*SEALED_TOPICS, INBOUND_TOPIC))
    )
    assert messages["portfolio.debts"] and messages["gateway.portal"]
    assert messages["privacy.erasures"]
    for topic in SEALED_TOPICS:
        for value in messages[topic]:
            for clear in (SURNAME.encode(), EMAIL.encode(), PHONE_DIGITS.encode()):
                assert clear not in value, f"{clear!r} in clear on {topic}"
    assert any(SURNAME.encode() in value for value in messages[INBOUND_TOPIC])
