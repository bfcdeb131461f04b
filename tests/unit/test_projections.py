"""The gateway's read models, as the portal, the operator's debtor screen and the import page
see them: built from contract events that may arrive twice, late, or in a newer schema than
this build knows, and never wrong for it."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from aiokafka import ConsumerRecord, TopicPartition

from contracts.carteiras import REJECTED_TOPIC, DebtRejected, RowError, RowFields
from contracts.envelope import Envelope, derived_event_id
from contracts.gateway import PortalContactLeftV2
from contracts.personal import ERASURES_TOPIC, PersonalDataErased
from contracts.portfolio import (
    DEBTS_TOPIC,
    IMPORTS_TOPIC,
    CarteiraImportCompleted,
    CarteiraImportStarted,
    CarteiraImportStartedV2,
    CarteiraRowsProcessed,
    DebtImported,
    DebtImportedV2,
    DebtorContact,
    DebtUpdated,
    DebtUpdatedV2,
    FieldChange,
)
from service_runtime.personal_data import REMOVED, SqlKeyVault, seal
from service_runtime.projection import BatchApplier, Projection, projection_offsets
from services.gateway.read_models.imports import (
    ImportStatusProjection,
    import_status,
    list_imports,
    record_received,
)
from services.gateway.read_models.portal_view import (
    PortalViewProjection,
    count_debts,
    open_debts,
    portal_debts,
)
from services.gateway.read_models.timeline import (
    TimelineProjection,
    debtor_timeline,
    summarize,
    timeline_entries,
)

AGENCY = "recupera-sul"
JOAO = "52998224725"
MARIA = "11144477735"
T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
DEBT_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, "joao-bh-1"))
IMPORT_ID = "nov-2026"


def memory_vault() -> SqlKeyVault:
    """A key vault in memory (its own database, as in production)."""
    return SqlKeyVault(
        sa.create_engine(
            "sqlite://", poolclass=sa.pool.StaticPool, connect_args={"check_same_thread": False}
        )
    )


VAULT = memory_vault()


def at(minutes: int) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def _envelope(aggregate_id: str, version: int, minutes: int, index: int = 0) -> dict[str, Any]:
    return {
        "event_id": derived_event_id("test", aggregate_id, version, index),
        "occurred_at": at(minutes),
        "tenant": AGENCY,
        "aggregate_id": aggregate_id,
        "aggregate_version": version,
        "correlation_id": IMPORT_ID,
        "causation_id": f"cause-{version}",
    }


def imported(
    *,
    debt_id: str = DEBT_ID,
    document: str = JOAO,
    amount: int = 123456,
    minutes: int = 0,
    contract: str = "BH-2024-0001",
    due_date: dt.date = dt.date(2025, 1, 10),
) -> DebtImported:
    return DebtImported(
        **_envelope(debt_id, 1, minutes),
        debt_id=debt_id,
        document=document,
        document_kind="cpf",
        debtor=DebtorContact(name="João da Silva", city="São Paulo", state="SP"),
        creditor="Banco Horizonte S.A.",
        contract=contract,
        installment="1",
        original_amount_cents=amount,
        due_date=due_date,
        category="cartão de crédito",
        import_id=IMPORT_ID,
        row_key="2",
    )


def updated(
    version: int,
    changes: list[tuple[str, Any, Any]],
    *,
    debt_id: str = DEBT_ID,
    document: str = JOAO,
    amount: int = 130000,
    due_date: dt.date = dt.date(2025, 1, 15),
    minutes: int | None = None,
) -> DebtUpdated:
    return DebtUpdated(
        **_envelope(debt_id, version, version * 10 if minutes is None else minutes),
        debt_id=debt_id,
        document=document,
        document_kind="cpf",
        creditor="Banco Horizonte S.A.",
        contract="BH-2024-0001",
        installment="1",
        changes=[FieldChange(field=f, old=old, new=new) for f, old, new in changes],
        original_amount_cents=amount,
        due_date=due_date,
        debtor=DebtorContact(name="João da Silva"),
        category="cartão de crédito",
        import_id="dez-2026",
        row_key="2",
    )


def rejected(
    row_number: int, reason: str, *, document: str | None = JOAO, index: int = 1
) -> DebtRejected:
    return DebtRejected(
        **_envelope("import-agg", 2, 1, index),
        import_id=IMPORT_ID,
        row_key=str(row_number),
        row_number=row_number,
        document=document,
        reason=reason,
        errors=[RowError(field="original_amount", rule="format", message=reason)],
        fields=RowFields(document="529.982.247-25", original_amount="abc"),
    )


def started(version: int = 1, rows_total: int | None = 3) -> CarteiraImportStarted:
    return CarteiraImportStarted(
        **_envelope("import-agg", version, 0),
        import_id=IMPORT_ID,
        source="upload",
        filename="carteira-novembro.csv",
        rows_total=rows_total,
        requested_by="ana@recupera-sul",
    )


def processed(
    version: int, rows_read: int, created: int, rejected_: int = 0
) -> CarteiraRowsProcessed:
    return CarteiraRowsProcessed(
        **_envelope("import-agg", version, version),
        import_id=IMPORT_ID,
        rows_total=3,
        rows_read=rows_read,
        created=created,
        updated=0,
        unchanged=0,
        rejected=rejected_,
    )


def completed(version: int, created: int, rejected_: int) -> CarteiraImportCompleted:
    return CarteiraImportCompleted(
        **_envelope("import-agg", version, version),
        import_id=IMPORT_ID,
        rows_total=created + rejected_,
        created=created,
        updated=0,
        unchanged=0,
        rejected=rejected_,
    )


@pytest.fixture
def engine() -> Iterator[sa.Engine]:
    engine = sa.create_engine("sqlite://")
    yield engine
    engine.dispose()


def project(engine: sa.Engine, projection: Projection, *batches: list[Envelope]) -> None:
    projection.create_tables(engine)
    for batch in batches:
        with engine.begin() as conn:
            projection.apply(conn, batch)


def table_rows(engine: sa.Engine, table: sa.Table) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [
            dict(r._mapping) for r in conn.execute(sa.select(table).order_by(*table.primary_key))
        ]


# --- the portal view -------------------------------------------------------------------------


def test_the_portal_shows_a_debtors_open_debts(engine: sa.Engine) -> None:
    other = str(uuid.uuid5(uuid.NAMESPACE_URL, "joao-bh-2"))
    project(
        engine,
        PortalViewProjection(VAULT),
        [
            imported(contract="BH-2024-0002", debt_id=other, due_date=dt.date(2025, 2, 10)),
            imported(),
            imported(debt_id=str(uuid.uuid4()), document=MARIA),
        ],
    )

    debts = open_debts(engine, AGENCY, JOAO)
    assert [d["contract"] for d in debts] == ["BH-2024-0001", "BH-2024-0002"]  # by due date
    first = debts[0]
    assert (first["debt_id"], first["debtor_name"], first["creditor"]) == (
        DEBT_ID,
        "João da Silva",
        "Banco Horizonte S.A.",
    )
    assert (first["original_amount_cents"], first["due_date"]) == (123456, dt.date(2025, 1, 10))
    assert (first["status"], first["version"], first["updated_at"]) == ("open", 1, T0)
    assert open_debts(engine, "cobra-norte", JOAO) == []
    assert count_debts(engine, AGENCY) == 3


def test_the_portal_keeps_the_newest_version_when_an_older_one_arrives_late(
    engine: sa.Engine,
) -> None:
    v2 = updated(2, [("original_amount_cents", 123456, 130000)], amount=130000)
    v3 = updated(3, [("original_amount_cents", 130000, 125000)], amount=125000)

    project(engine, PortalViewProjection(VAULT), [imported(), v3], [v2], [imported()])

    (debt,) = open_debts(engine, AGENCY, JOAO)
    assert (debt["version"], debt["original_amount_cents"]) == (3, 125000)


def test_the_newest_version_in_one_batch_wins_whatever_its_place(engine: sa.Engine) -> None:
    v2 = updated(2, [("original_amount_cents", 123456, 130000)], amount=130000)
    v3 = updated(3, [("original_amount_cents", 130000, 125000)], amount=125000)

    project(engine, PortalViewProjection(VAULT), [v3, imported(), v2])

    (debt,) = open_debts(engine, AGENCY, JOAO)
    assert (debt["version"], debt["original_amount_cents"]) == (3, 125000)


def test_applying_a_batch_twice_changes_nothing_in_the_portal(engine: sa.Engine) -> None:
    batch: list[Envelope] = [
        imported(),
        updated(2, [("due_date", "2025-01-10", "2025-01-15")], amount=123456),
    ]
    project(engine, PortalViewProjection(VAULT), batch)
    once = table_rows(engine, portal_debts)

    project(engine, PortalViewProjection(VAULT), batch)

    assert table_rows(engine, portal_debts) == once
    assert len(once) == 1


def test_a_corrected_document_moves_the_debt_to_the_right_debtor(engine: sa.Engine) -> None:
    # The bank had João's contract under the wrong CPF; its December carteira corrects it.
    correction = updated(2, [("document", JOAO, MARIA)], document=MARIA, amount=123456)

    project(engine, PortalViewProjection(VAULT), [imported()], [correction])

    assert open_debts(engine, AGENCY, JOAO) == []
    (moved,) = open_debts(engine, AGENCY, MARIA)
    assert (moved["debt_id"], moved["document"], moved["version"]) == (DEBT_ID, MARIA, 2)


def test_the_portal_ignores_events_of_other_streams(engine: sa.Engine) -> None:
    project(engine, PortalViewProjection(VAULT), [rejected(4, "valor inválido"), started()])

    assert count_debts(engine) == 0


# --- the debtor's timeline -------------------------------------------------------------------


def test_the_timeline_tells_in_portuguese_what_happened_oldest_first(engine: sa.Engine) -> None:
    renegotiated = updated(
        2,
        [("original_amount_cents", 123456, 130000), ("due_date", "2025-01-10", "2025-01-15")],
    )
    contact = updated(3, [("email", None, "joao@empresa.com.br"), ("phone", "11987654321", None)])

    # Delivered out of order: the newest first.
    project(engine, TimelineProjection(VAULT), [contact, renegotiated], [imported()])

    entries = debtor_timeline(engine, AGENCY, JOAO)
    assert [e["summary"] for e in entries] == [
        "Dívida importada: Banco Horizonte S.A., contrato BH-2024-0001 parcela 1, R$ 1.234,56, "
        "vencimento 10/01/2025",
        "Dívida atualizada (Banco Horizonte S.A., contrato BH-2024-0001 parcela 1): "
        "valor de R$ 1.234,56 para R$ 1.300,00; vencimento de 10/01/2025 para 15/01/2025",
        "Dívida atualizada (Banco Horizonte S.A., contrato BH-2024-0001 parcela 1): "
        "e-mail de (vazio) para joao@empresa.com.br; telefone de 11987654321 para (vazio)",
    ]
    assert [e["aggregate_version"] for e in entries] == [1, 2, 3]
    assert [e["occurred_at"] for e in entries] == [at(0), at(20), at(30)]
    assert {e["service"] for e in entries} == {"portfolio"}
    assert [e["type"] for e in entries] == ["DebtImported", "DebtUpdated", "DebtUpdated"]
    assert entries[0]["event_id"] == str(imported().event_id)


def test_big_amounts_read_with_thousands_separators(engine: sa.Engine) -> None:
    project(engine, TimelineProjection(VAULT), [imported(amount=123_456_789)])

    (entry,) = debtor_timeline(engine, AGENCY, JOAO)
    assert "R$ 1.234.567,89" in entry["summary"]


def test_the_timeline_has_one_entry_per_event_however_often_it_arrives(engine: sa.Engine) -> None:
    batch: list[Envelope] = [imported(), updated(2, [("original_amount_cents", 123456, 130000)])]

    project(engine, TimelineProjection(VAULT), batch, batch, [batch[1]])

    rows = table_rows(engine, timeline_entries)
    assert len(rows) == 2
    assert {r["event_id"] for r in rows} == {str(e.event_id) for e in batch}


def test_a_rejected_row_shows_on_the_debtors_timeline_when_its_document_is_known(
    engine: sa.Engine,
) -> None:
    project(
        engine,
        TimelineProjection(VAULT),
        [
            rejected(4, "valor original 'abc' não é um valor em reais", index=1),
            rejected(5, "CPF com dígito verificador inválido", document=None, index=2),
        ],
    )

    (entry,) = debtor_timeline(engine, AGENCY, JOAO)
    assert entry["summary"] == (
        "Carteira nov-2026: linha 4 recusada: valor original 'abc' não é um valor em reais"
    )
    assert len(table_rows(engine, timeline_entries)) == 1  # no document, no debtor to show it to


def test_a_corrected_document_is_told_on_the_new_debtors_timeline(engine: sa.Engine) -> None:
    correction = updated(2, [("document", JOAO, MARIA)], document=MARIA)

    project(engine, TimelineProjection(VAULT), [imported(), correction])

    (entry,) = debtor_timeline(engine, AGENCY, MARIA)
    assert entry["summary"].endswith(f"documento de {JOAO} para {MARIA}")


# --- personal data: version 2 (sealed) and erasure (LGPD) ------------------------------------

JOAO_CONTACT = {
    "name": "João da Silva",
    "email": "joao@empresa.com.br",
    "phone": "+5511987654321",
    "city": "São Paulo",
    "state": "SP",
}


def imported_v2(vault: SqlKeyVault, *, document: str = JOAO, minutes: int = 0) -> DebtImportedV2:
    """`imported()` as the portfolio publishes it now: the contact sealed with João's key."""
    return DebtImportedV2(
        **_envelope(DEBT_ID, 1, minutes),
        debt_id=DEBT_ID,
        document=document,
        document_kind="cpf",
        personal=seal(vault.key_for(AGENCY, document), JOAO_CONTACT),
        creditor="Banco Horizonte S.A.",
        contract="BH-2024-0001",
        installment="1",
        original_amount_cents=123456,
        due_date=dt.date(2025, 1, 10),
        category="cartão de crédito",
        import_id=IMPORT_ID,
        row_key="2",
    )


