"""A listing at the credit bureau only after its notice was actually sent (QA pass 8, N5; CDC
art. 43 §2). On a fresh clone, `cobranca clock advance --days 27` (17/04 -> 14/05/2026): Iara's
debt reached negativação on 30/04 with no message before, the ruler asked the notice
("... a partir de 10/05/2026") and listed her on 11/05 (remessa-20260511.txt), while the
messaging service sent that SMS at the end of the run, on business day 14/05: after the
listing, with a date already past in it. The ruler counted the notice's days from when it
asked the notice, not from when it went out.

Now the ruler reads what became of its messages (`messaging.messages`): a receivable is listed
on the first business day at least `listing_notice_days` after the business date a notice of
its cycle was sent (`MessageSent`), never before; a run does not use a notice sent on a later
business day (a catch-up's runs are behind the messaging service's clock); and when none of
its notices could be sent (`MessageFailed`) the listing is held and said so
(`NegativationHeld`: "negativação suspensa: aviso prévio não enviado")."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pytest

from contracts.messaging import MessageFailed, MessageFailedV2
from contracts.ruler import SendMessage
from contracts.ruler_requests import SaveRuler
from services.ruler.application.service import LISTING_HELD, LISTING_WAITS
from tests.unit.test_ruler_app import AGENCY, JOAO, RULER, Ruler, debt, env, sent
from tests.unit.test_ruler_listing_notice import cached_stage, listings, run_days

# The QA's days: the debt reaches negativação on Thursday 30/04/2026, 407 days overdue.
ASKED_ON = dt.date(2026, 4, 30)
DUE = ASKED_ON - dt.timedelta(days=407)
NOTICE = "recupera-sul|iara|listing_notice|0|message:sms:aviso_negativacao"
# Asked on 30/04, 10 days: listed on Monday 11/05 when the notice went out on 30/04.
LISTED_WHEN_SENT_AT_ONCE = dt.date(2026, 5, 11)


@pytest.fixture
def ruler(tmp_path: Path) -> Ruler:
    """The demo ruler's dedicated notice (SMS aviso_negativacao, 10 days); the messaging
    service says nothing unless the test does (`messages_read`)."""
    found = Ruler(tmp_path)
    definition = RULER.model_copy(
        update={
            "listing_notice_days": 10,
            "listing_notice_actions": [SendMessage(channel="sms", template="aviso_negativacao")],
        }
    )
    found.app.save_ruler(
        SaveRuler(tenant=AGENCY, ruler_id="padrao", definition=definition, saved_by="admin")
    )
    found.messaging_sends = False
    found.receive(debt("iara", due=DUE))
    return found


def failed(key: str, on: dt.date, rule: str, reason: str) -> MessageFailed:
    at = dt.datetime.combine(on, dt.time(10), tzinfo=dt.UTC)
    fields = {
        **env(f"msg-{key}", 2),
        "event_id": uuid.uuid5(uuid.NAMESPACE_URL, f"failed|{key}"),
        "message_id": f"msg-{key}",
        "key": key,
        "document": JOAO,
        "channel": "sms",
        "template": key.rsplit(":", 1)[-1],
        "reason": reason,
        "attempts": 0,
        "failed_at": at,
    }
    if rule == "collection_ended":
        return MessageFailedV2(**fields, rule=rule)
    return MessageFailed(**fields, rule=rule)  # type: ignore[arg-type]


def held(ruler: Ruler) -> list[tuple[str, dt.date, list[str], list[str]]]:
    return [
        (e.receivable_id, e.on_date, e.notice_keys, e.reasons)
        for e in ruler.published("NegativationHeld")
    ]


def test_a_notice_sent_three_days_after_it_was_asked_lists_ten_days_after_it_was_sent(
    ruler: Ruler,
) -> None:
    run_days(ruler, ASKED_ON, ASKED_ON)
    [notice] = [m for m in ruler.published("MessageRequested")]
    assert notice.key == NOTICE
    # "a partir de 10/05/2026" if it goes today; the messaging service counts the 10 days
    # again from the day it goes out (tests/unit/test_messaging_listing_notice_date.py).
    assert notice.variables["data_negativacao"] == "10/05/2026"
    assert notice.variables["prazo_negativacao"] == "10"
    # Held by its window (or a provider slow to answer): it goes out on Sunday 03/05.
    run_days(ruler, ASKED_ON, dt.date(2026, 5, 1))
    ruler.messages_read(sent(NOTICE, dt.date(2026, 5, 3)))
    # Not on the day 10 days after it was asked (Monday 11/05), nor before 13/05...
    run_days(ruler, dt.date(2026, 5, 4), dt.date(2026, 5, 12))
    assert listings(ruler) == []
    assert cached_stage(ruler, "iara") == LISTING_WAITS
    # ...on 03/05 + 10 = Wednesday 13/05, once.
    run_days(ruler, dt.date(2026, 5, 13), dt.date(2026, 5, 29))
    assert listings(ruler) == [("iara", dt.date(2026, 5, 13))]
    assert [r["record_type"] for r in ruler.bureau.read_records()] == ["I"]
    assert held(ruler) == []


def test_the_qa_catch_up_does_not_list_before_the_notice_went_out(ruler: Ruler) -> None:
    """`clock advance --days 27`: the messaging service's clock is at 14/05 while the ruler's
    runs go over 30/04..14/05 one by one; the notice goes out on business day 14/05, and its
    MessageSent is read while the runs are still at 08/05."""
    run_days(ruler, ASKED_ON, dt.date(2026, 5, 8))
    ruler.messages_read(sent(NOTICE, dt.date(2026, 5, 14)))
    run_days(ruler, dt.date(2026, 5, 11), dt.date(2026, 5, 22))
    # Not in the remessa of 11/05 (the day the runs of 30/04 would have said), nor any
    # before 14/05 + 10 = Sunday 24/05...
    assert listings(ruler) == []
    assert ruler.bureau.read_records() == []
    # ...listed on Monday 25/05.
    run_days(ruler, dt.date(2026, 5, 25), dt.date(2026, 5, 29))
    assert listings(ruler) == [("iara", dt.date(2026, 5, 25))]


def test_a_notice_sent_the_day_it_was_asked_lists_as_before(ruler: Ruler) -> None:
    run_days(ruler, ASKED_ON, ASKED_ON)
    ruler.messages_read(sent(NOTICE, ASKED_ON))
    run_days(ruler, ASKED_ON, dt.date(2026, 5, 29))
    assert listings(ruler) == [("iara", LISTED_WHEN_SENT_AT_ONCE)]


def test_the_notice_read_twice_lists_once_on_the_same_day(ruler: Ruler) -> None:
    run_days(ruler, ASKED_ON, ASKED_ON)
    # Read again (a restart reads messaging.messages from the start), and again late.
    ruler.messages_read(sent(NOTICE, ASKED_ON), sent(NOTICE, ASKED_ON))
    ruler.messages_read(sent(NOTICE, ASKED_ON))
    run_days(ruler, ASKED_ON, dt.date(2026, 5, 29))
    ruler.messages_read(sent(NOTICE, ASKED_ON))
    run_days(ruler, ASKED_ON, dt.date(2026, 5, 29))
    assert listings(ruler) == [("iara", LISTED_WHEN_SENT_AT_ONCE)]
    assert len(ruler.bureau.read_records()) == 1


@pytest.mark.parametrize(
    ("rule", "reason"),
    [
        ("no_contact", "devedor sem telefone"),
        ("opted_out", "o devedor pediu para não receber mensagens por sms"),
        ("retries_exhausted", "provedor fora do ar (após 5 tentativas)"),
        ("refused", "número inválido"),
    ],
)
def test_a_notice_that_could_not_be_sent_holds_the_listing_and_says_so(
    ruler: Ruler, rule: str, reason: str
) -> None:
    run_days(ruler, ASKED_ON, ASKED_ON)
    failed_on = dt.date(2026, 5, 4)
    ruler.messages_read(failed(NOTICE, failed_on, rule, reason))
    run_days(ruler, ASKED_ON, dt.date(2026, 6, 30))
    # Never listed...
    assert listings(ruler) == []
    assert ruler.bureau.read_records() == []
    # ...and the agency told once, on the first run that knew it.
    assert held(ruler) == [("iara", failed_on, [NOTICE], [reason])]
    [event] = ruler.published("NegativationHeld")
    assert (event.creditor, event.contract, event.amount_cents) == (
        "Banco Horizonte",
        "C-iara",
        100_000,
    )
    assert cached_stage(ruler, "iara") == LISTING_HELD
    # A MessageSent can never follow a failure of the same message; read again, nothing.
    ruler.messages_read(failed(NOTICE, failed_on, rule, reason))
    run_days(ruler, dt.date(2026, 7, 1), dt.date(2026, 7, 10))
    assert len(held(ruler)) == 1


def test_a_failure_not_yet_known_on_the_runs_day_holds_nothing_yet(ruler: Ruler) -> None:
    run_days(ruler, ASKED_ON, ASKED_ON)
    ruler.messages_read(failed(NOTICE, dt.date(2026, 5, 14), "no_contact", "sem telefone"))
    run_days(ruler, ASKED_ON, dt.date(2026, 5, 13))
    assert held(ruler) == []
    assert cached_stage(ruler, "iara") == LISTING_WAITS
    run_days(ruler, dt.date(2026, 5, 14), dt.date(2026, 5, 14))
    assert [h[1] for h in held(ruler)] == [dt.date(2026, 5, 14)]


def test_a_notice_not_sent_because_the_debt_left_holds_nothing(ruler: Ruler) -> None:
    run_days(ruler, ASKED_ON, ASKED_ON)
    ruler.messages_read(failed(NOTICE, ASKED_ON, "collection_ended", "a dívida foi quitada"))
    run_days(ruler, ASKED_ON, dt.date(2026, 5, 29))
    assert listings(ruler) == []
    assert held(ruler) == []


def test_a_debt_that_walked_the_stages_waits_for_the_notice_of_the_listing(
    tmp_path: Path,
) -> None:
    """The demo's stages: aviso by e-mail on day 3 (Monday 05/10/2026, day 4), questionamento
    by WhatsApp on day 10 (Monday 12/10, day 11), the bureau on day 45 (Monday 16/11). The
    debtor has no e-mail: the aviso failed; the questionamento went out on 12/10. Neither
    tells of the listing (QA pass 9, D3): on 16/11 the notice is asked, and the debt listed 10
    days after it was sent; held when it could not be sent, whatever the stages did."""
    due = dt.date(2026, 10, 1)
    for receivable, noticed in (("d1", True), ("d2", False)):
        (tmp_path / receivable).mkdir()
        ruler = Ruler(tmp_path / receivable)
        ruler.messaging_sends = False
        ruler.receive(debt(receivable, due=due))
        run_days(ruler, due, dt.date(2026, 10, 12))
        keys = [m.key for m in ruler.published("MessageRequested") if m.purpose == "stage"]
        aviso, questionamento = keys
        ruler.messages_read(failed(aviso, dt.date(2026, 10, 5), "no_contact", "sem e-mail"))
        ruler.messages_read(sent(questionamento, dt.date(2026, 10, 12)))
        run_days(ruler, dt.date(2026, 10, 13), dt.date(2026, 11, 16))
        assert listings(ruler) == []
        [notice] = [
            m.key for m in ruler.published("MessageRequested") if "|listing_notice|" in m.key
        ]
        if noticed:
            ruler.messages_read(sent(notice, dt.date(2026, 11, 16)))
        else:
            ruler.messages_read(failed(notice, dt.date(2026, 11, 16), "opted_out", "pediu SAIR"))
        run_days(ruler, dt.date(2026, 11, 17), dt.date(2026, 11, 30))
        if noticed:
            assert listings(ruler) == [(receivable, dt.date(2026, 11, 26))]
            assert held(ruler) == []
        else:
            assert listings(ruler) == []
            assert held(ruler) == [(receivable, dt.date(2026, 11, 17), [notice], ["pediu SAIR"])]


def test_listings_held_on_one_run_are_told_once_for_the_tenant_not_once_per_debt(
    ruler: Ruler, caplog: pytest.LogCaptureFixture
) -> None:
    """A carteira without phones holds thousands of listings on one run (the demo's first
    day held 469): the run says how many, once; each debt's is on its own timeline."""
    for name in ("jose", "ana"):
        ruler.receive(debt(name, due=DUE))
    run_days(ruler, ASKED_ON, ASKED_ON)
    failed_on = dt.date(2026, 5, 4)
    for name in ("iara", "jose", "ana"):
        key = NOTICE.replace("|iara|", f"|{name}|")
        ruler.messages_read(failed(key, failed_on, "no_contact", "devedor sem telefone"))
    caplog.clear()
    with caplog.at_level("WARNING", logger="services.ruler.application.service"):
        run_days(ruler, failed_on, failed_on)
    assert len(held(ruler)) == 3
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1
    assert warnings[0].startswith(f"{AGENCY}: 3 listing(s) at the bureau held on 2026-05-04")
