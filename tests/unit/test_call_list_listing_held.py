"""A debt whose listing at the credit bureau is held for want of a notice (NegativationHeld on
ruler.bureau: its notice of the listing could not be sent, no phone or e-mail) is shown as such
on the call list, in the API and in the spreadsheet: "negativação suspensa (sem aviso)", not
"negativação" as if listed, since that is exactly whom the operator must reach another way
(QA pass 9, D7b: Luana and Rui at stage "negativação" like the listed debtors). Listed later
(DebtorNegativated, once a notice went out), out of the ruler or into a new cycle, it is not
held any more; and none of it depends on the order the topics deliver in or on repetition."""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from litestar import Litestar
from litestar.datastructures import State
from litestar.exceptions import HTTPException
from litestar.middleware import DefineMiddleware
from litestar.testing import TestClient

from contracts.envelope import Envelope
from contracts.ruler import DebtorNegativated, NegativationHeld
from service_runtime.clock import BusinessClock
from services.gateway.entrypoints.http.auth import BearerTokenMiddleware
from services.gateway.entrypoints.http.errors import (
    ApiError,
    handle_api_error,
    handle_http_exception,
)
from services.gateway.entrypoints.http.ruler import CampaignsController
from services.gateway.read_models.call_list import (
    CallListEntry,
    CallListProjection,
    call_list,
    call_list_csv,
)
from tests.unit.test_call_list import (
    AGENCY,
    CARLA,
    HORIZONTE,
    JOAO,
    MARIA,
    TODAY,
    advanced,
    apply,
    broken,
    by_document,
    closed,
    debt,
    env,
    left,
    reopened,
    reset,
    saved,
)
from tests.unit.test_campaign_calls import KEY, headers
from tests.unit.test_projections import VAULT

BUREAU_DAY = TODAY - dt.timedelta(days=20)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[sa.Engine]:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'read.sqlite'}")
    CallListProjection(VAULT).create_tables(engine)
    yield engine
    engine.dispose()


def held(debt_id: str, document: str, on_date: dt.date = BUREAU_DAY) -> NegativationHeld:
    return NegativationHeld(
        **env(f"held-{debt_id}-{on_date}", 1),
        receivable_id=debt_id,
        receivable_kind="debt",
        document=document,
        creditor=HORIZONTE,
        contract=f"C-{debt_id}",
        amount_cents=51_885,
        due_date=TODAY - dt.timedelta(days=400),
        ruler_id="r1",
        notice_keys=[f"{AGENCY}|{debt_id}|listing_notice|0|message:sms:aviso_negativacao"],
        reasons=["devedor sem telefone"],
        on_date=on_date,
    )


def negativated(debt_id: str, document: str, on_date: dt.date) -> DebtorNegativated:
    return DebtorNegativated(
        **env(f"listed-{debt_id}-{on_date}", 1),
        receivable_id=debt_id,
        document=document,
        creditor=HORIZONTE,
        amount_cents=51_885,
        due_date=TODAY - dt.timedelta(days=400),
        bureau="arquivo-remessa",
        record_key=f"{AGENCY}|{debt_id}",
        on_date=on_date,
    )


def csv_rows(engine: sa.Engine) -> dict[str, list[str]]:
    entries, _ = call_list(engine, AGENCY, "camp", TODAY, page_size=1000)
    text = call_list_csv(entries)[3:].decode("utf-8")
    return {row[0]: row for row in csv.reader(io.StringIO(text), delimiter=";")}


def shown(entry: CallListEntry) -> tuple[str, bool, str]:
    return entry.stage, entry.listing_held, entry.stage_label


def luana_held_and_joao_listed() -> list[Envelope]:
    """Maria (Luana of QA pass 9: no phone) is held at the bureau stage; João is listed."""
    return [
        debt("m1", MARIA, 51_885, 400),
        debt("j1", JOAO, 100_000, 400),
        saved(),
        advanced("m1", MARIA, "credit_bureau", BUREAU_DAY),
        advanced("j1", JOAO, "credit_bureau", BUREAU_DAY),
        held("m1", MARIA),
        negativated("j1", JOAO, BUREAU_DAY + dt.timedelta(days=10)),
    ]


def test_a_held_listing_reads_suspended_for_want_of_a_notice_not_listed(
    engine: sa.Engine,
) -> None:
    apply(engine, *luana_held_and_joao_listed())
    entries = by_document(engine)
    assert shown(entries[MARIA]) == ("credit_bureau", True, "negativação suspensa (sem aviso)")
    assert entries[MARIA].listings_held == 1
    assert shown(entries[JOAO]) == ("credit_bureau", False, "negativação")
    rows = csv_rows(engine)
    etapa = rows["documento"].index("etapa")
    assert rows[MARIA][etapa] == "negativação suspensa (sem aviso)"
    assert rows[JOAO][etapa] == "negativação"


