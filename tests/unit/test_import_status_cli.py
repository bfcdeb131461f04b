"""`cobranca import` no longer states "acordos encerrados 0" for a file whose rows may still end
an agreement, and `cobranca import-status <id>` reads the summary again (QA pass 9, D6: Daniel's
one-row file lowered his debt, the CLI printed "acordos encerrados │ 0" and no table, and the
import status answered agreements_ended 1 two seconds later: negotiation ends the agreement
after reading the rows, a moment after the import completes). The list of imports answers the
ended agreements with their count (it answered a count of 1 with an empty list)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from litestar.testing import TestClient
from typer.testing import CliRunner

from cobranca import cli
from cobranca.client import GatewayClient
from services.gateway.adapters.tokens import issue_token
from services.gateway.read_models.imports import ImportStatusProjection, import_status
from tests.unit.test_gateway_security import KEY, real_app
from tests.unit.test_import_agreements_ended import IARA, PEDRO
from tests.unit.test_projections import AGENCY, IMPORT_ID, completed, project, started


def one_row_updated() -> Any:
    """The import of a one-row file that updated a debt (lowered its amount)."""
    return completed(4, 0, 0).model_copy(update={"rows_total": 1, "updated": 1})


def lines_of(text: str) -> list[str]:
    return [" ".join(line.replace("│", " ").split()) for line in text.splitlines()]


@pytest.fixture
def printed(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(cli.console, "width", 200)  # wide enough that no cell is cut

    def show(status: dict[str, Any]) -> list[str]:
        cli._print_summary(status)
        out = capsys.readouterr()
        return lines_of(out.out + out.err)

    return show


def status(**fields: Any) -> dict[str, Any]:
    return {
        "import_id": "imp-9",
        "status": "completed",
        "rows_total": 1,
        "updated": 1,
        "agreements_ended": 0,
        "ended_agreements": [],
    } | fields


def test_a_file_that_updated_debts_does_not_state_that_it_ended_no_agreement(
    printed: Any,
) -> None:
    lines = printed(status())
    assert "acordos encerrados 0" not in lines
    assert (
        "acordos encerrados ainda não se sabe (a negociação lê as linhas atualizadas logo "
        "depois): consulte `cobranca import-status imp-9` em instantes"
    ) in lines


def test_ends_already_known_are_shown_as_so_far(printed: Any) -> None:
    ended = [
        {
            "row_key": "1",
            "contract": "VBP-01570360",
            "installment": "1",
            "agreement_id": "010b2179",
            "old_amount_cents": 612_923,
            "new_amount_cents": 600_000,
        }
    ]
    lines = printed(status(agreements_ended=1, ended_agreements=ended))
    assert (
        "acordos encerrados 1 até agora; outros podem vir: consulte "
        "`cobranca import-status imp-9` em instantes"
    ) in lines
    assert "1 VBP-01570360 1 010b2179 R$ 6.129,23 R$ 6.000,00" in lines


def test_a_file_that_updated_no_debt_ended_none_and_says_so(printed: Any) -> None:
    # Only a lowered amount ends an agreement: no row updated a debt, none ended.
    assert "acordos encerrados 0" in printed(status(updated=0))
    # Still processing: not known yet.
    running = printed(status(status="processing", updated=0))
    assert "acordos encerrados 0" not in running
    assert any("cobranca import-status imp-9" in line for line in running)


@pytest.fixture
def gateway(monkeypatch: pytest.MonkeyPatch) -> tuple[sa.Engine, str]:
    """The CLI talking to a gateway app (its HTTP client is the app's test client)."""
    app, engine = real_app()

    def connect(self: GatewayClient, base_url: str, token: str | None = None, **_: Any) -> None:
        self.http = TestClient(app)
        self.http.headers["Authorization"] = f"Bearer {token}"

    monkeypatch.setattr(GatewayClient, "__init__", connect)
    monkeypatch.setattr(cli.console, "width", 200)
    return engine, issue_token(KEY, tenant=AGENCY, role="operator")


def test_import_status_reads_the_summary_again_with_the_ends_that_came_later(
    gateway: tuple[sa.Engine, str],
) -> None:
    engine, token = gateway
    projection = ImportStatusProjection()
    project(engine, projection, [started(), one_row_updated()])
    runner = CliRunner()
    args = ["import-status", IMPORT_ID, "--tenant", AGENCY, "--token", token, "--url", "http://g"]

    right_after = runner.invoke(cli.app, args)
    assert right_after.exit_code == 0, right_after.output
    assert "ainda não se sabe" in right_after.output
    assert "Acordos encerrados por redução de valor" not in right_after.output

    # Negotiation ends Pedro's agreement a moment later.
    project(engine, projection, [PEDRO])
    later = runner.invoke(cli.app, args)
    assert later.exit_code == 0, later.output
    lines = lines_of(later.output)
    assert "situação concluída" in lines
    assert "atualizadas 1" in lines
    assert any(line.startswith("acordos encerrados 1 até agora") for line in lines)
    assert "BHS-01499627/1 BHS-01499627 1 agr-pedro R$ 3.000,00 R$ 2.000,00" in lines


def test_import_status_of_an_unknown_import_says_so(gateway: tuple[sa.Engine, str]) -> None:
    engine, token = gateway
    project(engine, ImportStatusProjection())
    result = CliRunner().invoke(
        cli.app,
        ["import-status", "nope", "--tenant", AGENCY, "--token", token, "--url", "http://g"],
    )
    assert result.exit_code == 1
    assert "importação nope não encontrada" in " ".join(result.output.split())


def test_the_list_of_imports_answers_the_ended_agreements_it_counts() -> None:
    app, engine = real_app()
    project(engine, ImportStatusProjection(), [started(), completed(4, 3, 0), PEDRO, IARA])
    token = issue_token(KEY, tenant=AGENCY, role="operator")
    client = TestClient(app)
    client.headers["Authorization"] = f"Bearer {token}"

    [listed] = client.get("/api/v1/carteiras/").json()
    own = client.get(f"/api/v1/carteiras/{IMPORT_ID}").json()

    assert listed["agreements_ended"] == 2
    assert listed["ended_agreements"] == own["ended_agreements"]
    assert len(listed["ended_agreements"]) == 3
    stored = import_status(engine, AGENCY, IMPORT_ID)
    assert stored is not None and stored["agreements_ended"] == 2
