"""QA pass 8, N2 (what was left): a creditor's re-import that lowers a debt in an active
agreement ends the agreement (`AgreementBroken` v3, rule `debt_amount_lowered`), but the
importing agency could not see which rows of its carteira did: negotiation ends it after the
portfolio counted the rows, so the import's summary cannot count it when it runs.

The gateway's import status reads the agreements' topic too: for the import each
`lowered_debts[].import_id` names, `GET /api/v1/carteiras/{import_id}` answers
`agreements_ended` (how many agreements) and `ended_agreements` (row key, contract, parcela,
agreement, old and new amount), and `cobranca import` prints them as a table, "Acordos
encerrados por redução de valor". The same event read twice counts once; a replay gives the
same; the end may be read before the import's own events."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from litestar.testing import TestClient

from contracts.negotiation import AgreementBrokenV3, BrokenAgreementDebt, LoweredDebt
from service_runtime.projection import Projection
from services.gateway.adapters.tokens import issue_token
from services.gateway.read_models.imports import (
    ImportStatusProjection,
    import_status,
    list_imports,
)
from tests.unit.test_gateway_security import KEY, real_app
from tests.unit.test_negotiation_app import Negotiation
from tests.unit.test_negotiation_debt_lowered import Creditor
from tests.unit.test_projections import AGENCY, IMPORT_ID, _envelope, completed, project, started

ENDED_ON = dt.date(2026, 12, 3)


def lowered(
    debt_id: str, contract: str, old: int, new: int, import_id: str = IMPORT_ID
) -> LoweredDebt:
    return LoweredDebt(
        debt_id=debt_id,
        contract=contract,
        installment="1",
        old_amount_cents=old,
        new_amount_cents=new,
        owed_cents=new,
        import_id=import_id,
        row_key=f"{contract}/1",
    )


def ended(agreement_id: str, *debts: LoweredDebt, version: int = 5) -> AgreementBrokenV3:
    return AgreementBrokenV3(
        **_envelope(agreement_id, version, 60),
        agreement_id=agreement_id,
        document="52998224725",
        creditor="Banco Horizonte",
        broken_on=ENDED_ON,
        rule="debt_amount_lowered",
        installment_number=2,
        days_overdue=0,
        paid_cents=0,
        debts=[
            BrokenAgreementDebt(debt_id=d.debt_id, paid_cents=0, balance_cents=d.new_amount_cents)
            for d in debts
        ],
        credit_cents=0,
        lowered_debts=list(debts),
    )


PEDRO = ended("agr-pedro", lowered("d-pedro", "BHS-01499627", 300_000, 200_000))
# One agreement of two debts, both lowered by the same carteira.
IARA = ended(
    "agr-iara",
    lowered("d-iara-1", "CT-771", 80_000, 50_000),
    lowered("d-iara-2", "CT-772", 40_000, 30_000),
)
# Another import's row: not this import's.
OTHER = ended("agr-other", lowered("d-other", "CT-900", 10_000, 5_000, import_id="dez-2026"))


@pytest.fixture
def engine() -> Iterator[sa.Engine]:
    engine = sa.create_engine("sqlite://")
    yield engine
    engine.dispose()


def shown(engine: sa.Engine) -> tuple[int, list[tuple[Any, ...]]]:
    status = import_status(engine, AGENCY, IMPORT_ID)
    assert status is not None
    return status["agreements_ended"], [
        (
            e["row_key"],
            e["contract"],
            e["installment"],
            e["agreement_id"],
            e["old_amount_cents"],
            e["new_amount_cents"],
        )
        for e in status["ended_agreements"]
    ]


EXPECTED = (
    2,
    [
        ("BHS-01499627/1", "BHS-01499627", "1", "agr-pedro", 300_000, 200_000),
        ("CT-771/1", "CT-771", "1", "agr-iara", 80_000, 50_000),
        ("CT-772/1", "CT-772", "1", "agr-iara", 40_000, 30_000),
    ],
)


def test_the_import_shows_the_agreements_its_rows_ended(engine: sa.Engine) -> None:
    project(engine, ImportStatusProjection(), [started(), completed(4, 3, 0)], [PEDRO, IARA, OTHER])
    assert shown(engine) == EXPECTED
    # The list of imports counts them too.
    [listed] = list_imports(engine, AGENCY)
    assert listed["agreements_ended"] == 2


def test_read_twice_read_first_or_replayed_it_counts_once(engine: sa.Engine) -> None:
    projection = ImportStatusProjection()
    # The agreements' topic read before the imports' (another topic), each end twice.
    project(engine, projection, [PEDRO, IARA, PEDRO], [IARA], [started(), completed(4, 3, 0)])
    assert shown(engine) == EXPECTED
    # A replay: from scratch, the same.
    with engine.begin() as conn:
        projection.reset(conn)
    project(engine, projection, [started(), completed(4, 3, 0), PEDRO, OTHER, IARA])
    assert shown(engine) == EXPECTED


def test_an_import_whose_rows_ended_nothing_says_none(engine: sa.Engine) -> None:
    project(engine, ImportStatusProjection(), [started(), completed(4, 3, 0), OTHER])
    assert shown(engine) == (0, [])


def test_the_projection_reads_the_ends_from_the_agreements_topic() -> None:
    projection: Projection = ImportStatusProjection()
    assert "negotiation.agreements" in projection.topics
    assert projection.event_types is not None and "AgreementBroken" in projection.event_types


def test_the_api_answers_them() -> None:
    app, engine = real_app()
    project(engine, ImportStatusProjection(), [started(), completed(4, 3, 0), PEDRO, IARA])
    token = issue_token(KEY, tenant=AGENCY, role="operator")
    headers = {"Authorization": f"Bearer {token}"}

    answer = TestClient(app).get(f"/api/v1/carteiras/{IMPORT_ID}", headers=headers)

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["agreements_ended"] == 2
    assert body["ended_agreements"][0] == {
        "row_key": "BHS-01499627/1",
        "contract": "BHS-01499627",
        "installment": "1",
        "agreement_id": "agr-pedro",
        "debt_id": "d-pedro",
        "old_amount_cents": 300_000,
        "new_amount_cents": 200_000,
        "ended_on": "2026-12-03",
    }
    listed = TestClient(app).get("/api/v1/carteiras/", headers=headers).json()
    assert [(i["import_id"], i["agreements_ended"]) for i in listed] == [(IMPORT_ID, 2)]


def test_negotiations_own_end_reaches_the_import_that_lowered_the_debt(tmp_path: Path) -> None:
    """The whole way: the creditor's import imp-2 lowers CT-b in Joao's active agreement,
    negotiation ends it and publishes AgreementBroken v3; the import status of imp-2 names
    the row."""
    neg = Negotiation(tmp_path)
    neg.portal_discounts()
    creditor = Creditor(neg)
    a, b = creditor.debt("CT-a", 100_000), creditor.debt("CT-b", 50_000)
    agreement = neg.close([a, b], 3)
    assert creditor.negotiation_reads_updates(creditor.sends_amount(b, 30_000, "imp-2")) == 1
    published = neg.published()

    engine = sa.create_engine("sqlite://")
    project(
        engine,
        ImportStatusProjection(),
        [started().model_copy(update={"import_id": "imp-2"})],
        published,
    )
    status = import_status(engine, AGENCY, "imp-2")
    assert status is not None
    assert status["agreements_ended"] == 1
    [row] = status["ended_agreements"]
    assert (row["row_key"], row["contract"], row["agreement_id"]) == (
        "CT-b/1",
        "CT-b",
        agreement.agreement_id,
    )
    assert (row["old_amount_cents"], row["new_amount_cents"]) == (50_000, 30_000)


@pytest.fixture
def printed(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Any:
    from cobranca import cli

    monkeypatch.setattr(cli.console, "width", 200)  # wide enough that no cell is cut

    def show(status: dict[str, Any]) -> str:
        cli._print_summary(status)
        out = capsys.readouterr()
        return out.out + out.err

    return show


def test_cobranca_import_prints_the_ended_agreements_as_a_table(
    engine: sa.Engine, printed: Any
) -> None:
    project(engine, ImportStatusProjection(), [started(), completed(4, 3, 0), PEDRO, IARA])
    status = import_status(engine, AGENCY, IMPORT_ID)
    assert status is not None
    shown_text = printed(status | {"accepted": 3})
    lines = [" ".join(line.replace("│", " ").split()) for line in shown_text.splitlines()]
    assert "acordos encerrados 2" in lines
    table = shown_text[shown_text.index("Acordos encerrados por redução de valor") :]
    rows = [" ".join(line.replace("│", " ").split()) for line in table.splitlines()]
    assert "BHS-01499627/1 BHS-01499627 1 agr-pedro R$ 3.000,00 R$ 2.000,00" in rows
    assert "CT-772/1 CT-772 1 agr-iara R$ 400,00 R$ 300,00" in rows


def test_a_summary_without_ended_agreements_prints_no_table(printed: Any) -> None:
    shown_text = printed(
        {"import_id": "i", "status": "completed", "agreements_ended": 0, "ended_agreements": []}
    )
    assert "acordos encerrados" in shown_text
    assert "Acordos encerrados por redução de valor" not in shown_text
    # A gateway from before: the line is left out, not "None".
    assert "acordos encerrados" not in printed({"import_id": "i", "status": "completed"})
