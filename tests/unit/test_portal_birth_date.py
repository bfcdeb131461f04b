"""The portal asks for the date of birth before it shows values (the tenant's second factor
`birth_date`; a company's opening date for a CNPJ): the portal view keeps only a keyed digest
of the date the carteira brought, an erasure clears it; the lookup shows the name masked and
asks; the right date opens the view, again and again the same day; five wrong dates lock the
document until the next business day, however many times it is looked up; a document without
a date is told to talk to the agency. The JSON API and the pages (Litestar's test client, no
browser) say the same, in pt-BR."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
import sqlalchemy as sa
from eventsourcing.persistence import StoredEvent
from hypothesis import given
from hypothesis import strategies as st
from litestar import Litestar
from litestar.testing import TestClient

from contracts.envelope import Envelope, derived_event_id
from contracts.gateway import CONFIG_TOPIC, PortalProfileSaved, PortalProfileSavedV2
from contracts.personal import PersonalDataErased
from contracts.portfolio import DebtImportedV2, DebtUpdatedV2, FieldChange
from service_runtime.clock import BusinessClock
from service_runtime.personal_data import REMOVED, seal
from service_runtime.service_client import ServiceUnavailable
from service_runtime.stored_aggregates import StoredAggregates
from services.gateway.adapters.integration_events import IntegrationEvents
from services.gateway.application.uploads import GatewayApplication
from services.gateway.domain.portal_challenge import (
    MAX_ATTEMPTS,
    InvalidBirthDate,
    PortalChallenge,
    birth_date_challenge_id,
    birth_date_digest,
    issue,
    issue_birth_date,
    parse_birth_date,
)
from services.gateway.entrypoints.web import (
    STATIC_DIR,
)
from services.gateway.entrypoints.web.pages import sentence
from services.gateway.read_models.audit import entity_of, summarize
from services.gateway.read_models.portal_view import (
    PortalViewProjection,
    birth_date_digests,
    portal_debts,
)
from services.messaging.application import MessagingApplication
from services.messaging.domain.second_factor import DailyTries, daily_tries_id
from tests.unit.test_negotiation_app import Negotiation as NegotiationApp
from tests.unit.test_portal_pages import (  # noqa: F401 (the fixture, used by name)
    KEY,
    TENANT,
    TODAY,
    Relay,
    admin,
    csrf,
    negotiation,
    portal_app,
)
from tests.unit.test_projections import VAULT

NOW = dt.datetime(2026, 11, 25, 13, 0, tzinfo=dt.UTC)
MARIA = "52998224725"  # born 17/05/1980, as her creditor's carteira says
PADARIA = "11222333000181"  # a company, opened 03/02/2011
WESLEY = "12299899430"  # his creditor sent no date
STRANGER = "39053344705"  # a valid CPF no carteira brought
MARIA_BORN = dt.date(1980, 5, 17)
PADARIA_OPENED = dt.date(2011, 2, 3)
LOCKED = "muitas tentativas; tente novamente amanhã ou fale com a assessoria"
NO_DATE = "não há data de nascimento cadastrada para este documento; fale com a assessoria"


def env(aggregate_id: str, version: int) -> dict[str, Any]:
    return {
        "event_id": derived_event_id("test", aggregate_id, version),
        "occurred_at": dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
        "tenant": TENANT,
        "aggregate_id": aggregate_id,
        "aggregate_version": version,
        "correlation_id": "imp-1",
        "causation_id": "imp-1",
    }


def personal(name: str, birth_date: dt.date | None) -> dict[str, Any]:
    """The sealed fields as the portfolio seals them (no birth_date key without a date)."""
    fields: dict[str, Any] = {"name": name, "email": None, "phone": None}
    fields |= {"city": None, "state": None}
    if birth_date is not None:
        fields["birth_date"] = birth_date.isoformat()
    return fields


def imported(
    debt_id: str, document: str, name: str, birth_date: dt.date | None, version: int = 1
) -> DebtImportedV2:
    return DebtImportedV2(
        **env(debt_id, version),
        debt_id=debt_id,
        document=document,
        document_kind="cnpj" if len(document) == 14 else "cpf",
        personal=seal(VAULT.key_for(TENANT, document), personal(name, birth_date)),
        creditor="Banco Horizonte S.A.",
        contract=f"C-{debt_id}",
        installment="1",
        original_amount_cents=120_000,
        due_date=dt.date(2026, 8, 1),
        import_id="imp-1",
        row_key=debt_id,
    )


def corrected(
    debt_id: str, document: str, name: str, birth_date: dt.date | None, version: int
) -> DebtUpdatedV2:
    """The creditor sent the row again with another date (or none)."""
    return DebtUpdatedV2(
        **env(debt_id, version),
        debt_id=debt_id,
        document=document,
        document_kind="cpf",
        creditor="Banco Horizonte S.A.",
        contract=f"C-{debt_id}",
        installment="1",
        changes=[FieldChange(field="birth_date", old=None, new=None)],
        original_amount_cents=120_000,
        due_date=dt.date(2026, 8, 1),
        personal=seal(VAULT.key_for(TENANT, document), personal(name, birth_date)),
        import_id="imp-2",
        row_key=debt_id,
    )


def erasure(document: str, key_ids: list[str]) -> PersonalDataErased:
    return PersonalDataErased(
        **env(f"erasures-{document}", 1),
        document=document,
        key_ids=key_ids,
        requested_by="admin@acme",
        reason="pedido do titular",
    )


DEBTS = [
    imported("m-1", MARIA, "Maria Aparecida Souza", MARIA_BORN),
    imported("m-2", MARIA, "Maria Aparecida Souza", MARIA_BORN),
    imported("p-1", PADARIA, "Padaria Pão Quente Ltda", PADARIA_OPENED),
    imported("w-1", WESLEY, "Wesley Dias", None),
]


def digest(document: str, day: dt.date) -> str:
    return birth_date_digest(KEY, TENANT, document, day)


# ---- the challenge of a day ---------------------------------------------------------------------


def challenge() -> PortalChallenge:
    return issue_birth_date(tenant=TENANT, document=MARIA, today=TODAY)


def test_the_right_date_opens_and_opens_again_the_same_day() -> None:
    c = challenge()
    known = {digest(MARIA, MARIA_BORN)}
    for _ in range(3):
        outcome = c.check_birth_date(
            key=KEY, birth_date=MARIA_BORN, known=known, today=TODAY, now=NOW
        )
        assert outcome == "verified"
    assert (c.attempts_left, c.verified) == (MAX_ATTEMPTS, False)


def test_five_wrong_dates_lock_the_day_even_for_the_right_one() -> None:
    c = challenge()
    known = {digest(MARIA, MARIA_BORN)}
    wrong = [MARIA_BORN + dt.timedelta(days=n) for n in range(1, MAX_ATTEMPTS + 1)]
    outcomes = [
        c.check_birth_date(key=KEY, birth_date=day, known=known, today=TODAY, now=NOW)
        for day in wrong
    ]
    assert outcomes == ["mismatch"] * (MAX_ATTEMPTS - 1) + ["exhausted"]
    assert c.locked
    right = c.check_birth_date(key=KEY, birth_date=MARIA_BORN, known=known, today=TODAY, now=NOW)
    assert right == "exhausted"


def test_a_challenge_is_for_its_own_business_day() -> None:
    c = challenge()
    tomorrow = TODAY + dt.timedelta(days=1)
    outcome = c.check_birth_date(
        key=KEY,
        birth_date=MARIA_BORN,
        known={digest(MARIA, MARIA_BORN)},
        today=tomorrow,
        now=NOW,
    )
    assert outcome == "expired"
    assert c.id == birth_date_challenge_id(TENANT, MARIA, TODAY)
    assert birth_date_challenge_id(TENANT, MARIA, tomorrow) != c.id


def test_either_date_two_creditors_sent_is_the_debtors() -> None:
    c = challenge()
    known = {digest(MARIA, MARIA_BORN), digest(MARIA, MARIA_BORN + dt.timedelta(days=1))}
    for day in (MARIA_BORN, MARIA_BORN + dt.timedelta(days=1)):
        assert c.check_birth_date(key=KEY, birth_date=day, known=known, today=TODAY, now=NOW) == (
            "verified"
        )


def test_the_digest_is_keyed_and_salted_with_the_debtor() -> None:
    same_date = {
        birth_date_digest(KEY, TENANT, MARIA, MARIA_BORN),
        birth_date_digest(KEY, TENANT, WESLEY, MARIA_BORN),
        birth_date_digest(KEY, "other", MARIA, MARIA_BORN),
        birth_date_digest("another key", TENANT, MARIA, MARIA_BORN),
    }
    assert len(same_date) == 4
    assert "1980" not in "".join(same_date)


def test_a_code_challenge_stored_before_dates_came_still_loads_as_a_code() -> None:
    gateway = GatewayApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    code = issue(
        key=KEY,
        tenant=TENANT,
        document=MARIA,
        code="482913",
        channel="sms",
        destination="(11) *****-4321",
        now=NOW,
    )
    (stored,) = [gateway.mapper.to_stored_event(e) for e in code.collect_events()]
    # As version 1 wrote it: no method, no day, no class version.
    state = json.loads(stored.state)
    for name in ("method", "day", "class_version"):
        state.pop(name, None)
    old = StoredEvent(
        originator_id=stored.originator_id,
        originator_version=stored.originator_version,
        topic=stored.topic,
        state=json.dumps(state).encode(),
    )
    loaded = cast(Any, gateway.mapper.to_domain_event(old)).mutate(None)
    assert isinstance(loaded, PortalChallenge)
    assert (loaded.method, loaded.day) == ("code", None)
    assert loaded.check(key=KEY, code="482913", now=NOW) == "verified"


@given(
    st.dates(min_value=dt.date(1900, 1, 1), max_value=TODAY),
    st.sampled_from(["{d:02d}/{m:02d}/{y}", "{d}/{m}/{y}", "{d:02d}{m:02d}{y}", "{iso}"]),
)
def test_every_way_a_debtor_types_a_real_date_reads_the_same_date(
    day: dt.date, pattern: str
) -> None:
    typed = pattern.format(d=day.day, m=day.month, y=day.year, iso=day.isoformat())
    assert parse_birth_date(f" {typed} ", TODAY) == day


@pytest.mark.parametrize(
    ("typed", "rule", "message"),
    [
        ("", "required", "informe a data de nascimento (dd/mm/aaaa)"),
        ("17/05/80", "format", "data inválida: use dd/mm/aaaa, como em 17/05/1980"),
        ("31/02/1980", "format", "esta data não existe no calendário"),
        ("26/11/2026", "not_in_future", "a data informada está no futuro"),
        ("31/12/1899", "too_old", "a data informada é anterior a 1900: confira o ano"),
    ],
)
def test_what_is_no_date_is_said_so(typed: str, rule: str, message: str) -> None:
    with pytest.raises(InvalidBirthDate) as refused:
        parse_birth_date(typed, TODAY)
    assert (refused.value.rule, refused.value.message) == (rule, message)


# ---- the portal view keeps the digest, never the date -----------------------------------------


def project(engine: sa.Engine, *batches: list[Envelope], key: str | None = KEY) -> None:
    projection = PortalViewProjection(VAULT, key)
    projection.create_tables(engine)
    for batch in batches:
        with engine.begin() as conn:
            projection.prepare(batch)
            projection.apply(conn, batch)


@pytest.fixture
def read_engine(tmp_path: Path) -> Iterator[sa.Engine]:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'read.sqlite'}")
    yield engine
    engine.dispose()


def stored_digests(engine: sa.Engine) -> dict[str, str | None]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(portal_debts.c.debt_id, portal_debts.c.birth_date_digest))
        return {r.debt_id: r.birth_date_digest for r in rows}


def test_the_view_keeps_each_debts_digest_of_the_date_and_never_the_date(
    read_engine: sa.Engine,
) -> None:
    project(read_engine, cast(list[Envelope], DEBTS))
    assert stored_digests(read_engine) == {
        "m-1": digest(MARIA, MARIA_BORN),
        "m-2": digest(MARIA, MARIA_BORN),
        "p-1": digest(PADARIA, PADARIA_OPENED),
        "w-1": None,
    }
    assert birth_date_digests(read_engine, TENANT, MARIA) == {digest(MARIA, MARIA_BORN)}
    assert birth_date_digests(read_engine, TENANT, WESLEY) == set()
    with read_engine.connect() as conn:
        dump = repr([tuple(r) for r in conn.execute(sa.select(portal_debts))])
    assert "1980" not in dump and "17/05" not in dump


def test_a_corrected_date_replaces_the_old_digest(read_engine: sa.Engine) -> None:
    fixed = MARIA_BORN + dt.timedelta(days=1)
    project(
        read_engine,
        cast(list[Envelope], DEBTS),
        [corrected("m-1", MARIA, "Maria Aparecida Souza", fixed, 2)],
    )
    assert birth_date_digests(read_engine, TENANT, MARIA) == {
        digest(MARIA, fixed),
        digest(MARIA, MARIA_BORN),  # m-2's row was not sent again
    }


def test_an_erasure_clears_the_digest_with_the_name(read_engine: sa.Engine) -> None:
    project(read_engine, cast(list[Envelope], DEBTS))
    key_id = DEBTS[0].personal.key_id
    project(read_engine, [erasure(MARIA, [key_id])])
    assert birth_date_digests(read_engine, TENANT, MARIA) == set()
    assert birth_date_digests(read_engine, TENANT, PADARIA) == {digest(PADARIA, PADARIA_OPENED)}
    with read_engine.connect() as conn:
        names = conn.execute(
            sa.select(portal_debts.c.debtor_name).where(portal_debts.c.document == MARIA)
        ).scalars()
        assert set(names) == {REMOVED}


def test_without_the_signing_key_the_view_keeps_no_digest(read_engine: sa.Engine) -> None:
    project(read_engine, cast(list[Envelope], DEBTS), key=None)
    assert set(stored_digests(read_engine).values()) == {None}


# ---- the lookup and the verification, through the API and the pages ---------------------------


@pytest.fixture
def clock() -> BusinessClock:
    return BusinessClock(TODAY)


@pytest.fixture
def messaging() -> MessagingApplication:
    """The messaging service, which counts the wrong dates of both doors (portal and chat)."""
    return MessagingApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})


@pytest.fixture
def client(
    tmp_path: Path,
    negotiation: NegotiationApp,  # noqa: F811 (the fixture imported above)
    clock: BusinessClock,
    messaging: MessagingApplication,
) -> Iterator[TestClient[Litestar]]:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'read.sqlite'}")
    project(engine, cast(list[Envelope], DEBTS))
    gateway = GatewayApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    app = portal_app(tmp_path, engine, clock, gateway, negotiation, messaging)
    with TestClient(app) as test_client:
        answer = test_client.put(
            "/api/v1/admin/portal",
            json={"name": "Recupera Sul", "second_factor": "birth_date"},
            headers=admin(test_client),
        )
        assert answer.status_code == 200, answer.text
        yield test_client
    engine.dispose()


def lookup(client: TestClient[Litestar], document: str) -> Any:
    return client.post(f"/api/v1/portal/{TENANT}/lookup", json={"document": document})


def verify(client: TestClient[Litestar], challenge_id: str, birth_date: str | None) -> Any:
    body: dict[str, Any] = {"challenge_id": challenge_id}
    if birth_date is not None:
        body["birth_date"] = birth_date
    return client.post(f"/api/v1/portal/{TENANT}/verify", json=body)


def detail(answer: Any) -> tuple[str, str, str]:
    assert answer.status_code == 422, answer.text
    found = answer.json()["error"]["details"][0]
    assert found["message_en"]
    return found["field"], found["rule"], found["message"]


def test_the_admin_chooses_the_date_of_birth_and_nothing_else_unknown(
    client: TestClient[Litestar],
) -> None:
    saved = client.get("/api/v1/admin/portal", headers=admin(client)).json()
    assert saved["second_factor"] == "birth_date"
    wrong = client.put(
        "/api/v1/admin/portal",
        json={"name": "Recupera Sul", "second_factor": "cpf_digits"},
        headers=admin(client),
    )
    field, rule, _ = detail(wrong)
    assert (field, rule) == ("second_factor", "choice")


def test_the_profile_is_published_in_version_2_and_audited_in_portuguese(
    client: TestClient[Litestar],
) -> None:
    gateway: GatewayApplication = client.app.state.gateway_app
    relay = IntegrationEvents(StoredAggregates(gateway).tenant_of)
    published = [
        message
        for n in gateway.recorder.select_notifications(start=1, limit=100)
        for topic, message in relay(gateway.mapper.to_domain_event(n))
        if topic == CONFIG_TOPIC
    ]
    parts: dict[str, Any] = {cast(Any, m).part: m for m in published}
    factor = parts["second_factor"]
    assert isinstance(factor, PortalProfileSavedV2) and factor.second_factor == "birth_date"
    assert isinstance(parts["profile"], PortalProfileSaved)  # the rest as before
    assert summarize(factor) == (
        "Perfil do portal: acesso com a data de nascimento da carteira (data de abertura, para "
        "CNPJ), até 5 tentativas erradas por documento ao dia"
    )
    assert entity_of(factor) == ("portal_profile", "portal")


def test_maria_sees_her_name_masked_then_her_debts_after_her_date_of_birth(
    client: TestClient[Litestar],
) -> None:
    asked = lookup(client, "529.982.247-25")
    assert asked.status_code == 200, asked.text
    pending = asked.json()
    assert pending["debtor_name"] == "M*** A*** S***"
    assert (pending["debts"], pending["agreements"], pending["portal_token"]) == ([], [], None)
    check = pending["verification"]
    assert check["method"] == "birth_date"
    assert (check["channel"], check["destination"], check["attempts_left"]) == (None, None, 5)
    assert check["challenge_id"] == str(birth_date_challenge_id(TENANT, MARIA, TODAY))

    opened = verify(client, check["challenge_id"], "1980-05-17")
    assert opened.status_code == 200, opened.text
    view = opened.json()
    assert view["debtor_name"] == "Maria Aparecida Souza"
    assert {d["debt_id"] for d in view["debts"]} == {"m-1", "m-2"}
    assert view["portal_token"]

    # She comes back the same day: the same check, and her date opens it again.
    again = lookup(client, MARIA).json()["verification"]
    assert again["challenge_id"] == check["challenge_id"]
    assert verify(client, again["challenge_id"], "17/05/1980").status_code == 200


def test_a_wrong_date_says_the_tries_left_and_the_fifth_locks_the_document_until_tomorrow(
    client: TestClient[Litestar], clock: BusinessClock
) -> None:
    first = lookup(client, MARIA).json()["verification"]["challenge_id"]
    messages = [detail(verify(client, first, "18/05/1980")) for _ in range(2)]
    assert messages == [
        ("birth_date", "mismatch", "data de nascimento não confere; restam 4 tentativa(s) hoje"),
        ("birth_date", "mismatch", "data de nascimento não confere; restam 3 tentativa(s) hoje"),
    ]
    # Looking the document up again gives no fresh tries: the lock is the document's.
    again = lookup(client, MARIA).json()["verification"]
    assert (again["challenge_id"], again["attempts_left"]) == (first, 3)
    assert detail(verify(client, first, "19/05/1980"))[1] == "mismatch"
    assert detail(verify(client, first, "20/05/1980"))[1] == "mismatch"
    assert detail(verify(client, first, "21/05/1980")) == ("birth_date", "exhausted", LOCKED)
    # Locked: even the right date, even after a new lookup.
    assert detail(verify(client, first, "17/05/1980")) == ("birth_date", "exhausted", LOCKED)
    assert detail(lookup(client, MARIA)) == ("document", "exhausted", LOCKED)
    # Another document is not locked by Maria's tries.
    assert lookup(client, PADARIA).json()["verification"]["attempts_left"] == 5

    clock.observe(TODAY + dt.timedelta(days=1))  # the next business day
    assert detail(verify(client, first, "17/05/1980")) == (
        "birth_date",
        "expired",
        "a verificação era de outro dia: consulte o documento de novo",
    )
    tomorrow = lookup(client, MARIA).json()["verification"]
    assert tomorrow["challenge_id"] != first and tomorrow["attempts_left"] == 5
    assert verify(client, tomorrow["challenge_id"], "17/05/1980").status_code == 200


def test_wrong_dates_typed_in_the_chat_leave_the_portal_fewer_tries(
    client: TestClient[Litestar], messaging: MessagingApplication
) -> None:
    # Someone with Maria's CPF typed three wrong dates in the web chat this morning, as the
    # chat records them: the portal gives the same CPF two more, not five.
    day = TODAY
    tries = DailyTries(kind="birth_date", tenant=TENANT, document=MARIA, day=day)
    morning = dt.datetime.combine(day, dt.time(9), tzinfo=dt.UTC)
    for _ in range(3):
        tries.used(by="conversation-1", at=morning)
    messaging.save(tries)

    check = lookup(client, MARIA).json()["verification"]
    assert check["attempts_left"] == 2
    assert detail(verify(client, check["challenge_id"], "18/05/1980")) == (
        "birth_date",
        "mismatch",
        "data de nascimento não confere; restam 1 tentativa(s) hoje",
    )
    assert detail(verify(client, check["challenge_id"], "19/05/1980")) == (
        "birth_date",
        "exhausted",
        LOCKED,
    )
    # Locked on both doors: the chat reads the same count; the right date opens nothing.
    counted = messaging.repository.get(daily_tries_id("birth_date", TENANT, MARIA, day))
    assert (counted.attempts, counted.locked) == (5, True)
    assert detail(verify(client, check["challenge_id"], "17/05/1980"))[1] == "exhausted"
    assert detail(lookup(client, MARIA)) == ("document", "exhausted", LOCKED)
    # The pages say so too.
    page = client.post(
        f"/p/{TENANT}/consulta",
        data={"document": MARIA, "_csrf_token": csrf(client.get(f"/p/{TENANT}").text)},
    )
    assert page.status_code == 422 and "Muitas tentativas; tente novamente amanhã" in page.text


def test_what_is_no_date_uses_no_try_and_names_the_field(client: TestClient[Litestar]) -> None:
    check = lookup(client, MARIA).json()["verification"]["challenge_id"]
    assert detail(verify(client, check, None)) == (
        "birth_date",
        "required",
        "informe a data de nascimento (dd/mm/aaaa)",
    )
    assert detail(verify(client, check, "31/02/1980"))[:2] == ("birth_date", "format")
    assert detail(verify(client, check, "ontem"))[:2] == ("birth_date", "format")
    assert detail(verify(client, check, "2030-01-01"))[:2] == ("birth_date", "not_in_future")
    assert lookup(client, MARIA).json()["verification"]["attempts_left"] == 5


def test_a_company_is_asked_its_opening_date(client: TestClient[Litestar]) -> None:
    check = lookup(client, "11.222.333/0001-81").json()["verification"]["challenge_id"]
    assert detail(verify(client, check, "04/02/2011")) == (
        "birth_date",
        "mismatch",
        "data de abertura não confere; restam 4 tentativa(s) hoje",
    )
    assert verify(client, check, "03/02/2011").status_code == 200


def test_without_a_date_in_the_carteira_the_debtor_is_sent_to_the_agency(
    client: TestClient[Litestar],
) -> None:
    assert detail(lookup(client, WESLEY)) == ("document", "no_birth_date", NO_DATE)
    # A document no carteira brought reads the same: the lookup tells nobody who is a debtor.
    assert detail(lookup(client, STRANGER)) == ("document", "no_birth_date", NO_DATE)
    assert detail(lookup(client, PADARIA + "0"))[0] == "document"  # not a document at all


def test_an_erasure_after_the_lookup_leaves_no_date_to_check(client: TestClient[Litestar]) -> None:
    check = lookup(client, MARIA).json()["verification"]["challenge_id"]
    with client.app.state.read_engine.begin() as conn:
        PortalViewProjection(VAULT, KEY).apply(conn, [erasure(MARIA, [DEBTS[0].personal.key_id])])
    assert detail(verify(client, check, "17/05/1980"))[:2] == ("birth_date", "no_birth_date")


def test_a_code_is_not_a_date(client: TestClient[Litestar]) -> None:
    check = lookup(client, MARIA).json()["verification"]["challenge_id"]
    answer = client.post(
        f"/api/v1/portal/{TENANT}/verify", json={"challenge_id": check, "code": "123456"}
    )
    assert detail(answer)[:2] == ("birth_date", "required")


# ---- the pages --------------------------------------------------------------------------------


def consult(client: TestClient[Litestar], document: str) -> Any:
    page = client.get(f"/p/{TENANT}")
    return client.post(
        f"/p/{TENANT}/consulta", data={"_csrf_token": csrf(page.text), "document": document}
    )


def send_date(client: TestClient[Litestar], form_page: str, typed: str) -> Any:
    fields = dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', form_page))
    return client.post(
        f"/p/{TENANT}/nascimento", data={**fields, "birth_date": typed}, follow_redirects=False
    )


def test_the_page_asks_maria_her_date_of_birth_on_a_phone_friendly_field(
    client: TestClient[Litestar],
) -> None:
    page = consult(client, MARIA)
    assert page.status_code == 200, page.text
    html = page.text
    assert "Olá, M*** A*** S***." in html and "Maria" not in html
    assert "informe sua data de nascimento" in html
    assert '<label for="birth_date">Data de nascimento</label>' in html
    field = re.search(r"<input id=\"birth_date\"[^>]*>", html, re.S)
    assert field is not None
    for attribute in (
        'name="birth_date"',
        'type="text"',
        'inputmode="numeric"',
        'autocomplete="bday"',
        'placeholder="dd/mm/aaaa"',
        'maxlength="10"',
        'aria-describedby="birth_date-dica birth_date-erro"',
        'data-date="data de nascimento"',
    ):
        assert attribute in field.group(0), attribute
    assert 'action="/p/acme/nascimento"' in html and 'name="_csrf_token"' in html
    assert "São até 5 tentativas por dia." in html
    # CSP-friendly, as every page: no inline script, style or handler.
    assert "<script>" not in html and " style=" not in html
    assert not re.search(r"\son[a-z]+=", html)


def test_the_page_says_a_wrong_date_next_to_the_field_and_the_right_one_signs_in(
    client: TestClient[Litestar],
) -> None:
    page = consult(client, MARIA)
    wrong = send_date(client, page.text, "18/05/1980")
    assert wrong.status_code == 422
    assert (
        'id="birth_date-erro" role="alert">Data de nascimento não confere; '
        "restam 4 tentativa(s) hoje.</p>" in wrong.text
    )
    assert 'aria-invalid="true"' in wrong.text and 'value="18/05/1980"' in wrong.text
    assert "Restam 4 tentativa(s) hoje." in wrong.text

    garbled = send_date(client, wrong.text, "31/02/1980")
    assert garbled.status_code == 422
    assert 'role="alert">Esta data não existe no calendário.</p>' in garbled.text
    assert "Restam 4 tentativa(s) hoje." in garbled.text  # no try used

    signed_in = send_date(client, garbled.text, "17051980")  # typed without the mask
    assert signed_in.status_code == 303
    assert signed_in.headers["location"] == f"/p/{TENANT}/dividas"
    assert "portal_sessao=" in signed_in.headers["set-cookie"]
    debts = client.get(f"/p/{TENANT}/dividas")
    assert "Olá, Maria Aparecida Souza" in debts.text


def test_the_page_of_a_locked_document_or_one_without_a_date_says_so(
    client: TestClient[Litestar],
) -> None:
    page = consult(client, MARIA)
    for day in range(18, 18 + MAX_ATTEMPTS - 1):
        page = send_date(client, page.text, f"{day}/05/1980")
        assert page.status_code == 422
    locked = send_date(client, page.text, "30/05/1980")
    assert locked.status_code == 422
    assert sentence(LOCKED) in locked.text and 'id="document"' in locked.text
    assert sentence(LOCKED) in consult(client, MARIA).text

    nothing = consult(client, WESLEY)
    assert nothing.status_code == 422
    assert f'id="document-erro" role="alert">{sentence(NO_DATE)}</p>' in nothing.text


def test_a_companys_page_asks_its_opening_date(client: TestClient[Litestar]) -> None:
    page = consult(client, PADARIA)
    assert '<label for="birth_date">Data de abertura</label>' in page.text
    assert "informe a data de abertura da empresa" in page.text
    assert 'autocomplete="off"' in page.text  # not the person's birthday


# ---- the page's script says what the server says -------------------------------------------------

NODE = shutil.which("node")
RUNNER = """
const rules = require(process.argv[2]);
const inputs = JSON.parse(require("fs").readFileSync(0, "utf8"));
process.stdout.write(JSON.stringify(inputs.map((raw) => ({
  mask: rules.maskDate(raw),
  message: rules.sentence(rules.dateProblem(raw, "data de nascimento")),
}))));
"""


@pytest.mark.skipif(NODE is None, reason="no `node` to run the portal's script")
def test_the_pages_script_masks_the_date_and_refuses_what_the_server_refuses(
    tmp_path: Path,
) -> None:
    typed = ["", "1", "17", "170", "1705", "17051", "17051980", "170519801", "1980-05-17"]
    checked = ["17/05/1980", "17051980", "1/5/1980", "17-05-1980", "1980-05-17", "17/05/80"]
    checked += ["31/02/1980", "29/02/2000", "29/02/1900", "00/01/1990", "15/13/1990"]
    checked += ["01/01/1899", "ontem", "", "1980/05/17"]
    runner = tmp_path / "runner.js"
    runner.write_text(RUNNER)
    done = subprocess.run(
        [str(NODE), str(runner), str(STATIC_DIR / "portal.js")],
        input=json.dumps(typed + checked),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    answers = json.loads(done.stdout)
    masks = [a["mask"] for a in answers[: len(typed)]]
    assert masks == [
        "",
        "1",
        "17",
        "17/0",
        "17/05",
        "17/05/1",
        "17/05/1980",
        "17/05/1980",
        "17/05/1980",
    ]
    for raw, answer in zip(checked, answers[len(typed) :], strict=True):
        try:
            parse_birth_date(raw, TODAY)
            expected = ""
        except InvalidBirthDate as exc:
            expected = sentence(exc.message)
        assert answer["message"] == expected, raw


def test_without_the_messaging_service_the_date_is_not_checked_and_it_is_said(
    client: TestClient[Litestar],
) -> None:
    # The service that counts the wrong dates does not answer: nothing is opened, nothing
    # counted, and the debtor is told to try again shortly (the API and the pages).
    check = lookup(client, MARIA).json()["verification"]["challenge_id"]

    class Silent:
        async def ask(self, request: Any, key: str, answer: type[Any]) -> Any:
            raise ServiceUnavailable("messaging", "no answer in 10 s")

    client.app.state["messaging"] = Silent()
    answer = verify(client, check, "17/05/1980")
    assert (answer.status_code, answer.headers["retry-after"]) == (503, "5")
    assert answer.json()["error"]["code"] == "messaging_unavailable"
    assert lookup(client, MARIA).status_code == 503
    page = client.get(f"/p/{TENANT}")
    form = client.post(
        f"/p/{TENANT}/consulta", data={"document": MARIA, "_csrf_token": csrf(page.text)}
    )
    assert (form.status_code, form.headers["retry-after"]) == (503, "5")
    assert "A identificação não respondeu a tempo" in form.text
    assert "Maria" not in form.text
