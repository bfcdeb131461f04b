"""The operators' list of conversations and what the debtor's timeline tells of them: built from
ConversationChanged events that may arrive twice or out of order."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from contracts.envelope import Envelope, derived_event_id
from contracts.messaging import (
    ConversationChange,
    ConversationChanged,
    ConversationChangedV2,
    ConversationChangedV3,
    ConversationChangeV3,
)
from service_runtime.personal_data import REMOVED, SqlKeyVault, seal
from services.gateway.entrypoints.http.conversations import ConversationSummary
from services.gateway.read_models.conversations import (
    ConversationsProjection,
    conversations,
    list_conversations,
)
from services.gateway.read_models.timeline import (
    TimelineProjection,
    debtor_timeline,
    summarize,
)
from tests.unit.test_projections import (
    AGENCY,
    JOAO,
    VAULT,
    at,
    erasure,
    every_value,
    imported,
    memory_vault,
    project,
    table_rows,
)

PHONE = "+5511987654321"
ANA = "ana@recupera-sul"
BRUNO = "bruno@recupera-sul"


def changed(
    version: int,
    change: ConversationChange,
    *,
    conversation_id: str = "conv-1",
    minutes: int | None = None,
    tenant: str = AGENCY,
    channel: str = "whatsapp",
    address: str | None = PHONE,
    document: str | None = JOAO,
    status: str = "self_service",
    operator: str | None = None,
    previous_operator: str | None = None,
    initiated_by: str = "debtor",
    messages: int = 1,
) -> ConversationChanged:
    when = at(version if minutes is None else minutes)
    fields: dict[str, Any] = {
        "event_id": derived_event_id("test", conversation_id, version),
        "occurred_at": when,
        "tenant": tenant,
        "aggregate_id": conversation_id,
        "aggregate_version": version,
        "correlation_id": conversation_id,
        "causation_id": f"cause-{version}",
        "conversation_id": conversation_id,
        "change": change,
        "channel": channel,
        "address": address,
        "document": document,
        "debtor_name": "João da Silva" if document else None,
        "status": status,
        "operator": operator,
        "previous_operator": previous_operator,
        "initiated_by": initiated_by,
        "started_at": at(0),
        "changed_at": when,
        "messages": messages,
    }
    return ConversationChanged.model_validate(fields)


@pytest.fixture
def engine() -> Iterator[sa.Engine]:
    engine = sa.create_engine("sqlite://")
    yield engine
    engine.dispose()


def ids(rows: list[dict[str, Any]]) -> list[str]:
    return [r["conversation_id"] for r in rows]


def test_the_list_shows_each_conversation_as_its_newest_event_tells(engine: sa.Engine) -> None:
    project(
        engine,
        ConversationsProjection(VAULT),
        [
            changed(1, "started", document=None),
            changed(2, "identified"),
            changed(3, "waiting_operator", status="waiting_operator", messages=4),
        ],
    )
    [row] = list_conversations(engine, AGENCY)
    assert row == {
        "conversation_id": "conv-1",
        "tenant": AGENCY,
        "channel": "whatsapp",
        "address": PHONE,
        "document": JOAO,
        "debtor_name": "João da Silva",
        "key_id": None,
        "status": "waiting_operator",
        "operator": None,
        "initiated_by": "debtor",
        "started_at": at(0),
        "updated_at": at(3),
        "messages": 4,
        "verified": None,  # version 1 does not tell it
        "version": 3,
    }


def test_the_list_filters_by_status_operator_and_since_newest_first(engine: sa.Engine) -> None:
    project(
        engine,
        ConversationsProjection(VAULT),
        [
            changed(
                2, "assigned", conversation_id="a", minutes=10, status="with_operator", operator=ANA
            ),
            changed(
                2,
                "assigned",
                conversation_id="b",
                minutes=30,
                status="with_operator",
                operator=BRUNO,
            ),
            changed(
                1, "waiting_operator", conversation_id="c", minutes=20, status="waiting_operator"
            ),
            changed(3, "closed", conversation_id="d", minutes=40, status="closed", operator=ANA),
            changed(1, "started", conversation_id="e", minutes=50, tenant="outra-assessoria"),
        ],
    )
    assert ids(list_conversations(engine, AGENCY)) == ["d", "b", "c", "a"]
    assert ids(list_conversations(engine, AGENCY, status="with_operator")) == ["b", "a"]
    assert ids(list_conversations(engine, AGENCY, operator=ANA)) == ["d", "a"]
    assert ids(list_conversations(engine, AGENCY, status="closed", operator=ANA)) == ["d"]
    assert ids(list_conversations(engine, AGENCY, since=at(20))) == ["d", "b", "c"]
    assert ids(list_conversations(engine, AGENCY, since=at(41))) == []
    assert ids(list_conversations(engine, AGENCY, limit=2)) == ["d", "b"]
    assert ids(list_conversations(engine, "outra-assessoria")) == ["e"]


def test_an_older_version_arriving_late_changes_nothing(engine: sa.Engine) -> None:
    newer = changed(3, "assigned", status="with_operator", operator=ANA, messages=5)
    older = changed(2, "waiting_operator", status="waiting_operator", messages=3)
    project(engine, ConversationsProjection(VAULT), [newer], [older])
    [row] = list_conversations(engine, AGENCY)
    assert (row["status"], row["operator"], row["messages"], row["version"]) == (
        "with_operator",
        ANA,
        5,
        3,
    )


def test_the_newest_version_in_one_batch_wins_whatever_its_place(engine: sa.Engine) -> None:
    project(
        engine,
        ConversationsProjection(VAULT),
        [
            changed(4, "closed", status="closed", operator=ANA),
            changed(3, "assigned", status="with_operator", operator=ANA),
        ],
    )
    [row] = list_conversations(engine, AGENCY)
    assert (row["status"], row["version"]) == ("closed", 4)


def test_the_same_event_twice_is_applied_once(engine: sa.Engine) -> None:
    batch: list[Envelope] = [
        changed(1, "started"),
        changed(2, "waiting_operator", status="waiting_operator"),
    ]
    project(engine, ConversationsProjection(VAULT), batch)
    once = table_rows(engine, conversations)
    project(engine, ConversationsProjection(VAULT), batch, [batch[1]], [batch[0]])
    assert table_rows(engine, conversations) == once


def test_the_list_ignores_other_events(engine: sa.Engine) -> None:
    project(engine, ConversationsProjection(VAULT), [imported()])
    assert list_conversations(engine, AGENCY) == []


def test_the_timeline_tells_each_change_of_a_conversation(engine: sa.Engine) -> None:
    events: list[Envelope] = [
        changed(1, "started", initiated_by="agency", operator=ANA, status="initiated_unanswered"),
        changed(2, "answered", operator=ANA, status="with_operator"),
        changed(3, "transferred", operator=BRUNO, previous_operator=ANA, status="with_operator"),
        changed(4, "closed", operator=BRUNO, status="closed"),
    ]
    project(engine, TimelineProjection(VAULT), events, events)
    entries = debtor_timeline(engine, AGENCY, JOAO)
    assert [(e["summary"], e["service"], e["type"]) for e in entries] == [
        (
            f"Conversa iniciada pela assessoria por WhatsApp com {PHONE}; atendente {ANA}",
            "messaging",
            "ConversationChanged",
        ),
        (f"Conversa transferida de {ANA} para {BRUNO}", "messaging", "ConversationChanged"),
        (f"Conversa encerrada por {BRUNO}", "messaging", "ConversationChanged"),
    ]
    assert [e["occurred_at"] for e in entries] == [at(1), at(3), at(4)]


def test_an_unidentified_debtor_enters_the_timeline_when_identified(engine: sa.Engine) -> None:
    events: list[Envelope] = [
        changed(1, "started", document=None),
        changed(2, "answered", document=None),
        changed(3, "identified"),
        changed(4, "waiting_operator", status="waiting_operator"),
        changed(5, "assigned", status="with_operator", operator=ANA),
    ]
    project(engine, TimelineProjection(VAULT), events)
    assert [(e["summary"], e["occurred_at"]) for e in debtor_timeline(engine, AGENCY, JOAO)] == [
        (f"Devedor identificado na conversa por WhatsApp ({PHONE})", at(3)),
        ("Devedor pediu um atendente", at(4)),
        (f"Conversa atribuída a {ANA}", at(5)),
    ]


def test_summaries_of_each_change_kind() -> None:
    cases: list[tuple[ConversationChanged, str | None]] = [
        (changed(1, "started"), f"Conversa iniciada pelo devedor por WhatsApp com {PHONE}"),
        (
            changed(1, "started", channel="web", address=None),
            "Conversa iniciada pelo devedor por chat do portal",
        ),
        (
            changed(1, "started", initiated_by="agency", operator=ANA),
            f"Conversa iniciada pela assessoria por WhatsApp com {PHONE}; atendente {ANA}",
        ),
        (changed(2, "answered"), None),
        (changed(2, "identified"), f"Devedor identificado na conversa por WhatsApp ({PHONE})"),
        (
            changed(2, "identified", channel="web", address=None),
            "Devedor identificado na conversa por chat do portal",
        ),
        (changed(3, "waiting_operator"), "Devedor pediu um atendente"),
        (changed(4, "assigned", operator=ANA), f"Conversa atribuída a {ANA}"),
        (
            changed(5, "transferred", operator=BRUNO, previous_operator=ANA),
            f"Conversa transferida de {ANA} para {BRUNO}",
        ),
        (changed(6, "closed", operator=BRUNO), f"Conversa encerrada por {BRUNO}"),
        (changed(6, "closed"), "Conversa encerrada pelo chatbot"),
    ]
    assert [summarize(event) for event, _ in cases] == [expected for _, expected in cases]


# ---- version 2 (the phone and name sealed once the debtor is known) and erasure (LGPD) ---------


def changed_v2(
    vault: SqlKeyVault, version: int, change: ConversationChange, *, identified: bool = True
) -> ConversationChangedV2:
    """`changed(...)` as messaging publishes it now: before the debtor is known the phone is
    in clear (`unidentified_address`), after that sealed with the debtor's key."""
    clear = changed(version, change, document=JOAO if identified else None)
    fields = clear.model_dump(exclude={"schema_version", "address", "debtor_name"})
    if identified:
        fields["personal"] = seal(
            vault.key_for(AGENCY, JOAO), {"address": PHONE, "debtor_name": "João da Silva"}
        )
    else:
        fields["unidentified_address"] = PHONE
    return ConversationChangedV2.model_validate(fields)


