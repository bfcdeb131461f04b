"""A listing's notice never goes out with a date already past (QA pass 8, N5). The ruler asks
the notice the day the debt reaches negativação, saying "a partir de" that day plus its notice
days (`data_negativacao`, with `prazo_negativacao`, the days); the ruler lists only from the
business day the notice was sent plus those days. An SMS that waits (its window, downtime, a
`cobranca clock advance` whose messages go at the clock's latest day) is rendered again as it
goes, with the date counted from the day it is sent: the date the ruler will use. Sent on the
day it was asked, it goes as it was rendered."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from contracts.ruler import MessageRequested
from services.messaging.domain.records import Message, message_aggregate_id
from tests.unit.test_messaging_app import AGENCY, FRIDAY_NIGHT, SATURDAY_8
from tests.unit.test_messaging_collection_ended import Collection, ruler_message, sent_bodies

KEY = "recupera-sul|d1|listing_notice|0|message:sms:aviso_negativacao"
BODY = (
    "Sua dívida de {{ valor }} poderá ser incluída nos cadastros de proteção ao crédito a "
    "partir de {{ data_negativacao }}."
)


def notice(data_negativacao: str, prazo: str | None = "10") -> MessageRequested:
    """The ruler's notice, asked on Friday 27/11/2026 at night."""
    message = ruler_message(KEY, version=3, template="aviso_negativacao")
    variables = {**message.variables, "data_negativacao": data_negativacao}
    if prazo is not None:
        variables["prazo_negativacao"] = prazo
    return message.model_copy(update={"variables": variables, "stage": "credit_bureau"})


@pytest.fixture
def collection(tmp_path: Path) -> Collection:
    found = Collection(tmp_path)
    found.app.save_template(found.template("aviso_negativacao", BODY))
    return found


def test_a_notice_sent_days_after_it_was_asked_says_the_day_counted_from_its_sending(
    collection: Collection, tmp_path: Path
) -> None:
    app = collection.app
    app.handle_requests([notice("07/12/2026")], FRIDAY_NIGHT)
    # The messaging service down (or the clock advanced): it goes out on Thursday 03/12.
    later = SATURDAY_8 + dt.timedelta(days=5)
    assert app.dispatch_due(later) == 1
    assert sent_bodies(tmp_path) == [
        "Sua dívida de R$ 150,00 poderá ser incluída nos cadastros de proteção ao crédito a "
        "partir de 13/12/2026."
    ]
    message = app.repository.get(message_aggregate_id(AGENCY, KEY))
    assert isinstance(message, Message)
    assert message.status == "sent"
    assert message.variables["data_negativacao"] == "13/12/2026"
    # The change is kept with what it said before.
    [dated] = [
        app.mapper.to_domain_event(n)
        for n in app.recorder.select_notifications(1, 1000)
        if n.topic.endswith("NoticeDated")
    ]
    assert dated.reason == "data da negativação contada do envio: a mensagem dizia 07/12/2026"  # type: ignore[attr-defined]


def test_a_notice_sent_the_next_morning_keeps_its_date_when_it_is_not_past(
    collection: Collection, tmp_path: Path
) -> None:
    app = collection.app
    # Asked on Saturday 28/11 at 08:00 for 08/12; sent at once.
    app.handle_requests([notice("08/12/2026")], SATURDAY_8)
    assert app.dispatch_due(SATURDAY_8) == 1
    assert sent_bodies(tmp_path)[0].endswith("a partir de 08/12/2026.")


def test_a_notice_asked_before_the_ruler_said_its_days_goes_as_it_was_rendered(
    collection: Collection, tmp_path: Path
) -> None:
    app = collection.app
    app.handle_requests([notice("07/12/2026", prazo=None)], FRIDAY_NIGHT)
    assert app.dispatch_due(SATURDAY_8 + dt.timedelta(days=5)) == 1
    assert sent_bodies(tmp_path)[0].endswith("a partir de 07/12/2026.")


def test_a_notice_whose_date_cannot_be_read_says_the_day_counted_from_its_sending(
    collection: Collection, tmp_path: Path
) -> None:
    """A date written otherwise ("07 de dezembro") is not trusted: the text goes out with the
    day the ruler will list from, never with a day that may already be past."""
    app = collection.app
    app.handle_requests([notice("07 de dezembro")], FRIDAY_NIGHT)
    assert app.dispatch_due(SATURDAY_8 + dt.timedelta(days=5)) == 1
    assert sent_bodies(tmp_path)[0].endswith("a partir de 13/12/2026.")
