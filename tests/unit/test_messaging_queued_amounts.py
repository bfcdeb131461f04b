"""A collection message waiting for its sending window never goes out saying more than its
debt owes (CDC art. 42: charging what is not owed). The ruler asks an aviso at night with the
debt's balance (`valor`); before 08:00 a payment to the debt's broken agreement's boleto is
taken off the debt (`DebtPaymentDeducted` on `portfolio.debts`, which the messaging service
reads with the debtors' contacts). When the window opens the aviso is rendered again from its
template and variables with what the debt owes now, sealed again, and the change is kept with
its reason (`Message.AmountLowered`); a debt that owes nothing any more gets no aviso, recorded
as not sent (`collection_ended`) with the reason. The deduction read twice, or an older one
read late, changes nothing.

What the debt owes is its original amount less everything paid on it, as the ruler works out
the `valor` it asks: when the creditor sends the debt again in a later carteira with another
original amount (`DebtUpdated`), the ruler's aviso with the new amount goes as it was asked, and
a later payment is taken off the new original. When the portfolio settles the debt because the
payments paid it off (`DebtSettled`), nothing more is charged."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from contracts.envelope import derived_event_id
from contracts.portfolio import (
    DEBTS_TOPIC,
    DebtorContact,
    DebtPaymentDeducted,
    DebtReopened,
    DebtSettled,
    DebtUpdated,
    FieldChange,
)
from contracts.ruler import MessageRequested
from service_runtime.personal_data import unseal
from service_runtime.projection import projection_offsets
from services.messaging.adapters.channels import OutgoingMessage, SendResult, TemporaryFailure
from services.messaging.adapters.contacts import PROJECTION_NAME, ContactBook, create_tables
from services.messaging.domain.records import NOTHING_OWED_REASON, NOTHING_OWED_REIMPORTED_REASON
from tests.unit.test_messaging_app import AGENCY, FRIDAY_NIGHT, JOAO, SATURDAY_8
from tests.unit.test_messaging_collection_ended import (
    Collection,
    left,
    ruler_message,
    sent_bodies,
)

PORTAL = "Negocie: http://127.0.0.1:8000/p/recupera-sul"


def _debt_envelope(version: int, at: dt.datetime) -> dict[str, object]:
    return {
        "event_id": derived_event_id("portfolio", "d1", version),
        "occurred_at": at,
        "tenant": AGENCY,
        "aggregate_id": "d1",
        "aggregate_version": version,
        "correlation_id": "a1",
        "causation_id": "a1",
        "debt_id": "d1",
        "document": JOAO,
        "creditor": "Banco Horizonte",
        "contract": "C-1",
        "installment": "1",
    }


def reopened(balance_cents: int, version: int = 2) -> DebtReopened:
    """João's agreement broke: his debt "d1" is back in collection owing `balance_cents`."""
    return DebtReopened(
        **_debt_envelope(version, FRIDAY_NIGHT - dt.timedelta(days=3)),  # type: ignore[arg-type]
        agreement_id="a1",
        reopened_on=dt.date(2026, 11, 24),
        paid_cents=100_000 - balance_cents,
        balance_cents=balance_cents,
    )


def deducted(
    balance_cents: int, version: int = 3, paid_on: int = 27, original: int = 100_000
) -> DebtPaymentDeducted:
    """A payment to the broken agreement's boleto, reported late, taken off the debt (whose
    original amount is `original`: everything paid is what it no longer owes of it)."""
    return DebtPaymentDeducted(
        **_debt_envelope(version, FRIDAY_NIGHT + dt.timedelta(minutes=30)),  # type: ignore[arg-type]
        agreement_id="a1",
        payment_id=f"pay-{version}",
        paid_on=dt.date(2026, 11, paid_on),
        deducted_cents=15_000 - balance_cents,
        paid_cents=original - balance_cents,
        balance_cents=balance_cents,
    )


