"""A debt is listed only after a message that tells of the listing itself (QA pass 9, D3; CDC
art. 43 §2). On a fresh clone, Felipe's BHS-01528350 (due 07/12/2025, 29 days overdue on
05/01/2026) got one message in its cycle, the e-mail "vamos agendar o pagamento?", and was
listed on 21/01, the day it reached negativação (remessa-20260121.txt): the ruler counted any
stage's message as the prior notice, and none of the demo's stage texts mentions the credit
bureau.

Now only the listing notice counts (`listing_notice_actions`, asked with `ListingNoticeAsked`,
whose variables carry `data_negativacao`; for a ruler that names none, its bureau stage's own
messages): a debt that walked the stages is sent the notice the day it reaches the bureau stage
and listed N days after the notice was sent, as a debt imported very overdue is."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from contracts.ruler import RulerDefinitionV4, SendMessage, SendToBureau, StageSpec
from contracts.ruler_requests import SaveRuler
from services.ruler.application.service import LISTING_HELD, LISTING_WAITS
from services.ruler.domain.stages import listing_notices
from tests.unit.test_ruler_app import AGENCY, RULER, Ruler, debt, sent
from tests.unit.test_ruler_listing_notice import cached_stage, listings, notices, run_days
from tests.unit.test_ruler_listing_notice_sent import failed, held

# The QA's days: the clock starts on Monday 05/01/2026; Felipe's debt is 29 days overdue then.
FELIPE_DUE = dt.date(2025, 12, 7)
START = dt.date(2026, 1, 5)
# 45 days overdue: Wednesday 21/01/2026, the day the QA saw him listed.
BUREAU_DAY = dt.date(2026, 1, 21)
NOTICE = "recupera-sul|felipe|listing_notice|0|message:sms:aviso_negativacao"

# The demo's routine: stages by e-mail and WhatsApp, a dedicated SMS notice, 10 days.
DEMO = RULER.model_copy(
    update={
        "listing_notice_days": 10,
        "listing_notice_actions": [SendMessage(channel="sms", template="aviso_negativacao")],
    }
)


def with_ruler(tmp_path: Path, definition: RulerDefinitionV4) -> Ruler:
    found = Ruler(tmp_path)
    found.app.save_ruler(
        SaveRuler(tenant=AGENCY, ruler_id="padrao", definition=definition, saved_by="admin")
    )
    return found


@pytest.fixture
def ruler(tmp_path: Path) -> Ruler:
    """The demo's ruler; the messaging service sends each day's messages after the run."""
    found = with_ruler(tmp_path, DEMO)
    found.receive(debt("felipe", due=FELIPE_DUE))
    return found


def test_felipe_is_sent_the_listing_notice_when_he_reaches_the_bureau_stage(
    ruler: Ruler,
) -> None:
    run_days(ruler, START, BUREAU_DAY - dt.timedelta(days=1))
    # His cycle's message so far: the stage's "questionamento", sent on 05/01; no notice.
    assert [m.template for m in ruler.published("MessageRequested")] == ["questionamento"]
    run_days(ruler, BUREAU_DAY, BUREAU_DAY)
    # Not listed the day he reaches negativação: the notice of the listing is asked first.
    assert [e.to_stage for e in ruler.published("StageAdvanced")][-1] == "credit_bureau"
    assert listings(ruler) == []
    assert notices(ruler) == [(NOTICE, "aviso_negativacao", "31/01/2026")]
    assert cached_stage(ruler, "felipe") == LISTING_WAITS
    # Sent on 21/01: 31/01 is a Saturday, so listed on Monday 02/02, once.
    run_days(ruler, dt.date(2026, 1, 22), dt.date(2026, 2, 27))
    assert listings(ruler) == [("felipe", dt.date(2026, 2, 2))]
    assert len(ruler.bureau.read_records()) == 1
    assert len(notices(ruler)) == 1


def test_a_listing_notice_that_could_not_be_sent_holds_the_listing_though_the_stages_went(
    tmp_path: Path,
) -> None:
    """His stage messages went out; the SMS notice did not (no phone): not listed, held."""
    ruler = with_ruler(tmp_path, DEMO)
    ruler.messaging_sends = False
    ruler.receive(debt("felipe", due=FELIPE_DUE))
    run_days(ruler, START, BUREAU_DAY)
    [questionamento] = [
        m.key for m in ruler.published("MessageRequested") if "|questioning|" in m.key
    ]
    ruler.messages_read(sent(questionamento, START))
    ruler.messages_read(failed(NOTICE, BUREAU_DAY, "no_contact", "devedor sem telefone"))
    run_days(ruler, BUREAU_DAY, dt.date(2026, 3, 31))
    assert listings(ruler) == []
    assert held(ruler) == [("felipe", BUREAU_DAY, [NOTICE], ["devedor sem telefone"])]
    assert cached_stage(ruler, "felipe") == LISTING_HELD


def test_a_ruler_with_no_notice_of_its_own_sends_its_latest_stage_message_as_the_notice(
    tmp_path: Path,
) -> None:
    """`listing_notice_actions` empty: the latest earlier stage's messages are asked again, as
    the notice, with `data_negativacao` (the agency's template says it), and the listing
    waits for them; not the stage message sent weeks before."""
    ruler = with_ruler(tmp_path, RULER)
    ruler.receive(debt("felipe", due=FELIPE_DUE))
    run_days(ruler, START, BUREAU_DAY)
    assert listings(ruler) == []
    assert notices(ruler) == [
        (
            "recupera-sul|felipe|listing_notice|0|message:whatsapp:questionamento",
            "questionamento",
            "31/01/2026",
        )
    ]
    run_days(ruler, dt.date(2026, 1, 22), dt.date(2026, 2, 27))
    assert listings(ruler) == [("felipe", dt.date(2026, 2, 2))]


def test_the_bureau_stages_own_message_does_not_replace_the_rulers_notice(
    tmp_path: Path,
) -> None:
    """A ruler that names its notice gets it asked, whatever else the bureau stage sends."""
    definition = DEMO.model_copy(
        update={
            "stages": [
                *RULER.stages[:-1],
                StageSpec(
                    stage="credit_bureau",
                    day=45,
                    actions=[SendToBureau(), SendMessage(channel="email", template="agendar")],
                ),
            ]
        }
    )
    ruler = with_ruler(tmp_path, definition)
    ruler.receive(debt("felipe", due=FELIPE_DUE))
    run_days(ruler, START, BUREAU_DAY)
    assert listings(ruler) == []
    assert [n[0] for n in notices(ruler)] == [NOTICE]
    run_days(ruler, dt.date(2026, 1, 22), dt.date(2026, 2, 27))
    assert listings(ruler) == [("felipe", dt.date(2026, 2, 2))]


def test_which_messages_count_as_the_notice_of_the_listing() -> None:
    keys = [
        "t|d|notice|0|message:email:aviso",
        "t|d|questioning|0|message:whatsapp:questionamento",
        "t|d|credit_bureau|1|message:sms:negativado",
        "t|d|listing_notice|0|message:sms:aviso_negativacao",
    ]
    assert listing_notices(DEMO, keys) == ["t|d|listing_notice|0|message:sms:aviso_negativacao"]
    # A ruler naming no notice: its bureau stage's own message is the notice.
    assert listing_notices(RULER, keys) == [
        "t|d|credit_bureau|1|message:sms:negativado",
        "t|d|listing_notice|0|message:sms:aviso_negativacao",
    ]
    assert listing_notices(DEMO, keys[:2]) == []
