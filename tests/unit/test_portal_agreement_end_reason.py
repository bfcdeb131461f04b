"""QA pass 8, N2 (what was left): an agreement the creditor ended showed on the portal as
"Quebrado", as if the debtor had not paid. The portal view keeps why each agreement ended
(`portal_agreements.end_reason`, from the rule of `AgreementBroken` v2/v3; `fulfilled`), the
lookup answers it, and the pages say it: the debts page's list of agreements from the read
model, the agreement's page from negotiation's answer.

- the creditor withdrew a debt: "Encerrado pelo credor: a dívida foi retirada da cobrança";
- the creditor lowered a debt's amount: "Encerrado: o credor reduziu o valor da dívida; as
  parcelas em aberto foram canceladas e você pode negociar o novo valor";
- the debtor did not pay: "Quebrado por falta de pagamento"."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from litestar import Litestar
from litestar.testing import TestClient

from contracts.negotiation import (
    AgreementBroken,
    AgreementBrokenV2,
    AgreementBrokenV3,
    BrokenAgreementDebt,
    LoweredDebt,
)
from services.gateway.entrypoints.web.formatting import agreement_end, agreement_label
from services.gateway.read_models.portal_view import PortalViewProjection, agreements_of
from services.negotiation.domain.agreement import Agreement
from tests.unit import test_portal_agreements as portal
from tests.unit.test_portal_agreements import AGENCY, JOAO, closed, debt, env
from tests.unit.test_portal_pages import (  # noqa: F401 (fixtures)
    ISABELA,
    TENANT,
    TODAY,
    _closed,
    client,
    gateway,
    negotiation,
    sign_in,
)
from tests.unit.test_portal_pages import agreements_of as negotiation_agreements
from tests.unit.test_projections import VAULT

WITHDRAWN = "Encerrado pelo credor: a dívida foi retirada da cobrança"
LOWERED = (
    "Encerrado: o credor reduziu o valor da dívida; as parcelas em aberto foram canceladas e "
    "você pode negociar o novo valor"
)
NOT_PAID = "Quebrado por falta de pagamento"


def ended(agreement_id: str, rule: str, version: int = 4) -> AgreementBroken:
    """The agreement's end as negotiation publishes it by `rule`: v1 for a debtor's break, v2
    for a withdrawal, v3 for a lowered amount."""
    common: dict[str, Any] = {
        **env(agreement_id, version),
        "agreement_id": agreement_id,
        "document": JOAO,
        "creditor": "Banco Horizonte",
        "broken_on": dt.date(2026, 12, 1),
        "installment_number": 2,
        "paid_cents": 51_000,
        "debts": [BrokenAgreementDebt(debt_id="d1", paid_cents=51_000, balance_cents=49_000)],
    }
    if rule == "debt_withdrawn":
        return AgreementBrokenV2(
            **common, rule=rule, days_overdue=0, withdrawn_debt_ids=["d1"], credit_cents=51_000
        )
    if rule == "debt_amount_lowered":
        return AgreementBrokenV3(
            **common,
            rule=rule,
            days_overdue=0,
            credit_cents=0,
            lowered_debts=[
                LoweredDebt(
                    debt_id="d1",
                    contract="C-d1",
                    installment="1",
                    old_amount_cents=100_000,
                    new_amount_cents=80_000,
                    owed_cents=80_000,
                    import_id="imp-2",
                    row_key="C-d1/1",
                )
            ],
        )
    return AgreementBroken(**common, rule=rule, days_overdue=30)


@pytest.fixture
def engine(tmp_path: Path) -> sa.Engine:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'read.sqlite'}")
    PortalViewProjection(VAULT).create_tables(engine)
    return engine


@pytest.mark.parametrize(
    ("rule", "reason"),
    [
        ("later_installment", "not_paid"),
        ("first_installment", "not_paid"),
        ("debt_withdrawn", "debt_withdrawn"),
        ("debt_amount_lowered", "debt_amount_lowered"),
    ],
)
@pytest.mark.parametrize("batches", ["one batch", "closed before, ended after"])
def test_the_portal_view_keeps_why_the_agreement_ended(
    engine: sa.Engine, rule: str, reason: str, batches: str
) -> None:
    events = [debt("d1"), closed("a1", ["d1"]), ended("a1", rule)]
    steps = [events] if batches == "one batch" else [events[:2], events[2:]]
    for step in steps:
        portal.apply(engine, *step)
    [agreement] = agreements_of(engine, AGENCY, JOAO)
    assert (agreement["status"], agreement["end_reason"]) == ("broken", reason)
    # Read again (a redelivery, a replay's overlap): the same.
    portal.apply(engine, ended("a1", rule))
    assert agreements_of(engine, AGENCY, JOAO)[0]["end_reason"] == reason


def test_an_active_agreement_has_no_end_reason_and_a_paid_off_one_is_fulfilled(
    engine: sa.Engine,
) -> None:
    from tests.unit.test_read_model_batches import fulfilled

    portal.apply(engine, debt("d1"), closed("a1", ["d1"]))
    assert agreements_of(engine, AGENCY, JOAO)[0]["end_reason"] is None
    portal.apply(engine, fulfilled("a1", ["d1"], 5))
    assert agreements_of(engine, AGENCY, JOAO)[0]["end_reason"] == "fulfilled"


def test_the_words_of_each_end() -> None:
    def row(status: str, reason: str | None) -> dict[str, Any]:
        return {"status": status, "end_reason": reason}

    assert (agreement_label(row("active", None)), agreement_end(row("active", None))) == (
        "Ativo",
        None,
    )
    assert agreement_label(row("fulfilled", "fulfilled")) == "Cumprido"
    assert agreement_end(row("fulfilled", "fulfilled")) is None
    assert (
        agreement_label(row("broken", "not_paid")),
        agreement_end(row("broken", "not_paid")),
    ) == (
        "Quebrado",
        NOT_PAID,
    )
    assert agreement_label(row("broken", "debt_withdrawn")) == "Encerrado pelo credor"
    assert agreement_end(row("broken", "debt_withdrawn")) == WITHDRAWN
    assert agreement_label(row("broken", "debt_amount_lowered")) == "Encerrado pelo credor"
    assert agreement_end(row("broken", "debt_amount_lowered")) == LOWERED
    # Why not known (never said it was the debtor's break).
    assert (agreement_label(row("broken", None)), agreement_end(row("broken", None))) == (
        "Encerrado",
        None,
    )


def _ours(event: Any) -> Any:
    return event.model_copy(update={"tenant": TENANT, "document": ISABELA})


def _card(page: str, agreement_id: str) -> str:
    card = page[page.index(f'id="acordo-{agreement_id}"') :]
    return card[: card.index("</article>")]


def test_the_debts_page_and_the_lookup_say_why_each_agreement_ended(
    client: TestClient[Litestar],  # noqa: F811 (the fixture imported above)
) -> None:
    """Three agreements of Isabela's, each ended another way: the list says which."""
    events: list[Any] = []
    for agreement_id, rule in (
        ("qw", "debt_withdrawn"),
        ("ql", "debt_amount_lowered"),
        ("qn", "later_installment"),
    ):
        events += [
            _ours(closed(agreement_id, ["d-bank"])),
            _ours(ended(agreement_id, rule)),
        ]
    with client.app.state.read_engine.begin() as conn:
        PortalViewProjection(VAULT).apply(conn, events)

    looked = client.post(f"/api/v1/portal/{TENANT}/lookup", json={"document": ISABELA}).json()
    reasons = {a["agreement_id"]: (a["status"], a["end_reason"]) for a in looked["agreements"]}
    assert reasons == {
        "qw": ("broken", "debt_withdrawn"),
        "ql": ("broken", "debt_amount_lowered"),
        "qn": ("broken", "not_paid"),
    }

    sign_in(client, ISABELA)
    page = client.get(f"/p/{TENANT}/dividas").text
    withdrawn, lowered, not_paid = (_card(page, a) for a in ("qw", "ql", "qn"))
    assert "Encerrado pelo credor</span>" in withdrawn and WITHDRAWN in withdrawn
    assert "Quebrado" not in withdrawn
    assert "Encerrado pelo credor</span>" in lowered and LOWERED in lowered
    assert "Quebrado" not in lowered
    assert 'class="selo selo-broken">Quebrado</span>' in not_paid and NOT_PAID in not_paid