def reimported(original_cents: int, version: int, was: int = 100_000) -> DebtUpdated:
    """The creditor sent João's debt again in its monthly carteira with another original
    amount (`was` before)."""
    return DebtUpdated(
        **_debt_envelope(version, FRIDAY_NIGHT - dt.timedelta(hours=2)),  # type: ignore[arg-type]
        document_kind="cpf",
        changes=[FieldChange(field="original_amount_cents", old=was, new=original_cents)],
        original_amount_cents=original_cents,
        due_date=dt.date(2026, 10, 1),
        debtor=DebtorContact(name="João da Silva", phone="+5511987654321"),
        import_id="i-dezembro",
        row_key="r",
    )


def settled(version: int, paid_cents: int) -> DebtSettled:
    """The portfolio settles the debt the payments to its broken agreement paid off."""
    return DebtSettled(
        **_debt_envelope(version, FRIDAY_NIGHT + dt.timedelta(minutes=30)),  # type: ignore[arg-type]
        agreement_id="a1",
        settled_on=dt.date(2026, 11, 27),
        paid_cents=paid_cents,
    )


def asking(valor: str, key: str = "aviso-d1", version: int = 5) -> MessageRequested:
    """The ruler's aviso of the debt saying `valor`."""
    asked = ruler_message(key, version=version)
    return asked.model_copy(update={"variables": {**asked.variables, "valor": valor}})


class QueuedAmounts(Collection):
    def debts_read(
        self, *events: DebtReopened | DebtPaymentDeducted | DebtUpdated | DebtSettled
    ) -> None:
        """This service's consumer of `portfolio.debts` reading them (twice: the same)."""
        for _ in range(2):
            self.contacts_applied(*events)

    def stored_of(self, topic_end: str) -> list[dict[str, object]]:
        return [json.loads(state) for topic, state in self.stored() if topic.endswith(topic_end)]


@pytest.fixture
def amounts(tmp_path: Path) -> QueuedAmounts:
    queued = QueuedAmounts(tmp_path)
    # João's agreement broke on Tuesday: his debt owes R$ 150,00 again.
    queued.debts_read(reopened(15_000))
    return queued


def test_an_aviso_waiting_for_the_window_goes_with_what_the_debt_owes_after_a_payment(
    amounts: QueuedAmounts, tmp_path: Path
) -> None:
    app = amounts.app
    # Friday 21:00: the ruler's aviso says R$ 150,00 and waits for Saturday 08:00.
    app.handle_requests([ruler_message("aviso-d1", version=5)], FRIDAY_NIGHT)
    [queued] = amounts.published("MessageQueued")
    assert "R$ 150,00" in unseal(queued.personal, amounts.vault)["body"]  # type: ignore[index]
    # 21:30: João paid R$ 60,00 of the broken agreement's boleto; the portfolio takes it off
    # the debt, which now owes R$ 90,00 (read twice: redelivered).
    amounts.debts_read(deducted(9_000))

    assert app.dispatch_due(SATURDAY_8) == 1
    assert sent_bodies(tmp_path) == [f"R$ 90,00 venceu em 03/04/2026. {PORTAL}"]
    [sent] = amounts.published("MessageSent")
    assert unseal(sent.personal, amounts.vault) == {
        "to": "+5511987654321",
        "text": f"R$ 90,00 venceu em 03/04/2026. {PORTAL}",
    }
    assert amounts.published("MessageFailed") == []
    # Why its text changed is kept with the message, in pt-BR.
    [lowered] = amounts.stored_of("AmountLowered")
    assert lowered["reason"] == (
        "valor atualizado antes do envio: a mensagem dizia R$ 150,00, a dívida deve R$ 90,00 "
        "desde o pagamento abatido em 27/11/2026"
    )
    assert lowered["variables"] == {"valor": "R$ 90,00", "vencimento": "03/04/2026"}
    assert "R$ 90,00 venceu" not in json.dumps(lowered)  # the new text sealed, as the first
    assert app.dispatch_due(SATURDAY_8 + dt.timedelta(hours=1)) == 0


