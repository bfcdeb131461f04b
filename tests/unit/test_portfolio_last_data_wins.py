"""A creditor sends the same debt again in a later file: what it sent last is the truth.

`carteiras.inbound` is keyed by import, so two files land on different partitions and the
portfolio may read the later file's rows before the earlier file's. Whatever the order (and
however often a row comes again), the debt ends with the data of the row the creditor sent
last, and its history never goes backwards: a row older than the data the debt holds changes
nothing and is counted unchanged."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from contracts.carteiras import CarteiraRowSubmitted, CarteiraRowSubmittedV2, RowFieldsV2
from contracts.envelope import Envelope
from contracts.portfolio import DebtUpdatedV2, DebtWithdrawn
from contracts.registry import parse_event
from service_runtime.database import sqlite_engine
from service_runtime.personal_data import SqlKeyVault
from services.gateway.adapters.integration_events import integration_events as gateway_events
from services.gateway.application.uploads import GatewayApplication
from services.portfolio.application.importing import PortfolioApplication
from services.portfolio.domain.debt import Debt, debt_id_for
from tests.support.stored_events import as_stored_in
from tests.unit.test_portfolio_import import (
    AGENCY,
    JOAO,
    TODAY,
    carteira,
    contract_events,
    debt,
    debt_events,
    id_of,
    of_type,
    row,
)

# When the creditor's files were received: November's before December's.
NOVEMBER = dt.datetime(2026, 11, 20, 14, 0, tzinfo=dt.UTC)
DECEMBER = dt.datetime(2026, 11, 24, 9, 15, tzinfo=dt.UTC)


def sent_at(message: CarteiraRowSubmitted, at: dt.datetime) -> CarteiraRowSubmitted:
    return message.model_copy(update={"occurred_at": at})


@pytest.fixture(scope="module")
def vault(tmp_path_factory: pytest.TempPathFactory) -> SqlKeyVault:
    # One vault for the module: the hypothesis test makes a portfolio per example.
    path = tmp_path_factory.mktemp("vault") / "keys.sqlite"
    return SqlKeyVault(sqlite_engine(str(path)))


@pytest.fixture
def app(vault: SqlKeyVault) -> PortfolioApplication:
    return portfolio(vault)


def portfolio(vault: SqlKeyVault) -> PortfolioApplication:
    return PortfolioApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, vault=vault)


def amounts_published(app: PortfolioApplication) -> list[int]:
    """The debt's amount after each event published about it, in order."""
    return [
        e.original_amount_cents
        for _, e in contract_events(app)
        if e.type in ("DebtImported", "DebtUpdated")
    ]


# ---- the defect QA found: two uploads of the same debts, read in either order -----------------


def _upload(gateway: GatewayApplication, csv: str) -> list[Envelope]:
    """An upload through the gateway; returns its messages as the portfolio reads them."""
    before = _inbound(gateway)
    gateway.receive_carteira(tenant=AGENCY, data=csv.encode(), filename="c.csv", requested_by="ana")
    return _inbound(gateway)[len(before) :]


def _inbound(gateway: GatewayApplication) -> list[Envelope]:
    notifications = gateway.recorder.select_notifications(start=1, limit=100_000)
    return [
        parse_event(message.model_dump_json().encode())
        for n in notifications
        for _, message in gateway_events(gateway.mapper.to_domain_event(n))
    ]


def _carteira(amount: str) -> str:
    lines = ["CPF/CNPJ;Nome;Credor;Contrato;Parcela;Valor;Vencimento"]
    lines += [
        f"529.982.247-25;João da Silva;Banco Horizonte;ORD-{k};1;{amount};01/10/2026"
        for k in range(1, 7)
    ]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("order", ["as uploaded", "the later file read first"])
