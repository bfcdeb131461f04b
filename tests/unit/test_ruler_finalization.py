"""The ruler's finalization per exit (push-notification routine seed, "Aba Finalizar
Cobrança"): a receivable leaves when it is paid (baixa: the debt settled, an installment
paid), cancelled (the creditor withdrew it) or renegotiated, and each exit has its own
message: a payment confirmation is not the text for a cancellation. A reason's own list
replaces the general `finalization_actions` for that exit (empty: no message); reasons
without one keep the general list, whose keys never change (keys already sent stay sent)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.datastructures import State
from litestar.exceptions import HTTPException
from litestar.middleware import DefineMiddleware
from litestar.testing import TestClient
from pydantic import ValidationError

from contracts.negotiation import AgreementClosed
from contracts.portfolio import DebtSettled, DebtWithdrawn
from contracts.ruler import (
    RulerDefinition,
    RulerDefinitionV4,
    RulerSaved,
    RulerSavedV2,
    RulerSavedV4,
    SendMessage,
    StageSpec,
)
from contracts.ruler_requests import RulerOut, SaveRuler
from services.gateway.adapters.tokens import issue_token
from services.gateway.entrypoints.http.auth import BearerTokenMiddleware
from services.gateway.entrypoints.http.errors import (
    ApiError,
    handle_api_error,
    handle_http_exception,
)
from services.gateway.entrypoints.http.ruler import RulerAdminController
from services.gateway.read_models.audit import summarize
from services.ruler.domain.configuration import RulerConfig
from services.ruler.domain.stages import finalization
from tests.unit.test_ruler_app import (
    AGENCY,
    DUE,
    JOAO,
    RULER,
    Ruler,
    agreement_fields,
    debt,
    env,
)

PAGAMENTO = SendMessage(channel="sms", template="pagamento_confirmado")
ACORDO = SendMessage(channel="whatsapp", template="acordo_fechado")
QUITACAO = SendMessage(channel="email", template="quitacao")  # RULER's general list

# The seed's three sections: a payment confirmation for the baixa, nothing for a
# cancellation; a renegotiation keeps the general message.
BY_EXIT = RULER.model_copy(
    update={"finalization_by_reason": {"settled": [PAGAMENTO], "cancelled": []}}
)
# The same ruler as version 1 says it (no per-exit lists).
RULER_V1 = RulerDefinition(
    **RULER.model_dump(
        exclude={
            "finalization_by_reason",
            "listing_notice_days",
            "listing_notice_actions",
            "listing_removal_actions",
        }
    )
)


def keys(actions: list[Any]) -> list[str]:
    return [a.key for a in actions]


# ---- the rule, as a function ---------------------------------------------------------------


def test_a_reason_without_a_list_of_its_own_keeps_the_general_one_and_its_keys() -> None:
    # The keys the ruler has always given the general list: already sent, they must not change.
    assert keys(finalization(BY_EXIT, AGENCY, "d1", "debt", "renegotiated")) == [
        "recupera-sul|d1|finalized|0|message:email:quitacao"
    ]
    assert finalization(BY_EXIT, AGENCY, "d1", "debt", "renegotiated") == finalization(
        RULER, AGENCY, "d1", "debt", "renegotiated"
    )


def test_a_reason_with_its_own_list_sends_it_instead_with_keys_naming_the_reason() -> None:
    [settled] = finalization(BY_EXIT, AGENCY, "d1", "debt", "settled")
    assert (settled.channel, settled.template) == ("sms", "pagamento_confirmado")
    assert settled.key == "recupera-sul|d1|finalized|settled|0|message:sms:pagamento_confirmado"


def test_an_empty_list_for_a_reason_means_no_message_for_that_exit() -> None:
    assert finalization(BY_EXIT, AGENCY, "d1", "debt", "cancelled") == []


def test_the_same_message_in_two_lists_or_twice_in_one_has_a_key_each() -> None:
    ruler = RULER.model_copy(
        update={"finalization_by_reason": {"settled": [QUITACAO, QUITACAO], "paid": [QUITACAO]}}
    )
    every = [
        *keys(finalization(ruler, AGENCY, "d1", "debt", "settled")),
        *keys(finalization(ruler, AGENCY, "d1", "installment", "paid")),
        *keys(finalization(ruler, AGENCY, "d1", "debt", "renegotiated")),
    ]
    assert len(every) == 4 and len(set(every)) == 4


def test_a_broken_agreements_installments_leave_without_a_message_whatever_the_lists() -> None:
    ruler = RULER.model_copy(update={"finalization_by_reason": {"cancelled": [PAGAMENTO]}})
    assert finalization(ruler, AGENCY, "inv-1", "installment", "cancelled") == []
    # A debt the creditor withdrew is "cancelled" too, and gets the cancellation's list.
    assert [a.template for a in finalization(ruler, AGENCY, "d1", "debt", "cancelled")] == [
        "pagamento_confirmado"
    ]


def test_a_new_cycle_has_keys_of_its_own() -> None:
    first = keys(finalization(BY_EXIT, AGENCY, "d1", "debt", "settled"))
    second = keys(finalization(BY_EXIT, AGENCY, "d1#2", "debt", "settled"))
    assert set(first).isdisjoint(second)


# ---- the ruler service: three debts leaving three ways -------------------------------------


def settled(debt_id: str, on: dt.date) -> DebtSettled:
    return DebtSettled(
        **env(debt_id, 2),
        debt_id=debt_id,
        document=JOAO,
        creditor="Banco Horizonte",
        contract=f"C-{debt_id}",
        installment="1",
        agreement_id="a0",
        settled_on=on,
        paid_cents=100_000,
    )


def withdrawn(debt_id: str, on: dt.date) -> DebtWithdrawn:
    return DebtWithdrawn(
        **env(debt_id, 2),
        debt_id=debt_id,
        document=JOAO,
        creditor="Banco Horizonte",
        contract=f"C-{debt_id}",
        installment="1",
        reason="cancelled",
        withdrawn_on=on,
        import_id="imp-2",
        row_key=debt_id,
    )


@pytest.fixture
def ruler(tmp_path: Path) -> Ruler:
    ruler = Ruler(tmp_path)
    ruler.app.save_ruler(
        SaveRuler(tenant=AGENCY, ruler_id="padrao", definition=BY_EXIT, saved_by="admin")
    )
    return ruler


def finals(ruler: Ruler) -> dict[str, list[tuple[str, str, str]]]:
    out: dict[str, list[tuple[str, str, str]]] = {}
    for m in ruler.published("MessageRequested"):
        if m.purpose == "finalization":
            out.setdefault(m.receivable_id, []).append((m.template, m.variables["motivo"], m.key))
    return out


def test_paid_cancelled_and_renegotiated_debts_each_get_their_exits_message(
    ruler: Ruler,
) -> None:
    ruler.receive(debt("d1"), debt("d2"), debt("d3"))
    ruler.run(DUE, DUE + dt.timedelta(days=12))  # all three in questioning
    left_on = DUE + dt.timedelta(days=13)
    agreement = AgreementClosed(**agreement_fields(left_on), debtor_name="João da Silva")
    ruler.receive(agreement, settled("d2", left_on), withdrawn("d3", left_on), today=left_on)

    reasons = {e.receivable_id: e.reason for e in ruler.published("ReceivableLeftRuler")}
    assert reasons == {"d1": "renegotiated", "d2": "settled", "d3": "cancelled"}
    assert finals(ruler) == {
        # Renegotiated: no list of its own, the general message with the key it always had.
        "d1": [("quitacao", "renegociada", "recupera-sul|d1|finalized|0|message:email:quitacao")],
        # Settled (baixa): the payment confirmation.
        "d2": [
            (
                "pagamento_confirmado",
                "quitada",
                "recupera-sul|d2|finalized|settled|0|message:sms:pagamento_confirmado",
            )
        ],
        # Cancelled by the creditor: an empty list, no message (it still leaves the ruler).
    }


def test_an_exit_read_again_asks_for_its_message_once(ruler: Ruler) -> None:
    ruler.receive(debt("d2"))
    ruler.run(DUE, DUE + dt.timedelta(days=12))
    left_on = DUE + dt.timedelta(days=13)
    ruler.receive(settled("d2", left_on), today=left_on)
    ruler.receive(settled("d2", left_on), settled("d2", left_on), today=left_on)  # redelivered
    assert [t for t, _, _ in finals(ruler)["d2"]] == ["pagamento_confirmado"]
    assert len(ruler.published("ReceivableLeftRuler")) == 1


# ---- saved rulers: validated in pt-BR, old ones keep working --------------------------------


def test_an_unknown_exit_reason_is_refused_in_pt_br_naming_the_field() -> None:
    fields = {**RULER.model_dump(), "finalization_by_reason": {"pago": [], "settled": []}}
    with pytest.raises(ValidationError) as refused:
        RulerDefinitionV4.model_validate(fields)
    [error] = refused.value.errors()
    assert error["loc"] == ("finalization_by_reason",)
    assert "finalization_by_reason: motivo de saída desconhecido: 'pago'" in error["msg"]
    assert "settled (dívida quitada)" in error["msg"]


def test_only_messages_go_in_a_finalization() -> None:
    bureau = {**RULER.model_dump(), "finalization_by_reason": {"settled": [{"kind": "x"}]}}
    with pytest.raises(ValidationError):
        RulerDefinitionV4.model_validate(bureau)


def test_a_ruler_saved_before_version_2_loads_publishes_the_latest_and_saves_unchanged(
    ruler: Ruler,
) -> None:
    # What the event store holds of a ruler saved before version 2: version 1's JSON.
    old = RulerDefinition(
        name="Antiga",
        stages=[StageSpec(stage="notice", day=5)],
        finalization_actions=[QUITACAO],
    )
    stored = RulerConfig(
        tenant=AGENCY, ruler_id="antiga", definition_json=old.model_dump_json(), saved_by="ana"
    )
    tenant = ruler.app._tenant(AGENCY)
    tenant.add_ruler(ruler_id="antiga")
    ruler.app.save(stored, tenant)
    assert "finalization_by_reason" not in old.model_dump_json()

    [found] = [r for r in ruler.app.rulers(AGENCY) if r.ruler_id == "antiga"]
    assert found.definition.finalization_by_reason == {}
    assert finalization(found.definition, AGENCY, "d9", "debt", "settled")[0].template == "quitacao"
    published = [e for e in ruler.published("RulerSaved") if e.ruler_id == "antiga"]
    assert [type(e) for e in published] == [RulerSavedV4]
    assert published[0].definition.finalization_by_reason == {}
    # Saved again as it is (the API now sends the empty map): nothing changed, no new event.
    again = ruler.app.save_ruler(
        SaveRuler(
            tenant=AGENCY,
            ruler_id="antiga",
            definition=RulerDefinitionV4(**old.model_dump()),
            saved_by="ana",
        )
    )
    assert again.version == found.version == 1


def test_the_audit_trail_reads_both_versions_and_says_which_exits_have_their_own() -> None:
    common = {**env("cfg-1", 1), "ruler_id": "padrao", "saved_by": "admin@acme"}
    v1 = summarize(RulerSaved(**common, definition=RULER_V1))
    v2 = summarize(RulerSavedV2(**common, definition=BY_EXIT))
    assert v1 is not None and v2 is not None
    assert v2.startswith(v1)
    assert "; finalização própria: quitada (1 mensagem), cancelada (sem mensagem)" in v2


# ---- the admin API: 422 naming the field -----------------------------------------------------

KEY = "k" * 48


class RulerService:
    """The ruler service's side: what it was asked to save."""

    def __init__(self) -> None:
        self.saved: list[SaveRuler] = []

    async def ask(self, request: Any, key: str, answer: type[Any]) -> Any:
        assert isinstance(request, SaveRuler) and answer is RulerOut
        self.saved.append(request)
        return RulerOut(ruler_id=request.ruler_id, version=1, definition=request.definition)


