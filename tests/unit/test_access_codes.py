"""The portal's second factor, on the messaging side: a one-time code goes at once (even on a
Friday night, outside the SMS window) to the debtor's phone or e-mail from the carteira, once
per challenge, and never travels to the other services in clear."""

from __future__ import annotations

from pathlib import Path

from contracts.messaging_requests import SendAccessCode
from service_runtime.personal_data import unseal
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