def updated_v2(vault: SqlKeyVault, version: int, fields: list[str]) -> DebtUpdatedV2:
    """João's phone or e-mail changed: version 2 names the fields, the values are sealed."""
    return DebtUpdatedV2(
        **_envelope(DEBT_ID, version, version * 10),
        debt_id=DEBT_ID,
        document=JOAO,
        document_kind="cpf",
        creditor="Banco Horizonte S.A.",
        contract="BH-2024-0001",
        installment="1",
        changes=[FieldChange(field=f, old=None, new=None) for f in fields],
        original_amount_cents=123456,
        due_date=dt.date(2025, 1, 10),
        personal=seal(vault.key_for(AGENCY, JOAO), JOAO_CONTACT),
        category="cartão de crédito",
        import_id="dez-2026",
        row_key="2",
    )


def erasure(
    vault: SqlKeyVault, document: str = JOAO, *, minutes: int = 60, version: int = 1
) -> PersonalDataErased:
    """An admin erased the debtor's data: the keys are gone from `vault`."""
    key_ids = vault.erase(AGENCY, document, by="ana@recupera-sul", at=at(minutes))
    return PersonalDataErased(
        **_envelope(f"erasures-{document}", version, minutes),
        document=document,
        key_ids=key_ids,
        requested_by="ana@recupera-sul",
        reason="pedido do titular por e-mail",
    )


