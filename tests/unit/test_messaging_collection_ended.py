"""A collection message never goes out once its receivable left collection (README: "A
receivable that is paid, settled, renegotiated or cancelled leaves the ruler"; charging what
is no longer owed is cobrança indevida, seed 001): the ruler's aviso queued for the sending
window is not sent after the debt was renegotiated or paid, whichever the messaging service
reads first (the exit on `ruler.stages`, the finalization message on `messaging.requested`,
the aviso itself); it is recorded as not sent, with the reason, never dropped. The
finalization message goes, and a debt back in collection (its agreement broke) is charged
again in its new cycle."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pytest

from contracts.envelope import derived_event_id
from contracts.messaging_requests import SaveTemplate, TemplateIn
from contracts.ruler import MessageRequested, ReceivableLeftRuler
from services.messaging.adapters.channels import read_outbox
from services.messaging.adapters.exits import Exits, ExitsProjection
from services.messaging.domain.records import Message, message_aggregate_id
from tests.unit.test_messaging_app import (
    AGENCY,
    FRIDAY_NIGHT,
    JOAO,
    SATURDAY_8,
    Messaging,
    requests_read,
)
from tests.unit.test_messaging_app import (
    requested as asked,
)

# The ruler's record of the receivable "d1" (its events' aggregate_id and versions).
RECEIVABLE = "8d7c0a52-0000-5000-8000-00000000d001"


def ruler_message(
    key: str, version: int, purpose: str = "stage", template: str = "aviso", receivable: str = "d1"
) -> MessageRequested:
    """A message the ruler asks at `version` of its record of the receivable."""
    return asked(key, template=template).model_copy(
        update={
            "event_id": derived_event_id("ruler", receivable, version, key),
            "aggregate_id": RECEIVABLE,
            "aggregate_version": version,
            "receivable_id": receivable,
            "purpose": purpose,
            "stage": "finalized" if purpose == "finalization" else "notice",
            "variables": {"valor": "R$ 150,00", "vencimento": "03/04/2026"}
            | ({"motivo": "renegociada"} if purpose == "finalization" else {}),
        }
    )


def left(version: int, reason: str = "renegotiated", receivable: str = "d1") -> ReceivableLeftRuler:
    return ReceivableLeftRuler(
        event_id=derived_event_id("ruler", receivable, version),
        occurred_at=FRIDAY_NIGHT + dt.timedelta(minutes=30),
        tenant=AGENCY,
        aggregate_id=RECEIVABLE,
        aggregate_version=version,
        correlation_id=RECEIVABLE,
        causation_id=RECEIVABLE,
        receivable_id=receivable,
        receivable_kind="debt",
        document=JOAO,
        creditor="Banco Horizonte",
        reason=reason,  # type: ignore[arg-type]
        last_stage="notice",
        on_date=FRIDAY_NIGHT.date(),
        actions=[],
    )


class Collection(Messaging):
    def __init__(self, tmp_path: Path) -> None:
        super().__init__(tmp_path)
        self.app.exits = Exits(self.engine)
        self.app.save_template(
            self.template("quitado", "Sua dívida foi {{ motivo }} e saiu da cobrança.")
        )

    @staticmethod
    def template(name: str, body: str) -> SaveTemplate:
        return SaveTemplate(
            tenant=AGENCY,
            channel="sms",
            name=name,
            template=TemplateIn(body=body),
            saved_by="admin",
        )

    def exits_read(self, *events: ReceivableLeftRuler) -> None:
        """This service's consumer of `ruler.stages` reading the exits (twice: the same)."""
        for _ in range(2):
            with self.engine.begin() as conn:
                ExitsProjection().apply(conn, list(events))

    def status(self, key: str) -> str:
        message = self.app.repository.get(message_aggregate_id(AGENCY, key))
        assert isinstance(message, Message)
        return message.status


@pytest.fixture
def collection(tmp_path: Path) -> Collection:
    return Collection(tmp_path)


def sent_bodies(tmp_path: Path) -> list[str]:
    path = tmp_path / "outbox" / AGENCY / "sms.jsonl"
    return [line["body"] for line in read_outbox(path)] if path.exists() else []