def test_sealed_conversations_open_with_the_vault_and_an_erasure_removes_them(
    engine: sa.Engine,
) -> None:
    vault = memory_vault()
    events: list[Envelope] = [
        changed_v2(vault, 1, "started", identified=False),
        changed_v2(vault, 2, "identified"),
        changed_v2(vault, 3, "waiting_operator"),
    ]
    legacy = changed(1, "started", conversation_id="conv-old")  # version 1: in clear
    project(engine, ConversationsProjection(vault), [*events, legacy])
    rows = {r["conversation_id"]: r for r in list_conversations(engine, AGENCY)}
    assert (rows["conv-1"]["address"], rows["conv-1"]["debtor_name"]) == (PHONE, "João da Silva")
    project(engine, TimelineProjection(vault), events)
    assert [e["summary"] for e in debtor_timeline(engine, AGENCY, JOAO)] == [
        f"Devedor identificado na conversa por WhatsApp ({PHONE})",
        "Devedor pediu um atendente",
    ]

    erased = erasure(vault)
    project(engine, ConversationsProjection(vault), [erased], [erased])
    project(engine, TimelineProjection(vault), [erased])
    for row in list_conversations(engine, AGENCY):
        assert (row["address"], row["debtor_name"], row["document"]) == (None, REMOVED, JOAO)
    assert debtor_timeline(engine, AGENCY, JOAO)[0]["summary"] == (
        f"Devedor identificado na conversa por WhatsApp ({REMOVED})"
    )
    live = table_rows(engine, conversations)
    orders: list[list[list[Envelope]]] = [
        [[erased], [*events, legacy]],
        [[legacy, *events], [erased]],
    ]
    for batches in orders:
        with engine.begin() as conn:
            ConversationsProjection(vault).reset(conn)
        project(engine, ConversationsProjection(vault), *batches)
        assert table_rows(engine, conversations) == live
        assert PHONE not in every_value(engine, ConversationsProjection(vault))