def every_value(engine: sa.Engine, projection: Projection) -> str:
    """Every value of every table of a projection, as text."""
    with engine.connect() as conn:
        return "\n".join(
            str(value)
            for table in projection.metadata.sorted_tables
            for row in conn.execute(sa.select(table))
            for value in row
        )


def test_the_portal_opens_a_sealed_name_and_shows_it_removed_once_erased(
    engine: sa.Engine,
) -> None:
    vault = memory_vault()
    debt = imported_v2(vault)
    project(engine, PortalViewProjection(vault), [debt])
    (row,) = open_debts(engine, AGENCY, JOAO)
    assert (row["debtor_name"], row["key_id"]) == ("João da Silva", debt.personal.key_id)

    erased = erasure(vault)
    assert erased.key_ids == [debt.personal.key_id]
    project(engine, PortalViewProjection(vault), [erased], [erased])
    (row,) = open_debts(engine, AGENCY, JOAO)
    assert row["debtor_name"] == REMOVED
    assert (row["status"], row["original_amount_cents"]) == ("open", 123456)  # still owed
    live = table_rows(engine, portal_debts)

    # A replay, the erasure read before or after the debt: the name does not come back.
    for batches in ([[erased], [debt]], [[debt], [erased]], [[debt, erased]]):
        with engine.begin() as conn:
            PortalViewProjection(vault).reset(conn)
        project(engine, PortalViewProjection(vault), *batches)
        assert table_rows(engine, portal_debts) == live
        assert "João" not in every_value(engine, PortalViewProjection(vault))


