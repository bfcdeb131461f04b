"""A listing held for want of a notice resumes when the agency brings the debtor's contact (QA
pass 9, D7b). On a fresh clone, Luana Dias (no phone in the carteira) had her listing held on
05/01/2026 ("Negativação suspensa ...: aviso prévio não enviado (devedor sem telefone);
contatar o devedor por outro meio"); the agency re-imported her row with a phone on 03/03
(DebtUpdated "telefone passa a ser 11987654321") and nothing happened up to 26/03: no notice,
no listing, the hold for good.

Now a re-import that changes a held debt's phone or e-mail asks the notice again on the next
run (a new round, keys of its own), and the listing waits for it as for the first: listed N
days after it was sent, or held again (and said again) if it fails again."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from contracts.portfolio import DebtorContact, DebtUpdated, FieldChange
from services.ruler.application.service import LISTING_HELD, LISTING_WAITS
from services.ruler.domain.stages import listing_notice
from tests.unit.test_ruler_app import JOAO, Ruler, debt, env, sent
from tests.unit.test_ruler_listing_notice import cached_stage, listings, run_days
from tests.unit.test_ruler_listing_notice_sent import failed, held
from tests.unit.test_ruler_notice_of_the_listing import DEMO, with_ruler

# The QA's days: Luana's debt is far past the bureau stage on Monday 05/01/2026.
START = dt.date(2026, 1, 5)
DUE = START - dt.timedelta(days=400)
NOTICE = "recupera-sul|luana|listing_notice|0|message:sms:aviso_negativacao"
AGAIN = "recupera-sul|luana|listing_notice|0#2|message:sms:aviso_negativacao"
REIMPORTED_ON = dt.date(2026, 3, 3)  # a Tuesday


def reimported(changes: list[FieldChange], version: int = 2) -> DebtUpdated:
    return DebtUpdated(
        **env("luana", version),
        debt_id="luana",
        document=JOAO,
        document_kind="cpf",
        creditor="Banco Horizonte",
        contract="C-luana",
        installment="1",
        changes=changes,
        original_amount_cents=100_000,
        due_date=DUE,
        debtor=DebtorContact(name="Luana Dias", phone="11987654321"),
        import_id="imp-2",
        row_key="luana",
    )


PHONE_ADDED = [FieldChange(field="phone", old=None, new="11987654321")]


@pytest.fixture
def luana(tmp_path: Path) -> Ruler:
    """Her notice failed (no phone) on 05/01: the listing held."""
    ruler = with_ruler(tmp_path, DEMO)
    ruler.messaging_sends = False
    ruler.receive(debt("luana", due=DUE))
    run_days(ruler, START, START)
    ruler.messages_read(failed(NOTICE, START, "no_contact", "devedor sem telefone"))
    run_days(ruler, START, REIMPORTED_ON - dt.timedelta(days=1))
    assert held(ruler) == [("luana", START, [NOTICE], ["devedor sem telefone"])]
    assert cached_stage(ruler, "luana") == LISTING_HELD
    return ruler


def asked(ruler: Ruler) -> list[tuple[str, str]]:
    return [
        (m.key, m.variables["data_negativacao"])
        for m in ruler.published("MessageRequested")
        if "|listing_notice|" in m.key
    ]


def test_the_agency_adds_her_phone_and_she_is_noticed_again_then_listed(luana: Ruler) -> None:
    luana.receive(reimported(PHONE_ADDED), today=REIMPORTED_ON)
    run_days(luana, REIMPORTED_ON, REIMPORTED_ON)
    # The notice again, with a key of its own (messaging sends a key once).
    assert asked(luana) == [(NOTICE, "15/01/2026"), (AGAIN, "13/03/2026")]
    assert cached_stage(luana, "luana") == LISTING_WAITS
    luana.messages_read(sent(AGAIN, REIMPORTED_ON))
    run_days(luana, dt.date(2026, 3, 4), dt.date(2026, 3, 12))
    assert listings(luana) == []
    # 03/03 + 10 = Friday 13/03.
    run_days(luana, dt.date(2026, 3, 13), dt.date(2026, 3, 31))
    assert listings(luana) == [("luana", dt.date(2026, 3, 13))]
    assert len(asked(luana)) == 2
    assert len(held(luana)) == 1


def test_a_notice_that_fails_again_holds_it_again_and_says_so(luana: Ruler) -> None:
    luana.receive(reimported(PHONE_ADDED), today=REIMPORTED_ON)
    run_days(luana, REIMPORTED_ON, REIMPORTED_ON)
    luana.messages_read(failed(AGAIN, REIMPORTED_ON, "refused", "número inválido"))
    run_days(luana, dt.date(2026, 3, 4), dt.date(2026, 3, 31))
    assert listings(luana) == []
    assert held(luana)[1:] == [("luana", dt.date(2026, 3, 4), [AGAIN], ["número inválido"])]
    assert cached_stage(luana, "luana") == LISTING_HELD


def test_a_re_import_that_changes_no_contact_leaves_the_hold_and_read_twice_asks_once(
    luana: Ruler,
) -> None:
    other = [FieldChange(field="city", old="Recife", new="Olinda")]
    luana.receive(reimported(other), today=REIMPORTED_ON)
    run_days(luana, REIMPORTED_ON, dt.date(2026, 3, 10))
    assert len(asked(luana)) == 1
    assert cached_stage(luana, "luana") == LISTING_HELD
    # The phone, read twice (a restart reads the topic again): one notice.
    luana.receive(reimported(PHONE_ADDED, version=3), today=dt.date(2026, 3, 11))
    luana.receive(reimported(PHONE_ADDED, version=3), today=dt.date(2026, 3, 11))
    run_days(luana, dt.date(2026, 3, 11), dt.date(2026, 3, 13))
    assert [key for key, _ in asked(luana)] == [NOTICE, AGAIN]


def test_the_second_rounds_keys_are_its_own() -> None:
    [first] = listing_notice(DEMO, "t", "d1")
    [second] = listing_notice(DEMO, "t", "d1", 2)
    assert (first.key, second.key) == (
        "t|d1|listing_notice|0|message:sms:aviso_negativacao",
        "t|d1|listing_notice|0#2|message:sms:aviso_negativacao",
    )