# ---- version 3: whether whoever writes proved to be the debtor (the tenant's second factor) ---


def changed_v3(
    vault: SqlKeyVault,
    version: int,
    change: ConversationChangeV3,
    verified: bool | None,
    *,
    conversation_id: str = "conv-1",
    identified: bool = True,
) -> ConversationChangedV3:
    """`changed_v2(...)` as messaging publishes it now, with `verified`."""
    fields = changed_v2(vault, version, "started", identified=identified).model_dump(
        exclude={"schema_version"}
    )
    fields.update(
        change=change,
        verified=verified,
        conversation_id=conversation_id,
        aggregate_id=conversation_id,
        event_id=derived_event_id("test", conversation_id, version),
    )
    return ConversationChangedV3.model_validate(fields)


def verified_of(engine: sa.Engine) -> dict[str, bool | None]:
    return {r["conversation_id"]: r["verified"] for r in list_conversations(engine, AGENCY)}


def test_the_list_tells_whether_whoever_writes_passed_the_second_factor(
    engine: sa.Engine,
) -> None:
    vault = memory_vault()
    project(
        engine,
        ConversationsProjection(vault),
        [
            # Proved: identified after the second factor.
            changed_v3(vault, 1, "started", None, conversation_id="ok", identified=False),
            changed_v3(
                vault, 2, "second_factor_asked", False, conversation_id="ok", identified=False
            ),
            changed_v3(vault, 3, "verified", True, conversation_id="ok", identified=False),
            changed_v3(vault, 4, "identified", True, conversation_id="ok"),
            # Asked for it and handed to a person without passing it.
            changed_v3(vault, 1, "started", None, conversation_id="pending", identified=False),
            changed_v3(
                vault, 2, "second_factor_asked", False, conversation_id="pending", identified=False
            ),
            changed_v3(
                vault, 3, "waiting_operator", False, conversation_id="pending", identified=False
            ),
            # Nobody yet: no document typed.
            changed_v3(vault, 1, "started", None, conversation_id="nobody", identified=False),
        ],
    )
    assert verified_of(engine) == {"ok": True, "pending": False, "nobody": None}
    rows = {r["conversation_id"]: r for r in list_conversations(engine, AGENCY)}
    assert (rows["ok"]["document"], rows["ok"]["debtor_name"]) == (JOAO, "João da Silva")
    assert (rows["pending"]["document"], rows["pending"]["status"]) == (None, "self_service")