def test_a_name_that_came_in_clear_is_removed_too_and_stays_removed_in_a_replay(
    engine: sa.Engine,
) -> None:
    vault = memory_vault()
    erased = erasure(vault)  # João had no key: his data only came in clear (version 1)
    assert erased.key_ids == []
    project(engine, PortalViewProjection(vault), [imported()], [erased])
    (row,) = open_debts(engine, AGENCY, JOAO)
    assert (row["debtor_name"], row["key_id"]) == (REMOVED, None)
    live = table_rows(engine, portal_debts)
    with engine.begin() as conn:
        PortalViewProjection(vault).reset(conn)
    project(engine, PortalViewProjection(vault), [erased], [imported()])
    assert table_rows(engine, portal_debts) == live


def test_data_sent_again_after_an_erasure_is_new_data(engine: sa.Engine) -> None:
    vault = memory_vault()
    first = imported_v2(vault)
    erased = erasure(vault)
    again = updated_v2(vault, 2, ["phone"])  # the creditor sent João again: a new key
    assert again.personal.key_id not in erased.key_ids
    orders: list[list[list[Envelope]]] = [[[first], [erased], [again]], [[again, first], [erased]]]
    PortalViewProjection(vault).create_tables(engine)
    for batches in orders:
        with engine.begin() as conn:
            PortalViewProjection(vault).reset(conn)
        project(engine, PortalViewProjection(vault), *batches)
        (row,) = open_debts(engine, AGENCY, JOAO)
        assert (row["debtor_name"], row["version"]) == ("João da Silva", 2)