def test_a_held_listing_listed_later_or_left_is_not_held_any_more(engine: sa.Engine) -> None:
    apply(engine, *luana_held_and_joao_listed(), debt("c1", CARLA, 70_000, 400))
    apply(engine, advanced("c1", CARLA, "credit_bureau", BUREAU_DAY), held("c1", CARLA))
    assert by_document(engine)[CARLA].listing_held
    # The agency gave Maria a phone: her notice went out and she was listed 10 days later.
    apply(engine, negativated("m1", MARIA, TODAY))
    assert shown(by_document(engine)[MARIA]) == ("credit_bureau", False, "negativação")
    # Carla renegotiated (the ruler let her go) and broke: back in collection, in a new cycle,
    # not held until a new hold says so.
    apply(
        engine,
        left("c1", CARLA, "renegotiated", BUREAU_DAY + dt.timedelta(days=2)),
        closed("a1", CARLA, ["c1"]),
        broken("a1", CARLA, "c1", 0),
        reopened("c1", CARLA, 0, 70_000),
    )
    assert shown(by_document(engine)[CARLA]) == ("current", False, "sem etapa da régua")
    apply(engine, advanced("c1", CARLA, "credit_bureau", TODAY))
    assert shown(by_document(engine)[CARLA]) == ("credit_bureau", False, "negativação")
    apply(engine, held("c1", CARLA, TODAY))
    assert by_document(engine)[CARLA].stage_label == "negativação suspensa (sem aviso)"


def test_a_debtor_with_one_listing_held_and_another_made_reads_both(engine: sa.Engine) -> None:
    apply(
        engine,
        *luana_held_and_joao_listed(),
        debt("m2", MARIA, 20_000, 400),
        advanced("m2", MARIA, "credit_bureau", BUREAU_DAY),
        negativated("m2", MARIA, BUREAU_DAY + dt.timedelta(days=10)),
    )
    maria = by_document(engine)[MARIA]
    assert (maria.listing_held, maria.listings_held) == (True, 1)
    assert maria.stage_label == "negativação; negativação suspensa (sem aviso) em 1 de 2 dívidas"


def test_the_hold_ends_the_same_in_any_order_and_applied_twice(engine: sa.Engine) -> None:
    events = [
        *luana_held_and_joao_listed(),
        debt("c1", CARLA, 70_000, 400),
        advanced("c1", CARLA, "credit_bureau", BUREAU_DAY),
        held("c1", CARLA),
        # Held, then noticed again and listed: Carla's hold is over.
        negativated("c1", CARLA, TODAY),
        # A hold read late, from before his stage moved: it does not come back.
        held("j1", JOAO, BUREAU_DAY - dt.timedelta(days=30)),
    ]
    apply(engine, *events)
    expected = [shown(e) for e in call_list(engine, AGENCY, "camp", TODAY)[0]]
    assert expected == [
        ("credit_bureau", False, "negativação"),
        ("credit_bureau", False, "negativação"),
        ("credit_bureau", True, "negativação suspensa (sem aviso)"),
    ]
    apply(engine, *events)
    assert [shown(e) for e in call_list(engine, AGENCY, "camp", TODAY)[0]] == expected
    for order in itertools.islice(itertools.permutations(events[-5:]), 0, None, 7):
        reset(engine)
        apply(engine, *events[:-5])
        for event in order:
            apply(engine, event)
        assert [shown(e) for e in call_list(engine, AGENCY, "camp", TODAY)[0]] == expected
    reset(engine)
    for event in reversed(events):
        apply(engine, event)
        apply(engine, event)
    assert [shown(e) for e in call_list(engine, AGENCY, "camp", TODAY)[0]] == expected


def test_the_api_says_the_listing_is_held(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'read.sqlite'}")
    CallListProjection(VAULT).create_tables(engine)
    apply(engine, *luana_held_and_joao_listed())
    app = Litestar(
        route_handlers=[CampaignsController],
        middleware=[DefineMiddleware(BearerTokenMiddleware)],
        exception_handlers={ApiError: handle_api_error, HTTPException: handle_http_exception},
        state=State({"signing_key": KEY, "read_engine": engine, "clock": BusinessClock(TODAY)}),
    )
    with TestClient(app) as client:
        answer = client.get("/api/v1/campaigns/camp/call-list", headers=headers())
        assert answer.status_code == 200, answer.text
        entries = {e["document"]: e for e in answer.json()["entries"]}
        csv_answer = client.get("/api/v1/campaigns/camp/call-list.csv", headers=headers())
    engine.dispose()
    assert {
        d: (e["stage"], e["stage_label"], e["listing_held"], e["listings_held"])
        for d, e in entries.items()
    } == {
        MARIA: ("credit_bureau", "negativação suspensa (sem aviso)", True, 1),
        JOAO: ("credit_bureau", "negativação", False, 0),
    }
    assert "negativação suspensa (sem aviso)" in csv_answer.content.decode("utf-8-sig")