@pytest.fixture
def service() -> RulerService:
    return RulerService()


@pytest.fixture
def client(service: RulerService) -> Iterator[TestClient[Litestar]]:
    app = Litestar(
        route_handlers=[RulerAdminController],
        middleware=[DefineMiddleware(BearerTokenMiddleware)],
        exception_handlers={ApiError: handle_api_error, HTTPException: handle_http_exception},
        state=State({"signing_key": KEY, "ruler": service}),
    )
    with TestClient(app) as test_client:
        yield test_client


def admin() -> dict[str, str]:
    token = issue_token(KEY, tenant=AGENCY, role="admin", subject="ana", ttl=dt.timedelta(hours=1))
    return {"Authorization": f"Bearer {token}"}


def body(**by_reason: Any) -> dict[str, Any]:
    return {**json.loads(RULER.model_dump_json()), "finalization_by_reason": by_reason}


def test_the_api_saves_a_finalization_per_exit(
    client: TestClient[Litestar], service: RulerService
) -> None:
    sms = {"kind": "message", "channel": "sms", "template": "pagamento_confirmado"}
    response = client.post(
        "/api/v1/admin/rulers", json=body(settled=[sms], cancelled=[]), headers=admin()
    )
    assert response.status_code == 201, response.text
    assert response.json()["definition"]["finalization_by_reason"] == {
        "settled": [sms],
        "cancelled": [],
    }
    [saved] = service.saved
    assert saved.definition.finalization_by_reason == {"settled": [PAGAMENTO], "cancelled": []}


