"""The collection ruler's stages, reminders and ruler choice, read like the push-notification
collection routine in the seed (aviso 3, questionamento 10, agendar pagamento 20, cobrança
presencial 30, negativação 45; lembretes 5,3)."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from contracts.ruler import (
    OVERDUE_STAGES,
    AddToCampaign,
    RulerDefinition,
    SendMessage,
    SendToBureau,
    Stage,
    StageSpec,
)
from services.ruler.domain.stages import (
    STAGE_ORDER,
    Transition,
    action_key,
    advance,
    days_overdue,
    reminder_day,
    reminder_days,
    reminders_due,
    ruler_for,
    stage_on,
)

DUE = dt.date(2026, 10, 1)  # a Thursday
TENANT = "assessoria-sul"
RECEIVABLE = "rec-1"


def seed_ruler(**changes: Any) -> RulerDefinition:
    fields: dict[str, Any] = {
        "name": "Régua padrão",
        "pre_due_days": [5, 3],
        "pre_due_actions": [SendMessage(channel="push", template="lembrete_vencimento")],
        "stages": [
            StageSpec(
                stage="notice", day=3, actions=[SendMessage(channel="push", template="aviso")]
            ),
            StageSpec(
                stage="questioning",
                day=10,
                actions=[
                    SendMessage(channel="push", template="questionamento"),
                    SendMessage(channel="email", template="questionamento"),
                ],
            ),
            StageSpec(
                stage="schedule_payment",
                day=20,
                actions=[AddToCampaign(campaign_id="camp-agendar")],
            ),
            StageSpec(
                stage="field_collection",
                day=30,
                actions=[SendMessage(channel="sms", template="carta_cobranca")],
            ),
            StageSpec(
                stage="credit_bureau",
                day=45,
                actions=[
                    SendToBureau(),
                    SendMessage(channel="push", template="negativacao"),
                ],
            ),
        ],
    }
    fields.update(changes)
    return RulerDefinition(**fields)


RULER = seed_ruler()


def run(current: Stage, today: dt.date, ruler: RulerDefinition = RULER) -> Transition | None:
    return advance(ruler, "r1", TENANT, RECEIVABLE, current, DUE, today)


def on(day: int, month: int = 10) -> dt.date:
    return dt.date(2026, month, day)


# ---- stages by days overdue ---------------------------------------------------------------


def test_stage_order_runs_from_current_to_finalized() -> None:
    ordered = sorted(STAGE_ORDER, key=STAGE_ORDER.__getitem__)
    assert ordered == ["current", "pre_due", *OVERDUE_STAGES, "finalized"]


def test_days_overdue_is_zero_until_the_due_date_passes() -> None:
    assert days_overdue(DUE, on(20, 9)) == 0
    assert days_overdue(DUE, DUE) == 0
    assert days_overdue(DUE, on(2)) == 1
    assert days_overdue(DUE, on(31)) == 30


@pytest.mark.parametrize(
    ("today", "stage"),
    [
        (on(1, 9), "current"),  # a month before: no reminder yet
        (on(25, 9), "current"),  # 6 days before: the first reminder is at 5
        (on(26, 9), "pre_due"),  # 5 days before
        (on(30, 9), "pre_due"),
        (DUE, "current"),  # due today: not overdue, no reminder on the day
        (on(3), "current"),  # 2 days overdue: the notice is at 3
        (on(4), "notice"),  # 3 days overdue
        (on(10), "notice"),
        (on(11), "questioning"),  # 10 days overdue
        (on(21), "schedule_payment"),
        (on(31), "field_collection"),
        (on(15, 11), "credit_bureau"),  # 45 days overdue
        (on(31, 12), "credit_bureau"),
    ],
)
def test_stage_on_a_debt_due_2026_10_01(today: dt.date, stage: Stage) -> None:
    assert stage_on(RULER, DUE, today) == stage


def test_a_debt_advances_once_per_stage_through_the_month() -> None:
    current: Stage = "current"
    seen: list[tuple[dt.date, Stage, list[str]]] = []
    for today in [on(28, 9), on(2), on(4), on(5), on(11), on(21), on(31), on(15, 11)]:
        transition = run(current, today)
        if transition is not None:
            assert transition.from_stage == current
            current = transition.to_stage
            seen.append((today, current, [a.key for a in transition.actions]))
    assert [(d, s) for d, s, _ in seen] == [
        (on(4), "notice"),
        (on(11), "questioning"),
        (on(21), "schedule_payment"),
        (on(31), "field_collection"),
        (on(15, 11), "credit_bureau"),
    ]
    assert seen[1][2] == [
        "assessoria-sul|rec-1|questioning|0|message:push:questionamento",
        "assessoria-sul|rec-1|questioning|1|message:email:questionamento",
    ]
    assert seen[2][2] == ["assessoria-sul|rec-1|schedule_payment|0|call_campaign:camp-agendar"]


def test_transition_carries_days_overdue_and_typed_actions() -> None:
    transition = run("field_collection", on(20, 11))
    assert transition is not None
    assert transition.days_overdue == 50
    bureau, message = transition.actions
    assert bureau.kind == "credit_bureau"
    assert bureau.key == "assessoria-sul|rec-1|credit_bureau|0|credit_bureau"
    assert (message.kind, message.channel, message.template) == (
        "message",
        "push",
        "negativacao",
    )
    campaign = run("notice", on(21))
    assert campaign is not None
    assert campaign.actions[0].kind == "call_campaign"
    assert campaign.actions[0].campaign == "camp-agendar"


def test_sixty_days_overdue_on_first_run_goes_straight_to_the_bureau() -> None:
    transition = run("current", DUE + dt.timedelta(days=60))
    assert transition is not None
    assert (transition.from_stage, transition.to_stage) == ("current", "credit_bureau")
    assert transition.days_overdue == 60
    # Only the bureau stage's actions: no burst of stale notices and questionings.
    assert {a.key.split("|")[2] for a in transition.actions} == {"credit_bureau"}
    assert [a.kind for a in transition.actions] == ["credit_bureau", "message"]


def test_no_transition_when_already_there_or_later_or_finalized() -> None:
    assert run("notice", on(5)) is None
    assert run("questioning", on(5)) is None  # never backwards
    assert run("credit_bureau", on(31, 12)) is None
    assert run("finalized", on(31, 12)) is None
    assert run("pre_due", on(28, 9)) is None  # pre_due is not a transition
    assert run("current", on(3)) is None


def test_a_stage_left_out_is_skipped() -> None:
    ruler = seed_ruler(
        stages=[
            StageSpec(stage="notice", day=3),
            StageSpec(stage="schedule_payment", day=15),
            StageSpec(stage="credit_bureau", day=45, actions=[SendToBureau()]),
        ]
    )
    assert stage_on(ruler, DUE, on(14)) == "notice"
    transition = run("notice", on(16), ruler)
    assert transition is not None
    assert transition.to_stage == "schedule_payment"
    assert transition.actions == []
    assert run("schedule_payment", on(31), ruler) is None  # no questioning, no field visit


# ---- pre-due reminders --------------------------------------------------------------------


def reminders(today: dt.date, sent: set[int] | None = None) -> list[tuple[int, list[str]]]:
    found = reminders_due(RULER, TENANT, RECEIVABLE, DUE, today, sent or set())
    return [(d, [a.key for a in actions]) for d, actions in found]


def test_reminders_on_their_days() -> None:
    assert reminders(on(24, 9)) == []
    # Due Thursday 01/10: 5 days before is Saturday 26/09, so Friday 25/09.
    assert reminders(on(25, 9)) == [
        (5, ["assessoria-sul|rec-1|pre_due|5|0|message:push:lembrete_vencimento"])
    ]
    assert reminders(on(26, 9), {5}) == []
    assert reminders(on(27, 9), {5}) == []
    assert reminders(on(28, 9), {5}) == [
        (3, ["assessoria-sul|rec-1|pre_due|3|0|message:push:lembrete_vencimento"])
    ]
    assert reminders(on(29, 9), {5, 3}) == []
    assert reminders(DUE) == []
    assert reminders(on(5)) == []


def test_a_reminder_that_falls_on_a_weekend_or_holiday_goes_the_business_day_before() -> None:
    # Due Thursday 2026-10-01: the 5-day reminder falls on Saturday 09-26, when the daily run
    # does not happen: it goes on Friday 09-25, the 3-day one on Monday 09-28 (QA pass 7:
    # it was dropped, the 3-day one making it stale on Monday).
    assert on(26, 9).weekday() == 5
    assert reminder_day(DUE, 5) == on(25, 9)
    assert reminder_day(DUE, 3) == on(28, 9)
    assert [d for d, _ in reminders(on(25, 9))] == [5]
    assert [d for d, _ in reminders(on(28, 9), {5})] == [3]
    # Due Thursday 09/04/2026 (the QA's installment): Saturday 04/04, and Friday 03/04 is Good
    # Friday, a national holiday: Thursday 02/04.
    assert reminder_day(dt.date(2026, 4, 9), 5) == dt.date(2026, 4, 2)
    # A reminder missed all the same (an outage) goes on the next run, as before, unless a
    # more recent one is due by then.
    assert [d for d, _ in reminders(on(26, 9))] == [5]
    assert [d for d, _ in reminders(on(28, 9))] == [3]


def test_a_reminder_that_would_move_onto_anothers_day_keeps_its_own() -> None:
    # Due Wednesday 2026-09-30: its 5-day reminder is Friday 09-25; its 3-day one falls on
    # Sunday 09-27, and moved back it would be that Friday too (one message where the ruler
    # says two): it keeps its Sunday and the Monday run sends it, still before the due date.
    due = on(30, 9)
    assert reminder_days(due, [5, 3]) == {5: on(25, 9), 3: on(27, 9)}

    def sent_on(today: dt.date, sent: set[int]) -> list[int]:
        return [d for d, _ in reminders_due(RULER, TENANT, RECEIVABLE, due, today, sent)]

    assert sent_on(on(25, 9), set()) == [5]
    assert sent_on(on(28, 9), {5}) == [3]
    # The helper's case: due Wednesday 21/10, Friday 16/10 and then Monday 19/10.
    assert reminder_days(on(21), [5, 3]) == {5: on(16), 3: on(18)}


def test_two_reminders_with_no_day_of_their_own_before_the_due_date_are_one_message() -> None:
    # Due Monday 2026-10-05, reminders 2 and 1 days before: Saturday and Sunday, both moved to
    # Friday 10-02 (Sunday's own next run is the due date itself). One message that day (the
    # more recent one), none on the weekend after.
    ruler = seed_ruler(pre_due_days=[2, 1])
    due = on(5)
    assert reminder_days(due, [2, 1]) == {2: on(2), 1: on(2)}
    assert [d for d, _ in reminders_due(ruler, TENANT, RECEIVABLE, due, on(1), ())] == []
    assert [d for d, _ in reminders_due(ruler, TENANT, RECEIVABLE, due, on(2), ())] == [1]
    assert reminders_due(ruler, TENANT, RECEIVABLE, due, on(3), (1,)) == []


def test_a_stale_reminder_never_follows_a_more_recent_one() -> None:
    assert reminders(on(29, 9), {3}) == []  # 5 was skipped and stays skipped
    assert reminders(on(30, 9), set()) == [
        (3, ["assessoria-sul|rec-1|pre_due|3|0|message:push:lembrete_vencimento"])
    ]


def test_reminder_actions_are_each_pre_due_message() -> None:
    ruler = seed_ruler(
        pre_due_actions=[
            SendMessage(channel="push", template="lembrete"),
            SendMessage(channel="whatsapp", template="lembrete"),
        ]
    )
    ((day, actions),) = reminders_due(ruler, TENANT, RECEIVABLE, DUE, on(26, 9), ())
    assert day == 5
    assert [(a.kind, a.channel, a.template) for a in actions] == [
        ("message", "push", "lembrete"),
        ("message", "whatsapp", "lembrete"),
    ]
    assert len({a.key for a in actions}) == 2


# ---- keys ---------------------------------------------------------------------------------


def test_action_keys_are_deterministic_and_distinct() -> None:
    message = SendMessage(channel="sms", template="aviso")
    key = action_key(TENANT, RECEIVABLE, "notice", 0, message)
    assert key == "assessoria-sul|rec-1|notice|0|message:sms:aviso"
    assert key == action_key(TENANT, RECEIVABLE, "notice", 0, message)
    others = {
        action_key(TENANT, RECEIVABLE, "notice", 1, message),
        action_key(TENANT, RECEIVABLE, "questioning", 0, message),
        action_key(TENANT, "rec-2", "notice", 0, message),
        action_key("outra", RECEIVABLE, "notice", 0, message),
        action_key(TENANT, RECEIVABLE, "notice", 0, SendMessage(channel="sms", template="x")),
        action_key(TENANT, RECEIVABLE, "notice", 0, AddToCampaign(campaign_id="c")),
        action_key(TENANT, RECEIVABLE, "notice", 0, SendToBureau()),
    }
    assert key not in others
    assert len(others) == 7


def test_separators_inside_ids_cannot_make_two_keys_equal() -> None:
    bureau = SendToBureau()
    assert action_key("a|b", "c", "notice", 0, bureau) != action_key(
        "a", "b|c", "notice", 0, bureau
    )


# ---- choosing the ruler -------------------------------------------------------------------


def ruler_named(name: str, **changes: Any) -> RulerDefinition:
    return seed_ruler(name=name, **changes)


RULERS = [
    ("r5", ruler_named("todos")),
    ("r4", ruler_named("cartões", categories=["Cartão de Crédito"])),
    ("r3", ruler_named("banco", creditors=["Banco Exemplo S.A."])),
    ("r2", ruler_named("banco cartões", creditors=["Banco Exemplo S.A."], categories=["Cartão"])),
    ("r1", ruler_named("varejo inativa", creditors=["Loja Ágil"], active=False)),
    ("r0", ruler_named("outro todos")),
]


@pytest.mark.parametrize(
    ("creditor", "category", "expected"),
    [
        ("Banco Exemplo S.A.", "Cartão", "r2"),  # creditor and category listed
        ("  banco exemplo s.a. ", "CARTAO", "r2"),  # case, accents and spaces don't matter
        ("Banco Exemplo S.A.", "Consignado", "r3"),  # creditor listed
        ("Banco Exemplo S.A.", None, "r3"),
        ("Outro Banco", "cartao de credito", "r4"),  # category listed
        ("Outro Banco", None, "r0"),  # neither: lowest id among the catch-alls
        ("Loja Ágil", None, "r0"),  # its own ruler is inactive
    ],
)
def test_most_specific_active_ruler_wins(
    creditor: str, category: str | None, expected: str
) -> None:
    chosen = ruler_for(RULERS, creditor, category)
    assert chosen is not None
    assert chosen[0] == expected


def test_no_ruler_when_none_covers_the_creditor() -> None:
    only = [("r1", ruler_named("banco", creditors=["Banco Exemplo"]))]
    assert ruler_for(only, "Loja", None) is None
    assert ruler_for([], "Loja", "x") is None


def test_ruler_choice_does_not_depend_on_load_order() -> None:
    shuffled = RULERS[:]
    random.Random(7).shuffle(shuffled)
    assert ruler_for(shuffled, "Outro", None) == ruler_for(RULERS, "Outro", None)


# ---- the definition's own rules ----------------------------------------------------------


@pytest.mark.parametrize(
    "stages",
    [
        [StageSpec(stage="notice", day=0)],  # day 0: nobody would be counted
        [StageSpec(stage="notice", day=-2)],
        [StageSpec(stage="notice", day=3), StageSpec(stage="questioning", day=3)],
        [StageSpec(stage="notice", day=10), StageSpec(stage="questioning", day=5)],
        [StageSpec(stage="questioning", day=3), StageSpec(stage="notice", day=10)],
        [StageSpec(stage="notice", day=3), StageSpec(stage="notice", day=10)],
    ],
)
def test_ruler_definition_rejects_bad_stages(stages: list[StageSpec]) -> None:
    with pytest.raises(ValidationError) as raised:
        RulerDefinition(name="ruim", stages=stages)
    assert "stages" in str(raised.value)


def test_stages_out_of_day_order_are_refused_naming_them_as_the_admin_reads_them() -> None:
    with pytest.raises(ValidationError) as raised:
        RulerDefinition(
            name="ruim",
            stages=[StageSpec(stage="notice", day=10), StageSpec(stage="questioning", day=5)],
        )
    assert "o dia de questionamento (5) deve ser maior que o de aviso (10)" in str(raised.value)


# ---- properties ---------------------------------------------------------------------------

actions_st = st.lists(
    st.one_of(
        st.builds(
            SendMessage,
            channel=st.sampled_from(["email", "sms", "whatsapp", "push"]),
            template=st.sampled_from(["a", "b"]),
        ),
        st.builds(AddToCampaign, campaign_id=st.sampled_from(["c1", "c2"])),
        st.just(SendToBureau()),
    ),
    max_size=3,
)


@st.composite
def rulers(draw: st.DrawFn) -> RulerDefinition:
    chosen = draw(st.lists(st.sampled_from(OVERDUE_STAGES), min_size=1, max_size=5, unique=True))
    stages_in_order = sorted(chosen, key=OVERDUE_STAGES.index)
    gaps = draw(st.lists(st.integers(1, 20), min_size=len(chosen), max_size=len(chosen)))
    day = 0
    specs = []
    for stage, gap in zip(stages_in_order, gaps, strict=True):
        day += gap
        specs.append(StageSpec(stage=stage, day=day, actions=draw(actions_st)))
    return RulerDefinition(
        name="gerada",
        pre_due_days=draw(st.lists(st.integers(1, 10), unique=True, max_size=3)),
        stages=specs,
    )


offsets = st.lists(st.integers(-15, 150), min_size=1, max_size=25)


@settings(max_examples=150)
@given(ruler=rulers(), days=offsets, first=st.sampled_from(["current", "pre_due"]))
def test_stages_never_go_backwards_nor_repeat(
    ruler: RulerDefinition, days: list[int], first: Stage
) -> None:
    current: Stage = first
    visited: list[Stage] = []
    for offset in sorted(set(days)):
        transition = advance(
            ruler, "r", TENANT, RECEIVABLE, current, DUE, DUE + dt.timedelta(offset)
        )
        if transition is None:
            continue
        assert transition.from_stage == current
        assert STAGE_ORDER[transition.to_stage] > STAGE_ORDER[current]
        # Only the target stage's actions, each keyed to it.
        spec = next(s for s in ruler.stages if s.stage == transition.to_stage)
        assert len(transition.actions) == len(spec.actions)
        assert all(f"|{transition.to_stage}|" in a.key for a in transition.actions)
        current = transition.to_stage
        visited.append(current)
    assert len(visited) == len(set(visited))
    assert visited == sorted(visited, key=STAGE_ORDER.__getitem__)
    # It ends where the ruler puts it on the last run, or was never moved.
    last = stage_on(ruler, DUE, DUE + dt.timedelta(max(days)))
    if last in OVERDUE_STAGES:
        assert current == last
    else:
        assert not visited


@settings(max_examples=150)
@given(ruler=rulers(), days=offsets, replays=st.lists(st.integers(0, 1000), max_size=25))
def test_each_action_is_done_once_across_reruns(
    ruler: RulerDefinition, days: list[int], replays: list[int]
) -> None:
    # A caller that records the keys it acted on and skips the known ones. Runs come in date
    # order, dates may repeat, and earlier runs are replayed (a crash before their result was
    # saved) with the stage they started from, interleaved and in any order.
    sent: set[str] = set()
    done: list[str] = []
    keys_by_stage: dict[Stage, list[str]] = {}
    current: Stage = "current"
    history: list[tuple[Stage, int]] = []

    def execute(start: Stage, offset: int) -> Stage | None:
        transition = advance(ruler, "r", TENANT, RECEIVABLE, start, DUE, DUE + dt.timedelta(offset))
        if transition is None:
            return None
        keys = [a.key for a in transition.actions]
        assert len(keys) == len(set(keys))  # distinct actions, distinct keys
        # Determinism: a stage always yields the same keys, whenever it is reached.
        assert keys_by_stage.setdefault(transition.to_stage, keys) == keys
        for key in keys:
            if key not in sent:
                sent.add(key)
                done.append(key)
        return transition.to_stage

    pending = list(replays)
    for offset in sorted(days):
        history.append((current, offset))
        current = execute(current, offset) or current
        if pending:
            execute(*history[pending.pop() % len(history)])
    for index in pending:
        execute(*history[index % len(history)])

    assert len(done) == len(set(done))
    for stage, keys in keys_by_stage.items():
        spec = next(s for s in ruler.stages if s.stage == stage)
        assert len(keys) == len(spec.actions)
        assert sorted(k for k in done if f"|{stage}|" in k) == sorted(keys)


@settings(max_examples=100)
@given(ruler=rulers(), offset=st.integers(-15, 0), sent=st.sets(st.integers(1, 10)))
def test_at_most_one_reminder_per_run_and_each_day_once(
    ruler: RulerDefinition, offset: int, sent: set[int]
) -> None:
    found = reminders_due(ruler, TENANT, RECEIVABLE, DUE, DUE + dt.timedelta(offset), sent)
    assert len(found) <= 1
    for day, _actions in found:
        assert day not in sent
        assert day in ruler.pre_due_days
        today = DUE + dt.timedelta(offset)
        days = reminder_days(DUE, ruler.pre_due_days)
        assert -offset > 0 and days[day] <= today
        # No smaller reminder day has been reached: this is the most recent one.
        assert not [d for d in ruler.pre_due_days if d < day and days[d] <= today]