def test_the_deduction_read_before_the_aviso_the_ruler_asked_late_still_counts(
    amounts: QueuedAmounts, tmp_path: Path
) -> None:
    # The messaging service read the deduction first; the ruler, behind, asks R$ 150,00.
    amounts.debts_read(deducted(9_000))
    amounts.app.handle_requests([ruler_message("aviso-d1", version=5)], FRIDAY_NIGHT)
    assert amounts.app.dispatch_due(SATURDAY_8) == 1
    assert sent_bodies(tmp_path) == [f"R$ 90,00 venceu em 03/04/2026. {PORTAL}"]


def test_an_aviso_that_already_says_what_is_owed_goes_as_it_was_asked(
    amounts: QueuedAmounts, tmp_path: Path
) -> None:
    amounts.debts_read(deducted(9_000))
    asked = ruler_message("aviso-d1", version=5)
    asked = asked.model_copy(update={"variables": {**asked.variables, "valor": "R$ 90,00"}})
    amounts.app.handle_requests([asked], FRIDAY_NIGHT)
    assert amounts.app.dispatch_due(SATURDAY_8) == 1
    assert sent_bodies(tmp_path) == [f"R$ 90,00 venceu em 03/04/2026. {PORTAL}"]
    assert amounts.stored_of("AmountLowered") == []


def test_an_older_deduction_read_late_never_raises_the_amount(
    amounts: QueuedAmounts, tmp_path: Path
) -> None:
    app = amounts.app
    app.handle_requests([ruler_message("aviso-d1", version=5)], FRIDAY_NIGHT)
    # Two payments: the second (version 4, R$ 50,00 left) is read before the first.
    amounts.debts_read(deducted(5_000, version=4, paid_on=27), deducted(9_000, version=3))
    amounts.debts_read(deducted(9_000, version=3))
    assert app.dispatch_due(SATURDAY_8) == 1
    assert sent_bodies(tmp_path) == [f"R$ 50,00 venceu em 03/04/2026. {PORTAL}"]


def test_a_debt_that_owes_nothing_after_the_payment_gets_no_aviso_and_it_is_said_why(
    amounts: QueuedAmounts, tmp_path: Path
) -> None:
    app = amounts.app
    app.handle_requests([ruler_message("aviso-d1", version=5)], FRIDAY_NIGHT)
    amounts.debts_read(deducted(0))
    assert app.dispatch_due(SATURDAY_8) == 0
    assert sent_bodies(tmp_path) == []
    [failed] = amounts.published("MessageFailed")
    assert (failed.key, failed.rule, failed.schema_version) == ("aviso-d1", "collection_ended", 2)
    assert failed.reason == NOTHING_OWED_REASON
    assert amounts.status("aviso-d1") == "failed"


def test_a_debt_that_owes_nothing_is_not_told_it_owes_r_0(
    amounts: QueuedAmounts, tmp_path: Path
) -> None:
    # The ruler read the deduction first: its next message says "R$ 0,00" (the debt is still
    # open in collection). Still nothing to charge: not sent, said why.
    amounts.debts_read(deducted(0))
    asked = ruler_message("aviso-d1", version=5)
    asked = asked.model_copy(update={"variables": {**asked.variables, "valor": "R$ 0,00"}})
    amounts.app.handle_requests([asked], FRIDAY_NIGHT)
    assert amounts.app.dispatch_due(SATURDAY_8) == 0
    assert sent_bodies(tmp_path) == []
    [failed] = amounts.published("MessageFailed")
    assert (failed.rule, failed.reason) == ("collection_ended", NOTHING_OWED_REASON)