def test_versions_1_and_2_are_still_read_and_leave_verified_unknown(engine: sa.Engine) -> None:
    vault = memory_vault()
    project(
        engine,
        ConversationsProjection(vault),
        [
            changed(1, "started", conversation_id="v1"),
            changed_v2(vault, 2, "identified"),  # conv-1
            changed_v3(vault, 1, "started", True, conversation_id="v3"),
        ],
    )
    assert verified_of(engine) == {"v1": None, "conv-1": None, "v3": True}
    [row] = [r for r in list_conversations(engine, AGENCY) if r["conversation_id"] == "conv-1"]
    assert (row["address"], row["debtor_name"], row["version"]) == (PHONE, "João da Silva", 2)
    # A newer version 2 event after a version 3 one: what it does not tell is not known.
    project(
        engine,
        ConversationsProjection(vault),
        [changed_v3(vault, 3, "assigned", True), changed_v2(vault, 4, "closed")],
    )
    assert verified_of(engine)["conv-1"] is None


def test_the_operators_list_answers_verified_true_false_or_null(engine: sa.Engine) -> None:
    vault = memory_vault()
    project(
        engine,
        ConversationsProjection(vault),
        [
            changed_v3(vault, 1, "identified", True, conversation_id="a"),
            changed_v3(vault, 1, "second_factor_asked", False, conversation_id="b"),
            changed(1, "started", conversation_id="c"),
        ],
    )
    shown = {
        r["conversation_id"]: ConversationSummary(**r).model_dump(mode="json")
        for r in list_conversations(engine, AGENCY)
    }
    assert {k: v["verified"] for k, v in shown.items()} == {"a": True, "b": False, "c": None}
    assert "key_id" not in shown["a"] and "version" not in shown["a"]


def test_the_timeline_reads_version_3_as_version_2_and_leaves_the_second_factor_out(
    engine: sa.Engine,
) -> None:
    vault = memory_vault()
    events: list[Envelope] = [
        changed_v3(vault, 1, "started", None, identified=False),
        changed_v3(vault, 2, "second_factor_asked", False, identified=False),
        changed_v3(vault, 3, "verified", True, identified=False),
        changed_v3(vault, 4, "identified", True),
        changed_v3(vault, 5, "waiting_operator", True),
        # The debtor starts over with another document: the change names the one before.
        changed_v3(vault, 6, "second_factor_asked", False),
    ]
    project(engine, TimelineProjection(vault), events)
    assert [
        (e["summary"], e["type"], e["service"]) for e in debtor_timeline(engine, AGENCY, JOAO)
    ] == [
        (
            f"Devedor identificado na conversa por WhatsApp ({PHONE})",
            "ConversationChanged",
            "messaging",
        ),
        ("Devedor pediu um atendente", "ConversationChanged", "messaging"),
    ]
    # Each change kind of version 2 reads as it did.
    assert summarize(changed_v3(vault, 7, "transferred", True), vault) == (
        "Conversa transferida para um atendente"
    )
    assert summarize(changed_v3(vault, 8, "closed", True), vault) == (
        "Conversa encerrada pelo chatbot"
    )
    assert summarize(changed_v3(vault, 3, "verified", True), vault) is None
