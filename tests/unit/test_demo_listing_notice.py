"""The demo ruler tells of a listing by SMS and by e-mail: a debtor the carteira gave an
e-mail but no phone is told, and listed 10 days after the e-mail went out; only a debtor
neither could reach is held (make up's demo had 469 of its debts held for want of a
phone when the notice went by SMS alone; 71 with the e-mail too)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from cobranca.demo_messaging import DEMO_TEMPLATES
from cobranca.demo_ruler import demo_ruler
from contracts.ruler import RulerDefinitionV4
from contracts.ruler_requests import SaveRuler
from services.messaging.domain.templates import MAX_LENGTH, VARIABLES, check_template
from tests.unit.test_ruler_app import AGENCY, Ruler, debt, sent
from tests.unit.test_ruler_listing_notice import listings, run_days
from tests.unit.test_ruler_listing_notice_sent import ASKED_ON, DUE, failed, held

SMS = "recupera-sul|iara|listing_notice|0|message:sms:aviso_negativacao"
EMAIL = "recupera-sul|iara|listing_notice|1|message:email:aviso_negativacao"


@pytest.fixture
def ruler(tmp_path: Path) -> Ruler:
    found = Ruler(tmp_path)
    definition = RulerDefinitionV4.model_validate(demo_ruler("campanha-1"))
    found.app.save_ruler(
        SaveRuler(tenant=AGENCY, ruler_id="padrao", definition=definition, saved_by="admin")
    )
    found.messaging_sends = False
    found.receive(debt("iara", due=DUE))
    return found


def test_the_demo_notice_goes_by_sms_and_by_email_each_with_its_date() -> None:
    definition = RulerDefinitionV4.model_validate(demo_ruler("campanha-1"))
    channels = [(a.channel, a.template) for a in definition.listing_notice_actions]
    assert channels == [("sms", "aviso_negativacao"), ("email", "aviso_negativacao")]
    for channel, name in channels:
        template = DEMO_TEMPLATES[(channel, name)]
        limit = MAX_LENGTH.get(channel)
        assert check_template(template["body"], max_length=limit) <= set(VARIABLES)
        assert "{{ data_negativacao }}" in template["body"]


def test_a_debtor_with_an_email_and_no_phone_is_told_and_listed_not_held(ruler: Ruler) -> None:
    run_days(ruler, ASKED_ON, ASKED_ON)
    asked = {m.key for m in ruler.published("MessageRequested")}
    assert {SMS, EMAIL} <= asked
    ruler.messages_read(failed(SMS, ASKED_ON, "no_contact", "devedor sem telefone"))
    ruler.messages_read(sent(EMAIL, ASKED_ON))
    run_days(ruler, ASKED_ON, dt.date(2026, 5, 29))
    assert listings(ruler) == [("iara", dt.date(2026, 5, 11))]
    assert held(ruler) == []


def test_a_debtor_neither_could_reach_is_held(ruler: Ruler) -> None:
    run_days(ruler, ASKED_ON, ASKED_ON)
    ruler.messages_read(failed(SMS, ASKED_ON, "no_contact", "devedor sem telefone"))
    ruler.messages_read(failed(EMAIL, ASKED_ON, "no_contact", "devedor sem e-mail"))
    run_days(ruler, ASKED_ON, dt.date(2026, 5, 29))
    assert listings(ruler) == []
    assert [h[3] for h in held(ruler)] == [["devedor sem telefone", "devedor sem e-mail"]]