def test_a_retry_after_the_new_amount_does_not_render_it_again(
    amounts: QueuedAmounts, tmp_path: Path
) -> None:
    app = amounts.app
    calls: list[str] = []

    class FlakyOnce:
        name = "sms-provider"

        def send(self, message: OutgoingMessage) -> SendResult:
            calls.append(message.body)
            if len(calls) == 1:
                raise TemporaryFailure("provedor indisponível")
            return SendResult(accepted=True, provider_id="p1")

    app.channel_factory = lambda tenant, channel, settings: FlakyOnce()  # type: ignore[assignment,return-value]
    app.handle_requests([ruler_message("aviso-d1", version=5)], FRIDAY_NIGHT)
    amounts.debts_read(deducted(9_000))
    assert app.dispatch_due(SATURDAY_8) == 0
    amounts.debts_read(deducted(9_000))  # the deduction read once more meanwhile
    assert app.dispatch_due(SATURDAY_8 + dt.timedelta(minutes=1)) == 1
    assert calls == [f"R$ 90,00 venceu em 03/04/2026. {PORTAL}"] * 2
    assert len(amounts.stored_of("AmountLowered")) == 1


def test_the_finalization_message_and_other_debts_messages_are_not_touched(
    amounts: QueuedAmounts, tmp_path: Path
) -> None:
    app = amounts.app
    amounts.debts_read(deducted(9_000))
    app.handle_requests(
        [
            ruler_message("fim-d1", version=6, purpose="finalization", template="quitado"),
            ruler_message("aviso-d2", version=5, receivable="d2"),
        ],
        FRIDAY_NIGHT,
    )
    assert app.dispatch_due(SATURDAY_8) == 2
    assert sorted(sent_bodies(tmp_path)) == [
        f"R$ 150,00 venceu em 03/04/2026. {PORTAL}",
        "Sua dívida foi renegociada e saiu da cobrança.",
    ]


def test_a_database_read_before_balances_were_kept_reads_the_debts_again(tmp_path: Path) -> None:
    # A messaging database from before this change: contacts read up to offset 42, no
    # balances table. At start the contacts' consumer forgets its position, so the deductions
    # already published are read (the rows are kept by version: nothing else changes).
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'old.sqlite'}")
    create_tables(engine)
    with engine.begin() as conn:
        conn.execute(
            projection_offsets.insert().values(
                projection=PROJECTION_NAME, topic=DEBTS_TOPIC, partition=0, next_offset=42
            )
        )
        conn.execute(sa.text("DROP TABLE debt_balances"))
    ContactBook(engine)
    with engine.connect() as conn:
        assert conn.execute(sa.select(projection_offsets)).all() == []
        assert sa.inspect(conn).has_table("debt_balances")


def test_balances_kept_before_what_was_paid_are_read_again(tmp_path: Path) -> None:
    # A messaging database whose balances were kept as the portfolio said them last (no
    # paid_cents: a re-import could not be followed). At start that table is dropped and made
    # again, and the contacts' consumer reads `portfolio.debts` again from its start.
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'old.sqlite'}")
    create_tables(engine)
    with engine.begin() as conn:
        conn.execute(
            projection_offsets.insert().values(
                projection=PROJECTION_NAME, topic=DEBTS_TOPIC, partition=0, next_offset=42
            )
        )
        conn.execute(sa.text("DROP TABLE debt_balances"))
        conn.execute(
            sa.text(
                "CREATE TABLE debt_balances (tenant VARCHAR(63), debt_id VARCHAR(36), "
                "balance_cents INTEGER NOT NULL, paid_on DATE, version INTEGER NOT NULL, "
                "PRIMARY KEY (tenant, debt_id))"
            )
        )
        conn.execute(
            sa.text(f"INSERT INTO debt_balances VALUES ('{AGENCY}', 'd1', 15000, NULL, 2)")
        )
    book = ContactBook(engine)
    with engine.connect() as conn:
        assert conn.execute(sa.select(projection_offsets)).all() == []
        columns = {c["name"] for c in sa.inspect(conn).get_columns("debt_balances")}
        assert "paid_cents" in columns
    assert book.balance(AGENCY, "d1") is None  # until the debts are read again
    ContactBook(engine)  # a second start (or the projection's) changes nothing more
    assert book.balance(AGENCY, "d1") is None