def _end(neg: Any, how: str) -> None:
    """Negotiation ends Isabela's agreement as its consumers of the creditor's withdrawal or
    lowered amount, or its daily run, would."""
    (listed,) = negotiation_agreements(neg, ISABELA)
    agreement: Agreement = neg.app.repository.get(uuid.UUID(listed.agreement_id))
    [held] = agreement.debt_ids
    if how == "withdrawn":
        assert agreement.end_by_withdrawal([held], TODAY)
    elif how == "lowered":
        principal = agreement.debts[0]["principal_cents"]
        assert agreement.end_by_lowering(
            [
                {
                    "debt_id": held,
                    "contract": "C-d-old",
                    "installment": "1",
                    "old_amount_cents": principal,
                    "new_amount_cents": principal // 2,
                    "owed_cents": principal // 2,
                    "import_id": "imp-2",
                    "row_key": "C-d-old/1",
                }
            ],
            TODAY,
        )
    else:
        agreement.run_day(agreement.invoices[0]["due_date"] + dt.timedelta(days=5))
        assert agreement.status == "broken"
    neg.app.save(agreement)


@pytest.mark.parametrize(
    ("how", "label", "said"),
    [
        ("withdrawn", "Encerrado pelo credor", WITHDRAWN),
        ("lowered", "Encerrado pelo credor", LOWERED),
        ("not_paid", "Quebrado", NOT_PAID),
    ],
)
def test_the_agreement_page_says_why_it_ended(
    client: TestClient[Litestar],  # noqa: F811 (the fixture imported above)
    negotiation: Any,  # noqa: F811
    how: str,
    label: str,
    said: str,
) -> None:
    sign_in(client, ISABELA)
    page = _closed(client, "d-old", "3")
    assert "Ativo</span>" in client.get(page).text
    _end(negotiation, how)

    shown = client.get(page)
    assert shown.status_code == 200
    assert f">{label}</span>" in shown.text
    assert f'<p class="motivo-fim" id="motivo-fim">{said}.</p>' in shown.text
    if how != "not_paid":
        assert "Quebrado" not in shown.text
    # The JSON API's agreement says it too (the operator's and the debtor's).
    agreement_id = page.rsplit("/", 1)[-1]
    token = client.post(f"/api/v1/portal/{TENANT}/lookup", json={"document": ISABELA}).json()[
        "portal_token"
    ]
    answer = client.get(
        f"/api/v1/portal/{TENANT}/agreements/{agreement_id}",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 200, answer.text
    expected = {"withdrawn": "debt_withdrawn", "lowered": "debt_amount_lowered"}
    assert answer.json()["end_reason"] == expected.get(how, "not_paid")