def test_the_timeline_tells_sealed_data_and_the_erasure_removes_it_for_good(
    engine: sa.Engine,
) -> None:
    vault = memory_vault()
    legacy = updated(2, [("email", None, "joao@empresa.com.br"), ("phone", "11987654321", None)])
    sealed = updated_v2(vault, 3, ["phone"])
    contact = PortalContactLeftV2(
        **_envelope("contact-1", 1, 40),
        document=JOAO,
        personal=seal(vault.key_for(AGENCY, JOAO), {"name": "João", "phone": "+5511900000000"}),
        expected_creditor="Loja Exemplo",
        message="Sou o João, moro na Rua das Flores 10",
        left_at=at(40),
    )
    events: list[Envelope] = [imported(), legacy, sealed, contact]
    project(engine, TimelineProjection(vault), events)
    summaries = [e["summary"] for e in debtor_timeline(engine, AGENCY, JOAO)]
    assert summaries[2] == (
        "Dívida atualizada (Banco Horizonte S.A., contrato BH-2024-0001 parcela 1): "
        "telefone passa a ser +5511987654321"
    )
    assert summaries[3] == (
        "Devedor deixou contato no portal: telefone +5511900000000, credor esperado: "
        'Loja Exemplo; mensagem: "Sou o João, moro na Rua das Flores 10"'
    )

    erased = erasure(vault, minutes=90)
    project(engine, TimelineProjection(vault), [erased], [erased])
    entries = debtor_timeline(engine, AGENCY, JOAO)
    assert [e["summary"] for e in entries] == [
        "Dívida importada: Banco Horizonte S.A., contrato BH-2024-0001 parcela 1, R$ 1.234,56, "
        "vencimento 10/01/2025",
        "Dívida atualizada (Banco Horizonte S.A., contrato BH-2024-0001 parcela 1): "
        f"e-mail de (vazio) para {REMOVED}; telefone de {REMOVED} para (vazio)",
        "Dívida atualizada (Banco Horizonte S.A., contrato BH-2024-0001 parcela 1): "
        f"telefone passa a ser {REMOVED}",
        f"Devedor deixou contato no portal: telefone {REMOVED}, e-mail {REMOVED}, credor "
        f'esperado: Loja Exemplo; mensagem: "{REMOVED}"',
        # 09:00 UTC + 90 minutes is 07:30 in São Paulo.
        "Dados pessoais removidos a pedido do titular (LGPD) por ana@recupera-sul em "
        "02/11/2026 às 07:30",
    ]
    assert (entries[-1]["type"], entries[-1]["service"]) == ("PersonalDataErased", "gateway")
    live = table_rows(engine, timeline_entries)

    # A replay in any order of the topics: the same rows, nothing personal comes back.
    for batches in ([[erased], events], [events[::-1], [erased]], [[*events, erased]]):
        with engine.begin() as conn:
            TimelineProjection(vault).reset(conn)
        project(engine, TimelineProjection(vault), *batches)
        assert table_rows(engine, timeline_entries) == live
        text = every_value(engine, TimelineProjection(vault))
        for gone in ("joao@empresa", "11987654321", "5511900000000", "Flores"):
            assert gone not in text


def test_summaries_without_a_vault_tell_nothing_sealed() -> None:
    vault = memory_vault()
    sealed = updated_v2(vault, 2, ["email"])
    assert str(summarize(sealed, vault)).endswith("e-mail passa a ser joao@empresa.com.br")
    assert str(summarize(sealed)).endswith(f"e-mail passa a ser {REMOVED}")
    legacy = updated(2, [("email", None, "joao@empresa.com.br")])
    assert str(summarize(legacy)).endswith("para joao@empresa.com.br")
    assert str(summarize(legacy, redact=True)).endswith(f"para {REMOVED}")


def test_a_read_model_of_an_older_shape_is_rebuilt_from_offset_zero(engine: sa.Engine) -> None:
    # A read database from before personal data was sealed: portal_debts has no key_id.
    old = sa.MetaData()
    sa.Table("portal_debts", old, sa.Column("debt_id", sa.String(36), primary_key=True))
    old.create_all(engine)
    with engine.begin() as conn:
        projection_offsets.create(conn, checkfirst=True)
        conn.execute(
            sa.insert(projection_offsets),
            [
                {"projection": name, "topic": DEBTS_TOPIC, "partition": 0, "next_offset": 9}
                for name in ("portal_view", "timeline")
            ],
        )
    PortalViewProjection(VAULT).create_tables(engine)
    assert "key_id" in {c["name"] for c in sa.inspect(engine).get_columns("portal_debts")}
    offsets = table_rows(engine, projection_offsets)
    assert [o["projection"] for o in offsets] == ["timeline"]  # only its own start again
    project(engine, PortalViewProjection(VAULT), [imported()])
    assert open_debts(engine, AGENCY, JOAO)[0]["debtor_name"] == "João da Silva"