def test_an_aviso_waiting_for_the_window_is_not_sent_after_the_debt_was_renegotiated(
    collection: Collection, tmp_path: Path
) -> None:
    app = collection.app
    # Friday night: the ruler's aviso waits for Saturday 08:00.
    app.handle_requests([ruler_message("aviso-d1", version=2)], FRIDAY_NIGHT)
    # The debtor closes an agreement on the portal: the debt leaves the ruler (version 3),
    # which asks its finalization message.
    collection.exits_read(left(3))
    app.handle_requests(
        [ruler_message("fim-d1", version=3, purpose="finalization", template="quitado")],
        FRIDAY_NIGHT + dt.timedelta(minutes=30),
    )
    assert app.dispatch_due(SATURDAY_8) == 1
    assert sent_bodies(tmp_path) == ["Sua dívida foi renegociada e saiu da cobrança."]
    [failed] = collection.published("MessageFailed")
    assert (failed.key, failed.rule, failed.schema_version) == ("aviso-d1", "collection_ended", 2)
    assert failed.reason == (
        "não enviada: a cobrança terminou antes do envio (a dívida foi renegociada em acordo); "
        "a mensagem diria que ainda há valor em aberto"
    )
    assert collection.status("aviso-d1") == "failed"
    assert app.dispatch_due(SATURDAY_8 + dt.timedelta(hours=1)) == 0


def test_an_exit_read_before_the_aviso_fails_it_at_once(collection: Collection) -> None:
    app = collection.app
    collection.exits_read(left(3, reason="settled"))
    app.handle_requests([ruler_message("aviso-d1", version=2)], FRIDAY_NIGHT)
    [failed] = collection.published("MessageFailed")
    assert failed.rule == "collection_ended" and "a dívida foi quitada" in failed.reason
    assert collection.published("MessageQueued") == []
    assert app.dispatch_due(SATURDAY_8) == 0


def test_the_finalization_message_read_first_stops_the_aviso_without_the_exit(
    collection: Collection, tmp_path: Path
) -> None:
    # `ruler.stages` is behind: only the finalization request tells the debt left.
    requests_read(
        collection,
        ruler_message("fim-d1", version=3, purpose="finalization", template="quitado"),
        ruler_message("aviso-d1", version=2),
        at=FRIDAY_NIGHT,
    )
    assert collection.app.dispatch_due(SATURDAY_8) == 1
    assert sent_bodies(tmp_path) == ["Sua dívida foi renegociada e saiu da cobrança."]
    [failed] = collection.published("MessageFailed")
    assert failed.key == "aviso-d1" and "renegociada" in failed.reason


def test_an_installment_of_a_broken_agreement_gets_no_aviso(collection: Collection) -> None:
    # The installment's aviso was queued the day its agreement broke; the break cancels the
    # installment (no finalization message for it).
    app = collection.app
    app.handle_requests([ruler_message("aviso-p1", version=4, receivable="a1#1")], FRIDAY_NIGHT)
    collection.exits_read(left(5, reason="cancelled", receivable="a1#1"))
    assert app.dispatch_due(SATURDAY_8) == 0
    [failed] = collection.published("MessageFailed")
    assert failed.key == "aviso-p1" and "acordo quebrado" in failed.reason


def test_a_debt_back_in_collection_is_charged_in_its_new_cycle(
    collection: Collection, tmp_path: Path
) -> None:
    # Renegotiated at version 3; the agreement broke, the debt re-entered the ruler (version
    # 4) and reached its aviso again (version 5, a new key): the old exit does not stop it.
    app = collection.app
    collection.exits_read(left(3))
    app.handle_requests([ruler_message("aviso-d1#2", version=5)], FRIDAY_NIGHT)
    assert app.dispatch_due(SATURDAY_8) == 1
    assert sent_bodies(tmp_path) == [
        "R$ 150,00 venceu em 03/04/2026. Negocie: http://127.0.0.1:8000/p/recupera-sul"
    ]
    # It leaves again later: an aviso of that cycle still waiting would be stopped.
    app.handle_requests([ruler_message("lembrete-d1#2", version=6)], SATURDAY_8)
    collection.exits_read(left(7, reason="settled"), left(3))  # an older exit read late
    assert app.dispatch_due(SATURDAY_8 + dt.timedelta(minutes=1)) == 0
    [failed] = collection.published("MessageFailed")
    assert failed.key == "lembrete-d1#2" and "quitada" in failed.reason


def test_the_exits_outlive_a_restart(collection: Collection) -> None:
    collection.exits_read(left(3))
    collection.app.exits = Exits(collection.engine)  # a new process, the same database
    collection.app.handle_requests([ruler_message("aviso-d1", version=2)], FRIDAY_NIGHT)
    [failed] = collection.published("MessageFailed")
    assert failed.rule == "collection_ended"


def test_other_failures_are_still_published_as_version_1(collection: Collection) -> None:
    collection.app.handle_requests([ruler_message("k", version=2, template="nenhum")], FRIDAY_NIGHT)
    [failed] = collection.published("MessageFailed")
    assert (failed.rule, failed.schema_version) == ("no_template", 1)
    assert uuid.UUID(failed.message_id)