def test_the_creditors_reimport_raises_what_is_owed_and_the_rulers_aviso_goes_as_asked(
    amounts: QueuedAmounts, tmp_path: Path
) -> None:
    # João paid R$ 850,00 of his R$ 1.000,00 debt before his agreement broke: R$ 150,00 left.
    # The creditor's next carteira sends the debt at R$ 1.050,00 (DebtUpdated): the ruler
    # asks its aviso with R$ 1.050,00 less the R$ 850,00 paid.
    amounts.debts_read(reimported(105_000, version=3))
    amounts.app.handle_requests([asking("R$ 200,00")], FRIDAY_NIGHT)
    assert amounts.app.dispatch_due(SATURDAY_8) == 1
    assert sent_bodies(tmp_path) == [f"R$ 200,00 venceu em 03/04/2026. {PORTAL}"]
    assert amounts.stored_of("AmountLowered") == []
    assert amounts.published("MessageFailed") == []


def test_a_payment_after_the_reimport_is_taken_off_the_new_original(
    amounts: QueuedAmounts, tmp_path: Path
) -> None:
    app = amounts.app
    amounts.debts_read(reimported(105_000, version=3))
    app.handle_requests([asking("R$ 200,00")], FRIDAY_NIGHT)
    # 21:30: João pays R$ 60,00 of the broken agreement's boleto: R$ 910,00 paid in all.
    amounts.debts_read(deducted(14_000, version=4, original=105_000))
    assert app.dispatch_due(SATURDAY_8) == 1
    assert sent_bodies(tmp_path) == [f"R$ 140,00 venceu em 03/04/2026. {PORTAL}"]
    [lowered] = amounts.stored_of("AmountLowered")
    assert lowered["reason"] == (
        "valor atualizado antes do envio: a mensagem dizia R$ 200,00, a dívida deve R$ 140,00 "
        "desde o pagamento abatido em 27/11/2026"
    )


def test_a_reimport_after_a_payment_still_counts_everything_paid(
    amounts: QueuedAmounts, tmp_path: Path
) -> None:
    # The payment (R$ 910,00 paid in all, R$ 90,00 left), then the creditor's carteira at
    # R$ 1.050,00: the debt owes R$ 140,00, as the ruler asks it. The payment read again late
    # (older than the re-import) changes nothing.
    amounts.debts_read(deducted(9_000, version=3))
    amounts.debts_read(reimported(105_000, version=4))
    amounts.debts_read(deducted(9_000, version=3))
    amounts.app.handle_requests([asking("R$ 140,00")], FRIDAY_NIGHT)
    assert amounts.app.dispatch_due(SATURDAY_8) == 1
    assert sent_bodies(tmp_path) == [f"R$ 140,00 venceu em 03/04/2026. {PORTAL}"]
    assert amounts.stored_of("AmountLowered") == []


def test_a_reimport_that_lowers_the_original_lowers_the_aviso_waiting_and_says_why(
    amounts: QueuedAmounts, tmp_path: Path
) -> None:
    app = amounts.app
    app.handle_requests([asking("R$ 150,00")], FRIDAY_NIGHT)
    # The creditor corrects the debt to R$ 950,00: with R$ 850,00 paid, R$ 100,00 is owed.
    amounts.debts_read(reimported(95_000, version=3))
    assert app.dispatch_due(SATURDAY_8) == 1
    assert sent_bodies(tmp_path) == [f"R$ 100,00 venceu em 03/04/2026. {PORTAL}"]
    [lowered] = amounts.stored_of("AmountLowered")
    assert lowered["reason"] == (
        "valor atualizado antes do envio: a mensagem dizia R$ 150,00, a dívida deve R$ 100,00 "
        "desde a atualização do valor original pelo credor"
    )