def test_every_projection_is_built_with_the_vault_and_named_for_the_replay() -> None:
    from services.gateway.entrypoints.main import (
        PROJECTION_NAMES,
        PROJECTION_TOPICS,
        build_projections,
    )

    built = build_projections(VAULT)
    assert tuple(built) == PROJECTION_NAMES
    assert {name: p.topics for name, p in built.items()} == PROJECTION_TOPICS
    for name in ("portal_view", "timeline", "call_list", "conversations", "audit"):
        assert ERASURES_TOPIC in PROJECTION_TOPICS[name], name
    assert all(getattr(p, "vault", VAULT) is VAULT for p in built.values())


# --- import status ---------------------------------------------------------------------------


def test_import_status_follows_the_highest_version(engine: sa.Engine) -> None:
    projection = ImportStatusProjection()
    project(
        engine,
        projection,
        [started(), processed(2, rows_read=1, created=1)],
        [processed(3, rows_read=3, created=2, rejected_=1)],
        [processed(2, rows_read=1, created=1)],  # late redelivery of an older version
    )

    status = import_status(engine, AGENCY, IMPORT_ID)
    assert status is not None
    assert (status["status"], status["version"], status["rows_total"], status["rows_read"]) == (
        "processing",
        3,
        3,
        3,
    )
    assert (status["created"], status["rejected"]) == (2, 1)
    # How the import began is not overwritten by progress events.
    assert (status["source"], status["filename"], status["requested_by"]) == (
        "upload",
        "carteira-novembro.csv",
        "ana@recupera-sul",
    )
    assert status["received_at"] == T0

    project(engine, projection, [completed(4, created=2, rejected_=1)], [started()])
    # The rejected row's details come on another topic: until they are readable, the import
    # is not complete for whoever reads it.
    status = import_status(engine, AGENCY, IMPORT_ID)
    assert status is not None and status["status"] == "processing"

    project(engine, projection, [rejected(3, "valor original inválido")])
    status = import_status(engine, AGENCY, IMPORT_ID)
    assert status is not None
    assert (status["status"], status["version"], status["completed_at"]) == ("completed", 4, at(4))
    assert (status["rows_total"], status["rows_read"]) == (3, 3)
    assert status["filename"] == "carteira-novembro.csv"


def test_an_upload_shows_as_received_until_the_portfolio_starts_it(engine: sa.Engine) -> None:
    ImportStatusProjection().create_tables(engine)
    record_received(
        engine,
        tenant=AGENCY,
        import_id=IMPORT_ID,
        filename="carteira-novembro.csv",
        rows_total=3,
        requested_by="ana@recupera-sul",
        at=T0 - dt.timedelta(seconds=5),
    )
    status = import_status(engine, AGENCY, IMPORT_ID)
    assert status is not None
    assert (status["status"], status["version"], status["rows_read"]) == ("received", 0, 0)

    project(engine, ImportStatusProjection(), [started(), processed(2, rows_read=2, created=2)])

    status = import_status(engine, AGENCY, IMPORT_ID)
    assert status is not None
    assert (status["status"], status["rows_read"], status["version"]) == ("processing", 2, 2)
    assert [i["import_id"] for i in list_imports(engine, AGENCY)] == [IMPORT_ID]


def test_an_import_says_when_the_file_was_received_not_when_the_portfolio_began(
    engine: sa.Engine,
) -> None:
    uploaded = T0 - dt.timedelta(hours=2)  # a backlog: the portfolio began two hours later
    later_import = started().model_dump() | {"import_id": "dez-2026", "aggregate_id": "dez"}
    project(
        engine,
        ImportStatusProjection(),
        [
            CarteiraImportStartedV2(
                **started().model_dump(exclude={"schema_version"}), received_at=uploaded
            ),
            # Stored before the time received was kept: its start is all it knows.
            CarteiraImportStarted(**later_import),
        ],
    )

    status = import_status(engine, AGENCY, IMPORT_ID)
    assert status is not None and status["received_at"] == uploaded
    later = import_status(engine, AGENCY, "dez-2026")
    assert later is not None and later["received_at"] == started().occurred_at
    assert [i["import_id"] for i in list_imports(engine, AGENCY)] == ["dez-2026", IMPORT_ID]