def test_the_later_upload_wins_whichever_partition_is_read_first(
    vault: SqlKeyVault, order: str
) -> None:
    gateway = GatewayApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    first = _upload(gateway, _carteira("100,00"))
    second = _upload(gateway, _carteira("200,00"))  # after the first's 202
    app = portfolio(vault)

    for upload in [first, second] if order == "as uploaded" else [second, first]:
        app.handle_inbound(upload, TODAY)

    for k in range(1, 7):
        found = debt(app, debt_id_for(AGENCY, "Banco Horizonte", f"ORD-{k}", "1"))
        assert found.original_amount_cents == 20000
    # The timeline never says "atualizada de R$ 200,00 para R$ 100,00".
    for update in of_type(contract_events(app), DebtUpdatedV2):
        assert update.original_amount_cents == 20000
    older = carteira(app, first[0].import_id)  # type: ignore[attr-defined]
    expected = {"created": 6} if order == "as uploaded" else {"unchanged": 6}
    assert {k: getattr(older, k) for k in expected} == expected


# ---- the rule, row by row ------------------------------------------------------------------------


def test_a_row_older_than_the_debts_data_changes_nothing_and_counts_unchanged(
    app: PortfolioApplication,
) -> None:
    app.handle_inbound(
        [sent_at(row("dez-2026", 2, JOAO, original_amount="200,00"), DECEMBER)], TODAY
    )

    outcome = app.handle_inbound(
        [sent_at(row("nov-2026", 2, JOAO, original_amount="100,00", email="x@y.com"), NOVEMBER)],
        TODAY,
    )

    assert (outcome.created, outcome.updated, outcome.unchanged) == (0, 0, 1)
    assert carteira(app, "nov-2026").unchanged == 1
    found = debt(app, id_of(JOAO))
    assert (found.original_amount_cents, found.import_id) == (20000, "dez-2026")
    assert found.data_as_of == DECEMBER
    assert [type(e) for e in debt_events(app, id_of(JOAO))] == [Debt.Imported]


def test_an_unchanged_row_keeps_an_older_row_read_late_from_undoing_it(
    app: PortfolioApplication,
) -> None:
    """October 100, November 200, December 100 again: November's file read last."""
    october = NOVEMBER - dt.timedelta(days=30)
    app.handle_inbound(
        [sent_at(row("out-2026", 2, JOAO, original_amount="100,00"), october)], TODAY
    )
    app.handle_inbound(
        [sent_at(row("dez-2026", 2, JOAO, original_amount="100,00"), DECEMBER)], TODAY
    )
    app.handle_inbound(
        [sent_at(row("nov-2026", 2, JOAO, original_amount="200,00"), NOVEMBER)], TODAY
    )

    assert debt(app, id_of(JOAO)).original_amount_cents == 10000
    assert amounts_published(app) == [10000]  # the unchanged row is not published
    assert [carteira(app, i).unchanged for i in ("dez-2026", "nov-2026")] == [1, 1]


def test_in_one_file_the_first_row_of_a_debt_wins_and_a_later_one_is_rejected(
    app: PortfolioApplication,
) -> None:
    # Before, the last line won and read as the creditor's correction (QA D6): within one
    # import the first row of a debt wins (tests/unit/test_portfolio_repeated_rows.py).
    same_debt_twice = [
        sent_at(row("nov-2026", 2, JOAO, original_amount="100,00"), NOVEMBER),
        sent_at(row("nov-2026", 3, JOAO, original_amount="150,00"), NOVEMBER),
    ]

    outcome = app.handle_inbound(same_debt_twice, TODAY)

    assert debt(app, id_of(JOAO)).original_amount_cents == 10000
    assert amounts_published(app) == [10000]
    assert (outcome.created, outcome.rejected) == (1, 1)


def _withdrawal(import_id: str, at: dt.datetime) -> CarteiraRowSubmittedV2:
    base = row(import_id, 2, JOAO)
    return CarteiraRowSubmittedV2(
        **{**base.model_dump(exclude={"fields", "schema_version"}), "occurred_at": at},
        fields=RowFieldsV2(**base.fields.model_dump(), status="cancelado"),
    )


@pytest.mark.parametrize("order", ["as sent", "the correction read first"])
def test_a_withdrawal_holds_whichever_order_it_is_read_in(
    app: PortfolioApplication, order: str
) -> None:
    """A withdrawal is for good (a later row does not bring the debt back): it applies
    whatever its time, and the data still follows the last row the creditor sent."""
    app.handle_inbound([sent_at(row("out-2026", 2, JOAO), NOVEMBER - dt.timedelta(days=30))], TODAY)
    cancel = _withdrawal("nov-2026", NOVEMBER)
    correction = sent_at(row("dez-2026", 2, JOAO, original_amount="200,00"), DECEMBER)

    for message in [cancel, correction] if order == "as sent" else [correction, cancel]:
        app.handle_inbound([message], TODAY)

    found = debt(app, id_of(JOAO))
    assert (found.withdrawn, found.original_amount_cents) == ("cancelled", 20000)
    assert len(of_type(contract_events(app), DebtWithdrawn)) == 1