def test_a_reimport_below_what_was_paid_leaves_nothing_to_charge(
    amounts: QueuedAmounts, tmp_path: Path
) -> None:
    app = amounts.app
    app.handle_requests([asking("R$ 150,00")], FRIDAY_NIGHT)
    amounts.debts_read(reimported(80_000, version=3))  # R$ 850,00 were paid already
    assert app.dispatch_due(SATURDAY_8) == 0
    assert sent_bodies(tmp_path) == []
    [failed] = amounts.published("MessageFailed")
    assert (failed.rule, failed.reason) == ("collection_ended", NOTHING_OWED_REIMPORTED_REASON)


def test_an_aviso_asked_before_the_reimport_raised_the_amount_is_not_raised(
    amounts: QueuedAmounts, tmp_path: Path
) -> None:
    # The ruler's next message will say the new amount; this one is only ever lowered.
    amounts.app.handle_requests([asking("R$ 150,00")], FRIDAY_NIGHT)
    amounts.debts_read(reimported(105_000, version=3))
    assert amounts.app.dispatch_due(SATURDAY_8) == 1
    assert sent_bodies(tmp_path) == [f"R$ 150,00 venceu em 03/04/2026. {PORTAL}"]


def _paid_off_and_settled(amounts: QueuedAmounts) -> None:
    """After the creditor's carteira at R$ 1.050,00, João pays the R$ 200,00 left to the broken
    agreement's boleto: the portfolio deducts it and, the balance at R$ 0,00, settles the debt
    in the same save."""
    amounts.debts_read(reimported(105_000, version=3))
    amounts.debts_read(deducted(0, version=4, original=105_000), settled(5, paid_cents=105_000))


def test_a_debt_settled_by_the_payments_gets_no_more_avisos_once_the_ruler_says_it_left(
    amounts: QueuedAmounts, tmp_path: Path
) -> None:
    app = amounts.app
    app.handle_requests([asking("R$ 200,00")], FRIDAY_NIGHT)
    _paid_off_and_settled(amounts)
    # The ruler reads the settlement: the debt leaves (settled) and gets its finalization.
    amounts.exits_read(left(6, reason="settled"))
    fim = ruler_message("fim-d1", version=6, purpose="finalization", template="quitado")
    fim = fim.model_copy(update={"variables": {**fim.variables, "motivo": "quitada"}})
    app.handle_requests([fim], FRIDAY_NIGHT + dt.timedelta(minutes=40))
    assert app.dispatch_due(SATURDAY_8) == 1
    assert sent_bodies(tmp_path) == ["Sua dívida foi quitada e saiu da cobrança."]
    [failed] = amounts.published("MessageFailed")
    assert (failed.key, failed.rule) == ("aviso-d1", "collection_ended")
    assert "a dívida foi quitada" in failed.reason
    # An aviso the ruler asked before it left, read only now, fails at once.
    app.handle_requests([asking("R$ 200,00", key="lembrete-d1", version=5)], SATURDAY_8)
    assert [f.key for f in amounts.published("MessageFailed")] == ["aviso-d1", "lembrete-d1"]
    assert app.dispatch_due(SATURDAY_8 + dt.timedelta(hours=1)) == 0


def test_a_debt_settled_by_the_payments_gets_no_aviso_while_the_ruler_is_behind(
    amounts: QueuedAmounts, tmp_path: Path
) -> None:
    app = amounts.app
    app.handle_requests([asking("R$ 200,00")], FRIDAY_NIGHT)
    _paid_off_and_settled(amounts)  # `ruler.stages` not read yet
    assert app.dispatch_due(SATURDAY_8) == 0
    assert sent_bodies(tmp_path) == []
    [failed] = amounts.published("MessageFailed")
    assert (failed.rule, failed.reason) == ("collection_ended", NOTHING_OWED_REASON)