def test_a_post_creates_a_ruler_and_a_put_only_changes_one(
    client: TestClient[Litestar], service: RulerService
) -> None:
    assert client.post("/api/v1/admin/rulers", json=body(), headers=admin()).status_code == 201
    assert client.put("/api/v1/admin/rulers/padrao", json=body(), headers=admin()).is_success
    created, changed = service.saved
    # The ruler service refuses a change to an id it does not know (404 naming ruler_id).
    assert (created.existing_only, changed.existing_only) == (False, True)


def test_the_api_refuses_an_unknown_exit_with_a_422_naming_the_field(
    client: TestClient[Litestar], service: RulerService
) -> None:
    for method, url in (
        (client.post, "/api/v1/admin/rulers"),
        (client.put, "/api/v1/admin/rulers/padrao"),
    ):
        response = method(url, json=body(pago=[]), headers=admin())
        assert response.status_code == 422, response.text
        [detail] = response.json()["error"]["details"]
        assert detail["field"] == "finalization_by_reason"
        assert detail["message"].startswith("motivo de saída desconhecido: 'pago'; use settled")
    assert service.saved == []


def test_a_ruler_without_the_new_field_is_still_accepted(
    client: TestClient[Litestar], service: RulerService
) -> None:
    old_body = json.loads(RULER_V1.model_dump_json())
    response = client.post("/api/v1/admin/rulers", json=old_body, headers=admin())
    assert response.status_code == 201, response.text
    assert service.saved[0].definition.finalization_by_reason == {}
