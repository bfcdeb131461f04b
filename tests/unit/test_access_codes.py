"""The portal's second factor, on the messaging side: a one-time code goes at once (even on a
Friday night, outside the SMS window) to the debtor's phone or e-mail from the carteira, once
per challenge, and never travels to the other services in clear."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any, cast

import pytest

from contracts.messaging_requests import AccessCodeOut, SendAccessCode
from service_runtime.personal_data import unseal
from service_runtime.service_client import ServiceClient
from services.gateway.application.portal import CodeRefused, PortalProfile, PortalService
from services.messaging.adapters.channels import read_outbox
from tests.unit.test_messaging_app import AGENCY, FRIDAY_NIGHT, JOAO, Messaging


def code(challenge: str = "ch-1", **fields: object) -> SendAccessCode:
    return SendAccessCode(
        tenant=AGENCY,
        document=JOAO,
        challenge_id=challenge,
        code="482913",
        **fields,  # type: ignore[arg-type]
    )


def test_a_code_goes_at_once_to_the_phone_masked_in_the_answer(tmp_path: Path) -> None:
    messaging = Messaging(tmp_path)
    out = messaging.app.send_access_code(code(), FRIDAY_NIGHT)
    assert (out.sent, out.channel, out.destination) == (True, "sms", "(11) *****-4321")
    # Asked again for the same challenge (a retried request): still one message.
    assert messaging.app.send_access_code(code(), FRIDAY_NIGHT).sent
    assert messaging.app.dispatch_due(FRIDAY_NIGHT) == 1
    sent = read_outbox(messaging.app.outbox_dir / AGENCY / "sms.jsonl")
    assert [m["to"] for m in sent] == ["+5511987654321"]
    assert "482913" in sent[0]["body"]
    [published] = messaging.published("MessageSent")
    # What other services see: the address and the text sealed, and never the code.
    assert "482913" not in published.model_dump_json()
    assert "987654321" not in published.model_dump_json()
    opened = unseal(published.personal, messaging.vault)
    assert opened == {"to": "+5511987654321", "text": "código de acesso ao portal (omitido)"}


def test_no_contact_on_the_channels_asked_is_said_plainly(tmp_path: Path) -> None:
    messaging = Messaging(tmp_path)
    out = messaging.app.send_access_code(code(channels=["email"]), FRIDAY_NIGHT)
    assert (out.sent, out.channel) == (False, None)
    assert out.reason is not None and "e-mail" in out.reason
    assert messaging.app.dispatch_due(FRIDAY_NIGHT) == 0


def test_no_more_than_five_codes_a_day_go_to_a_debtor(tmp_path: Path) -> None:
    # Anyone may type João's CPF on the portal: each lookup would be an SMS to his phone.
    messaging = Messaging(tmp_path)
    for n in range(5):
        assert messaging.app.send_access_code(code(f"ch-{n}"), FRIDAY_NIGHT).sent
    assert messaging.app.send_access_code(code("ch-1"), FRIDAY_NIGHT).sent  # a retry: no 6th
    refused = messaging.app.send_access_code(code("ch-5"), FRIDAY_NIGHT)
    assert (refused.sent, refused.rule) == (False, "too_many_codes")
    assert refused.reason is not None and "tente amanhã" in refused.reason
    assert messaging.app.dispatch_due(FRIDAY_NIGHT) == 5
    # The next day (in São Paulo) the debtor can be sent a code again.
    assert messaging.app.send_access_code(code("ch-6"), FRIDAY_NIGHT + dt.timedelta(days=1)).sent


def test_the_portal_says_plainly_when_the_days_codes_are_used_up() -> None:
    # The gateway's side: the messaging service refused a sixth code today.
    class Refusing:
        async def ask(self, request: Any, key: str, answer: type[Any]) -> AccessCodeOut:
            return AccessCodeOut(sent=False, reason="muitos", rule="too_many_codes")

    service = PortalService.__new__(PortalService)
    service.messaging = cast(ServiceClient, Refusing())
    profile = cast(PortalProfile, type("P", (), {"code_channels": ("sms",)})())
    with pytest.raises(CodeRefused) as refused:
        asyncio.run(service._send_code(AGENCY, JOAO, profile))
    assert refused.value.rule == "too_many_codes"
    assert refused.value.message.startswith("muitos códigos de acesso enviados hoje")