def test_rejections_are_listed_by_row_number_and_kept_once(engine: sa.Engine) -> None:
    batch: list[Envelope] = [
        started(),
        rejected(12, "CPF com dígito verificador inválido", index=1),
        rejected(3, "campo obrigatório 'nome' está vazio", document=None, index=2),
        rejected(10, "data de vencimento 10/01/2027 está no futuro", index=3),
    ]

    project(engine, ImportStatusProjection(), batch, batch)

    status = import_status(engine, AGENCY, IMPORT_ID)
    assert status is not None
    listed = status["rejections"]
    assert [(r["row_number"], r["row_key"]) for r in listed] == [(3, "3"), (10, "10"), (12, "12")]
    assert listed[0]["reason"] == "campo obrigatório 'nome' está vazio"
    assert listed[0]["document"] is None
    assert listed[1]["document"] == JOAO
    assert listed[2]["errors"] == [
        {
            "field": "original_amount",
            "rule": "format",
            "message": "CPF com dígito verificador inválido",
        }
    ]


def test_import_status_of_an_unknown_import_is_none(engine: sa.Engine) -> None:
    ImportStatusProjection().create_tables(engine)

    assert import_status(engine, AGENCY, "nunca-enviada") is None


# --- applying records from the broker ----------------------------------------------------------


def record(
    topic: str, partition: int, offset: int, value: bytes | None, event_id: str | None
) -> ConsumerRecord[bytes, bytes]:
    headers = [("event-id", event_id.encode())] if event_id else []
    return ConsumerRecord(
        topic=topic,
        partition=partition,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=b"key",
        value=value,
        checksum=None,
        serialized_key_size=3,
        serialized_value_size=len(value or b""),
        headers=headers,
    )


def record_of(
    event: Envelope, topic: str, partition: int, offset: int
) -> ConsumerRecord[bytes, bytes]:
    return record(topic, partition, offset, event.model_dump_json().encode(), str(event.event_id))


def stored_offsets(engine: sa.Engine) -> list[tuple[str, str, int, int, str | None]]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(projection_offsets).order_by(
                projection_offsets.c.projection,
                projection_offsets.c.topic,
                projection_offsets.c.partition,
            )
        )
        return [(r.projection, r.topic, r.partition, r.next_offset, r.last_event_id) for r in rows]


def test_a_batch_of_records_is_applied_with_its_next_offset_and_last_event_id(
    engine: sa.Engine,
) -> None:
    projection = PortalViewProjection(VAULT)
    projection.create_tables(engine)
    applier = BatchApplier(projection, engine)
    v2 = updated(2, [("original_amount_cents", 123456, 130000)])
    maria = imported(debt_id=str(uuid.uuid4()), document=MARIA)

    applier.apply_records(
        {
            TopicPartition(DEBTS_TOPIC, 0): [
                record_of(imported(), DEBTS_TOPIC, 0, 40),
                record_of(v2, DEBTS_TOPIC, 0, 41),
            ],
            TopicPartition(DEBTS_TOPIC, 3): [record_of(maria, DEBTS_TOPIC, 3, 7)],
        }
    )

    assert stored_offsets(engine) == [
        ("portal_view", DEBTS_TOPIC, 0, 42, str(v2.event_id)),
        ("portal_view", DEBTS_TOPIC, 3, 8, str(maria.event_id)),
    ]
    # Where the applier resumes: (next offset, last event id, ...).
    assert {tp: position[:2] for tp, position in applier.stored_positions().items()} == {
        (DEBTS_TOPIC, 0): (42, str(v2.event_id)),
        (DEBTS_TOPIC, 3): (8, str(maria.event_id)),
    }
    (joao,) = open_debts(engine, AGENCY, JOAO)
    assert joao["original_amount_cents"] == 130000
    assert count_debts(engine) == 2

    # The broker delivers the same records again after a rebalance: nothing changes.
    applier.apply_records({TopicPartition(DEBTS_TOPIC, 0): [record_of(v2, DEBTS_TOPIC, 0, 41)]})
    assert open_debts(engine, AGENCY, JOAO) == [joao]
    assert stored_offsets(engine)[0][3] == 42
    assert applier.skipped == 0


def test_an_event_of_a_newer_schema_is_skipped_and_its_offset_passed(engine: sa.Engine) -> None:
    projection = TimelineProjection(VAULT)
    projection.create_tables(engine)
    applier = BatchApplier(projection, engine)
    future = (
        b'{"type": "DebtWrittenOff", "schema_version": 1, "event_id": "'
        + str(uuid.uuid4()).encode()
        + b'", "tenant": "recupera-sul"}'
    )
    v2_of_imported = imported().model_dump(mode="json") | {"schema_version": 2}

    applier.apply_records(
        {
            TopicPartition(DEBTS_TOPIC, 1): [
                record_of(imported(), DEBTS_TOPIC, 1, 0),
                record(DEBTS_TOPIC, 1, 1, future, "written-off-1"),
                record(DEBTS_TOPIC, 1, 2, json.dumps(v2_of_imported).encode(), "imported-v2"),
            ]
        }
    )

    assert applier.skipped == 2
    assert len(debtor_timeline(engine, AGENCY, JOAO)) == 1
    assert stored_offsets(engine) == [("timeline", DEBTS_TOPIC, 1, 3, "imported-v2")]

    # A batch of nothing but unknown events still moves the offset on.
    applier.apply_records(
        {TopicPartition(REJECTED_TOPIC, 0): [record(REJECTED_TOPIC, 0, 9, future, None)]}
    )
    assert applier.skipped == 3
    assert stored_offsets(engine) == [
        ("timeline", REJECTED_TOPIC, 0, 10, None),
        ("timeline", DEBTS_TOPIC, 1, 3, "imported-v2"),
    ]


