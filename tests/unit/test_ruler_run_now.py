"""Processar régua agora: the daily run happens on each business day's `DayStarted`, so a
carteira imported after it waits for the next business day for its stages. An admin can run
today's run now, for the tenant only: it acts as the daily run would (every action has its
deterministic key), so two runs, or a run and the daily one, ask for one set of actions. It
runs the ruler's business day (its last `DayStarted`), and only on a business day."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from faststream.kafka import KafkaBroker
from litestar import Litestar
from litestar.datastructures import State
from litestar.exceptions import HTTPException
from litestar.middleware import DefineMiddleware
from litestar.testing import TestClient

from cobranca.client import GatewayError
from cobranca.demo_ruler import read_everything, run_ruler_now
from contracts.clock import DayStarted
from contracts.ruler_requests import RulerRequestBody, RulerRunOut, RunRuler, SaveRuler
from service_runtime.clock import BusinessClock
from service_runtime.clock_follower import ClockFollower
from service_runtime.refusal import Refused
from service_runtime.request_reply import RequestRefused
from service_runtime.service_client import ServiceClient, ServiceRefused
from services.gateway.adapters.tokens import Role, issue_token
from services.gateway.entrypoints.http.auth import BearerTokenMiddleware
from services.gateway.entrypoints.http.errors import (
    ApiError,
    handle_api_error,
    handle_http_exception,
    handle_service_refused,
)
from services.gateway.entrypoints.http.ruler import RUN_WAIT_SECONDS, RulerAdminController
from services.gateway.read_models.audit import actor_of, entity_of, summarize
from services.ruler.application.service import day_to_run
from tests.unit.test_ruler_app import AGENCY, DUE, RULER, Ruler, debt, env

MONDAY = DUE + dt.timedelta(days=18)  # Mon 19/10/2026: a debt due 01/10 is 18 days overdue
SATURDAY = MONDAY - dt.timedelta(days=2)
OTHER_AGENCY = "cobra-norte"


def day(date: dt.date, business_day: bool = True) -> DayStarted:
    return DayStarted(
        **{**env("calendar", 1), "tenant": "platform"},
        date=date,
        business_day=business_day,
        mode="manual",
    )


def run_now(ruler: Ruler, today: DayStarted | None, tenant: str = AGENCY) -> dict[str, Any]:
    out = ruler.app.run_now(RunRuler(tenant=tenant, requested_by="ana@recupera-sul"), today)
    return out.model_dump()


def message_keys(ruler: Ruler) -> list[str]:
    return [m.key for m in ruler.published("MessageRequested")]


# ---- which day: the ruler's business day, only a business day ----------------------------


def test_the_run_is_for_the_last_day_the_ruler_saw() -> None:
    assert day_to_run(day(MONDAY)) == MONDAY


def test_before_the_ruler_has_seen_a_day_there_is_nothing_to_run_yet() -> None:
    with pytest.raises(Refused) as refused:
        day_to_run(None)
    assert (refused.value.status, refused.value.code) == (409, "no_business_date")
    assert "ainda não recebeu o dia" in refused.value.message


def test_not_on_a_weekend_or_holiday_as_the_daily_run() -> None:
    with pytest.raises(Refused) as refused:
        day_to_run(day(SATURDAY, business_day=False))
    assert (refused.value.status, refused.value.code) == (409, "not_business_day")
    assert refused.value.message.startswith("hoje (17/10/2026) não é dia útil")


def test_the_ruler_follows_the_clocks_latest_day_and_never_goes_back() -> None:
    days = ClockFollower(BusinessClock(SATURDAY), KafkaBroker("127.0.0.1:1"), {})
    assert days.last_day is None
    days.apply(
        day(SATURDAY, business_day=False).model_dump_json().encode(),
        day(MONDAY).model_dump_json().encode(),
        b"not an event",
    )
    assert days.last_day is not None
    assert (days.last_day.date, days.last_day.business_day) == (MONDAY, True)
    days.apply(day(SATURDAY, business_day=False).model_dump_json().encode())  # read again
    assert days.last_day.date == MONDAY
    assert days.clock.today() == MONDAY


# ---- the run: the carteira that came after today's run -------------------------------------


@pytest.fixture
def ruler(tmp_path: Path) -> Ruler:
    ruler = Ruler(tmp_path)
    ruler.app.save_ruler(
        SaveRuler(tenant=OTHER_AGENCY, ruler_id="padrao", definition=RULER, saved_by="admin")
    )
    return ruler


def test_a_carteira_imported_after_the_daily_run_gets_its_stages_when_the_admin_runs_it(
    ruler: Ruler,
) -> None:
    ruler.app.run_day(MONDAY)  # 06:00: the daily run, nothing imported yet
    ruler.receive(debt("d1"), debt("d2"), today=MONDAY)  # 10:00: the carteira
    assert ruler.published("StageAdvanced") == []

    first = run_now(ruler, day(MONDAY))

    assert first == {
        "date": MONDAY,
        "receivables": 2,
        "stages": 2,
        "reminders": 0,
        "listings": 0,
        "messages": 2,
    }
    stages = [(e.receivable_id, e.to_stage, e.on_date) for e in ruler.published("StageAdvanced")]
    assert stages == [("d1", "questioning", MONDAY), ("d2", "questioning", MONDAY)]
    assert [m.template for m in ruler.published("MessageRequested")] == ["questionamento"] * 2


def test_two_runs_and_the_daily_one_ask_for_one_set_of_actions(ruler: Ruler) -> None:
    ruler.receive(debt("d1"), debt("d2"), today=MONDAY)
    run_now(ruler, day(MONDAY))
    sent = message_keys(ruler)

    second = run_now(ruler, day(MONDAY))
    ruler.app.run_day(MONDAY)  # the daily run read late: nothing either

    assert second == {
        "date": MONDAY,
        "receivables": 2,
        "stages": 0,
        "reminders": 0,
        "listings": 0,
        "messages": 0,
    }
    assert message_keys(ruler) == sent and len(set(sent)) == 2
    assert len(ruler.published("StageAdvanced")) == 2


def test_only_the_admins_tenant_is_run(ruler: Ruler) -> None:
    other = debt("o1").model_copy(
        update={"tenant": OTHER_AGENCY, "event_id": env("o1", 9)["event_id"]}
    )
    ruler.receive(debt("d1"), other, today=MONDAY)

    out = run_now(ruler, day(MONDAY))

    assert out["receivables"] == 1
    assert [e.tenant for e in ruler.published("StageAdvanced")] == [AGENCY]
    ruler.app.run_day(MONDAY)  # the other agency's receivable waits for the daily run
    assert [e.tenant for e in ruler.published("StageAdvanced")] == [AGENCY, OTHER_AGENCY]


def test_who_asked_is_recorded_with_what_the_run_did(ruler: Ruler) -> None:
    ruler.receive(debt("d1"), today=MONDAY)
    run_now(ruler, day(MONDAY))
    run_now(ruler, day(MONDAY))

    runs = ruler.published("RulerRunRequested")
    assert [(r.on_date, r.requested_by, r.stages, r.messages) for r in runs] == [
        (MONDAY, "ana@recupera-sul", 1, 1),
        (MONDAY, "ana@recupera-sul", 0, 0),
    ]
    # The admins' audit trail: who, which day, what it did.
    assert entity_of(runs[0]) == ("ruler_run", "2026-10-19")
    assert actor_of(runs[0]) == "ana@recupera-sul"
    assert summarize(runs[0]) == (
        "Régua processada agora (dia 19/10/2026): 1 contas a receber em aberto, "
        "1 mudança(s) de etapa, 0 lembrete(s), 0 negativação(ões), 1 mensagem(ns)"
    )


def test_a_refused_run_does_nothing(ruler: Ruler) -> None:
    ruler.receive(debt("d1"), today=SATURDAY)
    with pytest.raises(Refused):
        run_now(ruler, day(SATURDAY, business_day=False))
    assert ruler.published("StageAdvanced") == []
    assert ruler.published("RulerRunRequested") == []


# ---- the admin API: POST /api/v1/admin/ruler/run ----------------------------------------------

KEY = "k" * 48


class RulerOverKafka:
    """The ruler service behind the gateway's requester: the request as it travels (JSON),
    answered by the application, refusals as the request server sends them."""

    def __init__(self, ruler: Ruler, today: DayStarted | None) -> None:
        self.ruler = ruler
        self.today = today
        self.timeouts: list[float | None] = []

    async def request(
        self, topic: str, body: bytes, *, key: bytes, timeout: float | None = None
    ) -> bytes:
        self.timeouts.append(timeout)
        request = RulerRequestBody.model_validate_json(body).request
        assert isinstance(request, RunRuler) and key == request.tenant.encode()
        try:
            return self.ruler.app.run_now(request, self.today).model_dump_json().encode()
        except Refused as exc:
            raise RequestRefused(exc.reply().model_dump_json().encode()) from exc


@pytest.fixture
def service(ruler: Ruler) -> RulerOverKafka:
    ruler.receive(debt("d1"), today=MONDAY)
    return RulerOverKafka(ruler, day(MONDAY))


@pytest.fixture
def client(service: RulerOverKafka) -> Iterator[TestClient[Litestar]]:
    ruler_client = ServiceClient("ruler", service, "ruler.requests", RulerRequestBody)  # type: ignore[arg-type]
    app = Litestar(
        route_handlers=[RulerAdminController],
        middleware=[DefineMiddleware(BearerTokenMiddleware)],
        exception_handlers={
            ApiError: handle_api_error,
            HTTPException: handle_http_exception,
            ServiceRefused: handle_service_refused,
        },
        state=State({"signing_key": KEY, "ruler": ruler_client}),
    )
    with TestClient(app) as test_client:
        yield test_client


def headers(role: Role = "admin") -> dict[str, str]:
    token = issue_token(
        KEY, tenant=AGENCY, role=role, subject="ana@recupera-sul", ttl=dt.timedelta(hours=1)
    )
    return {"Authorization": f"Bearer {token}"}


def test_the_admin_runs_the_ruler_with_no_body_or_an_empty_one(
    client: TestClient[Litestar], service: RulerOverKafka
) -> None:
    first = client.post("/api/v1/admin/ruler/run", headers=headers())
    second = client.post("/api/v1/admin/ruler/run", json={}, headers=headers())

    assert first.status_code == 200, first.text
    assert first.json() == {
        "date": "2026-10-19",
        "receivables": 1,
        "stages": 1,
        "reminders": 0,
        "listings": 0,
        "messages": 1,
    }
    assert second.status_code == 200, second.text
    assert (second.json()["stages"], second.json()["messages"]) == (0, 0)
    # A run may take long (a carteira of thousands): the gateway waits longer for it.
    assert service.timeouts == [RUN_WAIT_SECONDS, RUN_WAIT_SECONDS]
    runs = service.ruler.published("RulerRunRequested")
    assert [r.requested_by for r in runs] == ["ana@recupera-sul"] * 2


def test_only_an_admin_runs_it_and_the_body_says_nothing(
    client: TestClient[Litestar], service: RulerOverKafka
) -> None:
    assert client.post("/api/v1/admin/ruler/run", headers=headers("operator")).status_code == 403
    other = client.post("/api/v1/admin/ruler/run", json={"tenant": "x"}, headers=headers())
    assert other.status_code == 422, other.text
    assert service.timeouts == []


def test_on_a_day_that_is_not_a_business_day_the_api_answers_409_saying_so(
    client: TestClient[Litestar], service: RulerOverKafka
) -> None:
    service.today = day(SATURDAY, business_day=False)
    response = client.post("/api/v1/admin/ruler/run", headers=headers())
    assert response.status_code == 409, response.text
    error = response.json()["error"]
    assert error["code"] == "not_business_day"
    assert "não é dia útil" in error["message"]
    assert error["message_en"].startswith("Today is not a business day")

    service.today = None
    response = client.post("/api/v1/admin/ruler/run", headers=headers())
    assert (response.status_code, response.json()["error"]["code"]) == (409, "no_business_date")


# ---- the demo: `cobranca up` runs it once the ruler has read the carteira -------------------


def refusal(status: int, code: str, message: str = "recusado") -> GatewayError:
    return GatewayError(status, {"error": {"status": status, "code": code, "message": message}})


def counts(receivables: int, stages: int = 0, messages: int = 0) -> dict[str, Any]:
    return {
        "date": "2026-10-19",
        "receivables": receivables,
        "stages": stages,
        "reminders": 0,
        "listings": 0,
        "messages": messages,
    }


class DemoGateway:
    """The gateway's answers to the demo's runs, in order."""

    def __init__(self, *answers: dict[str, Any] | GatewayError) -> None:
        self.answers = list(answers)
        self.runs = 0

    def run_ruler(self) -> dict[str, Any]:
        self.runs += 1
        answer = self.answers.pop(0)
        if isinstance(answer, GatewayError):
            raise answer
        return answer


def test_the_ruler_has_read_everything_when_two_runs_see_the_same_receivables() -> None:
    assert not read_everything(None, 3000)
    assert not read_everything(1800, 3000)
    assert not read_everything(0, 0)
    assert read_everything(3000, 3000)


def test_the_demo_runs_until_the_ruler_has_read_the_whole_carteira() -> None:
    gateway = DemoGateway(
        refusal(409, "no_business_date"),  # the ruler has not read the clock yet
        counts(0),  # nor the carteira
        counts(1800, stages=1700, messages=600),  # half of it
        counts(3000, stages=1200, messages=450),  # the rest
        counts(3000),  # nothing new: done
    )
    pauses: list[float] = []
    line = run_ruler_now(gateway, sleep=pauses.append)  # type: ignore[arg-type]
    assert gateway.runs == 5 and len(pauses) == 4
    assert line == (
        "demo tenant: today's ruler run (2026-10-19) over 3000 open receivables: "
        "2900 stages, 1050 messages, 0 reminders, 0 bureau listings"
    )


def test_the_demo_says_why_when_there_is_no_run_and_never_fails() -> None:
    weekend = DemoGateway(refusal(409, "not_business_day", "hoje (17/10/2026) não é dia útil"))
    assert "next business day" in run_ruler_now(weekend, sleep=lambda _: None)  # type: ignore[arg-type]
    assert weekend.runs == 1

    broken = DemoGateway(refusal(500, "internal_error"))
    assert "not run now" in run_ruler_now(broken, sleep=lambda _: None)  # type: ignore[arg-type]

    empty = DemoGateway(*[counts(0)] * 10)
    ticks = itertools.count(step=30.0)
    line = run_ruler_now(
        empty,  # type: ignore[arg-type]
        timeout=120.0,
        sleep=lambda _: None,
        clock=lambda: float(next(ticks)),
    )
    assert "had not read the carteira in time" in line
    assert empty.runs == 4  # bounded


def test_the_demo_reads_the_answer_the_api_gives() -> None:
    assert set(counts(1)) == set(RulerRunOut.model_fields)
