"""No debtor listed at the credit bureau without a notice first (CDC art. 43 §2; seed 002: the
debtor "que recebeu o aviso ... e não realizou o pagamento, avança"). A receivable is listed
only once a message of its collection was asked at least the ruler's `listing_notice_days`
(10 by default) before, in its current cycle; one that reaches the credit bureau stage without
any is sent the notice first and listed on the first business day at or after notice + N."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa

from contracts.negotiation import AgreementClosed
from contracts.portfolio import DebtReopened, DebtSettled
from contracts.ruler import RulerDefinitionV4, SendMessage, SendToBureau, StageSpec
from contracts.ruler_requests import SaveRuler
from services.ruler.adapters.receivables import receivables
from services.ruler.application.service import LISTING_WAITS
from services.ruler.domain.stages import listing_notice
from tests.unit.test_ruler_app import AGENCY, DUE, JOAO, RULER, Ruler, agreement_fields, debt, env

# The QA's first business days: the clock advanced to Wednesday 04/11/2026.
DAY_1 = dt.date(2026, 11, 4)
# 899 days overdue on day 1.
VERY_OLD = DAY_1 - dt.timedelta(days=899)
# Day 1 + 10 is Saturday 14/11, and 15/11 a Sunday: the first business day is Monday 16/11.
LISTING_DAY = dt.date(2026, 11, 16)


def business_days(start: dt.date, end: dt.date) -> list[dt.date]:
    days = [start + dt.timedelta(days=n) for n in range((end - start).days + 1)]
    return [d for d in days if d.weekday() < 5]


def run_days(ruler: Ruler, start: dt.date, end: dt.date) -> None:
    for day in business_days(start, end):
        ruler.app.run_day(day)


def listings(ruler: Ruler) -> list[tuple[str, dt.date]]:
    return [(e.receivable_id, e.on_date) for e in ruler.published("DebtorNegativated")]


def notices(ruler: Ruler) -> list[tuple[str, str, str]]:
    return [
        (m.key, m.template, m.variables["data_negativacao"])
        for m in ruler.published("MessageRequested")
        if "|listing_notice|" in m.key
    ]


def cached_stage(ruler: Ruler, receivable_id: str) -> str:
    with ruler.engine.connect() as conn:
        return str(
            conn.execute(
                sa.select(receivables.c.stage).where(receivables.c.receivable_id == receivable_id)
            ).scalar_one()
        )


def settled(debt_id: str, on: dt.date, version: int = 2) -> DebtSettled:
    return DebtSettled(
        **env(debt_id, version),
        debt_id=debt_id,
        document=JOAO,
        creditor="Banco Horizonte",
        contract=f"C-{debt_id}",
        installment="1",
        agreement_id="a1",
        settled_on=on,
        paid_cents=100_000,
    )


@pytest.fixture
def ruler(tmp_path: Path) -> Ruler:
    return Ruler(tmp_path)


def test_a_debt_imported_899_days_overdue_is_noticed_on_day_1_and_listed_ten_days_later(
    ruler: Ruler,
) -> None:
    ruler.receive(debt("old", due=VERY_OLD))
    ruler.app.run_day(DAY_1)
    # The stage is reached on day 1, with its own actions only (no burst of stale notices)...
    [stage] = ruler.published("StageAdvanced")
    assert (stage.from_stage, stage.to_stage, stage.on_date) == ("current", "credit_bureau", DAY_1)
    assert [a.kind for a in stage.actions] == ["credit_bureau"]
    # ...but the listing waits: the debtor is first sent the notice, the messages of the
    # latest stage before the bureau's that has any (questionamento).
    [notice] = [m for m in ruler.published("MessageRequested") if "|listing_notice|" in m.key]
    assert notice.key == "recupera-sul|old|listing_notice|0|message:whatsapp:questionamento"
    assert (notice.purpose, notice.stage, notice.channel) == ("stage", "credit_bureau", "whatsapp")
    assert notice.variables["dias_atraso"] == "899"
    assert notice.variables["data_negativacao"] == "14/11/2026"
    assert listings(ruler) == []
    assert cached_stage(ruler, "old") == LISTING_WAITS

    # Not on any business day before day 1 + 10 (Friday 13/11 included)...
    run_days(ruler, DAY_1, LISTING_DAY - dt.timedelta(days=1))
    assert listings(ruler) == []
    assert ruler.bureau.read_records() == []
    # ...listed on the first business day at or after it, once, with the stage's key.
    run_days(ruler, LISTING_DAY, LISTING_DAY + dt.timedelta(days=20))
    run_days(ruler, DAY_1, LISTING_DAY + dt.timedelta(days=20))  # the days again: nothing new
    assert listings(ruler) == [("old", LISTING_DAY)]
    assert ruler.bureau.listed_keys() == {"recupera-sul|old|credit_bureau|0|credit_bureau"}
    assert [r["record_type"] for r in ruler.bureau.read_records()] == ["I"]
    assert len(notices(ruler)) == 1
    assert len(ruler.published("StageAdvanced")) == 1
    assert cached_stage(ruler, "old") == "credit_bureau"


def test_a_debt_paid_while_its_listing_waits_is_never_listed(ruler: Ruler) -> None:
    ruler.receive(debt("old", due=VERY_OLD))
    ruler.app.run_day(DAY_1)
    assert len(notices(ruler)) == 1
    paid_on = DAY_1 + dt.timedelta(days=5)
    ruler.receive(settled("old", paid_on), today=paid_on)
    run_days(ruler, paid_on, LISTING_DAY + dt.timedelta(days=30))
    assert listings(ruler) == []
    assert ruler.published("NegativationRemoved") == []
    assert ruler.bureau.read_records() == []
    [left] = ruler.published("ReceivableLeftRuler")
    assert (left.reason, left.last_stage) == ("settled", "credit_bureau")


def test_a_debt_that_walked_the_stages_is_sent_the_notice_of_the_listing_on_its_stage_day(
    ruler: Ruler,
) -> None:
    # Aviso on day 3 (Monday 05/10, day 4), the bureau on day 45 (Monday 16/11, day 46): the
    # stages' messages say nothing of the listing, so the notice is asked that day (this ruler
    # names none: its latest stage's message, with data_negativacao) and the debt listed 10
    # days after it was sent (QA pass 9, D3; test_ruler_notice_of_the_listing.py).
    ruler.receive(debt("d1"))
    run_days(ruler, DUE, DUE + dt.timedelta(days=60))
    assert notices(ruler) == [
        (
            "recupera-sul|d1|listing_notice|0|message:whatsapp:questionamento",
            "questionamento",
            "26/11/2026",
        )
    ]
    assert listings(ruler) == [("d1", DUE + dt.timedelta(days=56))]


def test_a_debt_back_from_a_broken_agreement_is_noticed_again_before_it_is_listed_again(
    ruler: Ruler,
) -> None:
    ruler.receive(debt("d1"))
    run_days(ruler, DUE, DUE + dt.timedelta(days=57))
    first_listing = DUE + dt.timedelta(days=56)
    assert listings(ruler) == [("d1", first_listing)]
    closed_on = DUE + dt.timedelta(days=58)  # Saturday 28/11
    agreement = AgreementClosed(**agreement_fields(closed_on), debtor_name="João da Silva")
    ruler.receive(agreement, today=closed_on)
    assert [e.reason for e in ruler.published("NegativationRemoved")] == ["renegotiated"]
    # The agreement breaks: the debt is back in collection, a new cycle from the start.
    broken_on = dt.date(2026, 12, 9)  # a Wednesday
    reopened = DebtReopened(
        **env("d1", 3),
        debt_id="d1",
        document=JOAO,
        creditor="Banco Horizonte",
        contract="C-d1",
        installment="1",
        agreement_id="a1",
        reopened_on=broken_on,
        paid_cents=0,
        balance_cents=100_000,
    )
    ruler.receive(reopened, today=broken_on)
    ruler.app.run_day(broken_on)
    # Its notices of the first cycle do not count: it is noticed again, with the new cycle's
    # keys, and not listed the same day.
    assert notices(ruler)[1:] == [
        (
            "recupera-sul|d1#2|listing_notice|0|message:whatsapp:questionamento",
            "questionamento",
            "19/12/2026",
        ),
    ]
    assert listings(ruler) == [("d1", first_listing)]
    run_days(ruler, broken_on, dt.date(2026, 12, 18))
    assert listings(ruler) == [("d1", first_listing)]
    # 19/12 is a Saturday: listed again on Monday 21/12, with the new cycle's key.
    run_days(ruler, dt.date(2026, 12, 19), dt.date(2026, 12, 31))
    assert listings(ruler) == [("d1", first_listing), ("d1", dt.date(2026, 12, 21))]
    assert ruler.bureau.listed_keys() == {"recupera-sul|d1#2|credit_bureau|0|credit_bureau"}


def test_a_debt_messaged_by_a_stage_days_before_the_bureau_is_still_sent_the_notice(
    ruler: Ruler,
) -> None:
    # Imported 40 days overdue on Wednesday 04/11: questionamento that day (it says nothing of
    # the listing), the bureau stage on day 45 (Monday 09/11): the notice is asked then, and
    # the debt listed on 09/11 + 10 = Thursday 19/11.
    ruler.receive(debt("d40", due=DAY_1 - dt.timedelta(days=40)))
    run_days(ruler, DAY_1, dt.date(2026, 11, 18))
    assert [e.to_stage for e in ruler.published("StageAdvanced")] == [
        "questioning",
        "credit_bureau",
    ]
    assert notices(ruler) == [
        (
            "recupera-sul|d40|listing_notice|0|message:whatsapp:questionamento",
            "questionamento",
            "19/11/2026",
        )
    ]
    assert listings(ruler) == []
    run_days(ruler, dt.date(2026, 11, 19), dt.date(2026, 11, 20))
    assert listings(ruler) == [("d40", dt.date(2026, 11, 19))]


def dedicated(days: int) -> RulerDefinitionV4:
    return RULER.model_copy(
        update={
            "listing_notice_days": days,
            "listing_notice_actions": [SendMessage(channel="sms", template="aviso_negativacao")],
        }
    )


def test_a_ruler_names_its_own_notice_and_its_days(ruler: Ruler) -> None:
    ruler.app.save_ruler(
        SaveRuler(tenant=AGENCY, ruler_id="padrao", definition=dedicated(3), saved_by="admin")
    )
    ruler.receive(debt("old", due=VERY_OLD))
    run_days(ruler, DAY_1, DAY_1 + dt.timedelta(days=10))
    assert notices(ruler) == [
        (
            "recupera-sul|old|listing_notice|0|message:sms:aviso_negativacao",
            "aviso_negativacao",
            "07/11/2026",
        ),
    ]
    # 07/11 is a Saturday: Monday 09/11.
    assert listings(ruler) == [("old", dt.date(2026, 11, 9))]


def test_with_zero_days_the_listing_waits_for_the_notice_to_be_sent(
    ruler: Ruler,
) -> None:
    ruler.app.save_ruler(
        SaveRuler(tenant=AGENCY, ruler_id="padrao", definition=dedicated(0), saved_by="admin")
    )
    ruler.receive(debt("old", due=VERY_OLD))
    ruler.app.run_day(DAY_1)
    # The run asks the notice; it goes out after the run: not listed by that run...
    assert listings(ruler) == []
    # ...but by the next one once it was sent that day (a run by hand later that day).
    ruler.app.run_day(DAY_1)
    assert listings(ruler) == [("old", DAY_1)]
    [notice] = ruler.published("MessageRequested")
    [listed] = ruler.published("DebtorNegativated")
    assert notice.template == "aviso_negativacao"
    # Stored (and published) in that order: the notice first.
    assert notice.aggregate_version < listed.aggregate_version


def test_a_ruler_with_no_message_at_all_never_lists_unnoticed(
    ruler: Ruler, caplog: pytest.LogCaptureFixture
) -> None:
    silent = RulerDefinitionV4(
        name="Só negativação",
        stages=[StageSpec(stage="credit_bureau", day=30, actions=[SendToBureau()])],
    )
    ruler.app.save_ruler(
        SaveRuler(tenant=AGENCY, ruler_id="padrao", definition=silent, saved_by="admin")
    )
    ruler.receive(debt("old", due=VERY_OLD))
    run_days(ruler, DAY_1, DAY_1 + dt.timedelta(days=30))
    assert [e.to_stage for e in ruler.published("StageAdvanced")] == ["credit_bureau"]
    assert listings(ruler) == []
    assert "no message to notice the debtor first" in caplog.text
    assert listing_notice(silent, AGENCY, "old") == []


def test_the_bureau_stages_own_message_is_the_notice(ruler: Ruler) -> None:
    warned = RulerDefinitionV4(
        name="Aviso na negativação",
        stages=[
            StageSpec(
                stage="credit_bureau",
                day=30,
                actions=[SendToBureau(), SendMessage(channel="sms", template="negativado")],
            )
        ],
    )
    ruler.app.save_ruler(
        SaveRuler(tenant=AGENCY, ruler_id="padrao", definition=warned, saved_by="admin")
    )
    ruler.receive(debt("old", due=VERY_OLD))
    run_days(ruler, DAY_1, DAY_1 + dt.timedelta(days=30))
    assert notices(ruler) == []
    assert [m.template for m in ruler.published("MessageRequested")] == ["negativado"]
    assert listings(ruler) == [("old", LISTING_DAY)]