def test_offsets_of_two_projections_are_kept_apart(engine: sa.Engine) -> None:
    portal, timeline = PortalViewProjection(VAULT), TimelineProjection(VAULT)
    portal.create_tables(engine)
    timeline.create_tables(engine)
    records = {TopicPartition(DEBTS_TOPIC, 0): [record_of(imported(), DEBTS_TOPIC, 0, 5)]}

    BatchApplier(portal, engine).apply_records(records)
    BatchApplier(timeline, engine).apply_records(records)

    assert [(p, o) for p, _, _, o, _ in stored_offsets(engine)] == [
        ("portal_view", 6),
        ("timeline", 6),
    ]


@pytest.mark.parametrize(
    "value",
    [None, b'{"type": "DebtImported", "schema_version": null}'],
    ids=["tombstone", "null-schema-version"],
)
def test_a_record_nobody_can_read_is_skipped_not_a_crash(
    engine: sa.Engine, value: bytes | None
) -> None:
    projection = PortalViewProjection(VAULT)
    projection.create_tables(engine)
    applier = BatchApplier(projection, engine)

    applier.apply_records(
        {
            TopicPartition(DEBTS_TOPIC, 0): [
                record_of(imported(), DEBTS_TOPIC, 0, 0),
                record(DEBTS_TOPIC, 0, 1, value, None),
            ]
        }
    )

    assert applier.skipped == 1
    assert stored_offsets(engine) == [("portal_view", DEBTS_TOPIC, 0, 2, None)]
    assert count_debts(engine) == 1


def test_imports_stream_is_projected_through_the_applier(engine: sa.Engine) -> None:
    projection = ImportStatusProjection()
    projection.create_tables(engine)
    applier = BatchApplier(projection, engine)

    applier.apply_records(
        {
            TopicPartition(IMPORTS_TOPIC, 2): [
                record_of(started(), IMPORTS_TOPIC, 2, 0),
                record_of(processed(2, rows_read=3, created=2, rejected_=1), IMPORTS_TOPIC, 2, 1),
                record_of(completed(3, created=2, rejected_=1), IMPORTS_TOPIC, 2, 2),
            ],
            TopicPartition(REJECTED_TOPIC, 2): [
                record_of(rejected(4, "valor inválido"), REJECTED_TOPIC, 2, 0)
            ],
        }
    )

    status = import_status(engine, AGENCY, IMPORT_ID)
    assert status is not None
    assert (status["status"], status["created"], status["rejected"]) == ("completed", 2, 1)
    assert [r["row_number"] for r in status["rejections"]] == [4]


def test_the_timeline_says_a_date_of_birth_changed_never_what_it_is(engine: sa.Engine) -> None:
    # The date of birth is the portal's second factor: an operator reading the timeline
    # learns that the creditor sent another one, not the date itself.
    vault = memory_vault()
    project(engine, TimelineProjection(vault), [imported(), updated_v2(vault, 2, ["birth_date"])])
    summaries = [e["summary"] for e in debtor_timeline(engine, AGENCY, JOAO)]
    assert summaries[1] == (
        "Dívida atualizada (Banco Horizonte S.A., contrato BH-2024-0001 parcela 1): "
        "data de nascimento alterada"
    )


def test_an_update_names_the_parcela_that_changed_when_the_debt_has_one() -> None:
    # QA D6: "Dívida atualizada (Loja Ótima Ltda, contrato QA7-001): valor de ..." did not say
    # which of the contract's parcelas the creditor changed.
    change = [("original_amount_cents", 123456, 133456)]
    assert summarize(updated(2, change)) == (
        "Dívida atualizada (Banco Horizonte S.A., contrato BH-2024-0001 parcela 1): "
        "valor de R$ 1.234,56 para R$ 1.334,56"
    )
    single = updated(2, change).model_copy(update={"installment": ""})
    assert summarize(single) == (
        "Dívida atualizada (Banco Horizonte S.A., contrato BH-2024-0001): "
        "valor de R$ 1.234,56 para R$ 1.334,56"
    )