# ---- debts stored before the time of their data was kept ---------------------------------------


def test_debts_stored_before_the_time_of_their_data_was_kept_still_load_and_take_any_row(
    vault: SqlKeyVault,
) -> None:
    before = portfolio(vault)
    before.handle_inbound([sent_at(row("nov-2026", 2, JOAO), DECEMBER)], TODAY)
    before.handle_inbound(
        [sent_at(row("dez-2026", 2, JOAO, original_amount="1.300,00"), DECEMBER)], TODAY
    )
    app = portfolio(vault)
    app.recorder.insert_events(
        [
            as_stored_in(n, 2, without=("data_as_of",))
            for n in before.recorder.select_notifications(start=1, limit=100)
            if n.originator_id == id_of(JOAO)
        ]
    )

    legacy = debt(app, id_of(JOAO))
    assert (legacy.original_amount_cents, legacy.data_as_of) == (130000, None)
    assert [e.data_as_of for e in debt_events(app, id_of(JOAO))] == [None, None]
    assert amounts_published(app) == [123456, 130000]  # published again as before

    # With no time known, any row is newer, however old: and from then on, it is known.
    app.handle_inbound([sent_at(row("out-2026", 2, JOAO, original_amount="1,00"), NOVEMBER)], TODAY)
    assert (debt(app, id_of(JOAO)).original_amount_cents, debt(app, id_of(JOAO)).data_as_of) == (
        100,
        NOVEMBER,
    )


# ---- any order, any redelivery: the last data sent --------------------------------------------


def files_sending(amounts: list[str]) -> list[CarteiraRowSubmitted]:
    """One file per amount, each received a minute after the one before."""
    return [
        sent_at(
            row(f"file-{i}", 2, JOAO, original_amount=amount),
            NOVEMBER + dt.timedelta(minutes=i),
        )
        for i, amount in enumerate(amounts)
    ]


@st.composite
def files_and_reading_order(draw: Any) -> tuple[list[CarteiraRowSubmitted], list[list[int]]]:
    """N files sending the same debt (amounts repeat, so some rows change nothing), and the
    batches the portfolio reads them in: any order, some rows read again."""
    amounts = draw(
        st.lists(st.sampled_from(["100,00", "200,00", "300,00"]), min_size=2, max_size=5)
    )
    files = files_sending(amounts)
    order = draw(st.permutations(range(len(files))))
    again = draw(st.lists(st.sampled_from(range(len(files))), max_size=3))
    reading = [*order, *again]
    cuts = sorted(draw(st.sets(st.integers(1, len(reading) - 1), max_size=len(reading) - 1)))
    batches = [reading[a:b] for a, b in zip([0, *cuts], [*cuts, len(reading)], strict=True)]
    return files, batches


@settings(deadline=None, max_examples=150)
@given(files_and_reading_order())
# 100, 200, 100 again: the unchanged last file read before the middle one.
@example((files_sending(["100,00", "200,00", "100,00"]), [[0], [2], [1]]))
def test_whatever_the_order_the_debt_ends_with_the_last_file_sent(
    vault: SqlKeyVault, case: tuple[list[CarteiraRowSubmitted], list[list[int]]]
) -> None:
    files, batches = case
    app = portfolio(vault)

    for batch in batches:
        app.handle_inbound([files[i] for i in batch], TODAY)

    last = files[-1].fields.original_amount
    assert last is not None
    assert debt(app, id_of(JOAO)).original_amount_cents == int(last.replace(",", ""))
    # The debt's data only ever moves forward in the creditor's time.
    times = [e.data_as_of for e in debt_events(app, id_of(JOAO))]
    assert times == sorted(set(times))
    assert sum(carteira(app, f.import_id).rows_read for f in files) == len(files)
